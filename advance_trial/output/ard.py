"""The results data set: every statistic of a run as one row of one long table.

The analysis results data of R's cards and gtsummary v2: a statistic is a row ``table, group1,
group1_level, group2, group2_level, group3, group3_level, variable, variable_level, stat_name,
stat, method, denominator``. ``groupK`` names a breakdown (``arm``, ``site``, ``cycle``,
``timepoint``, ...) and ``groupK_level`` its level (``all`` for a margin); ``variable`` is what is
summarised (``retained``, a threshold, a CONSORT stage, an outcome, a criterion) and
``variable_level`` its level where it has one (a timepoint, a detail); ``method`` names the
interval method of the row's estimates (empty for counts); ``denominator`` says what the
proportions are of.

Each display table is declared by a :class:`Layout` (which of its columns are breakdowns, which
the variable, which the method) and is a pivot of the long table (:func:`pivot`). The pivot
gives back the display table exactly, its column order and types included (tested for every table
of the three samples, in plain, blinded and shareable runs), so the CSV and Markdown tables and
``results.csv`` cannot disagree. Per-man listings (``scores``, ``dose_participants``) and the
disclosure audit are data, not statistics: they have no layout and stay out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: The columns of ``results.csv`` (the contract's, with a third breakdown where a table has one).
COLUMNS = ["table", "group1", "group1_level", "group2", "group2_level", "group3", "group3_level", "variable",
           "variable_level", "stat_name", "stat", "method", "denominator"]  # fmt: skip
MAX_GROUPS = 3


@dataclass(frozen=True)
class Layout:
    """How a display table's columns map onto the results data set.

    Attributes
    ----------
    groups : tuple
        Breakdown columns, in order (at most three). A pair ``(name_column, level_column)`` is a
        breakdown whose name is itself in the table (``dose_summary``'s ``by`` and ``level``).
    variable : str
        The column holding what is summarised, or ``"=name"`` for one name for the whole table.
    level : str, optional
        The column holding the variable's level.
    method : str, optional
        The column naming the interval method.
    denominator : str
        What the table's proportions are of.
    """

    groups: tuple[str | tuple[str, str], ...] = ()
    variable: str = ""
    level: str | None = None
    method: str | None = None
    denominator: str = ""

    def key_columns(self) -> list[str]:
        """The display columns that identify a row (every other column is a statistic)."""
        cols: list[str] = []
        for g in self.groups:
            cols += list(g) if isinstance(g, tuple) else [g]
        if not self.variable.startswith("="):
            cols.append(self.variable)
        if self.level is not None:
            cols.append(self.level)
        if self.method is not None:
            cols.append(self.method)
        return cols


#: The layout of every display table that holds statistics.
LAYOUTS: dict[str, Layout] = {
    "recruitment": Layout(("site",), "=randomised", method="ci_method", denominator="men eligible at screening"),
    "allocation": Layout(("site", "arm"), "=randomised", denominator="men randomised"),
    "consort": Layout(("arm",), "stage", "detail", denominator="men (screened, randomised or analysed)"),
    "retention": Layout(("arm", "site", "cycle"), "=retained", "timepoint", "ci_method", "men randomised"),
    "retention_reasons": Layout(("timepoint", "arm"), "=followup_state", "state", denominator="men randomised"),
    "retention_difference": Layout(("arm", "comparator"), "=retained", "timepoint", "ci_method", "men randomised"),
    "partner_retention": Layout(
        ("arm", "site", "cycle"), "=partner_retained", "timepoint", "ci_method", "partners who consented"
    ),  # fmt: skip
    "partner_contact": Layout(
        ("arm", "site"), "=partner_contacted", method="ci_method", denominator="partners identified"
    ),  # fmt: skip
    "dose": Layout(
        ("arm", "cycle", "site"),
        "threshold",
        method="ci_method",
        denominator="men randomised to the arm offered sessions",
    ),  # fmt: skip
    "dose_summary": Layout((("by", "level"),), "=dose", denominator="men randomised to the arm offered sessions"),
    "engagement": Layout(
        ("arm",), "component", method="ci_method", denominator="men randomised to the arm offered sessions"
    ),  # fmt: skip
    "dose_distribution": Layout(
        ("cycle",),
        "=compulsory_sessions",
        "compulsory_sessions",
        denominator="men randomised to the arm offered sessions",
    ),  # fmt: skip
    "outcomes": Layout(("analysis", "effect", "threshold"), "outcome", "timepoint", "ci_method", "men analysed"),
    "change": Layout(("arm",), "outcome", "timepoint", "ci_method", "men with the baseline and follow-up measures"),
    "progression": Layout((), "criterion", method="ci_method", denominator="as in each metric's table"),
    "plan": Layout(("step",), "outcome", "quantity", denominator="the definitive trial's men"),
    "recruitment_monthly": Layout(("site",), "=randomised", "month", denominator="men randomised"),
    "recruitment_rate": Layout(
        ("site",), "=rate_per_site_month", method="ci_method", denominator="recruiting site-months"
    ),  # fmt: skip
    "baseline": Layout(("arm",), "variable", "level", denominator="men randomised with the value known"),
    "harms": Layout(("about", "arm"), "category", denominator="men randomised (partners identified)"),
}


@dataclass(frozen=True)
class ResultsData:
    """The long table and what its pivots need to give back each display table exactly.

    Attributes
    ----------
    long : DataFrame
        One row per statistic (:data:`COLUMNS`).
    columns : dict
        Table name -> its display columns, in order.
    dtypes : dict
        Table name -> column -> dtype, so a pivot restores integers, floats, text and booleans.
    """

    long: pd.DataFrame
    columns: dict[str, list[str]] = field(default_factory=dict)
    dtypes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stats(self, table: str, variable: str, level: str | None = None, **groups: str) -> dict[str, Any]:
        """Every statistic of one row of a display table, by key: ``stat_name -> stat``, with the row's
        ``method`` under ``"method"``. Breakdowns not named must be unique among the matches; an empty
        dict when no row has this key.

        Raises
        ------
        KeyError
            If the key matches more than one row.
        """
        df = self.long
        keep = (df["table"] == table) & (df["variable"].astype(str) == variable)
        if level is not None:
            keep &= df["variable_level"].astype(str) == level
        for name, value in groups.items():
            match = pd.Series(False, index=df.index)
            for k in range(1, MAX_GROUPS + 1):
                match |= (df[f"group{k}"] == name) & (df[f"group{k}_level"].astype(str) == str(value))
            keep &= match
        rows = df[keep]
        if rows.empty:
            return {}
        if rows.duplicated("stat_name").any():
            raise KeyError(f"more than one row of {table} for {variable!r} {level!r} {groups}")
        methods = [m for m in rows["method"] if isinstance(m, str)]
        return {**dict(zip(rows["stat_name"], rows["stat"], strict=True)), "method": methods[0] if methods else ""}

    def first_key(self, table: str, variable: str) -> dict[str, str]:
        """The breakdowns (name -> level) of the first row of ``table`` for ``variable``."""
        df = self.long
        rows = df[(df["table"] == table) & (df["variable"].astype(str) == variable)]
        if rows.empty:
            return {}
        r = rows.iloc[0]
        return {str(r[f"group{k}"]): str(r[f"group{k}_level"]) for k in range(1, MAX_GROUPS + 1)
                if r[f"group{k}"] is not None}  # fmt: skip


def results_data(tables: Mapping[str, Any]) -> ResultsData:
    """The long results data set of display tables (those with a :data:`LAYOUTS` entry).

    Parameters
    ----------
    tables : mapping
        Table name -> :class:`~advance_trial.output.tables.Table` (or a DataFrame).
    """
    rows: list[list[Any]] = []
    columns: dict[str, list[str]] = {}
    dtypes: dict[str, dict[str, Any]] = {}
    melted = _MELTED.get()
    for name, t in tables.items():
        layout = LAYOUTS.get(name)
        if layout is None:
            continue
        df: pd.DataFrame = getattr(t, "data", t)
        hit = melted.get(name) if melted is not None else None
        if hit is not None and hit[0] is df:
            part = hit[1]
        else:
            part = _Melt([str(c) for c in df.columns], {str(c): df[c].dtype for c in df.columns},
                         _long_rows(name, layout, df))  # fmt: skip
            if melted is not None:
                melted[name] = (df, part)
        columns[name], dtypes[name] = part.columns, part.dtypes
        rows += part.rows
    long = pd.DataFrame(rows, columns=COLUMNS)
    for i, col in enumerate(COLUMNS):  # levels and stats as given (a step's own tables may hold only numbers,
        if col in _AS_GIVEN and long[col].dtype != object:  # whose NaN would split a row's key in the pivot)
            long[col] = pd.Series([r[i] for r in rows], index=long.index, dtype=object)
    return ResultsData(long, columns, dtypes)


#: Columns of mixed values (text, numbers, missing) in a whole run's results data set, kept so for any tables.
_AS_GIVEN = ("variable_level", "stat")


@dataclass(frozen=True)
class _Melt:
    """One display table's rows of the results data set, with its columns and types."""

    columns: list[str]
    dtypes: dict[str, Any]
    rows: list[list[Any]]


_MELTED: ContextVar[dict[str, tuple[pd.DataFrame, _Melt]] | None] = ContextVar("melted", default=None)


@contextmanager
def melting_once() -> Iterator[None]:
    """Within this block each display table is melted into rows of the results data set once: progression,
    the plan and ``results.csv`` read the same rows (a table whose frame was replaced, by blinding or
    suppression, is melted again)."""
    token = _MELTED.set({})
    try:
        yield
    finally:
        _MELTED.reset(token)


def _long_rows(name: str, layout: Layout, df: pd.DataFrame) -> list[list[Any]]:
    if len(layout.groups) > MAX_GROUPS:
        raise ValueError(f"{name}: {len(layout.groups)} breakdowns; the results data set holds {MAX_GROUPS}")
    keys = [c for c in layout.key_columns() if c in df.columns]
    stats = [c for c in df.columns if c not in keys]
    out: list[list[Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for rec in df.to_dict("records"):
        groups: list[Any] = []
        for g in layout.groups:
            groups += [rec[g[0]], rec[g[1]]] if isinstance(g, tuple) else [g, rec.get(g)]
        groups += [None] * (2 * MAX_GROUPS - len(groups))
        variable = layout.variable[1:] if layout.variable.startswith("=") else rec[layout.variable]
        level = rec[layout.level] if layout.level is not None else None
        method = rec.get(layout.method) if layout.method is not None else None
        key = (*groups, variable, level)
        if key in seen:
            raise ValueError(f"{name}: two rows with the key {key}; its layout does not identify its rows")
        seen.add(key)
        for s in stats:  # a count has no interval method
            m = None if s == "n" or s.startswith("n_") else method
            out.append([name, *groups, variable, level, s, rec[s], m, layout.denominator])
    return out


def pivot(results: ResultsData, table: str) -> pd.DataFrame:
    """The display table ``table`` as a pivot of the long table, with its columns and types."""
    layout = LAYOUTS[table]
    long = results.long[results.long["table"] == table]
    cols, dtypes = results.columns[table], results.dtypes[table]
    records: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in long.itertuples(index=False):
        key = (r.group1, r.group1_level, r.group2, r.group2_level, r.group3, r.group3_level, r.variable,
               r.variable_level)  # fmt: skip
        rec = records.get(key)
        if rec is None:
            rec = records[key] = _key_record(layout, r)
        if layout.method is not None and isinstance(r.method, str):
            rec[layout.method] = r.method
        rec[str(r.stat_name)] = r.stat
    frame = pd.DataFrame(list(records.values()), columns=cols)
    for c in cols:
        frame[c] = _typed(frame[c], dtypes[c])
    return frame


def _key_record(layout: Layout, r: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for k, g in enumerate(layout.groups, 1):
        name, level = getattr(r, f"group{k}"), getattr(r, f"group{k}_level")
        if isinstance(g, tuple):
            rec[g[0]], rec[g[1]] = name, level
        else:
            rec[g] = level
    if not layout.variable.startswith("="):
        rec[layout.variable] = r.variable
    if layout.level is not None:
        rec[layout.level] = r.variable_level
    if layout.method is not None:
        rec[layout.method] = r.method
    return rec


def _typed(values: pd.Series, dtype: Any) -> pd.Series:
    return values.astype(dtype)


def long_frame(results: ResultsData) -> pd.DataFrame:
    """``results.csv``'s frame: booleans as ``true``/``false`` like every other file; the rest as it is."""
    out = results.long.copy()
    for col in ("stat", "group1_level", "group2_level", "group3_level", "variable_level"):
        out[col] = pd.Series(
            [("true" if v else "false") if isinstance(v, bool) else v for v in out[col]], index=out.index, dtype=object
        )  # as given: a map would make whole numbers floats
    return out
