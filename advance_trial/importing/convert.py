"""Turning a site file's text into canonical rows, vectorised, with every problem named.

Booleans are accepted as yes/no, y/n, 1/0 or true/false in any case; dates in ISO form or in the
site's configured ``date_format``. A date that is ambiguous (day and month order unknown, a
two-digit year) or impossible is a problem, never a guess. Values listed as choices (sites, arms,
timepoints, session types, statuses) match without regard to case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.data.canonical import parse_numbers
from advance_trial.data.schema import SPECS, Column, baseline_columns, item_column_owner
from advance_trial.errors import DataError, DataProblem
from advance_trial.importing.mapping import BOOLEAN_WORDS, MappedHeader, SiteMapping, fold, lookup
from advance_trial.importing.readers import RawTable


@dataclass
class Problems:
    """Row problems, kept per row position so that rows can be accepted or rejected one by one."""

    file: str
    rows: np.ndarray
    items: list[tuple[int, DataProblem]]

    def add(self, mask: pd.Series | np.ndarray, column: str, raw: pd.Series | None, message: str) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)).tolist():
            value = None if raw is None else str(raw.iat[i])
            self.items.append((int(i), DataProblem(self.file, int(self.rows[i]), column, value, message)))

    def add_one(self, i: int, column: str, value: object, message: str) -> None:
        text = None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
        self.items.append((int(i), DataProblem(self.file, int(self.rows[i]), column, text, message)))

    def bad_positions(self) -> np.ndarray:
        return np.unique(np.fromiter((i for i, _ in self.items), dtype=np.int64, count=len(self.items)))


_STRPTIME = {"dd/mm/yyyy": "%d/%m/%Y", "dd-mm-yyyy": "%d-%m-%Y", "dd.mm.yyyy": "%d.%m.%Y",
             "mm/dd/yyyy": "%m/%d/%Y", "yyyy-mm-dd": "%Y-%m-%d", "yyyy/mm/dd": "%Y/%m/%d"}  # fmt: skip


_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$")


def file_date_order(columns: list[pd.Series]) -> tuple[str | None, list[int], list[int]]:
    """Day-first or month-first for a whole file, from the dates that can only be one (a part above 12).

    Returns the order (``"day"``, ``"month"`` or ``None`` when no date decides it) and the positions of
    the rows that show each order; both lists non-empty means the file contradicts itself.
    """
    day: set[int] = set()
    month: set[int] = set()
    for s in columns:
        text = s.astype(object).to_numpy()
        kinds: dict[object, str] = {}
        for v in pd.unique(text):  # exports repeat their dates: each distinct text is looked at once
            m = _DMY.match(v) if isinstance(v, str) else None
            if m:
                kinds[v] = "day" if int(m.group(1)) > 12 else "month" if int(m.group(3)) > 12 else ""
        if not any(kinds.values()):
            continue
        which = pd.Series(text).map(kinds).fillna("").to_numpy()
        day |= set(np.flatnonzero(which == "day").tolist())
        month |= set(np.flatnonzero(which == "month").tolist())
    order = "day" if day and not month else "month" if month and not day else None
    return order, sorted(day), sorted(month)


def _ordered(text: pd.Series, order: str) -> pd.Series:
    """dd/mm/yyyy (or mm/dd/yyyy) with any of / . - between the parts, as the file's order says."""
    iso: dict[object, str] = {}
    for v in pd.unique(text.to_numpy(dtype=object)):  # each distinct text once
        m = _DMY.match(v) if isinstance(v, str) else None
        if m:
            d, mo = (m.group(1), m.group(3)) if order == "day" else (m.group(3), m.group(1))
            iso[v] = f"{m.group(4)}-{mo.zfill(2)}-{d.zfill(2)}"
    return pd.to_datetime(text.map(iso), format="%Y-%m-%d", errors="coerce")


def _dates(s: pd.Series, date_format: str | None, order: str | None = None) -> tuple[pd.Series, pd.Series, str]:
    """Parse to datetime64[s]; returns (typed, bad, what is allowed). A file's decided ``order`` wins
    over the site's ``date_format`` for day/month dates."""
    text = s.astype(object)
    long = (s.str.len() > 10).to_numpy(dtype=bool)
    if long.any():  # Excel date-times and ISO timestamps: keep the date
        text = text.copy()
        text[long] = s[long].str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", r"\1", regex=True)
    typed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    allowed = "a date written yyyy-mm-dd"
    if order is not None:
        typed = typed.fillna(_ordered(pd.Series(text, index=s.index).where(typed.isna()), order))
        allowed = f"a date written {'dd/mm/yyyy' if order == 'day' else 'mm/dd/yyyy'} (this file's order) or yyyy-mm-dd"
    elif date_format is not None:
        local = pd.to_datetime(text.where(typed.isna()), format=_STRPTIME[date_format], errors="coerce")
        typed = typed.fillna(local)
        allowed = f"a date written {date_format} (this site's format) or yyyy-mm-dd"
    typed = typed.astype("datetime64[s]")
    return typed, typed.isna() & (s != ""), allowed


def _date_message(value: str, date_format: str | None, allowed: str) -> str:
    if re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2}", value):
        return f"ambiguous: a two-digit year; write the year in full, as {allowed}"
    if date_format is None and re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}", value):
        return "ambiguous: day and month order unknown; set `date_format` in the config's import rule for this site"
    if re.fullmatch(r"[\d/.\- :T]+", value):
        return f"no such date, or not {allowed}"
    return f"must be {allowed}"


def convert_column(
    cfg: Config, col: Column, s: pd.Series, shown: str, mapping: SiteMapping, problems: Problems,
    date_order: str | None = None,
) -> pd.Series:  # fmt: skip
    """Type one canonical column; problems go to ``problems`` and the cell becomes missing."""
    empty = s == ""
    if col.name in mapping.values:
        recoded = lookup(s, mapping.values[col.name])
        s = recoded.where(recoded.notna(), s).astype("string")
        empty = s == ""
    if col.kind == "str":
        typed = s.mask(empty).astype("string")
    elif col.kind in ("int", "float"):
        typed, bad = parse_numbers(s, empty, col.kind)
        problems.add(bad, shown, s, "must be a whole number" if col.kind == "int" else "must be a number")
        if col.minimum is not None:
            problems.add(typed.notna() & (typed < col.minimum), shown, s, f"must be at least {col.minimum:g}")
    elif col.kind == "bool":
        word = lookup(s, BOOLEAN_WORDS)
        typed = word.map({"true": True, "false": False, None: pd.NA}).astype("boolean")
        problems.add(typed.isna() & ~empty, shown, s, "must be yes or no (also y/n, 1/0, true/false)")
    elif col.kind == "date":
        typed, bad, allowed = _dates(s, mapping.date_format, date_order)
        known = mapping.date_format if date_order is None else "decided"
        for i in np.flatnonzero(bad.to_numpy(dtype=bool)).tolist():
            problems.add_one(i, shown, s.iat[i], _date_message(str(s.iat[i]), known, allowed))
    else:  # pragma: no cover - the specs are fixed
        raise ValueError(col.kind)
    if not col.nullable:
        problems.add(empty, shown, s, "must have a value (this column may not be empty)")
    if col.choices is not None:
        choices = col.choices(cfg)
        canon = {fold(a): a for a in choices}
        matched = lookup(typed, canon) if col.kind == "str" else None
        if matched is not None:
            unknown = typed.notna() & matched.isna()
            problems.add(unknown, shown, s, f"must be one of {', '.join(choices) or '(none configured)'}")
            typed = matched.where(~unknown).astype("string")
        else:
            text = typed.astype("string")
            unknown = typed.notna() & ~text.isin(choices)
            problems.add(unknown, shown, s, f"must be one of {', '.join(choices) or '(none configured)'}")
            typed = typed.mask(unknown)
    return typed


def convert(
    cfg: Config, kind: str, site: str, raw: RawTable, header: MappedHeader, mapping: SiteMapping
) -> tuple[pd.DataFrame, Problems]:
    """Typed canonical rows of the site file, and the problems found (row by row)."""
    spec = SPECS[kind]
    problems = Problems(raw.file, raw.rows, [])
    out = pd.DataFrame(index=raw.cells.index)
    extra = [c for c in (*spec.optional_columns,) if c.name in header.positions]
    dated = [c for c in (*spec.columns, *extra) if c.kind == "date" and c.name in header.positions]
    order, day_rows, month_rows = file_date_order([raw.cells[header.positions[c.name]] for c in dated])
    if day_rows and month_rows:
        first = [int(raw.rows[i]) for i in day_rows[:5]], [int(raw.rows[i]) for i in month_rows[:5]]
        raise DataError([DataProblem(raw.file, first[1][0], header.shown[dated[0].name], None,
                                     f"the file's dates contradict each other: day first on rows "
                                     f"{', '.join(map(str, first[0]))}, month first on rows "
                                     f"{', '.join(map(str, first[1]))}; no date in it can be trusted (even with "
                                     "--accept-valid) until it is exported again")])  # fmt: skip
    for col in (*spec.columns, *extra):
        if col.name not in header.positions:  # site, implied by --site
            out[col.name] = pd.Series(site, index=out.index, dtype="string")
            continue
        s = raw.cells[header.positions[col.name]]
        out[col.name] = convert_column(cfg, col, s, header.shown[col.name], mapping, problems, order)
    respondent = "partner" if kind == "partners" else "man"
    for name, pos in header.positions.items():
        if name in out.columns:
            continue
        s = raw.cells[pos]
        if name in mapping.values:  # recoded first, as the canonical columns are
            recoded = lookup(s, mapping.values[name])
            s = recoded.where(recoded.notna(), s).astype("string")
        owner = item_column_owner(cfg, name, respondent) if spec.items else None
        if owner is not None:
            ins = cfg.instruments[owner]
            values = convert_column(cfg, Column(name, "int", nullable=True), s, header.shown[name], mapping, problems)
            outside = values.notna() & ((values < ins.min) | (values > ins.max))
            problems.add(outside, header.shown[name], s, f"must be within the item range {ins.min}..{ins.max}")
            out[name] = values.mask(outside)
        else:  # a stratification factor or a baseline characteristic of participants
            factor = next((f for f in cfg.factors if f.id == name), None)
            base = next((v for v in baseline_columns(cfg) if v.id == name), None)
            if factor is None and base is not None and base.type == "continuous":
                values = convert_column(cfg, Column(name, "float", nullable=True), s, header.shown[name], mapping,
                                        problems)  # fmt: skip
                out[name] = values.map(lambda v: None if pd.isna(v) else f"{v:g}").astype("string")
                continue
            allowed = list(factor.levels) if factor is not None else list(base.levels if base and base.levels
                                                                          else ["true", "false"])  # fmt: skip
            levels = {fold(v): v for v in allowed}
            matched = lookup(s, levels)
            problems.add(matched.isna() & (s != ""), header.shown[name], s, f"must be one of {', '.join(allowed)}")
            out[name] = matched.astype("string")
    return out, problems
