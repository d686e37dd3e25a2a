"""The table-by-table ``withhold_blinded`` the declarations replaced (issue 31), kept as the reference a test
holds the declarations to: the same tables, rows, columns and notes, on every sample."""

from __future__ import annotations

from dataclasses import replace

from advance_trial.config.models import Config
from advance_trial.output.disclosure import WITHHELD_BLINDED
from advance_trial.output.display_rules import BLINDED_ANALYSES, OFFERED_STAGES, same_rows_per_arm, withheld_criteria
from advance_trial.output.tables import Table


def reference_withhold_blinded(cfg: Config, tables: dict[str, Table], codes: dict[str, str]) -> dict[str, Table]:
    """What a blinded run kept of each table before the declarations said it."""
    from advance_trial.analysis import arms_of
    from advance_trial.feasibility.harms import RELATED

    control = arms_of(cfg).control
    out: dict[str, Table] = {}
    for name, t in tables.items():
        if name in WITHHELD_BLINDED:
            continue
        df = t.data.copy()
        if name == "consort":
            df = same_rows_per_arm(df[~df["stage"].isin(list(OFFERED_STAGES))])
        if name == "outcomes" and not df.empty and control is not None:
            df = df[~df["analysis"].isin(BLINDED_ANALYSES)]
            df = df.drop(columns=[c for c in ("n_intervention", "n_control", "note", "threshold") if c in df])
        if name == "progression" and not df.empty:
            df = withheld_criteria(df, ("outcome.", "change."))
        if name == "harms" and not df.empty:
            df = df[df["category"].astype(str) != RELATED]
        notes = t.footnotes
        if name == "outcomes":
            notes += ("Blinded: comparisons are the first code minus (or over) the second; analyses defined by the "
                      "intervention arm (partially nested, CACE) are withheld.",)  # fmt: skip
        out[name] = replace(t, data=df.reset_index(drop=True), footnotes=notes)
    return out
