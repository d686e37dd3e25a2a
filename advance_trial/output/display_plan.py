"""Display versions of the planning tables beside the plan (``plan_arms``, ``plan_sd``, ``plan_sensitivity``,
``recruitment_forecast``): labelled, rounded for reading; the CSVs keep every digit."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from advance_trial.results.words import moves_most_text, outcome_words

if TYPE_CHECKING:
    from advance_trial.config import Config

ALLOCATION_WORDS = {"configured": "the trial's ratio", "optimal": "optimal ratio"}
SOURCE_WORDS = {"zero": "none", "estimate": "estimate", "upper_limit": "upper limit", "lower_limit": "lower limit",
                "config": "assumed", "no_groups": "no groups"}  # fmt: skip
METHOD_WORDS = {"pilot": "The pilot's SD", "browne": "Browne (1995): the SD's upper limit",
                "sim_lewis": "Sim & Lewis (2012): inflation factor",
                "julious_owen": "Julious & Owen (2006): power averaged over the SD"}  # fmt: skip


def _f(v: Any, d: int) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return ""
    return f"{x:,.{d}f}" if math.isfinite(x) else ("" if math.isnan(x) else "not reached")


def _ratio(k: Any) -> str:
    x = float(k)
    return "" if not math.isfinite(x) else (f"{x:.0f}:1" if x.is_integer() else f"{x:.2f}:1")


def _men(v: Any) -> str:
    return _f(v, 0)


def _arm_labels(cfg: Config) -> tuple[str, str]:
    """The arms' columns: by role, not by label, so that the open part of a committee's report, which names
    no arm, can show them (the intervention arm is the one delivered in groups)."""
    return "Intervention arm", "Control arm"


def _arms(cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.digits
    itv, ctl = _arm_labels(cfg)
    return pd.DataFrame({
        "Outcome": [outcome_words(cfg, o) for o in df["outcome"]],
        "Allocation": [f"{ALLOCATION_WORDS.get(str(a), str(a))} {_ratio(k)}" for a, k in
                       zip(df["allocation"], df["ratio"], strict=True)],
        "Basis": [str(b).capitalize() for b in df["basis"]],
        "Design effect": [_f(v, d) for v in df["design_effect"]],
        itv: [_men(v) for v in df["n_intervention"]],
        ctl: [_men(v) for v in df["n_control"]],
        "In all": [_men(v) for v in df["n_total"]],
    })  # fmt: skip


def _sd(cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.digits
    itv, ctl = _arm_labels(cfg)
    return pd.DataFrame({
        "Outcome": [outcome_words(cfg, o) for o in df["outcome"]],
        "Way": [METHOD_WORDS.get(str(m), str(m)) for m in df["method"]],
        "SD": [_f(v, 3) for v in df["sd"]],
        "Standardised effect": [_f(v, d) for v in df["standardised_effect"]],
        "Men per arm (t test)": [_f(v, 1) for v in df["n_per_arm"]],
        itv: [_men(v) for v in df["n_intervention"]],
        ctl: [_men(v) for v in df["n_control"]],
        "In all": [_men(v) for v in df["n_total"]],
    })  # fmt: skip


def _sensitivity(cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.digits
    return pd.DataFrame({
        "Outcome": [outcome_words(cfg, o) for o in df["outcome"]],
        "ICC": [f"{_f(v, 3)} ({SOURCE_WORDS.get(str(s), str(s))})" for s, v in
                zip(df["icc_source"], df["icc"], strict=True)],
        "SD": [f"{_f(v, 3)} ({SOURCE_WORDS.get(str(s), str(s))})" for s, v in
               zip(df["sd_source"], df["sd"], strict=True)],
        "Retention": [f"{_f(100 * float(v), cfg.reporting.percent_digits)}% ({SOURCE_WORDS.get(str(s), str(s))})"
                      for s, v in zip(df["retention_source"], df["retention"], strict=True)],
        "Design effect": [_f(v, d) for v in df["design_effect"]],
        "In all, the trial's ratio": [_men(v) for v in df["n_total"]],
        "In all, optimal ratio": [_men(v) for v in df["n_total_optimal"]],
    })  # fmt: skip


def _forecast(cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
    rows: list[tuple[str, str]] = []
    for r in df.to_dict("records"):
        model = ("one rate shared by every site" if r["model"] == "common_rate"
                 else f"site rates Gamma({_f(r['alpha'], 2)}, {_f(r['beta'], 2)})")  # fmt: skip
        rows += [
            ("Men to randomise (the size at the trial's ratio)", _men(r["target"])),
            ("Sites (pilot sites behind the rates)", f"{r['sites']} ({r['pilot_sites']})"),
            ("Men per site-month at an average site", f"{_f(r['mean_rate'], 2)} ({model})"),
            ("Months to the target: median", _f(r["median_months"], 1)),
            ("80% predictive interval", f"{_f(r['lower80'], 1)} to {_f(r['upper80'], 1)}"),
            ("95% predictive interval", f"{_f(r['lower95'], 1)} to {_f(r['upper95'], 1)}"),
        ]
        if r["start"]:
            rows.append(("First site opens", str(r["start"])))
        p = r["probability_by_deadline"]
        if r["deadline"] and isinstance(p, float) and not math.isnan(p):
            rows.append((f"Probability of reaching the target by {r['deadline']}",
                         f"{_f(100 * p, cfg.reporting.percent_digits)}%"))  # fmt: skip
    return pd.DataFrame(rows, columns=["Quantity", "Value"])


def _ratio_words(cfg: Config) -> str:
    from advance_trial.config.arms import allocation_ratio, ratio_text

    return ratio_text(allocation_ratio(cfg))


#: The footnotes of each planning table, in the display's words.
PLAN_NOTES: dict[str, Callable[[Config, pd.DataFrame], tuple[str, ...]]] = {
    "plan_arms": lambda cfg, df: (
        f"Ratio: intervention to control; the trial's: its arms' ratios ({_ratio_words(cfg)}); optimal: the square "
        "root of the intervention arm's design effect (Moerbeek & Wong 2008), 1:1 without clustering.",
        "For the precision of n0 men per arm without clustering (the t test's size after the ANCOVA reduction), "
        "at the ratio k: control n0 (D / k + 1) / 2, intervention k times that, each divided by retention and "
        "rounded up. Conservative: the plan's conservative values.",
    ),
    "plan_sd": lambda cfg, df: (
        "Men per arm for a two-sided two-sample t test, not rounded, by each way of using the pilot's SD; then "
        f"reduced by ANCOVA, the intervention arm inflated by its design effect, both divided by retention, at the "
        f"trial's ratio {_ratio_words(cfg)}. Standardised effect: the target difference over the SD used.",
    ),
    "plan_sensitivity": lambda cfg, df: (
        f"Men to randomise in all at the trial's ratio {_ratio_words(cfg)} and at the optimal ratio for each design "
        "effect, over the ICC (0, its estimate, its upper limit and the values the config names), the SD "
        "(estimate, one-sided upper limit) and retention (estimate, lower limit); the ANCOVA reduction at its "
        "estimate.",
        *moves_most_text(cfg, df),
    ),
    "recruitment_forecast": lambda cfg, df: (
        "Months to randomise the trial's men: median and predictive intervals of a Poisson-gamma model of the "
        "pilot's sites' men and recruiting months (Anisimov & Fedorov 2007), computed exactly (a negative binomial "
        "convolution over the sites); a pilot site keeps its own rate, a new site takes the fitted distribution.",
    ),
}
#: Each planning table's display builder and how many leading columns identify a row.
PLAN_BUILDERS: dict[str, tuple[Callable[[Config, Any, pd.DataFrame], pd.DataFrame], int]] = {
    "plan_arms": (lambda cfg, L, df: _arms(cfg, df), 3),
    "plan_sd": (lambda cfg, L, df: _sd(cfg, df), 2),
    "plan_sensitivity": (lambda cfg, L, df: _sensitivity(cfg, df), 4),
    "recruitment_forecast": (lambda cfg, L, df: _forecast(cfg, df), 1),
}
