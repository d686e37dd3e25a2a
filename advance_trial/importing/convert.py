"""Turning a site file's text into canonical rows, vectorised, with every problem named.

Booleans are accepted as yes/no, y/n, 1/0 or true/false in any case; dates in ISO form or in the
site's configured ``date_format``. A date that is ambiguous (day and month order unknown, a
two-digit year) or impossible is a problem, never a guess. Values listed as choices (sites, arms,
timepoints, session types, statuses) match without regard to case.

Exports repeat their values (a few session types, a few dozen dates, each man's id on every one of
his rows): each column is converted and checked once per distinct text, and every problem found in
a text is placed on each row that holds it, in row order, as a check of every row would place it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.data.canonical import parse_numbers
from advance_trial.data.schema import SPECS, Column, baseline_columns, item_column_owner
from advance_trial.errors import DataError, DataProblem
from advance_trial.importing.mapping import BOOLEAN_WORDS, MappedHeader, SiteMapping, fold, lookup
from advance_trial.importing.readers import RawTable

#: Each row's position among a column's distinct texts (``codes``), and those texts in order of first appearance.
Codes = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Distinct:
    """A column of text as its distinct values and, for each row, which of them it holds."""

    codes: Codes
    texts: pd.Series  # dtype "string", one per distinct value

    def rows(self, values: pd.Series, index: pd.Index) -> pd.Series:
        """``values`` (one per distinct text) spread back onto the rows, with ``index``."""
        return pd.Series(values.array.take(self.codes), index=index)


def distinct(s: pd.Series) -> Distinct:
    """The distinct texts of a column of cells (missing cells count as empty text)."""
    codes, uniques = pd.factorize(s.to_numpy(dtype=object))  # a missing cell (None, NaN, NA): -1
    texts = uniques.tolist()
    if len(codes) and codes.min() < 0:
        codes = np.where(codes < 0, len(texts), codes)
        texts.append("")
    return Distinct(codes.astype(np.intp, copy=False), pd.Series(texts, dtype="string"))


@dataclass
class Problems:
    """Row problems, kept per row position so that rows can be accepted or rejected one by one."""

    file: str
    rows: npt.NDArray[np.int64]
    items: list[tuple[int, DataProblem]]

    def add(self, mask: pd.Series | npt.NDArray[np.bool_], column: str, raw: pd.Series | None, message: str) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)).tolist():
            value = None if raw is None else str(raw.iat[i])
            self.items.append((int(i), DataProblem(self.file, int(self.rows[i]), column, value, message)))

    def add_one(self, i: int, column: str, value: object, message: str) -> None:
        text = None if _missing(value) else str(value)
        self.items.append((int(i), DataProblem(self.file, int(self.rows[i]), column, text, message)))

    def bad_positions(self) -> npt.NDArray[np.int64]:
        return np.unique(np.fromiter((i for i, _ in self.items), dtype=np.int64, count=len(self.items)))


def _missing(value: object) -> bool:
    """None, pandas' NA and NaT, or a float NaN (numpy's too: its floats are floats)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


@dataclass(frozen=True)
class _OnRows:
    """Problems found among a column's distinct values, each placed on every row that holds the value."""

    problems: Problems
    codes: Codes

    def add(self, mask: pd.Series, column: str, raw: pd.Series | None, message: str | Sequence[str]) -> None:
        """``mask`` and ``raw`` (the text shown) per distinct value; ``message`` one, or one per distinct value."""
        hit = np.asarray(mask, dtype=bool)
        if not hit.any():
            return
        shown = None if raw is None else [str(v) for v in raw]
        p = self.problems
        for i in np.flatnonzero(hit[self.codes]).tolist():
            c = int(self.codes[i])
            said = message if isinstance(message, str) else message[c]
            p.items.append((i, DataProblem(p.file, int(p.rows[i]), column, None if shown is None else shown[c], said)))


_STRPTIME = {"dd/mm/yyyy": "%d/%m/%Y", "dd-mm-yyyy": "%d-%m-%Y", "dd.mm.yyyy": "%d.%m.%Y",
             "mm/dd/yyyy": "%m/%d/%Y", "yyyy-mm-dd": "%Y-%m-%d", "yyyy/mm/dd": "%Y/%m/%d"}  # fmt: skip


_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$")


def file_date_order(columns: Sequence[pd.Series | Distinct]) -> tuple[str | None, list[int], list[int]]:
    """Day-first or month-first for a whole file, from the dates that can only be one (a part above 12).

    Returns the order (``"day"``, ``"month"`` or ``None`` when no date decides it) and the positions of
    the rows that show each order; both lists non-empty means the file contradicts itself.
    """
    day: list[npt.NDArray[np.intp]] = []
    month: list[npt.NDArray[np.intp]] = []
    for column in columns:
        d = column if isinstance(column, Distinct) else distinct(column)
        kinds = np.zeros(len(d.texts), dtype=np.int8)  # 1: only day-first reads it, 2: only month-first
        for j, v in enumerate(d.texts.tolist()):  # exports repeat their dates: each distinct text is looked at once
            m = _DMY.match(v)
            if m:
                kinds[j] = 1 if int(m.group(1)) > 12 else 2 if int(m.group(3)) > 12 else 0
        if not kinds.any():
            continue
        which = kinds[d.codes]
        day.append(np.flatnonzero(which == 1))
        month.append(np.flatnonzero(which == 2))
    days, months = (np.unique(np.concatenate(found)).tolist() if len(found) > 1 else  # one column: in order
                    found[0].tolist() if found else [] for found in (day, month))  # fmt: skip
    order = "day" if days and not months else "month" if months and not days else None
    return order, days, months


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
    date_order: str | None = None, cells: Distinct | None = None,
) -> pd.Series:  # fmt: skip
    """Type one canonical column; problems go to ``problems`` and the cell becomes missing.

    ``cells``: the column's distinct texts, when already counted. Each distinct text is typed and checked once.
    """
    d = cells if cells is not None else distinct(s)
    return d.rows(_typed(cfg, col, d.texts, shown, mapping, _OnRows(problems, d.codes), date_order), s.index)


def _typed(
    cfg: Config, col: Column, s: pd.Series, shown: str, mapping: SiteMapping, problems: _OnRows,
    date_order: str | None = None,
) -> pd.Series:  # fmt: skip
    """The distinct texts ``s`` typed; their problems placed on the rows that hold them."""
    empty = s == ""
    if col.name in mapping.values:
        recoded = lookup(s, mapping.values[col.name])
        s = recoded.where(recoded.notna(), s).astype("string")
        empty = s == ""
    typed: pd.Series
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
        said = [_date_message(str(v), known, allowed) if b else "" for v, b in zip(s, bad, strict=True)]
        problems.add(bad, shown, s, said)
    else:  # pragma: no cover - the specs are fixed
        raise ValueError(col.kind)
    if not col.nullable:
        problems.add(empty, shown, s, "must have a value (this column may not be empty)")
    if col.choices is not None:
        choices = col.choices(cfg)
        canon = {fold(a): a for a in choices}
        listed = f"must be one of {', '.join(choices) or '(none configured)'}"
        if col.kind == "str":
            matched = lookup(typed, canon)
            unknown = typed.notna() & matched.isna()
            problems.add(unknown, shown, s, listed)
            typed = matched.where(~unknown).astype("string")
        else:
            unknown = typed.notna() & ~typed.astype("string").isin(choices)
            problems.add(unknown, shown, s, listed)
            typed = typed.mask(unknown)
    return typed


@dataclass(frozen=True)
class Spread:
    """A typed column as its distinct values and each row's code into them (its text is theirs, spread)."""

    codes: Codes
    values: pd.Series


def convert(
    cfg: Config, kind: str, site: str, raw: RawTable, header: MappedHeader, mapping: SiteMapping
) -> tuple[pd.DataFrame, Problems, dict[str, Spread]]:
    """Typed canonical rows of the site file, the problems found (row by row), and each typed column as its
    distinct values (:class:`Spread`)."""
    spec = SPECS[kind]
    problems = Problems(raw.file, raw.rows, [])
    index = raw.cells.index
    cells = {name: distinct(raw.cells[pos]) for name, pos in header.positions.items()}
    spread: dict[str, Spread] = {}
    extra = [c for c in (*spec.optional_columns,) if c.name in header.positions]
    dated = [c for c in (*spec.columns, *extra) if c.kind == "date" and c.name in header.positions]
    order, day_rows, month_rows = file_date_order([cells[c.name] for c in dated])
    if day_rows and month_rows:
        first = [int(raw.rows[i]) for i in day_rows[:5]], [int(raw.rows[i]) for i in month_rows[:5]]
        raise DataError([DataProblem(raw.file, first[1][0], header.shown[dated[0].name], None,
                                     f"the file's dates contradict each other: day first on rows "
                                     f"{', '.join(map(str, first[0]))}, month first on rows "
                                     f"{', '.join(map(str, first[1]))}; no date in it can be trusted (even with "
                                     "--accept-valid) until it is exported again")])  # fmt: skip
    for col in (*spec.columns, *extra):
        if col.name not in header.positions:  # site, implied by --site
            spread[col.name] = Spread(np.zeros(len(index), dtype=np.intp), pd.Series([site], dtype="string"))
            continue
        d = cells[col.name]
        typed = _typed(cfg, col, d.texts, header.shown[col.name], mapping, _OnRows(problems, d.codes), order)
        spread[col.name] = Spread(d.codes, typed)
    respondent = "partner" if kind == "partners" else "man"
    for name in header.positions:
        if name not in spread:
            typed = _extra_column(cfg, name, cells[name], header.shown[name], mapping, problems,
                                  respondent if spec.items else None)  # fmt: skip
            spread[name] = Spread(cells[name].codes, typed)
    columns = {name: pd.Series(c.values.array.take(c.codes), index=index) for name, c in spread.items()}
    return pd.DataFrame(columns, index=index), problems, spread


def _extra_column(cfg: Config, name: str, cells: Distinct, shown: str, mapping: SiteMapping, problems: Problems,
                  respondent: str | None) -> pd.Series:  # fmt: skip
    """An item of an instrument, a stratification factor or a baseline characteristic: its distinct texts typed."""
    s = cells.texts
    if name in mapping.values:  # recoded first, as the canonical columns are
        recoded = lookup(s, mapping.values[name])
        s = recoded.where(recoded.notna(), s).astype("string")
    on_rows = _OnRows(problems, cells.codes)
    owner = item_column_owner(cfg, name, respondent) if respondent is not None else None
    typed: pd.Series
    if owner is not None:
        ins = cfg.instruments[owner]
        values = _typed(cfg, Column(name, "int", nullable=True), s, shown, mapping, on_rows)
        outside = values.notna() & ((values < ins.min) | (values > ins.max))
        on_rows.add(outside, shown, s, f"must be within the item range {ins.min}..{ins.max}")
        typed = values.mask(outside)
    else:  # a stratification factor or a baseline characteristic of participants
        factor = next((f for f in cfg.factors if f.id == name), None)
        base = next((v for v in baseline_columns(cfg) if v.id == name), None)
        if factor is None and base is not None and base.type == "continuous":
            values = _typed(cfg, Column(name, "float", nullable=True), s, shown, mapping, on_rows)
            typed = values.map(lambda v: None if pd.isna(v) else f"{v:g}").astype("string")
        else:
            allowed = list(factor.levels) if factor is not None else list(base.levels if base and base.levels
                                                                          else ["true", "false"])  # fmt: skip
            matched = lookup(s, {fold(v): v for v in allowed})
            on_rows.add(matched.isna() & (s != ""), shown, s, f"must be one of {', '.join(allowed)}")
            typed = matched.astype("string")
    return typed
