"""Row checks that need more than one column: sites, participants, the schedule, duplicate keys."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
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
        other = rows["site"].notna().to_numpy(dtype=bool) & (rows["site"].to_numpy(dtype=object, na_value="") != site)
        problems.add(other, _shown(header, "site"), raw("site"), f"this file is imported for site {site!r}")
    if kind == "participants":
        pattern = cfg.randomisation.participant_id_pattern
        ids = rows["participant_id"].fillna("")
        bad = (ids != "") & ~ids.str.fullmatch(pattern).fillna(False).astype(bool)
        problems.add(bad, _shown(header, "participant_id"), raw("participant_id"), f"must match {pattern}")
    if kind in _WITH_PARTICIPANT:
        part = existing.participants.set_index("participant_id")
        men, named_ids = pd.factorize(rows["participant_id"].to_numpy(dtype=object))  # missing (NA): -1
        site_of = _per_man(men, named_ids, part["site"])
        named = men >= 0
        unknown = named & pd.isna(site_of)
        problems.add(unknown, _shown(header, "participant_id"), raw("participant_id"),
                     "not in participants.csv; import the site's participants first")  # fmt: skip
        elsewhere = named & ~unknown & (site_of != site)
        for i in np.flatnonzero(elsewhere).tolist():
            problems.add_one(i, _shown(header, "participant_id"), _at(raw("participant_id"), i),
                             f"a participant of site {site_of[i]!r}, not {site!r}")  # fmt: skip
        if kind == "attendance":
            _schedule(cfg, rows, _per_man(men, named_ids, part["arm"]), raw, header, problems)
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


def _per_man(men: npt.NDArray[np.intp], ids: npt.NDArray[np.object_], known: pd.Series) -> npt.NDArray[np.object_]:
    """``known`` (by participant id) for each row's man (``men``: codes into ``ids``), None where unknown."""
    looked = pd.Series(ids, dtype=object).map(known).astype(object)
    values = np.append(looked.where(looked.notna(), None).to_numpy(dtype=object), np.array([None], dtype=object))
    return values[men]


def _schedule(
    cfg: Config,
    rows: pd.DataFrame,
    arm: npt.NDArray[np.object_],
    raw: Callable[[str], pd.Series | None],
    header: MappedHeader,
    problems: Problems,
) -> None:
    plan = cfg.session_plan()
    offered = cfg.schedule.arm if cfg.schedule else None
    not_offered = pd.notna(arm) & (arm != offered)
    problems.add(not_offered, _shown(header, "participant_id"), raw("participant_id"),
                 f"in an arm not offered sessions (only {offered!r} is)")  # fmt: skip
    hours = {(p.type, p.number): p.hours for p in plan}
    counts = {t: max(p.number for p in plan if p.type == t) for t in {p.type for p in plan}}
    # each (type, number) pair looked up once: the rows' codes index a table of the distinct pairs
    types, type_names = pd.factorize(rows["session_type"].to_numpy(dtype=object))  # missing (NA): -1
    numbers, number_values = pd.factorize(rows["session_number"].to_numpy(dtype=object))
    table = np.array([[hours.get((t, n), np.nan) for n in number_values] + [np.nan] for t in type_names]
                     + [[np.nan] * (len(number_values) + 1)], dtype=float).reshape(len(type_names) + 1, -1)  # fmt: skip
    length = table[types, numbers]  # a missing type or number (-1) reads the last row or column: NaN
    typed = (types >= 0) & (numbers >= 0)
    beyond = typed & np.isnan(length)
    for i in np.flatnonzero(beyond).tolist():
        t = type_names[types[i]]
        problems.add_one(i, _shown(header, "session_number"), _at(raw("session_number"), i),
                         f"not in the schedule: {t} sessions are numbered 1 to {counts.get(t, 0)}")  # fmt: skip
    if "hours" in rows.columns:
        given = rows["hours"].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            over = given > length + 1e-9  # NaN on either side: not over
        for i in np.flatnonzero(over).tolist():
            problems.add_one(i, _shown(header, "hours"), _at(raw("hours"), i),
                             f"must be between 0 and the session's length ({length[i]:g} hours)")  # fmt: skip


def _duplicates(kind: str, rows: pd.DataFrame, problems: Problems) -> None:
    """Keys repeated within the file. Rows share a key when every key column holds the same value (missing
    counts as a value, as the empty text :func:`key_text` gives it): the columns' codes are combined, no
    key is spelt out but the repeated ones."""
    keys = list(SPECS[kind].key)
    dup = _repeated(rows, keys)
    if not dup.any():
        return
    at = np.flatnonzero(dup).tolist()
    shown = {i: k.replace("\x1f", "/") for i, k in zip(at, key_text(rows[dup], keys).tolist(), strict=True)}
    first_row: dict[str, int] = {}
    for i, k in shown.items():
        first_row.setdefault(k, int(problems.rows[i]))
    for i, k in shown.items():
        first = first_row[k]
        where = "repeats further down" if first == problems.rows[i] else f"first on row {first}"
        problems.add_one(i, "/".join(keys), k, f"duplicate key in this file ({where}); each key may appear once")


def _repeated(rows: pd.DataFrame, keys: list[str]) -> npt.NDArray[np.bool_]:
    """Whether each row's key (the values of the columns ``keys``) is on another row too."""
    combined = np.zeros(len(rows), dtype=np.int64)
    for k in keys:
        column = rows[k]
        values = column.to_numpy(dtype=object) if isinstance(column.dtype, pd.StringDtype) else column  # faster
        codes, uniques = pd.factorize(values)  # missing: -1, a value of its own
        combined, _ = pd.factorize(combined * (len(uniques) + 1) + codes + 1)  # numbered again: no overflow
    return np.bincount(combined)[combined] > 1 if len(combined) else np.zeros(0, dtype=bool)


def _at(series: pd.Series | None, i: int) -> object:
    return None if series is None else series.iat[i]


def key_text(frame: pd.DataFrame, keys: list[str]) -> npt.NDArray[np.object_]:
    """One string per row joining the key columns' canonical text with ``\\x1f`` (missing: empty). The key
    columns are text and whole numbers: typed or as canonical text, a row has the same key."""
    if len(keys) == 1:
        return _key_part(frame[keys[0]])
    parts = [_key_part(frame[k]).tolist() for k in keys]
    out = np.empty(len(frame), dtype=object)
    out[:] = list(map("\x1f".join, zip(*parts, strict=True)))
    return out


def _key_part(s: pd.Series) -> npt.NDArray[np.object_]:
    """A key column's text (``astype("string")``, missing empty), each distinct value converted once."""
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        values = s.to_numpy(dtype=object, na_value="")
        if pd.api.types.infer_dtype(values, skipna=False) in ("string", "empty"):
            return values  # text already
    # a float's bits: 0.0 and -0.0 are equal and written apart
    codes, _ = pd.factorize(s.to_numpy().view(np.int64) if s.dtype == np.float64 else s)
    filled = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[filled], return_index=True)
    text = s.iloc[filled[first]].astype("string").fillna("").to_numpy(dtype=object)
    return np.append(text, np.array([""], dtype=object))[codes]
