"""What a display declaration is made of: cells, columns, and what a blinded or shareable run does with it.

A :class:`Display` says how one table of the results data set is shown and disclosed: its columns
(each a heading and a cell that combines statistics of a row, such as ``k/n (p%; lower to upper)``),
or a column per arm; its footnotes; what a blinded run withholds and what a shareable run withholds
or coarsens; and, for the disclosure audit, whom each of its counts counts (:class:`Count`). The
declarations themselves are in :mod:`advance_trial.output.displays`; :func:`render` lays a table out
by its declaration, and :mod:`advance_trial.output.disclosure` reads the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.formats import (
    STATE_LABELS,
    Labels,
    count,
    estimate,
    group_labels,
    median,
    proportion,
    share,
)
from advance_trial.results.layout import Layout, records

#: One condition of a disclosure cell: dimension, levels, and whether the levels are excluded.
Cond = tuple[str, tuple[str, ...], bool]
Record = Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    """What a cell is formatted with: the config, its labels, and the whole computed table."""

    cfg: Config
    labels: Labels
    frame: pd.DataFrame

    @cached_property
    def group_words(self) -> dict[str, str]:
        """The therapy groups of a table broken down ``by`` group, as the reader knows them
        (:func:`~advance_trial.output.formats.group_labels`), worded once per table."""
        if "by" not in self.frame or "level" not in self.frame:
            return {}
        by, level = self.frame["by"].astype(str), self.frame["level"]
        return group_labels(self.cfg, [str(g) for g in level[by == "group"]])

    def digits(self, which: str | int) -> int:
        """``"digits"`` (estimates), ``"percent"`` (percentages) or a number of decimals."""
        if isinstance(which, int):
            return which
        return self.cfg.reporting.percent_digits if which == "percent" else self.cfg.reporting.digits


Cell = Callable[[Record, Context], str]


@dataclass(frozen=True)
class Count:
    """``n``: a count as an integer (a suppressed one as it is)."""

    stat: str

    def __call__(self, r: Record, x: Context) -> str:
        return count(r[self.stat])


@dataclass(frozen=True)
class Proportion:
    """``k/n (p%; lower to upper)``."""

    k: str
    n: str
    p: str = "proportion"
    lower: str = "ci_lower"
    upper: str = "ci_upper"

    def __call__(self, r: Record, x: Context) -> str:
        return proportion(r[self.k], r[self.n], r[self.p], r[self.lower], r[self.upper], x.digits("percent"))


@dataclass(frozen=True)
class Share:
    """``k (p%)``."""

    k: str
    p: str = "proportion"

    def __call__(self, r: Record, x: Context) -> str:
        return share(r[self.k], r[self.p], x.digits("percent"))


@dataclass(frozen=True)
class Estimate:
    """``x (lower to upper)``, times ``scale`` (100: percentage points)."""

    value: str = "estimate"
    lower: str = "ci_lower"
    upper: str = "ci_upper"
    digits: str | int = "digits"
    scale: float = 1.0

    def __call__(self, r: Record, x: Context) -> str:
        return estimate(r[self.value], r[self.lower], r[self.upper], x.digits(self.digits), self.scale)


@dataclass(frozen=True)
class Median:
    """``m [q1, q3]``."""

    m: str
    q1: str
    q3: str
    digits: int = 1

    def __call__(self, r: Record, x: Context) -> str:
        return median(r[self.m], r[self.q1], r[self.q3], self.digits)


@dataclass(frozen=True)
class Label:
    """A value named by the config's labels (``site``, ``arm``, ``timepoint``, ``outcome``, ``threshold``,
    ``category``) or by a vocabulary (``state``)."""

    column: str
    of: str

    def __call__(self, r: Record, x: Context) -> str:
        v, L = r[self.column], x.labels
        if self.of == "site":
            return L.site(v)
        if self.of == "arm":
            return L.arm(v)
        if self.of == "timepoint":
            return L.timepoint(v)
        words = {"outcome": L.outcomes, "threshold": L.thresholds, "category": L.categories,
                 "state": STATE_LABELS}[self.of]  # fmt: skip
        return words.get(str(v), str(v))


@dataclass(frozen=True)
class Subgroup:
    """A row's breakdown by site or cycle (``All sites`` for the margin)."""

    def __call__(self, r: Record, x: Context) -> str:
        return x.labels.subgroup(r["site"], r["cycle"])


@dataclass(frozen=True)
class Result:
    """An estimate with its interval, or why there is none (``status`` and ``reason``)."""

    def __call__(self, r: Record, x: Context) -> str:
        if str(r["status"]) != "estimated":
            reason = r["reason"]
            return f"not estimable: {reason}" if isinstance(reason, str) and reason else "not estimable"
        return estimate(r["estimate"], r["ci_lower"], r["ci_upper"], x.digits("digits"))


@dataclass(frozen=True)
class Column:
    """A display column: its heading (or a function of the context) and its cell; ``shown`` decides
    whether the table has it."""

    head: str | Callable[[Context], str]
    cell: Cell
    shown: Callable[[Context], bool] | None = None


@dataclass(frozen=True)
class ByArm:
    """A column per arm (in the table's arm order, which blinding sets), rows identified by ``rows``;
    ``size`` heads each arm's column ``Arm (n=N)`` with the count of that name (of the rows ``sized``)."""

    rows: tuple[Column, ...]
    cell: Cell
    size: str | None = None
    sized: Callable[[Record], bool] | None = None


@dataclass(frozen=True)
class Blinded:
    """What a blinded run shows of a table: nothing (``withheld``), or its rows as ``rows`` keeps them,
    without the columns ``drop`` (both where ``when`` says the table compares arms), with ``note`` added
    to its footnotes."""

    withheld: bool = False
    rows: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    drop: tuple[str, ...] = ()
    note: str = ""
    when: Callable[[pd.DataFrame], bool] | None = None


@dataclass(frozen=True)
class Shareable:
    """What a shareable run shows of a table.

    Attributes
    ----------
    withheld : bool
        Not shared at all (listings of men, small cells no audit covers).
    coarse : callable, optional
        The rows kept (the breakdowns a shareable output set keeps).
    recode : callable, optional
        ``(config, frame, min_cell) -> frame``: free text as the config's coded categories.
    after : callable, optional
        ``(frame, tables) -> frame`` once counts are suppressed: figures read from a suppressed row of
        another table withheld.
    together : tuple, optional
        ``(key column, columns)``: the columns withheld on every row sharing the key with a row that
        has a suppressed count (a figure of the whole group, solvable for the count).
    """

    withheld: bool = False
    coarse: Callable[[pd.DataFrame], pd.Series] | None = None
    recode: Callable[[Config, pd.DataFrame, int], pd.DataFrame] | None = None
    after: Callable[[pd.DataFrame, Mapping[str, pd.DataFrame]], pd.DataFrame] | None = None
    together: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Row:
    """One row of a table as the results data set holds it: its breakdowns (name -> level), variable and
    level, and its statistics (name -> value); ``index`` is its row in the display table."""

    index: int
    groups: Mapping[str, Any]
    variable: Any
    level: Any
    stats: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.stats[name] if name in self.stats else self.groups[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.stats.get(name, self.groups.get(name, default))


@dataclass(frozen=True)
class Reader:
    """What a reader holds beside a row: every table's rows, and the trial's arms and sites."""

    rows: Mapping[str, list[Row]]
    arms: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    populations: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Knowledge:
    """What a reader knows of a table's counts beyond their values: complete levels of a population's
    dimension, combinations no member can have, and populations linked to others (see
    :class:`advance_trial.output.sdc.Structure`)."""

    levels: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    impossible: tuple[tuple[str, Mapping[str, str]], ...] = ()
    links: tuple[tuple[tuple[str, tuple[Cond, ...]], tuple[str, tuple[Cond, ...]], bool], ...] = ()


@dataclass(frozen=True)
class Counted:
    """A count of a row for the disclosure audit: ``stat`` (or ``a-b-c``, a difference a reader forms from
    the row's counts), the population it counts and its conditions; ``None`` from ``cell`` when the row
    has no such count."""

    stat: str
    cell: Callable[[Row, Reader], tuple[str, tuple[Cond, ...]] | None]
    breakdowns: bool = True  # the row's arm, site and cycle are conditions too


Notes = tuple[str, ...] | Callable[[Config, pd.DataFrame], tuple[str, ...]]


@dataclass(frozen=True)
class Shape:
    """The contract table (CSV, unrounded) a display is: a pivot of its results rows.

    Attributes
    ----------
    title : str or callable
        Its heading (``config -> words`` where the config words it: men *enrolled* in a single-arm study).
    columns : tuple of str, or callable
        Its CSV columns, in order (``config -> columns`` where the config adds some).
    layout : Layout, optional
        Which columns are breakdowns, the variable, its level and the interval method
        (:func:`advance_trial.results.layout.pivot_rows`); none for a listing of men, kept as the analysis
        gave it.
    notes : tuple of str, or callable
        Its footnotes: static text, or ``(config, table) -> notes``.
    dtypes : mapping
        Column -> type where the values alone do not say it (counts of a table that may have none).
    markdown : bool
        Whether a Markdown version is written (listings of men are for checking by hand in CSV).
    notes_from : str, optional
        Another table of the same step whose notes it carries (the forecast's bands, the forecast's).
    """

    title: str | Callable[[Config], str]
    columns: tuple[str, ...] | Callable[[Config], tuple[str, ...]] = ()
    layout: Layout | None = None
    notes: Notes = ()
    dtypes: Mapping[str, Any] = field(default_factory=dict)
    markdown: bool = True
    notes_from: str | None = None

    def heading(self, cfg: Config) -> str:
        """Its title for this config."""
        return self.title(cfg) if callable(self.title) else self.title

    def columns_for(self, cfg: Config) -> tuple[str, ...]:
        """Its CSV columns for this config."""
        return self.columns(cfg) if callable(self.columns) else self.columns

    def notes_for(self, cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
        """Its footnotes for this config and table."""
        return self.notes(cfg, df) if callable(self.notes) else self.notes


@dataclass(frozen=True)
class Display:
    """One display table, declared.

    Attributes
    ----------
    columns : tuple of Column
        Its columns, a row per row of the computed table; or
    by_arm : ByArm, optional
        rows by some columns and a column per arm; or
    build : callable, optional
        ``(context) -> frame`` for a table whose rows the config declares (Table 1, the plan's tables).
    keys : int
        How many leading columns identify a row (what a table split by column groups repeats).
    footnotes : tuple of str, or callable
        Static text, or ``(config, frame) -> notes``.
    blinded, shareable : Blinded, Shareable
        What a blinded and a shareable run show of it.
    per_man : bool
        A listing of men, not of statistics.
    counts : tuple of Counted
        Its counts, for the disclosure audit.
    knows : callable, optional
        ``(reader, its rows) -> Knowledge``: what a reader of its counts knows beyond them.
    complete : tuple of str
        Breakdowns whose levels in this table are all the trial's (its arms and sites).
    shape : Shape, optional
        The contract table it is, as a pivot of its results rows (title, CSV columns, layout, notes); none
        for a table made otherwise (the definitive trial's planning tables, the disclosure audit).
    """

    columns: tuple[Column, ...] = ()
    by_arm: ByArm | None = None
    build: Callable[[Context], pd.DataFrame] | None = None
    keys: int = 1
    footnotes: Notes = ()
    blinded: Blinded = Blinded()
    shareable: Shareable = Shareable()
    per_man: bool = False
    counts: tuple[Counted, ...] = ()
    knows: Callable[[Reader, list[Row]], Knowledge] | None = None
    complete: tuple[str, ...] = ()
    shape: Shape | None = None

    @property
    def laid_out(self) -> bool:
        """Whether the declaration lays the table out (else its cells are shown as computed)."""
        return bool(self.columns) or self.by_arm is not None or self.build is not None

    def notes(self, cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
        """Its footnotes for this config and table."""
        return self.footnotes(cfg, df) if callable(self.footnotes) else self.footnotes


def render(decl: Display, x: Context) -> pd.DataFrame:
    """The display frame of a computed table by its declaration: labelled, every cell text."""
    if decl.build is not None:
        return decl.build(x)
    rows = cast("list[Record]", list(records(x.frame)))
    if decl.by_arm is not None:
        return _by_arm(decl.by_arm, rows, x)
    cols = [c for c in decl.columns if c.shown is None or c.shown(x)]
    return pd.DataFrame({_head(c, x): [c.cell(r, x) for r in rows] for c in cols})


def _head(c: Column, x: Context) -> str:
    return c.head(x) if callable(c.head) else c.head


def _by_arm(spec: ByArm, records: Iterable[Record], x: Context) -> pd.DataFrame:
    L = x.labels
    records = list(records)
    arms = list(dict.fromkeys(str(r["arm"]) for r in records))
    heads = [_head(c, x) for c in spec.rows]
    out: dict[tuple[str, ...], dict[str, str]] = {}
    for r in records:
        shown = [c.cell(r, x) for c in spec.rows]
        entry = out.setdefault(tuple(shown), dict(zip(heads, shown, strict=True)))
        entry[L.arm(r["arm"])] = spec.cell(r, x)
    frame = pd.DataFrame(list(out.values()), columns=[*heads, *(L.arm(a) for a in arms)]).fillna("")
    if spec.size is None:
        return frame
    sizes = {L.arm(r["arm"]): count(r[spec.size]) for r in records if spec.sized is None or spec.sized(r)}
    return frame.rename(columns={a: f"{a} (n={n})" for a, n in sizes.items()})
