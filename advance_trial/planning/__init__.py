"""Planning the definitive trial from the feasibility trial's estimates (``advance-trial plan``).

For each primary outcome (``planning.outcomes``, default the first), step by step, with the point
estimate and a conservative value beside it:

1. the pooled within-arm SD of the outcome among the complete cases, and its one-sided upper
   confidence limit (``planning.sd_confidence``; Browne 1995, Sim & Lewis 2012);
2. men per arm for a two-sided two-sample t test of ``target_difference`` (R's ``power.t.test``);
3. the ANCOVA reduction ``1 - r^2`` from the pooled within-arm correlation of baseline and
   follow-up (conservative: the lower limit of r's Fisher interval; Borm et al. 2007);
4. the design effect ``1 + (m - 1) ICC`` for the intervention arm only, delivered in groups of
   ``planning.group_size`` (ICC from the partially nested model and its upper limit; Moerbeek & Wong
   2008, Candlish et al. 2018);
5. attrition: each arm divided by the retention at the outcome's timepoint (conservative: its lower
   limit), rounded up.

Every per-man fact comes from the subject-level data set; the ICC and retention are looked up by
key in the results data set of the run's tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from advance_trial.analysis import AnalysisData
    from advance_trial.config import Config
    from advance_trial.results.layout import ResultsData

COLUMNS = ["outcome", "step", "quantity", "estimate", "conservative", "note"]


def _pooled(men: pd.DataFrame, o: str) -> tuple[float, int, float, int]:
    """Pooled within-arm SD of the follow-up (and its df), pooled within-arm correlation with baseline (and n)."""
    cc = men[men[f"analysed_{o}"].to_numpy(dtype=bool)]
    y, b, arm = cc[f"y_{o}"].to_numpy(float), cc[f"base_{o}"].to_numpy(float), cc["arm"].astype(str).to_numpy()
    yc, bc = y.copy(), b.copy()
    for a in np.unique(arm):
        yc[arm == a] -= y[arm == a].mean()
        bc[arm == a] -= b[arm == a].mean()
    df = len(y) - len(np.unique(arm))
    sd = math.sqrt(float(yc @ yc) / df) if df > 0 else float("nan")
    denom = math.sqrt(float(yc @ yc) * float(bc @ bc))
    r = float(yc @ bc) / denom if denom > 0 else float("nan")
    return sd, df, r, len(y)


def _men(per_arm: float, retained: float) -> float:
    """Men to randomise to one arm, rounded up; not a number when a step before has none (or nobody is retained)."""
    x = per_arm / retained if retained > 0 else float("nan")
    return float(math.ceil(x)) if math.isfinite(x) else float("nan")


def _ancova_factor(r: float, n: int, level: float, adjusted: bool) -> tuple[float, float, str]:
    """``1 - r^2`` and its conservative value (the limit of r's interval nearest 0), with the note; defined
    at the limits: no baseline adjustment, no r (fewer than two men), r = +-1 (no reduction taken: it would
    need no men), too few men for r's interval (conservative: no reduction)."""
    if not adjusted:
        return 1.0, 1.0, "not adjusted for baseline: no reduction"
    if not math.isfinite(r):
        return 1.0, 1.0, "no baseline-follow-up correlation (too few men with both, or no spread): no reduction"
    if abs(r) >= 1 - 1e-12:
        return 1.0, 1.0, (f"r = {r:.3f}: follow-up is an exact linear function of baseline among {n} men; no "
                          "reduction is taken (1 - r^2 = 0 would need no men)")  # fmt: skip
    from advance_trial.planning.sample_size import correlation_interval  # scipy's optimiser: where a plan is made

    lo, hi = correlation_interval(r, n, level)
    if not math.isfinite(lo):
        return 1 - r**2, 1.0, (f"r = {r:.3f} (baseline and follow-up, within arms; {n} men, too few for its "
                               "interval: conservative takes no reduction)")  # fmt: skip
    if r >= 0:
        return 1 - r**2, 1 - max(lo, 0.0) ** 2, (f"r = {r:.3f} (baseline and follow-up, within arms; conservative: "
                                                 f"{level:.0%} lower limit {lo:.3f})")  # fmt: skip
    return 1 - r**2, 1 - min(hi, 0.0) ** 2, (f"r = {r:.3f} (baseline and follow-up, within arms; conservative: "
                                             f"{level:.0%} upper limit {hi:.3f}, the limit nearer 0)")  # fmt: skip


def plan_outcome(cfg: Config, ads: AnalysisData, results: ResultsData, outcome: str) -> list[dict[str, object]]:
    """The steps of one outcome's sample size (rows of :data:`COLUMNS`), the ICC and retention looked up in
    ``results``."""
    from advance_trial.planning.sample_size import design_effect, n_per_arm, sd_upper_limit

    p = cfg.planning
    assert p is not None
    o = next(x for x in cfg.outcomes if x.id == outcome)
    delta = p.target_difference if isinstance(p.target_difference, float) else p.target_difference[outcome]
    level = cfg.reporting.ci_level
    rows: list[dict[str, object]] = []

    def add(step: str, quantity: str, est: float, cons: float, note: str) -> None:
        rows.append({"outcome": outcome, "step": step, "quantity": quantity, "estimate": est, "conservative": cons,
                     "note": note})  # fmt: skip

    sd, df, r, n_cc = _pooled(ads.men, outcome)
    nan = float("nan")
    if df <= 0 or not math.isfinite(sd):
        why = f"{n_cc} complete cases leave {max(df, 0)} df within the arms: no follow-up SD to plan on"
    elif sd == 0:
        why = "the follow-up SD is 0 (every man analysed in an arm scored the same): no basis for a t test's size"
    else:
        why = ""
    sd_hi = sd_upper_limit(sd, df, p.sd_confidence) if not why else nan
    add("1_sd", "pooled SD at follow-up", sd if df > 0 else nan, sd_hi,
        f"{n_cc} complete cases, {df} df; conservative: one-sided {p.sd_confidence:.0%} upper limit"
        + (f"; not computed: {why}" if why else ""))  # fmt: skip
    n0, n0_hi = (n_per_arm(delta, sd, p.alpha, p.power), n_per_arm(delta, sd_hi, p.alpha, p.power)) if not why else (
        nan, nan)  # fmt: skip
    add("2_t_test", "men per arm (two-sample t test)", n0, n0_hi,
        f"difference {delta:g}, two-sided alpha {p.alpha:g}, power {p.power:g} (as power.t.test)"
        + (f"; not computed: {why}" if why else ""))  # fmt: skip
    factor, factor_hi, note = _ancova_factor(r, n_cc, level, "baseline" in o.adjust_for)
    add("3_ancova", "ANCOVA factor 1 - r^2", factor, factor_hi, note)
    add("3_ancova", "men per arm after ANCOVA", n0 * factor, n0_hi * factor_hi, "")
    icc = results.stats("outcomes", outcome, o.timepoint, analysis="partially_nested", effect="icc", threshold="")
    model = "the partially nested model"
    if icc and not math.isfinite(float(icc["estimate"])):  # the heteroscedastic model gives none: the equal-variance
        equal = results.stats("outcomes", outcome, o.timepoint, analysis="partially_nested_equal_var", effect="icc",
                              threshold="")  # fmt: skip
        if equal and math.isfinite(float(equal["estimate"])):
            icc, model = equal, f"the equal-variance partially nested model (the other gives none: {icc['reason']})"
    m = p.group_size
    if m is not None and icc and math.isfinite(float(icc["estimate"])):
        upper = float(icc["ci_upper"])
        if math.isfinite(upper):
            de, de_hi = design_effect(m, float(icc["estimate"])), design_effect(m, upper)
            note = (f"groups of {m}; ICC {float(icc['estimate']):.3f} ({level:.0%} interval to "
                    f"{upper:.3f}) from {model}; intervention arm only")  # fmt: skip
        else:  # an estimate without an interval (on its boundary, or a singular information): assume the worst
            de, de_hi = design_effect(m, float(icc["estimate"])), design_effect(m, 1.0)
            note = (f"groups of {m}; ICC {float(icc['estimate']):.3f} from {model}, no interval "
                    "(the model gives none); conservative: ICC 1, the whole group as one man; "
                    "intervention arm only")  # fmt: skip
    elif m is not None and icc:  # the model was fitted and gave no ICC: its reason, and the worst case
        reason = str(icc.get("reason", "") or "")
        at_zero = "boundary of zero" in reason
        de, de_hi = (1.0 if at_zero else nan), design_effect(m, 1.0)
        note = (f"groups of {m}; the partially nested model gives no ICC ({reason}); "
                + ("estimate: ICC 0, its REML estimate; " if at_zero else "estimate not computed; ")
                + "conservative: ICC 1, the whole group as one man; intervention arm only")  # fmt: skip
    else:
        de = de_hi = 1.0
        note = "no planned group size or no partially nested ICC: no design effect"
    add("4_design_effect", "design effect, intervention arm", de, de_hi, note)
    ret = results.stats("retention", "retained", o.timepoint, arm="all", site="all", cycle="all")
    keep, keep_lo = (float(ret["proportion"]), float(ret["ci_lower"])) if ret else (1.0, 1.0)
    lost = f"; no man retained at {o.timepoint}: the inflation for attrition is not defined" if not keep > 0 else ""
    add("5_attrition", f"retained at {o.timepoint}", keep, keep_lo,
        f"of men randomised; conservative: {level:.0%} lower limit ({ret['method'] if ret else 'none'})"
        + lost)  # fmt: skip
    ctl, ctl_hi = _men(n0 * factor, keep), _men(n0_hi * factor_hi, keep_lo)
    itv, itv_hi = _men(n0 * factor * de, keep), _men(n0_hi * factor_hi * de_hi, keep_lo)
    missing = "; ".join(filter(None, [why, lost.removeprefix("; ")]))
    said = "rounded up" + (f"; not computed where a step has no value: {missing}" if missing else "")
    add("6_total", "men to randomise, control arm", ctl, ctl_hi, said)
    add("6_total", "men to randomise, intervention arm", itv, itv_hi, said)
    add("6_total", "men to randomise in all", ctl + itv, ctl_hi + itv_hi, "")
    return rows


def plan_results(cfg: Config, ads: AnalysisData, results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The results rows of the plan: each step of each primary outcome's size (:func:`plan_outcome`), its
    estimate, conservative value and note, broken down by step; the ICC and retention read from the
    analyses' results rows (``results``: table name -> rows)."""
    from advance_trial.results.labels import variable_labels
    from advance_trial.results.layout import ResultsData, frame
    from advance_trial.results.verbs import Target, bind_results, stat_rows

    p = cfg.planning
    labels = variable_labels(cfg)
    steps: list[dict[str, Any]] = []
    if p is not None and cfg.trial.design == "parallel":
        found = ResultsData(bind_results([r for r in results.values() if "stat_name" in r.columns]))
        for oid in p.outcomes or [cfg.outcomes[0].id]:
            steps += plan_outcome(cfg, ads, found, oid)
    # a value is a float wherever one of its column's is (a whole count of men beside a fraction)
    floats = [c for c in ("estimate", "conservative") if any(not isinstance(s[c], int | np.integer) for s in steps)]
    parts = []
    for s in steps:
        to = Target("plan", "planning", "the definitive trial's men", labels.get(str(s["outcome"]), ""))
        stats = {c: float(s[c]) if c in floats else s[c] for c in ("estimate", "conservative")}
        rows = stat_rows(to, {"step": str(s["step"])}, s["outcome"], s["quantity"], {**stats, "note": s["note"]})
        parts.append(frame(rows))
    return bind_results(parts)


def planned_total(rows: pd.DataFrame) -> int | None:
    """The plan's men to randomise in all (the first planned outcome's), from its results rows; None when
    not computed."""
    if rows.empty:
        return None
    alls = rows[(rows["variable_level"] == "men to randomise in all") & (rows["stat_name"] == "estimate")]["stat"]
    return int(alls.iloc[0]) if len(alls) and alls.iloc[0] == alls.iloc[0] else None  # nan: not computed


def for_definitive(definitive: Config, pilot: Config) -> Config:
    """The pilot's config planning as the definitive trial's config says: its ``planning`` block (its own
    number of sites when the block gives none) over the pilot's outcomes, data and estimates.

    Raises
    ------
    UsageError
        If the definitive config has no planning block, or names an outcome the pilot did not measure.
    """
    from advance_trial.errors import UsageError

    p = definitive.planning
    if p is None:
        raise UsageError(f"{definitive.trial.id}: no planning block: give the definitive trial's target difference")
    unknown = [o for o in p.outcomes if o not in {x.id for x in pilot.outcomes}]
    if unknown:
        raise UsageError(f"{definitive.trial.id}: planning.outcomes {unknown} are not outcomes of the pilot "
                         f"{pilot.trial.id} ({', '.join(o.id for o in pilot.outcomes)})")  # fmt: skip
    planning = p.model_copy(update={"sites": p.sites or len(definitive.sites)})
    return pilot.model_copy(update={"planning": planning})


def registered_rows(definitive: Config, plan: pd.DataFrame) -> pd.DataFrame:
    """The plan's results rows with a last step per outcome: the definitive trial's registered size beside
    the plan's total."""
    from advance_trial.results.layout import frame
    from advance_trial.results.verbs import Target, bind_results, stat_rows

    target = definitive.trial.target_sample_size
    if target is None or plan.empty:
        return plan
    parts = []
    for oid, rows in plan.groupby("variable", sort=False):
        total = rows[rows["variable_level"] == "men to randomise in all"].set_index("stat_name")["stat"]
        note = definitive.trial.id
        if len(total):
            point, safe = (f"{float(v):.0f}" if math.isfinite(float(v)) else "(not computed)"
                           for v in (total["estimate"], total["conservative"]))  # fmt: skip
            note += f": the plan needs {point} (conservative {safe})"
        to = Target("plan", "planning", "the definitive trial's men", str(rows["variable_label"].iloc[0]))
        stats = {"estimate": float(target), "conservative": float(target), "note": note}
        parts += [rows, frame(stat_rows(to, {"step": "7_registered"}, str(oid), "men planned by the definitive trial",
                                        stats))]  # fmt: skip
    return bind_results(parts)


__all__ = ["COLUMNS", "for_definitive", "plan_outcome", "plan_results", "planned_total", "registered_rows"]
