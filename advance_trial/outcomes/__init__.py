"""Outcome analyses: every configured outcome under every configured analysis, as one long table.

Effects are intervention minus (or over) control; the intervention arm is the one the schedule
offers sessions. Complete cases are the primary analysis; ``multiple_imputation`` imputes the
missing outcomes and baselines; ``cace`` gives, for each dose threshold, the complier average
causal effect beside the intention-to-treat estimate, never instead of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from advance_trial.canonical import CanonicalData
from advance_trial.config.models import Config, Outcome
from advance_trial.intervals import two_sided_p
from advance_trial.outcomes.frame import analysis_frame, arms_of, complete_cases, design_matrix, factors_of
from advance_trial.outcomes.models import Effect, ancova, change, logistic, negative_binomial, two_stage_least_squares
from advance_trial.results import Table
from advance_trial.scoring import score_measures

OUTCOME_COLUMNS = [
    "outcome", "timepoint", "analysis", "effect", "estimate", "ci_lower", "ci_upper", "n_analysed",
    "comparison", "n_intervention", "n_control", "se", "df", "ci_method", "threshold", "note",
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


def _analyse(cfg: Config, o: Outcome, frame: pd.DataFrame) -> list[Effect]:
    level = cfg.reporting.ci_level
    levels = cfg.factor_levels()
    cc = complete_cases(frame, o)
    X, _ = design_matrix(cc, o, levels)
    y = cc["y"].to_numpy(dtype=float)
    treat = cc["treat"].to_numpy(dtype=float)
    effects: list[Effect] = []
    for name in o.analyses_for(cfg.trial.design):
        if name == "change":
            both = frame.dropna(subset=["y", "base"])
            effects.append(change(both["base"].to_numpy(float), both["y"].to_numpy(float), level))
        elif name == "ancova":
            effects.append(ancova(X, y, level))
        elif name == "logistic":
            effects.extend(logistic(X, y, level))
        elif name == "negative_binomial":
            effects.append(negative_binomial(X, y, level))
        elif name in ("partially_nested", "partially_nested_equal_var"):
            from advance_trial.outcomes.nested import fit_equal_variance, fit_heteroscedastic, nested_effect

            fitter = fit_heteroscedastic if name == "partially_nested" else fit_equal_variance
            fit = fitter(X, y, treat, cc["cluster"].to_numpy())
            effects.append(nested_effect(name, fit, treat, level, cfg.analysis.df, o.id))
        elif name == "multiple_imputation":
            effects.append(_multiple_imputation(cfg, o, frame, level))
        elif name == "cace":
            for th in cfg.thresholds:
                e = two_stage_least_squares(X, cc[f"met_{th.id}"].to_numpy(float), y, level, th.id)
                if o.type == "binary":
                    e = Effect(**{**asdict(e), "effect": "risk_difference"})
                effects.append(e)
    return effects


def _multiple_imputation(cfg: Config, o: Outcome, frame: pd.DataFrame, level: float) -> Effect:
    from advance_trial.outcomes.imputation import impute, pool, pooled_interval
    from advance_trial.outcomes.models import ols

    s = cfg.analysis
    seed = s.mi_seed if s.mi_seed is not None else 0
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(hash_id(o.id),))))
    levels = cfg.factor_levels()
    full = frame.copy()
    X_all, _ = design_matrix(full.assign(base=full["base"].fillna(0.0)), o, levels)
    complete = np.delete(X_all, 2, axis=1) if "baseline" in o.adjust_for else X_all
    incomplete = np.column_stack(
        [full["y"].to_numpy(float)] + ([full["base"].to_numpy(float)] if "baseline" in o.adjust_for else [])
    )
    sets = impute(rng, complete, incomplete, s.mi_m, s.mi_iterations)
    est, var = [], []
    for data in sets:
        X = X_all.copy()
        if "baseline" in o.adjust_for:
            X[:, 2] = data[:, 1]
        beta, cov, df = ols(X, data[:, 0])
        est.append(beta[1])
        var.append(cov[1, 1])
    pooled = pool(np.asarray(est), np.asarray(var), float(df))
    lo, hi = pooled_interval(pooled, level)
    n = len(full)
    p = two_sided_p(pooled.estimate / np.sqrt(pooled.total), pooled.df)
    return Effect("multiple_imputation", "mean_difference", pooled.estimate, lo, hi, float(np.sqrt(pooled.total)),
                  pooled.df, "Rubin's rules, Barnard-Rubin df", n, int((full["treat"] == 1).sum()),
                  int((full["treat"] == 0).sum()), p_value=p,
                  note=f"m = {s.mi_m}, {s.mi_iterations} iterations, PMM; fraction of missing information "
                       f"{pooled.fmi:.3f}")  # fmt: skip


def hash_id(text: str) -> int:
    """A stable 32-bit number for a name (spawn keys for per-outcome streams)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def analyse_outcomes(cfg: Config, data: CanonicalData) -> OutcomeResults:
    """Score the measures and run every configured analysis of every outcome."""
    scores = score_measures(cfg, data)
    arms = arms_of(cfg)
    comparison = f"{arms.intervention} vs {arms.control}" if arms.control else f"{arms.intervention}: change"
    rows: list[dict[str, object]] = []
    for o in cfg.outcomes:
        frame = analysis_frame(cfg, data, scores, o)
        rows.extend(_rows(o, _analyse(cfg, o, frame), comparison))
    cols = OUTCOME_COLUMNS + (["p_value"] if cfg.analysis.p_values else [])
    table = pd.DataFrame(rows).reindex(columns=cols) if rows else pd.DataFrame(columns=cols)
    return OutcomeResults(table, scores)


def outcome_tables(cfg: Config, data: CanonicalData) -> dict[str, Table]:
    """``outcomes`` (contract section 3) and ``scores`` (the scored data, for checking by hand)."""
    res = analyse_outcomes(cfg, data)
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
