"""The results data set as the output writes it (``results.csv``).

The structure (:mod:`advance_trial.results.structure`), the layouts and pivots
(:mod:`advance_trial.results.layout`) live in the neutral :mod:`advance_trial.results`; every name is
re-exported here for the code that imported it from the output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advance_trial.results.layout import LAYOUTS, Layout, ResultsData, melt, melting_once, pivot, results_data
from advance_trial.results.structure import COLUMNS, MAX_GROUPS

__all__ = ["COLUMNS", "LAYOUTS", "MAX_GROUPS", "Layout", "ResultsData", "long_frame", "melt", "melting_once",
           "pivot", "results_data"]  # fmt: skip


def long_frame(results: ResultsData) -> pd.DataFrame:
    """``results.csv``'s frame: booleans as ``true``/``false`` like every other file; the rest as it is."""
    out = results.long.copy()
    for col in ("stat", "group1_level", "group2_level", "group3_level", "variable_level", "contrast"):
        # built as objects: a map would infer a type, and a column of counts and floats would become floats
        values = [("true" if v else "false") if isinstance(v, bool | np.bool_) else v for v in out[col]]
        out[col] = pd.Series(values, index=out.index, dtype=object)
    return out
