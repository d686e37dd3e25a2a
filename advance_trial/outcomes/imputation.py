"""Multiple imputation by chained equations (predictive mean matching) and Rubin's rules.

statsmodels' MICE draws from numpy's global random state; this small implementation takes a
seeded ``Generator`` so that every imputation is reproducible from the config.

Each incomplete variable (the outcome and the baseline score) is imputed in turn from every other
column (intercept, arm, the other incomplete variable, the adjustment factors): a Bayesian linear
regression draw of the coefficients (``sigma*^2 = RSS / chi2(n - p)``, ``beta* ~ N(beta_hat,
sigma*^2 (X'X)^-1)``), then predictive mean matching (type 1, as mice's default): each missing
value takes the observed value of one of the five donors whose fitted value (at ``beta_hat``) is
closest to its own (at ``beta*``). Chains start from random observed values and run
``iterations`` rounds; ``m`` chains give ``m`` completed data sets.

Pooling (Rubin 1987) with the small-sample degrees of freedom of Barnard and Rubin (1999), as
``mice::pool``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advance_trial.intervals import quantile

DONORS = 5


@dataclass(frozen=True)
class Pooled:
    """Rubin's rules applied to one coefficient."""

    estimate: float
    within: float
    between: float
    total: float
    df: float
    fmi: float


def pool(estimates: np.ndarray, variances: np.ndarray, df_complete: float) -> Pooled:
    """Pool ``m`` estimates and their squared standard errors (Barnard-Rubin degrees of freedom)."""
    m = len(estimates)
    qbar = float(np.mean(estimates))
    ubar = float(np.mean(variances))
    b = float(np.var(estimates, ddof=1))
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    df_old = (m - 1) / lam**2 if lam > 0 else np.inf
    df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
    df = 1 / (1 / df_old + 1 / df_obs) if np.isfinite(df_old) else df_obs
    r = (1 + 1 / m) * b / ubar if ubar > 0 else np.inf
    fmi = (r + 2 / (df + 3)) / (r + 1)
    return Pooled(qbar, ubar, b, t, df, fmi)


def pooled_interval(p: Pooled, level: float) -> tuple[float, float]:
    """``estimate -/+ t(df) * sqrt(total)``."""
    q = quantile(0.5 + level / 2, p.df)
    return p.estimate - q * np.sqrt(p.total), p.estimate + q * np.sqrt(p.total)


def _pmm(rng: np.random.Generator, X: np.ndarray, y: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """One PMM draw for the missing entries of ``y`` (``obs`` marks the observed ones).

    Predictors constant or aliased among the observed cases (a site where every man was lost) are
    left out of this draw, as mice's ``remove.lindep`` does.
    """
    from advance_trial.outcomes.checks import independent_columns

    X = X[:, independent_columns(X[obs])]
    Xo, yo = X[obs], y[obs]
    n, p = Xo.shape
    xtx_inv = np.linalg.pinv(Xo.T @ Xo)
    beta_hat = xtx_inv @ Xo.T @ yo
    rss = float(((yo - Xo @ beta_hat) ** 2).sum())
    sigma2 = rss / rng.chisquare(max(n - p, 1))
    beta_star = rng.multivariate_normal(beta_hat, sigma2 * xtx_inv, method="cholesky")
    fitted_obs = Xo @ beta_hat
    fitted_mis = X[~obs] @ beta_star
    return np.asarray(yo[_donors(rng, fitted_obs, fitted_mis, min(DONORS, n))])


def _donors(rng: np.random.Generator, fitted_obs: np.ndarray, fitted_mis: np.ndarray, k: int) -> np.ndarray:
    """For each missing case, one of the ``k`` observed cases with the closest fitted values (vectorised)."""
    order = np.argsort(fitted_obs, kind="stable")
    fs = fitted_obs[order]
    n = len(fs)
    pos = np.searchsorted(fs, fitted_mis)
    window = np.clip(pos[:, None] + np.arange(-k, k)[None, :], 0, n - 1)  # the k nearest lie in here
    dist = np.abs(fs[window] - fitted_mis[:, None])
    dist[:, 1:][window[:, 1:] == window[:, :-1]] = np.inf  # a clipped index counts once
    nearest = np.take_along_axis(window, np.argsort(dist, axis=1, kind="stable")[:, :k], axis=1)
    pick = rng.integers(0, k, size=len(fitted_mis))
    return np.asarray(order[nearest[np.arange(len(fitted_mis)), pick]])


def _pmm_block(rng: np.random.Generator, X: np.ndarray, Y: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """PMM for a block of columns imputed together (a factor's dummies): each column's regression drawn
    as in :func:`_pmm`, donors chosen by the distance between the fitted vectors, and the donor's whole
    row copied, so that an imputed man has one of the categories observed."""
    from advance_trial.outcomes.checks import independent_columns

    X = X[:, independent_columns(X[obs])]
    Xo, Yo = X[obs], Y[obs]
    n, p = Xo.shape
    xtx_inv = np.linalg.pinv(Xo.T @ Xo)
    beta_hat = xtx_inv @ Xo.T @ Yo
    fitted_obs, fitted_mis = Xo @ beta_hat, np.zeros((int((~obs).sum()), Y.shape[1]))
    for k in range(Y.shape[1]):
        rss = float(((Yo[:, k] - fitted_obs[:, k]) ** 2).sum())
        sigma2 = max(rss, 1e-12) / rng.chisquare(max(n - p, 1))
        beta_star = rng.multivariate_normal(beta_hat[:, k], sigma2 * xtx_inv, method="svd")
        fitted_mis[:, k] = X[~obs] @ beta_star
    dist = ((fitted_mis[:, None, :] - fitted_obs[None, :, :]) ** 2).sum(axis=2)
    k = min(DONORS, n)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
    pick = nearest[np.arange(len(fitted_mis)), rng.integers(0, k, size=len(fitted_mis))]
    return np.asarray(Yo[pick])


def impute(
    rng: np.random.Generator,
    complete: np.ndarray,
    incomplete: np.ndarray,
    m: int,
    iterations: int,
    groups: list[int] | None = None,
) -> list[np.ndarray]:
    """``m`` completed copies of ``incomplete`` (columns with missing values), imputed from each
    other and from ``complete`` (fully observed columns, including the intercept).

    ``groups`` gives the widths of consecutive blocks of columns imputed together (default: every
    column alone); a block is missing in a row as a whole.
    """
    widths = groups or [1] * incomplete.shape[1]
    starts = np.cumsum([0, *widths])
    missing = np.isnan(incomplete)
    out = []
    for _ in range(m):
        data = incomplete.copy()
        for g, w in enumerate(widths):
            cols = slice(starts[g], starts[g] + w)
            obs = ~missing[:, starts[g]]
            if w == 1:
                data[~obs, starts[g]] = rng.choice(data[obs, starts[g]], size=int((~obs).sum()))
            else:
                rows = rng.choice(np.flatnonzero(obs), size=int((~obs).sum()))
                data[~obs, cols] = data[rows, cols]
        for _ in range(iterations):
            for g, w in enumerate(widths):
                j = starts[g]
                if not missing[:, j].any():
                    continue
                others = np.delete(data, np.arange(j, j + w), axis=1)
                X = np.column_stack([complete, others])
                if w == 1:
                    data[missing[:, j], j] = _pmm(rng, X, data[:, j], ~missing[:, j])
                else:
                    data[missing[:, j], j : j + w] = _pmm_block(rng, X, data[:, j : j + w], ~missing[:, j])
        out.append(data)
    return out
