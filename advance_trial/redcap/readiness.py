"""Can a REDCap config import anything? What it lacks: arms, a randomisation date, events, timepoints.

``config from-redcap`` states each gap as a warning (the config is valid, but an import would refuse the
forms' rows); ``config validate --data`` refuses such a config (exit 3), naming the key and what to add.
"""

from __future__ import annotations

from pathlib import Path

from advance_trial.config.models import Config
from advance_trial.data.schema import SPECS
from advance_trial.errors import ConfigProblem
from advance_trial.importing.mapping import fold, mapping_for

#: Canonical columns the export's structure fills (the record, the event, the data access group).
_STRUCTURAL = {"participant_id", "screen_id", "timepoint", "site"}
#: Canonical files whose rows are a man's: he must be in participants.csv.
_A_MANS = ("attendance", "followup", "measures", "partners", "events")
#: What a missing column is, in the words of the people who fill the form.
_WHAT = {"randomised_on": "the date of randomisation", "arm": "the arm allocated", "screened_on": "the date screened",
         "eligible": "whether he was eligible", "due_on": "the date a follow-up was due",
         "session_type": "the type of session", "attended": "whether he attended"}  # fmt: skip


def import_gaps(cfg: Config, data: str | Path | None = None) -> list[ConfigProblem]:
    """What keeps the config's ``redcap`` section from importing its forms; empty when nothing does.

    With ``data`` (a canonical data folder), a project that feeds no participants form is fine when the
    folder already has ``participants.csv``.
    """
    rc = cfg.redcap
    if rc is None:
        return []
    gaps: list[ConfigProblem] = []
    kinds: dict[str, list[str]] = {}
    for form, spec in rc.forms.items():
        kinds.setdefault(spec.kind, []).append(form)
    timed = [k for k in ("measures", "followup") if k in kinds]
    if timed:
        timed_forms = ", ".join(f for k in timed for f in kinds[k])
        if not cfg.timepoints:
            gaps.append(
                ConfigProblem(
                    "timepoints",
                    None,
                    f"no timepoints: the rows of {timed_forms} ("
                    f"{' and '.join(f'{k}.csv' for k in timed)}) each need one; give "
                    "`config from-redcap` the project's events (--events), or add timepoints",
                )
            )
        elif not rc.events:
            gaps.append(ConfigProblem("redcap.events", None, f"no events: a classic project's rows carry no event, "
                                      f"so the rows of {timed_forms} have no timepoint; give `config from-redcap` the "
                                      "project's events (--events) of a longitudinal project"))  # fmt: skip
    have_men = data is not None and (Path(data) / "participants.csv").is_file()
    needing = [k for k in _A_MANS if k in kinds]
    if needing and "participants" not in kinds and not have_men:
        gaps.append(ConfigProblem("redcap.forms", None, "no form feeds participants.csv: every row of "
                                  f"{', '.join(f'{k}.csv' for k in needing)} is a man's, and would be refused as "
                                  "not in participants.csv; name the randomisation (or enrolment) form so, or "
                                  "import participants.csv first"))  # fmt: skip
    site = cfg.site_ids[0] if cfg.site_ids else ""
    for kind, forms in kinds.items():
        rules = mapping_for(cfg, site, kind).columns
        given = set(_STRUCTURAL) | {spec.instance for f, spec in rc.forms.items() if spec.instance}
        given |= {rules.get(fold(name), name) for name, fld in rc.fields.items() if fld.form in forms}
        for col in SPECS[kind].columns:
            if col.nullable or col.name in given:
                continue
            what = _WHAT.get(col.name, col.name)
            gaps.append(ConfigProblem(f"redcap.forms.{forms[0]}", None, f"no field gives {kind}.csv's {col.name} "
                                      f"({what}); its rows would be refused: add the field to the form "
                                      f"{' or '.join(forms)}, or map a field onto it in the config's import rule "
                                      f"for {kind} (columns: {{FIELD: {col.name}}})"))  # fmt: skip
    return gaps
