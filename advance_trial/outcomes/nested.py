"""The partially nested design: therapy groups in the intervention arm only.

Heteroscedastic model (Candlish et al. 2018), fitted here by restricted maximum likelihood:

    y_i = x_i' beta + treat_i * u_g(i) + e_i,   u_g ~ N(0, s2_group),   e_i ~ N(0, s2_arm(i))

Control men are their own clusters and have no group effect. R's equivalent is
``nlme::lme(y ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)),
weights = varIdent(form = ~ 1 | arm), method = "REML")``. statsmodels' MixedLM cannot give each
arm its own residual variance, so the restricted likelihood is written out in closed form (each
therapy group's covariance is compound symmetric, so its inverse and determinant are explicit)
and maximised over the three log-variances with scipy. The equal-variance model
(``partially_nested_equal_var``) is fitted with statsmodels' MixedLM.

Intervals are t intervals; the default degrees of freedom are nlme's containment rule: a fixed
effect constant within every cluster (the intercept, the arm, site) is estimated between clusters
with ``clusters - (number of such effects)`` df; one varying within clusters (the baseline) with
``N - clusters - (number of such effects)`` df, so that they match ``intervals()`` on the lme fit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from advance_trial.errors import BoundaryWarning
from advance_trial.outcomes.models import Effect

#: A variance below this fraction of the residual variance is reported as on its boundary.
BOUNDARY = 1e-4


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


def containment_df(X: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """nlme's containment degrees of freedom for each column of ``X`` (single grouping level)."""
    _, codes = np.unique(cluster, return_inverse=True)
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
    return np.where(outer, df_outer, df_inner).astype(float)


class _Blocks:
    """Sufficient statistics per cluster, so that the restricted likelihood costs O(clusters)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, treat: np.ndarray, cluster: np.ndarray) -> None:
        self.p = X.shape[1]
        self.n = len(y)
        ctrl = treat == 0
        self.Xc, self.yc = X[ctrl], y[ctrl]
        keys = cluster[~ctrl]
        Xi, yi = X[~ctrl], y[~ctrl]
        uniq, codes = np.unique(keys, return_inverse=True)
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

    def neg2_reml(self, theta: np.ndarray) -> float:
        s2u, s20, s21 = np.exp(theta)
        XVX, XVy, yVy, logdet = self.pieces(s2u, s20, s21)
        sign, logdet_xvx = np.linalg.slogdet(XVX)
        if sign <= 0:
            return np.inf
        beta = np.linalg.solve(XVX, XVy)
        rss = yVy - beta @ XVy
        return float(logdet + logdet_xvx + rss + (self.n - self.p) * np.log(2 * np.pi))


def fit_heteroscedastic(X: np.ndarray, y: np.ndarray, treat: np.ndarray, cluster: np.ndarray) -> NestedFit:
    """REML fit of the heteroscedastic partially nested model (see the module docstring)."""
    blocks = _Blocks(X, y, treat, cluster)
    beta0, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta0
    v0 = max(float(np.var(r[treat == 0], ddof=1)), 1e-8)
    v1 = max(float(np.var(r[treat == 1], ddof=1)), 1e-8)
    best = None
    for share in (0.5, 0.1, 0.01):  # a few starts: the likelihood can be flat in the group variance
        start = np.log([share * v1, v0, (1 - share) * v1])
        res = optimize.minimize(blocks.neg2_reml, start, method="L-BFGS-B", bounds=[(-40, 20)] * 3,
                                options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 10_000, "maxfun": 50_000})  # fmt: skip
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    s2u, s20, s21 = np.exp(best.x)
    XVX, XVy, _, _ = blocks.pieces(s2u, s20, s21)
    cov = np.linalg.inv(XVX)
    beta = cov @ XVy
    boundary = bool(s2u < BOUNDARY * s21)
    return NestedFit(beta, cov, s2u, s20, s21, -best.fun / 2, containment_df(X, cluster), bool(best.success),
                     boundary)  # fmt: skip


def fit_equal_variance(X: np.ndarray, y: np.ndarray, treat: np.ndarray, cluster: np.ndarray) -> NestedFit:
    """REML fit with one residual variance for both arms, through statsmodels' MixedLM."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    # Control men have no random effect (their design row is 0), so their clustering is immaterial: one group
    # holds them all, which spares MixedLM a Python loop over thousands of singleton groups.
    groups = np.where(treat == 1, cluster.astype(str), "\x00control")
    model = sm.MixedLM(y, X, groups=groups, exog_re=treat.reshape(-1, 1))
    fit = None
    for method in ("bfgs", "powell", "nm"):  # L-BFGS can step to a singular point when control clusters have no Z
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                fit = model.fit(reml=True, method=[method])
            except np.linalg.LinAlgError:
                continue
        if fit.converged:
            break
    if fit is None:
        raise np.linalg.LinAlgError("the equal-variance partially nested model could not be fitted")
    scale = float(fit.scale)
    s2u = max(float(np.asarray(fit.cov_re)[0, 0]), 0.0)
    # the fixed effects' covariance as nlme reports it, (X' V^-1 X)^-1 at the REML variances
    # (statsmodels' cov_params comes from the Hessian over all parameters)
    XVX, XVy, _, _ = _Blocks(X, y, treat, cluster).pieces(s2u, scale, scale)
    cov = np.linalg.inv(XVX)
    boundary = bool(s2u < BOUNDARY * scale)
    return NestedFit(cov @ XVy, cov, s2u, scale, scale, float(fit.llf), containment_df(X, cluster),
                     bool(fit.converged), boundary)  # fmt: skip


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
    q = stats.t.ppf(0.5 + level / 2, df) if np.isfinite(df) else stats.norm.ppf(0.5 + level / 2)
    p = 2 * (stats.t.sf(abs(est / se), df) if np.isfinite(df) else stats.norm.sf(abs(est / se)))
    note = (
        f"group variance {fit.s2_group:.4g}; residual variance control {fit.s2_control:.4g}, "
        f"intervention {fit.s2_intervention:.4g}" + ("; group variance on its boundary" if fit.on_boundary else "")
    )
    method = {"containment": "t (containment df, as nlme)", "residual": "t (N - p df)", "normal": "z"}[df_rule]
    return Effect(analysis, "mean_difference", est, est - q * se, est + q * se, se, df, method, n,
                  int((treat == 1).sum()), int((treat == 0).sum()), p_value=p, note=note)  # fmt: skip
