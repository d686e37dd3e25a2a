"""Outcome analyses: every configured outcome under every configured analysis, as one long table.

Effects are intervention minus (or over) control; the intervention arm is the one the schedule
offers sessions. Complete cases are the primary analysis; ``multiple_imputation`` imputes the
missing outcomes and baselines; ``cace`` gives, for each dose threshold, the complier average
causal effect beside the intention-to-treat estimate, never instead of it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config.models import Config, Outcome
from advance_trial.errors import BoundaryWarning, EstimationWarning
from advance_trial.intervals import two_sided_p
from advance_trial.outcomes.checks import NotEstimable, independent_columns, separated
from advance_trial.outcomes.frame import analysis_frame, arms_of, complete_cases, design_matrix, factors_of
from advance_trial.outcomes.models import (
    Effect,
    ancova,
    change,
    firth_logistic,
    logistic,
    negative_binomial,
    two_stage_least_squares,
)
from advance_trial.output.tables import Table
from advance_trial.vocabulary import ANALYSES

OUTCOME_COLUMNS = [
    "outcome", "timepoint", "analysis", "effect", "estimate", "ci_lower", "ci_upper", "n_analysed",
    "comparison", "n_intervention", "n_control", "se", "df", "ci_method", "threshold", "note", "status", "reason",
]  # fmt: skip


@dataclass(frozen=True)
class OutcomeResults:
    """The long results table and the scored data behind it."""

    effects: pd.DataFrame
    scores: pd.DataFrame


def _rows(o: Outcome, effects: list[Effect], comparison: str) -> list[dict[str, object]]:
    out = []
    for e in effects:
        row = {"outcome": o.id, "timepoint": o.timepoint, "comparison": comparison, **asdict(e)}
        out.append(row)
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
            raise NotEstimable(_arm_reason(cfg, cc) or "the arm is aliased with the intercept")
        dropped = [names[j] for j in range(X.shape[1]) if j not in keep]
        if dropped:
            notes.append(f"covariate {', '.join(dropped)} is collinear with arm or the covariates before it "
                         "and was dropped (as R's lm)")  # fmt: skip
            _warn(f"{o.id}: {notes[-1]}")
            X, names = X[:, keep], [names[j] for j in keep]
    return cc, X, names, notes


def _arm_reason(cfg: Config, cc: pd.DataFrame) -> str:
    """Why a two-arm comparison has nothing to compare, if it has not."""
    arms = arms_of(cfg)
    if not len(cc):
        return "no man has the outcome measured"
    for arm, flag in ((arms.intervention, 1.0), (arms.control, 0.0)):
        if arm is not None and not (cc["treat"] == flag).any():
            return f"no follow-up observed in the {arm} arm"
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
            raise NotEstimable(_arm_reason(cfg, cc))
        _check_outcome(o, y, name)
    if name == "ancova":
        if len(y) <= X.shape[1]:
            raise NotEstimable(f"{len(y)} men for {X.shape[1]} coefficients: no residual degrees of freedom")
        return [ancova(X, y, level)]
    if name in ("logistic", "firth"):
        if name == "logistic" and separated(X, y):
            raise NotEstimable("quasi-complete separation: the maximum likelihood estimate is infinite "
                               "(linear-programming check, as R's detectseparation); see firth")  # fmt: skip
        return logistic(X, y, level) if name == "logistic" else [firth_logistic(X, y, level)]
    if name == "negative_binomial":
        return [negative_binomial(X, y, level)]
    if name in ("partially_nested", "partially_nested_equal_var"):
        from advance_trial.outcomes.nested import fit_equal_variance, fit_heteroscedastic, icc_effect, nested_effect

        arms = arms_of(cfg)
        if name == "partially_nested":
            for arm, flag in ((arms.intervention, 1.0), (arms.control, 0.0)):
                if int((treat == flag).sum()) < 2:
                    raise NotEstimable(f"one man analysed in the {arm} arm: that arm's own residual variance "
                                       "cannot be estimated (see partially_nested_equal_var)")  # fmt: skip
        fitter = fit_heteroscedastic if name == "partially_nested" else fit_equal_variance
        clusters = cc.loc[treat == 1, "cluster"]
        singletons = bool(len(clusters)) and clusters.value_counts().max() == 1
        fit = fitter(X, y, treat, cc["cluster"].to_numpy())
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
        for r in rows:
            if r.status != "estimated":
                _warn(f"{o.id}, {r.analysis}: not estimable: {r.reason}")
        if notes and name != "multiple_imputation":
            rows = [replace(r, note="; ".join(filter(None, [r.note, *notes]))) for r in rows]
        effects.extend(rows)
    return effects


def _multiple_imputation(cfg: Config, o: Outcome, frame: pd.DataFrame, level: float) -> Effect:
    """Multiple imputation of the outcome, the baseline and any adjustment factor with missing values
    (a factor is imputed as a whole category, from the donors' own categories), analysed by ANCOVA and
    pooled by Rubin's rules. With nothing missing it is the complete-case ANCOVA, said so."""
    from advance_trial.outcomes.imputation import impute, pool, pooled_interval
    from advance_trial.outcomes.models import ols

    s = cfg.analysis
    levels = cfg.factor_levels()
    full = frame.reset_index(drop=True)
    n, n1, n0 = len(full), int((full["treat"] == 1).sum()), int((full["treat"] == 0).sum())
    reason = _arm_reason(cfg, full.dropna(subset=["y"]))
    if reason and cfg.trial.design == "parallel":
        raise NotEstimable(reason.replace("no follow-up observed", "no outcome observed"))
    with_base = "baseline" in o.adjust_for
    factors = factors_of(o)
    incomplete_factors = [f for f in factors if full[f].isna().any()]
    if not full["y"].isna().any() and not (with_base and full["base"].isna().any()) and not incomplete_factors:
        X, _ = design_matrix(full, o, levels)
        X = X[:, independent_columns(X)]
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
    sets = impute(rng, complete, np.column_stack(blocks), s.mi_m, s.mi_iterations, groups=widths)
    est, var = [], []
    df = float("nan")
    for data in sets:
        X = np.column_stack([complete[:, :2]] + ([data[:, 1:2]] if with_base else []) + [complete[:, 2:]]
                            + ([data[:, 1 + int(with_base):]] if incomplete_factors else []))  # fmt: skip
        X = X[:, independent_columns(X)]
        beta, cov, df = ols(X, data[:, 0])
        est.append(beta[1])
        var.append(cov[1, 1])
    pooled = pool(np.asarray(est), np.asarray(var), float(df))
    lo, hi = pooled_interval(pooled, level)
    p = two_sided_p(pooled.estimate / np.sqrt(pooled.total), pooled.df)
    imputed = ", ".join(["outcome"] + (["baseline"] if with_base else []) + incomplete_factors)
    return Effect("multiple_imputation", "mean_difference", pooled.estimate, lo, hi, float(np.sqrt(pooled.total)),
                  pooled.df, "Rubin's rules, Barnard-Rubin df", n, n1, n0, p_value=p,
                  note=f"m = {s.mi_m}, {s.mi_iterations} iterations, PMM ({imputed}); fraction of missing "
                       f"information {pooled.fmi:.3f}")  # fmt: skip


def hash_id(text: str) -> int:
    """A stable 32-bit number for a name (spawn keys for per-outcome streams)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def analyse_outcomes(cfg: Config, ads: AnalysisData) -> OutcomeResults:
    """Run every configured analysis of every outcome on the subject-level data set."""
    scores = ads.scores
    arms = arms_of(cfg)
    comparison = f"{arms.intervention} vs {arms.control}" if arms.control else f"{arms.intervention}: change"
    rows: list[dict[str, object]] = []
    for o in cfg.outcomes:
        frame = analysis_frame(cfg, ads, o)
        rows.extend(_rows(o, _analyse(cfg, o, frame), comparison))
    cols = OUTCOME_COLUMNS + (["p_value"] if cfg.analysis.p_values else [])
    table = pd.DataFrame(rows).reindex(columns=cols) if rows else pd.DataFrame(columns=cols)
    return OutcomeResults(table, scores)


def outcome_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """``outcomes`` (contract section 3) and ``scores`` (the scored data, for checking by hand)."""
    res = analyse_outcomes(cfg, ads)
    level = f"{cfg.reporting.ci_level:.0%}"
    if cfg.trial.design == "single_arm":
        notes: tuple[str, ...] = (
            f"{level} paired t intervals of the mean change from baseline (follow-up minus baseline), men with both.",
        )
    else:
        notes = (
            f"{level} intervals; method per row (ci_method). Effects are intervention minus (or over) control; "
            "complete cases unless the analysis is multiple_imputation; n_analysed counts the men in the model.",
            "cace: complier average causal effect for the named dose threshold, beside the intention-to-treat "
            "estimate, never instead of it.",
        )
    return {
        "outcomes": Table("outcomes", res.effects, "Outcome analyses", notes),
        "scores": Table(
            "scores",
            res.scores,
            "Scored questionnaires (men)",
            ("Prorated scores; missing when more items are missing than max_missing_items.",),
            markdown=False,
        ),  # fmt: skip
    }


__all__ = ["OutcomeResults", "analyse_outcomes", "arms_of", "factors_of", "outcome_tables"]
