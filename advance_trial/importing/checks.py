"""Row checks that need more than one column: sites, participants, the schedule, duplicate keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.data.canonical import CanonicalData
from advance_trial.data.schema import SPECS
from advance_trial.importing.convert import Problems
from advance_trial.importing.mapping import MappedHeader

_WITH_PARTICIPANT = ("attendance", "followup", "measures", "partners", "events")
#: Coded reason columns and the config list (``reasons.<list>``) that codes each.
CODED = {"reason_ineligible": "ineligible", "reason_not_received": "not_received",
         "reason_discontinued": "discontinued"}  # fmt: skip


def _shown(header: MappedHeader, name: str) -> str:
    return header.shown.get(name, name)


def check_rows(
    cfg: Config,
    kind: str,
    site: str,
    rows: pd.DataFrame,
    cells: pd.DataFrame,
    header: MappedHeader,
    existing: CanonicalData,
    problems: Problems,
) -> None:
    """Add every cross-column problem of the converted rows to ``problems``."""

    def raw(name: str) -> pd.Series | None:
        return cells[header.positions[name]] if name in header.positions else None

    if "site" in rows.columns and "site" in header.positions:
        other = rows["site"].notna() & (rows["site"] != site)
        problems.add(other, _shown(header, "site"), raw("site"), f"this file is imported for site {site!r}")
    if kind == "participants":
        pattern = cfg.randomisation.participant_id_pattern
        ids = rows["participant_id"].fillna("")
        bad = (ids != "") & ~ids.str.fullmatch(pattern).fillna(False).astype(bool)
        problems.add(bad, _shown(header, "participant_id"), raw("participant_id"), f"must match {pattern}")
    if kind in _WITH_PARTICIPANT:
        part = existing.participants.set_index("participant_id")
        pid = rows["participant_id"]
        site_of = pid.map(part["site"])
        unknown = pid.notna() & site_of.isna()
        problems.add(unknown, _shown(header, "participant_id"), raw("participant_id"),
                     "not in participants.csv; import the site's participants first")  # fmt: skip
        elsewhere = pid.notna() & site_of.notna() & (site_of != site)
        for i in np.flatnonzero(elsewhere.to_numpy(dtype=bool)).tolist():
            problems.add_one(i, _shown(header, "participant_id"), _at(raw("participant_id"), i),
                         f"a participant of site {site_of.iat[i]!r}, not {site!r}")  # fmt: skip
        if kind == "attendance":
            _schedule(cfg, rows, pid.map(part["arm"]), raw, header, problems)
    for column in CODED:
        if column in rows.columns and column in header.positions:
            _coded(cfg, column, rows, raw, header, problems)
    _duplicates(kind, rows, problems)


#: Marks a problem whose value is free text: shown on the terminal, never written to a report or file.
FREE_TEXT = "free text is not kept"


def _coded(cfg: Config, column: str, rows: pd.DataFrame, raw: Callable[[str], pd.Series | None],
           header: MappedHeader, problems: Problems) -> None:  # fmt: skip
    """A coded reason must be one of the config's codes (a name typed into it must not enter)."""
    listing: list[str] = getattr(cfg.reasons, CODED[column])
    codes = {c.casefold(): c for c in listing}
    given = rows[column]
    folded = given.fillna("").astype(str).str.strip().str.casefold()
    bad = given.notna() & (folded != "") & ~folded.isin(list(codes))
    listed = "; ".join(listing) or f"none: the config's reasons.{CODED[column]} is empty"
    problems.add(bad, _shown(header, column), raw(column),
                 f"not one of the coded reasons ({listed}); {FREE_TEXT}")  # fmt: skip
    ok = given.notna() & ~bad
    rows.loc[ok, column] = folded[ok].map(codes)  # the code as the config spells it


def _schedule(
    cfg: Config,
    rows: pd.DataFrame,
    arm: pd.Series,
    raw: Callable[[str], Any],
    header: MappedHeader,
    problems: Problems,
) -> None:
    plan = cfg.session_plan()
    offered = cfg.schedule.arm if cfg.schedule else None
    not_offered = arm.notna() & (arm != offered)
    problems.add(not_offered, _shown(header, "participant_id"), raw("participant_id"),
                 f"in an arm not offered sessions (only {offered!r} is)")  # fmt: skip
    hours = {(p.type, p.number): p.hours for p in plan}
    counts = {t: max(p.number for p in plan if p.type == t) for t in {p.type for p in plan}}
    key = list(zip(rows["session_type"].astype(object), rows["session_number"].astype(object), strict=True))
    length = pd.Series([hours.get(k) for k in key], index=rows.index, dtype="float64")
    typed = rows["session_type"].notna() & rows["session_number"].notna()
    beyond = typed & length.isna()
    for i in np.flatnonzero(beyond.to_numpy(dtype=bool)).tolist():
        t = rows["session_type"].iat[i]
        problems.add_one(i, _shown(header, "session_number"), _at(raw("session_number"), i),
                     f"not in the schedule: {t} sessions are numbered 1 to {counts.get(t, 0)}")  # fmt: skip
    if "hours" in rows.columns:
        over = rows["hours"].notna() & length.notna() & (rows["hours"] > length + 1e-9)
        for i in np.flatnonzero(over.to_numpy(dtype=bool)).tolist():
            problems.add_one(i, _shown(header, "hours"), _at(raw("hours"), i),
                         f"must be between 0 and the session's length ({length.iat[i]:g} hours)")  # fmt: skip


def _duplicates(kind: str, rows: pd.DataFrame, problems: Problems) -> None:
    keys = list(SPECS[kind].key)
    frame = rows[keys].astype("string").fillna("")
    dup = frame.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    joined = key_text(frame, keys).str.replace("\x1f", "/")
    first_row: dict[str, int] = {}
    for i in np.flatnonzero(dup).tolist():
        first_row.setdefault(joined.iat[i], int(problems.rows[i]))
    for i in np.flatnonzero(dup).tolist():
        first = first_row[joined.iat[i]]
        where = "repeats further down" if first == problems.rows[i] else f"first on row {first}"
        problems.add_one(i, "/".join(keys), _at(joined, i),
                     f"duplicate key in this file ({where}); each key may appear once")  # fmt: skip


def _at(series: pd.Series | None, i: int) -> object:
    return None if series is None else series.iat[i]


def key_text(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One string per row joining the key columns' canonical text (vectorised)."""
    out = frame[keys[0]].astype("string").fillna("")
    for k in keys[1:]:
        out = out + "\x1f" + frame[k].astype("string").fillna("")
    return out.astype(object)
