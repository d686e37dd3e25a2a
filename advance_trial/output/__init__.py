"""Output: the results data set, from which every display table is a pivot."""

from advance_trial.output.ard import COLUMNS, Layout, ResultsData, layouts, long_frame, pivot, results_data

__all__ = ["COLUMNS", "Layout", "ResultsData", "layouts", "long_frame", "pivot", "results_data"]
