"""Generalised linear models by iteratively reweighted least squares, as R's ``glm.fit``.

Two families are needed: binomial with the logit link (R: ``glm(family = binomial)``) and the
negative binomial (NB2) with the log link, whose shape ``theta`` is estimated by maximum
likelihood in alternation with the coefficients exactly as ``MASS::glm.nb`` does (Venables and
Ripley 2002, section 7.4): fit at a fixed theta, re-estimate theta by Newton's method on its
score (``MASS::theta.ml``), repeat until neither moves.

The coefficients' covariance is ``(X' W X)^-1`` at the solution with the dispersion fixed at 1,
which is ``vcov()`` of either R fit. Nothing here prints; a fit that does not converge warns
with :class:`~advance_trial.errors.ConvergenceWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from advance_trial.errors import ConvergenceWarning, SeparationWarning

#: Relative change of the deviance that ends the iterations (R's default is 1e-8).
TOLERANCE = 1e-12
MAX_ITERATIONS = 100
#: |eta| beyond this is held there when turned into a probability (R's C_logit_linkinv THRESH).
LOGIT_THRESH = 30.0
#: theta beyond this is reported as no overdispersion (the Poisson limit).
THETA_MAX = 1e8


@dataclass(frozen=True)
class GlmFit:
    """Coefficients, their covariance, the fitted means and, for the negative binomial, theta."""

    beta: np.ndarray
    cov: np.ndarray
    mu: np.ndarray
    theta: float = float("inf")
    converged: bool = True


def _mean_and_weight(eta: np.ndarray, family: str, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """The fitted mean and the IRLS weight ``(d mu / d eta)^2 / variance``."""
    if family == "logit":
        mu = special.expit(np.clip(eta, -LOGIT_THRESH, LOGIT_THRESH))  # as R's logit_linkinv: mu never 0 or 1
        return mu, mu * (1 - mu)
    mu = np.exp(eta)
    return mu, mu / (1 + mu / theta)  # NB2: variance mu + mu^2 / theta (Poisson when theta is infinite)


def _irls(X: np.ndarray, y: np.ndarray, family: str, theta: float, eta: np.ndarray) -> GlmFit:
    dev_old, converged = np.inf, False
    for _ in range(MAX_ITERATIONS):
        mu, w = _mean_and_weight(eta, family, theta)
        z = eta + (y - mu) / (w if family == "logit" else mu)  # working response: eta + (y - mu) / (d mu / d eta)
        sw = np.sqrt(w)
        beta, *_ = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)
        eta = X @ beta
        dev = _deviance(y, eta, family, theta)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < TOLERANCE:
            converged = True
            break
        dev_old = dev
    mu, w = _mean_and_weight(eta, family, theta)
    return GlmFit(beta, np.linalg.inv((X * w[:, None]).T @ X), mu, theta, converged)


def _deviance(y: np.ndarray, eta: np.ndarray, family: str, theta: float) -> float:
    if family == "logit":
        return float(2 * (np.logaddexp(0, eta) - y * eta).sum())  # y in {0, 1}
    mu = np.exp(eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = np.where(y > 0, y * np.log(y / mu), 0.0)
    if not np.isfinite(theta):  # Poisson
        return float(2 * (ylog - (y - mu)).sum())
    return float(2 * (ylog - (y + theta) * np.log((y + theta) / (mu + theta))).sum())


def logistic_fit(X: np.ndarray, y: np.ndarray) -> GlmFit:
    """Logistic regression of a 0/1 ``y`` on ``X`` (R: ``glm(y ~ ..., family = binomial)``)."""
    fit = _irls(X, y, "logit", np.inf, np.log((y + 0.5) / (1.5 - y)))  # R's start: mu = (y + 0.5) / 2
    if not fit.converged or np.any(np.abs(fit.beta) > 30):
        warnings.warn("the logistic model did not converge (perhaps the outcome is separated by a covariate); "
                      "its estimates are unreliable", ConvergenceWarning, stacklevel=2)  # fmt: skip
    elif np.any((fit.mu < 1e-8) | (fit.mu > 1 - 1e-8)):
        warnings.warn("fitted probabilities numerically 0 or 1 occurred (as R's glm warns): the estimates rest on "
                      "near-separation", SeparationWarning, stacklevel=2)  # fmt: skip
    return fit


def theta_ml(y: np.ndarray, mu: np.ndarray) -> float:
    """Maximum likelihood estimate of the negative binomial shape at fixed means (``MASS::theta.ml``)."""
    n = len(y)
    spread = float(((y / mu - 1) ** 2).sum())
    if not spread > 1e-20 * n:  # fitted exactly, to rounding (counts that do not vary): the Poisson limit
        return np.inf
    theta = n / spread
    # counts repeat: each (poly)gamma value is computed once per distinct count and spread back over the men,
    # the very values computed man by man, summed in the same order
    counts, which = np.unique(y, return_inverse=True)
    for _ in range(MAX_ITERATIONS):
        score = (special.digamma(theta + counts)[which] - special.digamma(theta) + np.log(theta) + 1
                 - np.log(theta + mu) - (y + theta) / (mu + theta)).sum()  # fmt: skip
        info = (-special.polygamma(1, theta + counts)[which] + special.polygamma(1, theta) - 1 / theta
                + 2 / (mu + theta) - (y + theta) / (mu + theta) ** 2).sum()  # fmt: skip
        step = score / info
        theta = abs(theta + step)
        if theta > THETA_MAX or not np.isfinite(theta):  # rising without bound (nan: beyond float precision)
            return np.inf
        if abs(step) < 1e-10 * max(1.0, theta):
            break
    return float(theta)


def negative_binomial_fit(X: np.ndarray, y: np.ndarray) -> GlmFit:
    """Negative binomial (NB2, log link) regression with theta by maximum likelihood (``MASS::glm.nb``)."""
    fit = _irls(X, y, "log", np.inf, np.log(y + (y == 0) / 6))  # Poisson first, from R's start
    theta, converged = theta_ml(y, fit.mu), False
    for _ in range(MAX_ITERATIONS):
        fit = _irls(X, y, "log", theta, X @ fit.beta)
        new = theta_ml(y, fit.mu)
        if new == theta or (np.isfinite(new) and abs(new - theta) < 1e-10 * theta):
            converged = fit.converged
            break
        theta = new
    if not converged:
        warnings.warn("the negative binomial model did not converge; its estimates are unreliable",
                      ConvergenceWarning, stacklevel=2)  # fmt: skip
    return GlmFit(fit.beta, fit.cov, fit.mu, theta, converged)


def _penalised_loglik(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    """Firth's penalised log-likelihood: ``l(beta) + log|X' W X| / 2`` (Jeffreys prior)."""
    eta = X @ beta
    mu = special.expit(eta)
    w = mu * (1 - mu)
    sign, logdet = np.linalg.slogdet((X * w[:, None]).T @ X)
    if sign <= 0:
        return -np.inf
    return float((y * eta - np.logaddexp(0, eta)).sum() + logdet / 2)


def _firth_newton(X: np.ndarray, y: np.ndarray, beta: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, bool]:
    """Maximise the penalised likelihood over the coefficients marked ``free`` (the others held), by
    Newton steps on Firth's modified score with step halving and steps of at most 5, as ``logistf``."""
    converged = False
    for _ in range(MAX_ITERATIONS * 2):
        mu = special.expit(X @ beta)
        w = mu * (1 - mu)
        info = (X * w[:, None]).T @ X
        inv = np.linalg.inv(info)
        h = w * np.einsum("ij,jk,ik->i", X, inv, X)  # the hat matrix's diagonal
        score = X.T @ (y - mu + h * (0.5 - mu))
        step = np.zeros_like(beta)
        step[free] = np.linalg.solve(info[np.ix_(free, free)], score[free])
        if np.abs(step).max() > 5:
            step *= 5 / np.abs(step).max()
        old = _penalised_loglik(X, y, beta)
        for _ in range(30):
            if _penalised_loglik(X, y, beta + step) >= old - 1e-12:
                break
            step /= 2
        beta = beta + step
        if np.abs(step).max() < 1e-10 and np.abs(score[free]).max() < 1e-8:
            converged = True
            break
    return beta, converged


def firth_fit(X: np.ndarray, y: np.ndarray) -> GlmFit:
    """Firth's bias-reduced logistic regression (R: ``logistf::logistf``): finite under separation."""
    beta, converged = _firth_newton(X, y, np.zeros(X.shape[1]), np.ones(X.shape[1], dtype=bool))
    if not converged:
        warnings.warn("Firth's logistic model did not converge; its estimates are unreliable", ConvergenceWarning,
                      stacklevel=2)  # fmt: skip
    mu = special.expit(X @ beta)
    return GlmFit(beta, np.linalg.inv((X * (mu * (1 - mu))[:, None]).T @ X), mu, np.inf, converged)


def firth_profile_interval(X: np.ndarray, y: np.ndarray, fit: GlmFit, j: int, level: float) -> tuple[float, float]:
    """Profile penalised-likelihood interval of coefficient ``j`` (``logistf``'s default): the values ``b``
    where ``2 (l*(beta_hat) - max l*(beta | beta_j = b))`` equals the chi-squared(1) quantile."""
    from scipy import optimize

    top = _penalised_loglik(X, y, fit.beta)
    crit = float(special.gammaincinv(0.5, level))  # half the chi-squared(1) quantile, as scipy.stats.chi2.ppf
    free = np.ones(X.shape[1], dtype=bool)
    free[j] = False

    def gap(b: float) -> float:
        start = fit.beta.copy()
        start[j] = b
        beta, _ = _firth_newton(X, y, start, free)
        return top - _penalised_loglik(X, y, beta) - crit

    se = float(np.sqrt(fit.cov[j, j]))
    bounds = []
    for direction in (-1.0, 1.0):
        width = max(se, 0.1)
        far = fit.beta[j] + direction * width
        while gap(far) < 0 and width < 1e3:
            width *= 2
            far = fit.beta[j] + direction * width
        found = gap(far) >= 0
        bounds.append(float(optimize.brentq(gap, fit.beta[j], far, xtol=1e-10)) if found else direction * np.inf)
    return bounds[0], bounds[1]
