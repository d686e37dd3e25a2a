"""IRLS fits against closed forms: with one binary covariate, logistic and Poisson regression
reproduce the two groups' log odds and log rates exactly, with the textbook standard errors
(Agresti 2013, Categorical Data Analysis, sections 3.1 and 4.3: ``sqrt(1/a + 1/b + 1/c + 1/d)``
and ``sqrt(1/y_1 + 1/y_0)``). R's fits of the trial's models are pinned in test_outcomes.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.errors import ConvergenceWarning
from advance_trial.outcomes.glm import logistic_fit, negative_binomial_fit, theta_ml


def _two_groups(n1: int, n0: int) -> np.ndarray:
    return np.column_stack([np.ones(n1 + n0), np.r_[np.ones(n1), np.zeros(n0)]])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30), st.integers(1, 30))
def test_logistic_with_one_binary_covariate_is_the_log_odds_ratio(a, b, c, d):
    X = _two_groups(a + b, c + d)
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    fit = logistic_fit(X, y)
    assert fit.beta == pytest.approx([np.log(c / d), np.log(a * d / (b * c))], rel=1e-9, abs=1e-12)
    assert np.sqrt(fit.cov[1, 1]) == pytest.approx(np.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-9)


def test_logistic_warns_when_the_outcome_is_separated():
    X = _two_groups(10, 10)
    with pytest.warns(ConvergenceWarning, match="separated"):
        logistic_fit(X, X[:, 1].copy())


def test_negative_binomial_without_overdispersion_is_poisson():
    """Counts less variable than Poisson: theta's likelihood rises forever, the fit is Poisson's."""
    y1, y0 = np.array([3.0, 4, 3, 4, 3, 4, 4, 3]), np.array([2.0, 2, 3, 2, 2, 3, 2, 2, 3])
    X = _two_groups(len(y1), len(y0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning on the way to the limit
        fit = negative_binomial_fit(X, np.r_[y1, y0])
    assert fit.theta == np.inf
    assert fit.beta == pytest.approx([np.log(y0.mean()), np.log(y1.mean() / y0.mean())], rel=1e-12)
    assert np.sqrt(fit.cov[1, 1]) == pytest.approx(np.sqrt(1 / y1.sum() + 1 / y0.sum()), rel=1e-10)


def test_theta_ml_sets_the_score_to_zero_and_recovers_a_simulated_shape():
    rng = np.random.default_rng(11)
    mu = np.full(20_000, 4.0)
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float)  # numpy's (n, p): mean n (1 - p) / p = 4
    theta = theta_ml(y, mu)
    assert theta == pytest.approx(2.0, rel=0.05)
    from scipy.special import digamma

    score = digamma(theta + y) - digamma(theta) + np.log(theta) + 1 - np.log(theta + mu) - (y + theta) / (mu + theta)
    assert abs(score.sum()) < 1e-6


@settings(max_examples=25, deadline=None, derandomize=True)  # numerical tolerances: the same 25 designs each run
@given(st.integers(0, 2**32 - 1))
def test_fits_agree_with_statsmodels_on_random_designs(seed):
    """An independent implementation (statsmodels' GLM, a test-only dependency) on random data."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 200))
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n), rng.integers(0, 2, n)])
    eta = X @ np.array([-0.3, 0.5, 0.4, -0.2])
    yb = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    ours, ref = logistic_fit(X, yb), sm.GLM(yb, X, family=sm.families.Binomial()).fit(tol=1e-14)
    assert ours.beta == pytest.approx(ref.params, rel=1e-7, abs=1e-8)
    assert ours.cov == pytest.approx(np.asarray(ref.cov_params()), rel=1e-6, abs=1e-9)
    yc = rng.negative_binomial(1.5, 1.5 / (1.5 + np.exp(eta + 1))).astype(float)
    nb = negative_binomial_fit(X, yc)
    if np.isfinite(nb.theta):  # at the ML theta, statsmodels' GLM gives the same coefficients and covariance
        ref = sm.GLM(yc, X, family=sm.families.NegativeBinomial(alpha=1 / nb.theta)).fit(tol=1e-14)
        assert nb.beta == pytest.approx(ref.params, rel=1e-7, abs=1e-8)
        assert nb.cov == pytest.approx(np.asarray(ref.cov_params()), rel=1e-6, abs=1e-9)
