"""The words and numbers of display tables: how a cell is formatted, and the labels rows and columns take.

A proportion reads ``38/54 (70.4%; 57.2 to 80.9)``, an estimate ``-0.08 (-0.25 to 0.08)``, a median
``4.0 [2.2, 9.0]``, with the config's ``reporting.digits`` and ``reporting.percent_digits``; arms,
sites, timepoints, outcomes and categories are named by the config's labels, analyses, effects,
follow-up states and statuses by the vocabularies below. The declarations of
:mod:`advance_trial.output.displays` combine these into display tables.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from advance_trial.config.models import Config
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


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def num(value: Any, digits: int) -> str:
    """A number with ``digits`` decimals (C's rounding, as R's ``sprintf``); missing as empty; a
    suppressed count as it is."""
    if isinstance(value, str):
        return value
    if is_missing(value):
        return ""
    return f"{float(value):.{digits}f}"


def count(value: Any) -> str:
    """A count as an integer; a suppressed one as it is."""
    if isinstance(value, str):
        return value
    return "" if is_missing(value) else str(int(value))


def interval(lower: Any, upper: Any, digits: int, scale: float = 1.0) -> str:
    """``a to b`` (never ``a-b``, which misreads with negative limits); empty when either is missing."""
    if is_missing(lower) or is_missing(upper) or isinstance(lower, str) or isinstance(upper, str):
        return ""
    return f"{num(scale * float(lower), digits)} to {num(scale * float(upper), digits)}"


def estimate(value: Any, lower: Any, upper: Any, digits: int, scale: float = 1.0, unit: str = "") -> str:
    """``x (a to b)``: an estimate and its interval."""
    if is_missing(value) or isinstance(value, str):
        return "" if is_missing(value) else value
    ci = interval(lower, upper, digits, scale)
    text = f"{num(scale * float(value), digits)}{unit}"
    return f"{text} ({ci})" if ci else text


def proportion(k: Any, n: Any, p: Any, lower: Any, upper: Any, digits: int) -> str:
    """``k/n (p%; a to b)``: a count of a denominator, its percentage and interval in percent."""
    head = f"{count(k)}/{count(n)}"
    if is_missing(p) or isinstance(p, str) or isinstance(k, str):
        return head
    ci = interval(lower, upper, digits, 100.0)
    return f"{head} ({num(100 * float(p), digits)}%; {ci})" if ci else f"{head} ({num(100 * float(p), digits)}%)"


def share(k: Any, p: Any, digits: int) -> str:
    """``k (p%)``: a count and its percentage of the column's n."""
    if isinstance(k, str) or is_missing(p) or isinstance(p, str):
        return count(k)
    return f"{count(k)} ({num(100 * float(p), digits)}%)"


def median(m: Any, q1: Any, q3: Any, digits: int) -> str:
    """``m [q1, q3]``."""
    if is_missing(m) or isinstance(m, str):
        return "" if is_missing(m) else m
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


def methods_worded(text: str) -> str:
    """A note naming an interval method by its config name (``(wilson)``) with the method's name."""
    from advance_trial.vocabulary import PROPORTION_METHODS

    return re.sub(r"\b(" + "|".join(PROPORTION_METHODS) + r")\b", lambda m: PROPORTION_METHODS[m.group(1)], text)


def timepoints_worded(L: Labels, text: str) -> str:
    """A text naming a timepoint by its id (the plan's "retained at week16") with the timepoint's label."""
    return re.sub(r"\b(at|by) (\S+)$", lambda m: f"{m.group(1)} {L.timepoint(m.group(2))}"
                  if m.group(2) in L.timepoints else m.group(), text)  # fmt: skip


_RANDOMISED = re.compile(r"\b([Rr])andomis(ed|e|ing)\b(?! pilot and feasibility trials)")
_ENROLLED = {"ed": "enrolled", "e": "enrol", "ing": "enrolling"}


def enrolled(text: str) -> str:
    """A text as a single-arm study words it: men are enrolled, not randomised (a reference's title, the
    CONSORT extension to randomised pilot and feasibility trials, keeps its words)."""
    return _RANDOMISED.sub(lambda m: ("E" if m.group(1) == "R" else "e") + _ENROLLED[m.group(2)][1:], text)
