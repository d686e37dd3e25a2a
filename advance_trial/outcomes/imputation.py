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

from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from advance_trial.imputing import WORKERS, imputes_ahead
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


def _pmm_draw(rng: np.random.Generator, Xo: np.ndarray, Xm: np.ndarray, yo: np.ndarray) -> np.ndarray:
    """One PMM draw for the missing rows ``Xm`` from the observed rows ``Xo`` (outcome ``yo``).

    The design's columns are independent among the observed rows: predictors constant or aliased there
    (a site where every man was lost) are left out beforehand, as mice's ``remove.lindep`` does.
    """
    n, p = Xo.shape
    xtx_inv = np.linalg.pinv(Xo.T @ Xo)
    beta_hat = xtx_inv @ Xo.T @ yo
    fitted_obs = Xo @ beta_hat
    rss = float(((yo - fitted_obs) ** 2).sum())
    sigma2 = rss / rng.chisquare(max(n - p, 1))
    beta_star = rng.multivariate_normal(beta_hat, sigma2 * xtx_inv, method="cholesky")
    fitted_mis = Xm @ beta_star
    return np.asarray(yo[_donors(rng, fitted_obs, fitted_mis, min(DONORS, n))])


#: Below this many values a plain sort is faster than hashing them first (:func:`_places`: pandas' hashing
#: costs a fixed tenth of a millisecond or more per call, and a sample's imputation makes hundreds of calls).
HASHED_MIN = 4096


def _places(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct values of ``x`` in ascending order and each element's place among them (``uint16``),
    found by hashing ``x`` and sorting only its distinct values; None when ``x`` holds NaN or 2**16 distinct
    values or more. Equal values share a place (``0.0`` and ``-0.0`` too, as they compare equal).

    PMM's fitted values take few distinct values (men alike in every predictor share theirs): this is
    several times faster than sorting them.
    """
    import pandas as pd

    codes, uniques = pd.factorize(x)
    if len(uniques) >= 2**16 or (len(x) and codes.min() < 0):
        return None
    values, inverse = np.unique(uniques, return_inverse=True)
    return values, inverse.astype(np.uint16)[codes]


def stable_argsort(x: np.ndarray) -> np.ndarray:
    """``np.argsort(x, kind="stable")`` (ties in index order), faster: by each value's place among the
    distinct values (a radix sort of 16-bit integers) when there are few, else through two unstable sorts
    (values are ranked by a quick sort, then ``rank * n + index``, distinct, sorted again)."""
    n = len(x)
    if n < HASHED_MIN or np.isnan(x).any():
        return np.argsort(x, kind="stable")
    places = _places(x)
    if places is not None:
        return np.argsort(places[1], kind="stable")
    o = np.argsort(x)
    xs = x[o]
    run = np.zeros(n, dtype=np.int64)
    np.cumsum(xs[1:] != xs[:-1], out=run[1:])
    rank = np.empty(n, dtype=np.int64)
    rank[o] = run
    return np.asarray(np.sort(rank * n + np.arange(n)) % n)


def _donors(rng: np.random.Generator, fitted_obs: np.ndarray, fitted_mis: np.ndarray, k: int) -> np.ndarray:
    """For each missing case, one of the ``k`` observed cases with the closest fitted values (vectorised).

    The candidates are the ``2k`` observed cases around the missing one's place in the sorted fitted
    values; they are ranked by distance, ties by that order (lower first), and the ``pick``-th is taken.
    """
    order = stable_argsort(fitted_obs)
    fs = fitted_obs[order]
    n = len(fs)
    pick = rng.integers(0, k, size=len(fitted_mis))
    # missing cases with the same fitted value (men alike in every predictor) share their candidates:
    # each distinct value is searched and ranked once, in sorted order (a search that walks forward)
    places = _places(fitted_mis) if len(fitted_mis) >= HASHED_MIN else None
    if places is not None:
        values, which = places
    else:
        by_value = np.argsort(fitted_mis)
        sorted_mis = fitted_mis[by_value]
        fresh = np.ones(len(sorted_mis), dtype=bool)
        fresh[1:] = sorted_mis[1:] != sorted_mis[:-1]
        values = sorted_mis[fresh]
        which = np.empty(len(fitted_mis), dtype=np.intp)
        which[by_value] = np.cumsum(fresh) - 1
    pos = np.searchsorted(fs, values)
    window = pos[:, None] + np.arange(-k, k)[None, :]  # the k nearest lie in here
    edge = np.flatnonzero((pos < k) | (pos > n - k))
    if len(edge):  # near an end: indices clipped, and a clipped index counts once (the first of its repeats)
        window[edge] = np.clip(window[edge], 0, n - 1)
    dist = np.abs(fs[window] - values[:, None])
    if len(edge):
        w = window[edge]
        repeat = np.zeros(w.shape, dtype=bool)
        repeat[:, 1:] = w[:, 1:] == w[:, :-1]
        d = dist[edge]
        d[repeat] = np.inf
        dist[edge] = d
    ranked = np.take_along_axis(window, np.argsort(dist, axis=1, kind="stable")[:, :k], axis=1)
    return np.asarray(order[ranked[which, pick]])


def _pmm_block_draw(rng: np.random.Generator, Xo: np.ndarray, Xm: np.ndarray, Yo: np.ndarray) -> np.ndarray:
    """PMM for a block of columns imputed together (a factor's dummies): each column's regression drawn
    as in :func:`_pmm_draw`, donors chosen by the distance between the fitted vectors, and the donor's
    whole row copied, so that an imputed man has one of the categories observed."""
    n, p = Xo.shape
    xtx_inv = np.linalg.pinv(Xo.T @ Xo)
    beta_hat = xtx_inv @ Xo.T @ Yo
    fitted_obs, fitted_mis = Xo @ beta_hat, np.zeros((len(Xm), Yo.shape[1]))
    for k in range(Yo.shape[1]):
        rss = float(((Yo[:, k] - fitted_obs[:, k]) ** 2).sum())
        sigma2 = max(rss, 1e-12) / rng.chisquare(max(n - p, 1))
        beta_star = rng.multivariate_normal(beta_hat[:, k], sigma2 * xtx_inv, method="svd")
        fitted_mis[:, k] = Xm @ beta_star
    k = min(DONORS, n)
    picks = rng.integers(0, k, size=len(fitted_mis))
    donor = np.empty(len(fitted_mis), dtype=np.intp)
    step = max(1, 2**22 // max(n, 1))  # rows of the distance matrix at a time: memory bounded at any size
    for a in range(0, len(fitted_mis), step):
        dist = ((fitted_mis[a : a + step, None, :] - fitted_obs[None, :, :]) ** 2).sum(axis=2)
        nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
        donor[a : a + step] = nearest[np.arange(len(dist)), picks[a : a + step]]
    return np.asarray(Yo[donor])


class _Design:
    """The observed and missing rows of one block's imputation model, kept up to date as the other
    blocks are imputed (not rebuilt each round), with the complete columns' aliasing found once."""

    def __init__(self, complete: np.ndarray, data: np.ndarray, cols: np.ndarray, obs: np.ndarray) -> None:
        from advance_trial.outcomes.checks import independent_basis

        self.cols, self.obs = cols, obs  # data columns used as predictors (in order), rows observed
        self.obs_rows, self.mis_rows = np.flatnonzero(obs), np.flatnonzero(~obs)
        self.nc = complete.shape[1]
        self.Xo = np.column_stack([complete, data[:, cols]])[obs]
        self.Xm = np.column_stack([complete, data[:, cols]])[~obs]
        self.kept_complete, self.basis = independent_basis(self.Xo[:, : self.nc])
        self.changes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def refresh(self, data: np.ndarray) -> None:
        """Every predictor column from ``data`` (a new chain's starting values)."""
        self.Xo[:, self.nc :] = data[np.ix_(self.obs_rows, self.cols)]
        self.Xm[:, self.nc :] = data[np.ix_(self.mis_rows, self.cols)]

    def update(self, data: np.ndarray, rows: np.ndarray, block: np.ndarray) -> None:
        """Data columns ``block`` changed in ``rows`` (a boolean mask over all rows, the same each time
        for a block: where it is missing)."""
        key = int(block[0])
        if key not in self.changes:
            where = np.flatnonzero(np.isin(self.cols, block))
            o, m = np.flatnonzero(rows[self.obs]), np.flatnonzero(rows[~self.obs])
            self.changes[key] = (where, o, m, self.obs_rows[o], self.mis_rows[m])
        where, o, m, from_o, from_m = self.changes[key]
        for c in where:
            self.Xo[o, self.nc + c] = data[from_o, self.cols[c]]
            self.Xm[m, self.nc + c] = data[from_m, self.cols[c]]

    def independent(self) -> tuple[np.ndarray, np.ndarray]:
        """The observed and missing rows of the columns independent among the observed rows (as
        :func:`~advance_trial.outcomes.checks.independent_columns` of the whole design finds them)."""
        from advance_trial.outcomes.checks import independent_basis

        if self.Xo.shape[1] == self.nc + 1 and self._plainly_independent():
            more = [0]
        else:
            more, _ = independent_basis(self.Xo[:, self.nc :], start=self.basis, basis_wanted=False)
        kept = self.kept_complete + [self.nc + j for j in more]
        if len(kept) == self.Xo.shape[1]:
            return self.Xo, self.Xm
        return self.Xo[:, kept], self.Xm[:, kept]

    def _plainly_independent(self) -> bool:
        """Whether the one predictor after the complete columns is so far from their span among the observed
        rows that :func:`~advance_trial.outcomes.checks.independent_basis` must keep it: its squared distance
        from the span, found from one product with the basis (``|x|^2 - |Q'x|^2``), above a millionth of
        ``|x|^2``, where rounding errs by some 1e-11 of it and the check's threshold is (1e-7)^2 of it.
        Anything closer is left to the check itself, so the columns kept are always the check's."""
        col = self.Xo[:, self.nc]
        sq = float(col @ col)
        if not np.isfinite(sq) or sq == 0.0:
            return False
        proj = self.basis.T @ col if self.basis.shape[1] else np.zeros(0)
        return bool(sq - float(proj @ proj) > 1e-6 * sq)


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
    complete = np.asarray(complete, dtype=float)
    columns = np.arange(incomplete.shape[1])
    blocks = [columns[starts[g] : starts[g] + w] for g, w in enumerate(widths)]
    todo = [g for g in range(len(widths)) if missing[:, starts[g]].any()]
    designs: dict[int, _Design] = {}
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
        for g in todo:
            if g in designs:
                designs[g].refresh(data)
            else:
                designs[g] = _Design(complete, data, np.delete(columns, blocks[g]), ~missing[:, starts[g]])
        for _ in range(iterations):
            for g in todo:
                j, w, d = starts[g], widths[g], designs[g]
                Xo, Xm = d.independent()
                if w == 1:
                    data[d.mis_rows, j] = _pmm_draw(rng, Xo, Xm, data[d.obs_rows, j])
                else:
                    data[d.mis_rows, j : j + w] = _pmm_block_draw(rng, Xo, Xm, data[d.obs_rows, j : j + w])
                for h in todo:
                    if h != g:
                        designs[h].update(data, missing[:, j], blocks[g])
        out.append(data)
    return out


# --------------------------------------------------------------------------- imputing beside the analyses

_AHEAD: ContextVar[dict[str, Future[list[np.ndarray]]] | None] = ContextVar("imputations_ahead", default=None)


@contextmanager
def imputing_ahead(jobs: Callable[[], dict[str, tuple[Any, ...]]]) -> Iterator[None]:
    """Start the large imputations of ``jobs()`` (:func:`impute`'s arguments by name) in the workers of
    :func:`~advance_trial.imputing.imputing_in`, if there are any; :func:`imputed` then takes each from its
    worker. Every draw is the one this process would make: each imputation has its own generator, sent with
    its state."""
    workers = WORKERS.get()
    started: dict[str, Future[list[np.ndarray]]] = {}
    if workers is not None:
        large = {name: args for name, args in jobs().items() if imputes_ahead(len(args[2]), args[3], args[4])}
        # of two or more, the first is done here: this process reaches it after a few models, and would
        # otherwise only wait while the workers (drawing figures first) impute them all
        for name, args in list(large.items())[1:] if len(large) > 1 else large.items():
            try:
                started[name] = workers.submit(impute, *args)
            except (BrokenExecutor, RuntimeError):  # workers gone or shut down: imputed here
                break
    token = _AHEAD.set(started)
    try:
        yield
    finally:
        _AHEAD.reset(token)
        for future in started.values():
            future.cancel()


def imputed(
    name: str,
    rng: np.random.Generator,
    complete: np.ndarray,
    incomplete: np.ndarray,
    m: int,
    iterations: int,
    groups: list[int] | None = None,
) -> list[np.ndarray]:
    """:func:`impute`, taken from a worker when :func:`imputing_ahead` started it there under ``name``; one
    still waiting for a worker (they draw figures too) is taken back and done here, not waited for."""
    future = (_AHEAD.get() or {}).pop(name, None)
    if future is not None and not future.cancel():
        try:
            return future.result()
        except BrokenExecutor:  # a worker died: imputed here (the generator here is still at its start)
            pass
    return impute(rng, complete, incomplete, m, iterations, groups)
