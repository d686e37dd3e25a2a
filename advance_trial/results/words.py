"""Sentences an analysis writes into its own table and a display repeats in the reader's words, in one place
(neither the analyses nor the output own the other): the probability that every criterion is met, and the
planning input that moves the definitive trial's total most."""

from __future__ import annotations

from typing import Any

import pandas as pd

from advance_trial.config.models import Config


def outcome_words(cfg: Config, oid: Any) -> str:
    """An outcome's label (its id when it has none)."""
    o = next((x for x in cfg.outcomes if x.id == str(oid)), None)
    return o.label if o is not None and o.label else str(oid)


def probability_all_text(df: pd.DataFrame, display: bool = False) -> str:
    """The probability that every criterion with a probability is met together, in words (``display``: in the
    report's words, no column names)."""
    from advance_trial.feasibility.posterior import probability_all

    have = df[df["probability_met"].notna()]
    if have.empty:
        return "No criterion is on a share of men: no probability that all are met."
    p = probability_all(float(v) for v in have["probability_met"])
    names = ", ".join(str(r.label) if isinstance(r.label, str) and r.label else str(r.criterion)
                      for r in have.itertuples())  # fmt: skip
    said = f"{p:.1%}" if p >= 0.001 else "below 0.1%"
    each = "their probabilities of being met" if display else "their probability_met"
    return (f"Probability that all {len(have)} criteria on proportions ({names}) are met together: {said} (the "
            f"product of {each}, the posteriors taken as independent; criteria with no probability are left "
            "out).")  # fmt: skip


def moves_most(grid: pd.DataFrame) -> dict[str, tuple[str, float, dict[str, float]]]:
    """For each outcome of ``plan_sensitivity``, the input whose values move the total most (the others at
    their estimates): ``(input, span, every input's span)``."""
    out: dict[str, tuple[str, float, dict[str, float]]] = {}
    for oid, g in grid.groupby(grid["outcome"].astype(str), sort=False):
        at = {"icc_source": "estimate" if (g["icc_source"] == "estimate").any() else str(g["icc_source"].iloc[0]),
              "sd_source": "estimate", "retention_source": "estimate"}  # fmt: skip
        spans: dict[str, float] = {}
        for col, words in (("icc_source", "the ICC"), ("sd_source", "the SD"), ("retention_source", "retention")):
            keep = pd.Series(True, index=g.index)
            for other, value in at.items():
                if other != col:
                    keep &= g[other] == value
            totals = g.loc[keep, "n_total"].astype(float).dropna()
            spans[words] = float(totals.max() - totals.min()) if len(totals) else 0.0
        name = max(spans, key=lambda w: spans[w])
        out[str(oid)] = (name, spans[name], spans)
    return out


def moves_most_text(cfg: Config, grid: pd.DataFrame) -> tuple[str, ...]:
    """The input that moves the total most, in words, for each outcome."""
    return tuple(f"{outcome_words(cfg, o)}: {name} moves the total most ({span:,.0f} men between its values, the others "
                 "at their estimates; " + ", ".join(f"{w} {v:,.0f}" for w, v in spans.items()) + ")."
                 for o, (name, span, spans) in moves_most(grid).items())  # fmt: skip
