"""The results data set: every statistic of a run as one row of one long table, made by the analyses through
a few verbs (:mod:`advance_trial.results.verbs`), with a fixed structure (:mod:`advance_trial.results.structure`);
display tables are pivots of it (:mod:`advance_trial.results.layout`).

Neutral ground: this package imports nothing from the output, the command line or the service.
"""

from advance_trial.results.structure import COLUMNS, ResultsStructureError, check_results_structure
from advance_trial.results.table import Table

__all__ = ["COLUMNS", "ResultsStructureError", "Table", "check_results_structure"]
