"""The partially nested design: therapy groups in the intervention arm only.

Heteroscedastic model (Candlish et al. 2018), fitted here by restricted maximum likelihood:

    y_i = x_i' beta + treat_i * u_g(i) + e_i,   u_g ~ N(0, s2_group),   e_i ~ N(0, s2_arm(i))

Control men are their own clusters and have no group effect. R's equivalent is
``nlme::lme(y ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)),
weights = varIdent(form = ~ 1 | arm), method = "REML")``. statsmodels' MixedLM cannot give each
arm its own residual variance, so the restricted likelihood is written out in closed form (each
therapy group's covariance is compound symmetric, so its inverse and determinant are explicit)
and maximised over the three log-variances with scipy. The equal-variance model
(``partially_nested_equal_var``) is the same likelihood with one residual variance for both arms.

Intervals are t intervals; the default degrees of freedom are nlme's containment rule: a fixed
effect constant within every cluster (the intercept, the arm, site) is estimated between clusters
with ``clusters - (number of such effects)`` df; one varying within clusters (the baseline) with
``N - clusters - (number of such effects)`` df, so that they match ``intervals()`` on the lme fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from advance_trial.errors import BoundaryWarning
from advance_trial.intervals import quantile, two_sided_p
from advance_trial.outcomes.models import Effect

#: A variance below this fraction of the residual variance is reported as on its boundary.
BOUNDARY = 1e-4
#: A residual variance below this fraction of the model's largest variance is on its boundary of zero, where the
#: restricted likelihood has no maximum (it rises without bound; nlme stops "computationally singular").
RESIDUAL_BOUNDARY = 1e-8
#: The REML information of the log-variances is singular (the variances not identified, or no maximum) when its
#: smallest eigenvalue is below this fraction of its largest (0.007 on the sample's flattest fit).
SINGULAR = 1e-8


@dataclass(frozen=True)
class NestedFit:
    """A fitted partially nested model."""

    beta: np.ndarray
    cov: np.ndarray
    s2_group: float
    s2_control: float
    s2_intervention: float
    reml_loglik: float
    df: np.ndarray
    converged: bool
    on_boundary: bool
    logit_icc_var: float = float("nan")  # variance of log(s2_group) - log(s2_intervention), from the REML information
    residual_boundary: str = ""  # "control" or "intervention": that arm's residual variance estimated at zero
    information_singular: bool = False  # the REML information (log-variances) not positive definite at the fit


def unique_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``: for an array of Python objects (therapy group names), the
    values hashed and only the distinct ones sorted (a sort of 100,000 names compares strings 1.7 million
    times); the same distinct values in the same order, so the same codes."""
    if values.dtype != object or not len(values):
        uniq, codes = np.unique(values, return_inverse=True)
        return uniq, codes.reshape(-1)
    import pandas as pd

    found, distinct = pd.factorize(values)
    if found.min() < 0:  # a missing value: as numpy has it
        uniq, codes = np.unique(values, return_inverse=True)
        return uniq, codes.reshape(-1)
    order = np.argsort(np.asarray(distinct, dtype=object))
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return np.asarray(distinct, dtype=object)[order], rank[found]


def containment_df(X: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """nlme's containment degrees of freedom for each column of ``X`` (single grouping level)."""
    _, codes = unique_codes(cluster)
    n, g = len(cluster), codes.max() + 1
    outer = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        lo = np.full(g, np.inf)
        hi = np.full(g, -np.inf)
        np.minimum.at(lo, codes, X[:, j])
        np.maximum.at(hi, codes, X[:, j])
        outer[j] = np.all(hi - lo <= 1e-12 * max(1.0, np.abs(X[:, j]).max()))
    df_outer = g - outer.sum()
    df_inner = n - g - (~outer).sum()
    return np.asarray(np.where(outer, df_outer, df_inner), dtype=float)


class _Blocks:
    """Sufficient statistics per cluster, so that the restricted likelihood costs O(clusters)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, treat: np.ndarray, cluster: np.ndarray) -> None:
        self.p = X.shape[1]
        self.n = len(y)
        ctrl = treat == 0
        self.Xc, self.yc = X[ctrl], y[ctrl]
        keys = cluster[~ctrl]
        Xi, yi = X[~ctrl], y[~ctrl]
        uniq, codes = unique_codes(keys)
        g = len(uniq)
        self.size = np.bincount(codes, minlength=g).astype(float)
        self.sX = np.zeros((g, self.p))
        np.add.at(self.sX, codes, Xi)
        self.sy = np.bincount(codes, weights=yi, minlength=g)
        self.XX_i, self.Xy_i, self.yy_i = Xi.T @ Xi, Xi.T @ yi, yi @ yi
        self.XX_c, self.Xy_c, self.yy_c = self.Xc.T @ self.Xc, self.Xc.T @ self.yc, self.yc @ self.yc
        self.n_c, self.n_i = int(ctrl.sum()), int((~ctrl).sum())

    def pieces(self, s2u: float, s20: float, s21: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        """X'V^-1 X, X'V^-1 y, y'V^-1 y and log|V|."""
        c = s2u / (s21 + self.size * s2u)
        XVX = self.XX_c / s20 + (self.XX_i - (self.sX * c[:, None]).T @ self.sX) / s21
        XVy = self.Xy_c / s20 + (self.Xy_i - (self.sX * (c * self.sy)[:, None]).sum(axis=0)) / s21
        yVy = self.yy_c / s20 + (self.yy_i - (c * self.sy**2).sum()) / s21
        logdet = self.n_c * np.log(s20) + (self.n_i - len(self.size)) * np.log(s21)
        logdet += np.log(s21 + self.size * s2u).sum()
        return XVX, XVy, yVy, logdet

    def neg2_reml(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """-2 x the restricted log-likelihood at log-variances ``theta = (group, control, intervention)``,
        and its gradient.

        The derivative with respect to each variance is ``tr(V^-1 V_k) - tr((X'V^-1 X)^-1 X'V^-1 V_k V^-1 X)
        - r'V^-1 V_k V^-1 r`` (``r`` the GLS residuals); with ``V_g^-1 = (I - c_g J) / s21`` in a group of
        ``m_g`` men, every term is a sum over groups of the sufficient statistics.
        """
        s2u, s20, s21 = np.exp(theta)
        XVX, XVy, yVy, logdet = self.pieces(s2u, s20, s21)
        sign, logdet_xvx = np.linalg.slogdet(XVX)
        if sign <= 0:
            return np.inf, np.zeros(3)
        C = np.linalg.inv(XVX)
        beta = C @ XVy
        f = float(logdet + logdet_xvx + yVy - beta @ XVy + (self.n - self.p) * np.log(2 * np.pi))
        m = self.size
        c = s2u / (s21 + m * s2u)
        rr_c = self.yy_c - 2 * beta @ self.Xy_c + beta @ self.XX_c @ beta
        rr_i = self.yy_i - 2 * beta @ self.Xy_i + beta @ self.XX_i @ beta
        sr = self.sy - self.sX @ beta  # each group's sum of residuals
        a = 2 * c - c**2 * m  # (I - cJ)^2 = I - a J
        b = (1 - c * m) ** 2  # (I - cJ) J (I - cJ) = b J
        d0 = self.n_c / s20 - (np.sum(C * self.XX_c) + rr_c) / s20**2
        M1 = self.XX_i - (self.sX * a[:, None]).T @ self.sX
        d1 = (m * (1 - c)).sum() / s21 - (np.sum(C * M1) + rr_i - (a * sr**2).sum()) / s21**2
        Mu = (self.sX * b[:, None]).T @ self.sX
        du = (m * (1 - c * m)).sum() / s21 - (np.sum(C * Mu) + (b * sr**2).sum()) / s21**2
        return f, np.array([du * s2u, d0 * s20, d1 * s21])


def _fit(X: np.ndarray, y: np.ndarray, treat: np.ndarray, cluster: np.ndarray, equal: bool) -> NestedFit:
    """Maximise the restricted likelihood over the log-variances, from a few starts.

    With ``equal`` the two residual variances are one parameter (nlme without ``weights``)."""
    blocks = _Blocks(X, y, treat, cluster)
    beta0, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta0
    pooled = float(r @ r / max(len(r) - X.shape[1], 1))

    def start_var(part: np.ndarray) -> float:  # an arm of one man has no variance of its own: use the pooled
        return max(float(np.var(part, ddof=1)) if len(part) > 1 else pooled, 1e-8)

    v0, v1 = start_var(r[treat == 0]), start_var(r[treat == 1])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        if not equal:
            return blocks.neg2_reml(theta)
        f, g = blocks.neg2_reml(np.append(theta, theta[1]))
        return f, np.array([g[0], g[1] + g[2]])

    best = None
    for share in (0.5, 0.1, 0.01):  # a few starts: the likelihood can be flat in the group variance
        start = np.log([share * v1, (v0 + (1 - share) * v1) / 2] if equal else [share * v1, v0, (1 - share) * v1])
        res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(-40, 20)] * len(start),
                                options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 10_000, "maxfun": 50_000})  # fmt: skip
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    x, fun = _polish(objective, best.x, best.fun)
    theta = np.append(x, x[1]) if equal else x
    s2u, s20, s21 = np.exp(theta)
    XVX, XVy, _, _ = blocks.pieces(s2u, s20, s21)
    cov = np.linalg.inv(XVX)
    boundary = bool(s2u < BOUNDARY * s21)
    top = max(s2u, s20, s21)
    at_zero = [arm for arm, v in (("control", s20), ("intervention", s21)) if v < RESIDUAL_BOUNDARY * top]
    eig = np.linalg.eigvalsh(_information(objective, x))
    singular = not (np.all(np.isfinite(eig)) and eig.min() > SINGULAR * max(eig.max(), 0.0))
    return NestedFit(cov @ XVy, cov, s2u, s20, s21, -fun / 2, containment_df(X, cluster), bool(best.success),
                     boundary, _logit_icc_var(objective, x, equal), at_zero[0] if at_zero else "",
                     singular)  # fmt: skip


def _hessian(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray, h: float) -> np.ndarray:
    """The Hessian of the objective by central differences of its analytic gradient, symmetrised."""
    k = len(theta)
    hess = np.zeros((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = h
        hess[:, j] = (objective(theta + step)[1] - objective(theta - step)[1]) / (2 * h)
    return (hess + hess.T) / 2


def _information(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray,
                 h: float = 1e-2) -> np.ndarray:  # fmt: skip
    """The Hessian of the objective by five-point differences of its analytic gradient, symmetrised.

    The fourth-order stencil lets the step be large (truncation error of order h^4), so the rounding of
    the gradient, which differs in its last digits between CPUs' floating-point kernels, is divided by a
    step twenty times larger than central differences could use: a near-singular information matrix (an
    ICC near zero) then gives the same variance to about 1e-11 on every machine, not 1e-9.
    """
    k = len(theta)
    hess = np.zeros((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = h
        g = [objective(theta + m * step)[1] for m in (-2, -1, 1, 2)]
        hess[:, j] = (g[0] - 8 * g[1] + 8 * g[2] - g[3]) / (12 * h)
    return (hess + hess.T) / 2


def _polish(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray,
            fun: float) -> tuple[np.ndarray, float]:  # fmt: skip
    """Newton steps from L-BFGS-B's answer until the gradient vanishes to rounding.

    L-BFGS-B stops where its tolerances say, and where that is depends on the machine's floating-point
    kernels (a flat likelihood moved estimates by 4e-7 between two CPUs). Newton's method converges
    quadratically from there, so every machine lands on the same optimum to rounding. Near the optimum
    the objective changes by less than its own rounding, so a step is judged by the gradient: taken
    while the Hessian is positive definite, the step stays inside the optimiser's bounds and the
    gradient shrinks.
    """
    _, g = objective(x)
    for _ in range(20):
        hess = _hessian(objective, x, 1e-5)
        if np.linalg.eigvalsh(hess).min() <= 0:
            break
        step = np.linalg.solve(hess, g)
        trial = x - step
        if not np.all(np.isfinite(trial) & (trial > -40) & (trial < 20)):
            break
        f_trial, g_trial = objective(trial)
        if not np.linalg.norm(g_trial) < np.linalg.norm(g) or not f_trial <= fun + 1e-9 * max(abs(fun), 1.0):
            break
        x, fun, g = trial, f_trial, g_trial
        if float(np.max(np.abs(step))) < 1e-12:
            break
    return x, fun


def _logit_icc_var(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray,
                   equal: bool) -> float:  # fmt: skip
    """Var(log s2_group - log s2_intervention) from the inverse of the observed REML information, the
    Hessian of -2 log L_R / 2 by five-point differences of the analytic gradient."""
    k = len(theta)
    try:
        cov = np.linalg.inv(_information(objective, theta) / 2)
    except np.linalg.LinAlgError:
        return float("nan")
    a = np.zeros(k)
    a[0], a[1 if equal else 2] = 1.0, -1.0
    v = float(a @ cov @ a)
    return v if v > 0 else float("nan")


def fit_heteroscedastic(X: np.ndarray, y: np.ndarray, treat: np.ndarray, cluster: np.ndarray) -> NestedFit:
    """REML fit of the heteroscedastic partially nested model (see the module docstring)."""
    return _fit(X, y, treat, cluster, equal=False)


def fit_equal_variance(X: np.ndarray, y: np.ndarray, treat: np.ndarray, cluster: np.ndarray) -> NestedFit:
    """REML fit with one residual variance for both arms (R: the same ``lme`` call without ``weights``)."""
    return _fit(X, y, treat, cluster, equal=True)


def nested_effect(analysis: str, fit: NestedFit, treat: np.ndarray, level: float, df_rule: str, label: str) -> Effect:
    """The arm's effect (column 1) with its t interval; warns when a variance is on its boundary."""
    if fit.on_boundary:
        warnings.warn(
            f"{label}, {analysis}: the therapy-group variance is estimated at (or numerically at) zero "
            f"({fit.s2_group:.3g}); the model reduces to one without group effects, and a converged fit "
            "does not make the estimate less degenerate",
            BoundaryWarning,
            stacklevel=2,
        )
    n = len(treat)
    df = {"containment": fit.df[1], "residual": float(n - len(fit.beta)), "normal": np.inf}[df_rule]
    se = float(np.sqrt(fit.cov[1, 1]))
    est = float(fit.beta[1])
    q = quantile(0.5 + level / 2, df)
    p = two_sided_p(est / se, df)
    note = (
        f"group variance {fit.s2_group:.4g}; residual variance control {fit.s2_control:.4g}, "
        f"intervention {fit.s2_intervention:.4g}" + ("; group variance on its boundary" if fit.on_boundary else "")
    )
    method = {"containment": "t (containment df, as nlme)", "residual": "t (N - p df)", "normal": "z"}[df_rule]
    return Effect(analysis, "mean_difference", est, est - q * se, est + q * se, se, df, method, n,
                  int((treat == 1).sum()), int((treat == 0).sum()), p_value=p, note=note)  # fmt: skip


def icc_effect(analysis: str, fit: NestedFit, treat: np.ndarray, level: float) -> Effect:
    """The intraclass correlation in the intervention arm, ``s2_group / (s2_group + s2_intervention)``, with
    a Wald interval on the logit scale (the delta method on the REML log-variances, as nlme's
    ``intervals()`` works on log standard deviations), which the definitive trial's design effect needs."""
    n = (len(treat), int((treat == 1).sum()), int((treat == 0).sum()))
    icc = fit.s2_group / (fit.s2_group + fit.s2_intervention)
    nan = float("nan")
    if fit.on_boundary or not np.isfinite(fit.logit_icc_var):
        why = ("the group variance is on its boundary of zero: the ICC is 0 and has no Wald interval"
               if fit.on_boundary else "the REML information is singular: no interval for the ICC")  # fmt: skip
        return Effect(analysis, "icc", icc, nan, nan, nan, np.inf, "", *n, status="not_estimable", reason=why)
    logit, se = float(np.log(icc / (1 - icc))), float(np.sqrt(fit.logit_icc_var))
    z = quantile(0.5 + level / 2)
    lo, hi = 1 / (1 + np.exp(-(logit - z * se))), 1 / (1 + np.exp(-(logit + z * se)))
    return Effect(analysis, "icc", icc, lo, hi, se, np.inf, "Wald, logit scale (REML information)", *n,
                  note="intraclass correlation of therapy groups in the intervention arm")  # fmt: skip
