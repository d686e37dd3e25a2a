"""Every display table, declared: how it reads, and what a blinded or a shareable run does with it.

One :class:`~advance_trial.output.display_spec.Display` per table of the results data set
(:data:`DISPLAYS`). A display is the table's pivot (:func:`advance_trial.output.ard.pivot`) laid out
by its declaration (:func:`advance_trial.output.display.display`); the CSV tables keep their
contract columns, unrounded. What a blinded or shareable run withholds, keeps or coarsens, and whom
each count counts for the disclosure audit, is declared here beside the table, so that
:mod:`advance_trial.output.disclosure`, :mod:`~advance_trial.output.disclosure_cells` and
:mod:`~advance_trial.output.sdc` name no table. docs/displays.md shows how a table is added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output import display_rules as rules
from advance_trial.output import shapes
from advance_trial.output.display_plan import PLAN_BUILDERS, PLAN_NOTES
from advance_trial.output.display_spec import (
    Blinded,
    ByArm,
    Column,
    Context,
    Count,
    Display,
    Estimate,
    Label,
    Median,
    Proportion,
    Record,
    Result,
    Shape,
    Share,
    Shareable,
    Subgroup,
)
from advance_trial.output.formats import (
    ANALYSIS_LABELS,
    EFFECT_LABELS,
    STATUS_LABELS,
    comparison,
    count,
    estimate,
    is_missing,
    methods_worded,
    num,
    rule,
    share,
    timepoints_worded,
)
from advance_trial.results.layout import Layout
from advance_trial.tabulate import ALL

PCT_CI = "n/N (%; 95% CI)"
_QUARTILES = "median [Q1, Q3] (quartiles by linear interpolation, R's quantile type 7)"
#: A blinded run shows nothing of it; a shareable run, nothing of it.
WITHHELD = Blinded(withheld=True)
NOT_SHARED = Shareable(withheld=True)


def _ci(cfg: Config) -> str:
    from advance_trial.intervals import describe

    return describe(cfg.reporting.proportion_ci, cfg.reporting.ci_level)


def _level(cfg: Config) -> str:
    return f"{100 * cfg.reporting.ci_level:g}%"


def _offered(cfg: Config) -> str:
    return cfg.arm(cfg.schedule.arm).label if cfg.schedule is not None else "the arm offered sessions"


def _who(cfg: Config) -> str:
    return f"{cfg.entered} {'in' if cfg.trial.design == 'single_arm' else 'to'}"


def _windows(cfg: Config) -> str:
    return "; ".join(f"{t.label or t.id}: due week {t.week:g}, window {t.window_weeks[0]:+g} to "
                     f"{t.window_weeks[1]:+g} weeks" for t in cfg.timepoints
                     if t.week > 0 and t.window_weeks is not None)  # fmt: skip


def _compulsory(cfg: Config) -> int:
    return sum(s.count for s in cfg.schedule.sessions if s.compulsory) if cfg.schedule is not None else 0


def medians_repeat(df: pd.DataFrame) -> bool:
    """Whether the dose table's medians of sessions and hours (over all the men of a row's arm, site or
    cycle, whatever the threshold) repeat for every threshold."""
    cols = ["median_sessions", "q1_sessions", "q3_sessions", "median_hours", "q1_hours", "q3_hours"]
    if "threshold" not in df or df["threshold"].nunique() < 2 or not set(cols) <= set(df):
        return False
    keys = [c for c in ("arm", "site", "cycle") if c in df]
    # each row's medians and quartiles are one set of values for every threshold: one distinct row per key
    return not bool(df[keys + cols].drop_duplicates().duplicated(keys).any())


def _all_met(df: pd.DataFrame) -> str:
    from advance_trial.results.words import probability_all_text

    return probability_all_text(df, display=True)


# --- cells a table words in its own way -------------------------------------------------------------------


def _site_months(r: Record, x: Context) -> str:
    v = r["site_months"]
    return num(v, 0) if not is_missing(v) and float(v).is_integer() else num(v, 1)


def _months_head(x: Context) -> str:
    n, sites = x.frame["definitive_n"].iloc[0], x.frame["definitive_sites"].iloc[0]
    return f"Months to randomise {count(n)} men at {count(sites)} sites (95% CI)"


def _has_months(x: Context) -> bool:
    return "months_needed" in x.frame and bool(x.frame["months_needed"].notna().any())


def _part(k: str, n: str) -> Any:
    def cell(r: Record, x: Context) -> str:
        kv, nv = r[k], r[n]
        p = float(kv) / float(nv) if not isinstance(kv, str) and not isinstance(nv, str) and nv else float("nan")
        return share(kv, p, x.digits("percent")) + f" of {count(nv)}"

    return cell


def _men_of_summary(r: Record, x: Context) -> str:
    by, v = str(r["by"]), r["level"]
    if by == "all":
        return "All men"
    if by == "site":
        return x.labels.site(v)
    if by == "cycle":
        return f"Cycle {v}"
    if by == "group":
        return x.group_words.get(str(v), "Group")
    return str(v)


def _has(column: str) -> Callable[[Context], bool]:
    return lambda x: column in x.frame


def _summary_medians() -> tuple[Column, ...]:
    out = []
    for measure, head in (("compulsory_sessions", "Compulsory sessions"), ("sessions", "Sessions"),
                          ("hours", "Hours"), ("compulsory_percent", "% of compulsory sessions")):  # fmt: skip
        out.append(Column(f"{head}, median [Q1, Q3]", Median(f"median_{measure}", f"q1_{measure}", f"q3_{measure}"),
                          shown=_has(f"median_{measure}")))  # fmt: skip
    return tuple(out)


def _offered_sessions(r: Record, x: Context) -> str:
    return count(r["sessions"]) + ("" if bool(r["compulsory"]) else " (optional)")


def _analysis(r: Record, x: Context) -> str:
    text = ANALYSIS_LABELS.get(str(r["analysis"]), str(r["analysis"]).replace("_", " "))
    threshold = r.get("threshold", "")
    return f"{text} ({x.labels.thresholds.get(str(threshold), str(threshold))})" if isinstance(threshold, str) and \
        threshold else text  # fmt: skip


def _analysed(r: Record, x: Context) -> str:
    split = [r.get(c) for c in ("n_intervention", "n_control")]
    inner = " / ".join(count(v) for v in split) if not any(is_missing(v) for v in split) else ""
    return f"{count(r['n_analysed'])} ({inner})" if inner else count(r["n_analysed"])


def _harm(r: Record, x: Context) -> str:
    # "events 1", never "1 event" beside "2 events": a word that changes with the count would be data
    return f"{share(r['n_with_event'], r['proportion'], x.digits('percent'))}; events {count(r['events'])}"


def _criterion_value(r: Record, x: Context) -> str:
    metric = str(r["metric"])
    if metric == "qualitative":
        return "judged (see the rule)"
    if metric.startswith(("outcome.", "change.")) or metric.endswith("per_site_month"):
        return estimate(r["estimate"], r["ci_lower"], r["ci_upper"], x.digits("digits"))
    return estimate(r["estimate"], r["ci_lower"], r["ci_upper"], x.digits("percent"), 100.0, "%")


def _plan_value(col: str) -> Any:
    def cell(r: Record, x: Context) -> str:
        v = r[col]
        if not is_missing(v) and not isinstance(v, str) and float(v).is_integer():
            return count(v)
        return num(v, x.digits("digits"))

    return cell


def _baseline(x: Context) -> pd.DataFrame:
    from advance_trial.output.display_baseline import baseline_frame

    return baseline_frame(x.cfg, x.frame)


def _plan(name: str, shape: Shape) -> Display:
    build, keys = PLAN_BUILDERS[name]
    return Display(build=lambda x: build(x.cfg, x.labels, x.frame), keys=keys, footnotes=PLAN_NOTES.get(name, ()),
                   blinded=WITHHELD, shape=shape)  # fmt: skip


_SITE = Column("Site", Label("site", "site"))
_TIMEPOINT = Column("Timepoint", Label("timepoint", "timepoint"))
_SUBGROUP = Column("Site or cycle", Subgroup())
_OUTCOME = Column("Outcome", Label("outcome", "outcome"))
_RETENTION = ByArm((_TIMEPOINT, _SUBGROUP), Proportion("n_retained", "n_randomised"))

#: Every display table, in the order the disclosure audit lists their counts.
DISPLAYS: dict[str, Display] = {
    "allocation": Display(
        shape=shapes.ALLOCATION,
        by_arm=ByArm((_SITE,), Count("n")),
        footnotes=("Men randomised, by site and arm.",),
        counts=rules.ALLOCATION,
        complete=("arm", "site"),
    ),
    "retention": Display(
        shape=shapes.RETENTION,
        by_arm=_RETENTION,
        keys=2,
        footnotes=lambda cfg, df: (
            f"Men followed up within the window of the men randomised, n/N (%; {_ci(cfg)}). Follow-ups completed "
            "outside the window are not counted as followed up (they are shown with the reasons for loss).",
            *((_windows(cfg) + ".",) if _windows(cfg) else ()),
        ),
        counts=rules.retention("men"),
    ),  # fmt: skip
    "retention_reasons": Display(
        shape=shapes.RETENTION_REASONS,
        by_arm=ByArm((_TIMEPOINT, Column("Follow-up", Label("state", "state"))), Share("n"), size="n_randomised"),
        keys=2,
        footnotes=("Men in each follow-up state, n (% of the men randomised to the arm).",),
        counts=rules.RETENTION_REASONS,
    ),
    "retention_difference": Display(
        shape=shapes.RETENTION_DIFFERENCE,
        columns=(
            _TIMEPOINT,
            Column("Comparison", lambda r, x: f"{x.labels.arm(r['arm'])} vs {x.labels.arm(r['comparator'])}"),
            Column("Followed up, arm", _part("n_retained_arm", "n_arm")),
            Column("Followed up, comparator", _part("n_retained_comparator", "n_comparator")),
            Column("Difference, percentage points (95% CI)", Estimate(digits="percent", scale=100.0)),
        ),
        keys=2,
        footnotes=lambda cfg, df: (
            "Followed up: n (%) of the men randomised to each arm. Difference: the percentage followed up in the "
            f"arm minus the comparator's, in percentage points, with the {_level(cfg)} Newcombe hybrid score "
            "interval (Newcombe 1998, method 10).",
        ),
        counts=rules.RETENTION_DIFFERENCE,
    ),  # fmt: skip
    "dose": Display(
        shape=shapes.DOSE,
        columns=(
            Column("Threshold", Label("threshold", "threshold")),
            Column("Arm", Label("arm", "arm"), shown=lambda x: x.frame["arm"].nunique() > 1),
            _SUBGROUP,
            Column(f"Men meeting it, {PCT_CI}", Proportion("n_met", "n")),
            Column(
                "Sessions, median [Q1, Q3]",
                Median("median_sessions", "q1_sessions", "q3_sessions"),
                shown=lambda x: not medians_repeat(x.frame),
            ),
            Column(
                "Hours, median [Q1, Q3]",
                Median("median_hours", "q1_hours", "q3_hours"),
                shown=lambda x: not medians_repeat(x.frame),
            ),
        ),
        keys=2,
        footnotes=lambda cfg, df: (
            f"Men meeting each threshold of the men randomised to {_offered(cfg)}, whether or not they attended, "
            f"n/N (%; {_ci(cfg)})."
            + (
                " Sessions and hours attended: medians and quartiles in the next table (they do not depend on the "
                "threshold)."
                if medians_repeat(df)
                else f" Sessions (all sessions) and hours attended: {_QUARTILES}."
            ),
        ),
        blinded=WITHHELD,
        shareable=Shareable(coarse=lambda d: (d["cycle"].astype(str) == ALL) & (d["site"].astype(str) == ALL)),
        counts=rules.DOSE,
        knows=rules.dose_knows,
    ),  # fmt: skip
    "dose_summary": Display(
        shape=shapes.DOSE_SUMMARY,
        columns=(Column("Men", _men_of_summary), Column("n", Count("n")), *_summary_medians()),
        footnotes=lambda cfg, df: (
            f"Sessions and hours attended by the men randomised to {_offered(cfg)}: {_QUARTILES}; % of compulsory "
            f"sessions: of the {_compulsory(cfg)} compulsory sessions. Groups: the man's therapy group (men who "
            "attended no group session have none).",
        ),
        blinded=WITHHELD,
        shareable=Shareable(coarse=lambda d: d["by"] == ALL),
        counts=rules.DOSE_SUMMARY,
    ),  # fmt: skip
    "consort": Display(
        shape=shapes.CONSORT,
        blinded=Blinded(rows=rules.consort_blinded),
        shareable=Shareable(recode=rules.consort_coded),
        counts=rules.CONSORT,
        knows=rules.consort_knows,
    ),
    "recruitment": Display(
        shape=shapes.RECRUITMENT,
        columns=(
            _SITE,
            Column("Screened", Count("n_screened")),
            Column("Eligible", Count("n_eligible")),
            Column(f"Randomised of eligible, {PCT_CI}", Proportion("n_randomised", "n_eligible")),
        ),
        footnotes=lambda cfg, df: (
            "Men randomised of the men eligible at screening (including those who declined or were not "
            f"randomised), n/N (%; {_ci(cfg)}).",
        ),
        counts=rules.RECRUITMENT,
    ),  # fmt: skip
    "partner_retention": Display(
        shape=shapes.PARTNER_RETENTION,
        by_arm=_RETENTION,
        keys=2,
        footnotes=lambda cfg, df: (
            f"Partners followed up of the partners who consented, n/N (%; {_ci(cfg)}); arm and site are the man's. "
            "Aggregates only: no partner appears individually.",
        ),
        shareable=Shareable(coarse=lambda d: d["site"].astype(str) == ALL),
        counts=rules.retention("partners"),
    ),  # fmt: skip
    "partner_contact": Display(
        shape=shapes.PARTNER_CONTACT,
        by_arm=ByArm((_SITE,), Proportion("n_contacted", "n_partners")),
        footnotes=lambda cfg, df: (
            f"Partners contacted of the partners identified, n/N (%; {_ci(cfg)}); arm and site are the man's. "
            "Aggregates only: no partner appears individually.",
        ),
        shareable=Shareable(coarse=lambda d: d["site"].astype(str) == ALL),
        counts=rules.PARTNER_CONTACT,
    ),  # fmt: skip
    "outcomes": Display(
        shape=shapes.OUTCOMES,
        columns=(
            _OUTCOME,
            _TIMEPOINT,
            Column("Analysis", _analysis),
            Column("Effect", lambda r, x: EFFECT_LABELS.get(str(r["effect"]), str(r["effect"]))),
            Column(
                lambda x: "Men analysed" + (" (intervention / control)" if "n_intervention" in x.frame else ""),
                _analysed,
            ),
            Column("Estimate (95% CI)", Result()),
            Column("Interval", lambda r, x: str(r["ci_method"])),
        ),
        keys=4,
        footnotes=lambda cfg, df: (
            f"Estimates with {_level(cfg)} confidence intervals, the method of each in the Interval column. Effects "
            "compare "
            + "; ".join(
                dict.fromkeys(comparison(cfg, c) for c in df.get("comparison", pd.Series(dtype=str))) or ["the arms"]
            )
            + " (the first minus, or over, the second); complete cases except after multiple imputation; men "
            "analysed counts the men in the model.",
            "The complier average causal effect, for the named dose threshold, stands beside the intention-to-treat "
            "estimate, never instead of it.",
        ),
        blinded=Blinded(
            rows=rules.outcomes_blinded,
            when=rules.compares_arms,
            drop=("n_intervention", "n_control", "note", "threshold"),
            note="Blinded: comparisons are the first code minus (or over) the second; analyses defined "
            "by the intervention arm (partially nested, CACE) are withheld.",
        ),
        counts=rules.OUTCOMES,
    ),  # fmt: skip
    "baseline": Display(
        shape=shapes.BASELINE,
        build=_baseline,
        footnotes=lambda cfg, df: (
            f"Continuous: mean (SD) and {_QUARTILES}, of the men with the value known; categorical: n (%) of the "
            "men with the value known; missing: the men without it.",
            *(
                (
                    "Standardised difference: absolute, between the arms (as R's tableone; Yang and Dalton's form for "
                    "categorical variables), on each characteristic's first row.",
                )
                if cfg.baseline_table is not None
                and cfg.baseline_table.standardised_differences
                and "std_difference" in df
                else ()
            ),
            "No p-values: baseline differences between randomised arms are due to chance (CONSORT 2010, item 15).",
        ),
        # a standardised difference is a function of the arms' shares: with one of them suppressed it would let
        # a reader solve for it, so a characteristic with any suppressed count shows none
        shareable=Shareable(together=("variable", ("std_difference",))),
        counts=rules.BASELINE,
        knows=rules.baseline_knows,
    ),  # fmt: skip
    "harms": Display(
        shape=shapes.HARMS,
        by_arm=ByArm(
            (
                Column("About", lambda r, x: str(r["about"]).capitalize()),
                Column("Category", Label("category", "category")),
            ),
            _harm,
            size="n",
            sized=lambda r: str(r["about"]).capitalize() == "Men",
        ),
        keys=2,
        footnotes=(
            "Men (or partners) with at least one event of the category, n (% of the column's n: men randomised to "
            "the arm; partners: those identified, by their man's arm); events: the number of events.",
            "Partner safety incidents are aggregates only: no incident is listed.",
        ),
        blinded=Blinded(rows=rules.harms_blinded),
        counts=rules.HARMS,
        knows=rules.harms_knows,
    ),  # fmt: skip
    "engagement": Display(
        shape=shapes.ENGAGEMENT,
        columns=(
            Column("Component", lambda r, x: str(r["label"])),
            Column("Sessions offered", _offered_sessions),
            Column(
                f"Started, {PCT_CI}",
                Proportion("n_started", "n", "proportion_started", "ci_lower_started", "ci_upper_started"),
            ),
            Column(
                f"Completed, {PCT_CI}",
                Proportion("n_completed", "n", "proportion_completed", "ci_lower_completed", "ci_upper_completed"),
            ),
            Column("Sessions attended, median [Q1, Q3]", Median("median_attended", "q1_attended", "q3_attended")),
        ),
        footnotes=lambda cfg, df: (
            f"Men {_who(cfg)} {_offered(cfg)} who started each component (attended at least one of its sessions) "
            f"and who completed it (attended all of them), whether or not they attended any, n/N (%; {_ci(cfg)}). "
            f"Sessions attended: {_QUARTILES}.",
        ),
        blinded=WITHHELD,
        shareable=NOT_SHARED,  # men by component attended are not yet cells of the disclosure structure
    ),  # fmt: skip
    "change": Display(
        shape=shapes.CHANGE,
        columns=(
            _OUTCOME,
            _TIMEPOINT,
            Column("Arm", Label("arm", "arm")),
            Column("Men with both", Count("n")),
            Column("Baseline, mean", lambda r, x: num(r["mean_baseline"], x.digits("digits"))),
            Column("Follow-up, mean", lambda r, x: num(r["mean_followup"], x.digits("digits"))),
            Column("Change (95% CI)", Result()),
        ),
        keys=3,
        footnotes=lambda cfg, df: (
            f"Change: follow-up minus baseline, the mean over the men with both measures, with its {_level(cfg)} "
            "paired t interval (R: t.test(y - base)); within each arm, not a comparison between arms.",
        ),
        shareable=NOT_SHARED,  # its men with both measures by arm are not yet cells of the disclosure structure
    ),  # fmt: skip
    "progression": Display(
        shape=shapes.PROGRESSION,
        columns=(
            Column(
                "Criterion",
                lambda r, x: str(r["label"]) if isinstance(r["label"], str) and r["label"] else str(r["criterion"]),
            ),
            Column("Rule", lambda r, x: rule(x.cfg, str(r["criterion"]), str(r["rule"]))),
            Column("Estimate (95% CI)", _criterion_value),
            Column("Status", lambda r, x: STATUS_LABELS.get(str(r["status"]), str(r["status"]))),
            Column(
                "Probability met",
                lambda r, x: (
                    ""
                    if is_missing(r["probability_met"])
                    else f"{num(100.0 * float(r['probability_met']), x.digits('percent'))}%"
                ),
                shown=lambda x: "probability_met" in x.frame,
            ),
        ),
        footnotes=lambda cfg, df: (
            f"Proportions with the {_ci(cfg)}, in percent; denominators as in each metric's table (recruitment: men "
            "eligible; retention: men randomised; dose: men randomised to the arm offered sessions; partners: "
            "partners who consented); outcome criteria take the outcome's first analysis.",
            "Judged on the estimate, or on the interval's lower limit where the rule says so (Lewis et al. 2021). "
            "Not evaluated: the metric has no estimate (no denominator, or no outcome analysis).",
            *(
                (
                    "Probability met: the posterior probability that a criterion on a share of men is met (Beta(1, 1) "
                    "prior unless the criterion names one; a traffic light: green); none for rates, directions and "
                    "judgements.",
                    _all_met(df),
                )
                if "probability_met" in df
                else ()
            ),
        ),
        # an effect's or a change's criterion names the intervention arm: beside the coded tables its estimate
        # and status would say which code that is
        blinded=Blinded(rows=rules.progression_blinded),
        shareable=Shareable(after=rules.progression_shareable),
    ),  # fmt: skip
    "recruitment_rate": Display(
        shape=shapes.RECRUITMENT_RATE,
        columns=(
            _SITE,
            Column("Randomised", Count("n_randomised")),
            Column("Recruiting site-months", _site_months),
            Column("Men per site-month (95% CI)", Estimate("rate")),
            Column(_months_head, Estimate("months_needed", "months_ci_lower", "months_ci_upper", 1), shown=_has_months),
        ),
        footnotes=lambda cfg, df: (
            f"Men randomised per recruiting site-month, with the {_level(cfg)} exact Poisson interval (as R's "
            "poisson.test).",
            *(
                (
                    "Months to randomise: the definitive trial's men (the plan's total, else the trial's target sample "
                    "size) over the observed rate times its sites; the interval from the rate's.",
                )
                if "months_needed" in df and df["months_needed"].notna().any()
                else ()
            ),
        ),
        shareable=NOT_SHARED,
    ),  # fmt: skip
    # plan: its design effect is the intervention arm's ICC, which says which arm had therapy groups (and so do
    # the tables and the forecast sized from it)
    "plan": Display(
        shape=shapes.PLAN,
        columns=(
            _OUTCOME,
            Column("Quantity", lambda r, x: timepoints_worded(x.labels, str(r["quantity"]))),
            Column("Estimate", _plan_value("estimate")),
            Column("Conservative", _plan_value("conservative")),
            Column("Note", lambda r, x: "" if is_missing(r["note"]) else methods_worded(str(r["note"]))),
        ),
        keys=2,
        blinded=WITHHELD,
    ),
    "plan_arms": _plan("plan_arms", shapes.PLAN_ARMS),
    "plan_sd": _plan("plan_sd", shapes.PLAN_SD),
    "plan_sensitivity": _plan("plan_sensitivity", shapes.PLAN_SENSITIVITY),
    "recruitment_forecast": _plan("recruitment_forecast", shapes.RECRUITMENT_FORECAST),
    "recruitment_forecast_bands": Display(shape=shapes.RECRUITMENT_FORECAST_BANDS, blinded=WITHHELD),
    "dose_distribution": Display(shape=shapes.DOSE_DISTRIBUTION, blinded=WITHHELD, shareable=NOT_SHARED),
    "dose_participants": Display(shape=shapes.DOSE_PARTICIPANTS, blinded=WITHHELD, shareable=NOT_SHARED, per_man=True),
    "scores": Display(shape=shapes.SCORES, shareable=NOT_SHARED, per_man=True),
    # counts per site per month are small cells no audit of this folder covers: they stay with the statistician
    "recruitment_monthly": Display(shape=shapes.RECRUITMENT_MONTHLY, shareable=NOT_SHARED),
}


def layouts() -> dict[str, Layout]:
    """The layout of every declared table of statistics (a listing of men has none), by name."""
    return {n: d.shape.layout for n, d in DISPLAYS.items() if d.shape is not None and d.shape.layout is not None}


def declared(name: str) -> Display:
    """The declaration of a table (an undeclared table is shown as computed, shared and blinded whole)."""
    return DISPLAYS.get(name, Display())


def names(test: Any) -> tuple[str, ...]:
    """The tables whose declaration passes ``test``, in declaration order."""
    return tuple(name for name, d in DISPLAYS.items() if test(d))
