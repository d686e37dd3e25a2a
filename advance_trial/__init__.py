"""advance-trial: run and analyse randomised feasibility trials.

The library core returns data (DataFrames, frozen dataclasses) and never prints;
the command line in :mod:`advance_trial.cli` is a thin skin over it.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
