"""The counts of a run's output set as cells of linked populations (for :mod:`advance_trial.output.sdc`).

The counts are read from the rows of the results data set (:mod:`advance_trial.output.ard`): each
row's breakdowns, variable, level and statistics. Whom a count counts is declared beside each display
(:mod:`advance_trial.output.displays`, ``counts``): a breakdown named ``arm``, ``site`` or ``cycle`` is
a condition of every count of its row, the declaration adds the population and the rest. The mapping
reads only what the tables show, so the same function describes the tables a run is about to write
(with their true counts) and the CSV files a reader holds (with suppressed counts as
:data:`SUPPRESSED`): that is what lets ``disclosure-audit OUTDIR`` prove a folder safe without the
data. Nothing here names a table.

Populations and their dimensions:

- ``men`` (randomised, or enrolled): ``site``, ``cycle``, ``arm``, ``state:<timepoint>`` (the
  follow-up states), ``met:<threshold>`` and ``any_session`` (dose), ``why_not`` (the coded reason he
  never attended) and ``discontinued``;
- ``screened``: ``site``, ``screen`` (``inel:<reason>``, ``declined``, ``other``, ``randomised``),
  linked to ``men`` site by site;
- ``partners`` (consented; ``arm``, ``site``, ``cycle``, ``state:<timepoint>``) and
  ``partners_identified`` (``arm``, ``site``, ``contacted``);
- ``analysed:<outcome>:<timepoint>:complete_cases`` (the men in every complete-case analysis of the
  outcome, and in the CONSORT box) and ``...:imputed``, by ``arm``: never more in an arm than allocated;
- ``baseline:<variable>`` (Table 1): ``arm`` and ``value`` (a level, ``known`` for a continuous
  variable, or ``missing``), as many men in each arm as were randomised to it;
- ``harms:men`` and ``harms:partners``: ``arm`` and ``ev:<category>`` (``yes``/``no``; ``any``,
  ``any_serious`` and ``any_related`` beside the config's categories), linked to ``men`` (and to
  ``partners_identified``) arm by arm; a reader knows that an event of any category is an event, and
  that a man with an event had one of some category.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from advance_trial.output.ard import MAX_GROUPS, ResultsData, results_data
from advance_trial.output.display_rules import ANALYSED, STATES, cond
from advance_trial.output.display_spec import Cond, Reader, Row
from advance_trial.output.displays import DISPLAYS
from advance_trial.output.sdc import Cell, Link, Structure
from advance_trial.tabulate import ALL

SUPPRESSED = "[c]"
#: Breakdowns that are dimensions of the populations counted: a condition of every count of their row.
DIMENSIONS = ("arm", "site", "cycle")
#: Populations whose arms and sites are the trial's (a table declared ``complete`` lists them all).
TRIAL_LEVELS = {"arm": ("men", "partners", "partners_identified"),
                "site": ("men", "partners", "partners_identified", "screened")}  # fmt: skip


def count_value(v: Any) -> int | None:
    """A count as a table or a CSV file holds it; ``None`` for a suppressed one."""
    if isinstance(v, str):
        v = v.strip()
        if v in (SUPPRESSED, ""):
            return None
        return int(float(v))
    if v is None or pd.isna(v):
        return None
    return int(v)


def _key(v: Any) -> Any:
    """A value as part of a row's key: every missing value alike (NaN is not equal to itself)."""
    return None if v is None or (isinstance(v, float) and v != v) else v


def rows_of(results: ResultsData, table: str) -> list[Row]:
    """A table's rows as the results data set holds them, in the display table's order."""
    long = results.long[results.long["table"] == table]
    rows: dict[tuple[Any, ...], Row] = {}
    for r in long.itertuples(index=False):
        key = tuple(_key(getattr(r, f"group{k}")) for k in range(1, MAX_GROUPS + 1))
        key += tuple(_key(getattr(r, f"group{k}_level")) for k in range(1, MAX_GROUPS + 1))
        key += (_key(r.variable), _key(r.variable_level))
        row = rows.get(key)
        if row is None:
            groups = {str(getattr(r, f"group{k}")): getattr(r, f"group{k}_level") for k in range(1, MAX_GROUPS + 1)
                      if _key(getattr(r, f"group{k}")) is not None}  # fmt: skip
            row = rows[key] = Row(len(rows), groups, r.variable, r.variable_level, {})
        row.stats[r.stat_name] = r.stat  # type: ignore[index]
    return list(rows.values())


def _base(row: Row) -> tuple[Cond, ...]:
    out: tuple[Cond, ...] = ()
    for dim in DIMENSIONS:
        out += cond(dim, row.groups[dim]) if dim in row.groups else ()
    return out


def _cells(name: str, rows: list[Row], reader: Reader) -> list[Cell]:
    cells: list[Cell] = []
    for row in rows:
        for counted in DISPLAYS[name].counts:
            got = counted.cell(row, reader)
            if got is None:
                continue
            pop, where = got
            where = (_base(row) if counted.breakdowns else ()) + where
            if "-" in counted.stat:  # a difference of the row's shown counts, known when all of them are
                values = [count_value(row.stats[p]) for p in counted.stat.split("-")]
                whole = [v for v in values if v is not None]
                value = whole[0] - sum(whole[1:]) if len(whole) == len(values) else None
                parts = tuple((name, row.index, p) for p in counted.stat.split("-"))
                cells.append(Cell(name, row.index, counted.stat, pop, tuple(sorted(where)), value, True, parts))
            else:
                cells.append(Cell(name, row.index, counted.stat, pop, tuple(sorted(where)),
                                  count_value(row.stats[counted.stat])))  # fmt: skip
    return cells


def output_structure(tables: Mapping[str, pd.DataFrame] | ResultsData) -> Structure:
    """The cells of an output set (table name -> frame, from a run or read from its CSV files; or the
    results data set of those tables)."""
    declared = [n for n, d in DISPLAYS.items() if d.counts or d.knows or d.complete]
    if not isinstance(tables, ResultsData):  # only the tables with counts: the others are no cells
        tables = results_data({n: f for n, f in tables.items() if n in declared})
    results = tables
    counted = [n for n in declared if n in results.columns]
    rows = {n: rows_of(results, n) for n in counted}
    levels: dict[tuple[str, str], tuple[str, ...]] = {}
    trial: dict[str, tuple[str, ...]] = {}
    for n in counted:
        for dim in DISPLAYS[n].complete:
            if rows[n]:
                trial[dim] = tuple(dict.fromkeys(str(r.groups[dim]) for r in rows[n] if str(r.groups[dim]) != ALL))
    for dim, pops in TRIAL_LEVELS.items():
        if dim in trial:
            levels |= {(pop, dim): trial[dim] for pop in pops}
    reader = Reader(rows, trial.get("arm", ()), trial.get("site", ()))
    cells = [c for n in counted for c in _cells(n, rows[n], reader)]
    reader = Reader(rows, reader.arms, reader.sites, frozenset(c.population for c in cells))

    dims = {d for c in cells for d, _, _ in c.where}
    for d in dims:  # a man's follow-up state is one of the states; a threshold is met or not
        if d.startswith("state:"):
            levels[("men", d)] = STATES
        if d.startswith("met:"):
            levels[("men", d)] = ("met", "not")
    for pop in ("men", "partners"):
        cycles = {lv for c in cells if c.population == pop for d, lvs, _ in c.where if d == "cycle" for lv in lvs}
        if cycles:
            levels[(pop, "cycle")] = tuple(sorted(cycles))
    impossible: list[tuple[str, Mapping[str, str]]] = []
    levels[("men", "any_session")] = ("yes", "no")
    if "discontinued" in dims:
        levels[("men", "discontinued")] = ("yes", "no")
        impossible.append(("men", {"discontinued": "yes", "any_session": "no"}))  # he started, then stopped
    reasons = {lv for c in cells for d, lvs, _ in c.where if d == "why_not" for lv in lvs}
    impossible += [("men", {"why_not": r, "any_session": "yes"}) for r in sorted(reasons)]  # he never came
    levels[("partners_identified", "contacted")] = ("yes", "no")

    links: list[Link] = []
    for n in counted:
        knows = DISPLAYS[n].knows
        if knows is not None:
            known = knows(reader, rows[n])
            levels |= known.levels
            impossible += known.impossible
            links += [Link(left, right, equal) for left, right, equal in known.links]
    populations = reader.populations
    if "screened" in populations and "men" in populations:  # the men randomised at a site were screened there
        for s in (*reader.sites, ALL):
            links.append(Link(("screened", cond("site", s) + cond("screen", "randomised")), ("men", cond("site", s))))
    for pop in populations:  # no more men analysed in an arm than were allocated to it
        if pop.startswith(ANALYSED):
            levels[(pop, "arm")] = reader.arms
            for a in (*reader.arms, ALL):
                links.append(Link((pop, cond("arm", a)), ("men", cond("arm", a)), equal=False))
    return Structure(tuple(cells), tuple(links), levels, tuple(impossible))
