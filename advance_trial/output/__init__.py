"""Output: the results data set, from which every display table is a pivot."""

from advance_trial.output.ard import COLUMNS, LAYOUTS, Layout, ResultsData, long_frame, pivot, results_data

__all__ = ["COLUMNS", "LAYOUTS", "Layout", "ResultsData", "long_frame", "pivot", "results_data"]
