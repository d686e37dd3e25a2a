"""Worker processes: figures drawn, and a step built, while a run goes on.

Drawing and saving the figures (SVG and PNG each) was once over half of a run's work, one figure after
another. A run forks two workers (:class:`Workers`) before it reads its data: one loads the figures'
fonts and Pillow; the other, kept for the steps built apart, imports their modules meanwhile and then
builds the outcome analyses (a step declared ``apart``, :func:`advance_trial.steps.compute`) beside the
feasibility measures. The run hands them each figure as soon as its table is built, and the Word file and
HTML page while it writes its tables. Each figure is drawn from its table
alone, so the bytes are those of drawing it in the run's own process. Where fork is not available,
or the machine has one core, or ``ADVANCE_TRIAL_WORKERS=0``, the figures are drawn (and the
outcomes built) in the run's own process.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from advance_trial.config import Config
    from advance_trial.output.tables import Table

#: Each figure: its drawing function in :mod:`advance_trial.output.render.figures` and the table it draws.
FIGURES = {
    "consort": ("flow.consort_images", "consort"),
    "attendance": ("figures.attendance_images", "dose_distribution"),
    "engagement": ("figures.engagement_images", "engagement"),
    "accrual": ("figures.accrual_images", "recruitment_monthly"),
    "retention": ("figures.retention_images", "retention"),
    "forest": ("figures.forest_images", "outcomes"),
    # a drawing function of another module (module.function) returns the figure's bytes itself
    "plan_sensitivity": ("plan_figures.sensitivity_heatmap", "plan_sensitivity"),
    "recruitment_forecast": ("plan_figures.forecast_bands", "recruitment_forecast_bands"),
}


PLANNING = ("plan_sensitivity", "recruitment_forecast")


def figure_jobs(tables: dict[str, Table], histogram: bool = True) -> list[tuple[str, str, pd.DataFrame]]:
    """``(stem, drawing function, table data)`` of every figure the tables call for, in writing order."""
    jobs = []
    for stem, (drawer, table) in FIGURES.items():
        t = tables.get(table)
        if (
            t is None
            or (stem == "attendance" and not histogram)
            or (stem in ("retention", "forest", "engagement", "accrual", *PLANNING) and t.data.empty)
        ):
            continue
        jobs.append((stem, drawer, t.data))
    return jobs


def draw(cfg: Config, drawer: str, frame: pd.DataFrame) -> dict[str, bytes]:
    """Draw one figure: its SVG and PNG bytes (written by the run, once every check has passed)."""
    import importlib

    module, _, name = drawer.rpartition(".")
    return getattr(importlib.import_module(f"advance_trial.output.render.{module or 'figures'}"), name)(cfg, frame)  # type: ignore[no-any-return]


def _die_with(parent: int) -> None:
    """End this worker when the run ends, even one killed with ``kill -9`` (which leaves no time to shut
    its workers down; they had waited for work for ever). On Linux the kernel sends the parent-death
    signal; a run already gone by then ends the worker at once."""
    import signal

    if sys.platform.startswith("linux"):
        import contextlib
        import ctypes

        with contextlib.suppress(OSError, AttributeError):  # a libc without prctl: the check below only
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)


def _start(parent: int) -> None:
    """A worker's start: tied to the run's life, and Ctrl-C left to the run."""
    import signal

    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm() -> None:
    """Load what drawing needs, in the first worker free, while the analyses run: the figures' modules, the
    fonts (:func:`advance_trial.output.render.flow.warm`) and Pillow's drawing and PNG writing (a throwaway
    chart of a line, a band and a word, a few milliseconds). No figure imports matplotlib."""
    from advance_trial.output.render import chart, figures, flow, plan_figures  # noqa: F401

    c = chart.Canvas(8.0, 8.0, "warm")
    c.polygon([(0.0, 0.0), (8.0, 8.0), (0.0, 8.0)], chart.BLUE)
    c.line([(0.0, 4.0), (8.0, 4.0)], dash=chart.DASHED)
    c.text(1.0, 6.0, "warm", 8.0)
    c.upright(6.0, 6.0, "warm", 8.0)
    c.images()
    flow.warm()


def _noop() -> None:
    return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _prepare(modules: tuple[str, ...]) -> None:
    """Import ``modules`` (the analyses' a step built apart will need: scipy's optimiser), in the worker
    kept for that step, while the run reads its data."""
    import importlib

    for module in modules:
        importlib.import_module(module)


class Workers(Executor):
    """A run's worker processes: the first kept for the steps built apart (:meth:`submit_apart`), which
    imports their modules as soon as it is forked; any other job (a figure, a file of the report, a large
    imputation) goes to the worker with the fewest jobs handed to it and not done (ties to a later one)."""

    def __init__(self, n: int, prepare: Sequence[str] = ()) -> None:
        import multiprocessing
        import threading

        fork = multiprocessing.get_context("fork")
        self._pools = [ProcessPoolExecutor(1, mp_context=fork, initializer=_start, initargs=(os.getpid(),))
                       for _ in range(n)]  # fmt: skip
        self._waiting = [0] * n
        self._lock = threading.Lock()
        # what the run's process holds now (its imports: most of its objects) is set aside from the garbage
        # collector until the workers stop (gc.freeze, as CPython's documentation advises before a fork): the
        # collections of the run and of its workers then look only at what the run makes, and a worker's
        # collection does not copy the pages it shares with the run's process. Not when the process has
        # set objects aside itself (a test session): it keeps them as it set them
        self._freezes = gc.get_freeze_count() == 0
        if self._freezes:
            gc.freeze()
        # each is forked now, while the run's process holds only its imports
        self._to(0, _prepare, tuple(prepare))
        for i in range(1, n - 1):
            self._to(i, _noop)
        self._to(n - 1, _warm)  # the last loads the figures' fonts and Pillow

    def _to(self, i: int, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            self._waiting[i] += 1
        future = self._pools[i].submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _: self._done(i))
        return future

    def _done(self, i: int) -> None:
        with self._lock:
            self._waiting[i] -= 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            free = min(reversed(range(len(self._pools))), key=self._waiting.__getitem__)
        return self._to(free, fn, *args, **kwargs)

    def submit_apart(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """``fn`` (a step built apart) in the first worker, whose modules were imported beforehand."""
        return self._to(0, fn, *args, **kwargs)

    @property
    def processes(self) -> list[int]:
        """The workers' process ids."""
        return [pid for pool in self._pools for pid in (pool._processes or {})]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for pool in self._pools:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        if self._freezes:
            gc.unfreeze()  # a process that goes on (a test, the service) collects them again


def submit_apart(workers: Executor, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
    """``fn`` handed to the worker kept for steps built apart (:meth:`Workers.submit_apart`), or to any."""
    if isinstance(workers, Workers):
        return workers.submit_apart(fn, *args)
    return workers.submit(fn, *args)


def start_workers(n: int = 2, prepare: Sequence[str] = ()) -> Workers | None:
    """Fork ``n`` workers now (:class:`Workers`: the first imports ``prepare``, the last warms up for
    drawing), or ``None`` where everything stays in-process."""
    import multiprocessing

    wanted = os.environ.get("ADVANCE_TRIAL_WORKERS")
    if wanted is not None and wanted.strip().isdigit():
        n = int(wanted)
    n = min(n, _cores())
    if n < 2 or sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return Workers(n, prepare)


def start_drawing(cfg: Config, jobs: Sequence[tuple[str, str, pd.DataFrame]], out: str | Path,
                  pool: Executor | None = None) -> Callable[[], dict[str, str]]:  # fmt: skip
    """Hand ``jobs`` to the workers now; the returned function waits for them, writes the figures into
    ``out`` and gives file name -> SHA-256 in job order. Without workers it draws them when called."""
    from advance_trial.output.render.figures import write_figure

    if pool is None:
        return lambda: _merged(write_figure(draw(cfg, d, f), out, s) for s, d, f in jobs)
    futures = [(s, pool.submit(draw, cfg, d, f)) for s, d, f in jobs]
    return lambda: _merged(write_figure(f.result(), out, s) for s, f in futures)


def _merged(results: Iterable[dict[str, str]]) -> dict[str, str]:
    written: dict[str, str] = {}
    for r in results:
        written |= r
    return written


def stop_workers(pool: Any) -> None:
    """Shut the workers down (at the end of a run, or when it fails)."""
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
