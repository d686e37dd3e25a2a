"""Confidence intervals for proportions and for differences between them.

Closed forms (Wilson, Agresti-Coull, Newcombe) and beta quantiles (Clopper-Pearson,
Jeffreys), always naming the method, so that a table can say which interval it shows.
Method names follow the config's ``reporting.proportion_ci``. Also the normal and t
quantiles and tail areas every interval in the package uses, from ``scipy.special``
(``scipy.stats`` and statsmodels cost a second of start-up for the same numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from advance_trial.vocabulary import PROPORTION_METHODS  # config name -> how a footnote names the method


def quantile(p: float, df: float = np.inf) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (the normal when infinite)."""
    return float(special.ndtri(p) if not np.isfinite(df) else special.stdtrit(df, p))


def two_sided_p(stat: float, df: float = np.inf) -> float:
    """Two-sided tail area of a t (or, with infinite ``df``, normal) statistic; ``nan`` stays ``nan``."""
    a = -abs(stat)
    return float(2 * (special.ndtr(a) if not np.isfinite(df) else special.stdtr(df, a)))


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
    Wilson: ``(x + z^2/2) / (n + z^2) +- z / (n + z^2) * sqrt(x (n - x) / n + z^2 / 4)``, as R's
    ``prop.test(correct = FALSE)``. Agresti-Coull: the Wald interval around ``(x + z^2/2) / (n + z^2)``
    with ``n + z^2`` trials, clipped to [0, 1]. Clopper-Pearson: beta quantiles
    ``B(a/2; x, n - x + 1)`` and ``B(1 - a/2; x + 1, n - x)``, as ``binom.test``. Jeffreys:
    ``B(a/2; x + 1/2, n - x + 1/2)`` and ``B(1 - a/2; ...)``, with the boundary convention of Brown,
    Cai and DasGupta (2001): the lower bound is 0 when ``count == 0`` and the upper 1 when
    ``count == nobs``.
    """
    if method not in PROPORTION_METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of {', '.join(PROPORTION_METHODS)}")
    if nobs == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), method)
    lo, hi = _limits(count, nobs, method, 1 - level)
    # At x = 0 and x = n every method's limit is exactly 0 or 1 (Jeffreys by the convention
    # above); pin them so floating-point error cannot leave the estimate outside its interval.
    lo = 0.0 if count == 0 else max(0.0, float(lo))
    hi = 1.0 if count == nobs else min(1.0, float(hi))
    return Estimate(count / nobs, lo, hi, method)


def _limits(x: int, n: int, method: str, alpha: float) -> tuple[float, float]:
    z = quantile(1 - alpha / 2)
    if method == "wilson":
        centre, half = (x + z * z / 2) / (n + z * z), z / (n + z * z) * np.sqrt(x * (n - x) / n + z * z / 4)
        return centre - half, centre + half
    if method == "agresti_coull":
        nt = n + z * z
        pt = (x + z * z / 2) / nt
        half = z * np.sqrt(pt * (1 - pt) / nt)
        return pt - half, pt + half
    if method == "clopper_pearson":
        (a_lo, b_lo), (a_hi, b_hi) = (float(x), float(n - x + 1)), (float(x + 1), float(n - x))
    else:  # jeffreys
        (a_lo, b_lo) = (a_hi, b_hi) = (x + 0.5, n - x + 0.5)
    lo = special.betaincinv(a_lo, b_lo, alpha / 2) if x > 0 else 0.0
    hi = special.betaincinv(a_hi, b_hi, 1 - alpha / 2) if x < n else 1.0
    return float(lo), float(hi)


def newcombe_difference(count1: int, nobs1: int, count2: int, nobs2: int, level: float = 0.95) -> Estimate:
    """Difference of two independent proportions, ``p1 - p2``, with Newcombe's hybrid score interval.

    Newcombe (1998), Statistics in Medicine 17:873, method 10: built from the Wilson score
    intervals of each proportion.
    """
    if nobs1 == 0 or nobs2 == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), "newcombe")
    p1, p2 = count1 / nobs1, count2 / nobs2
    l1, u1 = _limits(count1, nobs1, "wilson", 1 - level)
    l2, u2 = _limits(count2, nobs2, "wilson", 1 - level)
    d = p1 - p2
    # at 0/n1 against n2/n2 the lower limit is -1 exactly, which the sum of squares misses by an ulp: clipped
    lower = max(-1.0, d - float(np.hypot(p1 - l1, u2 - p2)))
    upper = min(1.0, d + float(np.hypot(u1 - p1, p2 - l2)))
    return Estimate(d, lower, upper, "newcombe")


def poisson_interval(count: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson rate ``count / exposure`` (R: ``poisson.test(count, exposure)``)."""
    a = (1 - level) / 2
    lo = 0.0 if count == 0 else float(special.gammaincinv(count, a)) / exposure
    hi = float(special.gammaincinv(count + 1, 1 - a)) / exposure
    return lo, hi


def describe(method: str, level: float) -> str:
    """Footnote text for an interval method, e.g. ``95% Wilson score interval``."""
    name = PROPORTION_METHODS.get(method, method)
    return f"{100 * level:g}% {name}"


def quartiles(values: np.ndarray) -> tuple[float, float, float]:
    """First quartile, median and third quartile (linear interpolation: R's ``quantile`` type 7)."""
    if len(values) == 0:
        return (float("nan"),) * 3
    q1, med, q3 = np.quantile(np.asarray(values, dtype=float), [0.25, 0.5, 0.75])
    return float(q1), float(med), float(q3)
