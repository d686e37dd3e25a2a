"""The probability that a proportion criterion is met: its Beta posterior against the criterion's thresholds.

A feasibility trial of about a hundred men judges each progression criterion on an estimate whose
interval is wide; the question a committee asks is how likely the definitive trial's condition holds.
With ``x`` of ``n`` men (recruited, followed up, reaching a dose) and a ``Beta(a, b)`` prior (``Beta(1, 1)``,
uniform, unless the config names another), the proportion's posterior is ``Beta(a + x, b + n - x)``:

- a ``go`` criterion is met with probability ``P(p >= go)``;
- a traffic light's zones have ``P(p >= green)``, ``P(amber <= p < green)`` and ``P(p < amber)``;
- every quantitative criterion met together: the product of the criteria's probabilities, the posteriors
  being independent (each proportion's men or denominator its own; stated with the figure).

Each is R's ``pbeta`` (``1 - pbeta(go, a + x, b + n - x)``), checked in ``tests/test_posterior.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from scipy import special


@dataclass(frozen=True)
class BetaPrior:
    """A Beta prior on a proportion (``a`` prior successes, ``b`` prior failures; both positive)."""

    a: float = 1.0
    b: float = 1.0

    def __post_init__(self) -> None:
        if not (self.a > 0 and self.b > 0 and math.isfinite(self.a) and math.isfinite(self.b)):
            raise ValueError(f"a Beta prior needs two positive numbers, not Beta({self.a}, {self.b})")


@dataclass(frozen=True)
class Zones:
    """The posterior probability of each traffic-light zone (they add up to 1)."""

    green: float
    amber: float
    red: float


def probability_at_least(x: int, n: int, threshold: float, prior: BetaPrior = BetaPrior()) -> float:
    """``P(p >= threshold)`` under the posterior ``Beta(a + x, b + n - x)``.

    >>> round(probability_at_least(104, 147, 0.60), 6)  # R: pbeta(0.6, 105, 44, lower.tail = FALSE)
    0.996306
    """
    if not 0 <= x <= n:
        raise ValueError(f"{x} of {n}: the count must lie between 0 and the denominator")
    if threshold <= 0:
        return 1.0
    if threshold >= 1:
        return 0.0
    return float(special.betaincc(prior.a + x, prior.b + n - x, threshold))


def zone_probabilities(x: int, n: int, green: float, amber: float, prior: BetaPrior = BetaPrior()) -> Zones:
    """The posterior probability of each zone of a traffic light with ``amber <= green``."""
    if amber > green:
        raise ValueError(f"the amber threshold {amber} lies above the green {green}")
    at_green = probability_at_least(x, n, green, prior)
    at_amber = probability_at_least(x, n, amber, prior)
    return Zones(green=at_green, amber=at_amber - at_green, red=1.0 - at_amber)


def probability_all(probabilities: Iterable[float]) -> float:
    """The probability that every criterion is met, their posteriors independent (``nan`` if any is)."""
    out = 1.0
    for p in probabilities:
        out *= p
    return out


__all__ = ["BetaPrior", "Zones", "probability_all", "probability_at_least", "zone_probabilities"]
