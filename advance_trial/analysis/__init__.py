"""The analysis data sets: one row per man (and one per partner), built once per run."""

from advance_trial.analysis.subjects import (
    DOSE_MEASURES,
    STATES,
    AnalysisData,
    Arms,
    analysis_data,
    arms_of,
    factors_of,
    followup_timepoints,
    intervention_arm,
    meets,
)

__all__ = [
    "DOSE_MEASURES", "STATES", "AnalysisData", "Arms", "analysis_data", "arms_of", "factors_of",
    "followup_timepoints", "intervention_arm", "meets",
]  # fmt: skip
