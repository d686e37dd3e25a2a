"""The contract tables, declared: each display's CSV table as a pivot of its results rows.

One :class:`~advance_trial.output.display_spec.Shape` per table an analysis hands rows to: its title,
its CSV columns in the contract's order, its :class:`~advance_trial.results.layout.Layout` (which columns
are breakdowns, the variable, its level and the interval method) and its footnotes. Each is the ``shape``
of its table's display declaration (:data:`advance_trial.output.displays.DISPLAYS`; kept here so that
module reads as how the tables look), and :func:`advance_trial.output.pivots.table_of` makes the table
from the rows. A new table declares its shape inline in its declaration (docs/displays.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advance_trial.config.arms import allocation_ratio, ratio_text
from advance_trial.config.models import Config
from advance_trial.output.display_spec import Shape
from advance_trial.results.layout import Layout
from advance_trial.tabulate import ALL

DOSE_MEASURES = ("compulsory_sessions", "sessions", "hours", "compulsory_percent")
OUTCOME_COLUMNS = (
    "outcome", "timepoint", "analysis", "effect", "estimate", "ci_lower", "ci_upper", "n_analysed",
    "comparison", "n_intervention", "n_control", "se", "df", "ci_method", "threshold", "note", "status", "reason",
)  # fmt: skip
RETENTION_COLUMNS = ("timepoint", "arm", "site", "cycle", "n_randomised", "n_retained", "proportion", "ci_lower",
                     "ci_upper", "ci_method", "n_outside_window")  # fmt: skip
BASELINE_COLUMNS = ("variable", "level", "arm", "n", "n_level", "proportion", "mean", "sd", "median", "q1", "q3",
                    "std_difference")  # fmt: skip


def _ci(cfg: Config) -> str:
    from advance_trial.intervals import describe

    return describe(cfg.reporting.proportion_ci, cfg.reporting.ci_level)


def _compulsory(cfg: Config) -> int:
    return sum(p.compulsory for p in cfg.session_plan())


def _offered(cfg: Config) -> str:
    return cfg.schedule.arm if cfg.schedule else "-"


def _windows(cfg: Config) -> str:
    return "; ".join(f"{t.id}: due week {t.week:g}, window {t.window_weeks[0]:+g} to {t.window_weeks[1]:+g} weeks"
                     for t in cfg.timepoints if t.week > 0 and t.window_weeks is not None)  # fmt: skip


def _baseline_notes(cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
    notes: tuple[str, ...] = (
        "Continuous: mean (SD) and median [Q1, Q3] (R's quantile type 7) of the men with the value known; "
        "categorical: n (%) of the men with the value known; 'missing' counts the men without it.",
        "No p-values: baseline differences between randomised arms are due to chance (CONSORT).",
    )
    if cfg.baseline_table is not None and cfg.baseline_table.standardised_differences:
        notes += ("std_difference: absolute standardised difference between the arms (tableone's; Yang and Dalton's "
                  "form for categorical variables), on each variable's first row.",)  # fmt: skip
    return notes


def _outcome_notes(cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
    level = f"{cfg.reporting.ci_level:.0%}"
    if cfg.trial.design == "single_arm":
        return (f"{level} paired t intervals of the mean change from baseline (follow-up minus baseline), men with "
                "both.",)  # fmt: skip
    return (f"{level} intervals; method per row (ci_method). Effects are intervention minus (or over) control; "
            "complete cases unless the analysis is multiple_imputation; n_analysed counts the men in the model.",
            "cace: complier average causal effect for the named dose threshold, beside the intention-to-treat "
            "estimate, never instead of it.")  # fmt: skip


def _progression_notes(cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
    from advance_trial.results.words import probability_all_text

    return (f"Intervals: {_ci(cfg)}; denominators as in each metric's table (recruitment: men eligible; retention: "
            "men randomised; dose: men randomised to the arm offered sessions; partners: partners who consented). "
            "Judged on the estimate, or on the interval's lower bound where judge_on says so (Lewis et al. 2021).",
            "Outcome criteria take the outcome's first analysis; its interval method is named in ci_method.",
            "not_evaluated: the metric has no estimate (no denominator, or no outcome analysis).",
            "probability_met: the posterior probability that a proportion criterion is met, Beta(1, 1) prior unless "
            "the criterion names one (a traffic light: green, with each zone's probability beside it).",
            probability_all_text(df))  # fmt: skip


_PROGRESSION = ("criterion", "label", "metric", "estimate", "ci_lower", "ci_upper", "ci_method", "judge_on", "rule",
                "status", "probability_met", "probability_green", "probability_amber", "probability_red",
                "probability_note")  # fmt: skip

RECRUITMENT = Shape(
    lambda cfg: f"Recruitment: men {cfg.entered} of men eligible",
    ("site", "n_screened", "n_eligible", "n_randomised", "proportion", "ci_lower", "ci_upper", "ci_method"),
    Layout(("site",), "=randomised", method="ci_method"),
    lambda cfg, df: (
        f"Proportion = men {cfg.entered} / men eligible at screening; {_ci(cfg)}.",
        "Eligible men include those who declined or were not randomised.",
    ),
)
ALLOCATION = Shape(
    "Allocation by site and arm",
    ("site", "arm", "n"),
    Layout(("site", "arm"), "=randomised"),
    (f"Counts of men randomised (no intervals); '{ALL}' rows are totals.",),
)
CONSORT = Shape(
    "CONSORT flow",
    ("stage", "arm", "detail", "n"),
    Layout(("arm",), "stage", "detail"),
    (
        "Counts of men at each stage (no intervals). met_threshold rows annotate the flow (men meeting each dose "
        "threshold); they are not subtracted from it.",
        "not followed up includes completions outside the timepoint's window.",
        "analysed: men in each outcome's complete-case analysis (n_analysed in the outcome analyses).",
    ),
)
RECRUITMENT_MONTHLY = Shape(
    lambda cfg: f"Men {cfg.entered} per site per recruiting month",
    ("site", "month", "n_randomised", "cumulative"),
    Layout(("site",), "=randomised", "month"),
    (
        "A site's recruiting months run from the month of its first man to that of its last; months without a man "
        "are zeros; 'all' is the trial's, from its first man to its last.",
    ),
)
RECRUITMENT_RATE = Shape(
    "Recruitment rate per site-month",
    (
        "site",
        "n_randomised",
        "site_months",
        "rate",
        "ci_lower",
        "ci_upper",
        "ci_method",
        "definitive_n",
        "definitive_sites",
        "months_needed",
        "months_ci_lower",
        "months_ci_upper",
    ),
    Layout(("site",), "=rate_per_site_month", method="ci_method"),
    lambda cfg, df: (
        f"Rate = men / recruiting site-months; {cfg.reporting.ci_level:.0%} exact Poisson interval (as R's "
        "poisson.test).",
        "months_needed: the definitive trial's men (the plan's total, else trial.target_sample_size) over the "
        "observed rate times its sites (planning.sites, else this trial's); the interval from the rate's.",
    ),
)
RETENTION = Shape(
    "Retention: men followed up within the window",
    RETENTION_COLUMNS,
    Layout(("arm", "site", "cycle"), "=retained", "timepoint", "ci_method"),
    lambda cfg, df: (
        f"Proportion = men completing follow-up within the window / men randomised; {_ci(cfg)}.",
        f"Completions outside the window are counted in n_outside_window, not as retained. {_windows(cfg)}".strip(),
    ),
)
RETENTION_REASONS = Shape(
    "Follow-up outcome by arm",
    ("timepoint", "arm", "state", "n", "n_randomised", "proportion"),
    Layout(("timepoint", "arm"), "=followup_state", "state"),
    (
        "Proportion = men in each state / men randomised to the arm (no intervals).",
        "unknown: no follow-up record, or no status recorded.",
    ),
)
RETENTION_DIFFERENCE = Shape(
    "Difference in retention between arms",
    (
        "timepoint",
        "arm",
        "comparator",
        "n_arm",
        "n_retained_arm",
        "n_comparator",
        "n_retained_comparator",
        "estimate",
        "ci_lower",
        "ci_upper",
        "ci_method",
    ),
    Layout(("arm", "comparator"), "=retained", "timepoint", "ci_method", contrast=True),
    lambda cfg, df: (
        f"Estimate = retention in arm minus comparator; {100 * cfg.reporting.ci_level:g}% Newcombe "
        "hybrid score interval (Newcombe 1998, method 10).",
    ),
)
PARTNER_RETENTION = Shape(
    "Partner follow-up (aggregates only)",
    RETENTION_COLUMNS,
    Layout(("arm", "site", "cycle"), "=partner_retained", "timepoint", "ci_method"),
    lambda cfg, df: (f"n_randomised here counts partners who consented; arm and site are the man's. {_ci(cfg)}.",),
)
PARTNER_CONTACT = Shape(
    "Partner contact (aggregates only)",
    ("arm", "site", "n_partners", "n_contacted", "proportion", "ci_lower", "ci_upper", "ci_method"),
    Layout(("arm", "site"), "=partner_contacted", method="ci_method"),
    lambda cfg, df: (f"Proportion = partners contacted / partners identified; {_ci(cfg)}.",),
)
DOSE = Shape(
    "Men meeting each dose threshold",
    (
        "threshold",
        "rule",
        "arm",
        "cycle",
        "site",
        "n",
        "n_met",
        "proportion",
        "ci_lower",
        "ci_upper",
        "ci_method",
        "median_sessions",
        "q1_sessions",
        "q3_sessions",
        "median_hours",
        "q1_hours",
        "q3_hours",
    ),
    Layout(("arm", "cycle", "site"), "threshold", method="ci_method"),
    lambda cfg, df: (
        f"Denominator (n): men randomised to {_offered(cfg)}, whether or not they attended; {_ci(cfg)}.",
        f"median_sessions: compulsory sessions attended (of {_compulsory(cfg)}); median_hours: hours attended, all "
        "sessions; quartiles by linear interpolation (R type 7).",
    ),
)
DOSE_SUMMARY = Shape(
    "Dose: medians and quartiles",
    ("by", "level", "n", *(f"{q}_{m}" for m in DOSE_MEASURES for q in ("median", "q1", "q3"))),
    Layout((("by", "level"),), "=dose"),
    lambda cfg, df: (
        f"Over men randomised to {_offered(cfg)}; compulsory_percent is of {_compulsory(cfg)} compulsory sessions; "
        "group: the man's therapy group (men who attended no group session have none); quartiles by linear "
        "interpolation (R type 7).",
    ),
)
DOSE_DISTRIBUTION = Shape(
    "Compulsory sessions attended",
    ("cycle", "compulsory_sessions", "n"),
    Layout(("cycle",), "=compulsory_sessions", "compulsory_sessions"),
    lambda cfg, df: (
        f"Men randomised to {_offered(cfg)}, by the number of compulsory sessions attended (counts; no intervals).",
    ),
)
DOSE_PARTICIPANTS = Shape(
    "Dose per man",
    notes=("One row per man randomised to the arm offered sessions; not for sharing.",),
    markdown=False,
)
ENGAGEMENT = Shape(
    "Engagement by component of the programme",
    (
        "component",
        "label",
        "type",
        "sessions",
        "compulsory",
        "arm",
        "n",
        "n_started",
        "proportion_started",
        "ci_lower_started",
        "ci_upper_started",
        "n_completed",
        "proportion_completed",
        "ci_lower_completed",
        "ci_upper_completed",
        "ci_method",
        "median_attended",
        "q1_attended",
        "q3_attended",
    ),
    Layout(("arm",), "component", method="ci_method"),
    lambda cfg, df: (
        "Started: attended at least one of the component's sessions; completed: attended all of them; of the men "
        f"{cfg.entered + ('' if cfg.trial.design == 'single_arm' else ' to the arm offered sessions')}, whether or "
        f"not they attended; {_ci(cfg)}. Sessions attended: median and quartiles (R type 7).",
    ),
    {"compulsory": bool},
)
BASELINE = Shape(
    "Baseline characteristics by arm",
    BASELINE_COLUMNS,
    Layout(("arm",), "variable", "level"),
    _baseline_notes,
    {"n": "Int64", "n_level": "Int64", **{c: float for c in BASELINE_COLUMNS[5:]}},
)
HARMS = Shape(
    "Adverse events and partner safety incidents",
    ("about", "category", "arm", "n", "n_with_event", "proportion", "events"),
    Layout(("about", "arm"), "category"),
    (
        "n_with_event: men (or partners) with at least one event of the category; proportion of n, the men "
        "randomised to the arm (partners: those identified, by their man's arm); events: how many events.",
        "Partner safety incidents are aggregates only: no incident is listed.",
    ),
    {"n": int, "n_with_event": int, "events": int},
)
OUTCOMES = Shape(
    "Outcome analyses",
    lambda cfg: OUTCOME_COLUMNS + (("p_value",) if cfg.analysis.p_values else ()),
    Layout(("analysis", "effect", "threshold"), "outcome", "timepoint", "ci_method", contrast=True),
    _outcome_notes,
)
SCORES = Shape(
    "Scored questionnaires (men)",
    notes=("Prorated scores; missing when more items are missing than max_missing_items.",),
    markdown=False,
)
CHANGE = Shape(
    "Change from baseline within each arm",
    (
        "outcome",
        "timepoint",
        "arm",
        "n",
        "mean_baseline",
        "mean_followup",
        "estimate",
        "ci_lower",
        "ci_upper",
        "ci_method",
        "status",
        "reason",
    ),
    Layout(("arm",), "outcome", "timepoint", "ci_method"),
    lambda cfg, df: (
        f"Change = follow-up minus baseline, mean over the men with both measures, with its "
        f"{100 * cfg.reporting.ci_level:g}% paired t interval (R: t.test(y - base)); within each arm, not a "
        "comparison between arms.",
    ),
    {"n": np.int64},
)
PROGRESSION = Shape(
    "Progression criteria", _PROGRESSION, Layout((), "criterion", method="ci_method"), _progression_notes
)
PLAN = Shape(
    "Planning the definitive trial",
    ("outcome", "step", "quantity", "estimate", "conservative", "note"),
    Layout(("step",), "outcome", "quantity"),
    (
        "Men per arm for a two-sided two-sample t test (as R's power.t.test), reduced by ANCOVA (1 - r^2), the "
        "intervention arm inflated by the design effect of its therapy groups, both divided by retention.",
        "conservative: the SD's one-sided upper limit (Browne 1995; Sim & Lewis 2012), r's lower limit, the "
        "ICC's upper limit and retention's lower limit.",
    ),
)


def _ratio(cfg: Config) -> str:
    return ratio_text(allocation_ratio(cfg))


def _sd_notes(cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
    confidence = cfg.planning.sd_confidence if cfg.planning is not None else float("nan")
    return (f"n_per_arm: men per arm for a two-sided t test, not rounded; one-sided {confidence:.0%} limits. Each is "
            "then reduced by the ANCOVA factor, the intervention arm inflated by its design effect and both divided "
            f"by retention (the estimates), at the configured ratio {_ratio(cfg)}.",
            "standardised_effect: the target difference over the SD used (Julious & Owen's and Sim & Lewis's use the "
            "pilot's SD).")  # fmt: skip


def _sensitivity_notes(cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
    from advance_trial.results.words import moves_most_text

    return (f"Men at the configured ratio {_ratio(cfg)} (n_total) and at the optimal ratio for each design effect "
            "(n_total_optimal) over the ICC (0, the estimate, its upper limit and planning.icc_values), the SD "
            "(estimate, one-sided upper limit) and retention (estimate, lower limit); the ANCOVA factor at its "
            "estimate.", *moves_most_text(cfg, df))  # fmt: skip


def _forecast_notes(cfg: Config, df: pd.DataFrame) -> tuple[str, ...]:
    if df.empty:
        return ()
    r = df.iloc[0]
    start = r["start"] if isinstance(r["start"], str) else ""
    what = ("a common rate for every site (the pilot's sites vary no more than Poisson counts)"
            if r["model"] == "common_rate" else "rates varying between sites as Gamma(alpha, beta)")  # fmt: skip
    return (f"Months from the first site's opening{f' ({start})' if start else ''} to randomise {r['target']} men "
            "(the size at the configured ratio): median and 80% and 95% predictive intervals; Poisson-gamma model "
            f"(Anisimov & Fedorov 2007) fitted by maximum likelihood to the pilot's {r['pilot_sites']} sites' men and "
            f"recruiting months, {what}; exact negative binomial convolution.",
            "alpha, beta: the Gamma distribution of a site's men per month (shape, rate); a pilot site keeps its own "
            "posterior rate.")  # fmt: skip


PLAN_ARMS = Shape(
    "Men per arm at the trial's allocation ratio and at the optimal ratio",
    ("outcome", "allocation", "basis", "ratio", "design_effect", "n_control", "n_intervention", "n_total"),
    Layout(("allocation", "basis"), "outcome"),
    lambda cfg, df: (
        f"ratio: intervention : control; configured: the arms' ratios ({_ratio(cfg)}); optimal: the square root of "
        "the intervention arm's design effect (Moerbeek & Wong 2008), 1:1 without clustering.",
        "For the precision of n0 men per arm unclustered (the t test's size after ANCOVA): control n0 (D / k + 1) / 2, "
        "intervention k times that, each divided by retention and rounded up; conservative: the plan's conservative "
        "n0, design effect and retention.",
    ),
)  # fmt: skip
PLAN_SD = Shape(
    "Four ways to use the pilot's SD",
    ("outcome", "method", "reference", "sd", "df", "standardised_effect", "n_per_arm", "n_control", "n_intervention",
     "n_total"),
    Layout(("method",), "outcome"),
    _sd_notes,
)  # fmt: skip
PLAN_SENSITIVITY = Shape(
    "Sensitivity of the definitive trial's size",
    ("outcome", "icc_source", "icc", "sd_source", "sd", "retention_source", "retention", "design_effect", "n_control",
     "n_intervention", "n_total", "n_total_optimal"),
    Layout(("icc_source", "sd_source", "retention_source"), "outcome", "icc"),
    _sensitivity_notes,
    {"icc": float},
)  # fmt: skip
RECRUITMENT_FORECAST = Shape(
    "Recruitment forecast for the definitive trial",
    ("target", "model", "alpha", "beta", "mean_rate", "pilot_sites", "sites", "start", "median_months", "lower80",
     "upper80", "lower95", "upper95", "deadline", "deadline_months", "probability_by_deadline"),
    Layout((), "=months_to_target"),
    _forecast_notes,
)  # fmt: skip
RECRUITMENT_FORECAST_BANDS = Shape(
    "Predicted cumulative recruitment",
    ("target", "month", "median", "lower80", "upper80", "lower95", "upper95", "deadline_months"),
    Layout((), "=randomised", "month"),
    dtypes={"month": float},
    notes_from="recruitment_forecast",
)  # fmt: skip
