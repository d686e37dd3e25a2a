"""Display tables: results laid out for reading, as gtsummary lays out its results data.

A formatting layer only: every number comes from a table the run computed, nothing is derived here
but the arrangement (a column per arm) and the text of a cell. Rows and columns take their labels
from the config; a proportion reads ``38/54 (70.4%; 57.2 to 80.9)``, an estimate ``-0.08 (-0.25 to
0.08)``, a median ``4.0 [2.2, 9.0]``, with the config's ``reporting.digits`` and
``reporting.percent_digits``. The CSV outputs keep their contract columns, unrounded; these tables
are for the report and the terminal.

:func:`display` maps a computed :class:`Table` to its display version; a table it does not know
keeps its cells and gets labelled column headings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.display_plan import PLAN_BUILDERS, PLAN_NOTES
from advance_trial.output.tables import Table
from advance_trial.tabulate import ALL

#: A suppressed count in shareable outputs (:mod:`advance_trial.output.sdc`) reads as it is.
SUPPRESSED = "[c]"

COLUMN_LABELS = {
    "site": "Site", "arm": "Arm", "cycle": "Cycle", "timepoint": "Timepoint", "n": "n", "outcome": "Outcome",
    "n_screened": "Screened", "n_eligible": "Eligible", "n_randomised": "Randomised", "n_retained": "Followed up",
    "proportion": "Proportion", "estimate": "Estimate", "ci_lower": "Lower limit", "ci_upper": "Upper limit",
    "ci_method": "Interval", "step": "Step", "quantity": "Quantity", "conservative": "Conservative",
    "note": "Note", "status": "Status", "reason": "Reason", "label": "Label", "rule": "Rule",
    "by": "By", "level": "Level", "month": "Month", "criterion": "Criterion", "metric": "Metric",
}  # fmt: skip

ANALYSIS_LABELS = {
    "ancova": "ANCOVA, complete cases", "partially_nested": "Partially nested mixed model",
    "partially_nested_equal_var": "Partially nested mixed model, equal variances",
    "multiple_imputation": "ANCOVA after multiple imputation", "cace": "Complier average causal effect",
    "logistic": "Logistic regression", "logistic_standardised": "Logistic regression, standardised",
    "unadjusted": "Unadjusted", "negative_binomial": "Negative binomial regression",
    "change": "Change from baseline", "firth": "Firth logistic regression",
}  # fmt: skip
EFFECT_LABELS = {"mean_difference": "Mean difference", "mean_change": "Mean change", "odds_ratio": "Odds ratio",
                 "risk_difference": "Risk difference", "rate_ratio": "Rate ratio", "icc": "ICC"}  # fmt: skip
STATE_LABELS = {"retained": "Followed up within the window", "outside_window": "Followed up outside the window",
                "missed": "Missed", "withdrawn": "Withdrew", "lost": "Lost to follow-up", "died": "Died",
                "unknown": "Not known"}  # fmt: skip
#: Progression statuses as the report writes them; renderers colour the Status column by these.
STATUS_LABELS = {"met": "Met", "not_met": "Not met", "green": "Green (go)", "amber": "Amber (amend)",
                 "red": "Red (stop)", "not_evaluated": "Not evaluated"}  # fmt: skip


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def num(value: Any, digits: int) -> str:
    """A number with ``digits`` decimals (C's rounding, as R's ``sprintf``); missing as empty; a
    suppressed count as it is."""
    if isinstance(value, str):
        return value
    if _missing(value):
        return ""
    return f"{float(value):.{digits}f}"


def count(value: Any) -> str:
    """A count as an integer; a suppressed one as it is."""
    if isinstance(value, str):
        return value
    return "" if _missing(value) else str(int(value))


def interval(lower: Any, upper: Any, digits: int, scale: float = 1.0) -> str:
    """``a to b`` (never ``a-b``, which misreads with negative limits); empty when either is missing."""
    if _missing(lower) or _missing(upper) or isinstance(lower, str) or isinstance(upper, str):
        return ""
    return f"{num(scale * float(lower), digits)} to {num(scale * float(upper), digits)}"


def estimate(value: Any, lower: Any, upper: Any, digits: int, scale: float = 1.0, unit: str = "") -> str:
    """``x (a to b)``: an estimate and its interval."""
    if _missing(value) or isinstance(value, str):
        return "" if _missing(value) else value
    ci = interval(lower, upper, digits, scale)
    text = f"{num(scale * float(value), digits)}{unit}"
    return f"{text} ({ci})" if ci else text


def proportion(k: Any, n: Any, p: Any, lower: Any, upper: Any, digits: int) -> str:
    """``k/n (p%; a to b)``: a count of a denominator, its percentage and interval in percent."""
    head = f"{count(k)}/{count(n)}"
    if _missing(p) or isinstance(p, str) or isinstance(k, str):
        return head
    ci = interval(lower, upper, digits, 100.0)
    return f"{head} ({num(100 * float(p), digits)}%; {ci})" if ci else f"{head} ({num(100 * float(p), digits)}%)"


def share(k: Any, p: Any, digits: int) -> str:
    """``k (p%)``: a count and its percentage of the column's n."""
    if isinstance(k, str) or _missing(p) or isinstance(p, str):
        return count(k)
    return f"{count(k)} ({num(100 * float(p), digits)}%)"


def median(m: Any, q1: Any, q3: Any, digits: int) -> str:
    """``m [q1, q3]``."""
    if _missing(m) or isinstance(m, str):
        return "" if _missing(m) else m
    return f"{num(m, digits)} [{num(q1, digits)}, {num(q3, digits)}]"


@dataclass(frozen=True)
class Labels:
    """The config's labels of what rows and columns name."""

    arms: dict[str, str]
    sites: dict[str, str]
    timepoints: dict[str, str]
    outcomes: dict[str, str]
    thresholds: dict[str, str]
    categories: dict[str, str]

    def arm(self, a: Any) -> str:
        return "Overall" if str(a) == ALL else self.arms.get(str(a), str(a))

    def site(self, s: Any) -> str:
        return "All sites" if str(s) == ALL else self.sites.get(str(s), str(s))

    def timepoint(self, t: Any) -> str:
        return self.timepoints.get(str(t), str(t))

    def subgroup(self, site: Any, cycle: Any) -> str:
        """A row's breakdown by site or cycle (``All sites`` for the margin)."""
        if str(site) != ALL:
            return self.site(site)
        return f"Cycle {cycle}" if str(cycle) != ALL else "All sites"


def comparison(cfg: Config, text: Any) -> str:
    """A comparison as the reader words it: ``advance vs tau`` (the outcome table's ids) as "ADVANCE +
    treatment as usual vs Treatment as usual", a single arm's ``arm: change`` as "ADVANCE-D: change from
    baseline"."""
    labels = {a.id: a.label for a in cfg.arms}
    words = str(text)
    if words.endswith(": change"):
        return f"{labels.get(words[: -len(': change')], 'the arm')}: change from baseline"
    return " vs ".join(labels.get(part.strip(), part.strip()) for part in words.split(" vs "))


_CYCLE_IN_GROUP = re.compile(r"^-?c(?:ycle)?-?(\d+)$")
_NUMBER_IN_GROUP = re.compile(r"^-?(?:g|grp|group)?-?(\d+)$")


def group_labels(cfg: Config, groups: list[str]) -> dict[str, str]:
    """Therapy groups (the data's group ids) as the reader knows them: a group named after its site and
    cycle (``bristol-c1``) is "Cycle 1, Bristol"; after its site and a number (``islington-g1``),
    "Islington, group 1"; any other is numbered in the table's order ("Group 3"), so that no id shows."""
    out: dict[str, str] = {}
    sites = sorted(cfg.sites, key=lambda s: -len(s.id))
    for k, g in enumerate(groups, 1):
        text = str(g)
        site = next((s for s in sites if text.lower().startswith(s.id.lower())), None)
        rest = text[len(site.id) :].lower() if site else ""
        cycle = _CYCLE_IN_GROUP.match(rest) if site else None
        number = _NUMBER_IN_GROUP.match(rest) if site else None
        if site and cycle and (not cfg.cycles or int(cycle.group(1)) in cfg.cycles):
            out[text] = f"Cycle {int(cycle.group(1))}, {site.label}"
        elif site and number:
            out[text] = f"{site.label}, group {int(number.group(1))}"
        else:
            out[text] = f"Group {k}"
    if len(set(out.values())) < len(out):  # two groups would read alike: number them all
        out = {str(g): f"Group {k}" for k, g in enumerate(groups, 1)}
    return out


def labels_of(cfg: Config) -> Labels:
    """The labels of a config (in a blinded run, its arms are the codes)."""
    cats = {c.id: c.label for c in cfg.events.categories} if cfg.events else {}
    cats |= {
        "any": "Any event",
        "any_serious": "Any serious event",
        "any_related": "Any event related to the intervention",
    }
    return Labels(
        arms={a.id: a.label for a in cfg.arms},
        sites={s.id: s.label for s in cfg.sites},
        timepoints={t.id: t.label or t.id for t in cfg.timepoints},
        outcomes={o.id: o.label or o.id for o in cfg.outcomes},
        thresholds={t.id: t.label or t.id for t in cfg.thresholds},
        categories=cats,
    )


def _by_arm(df: pd.DataFrame, keys: list[str], cell: Callable[[pd.Series], str], heads: dict[str, str],
            L: Labels) -> pd.DataFrame:  # fmt: skip
    """Rows by ``keys`` (their display names in ``heads``), a column per arm in the table's arm order."""
    arms = list(dict.fromkeys(str(a) for a in df["arm"]))
    out: dict[tuple[str, ...], dict[str, str]] = {}
    for _, r in df.iterrows():
        row_key = tuple(str(r[k]) for k in keys)
        entry = out.setdefault(row_key, {heads[k]: str(r[k]) for k in keys})
        entry[L.arm(r["arm"])] = cell(r)
    return pd.DataFrame(list(out.values()), columns=[*(heads[k] for k in keys), *(L.arm(a) for a in arms)]).fillna("")


def _subgroup(df: pd.DataFrame, L: Labels) -> pd.DataFrame:
    df = df.copy()
    df["_subgroup"] = [L.subgroup(s, c) for s, c in zip(df["site"], df["cycle"], strict=True)]
    return df


def _recruitment(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.percent_digits
    return pd.DataFrame({
        "Site": [L.site(s) for s in df["site"]],
        "Screened": [count(v) for v in df["n_screened"]],
        "Eligible": [count(v) for v in df["n_eligible"]],
        "Randomised of eligible, n/N (%; 95% CI)": [
            proportion(r.n_randomised, r.n_eligible, r.proportion, r.ci_lower, r.ci_upper, d) for r in df.itertuples()],
    })  # fmt: skip


def _allocation(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(site=[L.site(s) for s in df["site"]])
    return _by_arm(df, ["site"], lambda r: count(r["n"]), {"site": "Site"}, L)


def _recruitment_rate(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.digits
    out = pd.DataFrame({
        "Site": [L.site(s) for s in df["site"]],
        "Randomised": [count(v) for v in df["n_randomised"]],
        "Recruiting site-months": [num(v, 0) if not _missing(v) and float(v).is_integer() else num(v, 1)
                                   for v in df["site_months"]],
        "Men per site-month (95% CI)": [estimate(r.rate, r.ci_lower, r.ci_upper, d) for r in df.itertuples()],
    })  # fmt: skip
    if "months_needed" in df and df["months_needed"].notna().any():
        n, s = df["definitive_n"].iloc[0], df["definitive_sites"].iloc[0]
        out[f"Months to randomise {count(n)} men at {count(s)} sites (95% CI)"] = [
            estimate(r.months_needed, r.months_ci_lower, r.months_ci_upper, 1) for r in df.itertuples()]  # fmt: skip
    return out


def _retention(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.percent_digits
    df = _subgroup(df, L).assign(timepoint=[L.timepoint(t) for t in df["timepoint"]])
    return _by_arm(df, ["timepoint", "_subgroup"], lambda r: proportion(
        r["n_retained"], r["n_randomised"], r["proportion"], r["ci_lower"], r["ci_upper"], d),
        {"timepoint": "Timepoint", "_subgroup": "Site or cycle"}, L)  # fmt: skip


def _retention_reasons(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.percent_digits
    df = df.assign(timepoint=[L.timepoint(t) for t in df["timepoint"]],
                   state=[STATE_LABELS.get(str(s), str(s)) for s in df["state"]])  # fmt: skip
    out = _by_arm(df, ["timepoint", "state"], lambda r: share(r["n"], r["proportion"], d),
                  {"timepoint": "Timepoint", "state": "Follow-up"}, L)  # fmt: skip
    sizes = {L.arm(a): count(n) for a, n in zip(df["arm"], df["n_randomised"], strict=True)}
    return out.rename(columns={a: f"{a} (n={n})" for a, n in sizes.items()})


def _retention_difference(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.percent_digits

    def part(k: Any, n: Any) -> str:
        p = float(k) / float(n) if not isinstance(k, str) and not isinstance(n, str) and n else float("nan")
        return share(k, p, d) + f" of {count(n)}"

    return pd.DataFrame({
        "Timepoint": [L.timepoint(t) for t in df["timepoint"]],
        "Comparison": [f"{L.arm(a)} vs {L.arm(b)}" for a, b in zip(df["arm"], df["comparator"], strict=True)],
        "Followed up, arm": [part(r.n_retained_arm, r.n_arm) for r in df.itertuples()],
        "Followed up, comparator": [part(r.n_retained_comparator, r.n_comparator) for r in df.itertuples()],
        "Difference, percentage points (95% CI)": [
            estimate(r.estimate, r.ci_lower, r.ci_upper, d, 100.0) for r in df.itertuples()],
    })  # fmt: skip


def _partner_contact(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.percent_digits
    df = df.assign(site=[L.site(s) for s in df["site"]])
    return _by_arm(
        df,
        ["site"],
        lambda r: proportion(r["n_contacted"], r["n_partners"], r["proportion"], r["ci_lower"], r["ci_upper"], d),
        {"site": "Site"},
        L,
    )


def _dose(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d, dd = cfg.reporting.percent_digits, 1
    df = _subgroup(df, L)
    out = pd.DataFrame({
        "Threshold": [L.thresholds.get(str(t), str(t)) for t in df["threshold"]],
        "Arm": [L.arm(a) for a in df["arm"]],
        "Site or cycle": list(df["_subgroup"]),
        "Men meeting it, n/N (%; 95% CI)": [
            proportion(r.n_met, r.n, r.proportion, r.ci_lower, r.ci_upper, d) for r in df.itertuples()],
        "Sessions, median [Q1, Q3]": [median(r.median_sessions, r.q1_sessions, r.q3_sessions, dd)
                                      for r in df.itertuples()],
        "Hours, median [Q1, Q3]": [median(r.median_hours, r.q1_hours, r.q3_hours, dd) for r in df.itertuples()],
    })  # fmt: skip
    if _medians_repeat(df):  # the same for every threshold: the dose summary's table gives them once
        out = out.drop(columns=["Sessions, median [Q1, Q3]", "Hours, median [Q1, Q3]"])
    return out.drop(columns="Arm") if out["Arm"].nunique() == 1 else out


def _medians_repeat(df: pd.DataFrame) -> bool:
    """Whether the dose table's medians of sessions and hours (over all the men of a row's arm, site or
    cycle, whatever the threshold) repeat for every threshold."""
    cols = ["median_sessions", "q1_sessions", "q3_sessions", "median_hours", "q1_hours", "q3_hours"]
    if "threshold" not in df or df["threshold"].nunique() < 2 or not set(cols) <= set(df):
        return False
    keys = [c for c in ("arm", "site", "cycle") if c in df]
    per_row = df.groupby(keys, sort=False, dropna=False)[cols].nunique(dropna=False)
    return bool((per_row <= 1).all().all())


def _dose_summary(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    dd = 1
    groups = group_labels(cfg, [str(v) for b, v in zip(df["by"], df["level"], strict=True) if str(b) == "group"])
    level: dict[str, Callable[[Any], str]] = {
        "all": lambda v: "All men",
        "site": L.site,
        "cycle": lambda v: f"Cycle {v}",
        "group": lambda v: groups.get(str(v), "Group"),
    }
    out = pd.DataFrame({
        "Men": [level.get(str(b), str)(v) for b, v in zip(df["by"], df["level"], strict=True)],
        "n": [count(v) for v in df["n"]],
    })  # fmt: skip
    for measure, head in (("compulsory_sessions", "Compulsory sessions"), ("sessions", "Sessions"),
                          ("hours", "Hours"), ("compulsory_percent", "% of compulsory sessions")):  # fmt: skip
        if f"median_{measure}" in df:
            out[f"{head}, median [Q1, Q3]"] = [median(m, a, b, dd) for m, a, b in zip(
                df[f"median_{measure}"], df[f"q1_{measure}"], df[f"q3_{measure}"], strict=True)]  # fmt: skip
    return out


def _engagement(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.percent_digits
    return pd.DataFrame({
        "Component": [str(v) for v in df["label"]],
        "Sessions offered": [count(v) + ("" if bool(c) else " (optional)") for v, c in
                             zip(df["sessions"], df["compulsory"], strict=True)],
        "Started, n/N (%; 95% CI)": [proportion(r.n_started, r.n, r.proportion_started, r.ci_lower_started,
                                                r.ci_upper_started, d) for r in df.itertuples()],
        "Completed, n/N (%; 95% CI)": [proportion(r.n_completed, r.n, r.proportion_completed, r.ci_lower_completed,
                                                  r.ci_upper_completed, d) for r in df.itertuples()],
        "Sessions attended, median [Q1, Q3]": [median(r.median_attended, r.q1_attended, r.q3_attended, 1)
                                               for r in df.itertuples()],
    })  # fmt: skip


def _result(r: Any, digits: int) -> str:
    """An estimate with its interval, or why there is none (a row with ``status`` and ``reason``)."""
    if str(r.status) != "estimated":
        return f"not estimable: {r.reason}" if isinstance(r.reason, str) and r.reason else "not estimable"
    return estimate(r.estimate, r.ci_lower, r.ci_upper, digits)


def _change(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.digits

    return pd.DataFrame({
        "Outcome": [L.outcomes.get(str(o), str(o)) for o in df["outcome"]],
        "Timepoint": [L.timepoint(t) for t in df["timepoint"]],
        "Arm": [L.arm(a) for a in df["arm"]],
        "Men with both": [count(v) for v in df["n"]],
        "Baseline, mean": [num(v, d) for v in df["mean_baseline"]],
        "Follow-up, mean": [num(v, d) for v in df["mean_followup"]],
        "Change (95% CI)": [_result(r, d) for r in df.itertuples()],
    })  # fmt: skip


def _outcomes(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.digits

    def what(r: Any) -> str:
        text = ANALYSIS_LABELS.get(str(r.analysis), str(r.analysis).replace("_", " "))
        threshold = getattr(r, "threshold", "")
        return f"{text} ({L.thresholds.get(str(threshold), str(threshold))})" if isinstance(threshold, str) and \
            threshold else text  # fmt: skip

    def n(r: Any) -> str:
        split = [getattr(r, c, None) for c in ("n_intervention", "n_control")]
        inner = " / ".join(count(v) for v in split) if not any(_missing(v) for v in split) else ""
        return f"{count(r.n_analysed)} ({inner})" if inner else count(r.n_analysed)

    out = pd.DataFrame({
        "Outcome": [L.outcomes.get(str(o), str(o)) for o in df["outcome"]],
        "Timepoint": [L.timepoint(t) for t in df["timepoint"]],
        "Analysis": [what(r) for r in df.itertuples()],
        "Effect": [EFFECT_LABELS.get(str(e), str(e)) for e in df["effect"]],
        "Men analysed" + (" (intervention / control)" if "n_intervention" in df else ""): [
            n(r) for r in df.itertuples()],
        "Estimate (95% CI)": [_result(r, d) for r in df.itertuples()],
        "Interval": [str(m) for m in df["ci_method"]],
    })  # fmt: skip
    return out


def _harms(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.percent_digits

    def cell(r: pd.Series) -> str:
        # "events 1", never "1 event" beside "2 events": a word that changes with the count would be data
        return f"{share(r['n_with_event'], r['proportion'], d)}; events {count(r['events'])}"

    df = df.assign(about=[str(a).capitalize() for a in df["about"]],
                   category=[L.categories.get(str(c), str(c)) for c in df["category"]])  # fmt: skip
    out = _by_arm(df, ["about", "category"], cell, {"about": "About", "category": "Category"}, L)
    sizes = {L.arm(a): count(n) for a, n, who in zip(df["arm"], df["n"], df["about"], strict=True) if who == "Men"}
    return out.rename(columns={a: f"{a} (n={n})" for a, n in sizes.items()})


def rule(cfg: Config, criterion: str, fallback: str) -> str:
    """A criterion's rule in words, thresholds of proportions in percent: ``estimate at least 60%``."""
    c = next((c for c in cfg.progression if c.id == criterion), None)
    if c is None or c.metric.startswith(("outcome.", "change.")) or c.metric == "qualitative":
        return fallback
    on = "estimate" if c.judge_on == "estimate" else "lower limit"
    rate = c.metric.endswith("per_site_month")

    def at(x: float | None) -> str:
        pct = 100.0 * float(x or 0.0)
        return f"{x:g} per site-month" if rate else f"{num(pct, 0 if pct.is_integer() else 1)}%"

    if c.go is not None:
        return f"{on} at least {at(c.go)}"
    return f"green: {on} at least {at(c.green)}; amber: at least {at(c.amber)}; else red"


def _progression(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d, pd_ = cfg.reporting.digits, cfg.reporting.percent_digits

    def value(r: Any) -> str:
        if str(r.metric) == "qualitative":
            return "judged (see the rule)"
        if str(r.metric).startswith(("outcome.", "change.")) or str(r.metric).endswith("per_site_month"):
            return estimate(r.estimate, r.ci_lower, r.ci_upper, d)
        return estimate(r.estimate, r.ci_lower, r.ci_upper, pd_, 100.0, "%")

    return pd.DataFrame({
        "Criterion": [str(r.label) if isinstance(r.label, str) and r.label else str(r.criterion)
                      for r in df.itertuples()],
        "Rule": [rule(cfg, str(c), str(v)) for c, v in zip(df["criterion"], df["rule"], strict=True)],
        "Estimate (95% CI)": [value(r) for r in df.itertuples()],
        "Status": [STATUS_LABELS.get(str(s), str(s)) for s in df["status"]],
        **({"Probability met": ["" if _missing(v) else f"{num(100.0 * float(v), pd_)}%"
                                for v in df["probability_met"]]} if "probability_met" in df else {}),
    })  # fmt: skip


def _plan(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    d = cfg.reporting.digits

    def val(v: Any) -> str:
        return count(v) if not _missing(v) and not isinstance(v, str) and float(v).is_integer() else num(v, d)

    return pd.DataFrame({
        "Outcome": [L.outcomes.get(str(o), str(o)) for o in df["outcome"]],
        "Quantity": [_timepoints_worded(L, str(q)) for q in df["quantity"]],
        "Estimate": [val(v) for v in df["estimate"]],
        "Conservative": [val(v) for v in df["conservative"]],
        "Note": ["" if _missing(v) else _methods_worded(str(v)) for v in df["note"]],
    })  # fmt: skip


def _methods_worded(text: str) -> str:
    """A note naming an interval method by its config name (``(wilson)``) with the method's name."""
    from advance_trial.vocabulary import PROPORTION_METHODS

    return re.sub(r"\b(" + "|".join(PROPORTION_METHODS) + r")\b", lambda m: PROPORTION_METHODS[m.group(1)], text)


def _timepoints_worded(L: Labels, text: str) -> str:
    """A text naming a timepoint by its id (the plan's "retained at week16") with the timepoint's label."""
    return re.sub(r"\b(at|by) (\S+)$", lambda m: f"{m.group(1)} {L.timepoint(m.group(2))}"
                  if m.group(2) in L.timepoints else m.group(), text)  # fmt: skip


def _baseline(cfg: Config, L: Labels, df: pd.DataFrame) -> pd.DataFrame:
    return baseline_frame(cfg, df)


def _all_met(df: pd.DataFrame) -> str:
    from advance_trial.feasibility.progression import probability_all_text

    return probability_all_text(df, display=True)


#: Each known table's display builder, and how many leading columns identify a row (what a table split
#: by column groups repeats in every part).
BUILDERS: dict[str, tuple[Callable[[Config, Labels, pd.DataFrame], pd.DataFrame], int]] = {
    "recruitment": (_recruitment, 1), "allocation": (_allocation, 1), "recruitment_rate": (_recruitment_rate, 1),
    "retention": (_retention, 2), "partner_retention": (_retention, 2), "retention_reasons": (_retention_reasons, 2),
    "retention_difference": (_retention_difference, 2), "partner_contact": (_partner_contact, 1),
    "dose": (_dose, 2), "dose_summary": (_dose_summary, 1), "engagement": (_engagement, 1),
    "outcomes": (_outcomes, 4), "change": (_change, 3), "harms": (_harms, 2),
    "progression": (_progression, 1), "plan": (_plan, 2), "baseline": (_baseline, 1),
}  # fmt: skip
BUILDERS |= PLAN_BUILDERS


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


_QUARTILES = "median [Q1, Q3] (quartiles by linear interpolation, R's quantile type 7)"

#: The footnotes of each display table, in the display's words (the computed tables' footnotes name their
#: CSV columns).
NOTES: dict[str, Callable[[Config, pd.DataFrame], tuple[str, ...]]] = {
    "recruitment": lambda cfg, df: (
        f"Men randomised of the men eligible at screening (including those who declined or were not randomised), "
        f"n/N (%; {_ci(cfg)}).",),
    "allocation": lambda cfg, df: ("Men randomised, by site and arm.",),
    "recruitment_rate": lambda cfg, df: (
        f"Men randomised per recruiting site-month, with the {_level(cfg)} exact Poisson interval (as R's "
        "poisson.test).",
        *(("Months to randomise: the definitive trial's men (the plan's total, else the trial's target sample "
           "size) over the observed rate times its sites; the interval from the rate's.",)
          if "months_needed" in df and df["months_needed"].notna().any() else ())),
    "retention": lambda cfg, df: (
        f"Men followed up within the window of the men randomised, n/N (%; {_ci(cfg)}). Follow-ups completed "
        "outside the window are not counted as followed up (they are shown with the reasons for loss).",
        *((_windows(cfg) + ".",) if _windows(cfg) else ())),
    "partner_retention": lambda cfg, df: (
        f"Partners followed up of the partners who consented, n/N (%; {_ci(cfg)}); arm and site are the man's. "
        "Aggregates only: no partner appears individually.",),
    "partner_contact": lambda cfg, df: (
        f"Partners contacted of the partners identified, n/N (%; {_ci(cfg)}); arm and site are the man's. "
        "Aggregates only: no partner appears individually.",),
    "retention_reasons": lambda cfg, df: ("Men in each follow-up state, n (% of the men randomised to the arm).",),
    "retention_difference": lambda cfg, df: (
        "Followed up: n (%) of the men randomised to each arm. Difference: the percentage followed up in the arm "
        f"minus the comparator's, in percentage points, with the {_level(cfg)} Newcombe hybrid score interval "
        "(Newcombe 1998, method 10).",),
    "dose": lambda cfg, df: (
        f"Men meeting each threshold of the men randomised to {_offered(cfg)}, whether or not they attended, "
        f"n/N (%; {_ci(cfg)})."
        + (" Sessions and hours attended: medians and quartiles in the next table (they do not depend on the "
           "threshold)." if _medians_repeat(df) else f" Sessions (all sessions) and hours attended: {_QUARTILES}."),),
    "dose_summary": lambda cfg, df: (
        f"Sessions and hours attended by the men randomised to {_offered(cfg)}: {_QUARTILES}; % of compulsory "
        f"sessions: of the {_compulsory(cfg)} compulsory sessions. Groups: the man's therapy group (men who "
        "attended no group session have none).",),
    "change": lambda cfg, df: (
        f"Change: follow-up minus baseline, the mean over the men with both measures, with its {_level(cfg)} "
        "paired t interval (R: t.test(y - base)); within each arm, not a comparison between arms.",),
    "engagement": lambda cfg, df: (
        f"Men {_who(cfg)} {_offered(cfg)} who started each component (attended at least one of its sessions) "
        f"and who completed it (attended all of them), whether or not they attended any, n/N (%; {_ci(cfg)}). "
        f"Sessions attended: {_QUARTILES}.",),
    "outcomes": lambda cfg, df: (
        f"Estimates with {_level(cfg)} confidence intervals, the method of each in the Interval column. Effects "
        "compare " + "; ".join(dict.fromkeys(comparison(cfg, c) for c in df.get("comparison", pd.Series(dtype=str)))
                               or ["the arms"])
        + " (the first minus, or over, the second); complete cases except after multiple imputation; men "
        "analysed counts the men in the model.",
        "The complier average causal effect, for the named dose threshold, stands beside the intention-to-treat "
        "estimate, never instead of it.",),
    "harms": lambda cfg, df: (
        "Men (or partners) with at least one event of the category, n (% of the column's n: men randomised to "
        "the arm; partners: those identified, by their man's arm); events: the number of events.",
        "Partner safety incidents are aggregates only: no incident is listed.",),
    "progression": lambda cfg, df: (
        f"Proportions with the {_ci(cfg)}, in percent; denominators as in each metric's table (recruitment: men "
        "eligible; retention: men randomised; dose: men randomised to the arm offered sessions; partners: "
        "partners who consented); outcome criteria take the outcome's first analysis.",
        "Judged on the estimate, or on the interval's lower limit where the rule says so (Lewis et al. 2021). "
        "Not evaluated: the metric has no estimate (no denominator, or no outcome analysis).",
        *(("Probability met: the posterior probability that a criterion on a share of men is met (Beta(1, 1) "
           "prior unless the criterion names one; a traffic light: green); none for rates, directions and "
           "judgements.",
           _all_met(df)) if "probability_met" in df else ()),),
    "baseline": lambda cfg, df: (
        f"Continuous: mean (SD) and {_QUARTILES}, of the men with the value known; categorical: n (%) of the men "
        "with the value known; missing: the men without it.",
        *(("Standardised difference: absolute, between the arms (as R's tableone; Yang and Dalton's form for "
           "categorical variables), on each characteristic's first row.",)
          if cfg.baseline_table is not None and cfg.baseline_table.standardised_differences
          and "std_difference" in df else ()),
        "No p-values: baseline differences between randomised arms are due to chance (CONSORT 2010, item 15).",),
}  # fmt: skip
NOTES |= PLAN_NOTES


def _one_timepoint(frame: pd.DataFrame, title: str) -> tuple[pd.DataFrame, str]:
    """A Timepoint column holding one value moves into the title."""
    if "Timepoint" in frame and frame["Timepoint"].nunique() == 1 and len(frame):
        return frame.drop(columns="Timepoint"), f"{title}, {frame['Timepoint'].iloc[0]}"
    return frame, title


_RANDOMISED = re.compile(r"\b([Rr])andomis(ed|e|ing)\b(?! pilot and feasibility trials)")
_ENROLLED = {"ed": "enrolled", "e": "enrol", "ing": "enrolling"}


def enrolled(text: str) -> str:
    """A text as a single-arm study words it: men are enrolled, not randomised (a reference's title, the
    CONSORT extension to randomised pilot and feasibility trials, keeps its words)."""
    return _RANDOMISED.sub(lambda m: ("E" if m.group(1) == "R" else "e") + _ENROLLED[m.group(2)][1:], text)


def _worded(cfg: Config, table: Table) -> Table:
    if cfg.trial.design != "single_arm":
        return table
    df = table.data.rename(columns={c: enrolled(str(c)) for c in table.data.columns})
    df = df.apply(lambda col: col.map(lambda v: enrolled(v) if isinstance(v, str) else v))
    return replace(table, data=df, title=enrolled(table.title), footnotes=tuple(map(enrolled, table.footnotes)))


def display(cfg: Config, table: Table) -> Table:
    """The display version of a computed table: labelled, cells formatted, a column per arm where the table
    breaks down by arm, its footnotes in the display's words. An unknown table keeps its cells, with
    labelled column headings."""
    df = table.data
    built = BUILDERS.get(table.name)
    if built is None or df.empty:
        frame = df.rename(columns={c: COLUMN_LABELS.get(str(c), str(c).replace("_", " ").capitalize())
                                   for c in df.columns})  # fmt: skip
        return _worded(cfg, Table(table.name, frame, table.title, table.footnotes, table.markdown))
    builder, keys = built
    notes = NOTES[table.name](cfg, df) if table.name in NOTES else table.footnotes
    frame, title = _one_timepoint(builder(cfg, labels_of(cfg), df), table.title)
    if "Timepoint" not in frame and title != table.title:
        keys -= 1
    return _worded(cfg, Table(table.name, frame, title, tuple(notes), table.markdown, keys=max(keys, 1)))


def baseline_frame(cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from ``baseline.csv``'s frame: a row per characteristic (and level), a column per arm and
    overall headed with its n (arms in the frame's order, which blinding sets), the standardised
    difference beside."""
    spec = cfg.baseline_table
    if spec is None or df.empty:
        return df
    arms = list(dict.fromkeys(str(a) for a in df["arm"]))
    labels = {a.id: a.label for a in cfg.arms}
    # a column's n: the men in the arm (the largest denominator of its rows: a missing row counts them all)
    size = {a: count(pd.to_numeric(df.loc[df["arm"].astype(str) == a, "n"], errors="coerce").max()) for a in arms}
    heads = [f"{'Overall' if a == ALL else labels.get(a, f'Arm {a}')} (n={size[a]})" for a in arms]
    pct = cfg.reporting.percent_digits
    out: list[dict[str, str]] = []
    smd_col = "Standardised difference"
    for v in spec.variables:
        d = spec.digits if v.digits is None else v.digits
        rows = df[df["variable"] == v.id]

        def cell(level: str, arm: str, kind: str, rows: pd.DataFrame = rows, d: int = d) -> str:
            r = rows[(rows["level"].fillna("").astype(str) == level) & (rows["arm"].astype(str) == arm)]
            if r.empty:
                return ""
            x = r.iloc[0]
            if kind == "mean":
                return f"{num(x['mean'], d)} ({num(x['sd'], d)})"
            if kind == "median":
                return median(x["median"], x["q1"], x["q3"], d)
            return share(x["n_level"], x["proportion"], pct)

        def line(text: str, level: str, kind: str, smd: str = "") -> dict[str, str]:
            return {"Characteristic": text, **{h: cell(level, a, kind) for h, a in zip(heads, arms, strict=True)},
                    smd_col: smd}  # fmt: skip

        smd = rows["std_difference"].dropna() if "std_difference" in rows else pd.Series(dtype=float)
        smd_text = num(smd.iloc[0], 2) if len(smd) else ""
        if v.type == "continuous":
            out.append(line(f"{v.label}, mean (SD)", "", "mean", smd_text))
            out.append(line("    median [Q1, Q3]", "", "median"))
        else:
            out.append({"Characteristic": f"{v.label}, n (%)", **dict.fromkeys(heads, ""), smd_col: smd_text})
            levels = [lv for lv in dict.fromkeys(rows["level"].fillna("").astype(str)) if lv and lv != "missing"]
            out += [line(f"    {v.level_labels.get(lv, lv)}", lv, "n") for lv in levels]
        if (rows["level"].astype(str) == "missing").any():
            out.append(line("    missing", "missing", "n"))
    smd_shown = spec.standardised_differences and "std_difference" in df  # a pooled Table 1 has none
    return pd.DataFrame(out, columns=["Characteristic", *heads, *([smd_col] if smd_shown else [])])
