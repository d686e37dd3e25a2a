"""The counts of a run's output set as cells of linked populations (for :mod:`advance_trial.output.sdc`).

Each output table's count columns are mapped to the men (or screened men, partners, men analysed)
they count. The mapping reads only what the tables show, so the same function describes the
tables a run is about to write (with their true counts) and the CSV files a reader holds (with
suppressed counts as :data:`SUPPRESSED`): that is what lets ``disclosure-audit OUTDIR`` prove a
folder safe without the data.

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

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from advance_trial.output.sdc import Cell, Cond, Link, Structure
from advance_trial.retention import STATES
from advance_trial.tabulate import ALL

SUPPRESSED = "[c]"
ELIGIBLE = ("declined", "other", "randomised")


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


def _c(dim: str, level: Any, exclude: bool = False) -> tuple[Cond, ...]:
    """A condition on ``dim``, or none when the level is ``all``."""
    level = str(level)
    return () if level == ALL else ((dim, (level,), exclude),)


class _Builder:
    def __init__(self) -> None:
        self.cells: list[Cell] = []
        self.links: list[Link] = []

    def add(self, table: str, row: int, column: str, pop: str, where: tuple[Cond, ...], value: Any,
            implied: bool = False, parts: tuple[tuple[str, int, str], ...] = ()) -> None:  # fmt: skip
        v = value if implied else count_value(value)
        self.cells.append(Cell(table, row, column, pop, tuple(sorted(where)), v, implied, parts))

    def implied(self, table: str, row: int, column: str, pop: str, where: tuple[Cond, ...],
                parts: list[Any]) -> None:  # fmt: skip
        """A difference of the row's shown counts (``column`` names them: ``a-b-c`` is a minus b minus c),
        known when all of them are."""
        values = [count_value(p) for p in parts]
        whole = [v for v in values if v is not None]
        value = whole[0] - sum(whole[1:]) if len(whole) == len(values) else None
        keys = tuple((table, row, part) for part in column.split("-"))
        self.add(table, row, column, pop, where, value, implied=True, parts=keys)


def _rows(df: pd.DataFrame) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(df.to_dict("records")))


def _retention_row(b: _Builder, name: str, i: int, r: dict[str, Any], base: tuple[Cond, ...], pop: str) -> None:
    """A row of ``retention`` or ``partner_retention``: randomised, retained, outside the window, and the
    two counts a reader forms from them."""
    st = f"state:{r['timepoint']}"
    b.add(name, i, "n_randomised", pop, base, r["n_randomised"])
    b.add(name, i, "n_retained", pop, base + _c(st, "retained"), r["n_retained"])
    b.add(name, i, "n_outside_window", pop, base + _c(st, "outside_window"), r["n_outside_window"])
    b.implied(name, i, "n_randomised-n_retained", pop, base + _c(st, "retained", True),
              [r["n_randomised"], r["n_retained"]])  # fmt: skip
    b.implied(name, i, "n_randomised-n_retained-n_outside_window", pop,
              base + ((st, ("retained", "outside_window"), True),),
              [r["n_randomised"], r["n_retained"], r["n_outside_window"]])  # fmt: skip


def _men(b: _Builder, name: str, df: pd.DataFrame) -> None:
    """allocation, retention, retention_reasons, retention_difference, dose."""
    for i, r in _rows(df):
        base = _c("arm", r.get("arm", ALL)) + _c("site", r.get("site", ALL)) + _c("cycle", r.get("cycle", ALL))
        if name == "allocation":
            b.add(name, i, "n", "men", base, r["n"])
        elif name == "retention":
            _retention_row(b, name, i, r, base, "men")
        elif name == "retention_reasons":
            b.add(name, i, "n", "men", base + _c(f"state:{r['timepoint']}", r["state"]), r["n"])
            b.add(name, i, "n_randomised", "men", base, r["n_randomised"])
        elif name == "retention_difference":
            st = f"state:{r['timepoint']}"
            for arm, n, k in ((r["arm"], "n_arm", "n_retained_arm"),
                              (r["comparator"], "n_comparator", "n_retained_comparator")):  # fmt: skip
                b.add(name, i, n, "men", _c("arm", arm), r[n])
                b.add(name, i, k, "men", _c("arm", arm) + _c(st, "retained"), r[k])
        elif name == "dose":
            met = f"met:{r['threshold']}"
            b.add(name, i, "n", "men", base, r["n"])
            b.add(name, i, "n_met", "men", base + _c(met, "met"), r["n_met"])
            b.implied(name, i, "n-n_met", "men", base + _c(met, "not"), [r["n"], r["n_met"]])


def _dose_summary(b: _Builder, df: pd.DataFrame, arm: str | None) -> None:
    for i, r in _rows(df):
        if r["by"] in ("all", "site", "cycle") and arm is not None:
            level = r["level"] if r["by"] != "all" else ALL
            b.add("dose_summary", i, "n", "men", _c("arm", arm) + _c(str(r["by"]).replace("all", "site"), level),
                  r["n"])  # fmt: skip


def _consort(b: _Builder, df: pd.DataFrame) -> list[str]:
    """CONSORT stages; returns the screening levels (``inel:<reason>`` first)."""
    rows = _rows(df)
    reasons = [str(r["detail"]) for _, r in rows if r["stage"] == "excluded.not_eligible" and str(r["detail"] or "")]
    inel = [f"inel:{x}" for x in reasons] or ["inel"]
    for i, r in rows:
        stage, arm, detail = r["stage"], str(r["arm"]), str(r["detail"] if isinstance(r["detail"], str) else "")
        where: tuple[Cond, ...] | None = None
        pop = "screened"
        if stage == "assessed":
            where = ()
        elif stage == "excluded":
            where = (("screen", ("randomised",), True),)
        elif stage == "excluded.not_eligible":
            where = (("screen", (f"inel:{detail}",), False),) if detail else (("screen", tuple(inel), False),)
        elif stage == "excluded.declined":
            where = (("screen", ("declined",), False),)
        elif stage == "excluded.other":
            where = (("screen", ("other",), False),)
        elif stage in ("randomised", "enrolled", "allocated"):
            pop, where = "men", _c("arm", arm)
        elif stage == "received_any_session":
            pop, where = "men", _c("arm", arm) + _c("any_session", "yes")
        elif stage == "not_received":
            pop, where = "men", _c("arm", arm) + _c("any_session", "no") + (_c("why_not", detail) if detail else ())
        elif stage == "discontinued":
            pop, where = "men", _c("arm", arm) + _c("discontinued", "yes")
        elif stage == "met_threshold":
            pop, where = "men", _c("arm", arm) + _c(f"met:{detail.split(':', 1)[0]}", "met")
        elif stage in ("followed_up", "not_followed_up"):
            tp, _, state = detail.partition(": ")
            pop, where = "men", _c("arm", arm) + _c(f"state:{tp}", state.replace(" ", "_") or "retained")
        elif stage == "analysed":
            tp, _, outcome = detail.partition(": ")
            pop, where = analysed_population(outcome, tp, "complete_cases"), _c("arm", arm)
        if where is not None:
            b.add("consort", i, "n", pop, where, r["n"])
    return [*inel, *ELIGIBLE]


def _recruitment(b: _Builder, df: pd.DataFrame) -> None:
    for i, r in _rows(df):
        site = _c("site", r["site"])
        b.add("recruitment", i, "n_screened", "screened", site, r["n_screened"])
        b.add("recruitment", i, "n_eligible", "screened", site + (("screen", ELIGIBLE, False),), r["n_eligible"])
        b.add("recruitment", i, "n_randomised", "screened", site + _c("screen", "randomised"), r["n_randomised"])
        b.implied("recruitment", i, "n_screened-n_eligible", "screened", site + (("screen", ELIGIBLE, True),),
                  [r["n_screened"], r["n_eligible"]])  # fmt: skip
        b.implied("recruitment", i, "n_eligible-n_randomised", "screened",
                  site + (("screen", ("declined", "other"), False),), [r["n_eligible"], r["n_randomised"]])  # fmt: skip


def _partners(b: _Builder, name: str, df: pd.DataFrame) -> None:
    for i, r in _rows(df):
        base = _c("arm", r.get("arm", ALL)) + _c("site", r.get("site", ALL)) + _c("cycle", r.get("cycle", ALL))
        if name == "partner_retention":
            _retention_row(b, name, i, r, base, "partners")
        else:
            b.add(name, i, "n_partners", "partners_identified", base, r["n_partners"])
            b.add(name, i, "n_contacted", "partners_identified", base + _c("contacted", "yes"), r["n_contacted"])
            b.implied(name, i, "n_partners-n_contacted", "partners_identified", base + _c("contacted", "no"),
                      [r["n_partners"], r["n_contacted"]])  # fmt: skip


def _outcomes(b: _Builder, df: pd.DataFrame) -> None:
    for i, r in _rows(df):
        pop = analysed_population(str(r["outcome"]), str(r["timepoint"]), str(r["analysis"]))
        b.add("outcomes", i, "n_analysed", pop, (), r["n_analysed"])
        comparison = str(r.get("comparison", ""))
        first, _, second = comparison.partition(" vs ")
        if "n_intervention" in r and second:
            b.add("outcomes", i, "n_intervention", pop, _c("arm", first), r["n_intervention"])
            b.add("outcomes", i, "n_control", pop, _c("arm", second), r["n_control"])


def _level(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


def _baseline(b: _Builder, df: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Table 1's counts; returns each variable's values (its levels, or ``known``, and ``missing``)."""
    values: dict[str, list[str]] = {}
    for i, r in _rows(df):
        var, level = str(r["variable"]), _level(r["level"])
        pop, arm = f"baseline:{var}", _c("arm", r["arm"])
        seen = values.setdefault(var, [])
        known = (("value", ("missing",), True),)
        if level == "missing":
            b.add("baseline", i, "n", pop, arm, r["n"])
            b.add("baseline", i, "n_level", pop, arm + _c("value", "missing"), r["n_level"])
        elif level == "":
            seen += [] if "known" in seen else ["known"]
            b.add("baseline", i, "n", pop, arm + known, r["n"])
        else:
            seen += [] if level in seen else [level]
            b.add("baseline", i, "n", pop, arm + known, r["n"])
            b.add("baseline", i, "n_level", pop, arm + _c("value", level), r["n_level"])
    return {var: (*levels, "missing") for var, levels in values.items()}


HARMS_ANY = "any"


def _harms(b: _Builder, df: pd.DataFrame) -> dict[str, list[str]]:
    """Harms' counts; returns each population's categories."""
    cats: dict[str, list[str]] = {}
    for i, r in _rows(df):
        pop, cat = f"harms:{r['about']}", str(r["category"])
        cats.setdefault(pop, [])
        cats[pop] += [] if cat in cats[pop] else [cat]
        arm, ev = _c("arm", r["arm"]), f"ev:{cat}"
        b.add("harms", i, "n", pop, arm, r["n"])
        b.add("harms", i, "n_with_event", pop, arm + _c(ev, "yes"), r["n_with_event"])
        b.implied("harms", i, "n-n_with_event", pop, arm + _c(ev, "no"), [r["n"], r["n_with_event"]])
    return cats


def _harms_logic(pop: str, cats: list[str]) -> list[tuple[str, Mapping[str, str]]]:
    """What a reader knows of the categories: an event of any category (or a serious or related one) is an
    event; a man with an event had one of some category."""
    if HARMS_ANY not in cats:
        return []
    out: list[tuple[str, Mapping[str, str]]] = [(pop, {f"ev:{HARMS_ANY}": "no", f"ev:{c}": "yes"})
                                                for c in cats if c != HARMS_ANY]  # fmt: skip
    plain = [c for c in cats if c not in (HARMS_ANY, "any_serious", "any_related")]
    if plain:
        out.append((pop, {f"ev:{HARMS_ANY}": "yes", **{f"ev:{c}": "no" for c in plain}}))
    return out


def analysed_population(outcome: str, timepoint: str, analysis: str) -> str:
    """The men an analysis uses: every complete-case analysis of an outcome (and the CONSORT box that
    counts them) the same men, multiple imputation all the men randomised."""
    from advance_trial.vocabulary import ANALYSES

    known = ANALYSES.get(analysis)
    which = "complete_cases" if known is None or known.complete_cases else "imputed"
    return f"analysed:{outcome}:{timepoint}:{which}"


def _threshold_needs_attendance(rule: str) -> bool:
    m = re.search(r"(>=|>)\s*(-?[0-9.]+)\s*$", rule)
    return bool(m) and (m.group(1) == ">" and float(m.group(2)) >= 0 or float(m.group(2)) > 0)  # type: ignore[union-attr]


def output_structure(tables: Mapping[str, pd.DataFrame]) -> Structure:
    """The cells of an output set (table name -> frame, from a run or read from its CSV files)."""
    b = _Builder()
    for name in ("allocation", "retention", "retention_reasons", "retention_difference", "dose"):
        if name in tables:
            _men(b, name, tables[name])
    dose_arm = None
    if "dose" in tables and len(tables["dose"]):
        dose_arm = str(tables["dose"]["arm"].iloc[0])
    if "dose_summary" in tables:
        _dose_summary(b, tables["dose_summary"], dose_arm)
    screen_levels = _consort(b, tables["consort"]) if "consort" in tables else None
    if "recruitment" in tables:
        _recruitment(b, tables["recruitment"])
    for name in ("partner_retention", "partner_contact"):
        if name in tables:
            _partners(b, name, tables[name])
    if "outcomes" in tables:
        _outcomes(b, tables["outcomes"])
    baseline = _baseline(b, tables["baseline"]) if "baseline" in tables else {}
    harms = _harms(b, tables["harms"]) if "harms" in tables else {}

    levels: dict[tuple[str, str], tuple[str, ...]] = {}
    alloc = tables.get("allocation")
    arms: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    if alloc is not None and len(alloc):
        arms = tuple(dict.fromkeys(str(a) for a in alloc["arm"] if str(a) != ALL))
        sites = tuple(dict.fromkeys(str(s) for s in alloc["site"] if str(s) != ALL))
        for pop in ("men", "partners", "partners_identified"):
            levels[(pop, "arm")], levels[(pop, "site")] = arms, sites
        levels[("screened", "site")] = sites
    dims = {d for c in b.cells for d, _, _ in c.where}
    for d in dims:
        if d.startswith("state:"):
            levels[("men", d)] = STATES
        if d.startswith("met:"):
            levels[("men", d)] = ("met", "not")
    for pop in ("men", "partners"):
        cycles = {lv for c in b.cells if c.population == pop for d, lvs, _ in c.where if d == "cycle" for lv in lvs}
        if cycles:
            levels[(pop, "cycle")] = tuple(sorted(cycles))
    impossible: list[tuple[str, Mapping[str, str]]] = []
    levels[("men", "any_session")] = ("yes", "no")
    if any(d == "discontinued" for c in b.cells for d, _, _ in c.where):
        levels[("men", "discontinued")] = ("yes", "no")
        impossible.append(("men", {"discontinued": "yes", "any_session": "no"}))  # he started, then stopped
    reasons = {lv for c in b.cells for d, lvs, _ in c.where if d == "why_not" for lv in lvs}
    impossible += [("men", {"why_not": r, "any_session": "yes"}) for r in sorted(reasons)]  # he never came
    levels[("partners_identified", "contacted")] = ("yes", "no")
    if screen_levels is not None:
        levels[("screened", "screen")] = tuple(screen_levels)
    if "dose" in tables:
        for th, rule in dict(zip(tables["dose"]["threshold"], tables["dose"]["rule"], strict=True)).items():
            if _threshold_needs_attendance(str(rule)):
                impossible.append(("men", {f"met:{th}": "met", "any_session": "no"}))

    links: list[Link] = []
    populations = {c.population for c in b.cells}
    for var, values in baseline.items():
        pop = f"baseline:{var}"
        levels[(pop, "value")] = values
        if arms:
            levels[(pop, "arm")] = arms
        links += [Link((pop, _c("arm", a)), ("men", _c("arm", a))) for a in (*arms, ALL) if "men" in populations]
    for pop, cats in harms.items():
        if arms:
            levels[(pop, "arm")] = arms
        for c in cats:
            levels[(pop, f"ev:{c}")] = ("yes", "no")
        impossible += _harms_logic(pop, cats)
        to = "men" if pop == "harms:men" else "partners_identified"
        links += [Link((pop, _c("arm", a)), (to, _c("arm", a))) for a in (*arms, ALL) if to in populations]
    if "screened" in populations and "men" in populations:
        for s in (*sites, ALL):
            links.append(Link(("screened", _c("site", s) + _c("screen", "randomised")), ("men", _c("site", s))))
    for pop in populations:
        if pop.startswith("analysed:"):
            levels[(pop, "arm")] = arms
            for a in (*arms, ALL):
                links.append(Link((pop, _c("arm", a)), ("men", _c("arm", a)), equal=False))
    return Structure(tuple(b.cells), tuple(links), levels, tuple(impossible))
