"""A REDCap record export split into the canonical files' rows (``import --kind redcap``).

REDCap's flat CSV export has a row per record and event (and per instance of a repeating
instrument): ``record_id``, ``redcap_event_name``, ``redcap_repeat_instrument``,
``redcap_repeat_instance``, ``redcap_data_access_group`` (when exported), the fields in dictionary
order with each checkbox as ``field___code`` columns, and a ``<form>_complete`` status after each
form. A label export writes field labels as headers ("Label (choice=Choice)" for a checkbox) and
choice labels as values. The config's ``redcap`` section (written by ``config from-redcap``) says
which form feeds which canonical file, which event is which timepoint and which data access group
is which site; the config's ``import`` rules then rename and recode the fields as for any site file.

Each form's rows become one table per canonical file and site, whose header is the REDCap field
names with these columns added from the export's structure: ``participant_id`` (the participant
id field of the record, or the record id), ``screen_id`` (the record id, for screening),
``timepoint`` (from the event), ``site`` (from the data access group) and the repeating form's
``instance`` column. Identifying fields, form status and survey columns never leave this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from advance_trial.config.models import Config, Redcap
from advance_trial.data.schema import SPECS
from advance_trial.errors import DataError, DataProblem, UsageError
from advance_trial.importing.mapping import fold, mapping_for
from advance_trial.importing.readers import Part, RawTable

SYSTEM = {"redcap_event_name": "Event Name", "redcap_repeat_instrument": "Repeat Instrument",
          "redcap_repeat_instance": "Repeat Instance", "redcap_data_access_group": "Data Access Group",
          "redcap_survey_identifier": "Survey Identifier"}  # fmt: skip
CHECKED = {"1": "1", "0": "0", "checked": "1", "unchecked": "0", "": ""}


def checkbox_column(name: str, code: str) -> str:
    """REDCap's column for one box of a checkbox field (a ``-`` in the code becomes ``_``)."""
    return f"{name}___{code.replace('-', '_').lower()}"


def _expected(rc: Redcap) -> list[tuple[str, str, str]]:
    """Every column a full export can hold, in REDCap's order: (raw name, label header, field)."""
    cols: list[tuple[str, str, str]] = []
    names = list(rc.fields)
    first = names[0] if names else rc.record_id
    cols.append((first, rc.fields[first].label if first in rc.fields else first, first))
    cols += [(n, lab, "") for n, lab in SYSTEM.items()]
    form = rc.fields[first].form if first in rc.fields else None
    for name in names[1:]:
        f = rc.fields[name]
        if form is not None and f.form != form:
            cols.append((f"{form}_complete", "Complete?", ""))
        form = f.form
        if f.type == "checkbox":
            cols += [(checkbox_column(name, c), f"{f.label} (choice={lab})", name) for c, lab in f.choices.items()]
        else:
            cols.append((name, f.label, name))
    if form is not None:
        cols.append((f"{form}_complete", "Complete?", ""))
    return cols


def raw_header(cfg: Config, raw: RawTable) -> tuple[list[str], bool]:
    """The export's headers as raw names, and whether it is a label export (labels read back in order)."""
    rc = _redcap(cfg)
    header = [h.strip() for h in raw.header]
    if rc.record_id in header or any(h in SYSTEM for h in header):
        return header, False
    expected = _expected(rc)
    names: list[str] = []
    at = 0
    problems: list[DataProblem] = []
    for h in header:
        survey = re.fullmatch(r"survey timestamp|survey identifier", h, re.IGNORECASE)
        hit = next((j for j in range(at, len(expected)) if fold(expected[j][1]) == fold(h)), None)
        if hit is None and survey:
            names.append("redcap_survey_timestamp")
            continue
        if hit is None:
            problems.append(DataProblem(raw.file, 1, h, None, "not a field label of the REDCap dictionary the config "
                                                              "was made from (in the export's order)"))  # fmt: skip
            names.append(h)
            continue
        names.append(expected[hit][0])
        at = hit + 1
    if problems:
        raise DataError(problems)
    return names, True


def _redcap(cfg: Config) -> Redcap:
    if cfg.redcap is None:
        raise UsageError(f"{cfg.trial.id}: the config has no redcap section; make one with `config from-redcap`")
    return cfg.redcap


def looks_like_export(cfg: Config, header: list[str]) -> bool:
    """Whether a header row is a REDCap export's (raw or label headers) for this config."""
    rc = cfg.redcap
    if rc is None:
        return False
    first = {fold(rc.record_id), fold(rc.fields[rc.record_id].label) if rc.record_id in rc.fields else ""}
    return bool(header) and fold(header[0]) in first


def _event_timepoints(cfg: Config, rc: Redcap, events: pd.Series, label: bool) -> tuple[pd.Series, pd.Series]:
    """Each row's event as (unique name, timepoint or "")."""
    tp_ids = {re.sub(r"[^a-z0-9]", "", t.lower()): t for t in cfg.timepoint_ids}
    table: dict[str, tuple[str, str]] = {}
    for value in pd.unique(events.to_numpy(dtype=object)):
        v = str(value)
        unique = v
        if label:
            stripped = re.sub(r"\s*\(Arm \d+:.*\)$", "", v)
            unique = next((u for u, e in rc.events.items() if fold(e.label) in (fold(v), fold(stripped))), v)
        ev = rc.events.get(unique)
        if ev is not None:
            table[v] = (unique, ev.timepoint or "")
            continue
        stem = re.sub(r"[^a-z0-9]", "", re.sub(r"_arm_\d+$", "", unique.lower()))
        table[v] = (unique, tp_ids.get(stem, ""))
    mapped = events.map(table)
    return mapped.map(lambda t: t[0]), mapped.map(lambda t: t[1])


def split_export(cfg: Config, raw: RawTable, site: str | None) -> list[Part]:
    """The export's rows as one table per canonical file and site.

    ``site`` (``--site``) is every row's site when the export has no data access groups; with them,
    each row's group gives its site and ``site``, if given, must be every row's.

    Raises
    ------
    DataError
        A column that is not in the dictionary, a repeat instrument or data access group the config
        does not know, an event without a timepoint where one is needed (each naming the row).
    UsageError
        No data access groups and no ``--site``.
    """
    rc = _redcap(cfg)
    names, label = raw_header(cfg, raw)
    cells = raw.cells
    col = {n: i for i, n in enumerate(names)}
    known_boxes = {checkbox_column(n, c): n for n, f in rc.fields.items() if f.type == "checkbox" for c in f.choices}
    problems: list[DataProblem] = []
    for n in names:
        if n in rc.fields or n in SYSTEM or n in known_boxes or n == "redcap_survey_timestamp":
            continue
        if n.endswith("_complete") and n.removesuffix("_complete") in {f.form for f in rc.fields.values()}:
            continue
        if n.endswith("_timestamp"):
            continue
        why = "not a field of the REDCap dictionary the config was made from; make it again with `config from-redcap`"
        problems.append(DataProblem(raw.file, 1, n, None, why))
    if rc.record_id not in col:
        problems.append(DataProblem(raw.file, 1, rc.record_id, None, "the record id column is missing"))
    if problems:
        raise DataError(problems)

    def column(name: str) -> pd.Series:
        return cells[col[name]].astype(str) if name in col else pd.Series("", index=cells.index, dtype=str)

    record = column(rc.record_id)
    repeat = column("redcap_repeat_instrument")
    instance = column("redcap_repeat_instance")
    unique_event, timepoint = _event_timepoints(cfg, rc, column("redcap_event_name"), label)
    rows_site, site_problems = _sites(cfg, rc, raw, column("redcap_data_access_group"), site, label)
    pid = _participant_ids(rc, record, column, raw.file, raw.rows)
    forms_by_key = {re.sub(r"[^a-z0-9]", "_", fold(f)): f for f in rc.forms}
    repeat_form = repeat.map(lambda v: forms_by_key.get(re.sub(r"[^a-z0-9]", "_", fold(v)), v) if v else "")
    unknown = (repeat_form != "") & ~repeat_form.isin(list(rc.forms))
    for i in np.flatnonzero(unknown.to_numpy()).tolist():
        form_names = {f.form for f in rc.fields.values()}
        if repeat_form.iat[i] not in form_names:
            problems.append(DataProblem(raw.file, int(raw.rows[i]), "redcap_repeat_instrument", str(repeat.iat[i]),
                                        "not a form of the REDCap dictionary the config was made from"))  # fmt: skip
    if problems:
        raise DataError(problems)
    parts: list[Part] = []
    kinds = list(dict.fromkeys(f.kind for f in rc.forms.values()))
    for kind in kinds:
        forms = [f for f, spec in rc.forms.items() if spec.kind == kind]
        fields = [n for n, f in rc.fields.items() if f.form in forms and not f.identifier
                  and n not in (rc.record_id, rc.participant_id)]  # fmt: skip
        values = {n: _values(rc, n, column, label) for n in fields}
        repeating = [f for f in forms if rc.forms[f].instance is not None or (repeat_form == f).any()]
        once = len(repeating) < len(forms)  # a form filled once per event feeds this file too
        mine = (repeat_form.isin(repeating) | ((repeat_form == "") & once)).to_numpy()
        filled = np.zeros(len(cells), dtype=bool)
        for n in fields:
            filled |= (values[n][0] != "").to_numpy()
        take = np.flatnonzero(mine & filled & ~site_problems.any_row)
        if not len(take):
            continue
        header: list[str] = []
        data: dict[str, pd.Series] = {}
        extra: list[tuple[int, str, str | None, str]] = []
        spec = SPECS[kind]
        names_of = {c.name for c in (*spec.columns, *spec.optional_columns)}
        rules = mapping_for(cfg, site or cfg.site_ids[0], kind).columns
        mapped = {rules.get(fold(n), n) for n in fields}  # the canonical columns the form's fields become
        if kind == "screening":
            data["screen_id"] = record
            data["participant_id"] = pid if rc.participant_id else _randomised(rc, record, column)
        elif "participant_id" in names_of and "participant_id" not in mapped:
            data["participant_id"] = pid
        if "timepoint" in names_of and "timepoint" not in mapped:
            data["timepoint"] = timepoint
            for i in take[(timepoint.iloc[take] == "").to_numpy()].tolist():
                why = ("this event is no timepoint of the config (redcap.events)" if unique_event.iat[i] else
                       f"the row has no event (a classic REDCap project), and {kind}.csv needs a timepoint: give "
                       "the config the project's events (`config from-redcap --events`) or a timepoint")  # fmt: skip
                extra.append((i, "redcap_event_name", str(unique_event.iat[i]), why))
        if "site" in names_of and "site" not in mapped:
            data["site"] = rows_site
        for f in repeating:
            inst = rc.forms[f].instance
            if inst is not None:
                data[inst] = instance
        for n in fields:
            data[n] = values[n][0]
            shown_text = values[n][2]
            for i, message in values[n][1]:
                extra.append((i, n, None if shown_text is None else str(shown_text.iat[i]), message))
        if kind == "events" and "partner_id" in mapped:  # a partner's event is his, not the man's
            for n in [n for n in fields if rules.get(fold(n), n) == "partner_id"]:
                data["participant_id"] = data["participant_id"].where(data[n] == "", "")
        for c in spec.columns:  # a column the project does not collect, where it may be empty
            if c.nullable and c.name not in data and c.name not in mapped:
                data[c.name] = pd.Series("", index=cells.index, dtype=str)
        header = list(data)
        frame = pd.DataFrame({j: data[h].iloc[take].to_numpy() for j, h in enumerate(header)}).astype("string")
        position = {int(r): p for p, r in enumerate(take.tolist())}
        by_site = rows_site.iloc[take].to_numpy()
        for s in dict.fromkeys(by_site.tolist()):
            keep = np.flatnonzero(by_site == s)
            sub = frame.iloc[keep].reset_index(drop=True)
            local = {int(p): q for q, p in enumerate(keep.tolist())}
            probs = tuple((local[position[i]], c, v, m) for i, c, v, m in extra if position.get(i) in local)
            sub_raw = RawTable(
                raw.file,
                header,
                sub,
                raw.rows[take][keep],
                f"{raw.source}; REDCap {'label' if label else 'raw'} export, {', '.join(forms)}",
            )
            parts.append(Part(str(s), kind, sub_raw, probs))
    if site_problems.problems:
        raise DataError(site_problems.problems)
    return parts


@dataclass(frozen=True)
class _SiteProblems:
    any_row: np.ndarray
    problems: list[DataProblem]


def _sites(cfg: Config, rc: Redcap, raw: RawTable, dag: pd.Series, site: str | None,
           label: bool) -> tuple[pd.Series, _SiteProblems]:  # fmt: skip
    """Each row's site: its data access group's, else ``--site``."""
    bad = np.zeros(len(dag), dtype=bool)
    problems: list[DataProblem] = []
    if (dag == "").all():
        if site is None:
            raise UsageError("the export has no data access groups (redcap_data_access_group): give --site")
        return pd.Series(site, index=dag.index, dtype=str), _SiteProblems(bad, problems)
    groups = {fold(g): s for g, s in rc.data_access_groups.items()}
    labels = {fold(lab): s.id for s in cfg.sites for lab in (s.label, s.id)}
    out = dag.map(lambda v: groups.get(fold(v)) or (labels.get(fold(v)) if label else None) or "")
    for i in np.flatnonzero((out == "").to_numpy()).tolist():
        bad[i] = True
        problems.append(DataProblem(raw.file, int(raw.rows[i]), "redcap_data_access_group", str(dag.iat[i]),
                                    f"not a data access group of the config (redcap.data_access_groups: "
                                    f"{', '.join(rc.data_access_groups)})"))  # fmt: skip
    if site is not None:
        for i in np.flatnonzero(((out != site) & (out != "")).to_numpy()).tolist():
            bad[i] = True
            problems.append(DataProblem(raw.file, int(raw.rows[i]), "redcap_data_access_group", str(dag.iat[i]),
                                        f"a row of site {out.iat[i]!r}, not --site {site}"))  # fmt: skip
    return out, _SiteProblems(bad, problems)


ColumnGetter = Callable[[str], pd.Series]


def _participant_ids(rc: Redcap, record: pd.Series, column: ColumnGetter, file: str, rows_of: np.ndarray) -> pd.Series:
    """Each row's participant id: the record's participant id field (wherever in the record it is
    filled), or the record id."""
    if rc.participant_id is None:
        return record
    own = column(rc.participant_id)
    filled = own != ""
    ids = own[filled].groupby(record[filled])
    if (ids.nunique() > 1).any():  # one record, two men: nothing of it can be placed
        record_id = str((ids.nunique() > 1).idxmax())
        rows = [int(r) for r in rows_of[(record == record_id).to_numpy() & filled.to_numpy()][:5]]
        why = f"record {record_id} has two participant ids (rows {', '.join(map(str, rows))})"
        raise DataError([DataProblem(file, rows[-1], rc.participant_id, None, why)])
    return record.map(ids.first()).fillna("").astype(str)


def _randomised(rc: Redcap, record: pd.Series, column: ColumnGetter) -> pd.Series:
    """Without a participant id field, a screened man's participant id is his record id once he is
    randomised (his record has a participants form filled), and empty before."""
    fields = [n for n, f in rc.fields.items() if rc.forms.get(f.form) is not None
              and rc.forms[f.form].kind == "participants" and not f.identifier and n != rc.record_id]  # fmt: skip
    filled = np.zeros(len(record), dtype=bool)
    for n in fields:
        filled |= (column(n) != "").to_numpy()
    done = set(record[filled])
    return record.where(record.isin(done), "")


def _values(rc: Redcap, name: str, get: ColumnGetter,
            label: bool) -> tuple[pd.Series, list[tuple[int, str]], pd.Series | None]:  # fmt: skip
    """A field's raw values (labels read back to codes, checkboxes to one value), row problems, the text."""
    f = rc.fields[name]
    problems: list[tuple[int, str]] = []
    if f.type == "checkbox":
        codes = list(f.choices)
        ticks = pd.DataFrame({c: get(checkbox_column(name, c)).map(lambda v: CHECKED.get(fold(v), v))
                              for c in codes})  # fmt: skip
        if len(codes) == 1:
            return ticks[codes[0]], problems, None
        checked = ticks == "1"
        count = checked.sum(axis=1)
        value = pd.Series("", index=ticks.index, dtype=str)
        for c in codes:
            value = value.where(~checked[c], c)
        text = checked.apply(lambda r: ";".join(c for c in codes if r[c]), axis=1) if len(ticks) else value
        for i in np.flatnonzero((count > 1).to_numpy()).tolist():
            problems.append((i, f"{count.iat[i]} boxes ticked; {name} holds one value"))
        return value, problems, text
    s = get(name)
    if label and f.choices:
        back = {fold(lab): code for code, lab in f.choices.items()}
        s = s.map(lambda v: back.get(fold(v), v))
    return s, problems, s
