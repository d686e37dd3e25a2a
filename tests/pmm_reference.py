"""The straightforward PMM that :mod:`advance_trial.outcomes.imputation` was before it was vectorised
(the design rebuilt and re-checked for aliasing each round, a stable argsort per draw, the donor
window sorted row by row), kept as the reference the fast one must match draw for draw."""

from __future__ import annotations

import numpy as np

from advance_trial.outcomes.checks import independent_columns

DONORS = 5


def _pmm(rng: np.random.Generator, X: np.ndarray, y: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """One PMM draw for the missing entries of ``y`` (``obs`` marks the observed ones).

    Predictors constant or aliased among the observed cases (a site where every man was lost) are
    left out of this draw, as mice's ``remove.lindep`` does.
    """
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
