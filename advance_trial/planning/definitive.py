"""From the plan's steps to what a grant application quotes: men per arm at the trial's allocation ratio
and at the optimal ratio, the four ways to use the pilot's SD, the sensitivity of the total, the
recruitment forecast and a paragraph to adapt.

Every figure is computed by the library functions of :mod:`advance_trial.planning.ratio`,
:mod:`~advance_trial.planning.pilot_sd` and :mod:`~advance_trial.planning.forecast` from the plan's own
rows (``plan.csv``: the SD, the t test's size after ANCOVA, the design effect and retention, estimate and
conservative), so the new tables cannot disagree with it. The tables:

``plan_arms``
    Men per arm and in total at the config's ratio (intervention : control, the arms' ``ratio``) and at the
    optimal ratio ``sqrt(D)`` (Moerbeek & Wong 2008), estimate and conservative.
``plan_sd``
    The pilot's SD, Browne's upper limit, Sim & Lewis's inflation and Julious & Owen's averaged power side
    by side, each carried to the total at the config's ratio; the standardised effect.
``plan_sensitivity``
    The total over ICC (0, the estimate, its upper limit, ``planning.icc_values``) x SD (estimate, upper
    limit) x retention (estimate, lower limit), the ANCOVA factor at its estimate.
``recruitment_forecast`` and ``recruitment_forecast_bands``
    The Poisson-gamma forecast (Anisimov & Fedorov 2007) of the months to randomise the total at the
    config's ratio, from the pilot's site rates (men and recruiting months as
    :mod:`advance_trial.feasibility.accrual` defines them) and ``planning.site_opening``; the predicted
    cumulative men by month with their 80% and 95% bands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from advance_trial.config.arms import allocation_ratio as config_ratio
from advance_trial.config.arms import ratio_text as _ratio_text
from advance_trial.planning.pilot_sd import pilot_sd_sizes
from advance_trial.planning.ratio import arm_sizes, optimal_ratio
from advance_trial.results.verbs import Target, ard_grid
from advance_trial.results.words import moves_most

if TYPE_CHECKING:
    from advance_trial.analysis import AnalysisData
    from advance_trial.config import Config
    from advance_trial.planning.forecast import Forecast

NAN = float("nan")
#: The plan's last footnote (one per outcome) begins with these words.
JUSTIFICATION = "Sample-size justification to adapt"
#: Days in a month on average (the forecast counts months from the first site's opening date).
MONTH_DAYS = 365.25 / 12
SD_METHODS = {
    "pilot": "the pilot's SD (power.t.test)",
    "browne": "Browne 1995: the SD's one-sided upper limit",
    "sim_lewis": "Sim & Lewis 2012: the pilot SD's size times df / qchisq(1 - c, df)",
    "julious_owen": "Julious & Owen 2006: the power averaged over the SD's uncertainty",
}


@dataclass(frozen=True)
class Steps:
    """One outcome's plan steps, read back from ``plan.csv``'s rows (estimate, conservative)."""

    outcome: str
    sd: tuple[float, float]
    n_t: tuple[float, float]
    factor: tuple[float, float]
    n0: tuple[float, float]
    design_effect: tuple[float, float]
    retained: tuple[float, float]
    timepoint: str


def _steps(plan: pd.DataFrame, outcome: str) -> Steps:
    rows = plan[plan["outcome"] == outcome]

    def pair(quantity: str) -> tuple[float, float]:
        r = rows[rows["quantity"].astype(str).str.startswith(quantity)]
        return (float(r["estimate"].iloc[0]), float(r["conservative"].iloc[0])) if len(r) else (NAN, NAN)

    kept = rows[rows["step"] == "5_attrition"]
    tp = str(kept["quantity"].iloc[0]).removeprefix("retained at ") if len(kept) else ""
    return Steps(outcome, pair("pooled SD"), pair("men per arm (two-sample"), pair("ANCOVA factor"),
                 pair("men per arm after ANCOVA"), pair("design effect"), pair("retained at"), tp)  # fmt: skip


def sizes(n0: float, de: float, ratio: float, retained: float) -> tuple[float, float, float]:
    """Control, intervention and total men (rounded up), or not-a-number where an input has no value."""
    if not all(math.isfinite(v) for v in (n0, de, ratio, retained)) or n0 <= 0 or de < 1 or not 0 < retained <= 1:
        return NAN, NAN, NAN
    s = arm_sizes(n0, de, ratio, retained)
    return float(s.control), float(s.intervention), float(s.total)


def arms_grid(cfg: Config, steps: list[Steps]) -> pd.DataFrame:
    """``plan_arms``: men per arm at the config's ratio and at the optimal ratio, estimate and conservative."""
    k = config_ratio(cfg)
    rows = []
    for s in steps:
        for i, basis in enumerate(("estimate", "conservative")):
            de = s.design_effect[i]
            for allocation, ratio in (("configured", k), ("optimal", optimal_ratio(de) if de >= 1 else NAN)):
                c, itv, t = sizes(s.n0[i], de, ratio, s.retained[i])
                rows.append({"outcome": s.outcome, "allocation": allocation, "basis": basis, "ratio": ratio,
                             "design_effect": de, "n_control": c, "n_intervention": itv, "n_total": t})  # fmt: skip
    return pd.DataFrame(rows, columns=["outcome", "allocation", "basis", "ratio", "design_effect", "n_control",
                                       "n_intervention", "n_total"])  # fmt: skip


def sd_grid(cfg: Config, ads: AnalysisData, steps: list[Steps]) -> pd.DataFrame:
    """``plan_sd``: four ways to use the pilot's SD, each carried to the total at the config's ratio."""
    from advance_trial.planning import _pooled

    p = cfg.planning
    assert p is not None
    k = config_ratio(cfg)
    rows = []
    for s in steps:
        delta = p.target_difference if isinstance(p.target_difference, float) else p.target_difference[s.outcome]
        sd, df, _, _ = _pooled(ads.men, s.outcome)
        if not (df > 0 and math.isfinite(sd) and sd > 0):
            continue
        ways = pilot_sd_sizes(delta, sd, df, p.alpha, p.power, p.sd_confidence)
        for method, reference in SD_METHODS.items():
            n = float(getattr(ways, method))
            used = ways.sd_upper if method == "browne" else sd
            c, itv, t = sizes(n * s.factor[0], s.design_effect[0], k, s.retained[0])
            rows.append({"outcome": s.outcome, "method": method, "reference": reference, "sd": used, "df": df,
                         "standardised_effect": delta / used, "n_per_arm": n, "n_control": c,
                         "n_intervention": itv, "n_total": t})  # fmt: skip
    return pd.DataFrame(rows, columns=["outcome", "method", "reference", "sd", "df", "standardised_effect",
                                       "n_per_arm", "n_control", "n_intervention", "n_total"])  # fmt: skip


def sensitivity_grid(cfg: Config, steps: list[Steps]) -> tuple[pd.DataFrame, dict[str, str]]:
    """``plan_sensitivity``: the total over ICC x SD x retention, and for each outcome the input that moves
    the total most (its values varied, the others at their estimates)."""
    from advance_trial.planning.sample_size import design_effect, n_per_arm

    p = cfg.planning
    assert p is not None
    k = config_ratio(cfg)
    m = p.group_size
    rows: list[dict[str, Any]] = []
    for s in steps:
        delta = p.target_difference if isinstance(p.target_difference, float) else p.target_difference[s.outcome]
        if m is not None and m > 1:
            icc_est, icc_hi = ((d - 1) / (m - 1) for d in s.design_effect)
            iccs = [("zero", 0.0), ("estimate", icc_est), ("upper_limit", icc_hi)]
            iccs += [("config", float(v)) for v in dict.fromkeys(p.icc_values)]  # a value said twice: once
        else:
            iccs = [("no_groups", 0.0)]
        iccs = [(w, v) for w, v in iccs if math.isfinite(v)]
        sds = [(w, v) for w, v in zip(("estimate", "upper_limit"), s.sd, strict=True) if math.isfinite(v) and v > 0]
        keeps = [(w, v) for w, v in zip(("estimate", "lower_limit"), s.retained, strict=True) if math.isfinite(v)]
        if not (iccs and sds and keeps) or not math.isfinite(s.factor[0]):
            continue
        for iw, icc in iccs:
            de = design_effect(m, icc) if m is not None else 1.0
            for sw, sd in sds:
                n0 = n_per_arm(delta, sd, p.alpha, p.power) * s.factor[0]
                for rw, keep in keeps:
                    c, itv, t = sizes(n0, de, k, keep)
                    opt = sizes(n0, de, optimal_ratio(de), keep)[2]
                    rows.append({"outcome": s.outcome, "icc_source": iw, "icc": icc, "sd_source": sw, "sd": sd,
                                 "retention_source": rw, "retention": keep, "design_effect": de, "n_control": c,
                                 "n_intervention": itv, "n_total": t, "n_total_optimal": opt})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["outcome", "icc_source", "icc", "sd_source", "sd", "retention_source",
                                    "retention", "design_effect", "n_control", "n_intervention", "n_total",
                                    "n_total_optimal"])  # fmt: skip
    most = {o: f"{name} moves the total most ({span:.0f} men between its values, the others at their estimates)"
            for o, (name, span, _) in moves_most(frame).items()}  # fmt: skip
    return frame, most


def _label(cfg: Config, oid: str) -> str:
    o = next((x for x in cfg.outcomes if x.id == oid), None)
    return o.label if o is not None and o.label else oid.replace("_", " ")


def pilot_sites(cfg: Config, ads: AnalysisData) -> list[Any]:
    """The pilot's sites' men and recruiting months (:func:`advance_trial.feasibility.accrual.site_months`)."""
    from advance_trial.feasibility.accrual import site_months
    from advance_trial.planning.forecast import PilotSite

    monthly = site_months(cfg, ads)
    out = []
    for site, rows in monthly[monthly["site"] != "all"].groupby("site", sort=False):
        out.append(PilotSite(str(site), int(rows["n_randomised"].sum()), float(len(rows))))
    return out


def definitive_sites(cfg: Config) -> list[Any]:
    """The definitive trial's sites and the month each opens (``planning.site_opening``; else
    ``planning.sites`` sites, the pilot's first, all opening at the start)."""
    from advance_trial.planning.forecast import NewSite

    p = cfg.planning
    assert p is not None
    if p.site_opening:
        first = min(p.site_opening.values())
        return [NewSite(s, (d - first).days / MONTH_DAYS) for s, d in p.site_opening.items()]
    n = p.sites or len(cfg.site_ids)
    ids = [*cfg.site_ids[:n], *(f"new_site_{i}" for i in range(1, n - len(cfg.site_ids) + 1))]
    return [NewSite(s) for s in ids]


def forecast_grids(cfg: Config, ads: AnalysisData, target: int) -> tuple[pd.DataFrame, pd.DataFrame, Forecast]:
    """``recruitment_forecast`` (months to ``target`` men) and ``recruitment_forecast_bands``."""
    from advance_trial.planning.forecast import cumulative_bands, fit_rates, forecast

    p = cfg.planning
    assert p is not None
    model = fit_rates(pilot_sites(cfg, ads))
    sites = definitive_sites(cfg)
    deadline = None
    if p.forecast_deadline is not None and p.site_opening:
        deadline = (p.forecast_deadline - min(p.site_opening.values())).days / MONTH_DAYS
    fc = forecast(model, sites, target, deadline)
    start = min(p.site_opening.values()).isoformat() if p.site_opening else ""
    summary = pd.DataFrame([{
        "target": target, "model": model.model, "alpha": model.alpha, "beta": model.beta,
        "mean_rate": model.mean_rate, "pilot_sites": len(model.pilot), "sites": len(sites), "start": start,
        "median_months": fc.median_months, "lower80": fc.lower80, "upper80": fc.upper80, "lower95": fc.lower95,
        "upper95": fc.upper95, "deadline": p.forecast_deadline.isoformat() if p.forecast_deadline else "",
        "deadline_months": NAN if fc.deadline_months is None else fc.deadline_months,
        "probability_by_deadline": NAN if fc.probability_by_deadline is None else fc.probability_by_deadline,
    }])  # fmt: skip
    end = max(v for v in (fc.upper95, deadline or 0.0, fc.median_months * 1.2) if math.isfinite(v))
    months = [float(m) for m in range(0, min(int(math.ceil(end * 1.1)) + 1, 600) + 1)]
    bands = pd.DataFrame(cumulative_bands(model, sites, months, target))
    bands.insert(0, "target", target)
    bands["deadline_months"] = summary["deadline_months"].iloc[0]
    return summary, bands, fc


def _num(v: float, d: int = 0) -> str:
    return f"{v:,.{d}f}" if math.isfinite(v) else "(not computed)"


def paragraph(cfg: Config, ads: AnalysisData, s: Steps, arms: pd.DataFrame, fc: Forecast | None) -> str:
    """The sample-size justification in words, every number with its source."""
    from advance_trial.planning import _pooled

    p = cfg.planning
    assert p is not None
    o = next(x for x in cfg.outcomes if x.id == s.outcome)
    delta = p.target_difference if isinstance(p.target_difference, float) else p.target_difference[s.outcome]
    sd, df, r, n_cc = _pooled(ads.men, s.outcome)
    level = cfg.reporting.ci_level

    def at(allocation: str, basis: str) -> dict[str, Any]:
        rows = arms[(arms["outcome"] == s.outcome) & (arms["allocation"] == allocation) & (arms["basis"] == basis)]
        return dict(rows.iloc[0]) if len(rows) else {"ratio": NAN, "n_control": NAN, "n_intervention": NAN,
                                                     "n_total": NAN}  # fmt: skip

    conf, opt, cons = at("configured", "estimate"), at("optimal", "estimate"), at("configured", "conservative")
    label = _label(cfg, s.outcome)
    tp = next((t.label or t.id for t in cfg.timepoints if t.id == o.timepoint), o.timepoint)
    text = [
        f"To detect a difference of {delta:g} in {label} at {tp} (a standardised effect of "
        f"{delta / sd:.2f}, the difference over the pilot's pooled SD of {sd:.3f} from {n_cc} complete cases, "
        f"{df} df) with {p.power:.0%} power at a two-sided {p.alpha:g} significance level, a two-sample t test "
        f"needs {s.n_t[0]:.1f} men per arm (as R's power.t.test)."
    ]
    if s.factor[0] < 1:
        text.append(f"Adjusting for the baseline score (the pilot's baseline-follow-up correlation r = {r:.3f}; "
                    f"Borm, Fransen & Lemmens 2007) multiplies this by 1 - r^2 = {s.factor[0]:.3f}, to "
                    f"{s.n0[0]:.1f}.")  # fmt: skip
    if s.design_effect[0] > 1 and p.group_size:
        icc = (s.design_effect[0] - 1) / (p.group_size - 1)
        hi = (s.design_effect[1] - 1) / (p.group_size - 1)
        interval = (f"{level:.0%} interval to {hi:.3f}" if hi < 1 - 1e-12
                    else "no interval from the model: conservative ICC 1")  # fmt: skip
        text.append(f"The intervention is delivered in groups of {p.group_size}; with the pilot's ICC of "
                    f"{icc:.3f} ({interval}, partially nested model), the intervention arm "
                    f"alone carries a design effect of {s.design_effect[0]:.2f} (Moerbeek & Wong 2008; Candlish "
                    "et al. 2018).")  # fmt: skip
    text.append(f"Allowing for the pilot's retention of {s.retained[0]:.1%} at {tp} ({level:.0%} lower "
                f"limit {s.retained[1]:.1%}), the trial needs {_num(conf['n_control'])} men in the control arm and "
                f"{_num(conf['n_intervention'])} in the intervention arm at the allocation ratio "
                f"{_ratio_text(float(conf['ratio']))} (intervention : control), "
                f"{_num(conf['n_total'])} in all.")  # fmt: skip
    if math.isfinite(float(opt["ratio"])) and abs(float(opt["ratio"]) - float(conf["ratio"])) > 1e-9:
        text.append(f"At the optimal ratio for this design, {float(opt['ratio']):.2f}:1 (the square root of the "
                    f"design effect), {_num(opt['n_control'])} and {_num(opt['n_intervention'])} men "
                    f"({_num(opt['n_total'])}) give the same precision.")  # fmt: skip
    text.append(f"On conservative values (the SD's one-sided {p.sd_confidence:.0%} upper limit of {s.sd[1]:.3f}, "
                "Browne 1995 and Sim & Lewis 2012; the limit of r nearer 0; the ICC's upper limit; retention's "
                f"lower limit) it needs {_num(cons['n_control'])} and {_num(cons['n_intervention'])} "
                f"({_num(cons['n_total'])}).")  # fmt: skip
    if fc is not None:
        by = ""
        if fc.probability_by_deadline is not None and p.forecast_deadline is not None:
            by = (f"; the probability of reaching it by {p.forecast_deadline.isoformat()} is "
                  f"{fc.probability_by_deadline:.0%}")  # fmt: skip
        text.append(f"At the pilot's site rates (a Poisson-gamma model, Anisimov & Fedorov 2007) the trial's sites "
                    f"would randomise {fc.target} men in a median of {fc.median_months:.1f} months (80% predictive "
                    f"interval {fc.lower80:.1f} to {fc.upper80:.1f}; 95% {fc.lower95:.1f} to {fc.upper95:.1f})"
                    f"{by}.")  # fmt: skip
    return " ".join(text)


@dataclass(frozen=True)
class Definitive:
    """The results rows of the tables beside the plan, the paragraphs (one per outcome, the plan's last
    footnotes) and what ``plan --json`` carries besides."""

    results: dict[str, pd.DataFrame]
    paragraphs: dict[str, str]
    most: dict[str, str]

    def notes(self, cfg: Config) -> tuple[str, ...]:
        """The paragraphs as the plan's footnotes."""
        return tuple(f"{JUSTIFICATION} ({_label(cfg, o)}): {t}" for o, t in self.paragraphs.items())


def plan_steps(rows: pd.DataFrame) -> pd.DataFrame:
    """The plan's steps read from its results rows: ``outcome, step, quantity, estimate, conservative``."""
    steps: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for r in rows.itertuples(index=False):
        if r.stat_name in ("estimate", "conservative"):
            key = (r.variable, r.group1_level, r.variable_level)
            step = steps.setdefault(key, dict(zip(("outcome", "step", "quantity"), key, strict=True)))
            step[str(r.stat_name)] = r.stat
    return pd.DataFrame(list(steps.values()), columns=["outcome", "step", "quantity", "estimate", "conservative"])


def _to(table: str, words: str) -> Target:
    return Target(table, "planning", "the definitive trial's men", words)


def definitive_results(cfg: Config, ads: AnalysisData, plan: pd.DataFrame) -> Definitive:
    """The results rows of the tables beside the plan (see the module's docstring), from the plan's results
    rows, and the paragraph of each outcome."""
    steps_of = plan_steps(plan)
    outcomes = list(dict.fromkeys(steps_of["outcome"].astype(str)))
    steps = [_steps(steps_of, o) for o in outcomes]
    from advance_trial.results.labels import variable_labels

    arms = arms_grid(cfg, steps)
    sens, most = sensitivity_grid(cfg, steps)
    said = variable_labels(cfg)  # each outcome's words
    results = {
        "plan_arms": ard_grid(arms, _to("plan_arms", ""), "outcome", by=("allocation", "basis"), labels=said),
        "plan_sd": ard_grid(sd_grid(cfg, ads, steps), _to("plan_sd", ""), "outcome", by=("method",), labels=said),
        "plan_sensitivity": ard_grid(sens, _to("plan_sensitivity", ""), "outcome",
                                     by=("icc_source", "sd_source", "retention_source"), level="icc", labels=said),
    }  # fmt: skip
    fc = None
    first = arms[(arms["allocation"] == "configured") & (arms["basis"] == "estimate")]
    if len(first) and math.isfinite(float(first["n_total"].iloc[0])):
        try:
            summary, bands, fc = forecast_grids(cfg, ads, int(first["n_total"].iloc[0]))
            results |= {
                "recruitment_forecast": ard_grid(summary, _to("recruitment_forecast", "Months to the target"),
                                                 "=months_to_target"),
                "recruitment_forecast_bands": ard_grid(bands, _to("recruitment_forecast_bands", "Men randomised"),
                                                       "=randomised", level="month"),
            }  # fmt: skip
        except ValueError:  # no pilot site recruited anyone, or no site: no forecast (the paragraph leaves it out)
            fc = None
    paragraphs = {s.outcome: paragraph(cfg, ads, s, arms, fc if i == 0 else None)
                  for i, s in enumerate(steps) if math.isfinite(s.sd[0]) and s.sd[0] > 0}  # fmt: skip
    return Definitive(results, paragraphs, most)


__all__ = ["Definitive", "arms_grid", "config_ratio", "definitive_results", "forecast_grids", "paragraph",
           "plan_steps", "sd_grid", "sensitivity_grid", "sizes"]  # fmt: skip
