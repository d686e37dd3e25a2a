"""Outcome analyses: every configured outcome under every configured analysis, as one long table.

Effects are intervention minus (or over) control; the intervention arm is the one the schedule
offers sessions. Complete cases are the primary analysis; ``multiple_imputation`` imputes the
missing outcomes and baselines; ``cace`` gives, for each dose threshold, the complier average
causal effect beside the intention-to-treat estimate, never instead of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config.models import Config, Outcome
from advance_trial.errors import BoundaryWarning, EstimationWarning
from advance_trial.intervals import two_sided_p
from advance_trial.outcomes.checks import NotEstimable, count_separated, independent_columns, separated
from advance_trial.outcomes.frame import analysis_frame, arms_of, complete_cases, design_matrix, factors_of
from advance_trial.outcomes.models import (
    Effect,
    ancova,
    change,
    firth_logistic,
    logistic,
    negative_binomial,
    two_stage_least_squares,
    unadjusted_difference,
)
from advance_trial.results.labels import variable_labels
from advance_trial.results.layout import NOT_CONTRASTS
from advance_trial.results.layout import frame as results_frame
from advance_trial.results.verbs import Target, bind_results, stat_rows
from advance_trial.vocabulary import ANALYSES


@dataclass(frozen=True)
class OutcomeResults:
    """The results rows of the outcome analyses and the scored data behind them."""

    results: pd.DataFrame
    scores: pd.DataFrame


def _rows(cfg: Config, o: Outcome, effects: list[Effect], comparison: str, label: str,
          floats: Collection[str] = ()) -> list[pd.DataFrame]:  # fmt: skip
    """The results rows of one outcome's effects: each an arm effect (a contrast, unless its scale is a
    within-arm change) with the men behind it, its notes, status and reason (also in ``error``); the
    statistics named in ``floats`` as floats."""
    to = Target("outcomes", "outcomes", "men analysed", label)
    out = []
    for e in effects:
        combo = {"analysis": e.analysis, "effect": e.effect, "threshold": e.threshold}
        extra: dict[str, Any] = {"n_analysed": e.n_analysed, "comparison": comparison,
                                 "n_intervention": e.n_intervention, "n_control": e.n_control, "se": e.se,
                                 "df": e.df, "note": e.note, "status": e.status, "reason": e.reason}  # fmt: skip
        if cfg.analysis.p_values:
            extra["p_value"] = e.p_value
        stats = {"estimate": e.estimate, "ci_lower": e.ci_lower, "ci_upper": e.ci_upper, **extra}
        stats = {k: float(v) if k in floats else v for k, v in stats.items()}
        contrast = ("estimate", "ci_lower", "ci_upper") if e.effect not in NOT_CONTRASTS else ()
        rows = stat_rows(to, combo, o.id, o.timepoint, stats, method=e.ci_method, contrast=contrast,
                         error=e.reason or None)  # fmt: skip
        out.append(results_frame(rows))
    return out


#: The effect scale of each analysis's rows (for a row that could not be estimated).
SCALES: dict[str, tuple[str, ...]] = {name: a.scales for name, a in ANALYSES.items()}
_LOGISTIC_ROWS = ("logistic", "logistic_standardised", "unadjusted")


def _warn(text: str) -> None:
    warnings.warn(text, EstimationWarning, stacklevel=3)


def _design(cfg: Config, o: Outcome, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, list[str], list[str]]:
    """Complete cases and their design matrix, with aliased columns dropped; returns notes on what was
    left out (also warned)."""
    notes: list[str] = []
    cc = complete_cases(frame, o)
    factors = factors_of(o)
    if factors:
        lacking = cc[factors].isna().any(axis=1)
        if lacking.any():
            which = ", ".join(f for f in factors if cc[f].isna().any())
            ids = ", ".join(cc.loc[lacking, "participant_id"].astype(str).head(10))
            notes.append(f"{int(lacking.sum())} men with no {which} left out (complete cases): {ids}")
            _warn(f"{o.id}: {notes[-1]}")
            cc = cc[~lacking].reset_index(drop=True)
    X, names = design_matrix(cc, o, cfg.factor_levels())
    if len(cc) and cfg.trial.design == "parallel":  # a single-arm design's change needs no design matrix
        keep = independent_columns(X)
        if 1 not in keep:
            raise NotEstimable(_arm_reason(cfg, cc, frame, o) or "the arm is aliased with the intercept")
        dropped = [names[j] for j in range(X.shape[1]) if j not in keep]
        if dropped:
            notes.append(f"covariate {', '.join(dropped)} is collinear with arm or the covariates before it "
                         "and was dropped (as R's lm)")  # fmt: skip
            _warn(f"{o.id}: {notes[-1]}")
            X, names = X[:, keep], [names[j] for j in keep]
    return cc, X, names, notes


def _arm_reason(cfg: Config, cc: pd.DataFrame, frame: pd.DataFrame | None = None, o: Outcome | None = None) -> str:
    """Why a two-arm comparison has nothing to compare, if it has not: the cause named (men followed up
    but left out for a missing covariate are not "no follow-up")."""
    arms = arms_of(cfg)
    if not len(cc):
        return "no man has the outcome measured" if frame is None or not frame["y"].notna().any() else (
            _left_out(frame, o, None) or "no man has the outcome measured")  # fmt: skip
    for arm, flag in ((arms.intervention, 1.0), (arms.control, 0.0)):
        if arm is not None and not (cc["treat"] == flag).any():
            return _left_out(frame, o, (arm, flag)) or f"no follow-up observed in the {arm} arm"
    return ""


def _left_out(frame: pd.DataFrame | None, o: Outcome | None, arm: tuple[str, float] | None) -> str:
    """Why men of an arm (or every man) with the outcome measured were left out: the covariate named."""
    if frame is None or o is None:
        return ""
    men = frame if arm is None else frame[frame["treat"] == arm[1]]
    followed = men[men["y"].notna()]
    if not len(followed):
        return ""
    where = "no man" if arm is None else f"no {arm[0]} man"
    lacking = [("baseline", "a baseline score")] if "baseline" in o.adjust_for else []
    lacking += [(f, f"a {f} recorded") for f in factors_of(o)]
    for col, what in lacking:
        if followed["base" if col == "baseline" else col].isna().all():
            return (f"{where} followed up has {what}: the {len(followed)} with the outcome measured were left out "
                    f"for the missing {col} (complete cases; see multiple_imputation)")  # fmt: skip
    missing = [c for c, _ in lacking if followed["base" if c == "baseline" else c].isna().any()]
    if missing:
        return (f"{where} followed up has every covariate recorded: the {len(followed)} with the outcome measured "
                f"were left out for missing {', '.join(missing)} (complete cases)")  # fmt: skip
    return ""


def _check_outcome(o: Outcome, y: np.ndarray, name: str) -> None:
    """Outcomes that no model of this kind can use."""
    if not len(y):
        raise NotEstimable("no man has the outcome measured")
    if o.type == "binary" and name in ("logistic", "firth", "cace"):
        if y.min() == y.max():
            raise NotEstimable("every man analysed had the outcome" if y[0] == 1 else "no man analysed had the outcome")
    elif o.type == "count" and name == "negative_binomial":
        if not y.any():
            raise NotEstimable("every count is zero")
    elif np.ptp(y) == 0 and name != "change":
        raise NotEstimable(f"the outcome does not vary: every man analysed scored {y[0]:g}")


def _one(cfg: Config, o: Outcome, name: str, frame: pd.DataFrame, cc: pd.DataFrame, X: np.ndarray) -> list[Effect]:
    """One analysis of one outcome (raises :class:`NotEstimable`)."""
    level = cfg.reporting.ci_level
    y = cc["y"].to_numpy(dtype=float)
    treat = X[:, 1] if X.shape[1] > 1 else np.zeros(len(cc))
    if name == "change":
        both = frame.dropna(subset=["y", "base"])
        if len(both) < 2:
            raise NotEstimable(f"{len(both)} man with the outcome at baseline and follow-up; a change needs two")
        return [change(both["base"].to_numpy(float), both["y"].to_numpy(float), level)]
    if name != "multiple_imputation":
        if cfg.trial.design == "parallel" and _arm_reason(cfg, cc):
            raise NotEstimable(_arm_reason(cfg, cc, frame, o))
        if name == "logistic" and o.type == "binary":  # the crude difference needs no model: given whatever it says
            return _logistic_rows(cfg, X, y, level)
        _check_outcome(o, y, name)
    if name in ("ancova", "cace", "negative_binomial"):  # (theta too needs residual degrees of freedom)
        _residual_df(X)
    if name == "ancova":
        return [ancova(X, y, level)]
    if name == "firth":
        return [firth_logistic(X, y, level)]
    if name == "negative_binomial":
        if count_separated(X, y):
            raise NotEstimable(_zero_counts_reason(cfg, y, treat))
        return [negative_binomial(X, y, level)]
    if name in ("partially_nested", "partially_nested_equal_var"):
        from advance_trial.outcomes.nested import fit_equal_variance, fit_heteroscedastic, icc_effect, nested_effect

        _nested_identified(cfg, name, cc, X, y, treat)
        fitter = fit_heteroscedastic if name == "partially_nested" else fit_equal_variance
        clusters = cc.loc[treat == 1, "cluster"]
        singletons = bool(len(clusters)) and clusters.value_counts().max() == 1
        fit = fitter(X, y, treat, cc["cluster"].to_numpy())
        if fit.residual_boundary:
            arm = arms_of(cfg).intervention if fit.residual_boundary == "intervention" else arms_of(cfg).control
            v = fit.s2_intervention if fit.residual_boundary == "intervention" else fit.s2_control
            raise NotEstimable(f"the {arm} arm's residual variance is estimated at zero ({v:.2g}): the restricted "
                               "likelihood has no maximum there (nlme stops: computationally singular); see "
                               "partially_nested_equal_var")  # fmt: skip
        if fit.information_singular and not fit.on_boundary and not singletons:
            raise NotEstimable("the restricted likelihood is flat in a direction of the variances at the fit: they are "
                               "not identified on these men (as nlme's intervals(): non-positive definite "
                               "approximate variance-covariance)")  # fmt: skip
        if cfg.analysis.df == "containment" and fit.df[1] <= 0:
            raise NotEstimable(f"{cc['cluster'].nunique()} clusters leave no degrees of freedom for the arm effect "
                               "(nlme's containment rule): the model is not identified")  # fmt: skip
        with warnings.catch_warnings():
            if singletons:  # a group variance at zero says nothing here: the split itself is arbitrary
                warnings.simplefilter("ignore", BoundaryWarning)
            effect = nested_effect(name, fit, treat, level, cfg.analysis.df, o.id)
        if singletons:
            why = ("every therapy group has one man analysed: the group and residual variances cannot be told "
                   "apart (only their sum is estimated); the arm effect stands")  # fmt: skip
            _warn(f"{o.id}, {name}: {why}")
            nan = float("nan")
            icc = Effect(name, "icc", nan, nan, nan, nan, np.inf, "", *_counts_of(treat), status="not_estimable",
                         reason=why)  # fmt: skip
            return [replace(effect, note=f"{effect.note}; {why}"), icc]
        return [effect, icc_effect(name, fit, treat, level)]
    if name == "multiple_imputation":
        return [_multiple_imputation(cfg, o, frame, level)]
    if name == "cace":
        out = []
        for th in cfg.thresholds:
            d = cc[f"met_{th.id}"].to_numpy(float)
            if not d[treat == 1].any():
                out.append(_failed("cace", ("mean_difference",), cc, f"no man analysed met the threshold {th.id}: "
                                   "the first stage has no instrument", threshold=th.id)[0])  # fmt: skip
                continue
            e = two_stage_least_squares(X, d, y, level, th.id)
            if o.type == "binary":
                e = Effect(**{**asdict(e), "effect": "risk_difference"})
            out.append(e)
        return out
    raise NotEstimable(f"unknown analysis {name}")


def _residual_df(X: np.ndarray) -> None:
    n, p = X.shape
    if n <= p:
        raise NotEstimable(f"{n} men for {p} coefficients: no residual degrees of freedom")


def _logistic_rows(cfg: Config, X: np.ndarray, y: np.ndarray, level: float) -> list[Effect]:
    """The logistic rows, and beside them the unadjusted Newcombe difference, which needs no model and is given
    even when the model is undefined (separation, an outcome every man or no man had)."""
    n = _counts_of(X[:, 1])
    unadjusted = unadjusted_difference(X[:, 1], y, level)
    nan = float("nan")

    def failed(reason: str) -> list[Effect]:
        return [Effect(r, sc, nan, nan, nan, nan, nan, "", *n, status="not_estimable", reason=reason)
                for r, sc in zip(_LOGISTIC_ROWS[:2], SCALES["logistic"][:2], strict=True)]  # fmt: skip

    if y.min() == y.max():
        return [*failed("every man analysed had the outcome" if y[0] == 1 else "no man analysed had the outcome"),
                unadjusted]  # fmt: skip
    if separated(X, y):
        return [*failed(_separation_reason(cfg, X[:, 1], y)), unadjusted]
    try:
        return [*logistic(X, y, level)[:2], unadjusted]
    except (np.linalg.LinAlgError, ValueError, FloatingPointError, ZeroDivisionError) as exc:
        return [*failed(f"the model could not be fitted ({type(exc).__name__}: {exc})"), unadjusted]


def _separation_reason(cfg: Config, treat: np.ndarray, y: np.ndarray) -> str:
    """Separation, with its cause named when it is the arm itself."""
    arms = arms_of(cfg)
    tail = ("the maximum likelihood estimate does not exist (linear-programming check, as R's detectseparation); "
            "see firth and the unadjusted risk difference")  # fmt: skip
    constant = {}
    for arm, flag in ((arms.intervention, 1.0), (arms.control, 0.0)):
        part = y[treat == flag]
        if len(part) and part.min() == part.max():
            constant[flag] = (arm, int(part[0]))
    if not constant:
        return f"quasi-complete separation by the covariates: {tail}"
    kind = "complete" if len(constant) == 2 else "quasi-complete"
    flag, (arm, value) = next(iter(constant.items()))
    ratio = "infinite" if (value == 1) == (flag == 1.0) else "0"
    said = "every" if value == 1 else "no"
    return f"{kind} separation: {said} {arm} man analysed had the outcome, so the odds ratio is {ratio}; {tail}"


def _zero_counts_reason(cfg: Config, y: np.ndarray, treat: np.ndarray) -> str:
    arms = arms_of(cfg)
    for arm, flag, ratio in ((arms.control, 0.0, "infinite"), (arms.intervention, 1.0, "0")):
        if not y[treat == flag].any():
            return (f"every {arm} man analysed had a count of 0: the rate ratio is {ratio}, its maximum likelihood "
                    "estimate does not exist (R's glm.nb returns an enormous or vanishing ratio with a vast "
                    "standard error)")  # fmt: skip
    return (
        "the counts are zero wherever a combination of the covariates is positive: a coefficient's maximum "
        "likelihood estimate is infinite (linear-programming check, as R's detectseparation for poisson)"
    )


_VARIANCES = {"partially_nested": "therapy group, control residual, intervention residual",
              "partially_nested_equal_var": "therapy group, residual"}  # fmt: skip


def _nested_identified(cfg: Config, name: str, cc: pd.DataFrame, X: np.ndarray, y: np.ndarray,
                       treat: np.ndarray) -> None:  # fmt: skip
    """Raise :class:`NotEstimable` when a partially nested model is not identified on these men, naming why."""
    arms = arms_of(cfg)
    n, p = X.shape
    k = _VARIANCES[name].count(",") + 1
    _residual_df(X)
    if n - p < k:
        raise NotEstimable(f"{n} men for {p} coefficients leave {n - p} degrees of freedom for the model's {k} "
                           f"variances ({_VARIANCES[name]}): it is not identified (R's nlme keeps their starting "
                           "values and cannot give their intervals)")  # fmt: skip
    groups = int(cc.loc[treat == 1, "cluster"].nunique())
    if groups < 2:
        raise NotEstimable(f"the {arms.intervention} men analysed were in {groups} therapy group: a group variance "
                           "needs two groups at least (one group's effect is the arm effect itself)")  # fmt: skip
    if name == "partially_nested":
        for arm, flag in ((arms.intervention, 1.0), (arms.control, 0.0)):
            part = y[treat == flag]
            if len(part) < 2:
                raise NotEstimable(f"one man analysed in the {arm} arm: that arm's own residual variance "
                                   "cannot be estimated (see partially_nested_equal_var)")  # fmt: skip
            if np.ptp(part) == 0:
                raise NotEstimable(f"every {arm} man analysed scored {part[0]:g}: that arm's own residual variance "
                                   "is zero, where the restricted likelihood has no maximum (nlme stops: "
                                   "computationally singular); see partially_nested_equal_var")  # fmt: skip


def _counts_of(treat: np.ndarray) -> tuple[int, int, int]:
    return len(treat), int((treat == 1).sum()), int((treat == 0).sum())


def _failed(name: str, scales: tuple[str, ...], cc: pd.DataFrame, reason: str, threshold: str = "") -> list[Effect]:
    n = (len(cc), int((cc["treat"] == 1).sum()), int((cc["treat"] == 0).sum())) if len(cc) else (0, 0, 0)
    rows = _LOGISTIC_ROWS if name == "logistic" else (name,) * len(scales)
    nan = float("nan")
    return [Effect(r, sc, nan, nan, nan, nan, nan, "", *n, status="not_estimable", reason=reason,
                   threshold=threshold) for r, sc in zip(rows, scales, strict=True)]  # fmt: skip


def _failed_analysis(cfg: Config, name: str, cc: pd.DataFrame, reason: str) -> list[Effect]:
    """The rows of an analysis that could not be estimated: one per effect it reports (per threshold for cace)."""
    if name == "cace":
        return [r for th in cfg.thresholds for r in _failed("cace", SCALES["cace"], cc, reason, threshold=th.id)]
    return _failed(name, SCALES[name], cc, reason)


def _analyse(cfg: Config, o: Outcome, frame: pd.DataFrame) -> list[Effect]:
    """Every configured analysis of one outcome, each on its own: a failure is a row with a reason."""
    effects: list[Effect] = []
    try:
        cc, X, _, notes = _design(cfg, o, frame)
    except NotEstimable as exc:
        cc, X, notes, design_problem = complete_cases(frame, o), np.zeros((0, 2)), [], exc.reason
    else:
        design_problem = ""
    for name in o.analyses_for(cfg.trial.design):
        try:
            if design_problem and name != "multiple_imputation":
                raise NotEstimable(design_problem)
            rows = _one(cfg, o, name, frame, cc, X)
        except NotEstimable as exc:
            rows = _failed_analysis(cfg, name, cc, exc.reason)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, ZeroDivisionError) as exc:
            rows = _failed_analysis(cfg, name, cc, f"the model could not be fitted ({type(exc).__name__}: {exc})")
        rows = [_meaningful(r) for r in rows]
        for r in rows:
            if r.status != "estimated":
                _warn(f"{o.id}, {r.analysis}: not estimable: {r.reason}")
        if notes and name != "multiple_imputation":
            rows = [replace(r, note="; ".join(filter(None, [r.note, *notes]))) for r in rows]
        effects.extend(rows)
    return effects


_RATIOS = ("odds_ratio", "rate_ratio")


def _meaningful(e: Effect) -> Effect:
    """An "estimated" row is a finite number with a finite, non-degenerate interval (a ratio neither 0 nor
    infinite); anything else keeps no number and says why (the last guard: each model checks its own
    identification first and names the cause)."""
    nan = float("nan")
    if e.status != "estimated":
        return replace(e, estimate=nan, ci_lower=nan, ci_upper=nan, se=nan) if e.effect == "icc" else e
    values = np.array([e.estimate, e.ci_lower, e.ci_upper], dtype=float)
    bad = ""
    if not np.isfinite(e.estimate) or np.isnan(values).any():
        bad = "the model gave no finite estimate or interval"
    elif e.effect in _RATIOS and (e.ci_lower <= 0 or not np.isfinite(e.ci_upper) or e.estimate > 1e8
                                  or e.estimate < 1e-8):  # fmt: skip
        bad = (
            f"the ratio is numerically 0 or infinite ({e.estimate:.3g}, interval {e.ci_lower:.3g} to {e.ci_upper:.3g})"
        )
    elif e.effect != "icc" and e.analysis != "firth" and not e.ci_lower < e.ci_upper:
        bad = f"the interval has no width ({e.ci_lower:.3g} to {e.ci_upper:.3g}): the outcome is fitted exactly"
    if not bad:
        return e
    return replace(e, estimate=nan, ci_lower=nan, ci_upper=nan, se=nan, p_value=nan, status="not_estimable",
                   reason=bad)  # fmt: skip


@dataclass(frozen=True)
class _Imputation:
    """What multiple imputation of one outcome imputes: the analysis frame, what is incomplete in it, and
    :func:`~advance_trial.outcomes.imputation.impute`'s arguments (its generator seeded for the outcome)."""

    full: pd.DataFrame
    with_base: bool
    incomplete_factors: list[str]
    rng: np.random.Generator
    complete: np.ndarray
    incomplete: np.ndarray
    widths: list[int]


def _imputation_plan(cfg: Config, o: Outcome, frame: pd.DataFrame, level: float) -> Effect | _Imputation:
    """What :func:`_multiple_imputation` imputes, or its effect when nothing is missing (raises
    :class:`NotEstimable` as it does)."""
    s = cfg.analysis
    levels = cfg.factor_levels()
    full = frame.reset_index(drop=True)
    reason = _arm_reason(cfg, full.dropna(subset=["y"]))
    if reason and cfg.trial.design == "parallel":
        raise NotEstimable(reason.replace("no follow-up observed", "no outcome observed"))
    observed = full["y"].dropna().to_numpy(float)
    if np.ptp(observed) == 0:  # PMM can only copy that value: every imputed data set is exact, its variance zero
        raise NotEstimable(f"the outcome does not vary: every man observed scored {observed[0]:g}, so every imputed "
                           "value is that score too and the analysis has no residual variance")  # fmt: skip
    with_base = "baseline" in o.adjust_for
    factors = factors_of(o)
    incomplete_factors = [f for f in factors if full[f].isna().any()]
    if not full["y"].isna().any() and not (with_base and full["base"].isna().any()) and not incomplete_factors:
        X, _ = design_matrix(full, o, levels)
        X = X[:, independent_columns(X)]
        _residual_df(X)
        e = ancova(X, full["y"].to_numpy(float), level)
        return replace(e, analysis="multiple_imputation", ci_method="t (residual df); nothing to impute",
                       note="nothing missing: the complete-case analysis, no imputation; fraction of missing "
                            "information 0")  # fmt: skip
    seed = s.mi_seed if s.mi_seed is not None else 0
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(hash_id(o.id),))))
    fixed = o.model_copy(update={"adjust_for": [f for f in o.adjust_for if f not in incomplete_factors
                                                and f != "baseline"]})  # fmt: skip
    complete, _ = design_matrix(full, fixed, levels)  # intercept, arm, the complete factors
    blocks: list[np.ndarray] = [full["y"].to_numpy(float)[:, None]]
    if with_base:
        blocks.append(full["base"].to_numpy(float)[:, None])
    for f in incomplete_factors:  # one dummy per level after the first, missing where the factor is
        present = [lv for lv in levels[f] if (full[f] == lv).any()]
        dummies = np.column_stack([(full[f] == lv).to_numpy(float) for lv in present[1:]])
        dummies[full[f].isna().to_numpy()] = np.nan
        blocks.append(dummies)
    widths = [b.shape[1] for b in blocks]
    return _Imputation(full, with_base, incomplete_factors, rng, complete, np.column_stack(blocks), widths)


def _imputations_ahead(cfg: Config, frames: list[tuple[Outcome, pd.DataFrame]]) -> dict[str, tuple[Any, ...]]:
    """The arguments of :func:`~advance_trial.outcomes.imputation.impute` for each outcome imputed (by id), to
    start them beside the other analyses; an outcome whose plan fails is left to its analysis to report."""
    jobs: dict[str, tuple[Any, ...]] = {}
    for o, frame in frames:
        if "multiple_imputation" not in o.analyses_for(cfg.trial.design):
            continue
        try:
            plan = _imputation_plan(cfg, o, frame, cfg.reporting.ci_level)
        except Exception:  # reported where the analysis runs, in its own words
            continue
        if isinstance(plan, _Imputation):
            s = cfg.analysis
            jobs[o.id] = (plan.rng, plan.complete, plan.incomplete, s.mi_m, s.mi_iterations, plan.widths)
    return jobs


def _multiple_imputation(cfg: Config, o: Outcome, frame: pd.DataFrame, level: float) -> Effect:
    """Multiple imputation of the outcome, the baseline and any adjustment factor with missing values
    (a factor is imputed as a whole category, from the donors' own categories), analysed by ANCOVA and
    pooled by Rubin's rules. With nothing missing it is the complete-case ANCOVA, said so."""
    from advance_trial.outcomes.imputation import imputed, pool, pooled_interval
    from advance_trial.outcomes.models import ols

    s = cfg.analysis
    plan = _imputation_plan(cfg, o, frame, level)
    if isinstance(plan, Effect):
        return plan
    full, with_base, incomplete_factors, complete = plan.full, plan.with_base, plan.incomplete_factors, plan.complete
    n, n1, n0 = len(full), int((full["treat"] == 1).sum()), int((full["treat"] == 0).sum())
    sets = imputed(o.id, plan.rng, complete, plan.incomplete, s.mi_m, s.mi_iterations, plan.widths)
    est, var = [], []
    df = float("nan")
    for data in sets:
        X = np.column_stack([complete[:, :2]] + ([data[:, 1:2]] if with_base else []) + [complete[:, 2:]]
                            + ([data[:, 1 + int(with_base):]] if incomplete_factors else []))  # fmt: skip
        X = X[:, independent_columns(X)]
        beta, cov, df = ols(X, data[:, 0])
        est.append(beta[1])
        var.append(cov[1, 1])
    if float(df) <= 0:
        raise NotEstimable(f"{n} men for {X.shape[1]} coefficients: no residual degrees of freedom")
    pooled = pool(np.asarray(est), np.asarray(var), float(df))
    if not pooled.total > 0:
        raise NotEstimable("the imputed analyses have no variance: every completed data set is fitted exactly")
    lo, hi = pooled_interval(pooled, level)
    p = two_sided_p(pooled.estimate / np.sqrt(pooled.total), pooled.df)
    what = ", ".join(["outcome"] + (["baseline"] if with_base else []) + incomplete_factors)
    return Effect("multiple_imputation", "mean_difference", pooled.estimate, lo, hi, float(np.sqrt(pooled.total)),
                  pooled.df, "Rubin's rules, Barnard-Rubin df", n, n1, n0, p_value=p,
                  note=f"m = {s.mi_m}, {s.mi_iterations} iterations, PMM ({what}); fraction of missing "
                       f"information {pooled.fmi:.3f}")  # fmt: skip


def hash_id(text: str) -> int:
    """A stable 32-bit number for a name (spawn keys for per-outcome streams)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


_NUMBERS = ("estimate", "ci_lower", "ci_upper", "n_analysed", "n_intervention", "n_control", "se", "df", "p_value")


def outcome_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of every configured analysis of every outcome on the subject-level data set."""
    arms = arms_of(cfg)
    comparison = f"{arms.intervention} vs {arms.control}" if arms.control else f"{arms.intervention}: change"
    labels = variable_labels(cfg)
    from advance_trial.outcomes.imputation import imputing_ahead

    frames = [(o, analysis_frame(cfg, ads, o)) for o in cfg.outcomes]
    with imputing_ahead(lambda: _imputations_ahead(cfg, frames)):  # large ones in the run's workers, if it has them
        effects = [(o, _analyse(cfg, o, frame)) for o, frame in frames]
    every = [e for _, es in effects for e in es]
    # a statistic is a float wherever one of its values is (as a column of the effects would hold it)
    floats = [f for f in _NUMBERS if any(not isinstance(getattr(e, f), int | np.integer) for e in every)]
    parts: list[pd.DataFrame] = []
    for o, es in effects:
        parts += _rows(cfg, o, es, comparison, labels.get(o.id, ""), floats)
    return bind_results(parts)


def analyse_outcomes(cfg: Config, ads: AnalysisData) -> OutcomeResults:
    """Run every configured analysis of every outcome on the subject-level data set: its results rows
    (:func:`outcome_results`) and the scored questionnaires."""
    return OutcomeResults(outcome_results(cfg, ads), ads.scores)


__all__ = ["OutcomeResults", "analyse_outcomes", "arms_of", "factors_of", "outcome_results"]
