"""A recruitment forecast for the definitive trial from the pilot's site rates (Anisimov & Fedorov 2007).

The Poisson-gamma model: each site recruits as a Poisson process with its own rate ``lambda``, and the
rates vary between sites as ``Gamma(alpha, beta)`` (shape ``alpha``, rate ``beta``; mean ``alpha / beta``
men per site-month). The pilot's sites, ``k_i`` men over ``tau_i`` recruiting months, estimate
``alpha`` and ``beta`` by maximum likelihood of the negative binomial they imply (as
``MASS::glm.nb(k ~ offset(log(tau)))``: its ``theta`` is ``alpha``, ``exp(intercept)`` is
``alpha / beta``). A definitive site that recruited in the pilot keeps its own posterior rate
``Gamma(alpha + k_i, beta + tau_i)``; a new site takes the fitted ``Gamma(alpha, beta)``.

When the pilot's sites vary no more than Poisson counts do, the likelihood is largest as ``alpha`` grows
without bound: there is no between-site variation to carry, and the sites share one rate whose
uncertainty is its posterior ``Gamma(sum k, sum tau)`` (the rate's uncertainty is still carried, through
one rate common to all sites; :attr:`Forecast.model` says which model was used).

A site open ``d`` months by time ``t`` (opening at month ``u``: ``d = max(t - u, 0)``) with rate
``Gamma(a, b)`` recruits a negative binomial number of men, ``NB(size = a, prob = b / (b + d))``; sites
are independent, so the trial's total ``N(t)`` has the convolution of the sites' distributions. With one
common rate ``Gamma(a, b)``, ``N(t)`` is itself ``NB(a, b / (b + D(t)))`` with ``D(t)`` the site-months
open by ``t``. Either way the distribution is exact (no simulation): the time to the target ``T`` has
``P(T <= t) = P(N(t) >= target)``, whose quantiles give the median and predictive intervals of the months
needed, and ``P(N(deadline) >= target)`` the probability of reaching the target by the deadline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

#: Above this shape the between-site variation is taken to be none (a Poisson limit of the likelihood).
ALPHA_LIMIT = 1e6


@dataclass(frozen=True)
class PilotSite:
    """A pilot site's recruitment: ``men`` randomised over ``months`` recruiting months."""

    site: str
    men: int
    months: float


@dataclass(frozen=True)
class NewSite:
    """A definitive trial's site, opening ``opens`` months after the trial starts (0: at the start)."""

    site: str
    opens: float = 0.0


@dataclass(frozen=True)
class RateModel:
    """The fitted Poisson-gamma model: ``Gamma(alpha, beta)`` across sites, or one common rate."""

    model: Literal["poisson_gamma", "common_rate"]
    alpha: float
    beta: float
    pilot: tuple[PilotSite, ...]

    @property
    def mean_rate(self) -> float:
        """Men per site-month at an average site."""
        return self.alpha / self.beta


@dataclass(frozen=True)
class Forecast:
    """Months to the target (median and predictive intervals) and the probability of reaching it by the
    deadline."""

    model: Literal["poisson_gamma", "common_rate"]
    target: int
    median_months: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float
    deadline_months: float | None
    probability_by_deadline: float | None


def _nb_loglik(alpha: float, beta: float, k: np.ndarray, tau: np.ndarray) -> float:
    return float(np.sum(special.gammaln(alpha + k) - special.gammaln(alpha) - special.gammaln(k + 1)
                        + alpha * np.log(beta) - (alpha + k) * np.log(beta + tau) + k * np.log(tau)))  # fmt: skip


def fit_rates(pilot: Sequence[PilotSite]) -> RateModel:
    """The Poisson-gamma model's ``alpha`` and ``beta`` by maximum likelihood over the pilot's sites.

    Raises
    ------
    ValueError
        With no site, a site of no recruiting months, or no man recruited anywhere.
    """
    from scipy import optimize  # where a rate or a time is solved for: a result read back needs none

    if not pilot:
        raise ValueError("no pilot site to estimate recruitment rates from")
    k = np.array([s.men for s in pilot], dtype=float)
    tau = np.array([s.months for s in pilot], dtype=float)
    if (tau <= 0).any() or (k < 0).any():
        raise ValueError("every pilot site needs recruiting months and a count of men")
    if k.sum() == 0:
        raise ValueError("no man was recruited in the pilot: no rate to forecast from")
    common = RateModel("common_rate", float(k.sum()), float(tau.sum()), tuple(pilot))
    if len(pilot) < 2:
        return common

    def profile(log_alpha: float) -> tuple[float, float]:
        # for a fixed alpha the score in beta is monotone: alpha * n / beta = sum((alpha + k) / (beta + tau))
        a = math.exp(log_alpha)
        lo, hi = 1e-12, 1e12

        def g(b: float) -> float:
            return a * len(k) / b - float(np.sum((a + k) / (b + tau)))

        b = float(optimize.brentq(g, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500)) if g(lo) * g(hi) < 0 else math.nan
        return b, (_nb_loglik(a, b, k, tau) if b == b else -math.inf)

    res = optimize.minimize_scalar(lambda la: -profile(la)[1], bounds=(math.log(1e-4), math.log(ALPHA_LIMIT)),
                                   method="bounded", options={"xatol": 1e-10})  # fmt: skip
    alpha = math.exp(float(res.x))
    beta, loglik = profile(float(res.x))
    poisson = float(np.sum(k * np.log(k.sum() / tau.sum() * tau) - k.sum() / tau.sum() * tau - special.gammaln(k + 1)))
    if alpha >= ALPHA_LIMIT / 10 or not math.isfinite(loglik) or loglik <= poisson + 1e-9:
        return common
    return RateModel("poisson_gamma", alpha, beta, tuple(pilot))


def _site_gammas(model: RateModel, sites: Sequence[NewSite]) -> list[tuple[float, float, float]]:
    """Each definitive site's rate distribution ``(shape, rate, opens)``."""
    by_id = {s.site: s for s in model.pilot}
    out = []
    for s in sites:
        old = by_id.get(s.site)
        if model.model == "poisson_gamma" and old is not None:
            out.append((model.alpha + old.men, model.beta + old.months, s.opens))
        else:
            out.append((model.alpha, model.beta, s.opens))
    return out


def nbinom_pmf(upto: int, a: float, b: float, d: float) -> np.ndarray:
    """``P(K = n)`` for ``n = 0 .. upto - 1``, ``K`` the men a site with rate ``Gamma(a, b)`` recruits in
    ``d > 0`` months: ``NB(size = a, prob = p = b / (b + d))``, ``C(n + a - 1, n) p^a (1 - p)^n``.

    Built in logs from ``P(K = 0) = p^a`` by the ratio ``P(K = n) / P(K = n - 1) = (n - 1 + a) / n (1 - p)``,
    with ``1 - p`` as ``d / (b + d)`` (no digits lost when ``p`` is near 1). Checked against 50-digit
    arithmetic to 1e-11 (``tests/test_definitive_plan.py``), as ``scipy.stats.nbinom.pmf``, which a run does
    not import (half a second, for this alone).
    """
    j = np.arange(1, upto, dtype=float)
    start = -a * math.log1p(d / b)
    steps = np.log((j - 1 + a) / j) + math.log(d / (b + d))
    return np.exp(np.concatenate(([start], start + np.cumsum(steps))))


def total_pmf(model: RateModel, sites: Sequence[NewSite], t: float, upto: int) -> np.ndarray:
    """``P(N(t) = n)`` for ``n = 0 .. upto - 1``, and in the last cell ``P(N(t) >= upto)``."""
    n = np.arange(upto)
    if model.model == "common_rate":
        d = sum(max(t - s.opens, 0.0) for s in sites)
        pmf = nbinom_pmf(upto, model.alpha, model.beta, d) if d > 0 else (n == 0).astype(float)
    else:
        pmf = np.zeros(upto)
        pmf[0] = 1.0
        for a, b, u in _site_gammas(model, sites):
            d = max(t - u, 0.0)
            if d <= 0:
                continue
            pmf = np.convolve(pmf, nbinom_pmf(upto, a, b, d))[:upto]
    out = np.append(pmf[: upto - 1], max(0.0, 1.0 - float(pmf[: upto - 1].sum())))
    return out


def probability_reached(model: RateModel, sites: Sequence[NewSite], t: float, target: int) -> float:
    """``P(N(t) >= target)``: the probability that ``target`` men are randomised within ``t`` months."""
    if target <= 0:
        return 1.0
    return float(total_pmf(model, sites, t, target + 1)[-1])


def months_quantile(model: RateModel, sites: Sequence[NewSite], target: int, q: float) -> float:
    """The ``q`` quantile of the months to randomise ``target`` men (``inf`` beyond 1,000 years)."""
    from scipy import optimize  # where a rate or a time is solved for: a result read back needs none

    first = min(s.opens for s in sites)
    hi = first + 1.0
    while probability_reached(model, sites, hi, target) < q:
        hi = first + (hi - first) * 2
        if hi > 12_000:
            return math.inf
    return float(optimize.brentq(lambda t: probability_reached(model, sites, t, target) - q, first, hi,
                                 xtol=1e-9, rtol=1e-12))  # fmt: skip


def forecast(model: RateModel, sites: Sequence[NewSite], target: int, deadline: float | None = None) -> Forecast:
    """Months to ``target`` men (median, 80% and 95% predictive intervals) and, with a deadline in months
    from the start, the probability of reaching the target by then."""
    if not sites:
        raise ValueError("the definitive trial names no site to forecast")
    if target < 1:
        raise ValueError(f"the target must be at least one man, not {target}")
    qs = {p: months_quantile(model, sites, target, p) for p in (0.5, 0.1, 0.9, 0.025, 0.975)}
    prob = probability_reached(model, sites, deadline, target) if deadline is not None else None
    return Forecast(model.model, target, qs[0.5], qs[0.1], qs[0.9], qs[0.025], qs[0.975], deadline, prob)


def cumulative_bands(model: RateModel, sites: Sequence[NewSite], months: Sequence[float],
                     upto: int) -> list[dict[str, float]]:  # fmt: skip
    """For each month, the predicted cumulative men: median and the 80% and 95% predictive bands (counts
    above ``upto - 1`` are shown as ``upto``)."""
    rows = []
    for t in months:
        cdf = np.cumsum(total_pmf(model, sites, float(t), upto + 1))
        pick = {p: float(min(int(np.searchsorted(cdf, p - 1e-12)), upto)) for p in (0.025, 0.1, 0.5, 0.9, 0.975)}
        rows.append({"month": float(t), "median": pick[0.5], "lower80": pick[0.1], "upper80": pick[0.9],
                     "lower95": pick[0.025], "upper95": pick[0.975]})  # fmt: skip
    return rows


__all__ = ["Forecast", "NewSite", "PilotSite", "RateModel", "cumulative_bands", "fit_rates", "forecast",
           "months_quantile", "probability_reached", "total_pmf"]  # fmt: skip
