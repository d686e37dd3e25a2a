"""Proportion intervals pinned to R, and Newcombe's difference to its published worked example."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from advance_trial.intervals import newcombe_difference, proportion_ci, quartiles

# R 4.2 (Debian r-base-core), typed in with 15 significant digits:
#   prop.test(x, n, correct = FALSE, conf.level = L)$conf.int   (Wilson)
#   binom.test(x, n)$conf.int                                    (Clopper-Pearson)
#   jeff <- function(x, n, a = 0.05) c(ifelse(x == 0, 0, qbeta(a/2, x + .5, n - x + .5)),
#                                      ifelse(x == n, 1, qbeta(1 - a/2, x + .5, n - x + .5)))
#   ac <- function(x, n, a = 0.05) {z <- qnorm(1 - a/2); nt <- n + z^2; pt <- (x + z^2/2)/nt
#                                   pt + c(-1, 1) * z * sqrt(pt * (1 - pt)/nt)}
R_REFERENCE = [
    (104, 147, "wilson", 0.95, 0.629409575101778, 0.774988529218540),
    (51, 104, "wilson", 0.95, 0.396375856482595, 0.585078400332260),
    (18, 20, "wilson", 0.95, 0.698966354771513, 0.972133518786232),
    (17, 27, "wilson", 0.95, 0.442292344121024, 0.784674870390344),
    (0, 10, "wilson", 0.95, 0.0, 0.277532799862889),
    (104, 147, "wilson", 0.90, 0.642462028666594, 0.765004512602164),
    (104, 147, "clopper_pearson", 0.95, 0.626858083925347, 0.779536312662122),
    (18, 20, "clopper_pearson", 0.95, 0.683017285980918, 0.987651472829705),
    (0, 10, "clopper_pearson", 0.95, 0.0, 0.308497107818761),
    (104, 147, "jeffreys", 0.95, 0.630437139101750, 0.776449872431542),
    (18, 20, "jeffreys", 0.95, 0.716146742695748, 0.978627511977525),
    (0, 10, "jeffreys", 0.95, 0.0, 0.217196267509211),
    (10, 10, "jeffreys", 0.95, 0.782803732490789, 1.0),
    (104, 147, "agresti_coull", 0.95, 0.629222912445496, 0.775175191874822),
    (18, 20, "agresti_coull", 0.95, 0.686756112559608, 0.984343760998137),
]


@pytest.mark.parametrize("x, n, method, level, lo, hi", R_REFERENCE)
def test_proportion_ci_matches_r(x, n, method, level, lo, hi):
    est = proportion_ci(x, n, method, level)
    assert est.estimate == x / n and est.method == method
    assert est.ci_lower == pytest.approx(lo, abs=1e-12)
    assert est.ci_upper == pytest.approx(hi, abs=1e-12)


def test_published_figures_as_percentages():
    """The published ADVANCE figures: 70.7% (62.9 to 77.5), 49.0% (39.6 to 58.5); Cranstoun 90% (69.9 to 97.2)."""
    for (x, n), (p, lo, hi) in {(104, 147): (70.7, 62.9, 77.5), (51, 104): (49.0, 39.6, 58.5),
                                (18, 20): (90.0, 69.9, 97.2), (17, 27): (63.0, 44.2, 78.5)}.items():  # fmt: skip
        e = proportion_ci(x, n)
        assert (round(100 * e.estimate, 1), round(100 * e.ci_lower, 1), round(100 * e.ci_upper, 1)) == (p, lo, hi)


def test_newcombe_worked_example():
    """Newcombe (1998) Stat Med 17:873, table II, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339."""
    est = newcombe_difference(56, 70, 48, 80)
    assert est.estimate == pytest.approx(0.2)
    assert (round(est.ci_lower, 4), round(est.ci_upper, 4)) == (0.0524, 0.3339)
    # And to full precision against the closed form built in R from prop.test's Wilson limits:
    assert est.ci_lower == pytest.approx(0.0524314724023649, abs=1e-12)
    assert est.ci_upper == pytest.approx(0.3338726540369059, abs=1e-12)
    est = newcombe_difference(9, 10, 3, 10)
    assert (est.ci_lower, est.ci_upper) == pytest.approx((0.170522723934503, 0.809017973535488), abs=1e-12)


def test_empty_denominator_gives_nan():
    assert math.isnan(proportion_ci(0, 0).estimate) and math.isnan(newcombe_difference(1, 2, 0, 0).ci_lower)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown interval method"):
        proportion_ci(1, 2, "exact")


@given(st.integers(0, 300), st.integers(1, 300), st.sampled_from(["wilson", "clopper_pearson", "jeffreys",
                                                                  "agresti_coull"]))  # fmt: skip
def test_interval_contains_estimate_and_stays_in_unit_range(x, n, method):
    x = min(x, n)
    narrow, wide = proportion_ci(x, n, method, 0.90), proportion_ci(x, n, method, 0.99)
    for e in (narrow, wide):
        assert 0.0 <= e.ci_lower <= e.estimate <= e.ci_upper <= 1.0
    assert wide.ci_lower <= narrow.ci_lower + 1e-12 and wide.ci_upper >= narrow.ci_upper - 1e-12


@given(st.integers(0, 50), st.integers(1, 50), st.integers(0, 50), st.integers(1, 50))
@example(0, 15, 29, 29)  # found by CI: the lower limit came out as -1.0000000000000002
@example(15, 15, 0, 29)
def test_newcombe_contains_difference(a, n1, b, n2):
    a, b = min(a, n1), min(b, n2)
    e = newcombe_difference(a, n1, b, n2)
    assert -1.0 <= e.ci_lower <= e.estimate <= e.ci_upper <= 1.0


def test_quartiles_are_r_type_7():
    # R: quantile(c(0, 2, 2, 4, 9, 10, 14), c(.25, .5, .75)) -> 2, 4, 9.5
    assert quartiles([0, 2, 2, 4, 9, 10, 14]) == (2.0, 4.0, 9.5)
