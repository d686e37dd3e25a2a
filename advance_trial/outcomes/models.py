"""Single-level models: ANCOVA, logistic regression (odds ratio, standardised and unadjusted risk
differences), negative binomial regression, paired change, and two-stage least squares (CACE).

Every function takes plain arrays and returns :class:`Effect` rows; nothing prints. Intervals
are at ``level``: t intervals for linear models (residual degrees of freedom, as R's
``confint(lm)``), Wald z intervals for the generalised linear models (as R's
``confint.default``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from advance_trial.intervals import newcombe_difference, quantile, two_sided_p
from advance_trial.outcomes.glm import firth_fit, firth_profile_interval, logistic_fit, negative_binomial_fit


@dataclass(frozen=True)
class Effect:
    """One estimate: the effect on its scale with its interval and what it rests on."""

    analysis: str
    effect: str
    estimate: float
    ci_lower: float
    ci_upper: float
    se: float
    df: float
    ci_method: str
    n_analysed: int
    n_intervention: int
    n_control: int
    p_value: float = float("nan")
    note: str = ""
    threshold: str = ""
    status: str = "estimated"
    reason: str = ""


def _t_effect(analysis: str, effect: str, est: float, se: float, df: float, level: float, n: tuple[int, int, int],
              method: str, **extra: Any) -> Effect:  # fmt: skip
    q = quantile(0.5 + level / 2, df)
    p = two_sided_p(est / se if se > 0 else np.nan, df)
    return Effect(analysis, effect, est, est - q * se, est + q * se, se, df, method, *n, p_value=p, **extra)


def _counts(treat: np.ndarray) -> tuple[int, int, int]:
    return len(treat), int((treat == 1).sum()), int((treat == 0).sum())


def ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least squares: coefficients, their covariance and the residual degrees of freedom."""
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    df = len(y) - X.shape[1]
    sigma2 = resid @ resid / df
    cov = sigma2 * np.linalg.inv(X.T @ X)
    return beta, cov, df


def ancova(X: np.ndarray, y: np.ndarray, level: float) -> Effect:
    """Mean difference (column 1 of ``X`` is the arm) adjusted for the other columns; R: ``lm``."""
    beta, cov, df = ols(X, y)
    return _t_effect("ancova", "mean_difference", beta[1], np.sqrt(cov[1, 1]), df, level, _counts(X[:, 1]),
                     "t (residual df)")  # fmt: skip


def change(base: np.ndarray, y: np.ndarray, level: float) -> Effect:
    """Mean change from baseline with its paired t interval; R: ``t.test(y, base, paired = TRUE)``."""
    d = y - base
    n = len(d)
    se = d.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
    return _t_effect("change", "mean_change", float(d.mean()) if n else np.nan, se, n - 1, level, (n, n, 0),
                     "paired t")  # fmt: skip


def logistic(X: np.ndarray, y: np.ndarray, level: float) -> list[Effect]:
    """Adjusted odds ratio (R: ``glm(binomial)``, Wald), the risk difference standardised over
    everyone analysed (delta-method interval), and the unadjusted Newcombe risk difference."""
    z = quantile(0.5 + level / 2)
    n = _counts(X[:, 1])
    fit = logistic_fit(X, y)
    beta, cov = fit.beta, fit.cov
    b, se = beta[1], np.sqrt(cov[1, 1])
    p = two_sided_p(b / se)
    out = [Effect("logistic", "odds_ratio", np.exp(b), np.exp(b - z * se), np.exp(b + z * se), se, np.inf,
                  "Wald z (log scale)", *n, p_value=p)]  # fmt: skip
    X1, X0 = X.copy(), X.copy()
    X1[:, 1], X0[:, 1] = 1.0, 0.0
    p1, p0 = 1 / (1 + np.exp(-X1 @ beta)), 1 / (1 + np.exp(-X0 @ beta))
    rd = float(p1.mean() - p0.mean())
    grad = (X1 * (p1 * (1 - p1))[:, None]).mean(axis=0) - (X0 * (p0 * (1 - p0))[:, None]).mean(axis=0)
    se_rd = float(np.sqrt(grad @ cov @ grad))
    out.append(Effect("logistic_standardised", "risk_difference", rd, rd - z * se_rd, rd + z * se_rd, se_rd, np.inf,
                      "delta method, z", *n, p_value=two_sided_p(rd / se_rd)))  # fmt: skip
    out.append(unadjusted_difference(X[:, 1], y, level))
    return out


def unadjusted_difference(treat: np.ndarray, y: np.ndarray, level: float) -> Effect:
    """The crude difference in proportions (intervention minus control) with Newcombe's hybrid score interval
    (Newcombe 1998, method 10): it needs no model, so separation leaves it defined."""
    t = treat == 1
    nc = newcombe_difference(int(y[t].sum()), int(t.sum()), int(y[~t].sum()), int((~t).sum()), level)
    return Effect("unadjusted", "risk_difference", nc.estimate, nc.ci_lower, nc.ci_upper, np.nan, np.inf,
                  "Newcombe hybrid score", *_counts(treat))  # fmt: skip


def firth_logistic(X: np.ndarray, y: np.ndarray, level: float) -> Effect:
    """Odds ratio from Firth's bias-reduced logistic regression with its profile penalised-likelihood
    interval (R: ``logistf(y ~ treat + ...)``, the defaults): finite even under separation, and less
    biased in small samples."""
    fit = firth_fit(X, y)
    b, se = float(fit.beta[1]), float(np.sqrt(fit.cov[1, 1]))
    lo, hi = firth_profile_interval(X, y, fit, 1, level)
    return Effect("firth", "odds_ratio", np.exp(b), np.exp(lo), np.exp(hi), se, np.inf,
                  "profile penalised likelihood", *_counts(X[:, 1]))  # fmt: skip


def negative_binomial(X: np.ndarray, y: np.ndarray, level: float) -> Effect:
    """Rate ratio from a negative binomial (NB2) model, as ``MASS::glm.nb``: theta by maximum
    likelihood, then the coefficients' covariance of the GLM at that theta (as ``vcov(glm.nb)``);
    Wald z interval on the log scale."""
    fit = negative_binomial_fit(X, y)
    b, se = float(fit.beta[1]), float(np.sqrt(fit.cov[1, 1]))
    z = quantile(0.5 + level / 2)
    note = f"theta {fit.theta:.4g}" if np.isfinite(fit.theta) else "theta infinite (no overdispersion)"
    return Effect("negative_binomial", "rate_ratio", np.exp(b), np.exp(b - z * se), np.exp(b + z * se), se, np.inf,
                  "Wald z (log scale)", *_counts(X[:, 1]), p_value=two_sided_p(b / se),
                  note=note)  # fmt: skip


def two_stage_least_squares(X: np.ndarray, d: np.ndarray, y: np.ndarray, level: float, threshold: str) -> Effect:
    """Complier average causal effect: ``d`` (threshold met) instrumented by the arm (column 1 of
    ``X``), exogenous covariates the other columns; HC1 robust standard errors, t interval with
    n - k degrees of freedom. R: ``ivreg(y ~ d + base + site | treat + base + site)`` with
    ``sandwich::vcovHC(type = "HC1")``."""
    Z = X
    W = X.copy()
    W[:, 1] = d
    proj = Z @ np.linalg.solve(Z.T @ Z, Z.T @ W)
    bread = np.linalg.inv(proj.T @ W)
    beta = bread @ proj.T @ y
    u = y - W @ beta
    n, k = W.shape
    meat = (proj * (u**2)[:, None]).T @ proj
    cov = bread @ meat @ bread.T * n / (n - k)
    return _t_effect("cace", "mean_difference", beta[1], np.sqrt(cov[1, 1]), n - k, level, _counts(X[:, 1]),
                     "2SLS, HC1 robust, t (n - k df)", threshold=threshold)  # fmt: skip
