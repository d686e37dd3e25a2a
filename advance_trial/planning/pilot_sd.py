"""Four ways to size a trial from a pilot's standard deviation, side by side.

A pilot estimates the SD ``s`` on ``df`` degrees of freedom; taken at face value it is too small about
half the time, and the definitive trial underpowered. Each way below gives men per arm (not rounded)
for a two-sided two-sample t test of ``delta`` at ``alpha`` with ``power``:

``pilot``
    ``s`` as if it were the SD (R: ``power.t.test(delta = delta, sd = s, power = power)$n``).
``browne``
    Browne (1995): the SD's one-sided ``confidence`` upper limit ``s sqrt(df / qchisq(1 - confidence, df))``
    in place of ``s``, so that the planned power is reached with that confidence.
``sim_lewis``
    Sim & Lewis (2012), their adjustment of the sample size: the pilot's ``n`` multiplied by the inflation
    factor ``df / qchisq(1 - confidence, df)`` (the square of the SD's inflation). Equal to Browne's under the
    normal approximation, a little larger than it with the t test.
``julious_owen``
    Julious & Owen (2006): the power averaged over the SD's uncertainty. With ``sigma^2 = df s^2 / chi^2_df``,
    the normal-approximation power ``P(Z < sqrt(n/2) delta / sigma - t)`` (``t`` the test's critical value on
    ``2n - 2`` df) becomes a noncentral t probability, and ``n`` solves
    ``power = P(T_{df, ncp = t} <= sqrt(n/2) delta / s)`` (R: ``pt(sqrt(n/2) * delta / s, df, ncp = qt(1 -
    alpha/2, 2 * n - 2))``). As ``df`` grows it tends to the plain normal-approximation size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special


@dataclass(frozen=True)
class PilotSdSizes:
    """Men per arm (not rounded) by each way of using the pilot's SD, and the standardised effect."""

    sd: float
    df: int
    confidence: float
    sd_upper: float
    standardised_effect: float
    pilot: float
    browne: float
    sim_lewis: float
    julious_owen: float


def inflation_factor(df: int, confidence: float) -> float:
    """Sim & Lewis's factor for the sample size: ``df / qchisq(1 - confidence, df)``."""
    return df / float(special.chdtri(df, confidence))


def julious_owen_power(n: float, delta: float, sd: float, df: int, alpha: float = 0.05) -> float:
    """The power with ``n`` per arm averaged over the uncertainty of an SD estimated on ``df`` df."""
    crit = float(special.stdtrit(2 * (n - 1), 1 - alpha / 2))
    return float(special.nctdtr(df, crit, math.sqrt(n / 2) * delta / sd))


def n_julious_owen(delta: float, sd: float, df: int, alpha: float = 0.05, power: float = 0.9) -> float:
    """Men per arm (not rounded) for ``power`` averaged over the SD's uncertainty (Julious & Owen 2006).

    ``inf`` when no size reaches ``power``: with very few df the averaged power stays below it however many
    men are randomised (its limit is ``P(chi_df / sqrt(df) > 0)`` = 1 only slowly).
    """
    from scipy import optimize  # where a size is solved for: a result read back needs no optimiser

    if delta <= 0 or sd <= 0 or df < 1:
        raise ValueError("the difference and the SD must be positive and the SD estimated on at least 1 df")

    def f(n: float) -> float:
        return julious_owen_power(n, delta, sd, df, alpha) - power

    hi = 4.0
    while f(hi) < 0:
        hi *= 2
        if hi > 1e9:
            return math.inf
    return float(optimize.brentq(f, 2.0, hi, xtol=1e-10, rtol=1e-14))


def pilot_sd_sizes(delta: float, sd: float, df: int, alpha: float = 0.05, power: float = 0.9,
                   confidence: float = 0.8) -> PilotSdSizes:  # fmt: skip
    """The four sizes side by side (see the module's docstring)."""
    from advance_trial.planning.sample_size import n_per_arm, sd_upper_limit

    upper = sd_upper_limit(sd, df, confidence)
    plain = n_per_arm(delta, sd, alpha, power)
    return PilotSdSizes(
        sd=sd, df=df, confidence=confidence, sd_upper=upper, standardised_effect=delta / sd, pilot=plain,
        browne=n_per_arm(delta, upper, alpha, power), sim_lewis=plain * inflation_factor(df, confidence),
        julious_owen=n_julious_owen(delta, sd, df, alpha, power),
    )  # fmt: skip


__all__ = ["PilotSdSizes", "inflation_factor", "julious_owen_power", "n_julious_owen", "pilot_sd_sizes"]
