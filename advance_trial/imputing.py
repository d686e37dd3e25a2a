"""Where a run's large imputations are made: in its worker processes, when they are large enough.

Kept apart from the imputations themselves (:mod:`advance_trial.outcomes.imputation`) so that a run can say
where they go, and whether its outcome analyses are built apart, before it imports the outcome analyses
(scipy's special functions and the models): the worker kept for them starts on them while the run's own
process imports what its other steps need.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from contextvars import ContextVar

#: Imputations smaller than this (rows x imputations x rounds) are done where their analysis runs: sending a
#: data set to a worker and its imputed copies back costs more than it saves.
AHEAD_MIN_CELLS = 2_000_000

WORKERS: ContextVar[Executor | None] = ContextVar("imputation_workers", default=None)


def imputes_ahead(rows: int, m: int, iterations: int) -> bool:
    """Whether imputations of ``rows`` rows are large enough to be done in the run's workers
    (:data:`AHEAD_MIN_CELLS`)."""
    return rows * m * iterations >= AHEAD_MIN_CELLS


@contextmanager
def imputing_in(workers: Executor | None) -> Iterator[None]:
    """Large imputations made inside this block are done in ``workers`` (the run's worker processes,
    :func:`advance_trial.output.render.workers.start_workers`), beside the run's other analyses; None: here."""
    token = WORKERS.set(workers)
    try:
        yield
    finally:
        WORKERS.reset(token)
