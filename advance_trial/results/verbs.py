"""The verbs that make results rows, in the spirit of R cards' ``ard_*``.

Each verb takes the subject-level frame (or a model's fit, or counts), the breakdowns and the variable, and
returns rows of the results data set (:mod:`advance_trial.results.structure`) as a frame;
:func:`bind_results` binds them. A breakdown is ``(column, levels)``: every level and, last, ``all`` (the
margin, :func:`advance_trial.tabulate.margins`); a level list left empty gives the margin alone. Or
``cells`` names the combinations to report, when they are not every combination.

The statistics take the names the display shows (``n_retained``, ``n_randomised``, ...): the verbs'
defaults are cards' (``n``, ``N``, ``p`` as ``proportion``). A statistic an analysis cannot compute is
``NaN`` with its reason in ``error``, never a silent number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from advance_trial.intervals import (
    newcombe_difference,
    poisson_interval,
    proportion_ci,
    quartiles,
)
from advance_trial.results.layout import frame, row, words
from advance_trial.results.structure import KEY, MAX_GROUPS, ResultsStructureError
from advance_trial.tabulate import ALL, margins

Breakdown = tuple[str, Sequence[str]]


@dataclass(frozen=True)
class Target:
    """Where rows go: the display table, what its proportions are of, the analysis that makes them, and
    the variable's words."""

    table: str
    context: str = ""
    denominator: str = ""
    variable_label: str = ""


Cells = Iterable[Mapping[str, str]] | None
Cell = tuple[dict[str, str], pd.DataFrame]


def cell_rows(frame_: pd.DataFrame, by: Sequence[Breakdown] = (), cells: Cells = None) -> Iterator[
        tuple[dict[str, str], np.ndarray]]:  # fmt: skip
    """Each cell (breakdown -> level) and the positions of the frame's rows in it: every combination of
    ``by``'s levels with the margins (``all``) added, or the ``cells`` given. Each breakdown's rows are
    found once (its column grouped as text, as :func:`advance_trial.tabulate.mask_for` compares it)."""
    combos = [dict(c) for c in cells] if cells is not None else list(margins(by))
    positions: dict[str, dict[Any, np.ndarray]] = {}  # column -> level (as text) -> its rows
    everyone = np.arange(len(frame_))
    for combo in combos:
        rows = everyone
        for col, level in combo.items():
            if level == ALL:
                continue
            if col not in positions:
                text = frame_[col].astype("string")
                found = text.groupby(text, sort=False, dropna=True).indices
                positions[col] = {k: np.asarray(v) for k, v in found.items()}
            mine = positions[col].get(str(level), everyone[:0])
            rows = mine if rows is everyone else np.intersect1d(rows, mine, assume_unique=True)
        yield combo, rows


def cells_of(frame_: pd.DataFrame, by: Sequence[Breakdown] = (), cells: Cells = None) -> Iterator[Cell]:
    """Each cell (breakdown -> level) and the frame's rows in it (:func:`cell_rows`)."""
    for combo, rows in cell_rows(frame_, by, cells):
        yield combo, frame_.iloc[rows]


def _groups(combo: Mapping[str, Any]) -> list[Any]:
    if len(combo) > MAX_GROUPS:
        raise ValueError(f"{len(combo)} breakdowns; the results data set holds {MAX_GROUPS}")
    out: list[Any] = []
    for name, level in combo.items():
        out += [name, level]
    return out + [None] * (2 * MAX_GROUPS - len(out))


def stat_rows(to: Target, combo: Mapping[str, Any], variable: str, level: Any, stats: Mapping[str, Any], *,
              method: str | None = None, contrast: Sequence[str] = (), error: str | None = None,
              warning: str | None = None) -> list[list[Any]]:  # fmt: skip
    """Rows for the statistics ``stats`` (name -> value) of one cell: a count (``n`` or ``n_*``) carries no
    method; the statistics named in ``contrast`` are marked as contrasts between arms."""
    groups = _groups(combo)
    return [row(to.table, groups, variable, level, name, value,
                method=None if name == "n" or name.startswith("n_") else method, denominator=to.denominator,
                variable_label=to.variable_label or words(variable), error=error, warning=warning,
                context=to.context or to.table, contrast=name in contrast)
            for name, value in stats.items()]  # fmt: skip


def _flags(cell: pd.DataFrame, success: str | Any) -> np.ndarray:
    values = cell[success] if isinstance(success, str) else success(cell)
    return np.asarray(pd.Series(values).fillna(False).to_numpy(dtype=bool))


def ard_count(frame_: pd.DataFrame, to: Target, variable: str, *, by: Sequence[Breakdown] = (),
              cells: Cells = None, level: Any = None, where: str | Any = None,
              stat_name: str = "n", fixed: Mapping[str, Any] | None = None) -> pd.DataFrame:  # fmt: skip
    """Rows counting the frame's rows in each cell (those where ``where`` is true, when given: a boolean
    column, or a function of the cell's rows).

    ``fixed`` adds breakdowns with one level each (``{"arm": "advance"}``) before the cell's own.
    """
    rows: list[list[Any]] = []
    if where is None or isinstance(where, str):  # a column: read once, counted by position
        flags = None if where is None else _flags(frame_, where)
        for combo, at in cell_rows(frame_, by, cells):
            k = len(at) if flags is None else int(flags[at].sum())
            rows += stat_rows(to, {**(fixed or {}), **combo}, variable, level, {stat_name: k})
        return frame(rows)
    for combo, cell in cells_of(frame_, by, cells):
        k = int(_flags(cell, where).sum())
        rows += stat_rows(to, {**(fixed or {}), **combo}, variable, level, {stat_name: k})
    return frame(rows)


def ard_proportion(frame_: pd.DataFrame, to: Target, variable: str, success: str | Any, *,
                   by: Sequence[Breakdown] = (), cells: Cells = None, level: Any = None, method: str = "wilson",
                   ci_level: float = 0.95, total: str = "N", count: str = "n", suffix: str = "",
                   fixed: Mapping[str, Any] | None = None) -> pd.DataFrame:  # fmt: skip
    """Rows of a proportion with its interval in each cell: men in the cell (``total``), men with
    ``success`` (``count``), ``proportion``, ``ci_lower`` and ``ci_upper`` (each with ``suffix``), by
    :func:`advance_trial.intervals.proportion_ci` (``method`` at ``ci_level``). ``success`` is a boolean
    column, or a function of the cell's rows; an empty cell gives ``NaN`` with its reason."""
    rows: list[list[Any]] = []
    cells_k: Iterator[tuple[dict[str, str], int, int]]
    if isinstance(success, str):  # a column: read once, counted by position
        flags = _flags(frame_, success)
        cells_k = ((combo, len(at), int(flags[at].sum())) for combo, at in cell_rows(frame_, by, cells))
    else:
        cells_k = ((combo, len(c), int(_flags(c, success).sum())) for combo, c in cells_of(frame_, by, cells))
    for combo, n, k in cells_k:
        rows += proportion_rows(to, {**(fixed or {}), **combo}, variable, level, k, n, method=method,
                                ci_level=ci_level, total=total, count=count, suffix=suffix)  # fmt: skip
    return frame(rows)


def proportion_rows(to: Target, combo: Mapping[str, Any], variable: str, level: Any, k: int, n: int, *,
                    method: str = "wilson", ci_level: float = 0.95, total: str | None = "N", count: str = "n",
                    suffix: str = "") -> list[list[Any]]:  # fmt: skip
    """The rows of one proportion ``k / n`` with its interval (``total`` ``None``: the denominator not
    repeated)."""
    est = proportion_ci(k, n, method, ci_level)
    stats: dict[str, Any] = {total: n} if total is not None else {}
    stats |= {count: k, f"proportion{suffix}": est.estimate, f"ci_lower{suffix}": est.ci_lower,
              f"ci_upper{suffix}": est.ci_upper}  # fmt: skip
    error = "no men in this cell" if n == 0 else None
    return stat_rows(to, combo, variable, level, stats, method=est.method, error=error)


#: The statistics :func:`ard_continuous` can give, and how.
SUMMARIES = ("n", "mean", "sd", "median", "q1", "q3", "min", "max")


def ard_continuous(frame_: pd.DataFrame, to: Target, variable: str, column: str, *,
                   by: Sequence[Breakdown] = (), cells: Cells = None, level: Any = None,
                   stats: Sequence[str] = ("median", "q1", "q3"), names: Mapping[str, str] | None = None,
                   fixed: Mapping[str, Any] | None = None, method: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Rows of a continuous summary of ``column`` in each cell: any of :data:`SUMMARIES` (quartiles by
    linear interpolation, R's ``quantile`` type 7; ``sd`` with ``n - 1``), named as ``names`` says
    (``{"median": "median_hours"}``). Missing values are left out; an empty cell gives ``NaN``. ``method``:
    the display row's interval method, where a display shows the summary beside an interval."""
    unknown = [s for s in stats if s not in SUMMARIES]
    if unknown:
        raise ValueError(f"unknown summaries {unknown}; use {', '.join(SUMMARIES)}")
    names = names or {}
    rows: list[list[Any]] = []
    numbers = pd.to_numeric(frame_[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    quartile = [s for s in stats if s in ("q1", "median", "q3")]
    for combo, at in cell_rows(frame_, by, cells):
        x = numbers[at]
        x = x[~np.isnan(x)]
        values: dict[str, Any] = dict(zip(("q1", "median", "q3"), quartiles(x), strict=True)) if quartile else {}
        for s in stats:  # only the statistics asked for (a dose summary has a cell per therapy group)
            if s not in values:
                values[s] = _summary(s, x)
        out = {names.get(s, s): values[s] for s in stats}
        rows += stat_rows(to, {**(fixed or {}), **combo}, variable, level, out, method=method,
                          error="no values in this cell" if not len(x) else None)  # fmt: skip
    return frame(rows)


def _summary(stat: str, x: np.ndarray) -> Any:
    """One of :data:`SUMMARIES` but the quartiles, of the values ``x`` (missing ones left out)."""
    if stat == "n":
        return len(x)
    if stat == "sd":
        return float(x.std(ddof=1)) if len(x) > 1 else np.nan
    return float(getattr(x, stat)()) if len(x) else np.nan  # mean, min, max


def ard_rate(count: int, exposure: float, to: Target, variable: str, combo: Mapping[str, Any], *,
             level: Any = None, ci_level: float = 0.95, count_name: str = "n", exposure_name: str = "exposure",
             extra: Mapping[str, Any] | None = None) -> pd.DataFrame:  # fmt: skip
    """Rows of a Poisson rate ``count / exposure`` with its exact (Garwood) interval, as R's
    ``poisson.test``: ``count_name``, ``exposure_name``, ``rate``, ``ci_lower``, ``ci_upper`` (and ``extra``
    statistics of the same cell after them)."""
    if exposure <= 0:
        stats = {count_name: count, exposure_name: exposure, "rate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan}
        return frame(stat_rows(to, combo, variable, level, {**stats, **(extra or {})}, method="exact Poisson",
                               error="no exposure"))  # fmt: skip
    lo, hi = poisson_interval(count, exposure, ci_level)
    stats = {count_name: count, exposure_name: exposure, "rate": count / exposure, "ci_lower": lo, "ci_upper": hi}
    return frame(stat_rows(to, combo, variable, level, {**stats, **(extra or {})}, method="exact Poisson"))


class Fit(Protocol):
    """What :func:`ard_model` reads of a model's fit: an estimate with its interval."""

    @property
    def estimate(self) -> float: ...
    @property
    def ci_lower(self) -> float: ...
    @property
    def ci_upper(self) -> float: ...


def ard_model(fit: Fit, to: Target, variable: str, combo: Mapping[str, Any], *, level: Any = None,
              method: str | None = None, extra: Mapping[str, Any] | None = None, error: str | None = None,
              contrast: bool = True) -> pd.DataFrame:  # fmt: skip
    """Rows of a model's estimate (an arm effect) with its interval: ``estimate``, ``ci_lower``, ``ci_upper``
    marked as contrasts between arms (unless ``contrast`` is false: a within-arm change, an ICC), then
    ``se`` and ``df`` where the fit has them, and ``extra``. ``method`` defaults to the fit's."""
    stats: dict[str, Any] = {"estimate": fit.estimate, "ci_lower": fit.ci_lower, "ci_upper": fit.ci_upper}
    for name in ("se", "df"):
        if hasattr(fit, name):
            stats[name] = getattr(fit, name)
    stats |= dict(extra or {})
    how = method if method is not None else getattr(fit, "method", None)
    marked = ("estimate", "ci_lower", "ci_upper") if contrast else ()
    return frame(stat_rows(to, combo, variable, level, stats, method=how, contrast=marked, error=error))


def ard_difference(frame_: pd.DataFrame, to: Target, variable: str, success: str | Any, *, arm_column: str,
                   arm: str, comparator: str, level: Any = None, ci_level: float = 0.95,
                   count: str = "n_success") -> pd.DataFrame:  # fmt: skip
    """Rows of the difference between two arms' proportions, ``arm`` minus ``comparator``, with Newcombe's
    hybrid score interval (:func:`advance_trial.intervals.newcombe_difference`), broken down by ``arm`` and
    ``comparator``: each arm's men (``n_arm``, ``n_comparator``) and successes (``<count>_arm``,
    ``<count>_comparator``), then the contrast ``estimate``, ``ci_lower``, ``ci_upper``."""
    a = frame_[frame_[arm_column].astype(str) == arm]
    b = frame_[frame_[arm_column].astype(str) == comparator]
    k1, k2 = int(_flags(a, success).sum()), int(_flags(b, success).sum())
    est = newcombe_difference(k1, len(a), k2, len(b), ci_level)
    stats = {"n_arm": len(a), f"{count}_arm": k1, "n_comparator": len(b), f"{count}_comparator": k2,
             "estimate": est.estimate, "ci_lower": est.ci_lower, "ci_upper": est.ci_upper}  # fmt: skip
    error = "an arm has no men" if not (len(a) and len(b)) else None
    return frame(stat_rows(to, {"arm": arm, "comparator": comparator}, variable, level, stats, method=est.method,
                           contrast=("estimate", "ci_lower", "ci_upper"), error=error))  # fmt: skip


def ard_grid(grid: pd.DataFrame, to: Target, variable: str, *, by: Sequence[str] = (), level: str | None = None,
             method: str | None = None, labels: Mapping[str, str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Rows of statistics computed a row per cell, as a grid of scenarios or a forecast is (cards'
    ``ard_identity``): the columns ``by`` are the breakdowns, ``variable`` the column naming what is
    summarised (``"=name"``: one name for every row), ``level`` the column holding its level, and every
    other column a statistic of the cell (words in their own columns, :func:`stat_rows`). ``labels`` gives
    a variable's words (an outcome's label) where the target's are not its own.

    Raises
    ------
    ValueError
        If the grid has more breakdowns than the results data set holds.
    """
    if len(by) > MAX_GROUPS:
        raise ValueError(f"{to.table}: {len(by)} breakdowns; the results data set holds {MAX_GROUPS}")
    keys = [*by, *([] if variable.startswith("=") else [variable]), *([level] if level else [])]
    stats = [c for c in grid.columns if c not in keys]
    rows: list[list[Any]] = []
    for rec in grid.to_dict("records"):
        name = variable[1:] if variable.startswith("=") else str(rec[variable])
        said = (labels or {}).get(name)
        rows += stat_rows(replace(to, variable_label=said) if said else to, {g: rec[g] for g in by}, name,
                          rec[level] if level else None,
                          {s: rec[s] for s in stats}, method=method)  # fmt: skip
    return frame(rows)


def bind_results(*parts: pd.DataFrame | Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Bind results rows (frames, or iterables of frames) into one results frame, in order.

    Raises
    ------
    ResultsStructureError
        If two rows have the same key (the same statistic made twice).
    """
    frames: list[pd.DataFrame] = []
    for p in parts:
        frames += [p] if isinstance(p, pd.DataFrame) else list(p)
    frames = [f for f in frames if len(f)]
    if not frames:
        return frame([])
    out = pd.concat(frames, ignore_index=True)
    dup = out.duplicated(KEY, keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise ResultsStructureError(f"the statistic {first['stat_name']} of {first['table']} {first['variable']} "
                                    "is made twice")  # fmt: skip
    return out
