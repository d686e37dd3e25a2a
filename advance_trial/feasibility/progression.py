"""Progression criteria: each metric's estimate and interval against its go threshold or traffic light.

A criterion is judged on the estimate, or on the interval's lower bound
(``judge_on: lower_bound``, the approach of Lewis et al. 2021). A single ``go``
threshold gives ``met`` / ``not_met``; ``green`` and ``amber`` give ``green``
(at or above green), ``amber`` (at or above amber) or ``red``. An outcome criterion
(``metric: outcome.<id>``, with ``direction``) takes the outcome's first analysis: judged on the
estimate it is met when the estimate lies on the hoped-for side of no effect (0 for differences,
1 for ratios); judged on the interval, when the whole interval does. A change criterion
(``metric: change.<id>``) reads the intervention arm's mean change from baseline the same way, and
``no_increase`` / ``no_decrease`` accept no change itself. A qualitative criterion (``metric:
qualitative``) has the status its recorded ``judgement`` gives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import pandas as pd

from advance_trial.config import Config
from advance_trial.config.models import Criterion
from advance_trial.feasibility.tabulate import ALL
from advance_trial.intervals import Estimate
from advance_trial.results.labels import variable_labels
from advance_trial.results.layout import ResultsData, frame
from advance_trial.results.verbs import Target, bind_results, stat_rows
from advance_trial.vocabulary import null_of

STATUSES = ("met", "not_met", "green", "amber", "red", "not_evaluated")
COLUMNS = [
    "criterion",
    "label",
    "metric",
    "estimate",
    "ci_lower",
    "ci_upper",
    "ci_method",
    "judge_on",
    "rule",
    "status",
    "probability_met",
    "probability_green",
    "probability_amber",
    "probability_red",
    "probability_note",
]


def metric_estimates(cfg: Config, results: ResultsData) -> dict[str, Estimate]:
    """Every metric a criterion can name, looked up by key in the results data set of the tables."""
    out: dict[str, Estimate] = {}

    def take(key: str, table: str, variable: str, level: str | None = None, **groups: str) -> None:
        s = results.stats(table, variable, level, **groups)
        if s:
            out[key] = Estimate(float(s["proportion"]), float(s["ci_lower"]), float(s["ci_upper"]), str(s["method"]))

    for o in cfg.outcomes:
        first = results.first_key("outcomes", o.id)
        s = results.stats("outcomes", o.id, o.timepoint, **first) if first else {}
        if s:
            out[f"outcome.{o.id}"] = Estimate(float(s["estimate"]), float(s["ci_lower"]), float(s["ci_upper"]),
                                              f"{first['analysis']}: {s['method']}")  # fmt: skip
    from advance_trial.analysis import intervention_arm

    for o in cfg.outcomes:
        s = results.stats("change", o.id, o.timepoint, arm=intervention_arm(cfg))
        if s:
            out[f"change.{o.id}"] = Estimate(float(s["estimate"]), float(s["ci_lower"]), float(s["ci_upper"]),
                                             f"within {intervention_arm(cfg)}: {s['method']}")  # fmt: skip
    take("recruitment_rate", "recruitment", "randomised", site=ALL)
    rate = results.stats("recruitment_rate", "rate_per_site_month", site=ALL)
    if rate:
        out["recruitment.per_site_month"] = Estimate(float(rate["rate"]), float(rate["ci_lower"]),
                                                     float(rate["ci_upper"]), str(rate["method"]))  # fmt: skip
    take("partner_contact", "partner_contact", "partner_contacted", arm=ALL, site=ALL)
    for tp in cfg.timepoint_ids:
        take(f"retention.{tp}", "retention", "retained", tp, arm=ALL, site=ALL, cycle=ALL)
        take(f"partner_retention.{tp}", "partner_retention", "partner_retained", tp, arm=ALL, site=ALL, cycle=ALL)
    for th in cfg.thresholds:
        take(f"dose.{th.id}", "dose", th.id, cycle=ALL, site=ALL)
    return out


def metric_counts(cfg: Config, results: ResultsData) -> dict[str, tuple[int, int]]:
    """The men (or partners) behind each proportion metric: ``(x, n)``, looked up like its estimate."""
    out: dict[str, tuple[int, int]] = {}

    def take(key: str, table: str, variable: str, x: str, n: str, level: str | None = None, **groups: str) -> None:
        s = results.stats(table, variable, level, **groups)
        with contextlib.suppress(KeyError, TypeError, ValueError):  # no such row, or a count withheld: no posterior
            out[key] = (int(s[x]), int(s[n]))

    take("recruitment_rate", "recruitment", "randomised", "n_randomised", "n_eligible", site=ALL)
    take("partner_contact", "partner_contact", "partner_contacted", "n_contacted", "n_partners", arm=ALL, site=ALL)
    for tp in cfg.timepoint_ids:
        take(f"retention.{tp}", "retention", "retained", "n_retained", "n_randomised", tp, arm=ALL, site=ALL,
             cycle=ALL)  # fmt: skip
        take(f"partner_retention.{tp}", "partner_retention", "partner_retained", "n_retained", "n_randomised", tp,
             arm=ALL, site=ALL, cycle=ALL)  # fmt: skip
    for th in cfg.thresholds:
        take(f"dose.{th.id}", "dose", th.id, "n_met", "n", cycle=ALL, site=ALL)
    return out


def probabilities(c: Criterion, counts: tuple[int, int] | None) -> dict[str, object]:
    """The posterior probability that a proportion criterion is met (and of each traffic-light zone), with
    the note that says how, or why there is none (:mod:`advance_trial.feasibility.posterior`)."""
    from advance_trial.feasibility.posterior import BetaPrior, probability_at_least, zone_probabilities

    nan = float("nan")
    out: dict[str, object] = {"probability_met": nan, "probability_green": nan, "probability_amber": nan,
                              "probability_red": nan}  # fmt: skip
    if c.metric == "qualitative":
        return out | {"probability_note": "a recorded judgement: no probability"}
    if c.metric.startswith(("outcome.", "change.")):
        return out | {"probability_note": "judged on a direction, not a proportion: no Beta posterior"}
    if c.metric.endswith("per_site_month"):
        return out | {"probability_note": "a rate, not a proportion: no Beta posterior"}
    if counts is None or counts[1] == 0:
        return out | {"probability_note": "no denominator: no posterior"}
    x, n = counts
    prior = BetaPrior(c.prior.a, c.prior.b) if c.prior is not None else BetaPrior()
    post = f"Beta({prior.a:g} + {x}, {prior.b:g} + {n - x})"
    if c.go is not None:
        return out | {"probability_met": probability_at_least(x, n, c.go, prior),
                      "probability_note": f"P(proportion >= {c.go:g}) under the posterior {post}"}  # fmt: skip
    assert c.green is not None and c.amber is not None
    z = zone_probabilities(x, n, c.green, c.amber, prior)
    return out | {"probability_met": z.green, "probability_green": z.green, "probability_amber": z.amber,
                  "probability_red": z.red,
                  "probability_note": f"met: green, P(proportion >= {c.green:g}) under the posterior "
                                      f"{post}"}  # fmt: skip


#: Each direction: the side of no effect (or no change) hoped for, and whether reaching it counts.
SIDES = {"decrease": ("below", False), "increase": ("above", False), "no_increase": ("at or below", True),
         "no_decrease": ("at or above", True)}  # fmt: skip


def rule_text(c: Criterion) -> str:
    """The criterion's rule in words, e.g. ``lower bound >= 0.60``."""
    on = "estimate" if c.judge_on == "estimate" else "lower bound"
    if c.metric == "qualitative" and c.judgement is not None:
        j = c.judgement
        when = f" on {j.judged_on.isoformat()}" if j.judged_on else ""
        return f"qualitative, judged by {j.judged_by}{when}: {j.evidence}"
    if c.metric.startswith(("outcome.", "change.")):
        side = SIDES[c.direction or "decrease"][0]
        what = "estimate" if c.judge_on == "estimate" else "whole interval"
        null = "no effect" if c.metric.startswith("outcome.") else "no change from baseline"
        hoped = (c.direction or "").replace("_", " ")
        return f"{what} {side} {null} ({hoped} in the intervention arm)"
    if c.go is not None:
        return f"{on} >= {c.go:.2f}"
    return f"green: {on} >= {c.green:.2f}; amber: {on} >= {c.amber:.2f}; else red"


def no_effect(cfg: Config, results: ResultsData) -> dict[str, float]:
    """The no-effect value of each outcome metric: the null of the effect scale of its first analysis."""
    out = {}
    for o in cfg.outcomes:
        first = results.first_key("outcomes", o.id)
        if first:
            out[f"outcome.{o.id}"] = null_of(first["effect"])
    return out


def judge(c: Criterion, est: Estimate | None, null: float = 0.0) -> str:
    """The status of one criterion given its metric's estimate (``None`` when not available)."""
    if c.metric == "qualitative":
        return c.judgement.status if c.judgement is not None else "not_evaluated"
    if est is None or est.estimate != est.estimate:  # no estimate (an analysis not estimable)
        return "not_evaluated"
    if c.metric.startswith(("outcome.", "change.")):
        below = c.direction in ("decrease", "no_increase")
        value = est.estimate if c.judge_on == "estimate" else (est.ci_upper if below else est.ci_lower)
        if c.direction in ("no_increase", "no_decrease"):  # no change is what is hoped for, or better
            return "met" if (value <= null if below else value >= null) else "not_met"
        return "met" if (value < null if below else value > null) else "not_met"
    value = est.estimate if c.judge_on == "estimate" else est.ci_lower
    if value != value:  # nan: no denominator
        return "not_evaluated"
    if c.go is not None:
        return "met" if value >= c.go else "not_met"
    assert c.green is not None and c.amber is not None
    return "green" if value >= c.green else ("amber" if value >= c.amber else "red")


def progression_results(cfg: Config, results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The results rows of the progression criteria, in config order: each criterion's label, metric, its
    metric's estimate and interval (looked up in the results rows of the analyses before it, ``results``:
    table name -> rows), what it is judged on, its rule, its status and the posterior probabilities with
    their note."""
    labels = variable_labels(cfg)
    found = ResultsData(bind_results([r for r in results.values() if "stat_name" in r.columns]))
    metrics = metric_estimates(cfg, found)
    nulls = no_effect(cfg, found)
    counts = metric_counts(cfg, found)
    nan = float("nan")
    parts = []
    for c in cfg.progression:
        est = metrics.get(c.metric)
        to = Target("progression", "progression", "as in each metric's table", c.label or labels.get(c.id, ""))
        stats = {"label": c.label or "", "metric": c.metric, "estimate": est.estimate if est else nan,
                 "ci_lower": est.ci_lower if est else nan, "ci_upper": est.ci_upper if est else nan,
                 "judge_on": c.judge_on, "rule": rule_text(c), "status": judge(c, est, nulls.get(c.metric, 0.0)),
                 **probabilities(c, counts.get(c.metric))}  # fmt: skip
        parts.append(frame(stat_rows(to, {}, c.id, None, stats, method=est.method if est else "")))
    return bind_results(parts)
