"""The results data set as the output writes it (``results.csv``).

The structure (:mod:`advance_trial.results.structure`) and the pivot and melt
(:mod:`advance_trial.results.layout`) live in the neutral :mod:`advance_trial.results`; the layouts are
declared with the displays (:func:`advance_trial.output.displays.layouts`), and :func:`results_data` and
:func:`pivot` read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.output.displays import layouts
from advance_trial.results import layout as _layout
from advance_trial.results.layout import Layout, ResultsData, melt, melting_once
from advance_trial.results.structure import COLUMNS, MAX_GROUPS

__all__ = ["COLUMNS", "MAX_GROUPS", "Layout", "ResultsData", "layouts", "long_frame", "melt", "melting_once",
           "pivot", "results_data"]  # fmt: skip


def results_data(tables: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> ResultsData:
    """The results data set of the contract tables of statistics among ``tables``
    (:func:`advance_trial.results.layout.results_data` with their declared layouts)."""
    return _layout.results_data(tables, layouts(), labels)


def pivot(results: ResultsData, name: str) -> pd.DataFrame:
    """The contract table ``name`` as a pivot of the results data set, by its declared layout."""
    return _layout.pivot(results, name, layouts()[name])


def long_frame(results: ResultsData) -> pd.DataFrame:
    """``results.csv``'s frame: booleans as ``true``/``false`` like every other file; the rest as it is."""
    out = results.long.copy()
    for col in ("stat", "group1_level", "group2_level", "group3_level", "variable_level", "contrast"):
        # built as objects: a map would infer a type, and a column of counts and floats would become floats
        values = [("true" if v else "false") if isinstance(v, bool | np.bool_) else v for v in out[col]]
        out[col] = pd.Series(values, index=out.index, dtype=object)
    return out
