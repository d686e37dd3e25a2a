"""Men per arm at an allocation ratio, when only the intervention arm is clustered (a partially nested design).

The intervention arm is delivered in therapy groups and carries the design effect ``D = 1 + (m - 1) ICC``;
the control arm is not clustered. The variance of the difference in means is
``sigma^2 (D / n_I + 1 / n_C)``. A trial of ``n0`` men per arm without clustering (the t test's size after
the ANCOVA reduction) has the variance ``2 sigma^2 / n0``; at ``k = n_I / n_C`` the same precision needs

    n_C = n0 (D / k + 1) / 2,    n_I = k n_C.

The total ``n_C (1 + k)`` is least at ``k = sqrt(D)`` (Moerbeek & Wong 2008; the square-root rule for
unequal variances, as Candlish et al. 2018 apply it to partially nested trials): the optimal ratio. With
no clustering (``D = 1``) it is 1:1. Attrition divides each arm by the proportion retained; each arm is
rounded up last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ArmSizes:
    """Men to randomise to each arm (rounded up) at the ratio ``intervention : control``."""

    ratio: float
    control: int
    intervention: int

    @property
    def total(self) -> int:
        """Men to randomise in all."""
        return self.control + self.intervention


def optimal_ratio(design_effect: float) -> float:
    """``sqrt(D)``: the intervention-to-control ratio that needs the fewest men for a given precision."""
    if not design_effect >= 1:
        raise ValueError(f"a design effect is at least 1, not {design_effect}")
    return math.sqrt(design_effect)


def unrounded(n0: float, design_effect: float, ratio: float) -> tuple[float, float]:
    """Control and intervention men (not rounded, before attrition) at ``ratio = n_I / n_C``."""
    if not (n0 > 0 and design_effect >= 1 and ratio > 0):
        raise ValueError(f"need n0 > 0, a design effect >= 1 and a positive ratio (got {n0}, {design_effect}, "
                         f"{ratio})")  # fmt: skip
    control = n0 * (design_effect / ratio + 1) / 2
    return control, ratio * control


def arm_sizes(n0: float, design_effect: float, ratio: float, retained: float = 1.0) -> ArmSizes:
    """Men to randomise per arm at ``ratio``: each arm divided by the proportion ``retained``, rounded up.

    >>> arm_sizes(100, 4.0, 1.0)  # (4 / 1 + 1) / 2 = 2.5 times n0 in each arm
    ArmSizes(ratio=1.0, control=250, intervention=250)
    >>> arm_sizes(100, 4.0, optimal_ratio(4.0))  # (4 / 2 + 1) / 2 = 1.5 n0, twice that in the intervention arm
    ArmSizes(ratio=2.0, control=150, intervention=300)
    """
    if not 0 < retained <= 1:
        raise ValueError(f"the proportion retained must lie in (0, 1], not {retained}")
    control, intervention = unrounded(n0, design_effect, ratio)
    # a hair below an integer is that integer: 150.00000000000003 men are 150
    return ArmSizes(ratio, _ceil(control / retained), _ceil(intervention / retained))


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-9 * max(1.0, abs(x)))


__all__ = ["ArmSizes", "arm_sizes", "optimal_ratio", "unrounded"]
