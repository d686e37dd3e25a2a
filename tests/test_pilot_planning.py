"""Issue 35's statistics, each against R or a closed form: the probability that a criterion is met (Beta
posterior), men per arm at an allocation ratio and the optimal ratio for a partially nested design, four
ways to use a pilot's SD, and the Poisson-gamma recruitment forecast."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.feasibility.posterior import BetaPrior, probability_all, probability_at_least, zone_probabilities
from advance_trial.planning.forecast import (
    NewSite,
    PilotSite,
    cumulative_bands,
    fit_rates,
    forecast,
    probability_reached,
    total_pmf,
)
from advance_trial.planning.pilot_sd import inflation_factor, n_julious_owen, pilot_sd_sizes
from advance_trial.planning.ratio import arm_sizes, optimal_ratio, unrounded

REL = 1e-9


# --- the probability that a proportion criterion is met ------------------------------------------------------


def test_probability_met_is_the_beta_posterior_tail_as_r_gives_it() -> None:
    # R: pbeta(0.6, 105, 44, lower.tail = FALSE)   (104 of 147 eligible men recruited, Beta(1, 1) prior)
    assert probability_at_least(104, 147, 0.60) == pytest.approx(0.99630610625754279, rel=REL)
    # R: pbeta(0.7, 52, 54, lower.tail = FALSE)    (51 of 104 followed up, against 70%)
    assert probability_at_least(51, 104, 0.70) == pytest.approx(3.615677164346639e-06, rel=1e-7)
    # R: pbeta(0.6, 104.5, 43.5, lower.tail = FALSE)  (Jeffreys' Beta(0.5, 0.5) prior)
    assert probability_at_least(104, 147, 0.60, BetaPrior(0.5, 0.5)) == pytest.approx(0.99659473364554096, rel=REL)


def test_probability_met_in_closed_form_at_the_counts_edges() -> None:
    # none of 10: Beta(1, 11), P(p >= t) = (1 - t)^11; all of 10: Beta(11, 1), P(p >= t) = 1 - t^11
    assert probability_at_least(0, 10, 0.6) == pytest.approx(0.4**11, rel=REL)
    assert probability_at_least(10, 10, 0.6) == pytest.approx(1 - 0.6**11, rel=REL)
    assert probability_at_least(0, 0, 0.25) == pytest.approx(0.75, rel=REL)  # no man: the uniform prior itself
    assert probability_at_least(3, 5, 0.0) == 1.0
    assert probability_at_least(3, 5, 1.0) == 0.0


def test_traffic_light_zones_as_r_gives_them() -> None:
    z = zone_probabilities(51, 104, green=0.7, amber=0.5)
    # R: pbeta(0.7, 52, 54, lower.tail = FALSE); pbeta(0.7, 52, 54) - pbeta(0.5, 52, 54); pbeta(0.5, 52, 54)
    assert z.green == pytest.approx(3.615677164346639e-06, rel=1e-7)
    assert z.red == pytest.approx(0.57731484055872362, rel=REL)
    assert z.amber == pytest.approx(1 - 0.57731484055872362 - 3.615677164346639e-06, rel=REL)


def test_the_joint_probability_is_the_product_and_nan_propagates() -> None:
    assert probability_all([0.5, 0.5, 0.8]) == pytest.approx(0.2)
    assert math.isnan(probability_all([0.5, float("nan")]))


def test_bad_counts_and_priors_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="between 0 and the denominator"):
        probability_at_least(11, 10, 0.5)
    with pytest.raises(ValueError, match="positive"):
        BetaPrior(0, 1)
    with pytest.raises(ValueError, match="amber"):
        zone_probabilities(3, 10, green=0.3, amber=0.5)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300), st.floats(0.01, 0.99), st.floats(0.01, 0.99))
def test_zones_add_up_to_one_and_more_successes_never_lower_the_probability(x: int, extra: int, a: float,
                                                                           g: float) -> None:  # fmt: skip
    n = x + extra
    amber, green = min(a, g), max(a, g)
    z = zone_probabilities(x, n, green, amber)
    assert z.green + z.amber + z.red == pytest.approx(1.0, abs=1e-12)
    assert min(z.green, z.amber, z.red) >= -1e-15
    if extra:
        assert probability_at_least(x + 1, n, green) >= probability_at_least(x, n, green) - 1e-15


# --- men per arm at an allocation ratio ---------------------------------------------------------------------


def test_the_plans_own_split_is_the_ratio_equal_to_the_design_effect() -> None:
    # the sample's plan (plan.csv): 42.33 men per arm after ANCOVA, design effect 4.165, 49.0% retained gives
    # control 87 and intervention 360: exactly the allocation at ratio D, where n_C = n0 and n_I = D n0
    n0, de, keep = 42.33168343800683, 4.165086975350293, 0.49038461538461536
    sizes = arm_sizes(n0, de, de, keep)
    assert (sizes.control, sizes.intervention, sizes.total) == (87, 360, 447)
    # 1:1 (the config's ratio): n0 (D + 1) / 2 = 109.46 per arm before attrition, 223 after
    assert unrounded(n0, de, 1.0)[0] == pytest.approx(n0 * (de + 1) / 2, rel=REL)
    assert (arm_sizes(n0, de, 1.0, keep).control, arm_sizes(n0, de, 1.0, keep).intervention) == (223, 223)
    # optimal sqrt(D) = 2.04: n_C = n0 (sqrt(D) + 1) / 2
    best = arm_sizes(n0, de, optimal_ratio(de), keep)
    assert optimal_ratio(de) == pytest.approx(math.sqrt(de), rel=REL)
    assert (best.control, best.intervention) == (132, 268)
    assert best.total < arm_sizes(n0, de, 1.0, keep).total < sizes.total


def test_no_clustering_gives_one_to_one_as_optimal_and_the_t_tests_size() -> None:
    assert optimal_ratio(1.0) == 1.0
    assert arm_sizes(63.765763724850714, 1.0, 1.0).control == 64  # power.t.test(delta = 0.5, power = 0.8)$n


@settings(max_examples=200, deadline=None)
@given(st.floats(1.0, 500.0), st.floats(1.0, 20.0), st.floats(0.05, 20.0))
def test_the_optimal_ratio_needs_the_fewest_men_and_keeps_the_precision(n0: float, de: float, k: float) -> None:
    c, i = unrounded(n0, de, k)
    assert de / i + 1 / c == pytest.approx(2 / n0, rel=1e-9)  # the same variance of the difference
    cb, ib = unrounded(n0, de, optimal_ratio(de))
    assert cb + ib <= c + i + 1e-9 * (c + i)


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="design effect"):
        optimal_ratio(0.5)
    with pytest.raises(ValueError, match="retained"):
        arm_sizes(10, 1.0, 1.0, retained=0.0)


# --- four ways to use the pilot's SD ------------------------------------------------------------------------


def test_four_ways_to_use_a_pilot_sd_agree_with_r() -> None:
    # R (benchmarks' tolerance tightened):
    #   jo <- function(d, s, m, a, p) uniroot(function(n) pt(sqrt(n/2)*d/s, df = m,
    #                                  ncp = qt(1 - a/2, 2*n - 2)) - p, c(2, 1e5), tol = 1e-12)$root
    #   n0 <- power.t.test(delta = 0.2, sd = 0.41, power = 0.9, tol = 1e-12)$n                # 89.2862635671341
    #   power.t.test(delta = 0.2, sd = 0.41 * sqrt(49 / qchisq(0.2, 49)), power = 0.9, tol = 1e-12)$n
    #                                                                                        # 107.7288634425398
    #   n0 * 49 / qchisq(0.2, 49)                                                            # 107.9336325711264
    #   jo(0.2, 0.41, 49, 0.05, 0.9)                                                         # 93.8577337285339
    s = pilot_sd_sizes(0.2, 0.41, 49, alpha=0.05, power=0.9, confidence=0.8)
    assert s.pilot == pytest.approx(89.2862635671341, rel=1e-10)
    assert s.browne == pytest.approx(107.7288634425398, rel=1e-10)
    assert s.sim_lewis == pytest.approx(107.9336325711264, rel=1e-10)
    assert s.julious_owen == pytest.approx(93.8577337285339, rel=1e-9)
    assert s.standardised_effect == pytest.approx(0.2 / 0.41)
    # R: the same with delta = 0.5, sd = 1, 20 df, power 0.8:
    #   63.7657637248468, 87.1131760841588, 87.4795480852034, 69.2351849703064
    s = pilot_sd_sizes(0.5, 1.0, 20, alpha=0.05, power=0.8, confidence=0.8)
    assert (s.pilot, s.browne, s.sim_lewis, s.julious_owen) == pytest.approx(
        (63.7657637248468, 87.1131760841588, 87.4795480852034, 69.2351849703064), rel=1e-9
    )


def test_julious_owen_tends_to_the_normal_approximation_with_many_df() -> None:
    # closed form of the limit: n = 2 (z_{1-a/2} + z_{power})^2 / d^2 with the t critical value; with 10^7 df
    # the averaged power is the plain normal-approximation power P(Z < sqrt(n/2) d - t_{2n-2})
    from scipy import stats

    n = n_julious_owen(0.5, 1.0, 10_000_000, 0.05, 0.8)
    assert stats.norm.cdf(math.sqrt(n / 2) * 0.5 - stats.t.ppf(0.975, 2 * n - 2)) == pytest.approx(0.8, rel=1e-6)
    assert inflation_factor(49, 0.8) == pytest.approx(49 / 40.5344174060528, rel=1e-12)  # R: qchisq(0.2, 49)


# --- the recruitment forecast -------------------------------------------------------------------------------

#: Four pilot sites that vary more than Poisson counts do.
VARIED = [PilotSite("a", 5, 10), PilotSite("b", 30, 10), PilotSite("c", 12, 8), PilotSite("d", 2, 6)]


def test_the_poisson_gamma_fit_is_glm_nb() -> None:
    # R: library(MASS); k <- c(5, 30, 12, 2); tau <- c(10, 10, 8, 6)
    #    fit <- glm.nb(k ~ offset(log(tau)), control = glm.control(epsilon = 1e-12, maxit = 100))
    #    fit$theta  1.79645908428369;  exp(coef(fit))  1.35072957184257;  logLik -13.5589911934394
    # (glm.nb stops at its own tolerance: the shapes agree to 5e-8)
    m = fit_rates(VARIED)
    assert m.model == "poisson_gamma"
    assert m.alpha == pytest.approx(1.79645908428369, rel=1e-7)
    assert m.mean_rate == pytest.approx(1.35072957184257, rel=1e-7)


def test_the_total_at_a_fixed_time_is_the_negative_binomial() -> None:
    # four new sites open at the start: N(20) ~ NB(4 alpha, beta / (beta + 20)); with R's alpha and beta,
    # pnbinom(99, size = 4 * a, prob = b / (b + 20), lower.tail = FALSE) = 0.534058710194083
    m = fit_rates(VARIED)
    sites = [NewSite(s) for s in "wxyz"]
    assert probability_reached(m, sites, 20.0, 100) == pytest.approx(0.534058710194083, rel=1e-6)
    from scipy import stats

    exact = stats.nbinom.sf(99, 4 * m.alpha, m.beta / (m.beta + 20))
    assert probability_reached(m, sites, 20.0, 100) == pytest.approx(exact, rel=1e-10)
    pmf = total_pmf(m, sites, 20.0, 400)
    assert pmf.sum() == pytest.approx(1.0, rel=1e-12)


def test_sites_that_vary_no_more_than_poisson_share_one_uncertain_rate() -> None:
    # the sample's three sites: 40, 34 and 30 men in 15 months each (recruitment_rate.csv): no overdispersion
    pilot = [PilotSite("london", 40, 15), PilotSite("wolverhampton", 34, 15), PilotSite("bristol", 30, 15)]
    m = fit_rates(pilot)
    assert (m.model, m.alpha, m.beta) == ("common_rate", 104.0, 45.0)
    # sites opening at 0, 2 and 3.5 months; by month 36 they have 36 + 34 + 32.5 site-months:
    # R: pnbinom(377, size = 104, prob = 45 / (45 + 102.5), lower.tail = FALSE)
    sites = [NewSite("london"), NewSite("leeds", 2.0), NewSite("cardiff", 3.5)]
    from scipy import stats

    exact = float(stats.nbinom.sf(377, 104, 45 / (45 + 102.5)))
    assert probability_reached(m, sites, 36.0, 378) == pytest.approx(exact, rel=1e-10)


def test_the_forecast_agrees_with_a_seeded_simulation() -> None:
    # sites opening at different times: no closed form; a simulation of the model, 200,000 trials, seeded
    m = fit_rates(VARIED)
    sites = [NewSite("b", 0.0), NewSite("x", 0.0), NewSite("y", 3.0), NewSite("z", 6.0)]
    f = forecast(m, sites, target=120, deadline=24.0)
    rng = np.random.default_rng(20261207)
    draws = 200_000
    # site b continues from the pilot: its posterior Gamma(alpha + 30, beta + 10); the others the fitted gamma
    shapes = np.array([m.alpha + 30, m.alpha, m.alpha, m.alpha])
    rates = np.array([m.beta + 10, m.beta, m.beta, m.beta])
    lam = rng.gamma(shapes, 1 / rates, size=(draws, 4))
    opens = np.array([0.0, 0.0, 3.0, 6.0])
    counts = rng.poisson(lam * np.maximum(24.0 - opens, 0))
    p_sim = (counts.sum(axis=1) >= 120).mean()
    assert f.probability_by_deadline == pytest.approx(p_sim, abs=4 * math.sqrt(p_sim * (1 - p_sim) / draws))
    # the time to the 120th man: the cumulative intensity at that time is a Gamma(120, 1) draw
    e = rng.gamma(120, 1.0, size=draws)
    months = np.empty(draws)
    order = np.argsort(opens)
    for j in range(draws):
        slope, t, left = 0.0, 0.0, e[j]
        for i in order:
            if slope > 0 and t + left / slope <= opens[i]:
                break
            left -= slope * (opens[i] - t)
            t, slope = opens[i], slope + lam[j, i]
        months[j] = t + left / slope
        if j > 40_000:
            months = months[: j + 1]
            break
    assert f.median_months == pytest.approx(float(np.median(months)), rel=0.01)
    assert f.lower80 == pytest.approx(float(np.quantile(months, 0.1)), rel=0.015)
    assert f.upper80 == pytest.approx(float(np.quantile(months, 0.9)), rel=0.015)
    assert f.lower95 <= f.lower80 <= f.median_months <= f.upper80 <= f.upper95


def test_cumulative_bands_widen_and_the_target_is_reached_by_the_median_month() -> None:
    m = fit_rates(VARIED)
    sites = [NewSite(s) for s in "wxyz"]
    f = forecast(m, sites, target=100)
    rows = cumulative_bands(m, sites, [6.0, 12.0, f.median_months + 1e-6, 36.0], upto=400)
    assert [r["median"] for r in rows] == sorted(r["median"] for r in rows)
    assert rows[2]["median"] >= 100
    for r in rows:
        assert r["lower95"] <= r["lower80"] <= r["median"] <= r["upper80"] <= r["upper95"]


def test_a_forecast_without_sites_or_men_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="no man was recruited"):
        fit_rates([PilotSite("a", 0, 5)])
    with pytest.raises(ValueError, match="no site"):
        forecast(fit_rates(VARIED), [], 10)
