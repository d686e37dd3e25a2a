"""Sample-size formulas: the two-sample t test as R's ``power.t.test`` solves it, and the inflations a
pilot's estimates call for.

- :func:`n_per_arm`: men per arm for a two-sided two-sample t test (R: ``power.t.test(delta, sd,
  sig.level, power)$n``, ``strict = FALSE``: the power counts rejections in the expected direction).
- :func:`sd_upper_limit`: the one-sided upper confidence limit of a standard deviation,
  ``s * sqrt(df / qchisq(1 - confidence, df))`` (Browne 1995; Sim & Lewis 2012).
- :func:`correlation_interval`: Fisher's z interval of a correlation.
- :func:`design_effect`: ``1 + (m - 1) * icc`` for the arm delivered in groups of ``m`` (Moerbeek & Wong
  2008; Candlish et al. 2018): in a partially nested design only that arm is inflated.
"""

from __future__ import annotations

import math

from scipy import optimize, special


def power_two_sample(n: float, delta: float, sd: float, alpha: float) -> float:
    """The power of a two-sided two-sample t test with ``n`` per arm (R's ``strict = FALSE``)."""
    df = 2 * (n - 1)
    ncp = math.sqrt(n / 2) * delta / sd
    q = float(special.stdtrit(df, 1 - alpha / 2))
    below = float(special.nctdtr(df, ncp, q))
    return 1.0 if math.isnan(below) else 1 - below  # far in the tail the noncentral t gives up: power 1


def n_per_arm(delta: float, sd: float, alpha: float = 0.05, power: float = 0.9) -> float:
    """Men per arm (not rounded) for the two-sample t test to detect ``delta`` with ``power``.

    >>> round(n_per_arm(0.5, 1, 0.05, 0.8), 6)  # R: power.t.test(delta = 0.5, sd = 1, power = 0.8)$n
    63.765764
    """
    if delta <= 0 or sd <= 0:
        raise ValueError("the difference and the standard deviation must be positive")
    # on R's interval, to a tighter tolerance than power.t.test's default (R: tol = 1e-12 agrees to 1e-12)
    return float(optimize.brentq(lambda n: power_two_sample(n, delta, sd, alpha) - power, 2.0, 1e7, xtol=1e-10))


def sd_upper_limit(sd: float, df: int, confidence: float = 0.8) -> float:
    """The one-sided ``confidence`` upper limit of a standard deviation estimated on ``df`` degrees of freedom."""
    return sd * math.sqrt(df / float(special.chdtri(df, confidence)))


def correlation_interval(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Fisher's z interval of a correlation from ``n`` pairs (``tanh(atanh(r) -/+ z / sqrt(n - 3))``)."""
    if n <= 3 or not -1 < r < 1:
        return (float("nan"), float("nan"))
    z = float(special.ndtri(0.5 + level / 2))
    half = z / math.sqrt(n - 3)
    return math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)


def design_effect(group_size: int, icc: float) -> float:
    """``1 + (m - 1) * icc``: the inflation of the arm delivered in groups of ``m``."""
    return 1 + (group_size - 1) * icc
