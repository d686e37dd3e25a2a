"""The closed vocabularies, one registry each: effect scales, analyses, dose measures, file kinds and
interval methods. A leaf module (standard library only).

The config's models spell the same names as ``Literal`` types (so a typo is a config error with its
line); a test holds the two to each other, so neither can grow alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EffectScale:
    """An effect scale: its value of no effect and whether it is a ratio (log scale, inverted by a swap)."""

    null: float
    ratio: bool
    panel: str  # the forest plot's panel: "mean", "risk", "ratio" or "" (not drawn)


EFFECTS: dict[str, EffectScale] = {
    "mean_difference": EffectScale(0.0, False, "mean"),
    "mean_change": EffectScale(0.0, False, "mean"),
    "risk_difference": EffectScale(0.0, False, "risk"),
    "odds_ratio": EffectScale(1.0, True, "ratio"),
    "rate_ratio": EffectScale(1.0, True, "ratio"),
    "icc": EffectScale(0.0, False, ""),
}


@dataclass(frozen=True)
class Analysis:
    """An outcome analysis: the effect scale of each row it reports, and whether it uses complete cases."""

    scales: tuple[str, ...]
    complete_cases: bool = True
    reveals_arm: bool = False  # its extra rows (ICC of therapy groups, CACE by dose) say which arm had sessions


ANALYSES: dict[str, Analysis] = {
    "ancova": Analysis(("mean_difference",)),
    "partially_nested": Analysis(("mean_difference", "icc"), reveals_arm=True),
    "partially_nested_equal_var": Analysis(("mean_difference", "icc"), reveals_arm=True),
    "multiple_imputation": Analysis(("mean_difference",), complete_cases=False),
    "cace": Analysis(("mean_difference",), reveals_arm=True),
    "logistic": Analysis(("odds_ratio", "risk_difference", "risk_difference")),
    "negative_binomial": Analysis(("rate_ratio",)),
    "change": Analysis(("mean_change",)),
    "firth": Analysis(("odds_ratio",)),
}

#: Dose measures: the subject-level data set's column of each, what a threshold names.
DOSE_MEASURES = ("sessions", "compulsory_sessions", "hours", "compulsory_hours")

#: The canonical file kinds, in the order they depend on each other (and the contract's).
FILE_KINDS = ("screening", "participants", "attendance", "followup", "measures", "partners", "events")

#: Proportion interval methods (``reporting.proportion_ci``) and their names in footnotes.
PROPORTION_METHODS = {
    "wilson": "Wilson score interval",
    "clopper_pearson": "Clopper-Pearson exact interval",
    "jeffreys": "Jeffreys interval",
    "agresti_coull": "Agresti-Coull interval",
}


def null_of(effect: str) -> float:
    """The value of no effect on a scale (0 for differences, 1 for ratios)."""
    return EFFECTS[effect].null if effect in EFFECTS else 0.0
