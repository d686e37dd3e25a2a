"""Confidence intervals for proportions and for differences between them.

Thin, explicit wrappers over statsmodels, always naming the method, so that a
table can say which interval it shows. Method names follow the config's
``reporting.proportion_ci``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Config name -> (statsmodels method, how a footnote names it)
PROPORTION_METHODS = {
    "wilson": ("wilson", "Wilson score interval"),
    "clopper_pearson": ("beta", "Clopper-Pearson exact interval"),
    "jeffreys": ("jeffreys", "Jeffreys interval"),
    "agresti_coull": ("agresti_coull", "Agresti-Coull interval"),
}


@dataclass(frozen=True)
class Estimate:
    """A proportion (or a difference) with its interval.

    Attributes
    ----------
    estimate, ci_lower, ci_upper : float
        ``nan`` when the denominator is zero.
    method : str
        The interval's method, as the config names it (or ``newcombe``).
    """

    estimate: float
    ci_lower: float
    ci_upper: float
    method: str


def proportion_ci(count: int, nobs: int, method: str = "wilson", level: float = 0.95) -> Estimate:
    """A binomial proportion and its two-sided interval.

    Parameters
    ----------
    count, nobs : int
        Successes and trials; ``nobs == 0`` gives ``nan``.
    method : {"wilson", "clopper_pearson", "jeffreys", "agresti_coull"}
    level : float
        Confidence level, e.g. 0.95.

    Notes
    -----
    Jeffreys uses the boundary convention of Brown, Cai and DasGupta (2001): the lower bound
    is 0 when ``count == 0`` and the upper bound 1 when ``count == nobs``. Clopper-Pearson,
    Wilson and Agresti-Coull are statsmodels' ``beta``, ``wilson`` and ``agresti_coull``
    (the last clipped to [0, 1]).
    """
    from statsmodels.stats.proportion import proportion_confint

    if method not in PROPORTION_METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of {', '.join(PROPORTION_METHODS)}")
    if nobs == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), method)
    lo, hi = proportion_confint(count, nobs, alpha=1 - level, method=PROPORTION_METHODS[method][0])
    # At x = 0 and x = n every method's limit is exactly 0 or 1 (Jeffreys by the convention
    # above); pin them so floating-point error cannot leave the estimate outside its interval.
    lo = 0.0 if count == 0 else max(0.0, float(lo))
    hi = 1.0 if count == nobs else min(1.0, float(hi))
    return Estimate(count / nobs, lo, hi, method)


def newcombe_difference(count1: int, nobs1: int, count2: int, nobs2: int, level: float = 0.95) -> Estimate:
    """Difference of two independent proportions, ``p1 - p2``, with Newcombe's hybrid score interval.

    Newcombe (1998), Statistics in Medicine 17:873, method 10: built from the Wilson score
    intervals of each proportion.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    if nobs1 == 0 or nobs2 == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), "newcombe")
    lo, hi = confint_proportions_2indep(count1, nobs1, count2, nobs2, method="newcomb", compare="diff", alpha=1 - level)
    return Estimate(count1 / nobs1 - count2 / nobs2, float(lo), float(hi), "newcombe")


def describe(method: str, level: float) -> str:
    """Footnote text for an interval method, e.g. ``95% Wilson score interval``."""
    name = PROPORTION_METHODS[method][1] if method in PROPORTION_METHODS else method
    return f"{100 * level:g}% {name}"


def quartiles(values: np.ndarray) -> tuple[float, float, float]:
    """First quartile, median and third quartile (linear interpolation: R's ``quantile`` type 7)."""
    if len(values) == 0:
        return (float("nan"),) * 3
    q1, med, q3 = np.quantile(np.asarray(values, dtype=float), [0.25, 0.5, 0.75])
    return float(q1), float(med), float(q3)
