"""The disclosure side of the display declarations (:mod:`advance_trial.output.displays`): what a blinded
or shareable run keeps of a table's rows, and whom each of its counts counts.

Counts are read from the results data set's rows (:class:`~advance_trial.output.display_spec.Row`: the
breakdowns, the variable and its level, the statistics). A breakdown named ``arm``, ``site`` or
``cycle`` is a condition of every count of its row (:mod:`advance_trial.output.disclosure_cells` adds
it); a :class:`~advance_trial.output.display_spec.Counted` adds the rest: the population and the
conditions its statistic stands for. Populations (who is counted) and their dimensions are described
in :mod:`advance_trial.output.disclosure_cells`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.display_spec import Cond, Counted, Knowledge, Reader, Row
from advance_trial.output.formats import STATE_LABELS
from advance_trial.tabulate import ALL
from advance_trial.vocabulary import ANALYSES

#: A man's follow-up states, in the order the tables list them.
STATES = tuple(STATE_LABELS)
#: CONSORT stages only the arm offered sessions has: withheld when blinded.
OFFERED_STAGES = ("received_any_session", "not_received", "discontinued", "met_threshold")
BLINDED_ANALYSES = tuple(name for name, a in ANALYSES.items() if a.reveals_arm)
#: Only the arm offered the intervention can have events related to it: the row would name that arm.
RELATED = "any_related"
ELIGIBLE = ("declined", "other", "randomised")
OTHER_REASON = "other"
HARMS_ANY = "any"
ANALYSED = "analysed:"


def cond(dim: str, level: Any, exclude: bool = False) -> tuple[Cond, ...]:
    """A condition on ``dim``, or none when the level is ``all``."""
    level = str(level)
    return () if level == ALL else ((dim, (level,), exclude),)


def analysed_population(outcome: str, timepoint: str, analysis: str) -> str:
    """The men an analysis uses: every complete-case analysis of an outcome (and the CONSORT box that
    counts them) the same men, multiple imputation all the men randomised."""
    known = ANALYSES.get(analysis)
    which = "complete_cases" if known is None or known.complete_cases else "imputed"
    return f"{ANALYSED}{outcome}:{timepoint}:{which}"


def _text(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


# --- counts ----------------------------------------------------------------------------------------------


def _of(pop: str, where: Any = ()) -> Any:
    """A count of ``pop`` under conditions (a tuple, or a function of the row)."""
    return lambda r, R: (pop, where(r) if callable(where) else where)


ALLOCATION = (Counted("n", _of("men")),)


def retention(pop: str) -> tuple[Counted, ...]:
    """Randomised, retained, outside the window, and the two counts a reader forms from them."""

    def st(r: Row) -> str:
        return f"state:{r.level}"

    return (
        Counted("n_randomised", _of(pop)),
        Counted("n_retained", _of(pop, lambda r: cond(st(r), "retained"))),
        Counted("n_outside_window", _of(pop, lambda r: cond(st(r), "outside_window"))),
        Counted("n_randomised-n_retained", _of(pop, lambda r: cond(st(r), "retained", True))),
        Counted("n_randomised-n_retained-n_outside_window",
                _of(pop, lambda r: ((st(r), ("retained", "outside_window"), True),))),
    )  # fmt: skip


RETENTION_REASONS = (
    Counted("n", _of("men", lambda r: cond(f"state:{r.groups['timepoint']}", r.level))),
    Counted("n_randomised", _of("men")),
)


def _side(arm: str, retained: bool) -> Any:
    return lambda r, R: ("men", cond("arm", r.groups[arm]) + (cond(f"state:{r.level}", "retained") if retained
                                                               else ()))  # fmt: skip


RETENTION_DIFFERENCE = (
    Counted("n_arm", _side("arm", False), breakdowns=False),
    Counted("n_retained_arm", _side("arm", True), breakdowns=False),
    Counted("n_comparator", _side("comparator", False), breakdowns=False),
    Counted("n_retained_comparator", _side("comparator", True), breakdowns=False),
)
DOSE = (
    Counted("n", _of("men")),
    Counted("n_met", _of("men", lambda r: cond(f"met:{r.variable}", "met"))),
    Counted("n-n_met", _of("men", lambda r: cond(f"met:{r.variable}", "not"))),
)


def _dose_summary(r: Row, R: Reader) -> tuple[str, tuple[Cond, ...]] | None:
    """Men by site or cycle (not by therapy group) of the arm the dose table is about."""
    ((by, level),) = r.groups.items()
    dose = R.rows.get("dose") or []
    if str(by) not in (ALL, "site", "cycle") or not dose:
        return None
    if str(by) == ALL:
        return "men", cond("arm", dose[0].groups["arm"])
    return "men", cond("arm", dose[0].groups["arm"]) + cond(str(by), level)


DOSE_SUMMARY = (Counted("n", _dose_summary, breakdowns=False),)


def _ineligible(rows: list[Row]) -> list[str]:
    reasons = [str(r.level) for r in rows if r.variable == "excluded.not_eligible" and str(r.level or "")]
    return [f"inel:{x}" for x in reasons] or ["inel"]


def _consort(r: Row, R: Reader) -> tuple[str, tuple[Cond, ...]] | None:
    stage, arm = r.variable, str(r.groups.get("arm"))
    detail = str(r.level if isinstance(r.level, str) else "")
    screened = {
        "assessed": (),
        "excluded": (("screen", ("randomised",), True),),
        "excluded.not_eligible": (("screen", (f"inel:{detail}",), False),) if detail else
        (("screen", tuple(_ineligible(R.rows["consort"])), False),),
        "excluded.declined": (("screen", ("declined",), False),),
        "excluded.other": (("screen", ("other",), False),),
    }  # fmt: skip
    if stage in screened:
        return "screened", screened[stage]
    by_arm = cond("arm", arm)
    if stage in ("randomised", "enrolled", "allocated"):
        return "men", by_arm
    if stage == "received_any_session":
        return "men", by_arm + cond("any_session", "yes")
    if stage == "not_received":
        return "men", by_arm + cond("any_session", "no") + (cond("why_not", detail) if detail else ())
    if stage == "discontinued":
        return "men", by_arm + cond("discontinued", "yes")
    if stage == "met_threshold":
        return "men", by_arm + cond(f"met:{detail.split(':', 1)[0]}", "met")
    if stage in ("followed_up", "not_followed_up"):
        tp, _, state = detail.partition(": ")
        return "men", by_arm + cond(f"state:{tp}", state.replace(" ", "_") or "retained")
    if stage == "analysed":
        tp, _, outcome = detail.partition(": ")
        return analysed_population(outcome, tp, "complete_cases"), by_arm
    return None


CONSORT = (Counted("n", _consort, breakdowns=False),)


def consort_knows(R: Reader, rows: list[Row]) -> Knowledge:
    """Every man screened was ineligible (for one of the reasons listed), declined, otherwise not
    randomised, or randomised."""
    return Knowledge(levels={("screened", "screen"): (*_ineligible(rows), *ELIGIBLE)})


RECRUITMENT = (
    Counted("n_screened", _of("screened")),
    Counted("n_eligible", _of("screened", (("screen", ELIGIBLE, False),))),
    Counted("n_randomised", _of("screened", cond("screen", "randomised"))),
    Counted("n_screened-n_eligible", _of("screened", (("screen", ELIGIBLE, True),))),
    Counted("n_eligible-n_randomised", _of("screened", (("screen", ("declined", "other"), False),))),
)
PARTNER_CONTACT = (
    Counted("n_partners", _of("partners_identified")),
    Counted("n_contacted", _of("partners_identified", cond("contacted", "yes"))),
    Counted("n_partners-n_contacted", _of("partners_identified", cond("contacted", "no"))),
)


def _analysed(r: Row) -> str:
    return analysed_population(str(r.variable), str(r.level), str(r.groups.get("analysis")))


def _arm_of(side: int) -> Any:
    def cell(r: Row, R: Reader) -> tuple[str, tuple[Cond, ...]] | None:
        first, _, second = str(r.get("comparison", "")).partition(" vs ")
        if "n_intervention" not in r.stats or not second:
            return None
        return _analysed(r), cond("arm", (first, second)[side])

    return cell


OUTCOMES = (
    Counted("n_analysed", lambda r, R: (_analysed(r), ())),
    Counted("n_intervention", _arm_of(0)),
    Counted("n_control", _arm_of(1)),
)
_KNOWN = (("value", ("missing",), True),)


def _baseline(level_count: bool) -> Any:
    def cell(r: Row, R: Reader) -> tuple[str, tuple[Cond, ...]] | None:
        pop, level = f"baseline:{r.variable}", _text(r.level)
        if level_count:
            return (pop, cond("value", level)) if level else None
        return pop, () if level == "missing" else _KNOWN

    return cell


BASELINE = (Counted("n", _baseline(False)), Counted("n_level", _baseline(True)))


def baseline_knows(R: Reader, rows: list[Row]) -> Knowledge:
    """Each characteristic's values (its levels, or ``known``, and ``missing``); as many men in each arm as
    were randomised to it."""
    values: dict[str, list[str]] = {}
    for r in rows:
        seen = values.setdefault(str(r.variable), [])
        level = _text(r.level)
        value = "known" if level == "" else level
        if level != "missing" and value not in seen:
            seen.append(value)
    levels: dict[tuple[str, str], tuple[str, ...]] = {}
    links: list[Any] = []
    for var, vals in values.items():
        pop = f"baseline:{var}"
        levels[(pop, "value")] = (*vals, "missing")
        if R.arms:
            levels[(pop, "arm")] = R.arms
        links += [((pop, cond("arm", a)), ("men", cond("arm", a)), True) for a in (*R.arms, ALL)
                  if "men" in R.populations]  # fmt: skip
    return Knowledge(levels=levels, links=tuple(links))


def _harm(kind: str) -> Any:
    def cell(r: Row, R: Reader) -> tuple[str, tuple[Cond, ...]]:
        pop, ev = f"harms:{r.groups['about']}", f"ev:{r.variable}"
        return pop, {"n": (), "yes": cond(ev, "yes"), "no": cond(ev, "no")}[kind]

    return cell


HARMS = (Counted("n", _harm("n")), Counted("n_with_event", _harm("yes")), Counted("n-n_with_event", _harm("no")))


def harms_knows(R: Reader, rows: list[Row]) -> Knowledge:
    """An event of any category (or a serious or related one) is an event; a man with an event had one of
    some category; as many men (partners identified) in each arm as the men's (partners') tables say."""
    cats: dict[str, list[str]] = {}
    for r in rows:
        seen = cats.setdefault(f"harms:{r.groups['about']}", [])
        seen += [] if str(r.variable) in seen else [str(r.variable)]
    levels: dict[tuple[str, str], tuple[str, ...]] = {}
    impossible: list[tuple[str, Mapping[str, str]]] = []
    links: list[Any] = []
    for pop, cs in cats.items():
        if R.arms:
            levels[(pop, "arm")] = R.arms
        for c in cs:
            levels[(pop, f"ev:{c}")] = ("yes", "no")
        if HARMS_ANY in cs:
            impossible += [(pop, {f"ev:{HARMS_ANY}": "no", f"ev:{c}": "yes"}) for c in cs if c != HARMS_ANY]
            plain = [c for c in cs if c not in (HARMS_ANY, "any_serious", RELATED)]
            if plain:
                impossible.append((pop, {f"ev:{HARMS_ANY}": "yes", **{f"ev:{c}": "no" for c in plain}}))
        to = "men" if pop == "harms:men" else "partners_identified"
        links += [((pop, cond("arm", a)), (to, cond("arm", a)), True) for a in (*R.arms, ALL) if to in R.populations]
    return Knowledge(levels=levels, impossible=tuple(impossible), links=tuple(links))


def _needs_attendance(rule: str) -> bool:
    m = re.search(r"(>=|>)\s*(-?[0-9.]+)\s*$", rule)
    return m is not None and (m.group(1) == ">" and float(m.group(2)) >= 0 or float(m.group(2)) > 0)


def dose_knows(R: Reader, rows: list[Row]) -> Knowledge:
    """A man who met a threshold of at least one session attended one."""
    rules = {str(r.variable): str(r.get("rule")) for r in rows}
    return Knowledge(impossible=tuple(("men", {f"met:{th}": "met", "any_session": "no"})
                                      for th, rule in rules.items() if _needs_attendance(rule)))  # fmt: skip


# --- blinded rows ------------------------------------------------------------------------------------------


def _state_rank(detail: str) -> tuple[str, int]:
    tp, _, state = str(detail).partition(": ")
    name = state.replace(" ", "_")
    return (tp, STATES.index(name) if name in STATES else len(STATES))


def same_rows_per_arm(df: pd.DataFrame) -> pd.DataFrame:
    """CONSORT with the same reasons listed for every arm (zeros where an arm has none), in one order:
    which rows an arm has must not tell the arms apart."""
    lost = df["stage"] == "not_followed_up"
    if not lost.any():
        return df
    arms = list(dict.fromkeys(df.loc[df["stage"] == "allocated", "arm"]))
    details = list(dict.fromkeys(df.loc[lost, "detail"]))
    rank = {d: i for i, d in enumerate(sorted(details, key=_state_rank))}
    present = set(zip(df.loc[lost, "arm"], df.loc[lost, "detail"], strict=True))
    extra = [{"stage": "not_followed_up", "arm": a, "detail": d, "n": 0}
             for a in arms for d in details if (a, d) not in present]  # fmt: skip
    out = pd.concat([df, pd.DataFrame(extra, columns=df.columns)], ignore_index=True) if extra else df.copy()
    order = [(list(dict.fromkeys(out["stage"])).index(r.stage),
              rank.get(r.detail, -1) if r.stage == "not_followed_up" else 0, i)
             for i, r in enumerate(out.itertuples())]  # fmt: skip
    out = out.iloc[[i for *_, i in sorted(order)]].reset_index(drop=True)
    out["n"] = out["n"].astype(int)
    return out


def consort_blinded(df: pd.DataFrame) -> pd.DataFrame:
    """No stage only the arm offered sessions has; the same reasons for every arm."""
    return same_rows_per_arm(df[~df["stage"].isin(list(OFFERED_STAGES))])


def compares_arms(df: pd.DataFrame) -> bool:
    """Whether an outcome table compares two arms (``A vs B``), not only each arm with its baseline."""
    return "comparison" in df and bool(df["comparison"].astype(str).str.contains(" vs ", regex=False).any())


def outcomes_blinded(df: pd.DataFrame) -> pd.DataFrame:
    """No analysis defined by the intervention arm (partially nested, CACE)."""
    return df[~df["analysis"].isin(BLINDED_ANALYSES)] if len(df) else df


def harms_blinded(df: pd.DataFrame) -> pd.DataFrame:
    """No events related to the intervention (only its arm can have them)."""
    return df[df["category"].astype(str) != RELATED] if len(df) else df


def progression_blinded(df: pd.DataFrame) -> pd.DataFrame:
    """An effect's or a change's criterion withheld."""
    return withheld_criteria(df, ("outcome.", "change.")) if len(df) else df


# --- shareable rows ----------------------------------------------------------------------------------------


def coded_reasons(df: pd.DataFrame, codes: tuple[str, ...], min_cell: int,
                  stage: str = "excluded.not_eligible", arm: str = ALL) -> pd.DataFrame:  # fmt: skip
    """CONSORT's reasons (for ineligibility, or why a man never attended) as coded categories only: a
    reason that is not one of the config's codes (``reasons.ineligible``, ``reasons.not_received``)
    becomes ``other``, and so does a category of fewer than ``min_cell`` men; ``other`` is dropped when it
    is the only category (the total says it)."""
    rows = (df["stage"].eq(stage) & df["arm"].astype(str).eq(arm)
            & df["detail"].fillna("").astype(str).ne(""))  # fmt: skip
    if not rows.any():
        return df
    detail = df.loc[rows, "detail"].astype(str).where(df.loc[rows, "detail"].astype(str).isin(codes), OTHER_REASON)
    counts = df.loc[rows, "n"].astype(int).groupby(detail.to_numpy()).sum()
    small = [c for c, n in counts.items() if n < min_cell and c != OTHER_REASON]
    counts = counts.groupby([OTHER_REASON if c in small else c for c in counts.index]).sum()
    kept = [(str(c), int(n)) for c, n in counts.items() if c != OTHER_REASON]
    kept.sort(key=lambda kv: (-kv[1], kv[0]))
    if OTHER_REASON in counts.index and kept:
        kept.append((OTHER_REASON, int(counts[OTHER_REASON])))
    first = int(np.flatnonzero(rows.to_numpy())[0])
    new = pd.DataFrame([{"stage": stage, "arm": arm, "detail": c, "n": n} for c, n in kept],
                       columns=df.columns)  # fmt: skip
    parts = [df.iloc[:first], new, df.iloc[first:][~rows.iloc[first:].to_numpy()]]
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


def consort_coded(cfg: Config, df: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Reasons for ineligibility, and why men never attended, as the config's coded categories."""
    if not len(df):
        return df
    df = coded_reasons(df, tuple(cfg.reasons.ineligible), min_cell)
    for arm in df.loc[df["stage"] == "not_received", "arm"].astype(str).unique():
        df = coded_reasons(df, tuple(cfg.reasons.not_received), min_cell, "not_received", arm)
    return df.reset_index(drop=True)


def _withhold(df: pd.DataFrame, at: pd.Series, method: bool = False) -> pd.DataFrame:
    """Progression rows ``at`` with their estimate and interval (and method) blank and status ``withheld``."""
    if not at.any():
        return df
    df = df.copy()
    for c in ("estimate", "ci_lower", "ci_upper", *(("ci_method",) if method else ())):
        df[c] = df[c].astype(object).where(~at, "")
    df["status"] = df["status"].where(~at, "withheld")
    return df


def withheld_criteria(df: pd.DataFrame, prefixes: tuple[str, ...]) -> pd.DataFrame:
    """Progression rows on metrics of these kinds withheld, their method too ("within A: paired t" names
    the intervention arm's code)."""
    return _withhold(df, df["metric"].astype(str).str.startswith(prefixes), method=True)


def _sources(tables: Mapping[str, pd.DataFrame]) -> dict[str, tuple[str, dict[str, str]]]:
    """Metric -> (table, row filter) of the proportion a criterion reads (as in progression)."""
    out: dict[str, tuple[str, dict[str, str]]] = {
        "recruitment_rate": ("recruitment", {"site": ALL}),
        "partner_contact": ("partner_contact", {"arm": ALL, "site": ALL}),
    }
    for name in ("retention", "partner_retention"):
        if name in tables:
            for tp in tables[name]["timepoint"].astype(str).unique():
                out[f"{name}.{tp}"] = (name, {"timepoint": tp, "arm": ALL, "site": ALL, "cycle": ALL})
    if "dose" in tables:
        for th in tables["dose"]["threshold"].astype(str).unique():
            out[f"dose.{th}"] = ("dose", {"threshold": th, "cycle": ALL, "site": ALL})
    return out


def progression_shareable(df: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """A criterion withheld where the proportion it reads is withheld; a within-arm change's always (it
    reads a table not shared: its men by arm are not cells of the structure)."""
    df = withheld_criteria(df, ("change.",))
    for metric, (name, filt) in _sources(tables).items():
        t = tables.get(name)
        if t is None:
            continue
        keep = np.ones(len(t), dtype=bool)
        for col, val in filt.items():
            keep &= (t[col].astype(str) == val).to_numpy()
        shown = t.loc[keep, "proportion"] if "proportion" in t else pd.Series(dtype=object)
        if len(shown) == 1 and isinstance(shown.iloc[0], str) and shown.iloc[0] == "":
            df = _withhold(df, df["metric"] == metric)
    return df
