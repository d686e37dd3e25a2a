"""advance-trial: run and analyse randomised feasibility trials.

The library core returns data (DataFrames, frozen dataclasses) and never prints;
the command line in :mod:`advance_trial.cli` is a thin skin over it.

Importing the package pins BLAS to one thread (unless the environment already says otherwise)
before numpy loads: with two threads on a loaded machine each REML fit took 5 to 25 times longer,
and sums reduced in a different order changed the last digits of estimates.
"""

import os as _os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
__all__ = ["__version__"]
