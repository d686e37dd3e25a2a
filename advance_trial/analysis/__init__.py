"""The analysis data sets: one row per man (and one per partner), built once per run."""

from advance_trial.analysis.subjects import (
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
from advance_trial.vocabulary import DOSE_MEASURES

__all__ = [
    "DOSE_MEASURES", "STATES", "AnalysisData", "Arms", "analysis_data", "arms_of", "factors_of",
    "followup_timepoints", "intervention_arm", "meets",
]  # fmt: skip
