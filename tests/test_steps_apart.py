"""A step built apart (in a worker process while the steps before it are built) gives what building it in
the run's own process gives: the same tables, failures, warnings and errors."""

from __future__ import annotations

import multiprocessing
import sys
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor

import pytest

import advance_trial.steps as steps
from advance_trial.errors import ConfigError, ConfigProblem, ConvergenceWarning, EstimationWarning
from advance_trial.steps import REGISTRY, compute

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="workers are forked")


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))


def _both(cfg, ads):
    """compute() in this process and with a worker: (tables, failures, warnings) of each."""
    out = []
    for pool in (None, _pool()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            built = compute(cfg, ads, workers=pool)
        if pool is not None:
            pool.shutdown()
        out.append((built, sorted({(w.category.__name__, str(w.message)) for w in caught})))
    return out


def test_the_outcomes_are_the_step_built_apart_unless_their_imputations_are_shared_among_the_workers(sample_tables):
    from types import SimpleNamespace

    cfg, ads, _ = sample_tables()
    # the plans read the outcomes: they are built where the outcomes are
    assert [s.name for s in REGISTRY.values() if s.apart(cfg, ads)] == ["outcomes", "plan", "definitive"]
    # 100,000 men: each imputation is large enough to go to a worker of its own; the outcomes stay in the run
    large = SimpleNamespace(men=range(100_000))
    assert [s.name for s in REGISTRY.values() if s.apart(cfg, large)] == []


def test_a_step_built_apart_gives_the_same_tables(sample_tables):
    cfg, ads, _ = sample_tables()
    (here, _), (apart, _) = _both(cfg, ads)
    assert list(here.tables) == list(apart.tables) and here.failures == apart.failures
    assert list(here.extras) == list(apart.extras) == ["definitive"]  # what the plan's step gives besides tables
    for name, table in here.tables.items():
        pd_equal = table.data.equals(apart.tables[name].data)
        assert pd_equal, name
        if table.results is not None:
            assert table.results.equals(apart.tables[name].results), name


def test_a_step_built_apart_that_cannot_compute_warns_and_fails_as_here(sample_tables, monkeypatch):
    cfg, ads, _ = sample_tables()

    def outcomes(cfg, ads):
        warnings.warn("the model did not converge", ConvergenceWarning, stacklevel=2)
        raise ValueError("singular")

    monkeypatch.setattr(steps, "outcome_step", outcomes)  # before the worker is forked: it builds this one
    (here, said_here), (apart, said_apart) = _both(cfg, ads)
    assert here.failures == apart.failures and len(here.failures) == 1 and "outcomes" in here.failures[0]
    assert "outcomes" not in apart.tables
    assert said_here == said_apart
    assert ("ConvergenceWarning", "the model did not converge") in said_apart
    assert any(c == EstimationWarning.__name__ and "singular" in m for c, m in said_apart)


def test_a_users_mistake_in_a_step_built_apart_is_raised_as_here(sample_tables, monkeypatch):
    cfg, ads, _ = sample_tables()

    def outcomes(cfg, ads):
        raise ConfigError("trial.yaml", [ConfigProblem("outcomes[0]", 12, "names no instrument")])

    monkeypatch.setattr(steps, "outcome_step", outcomes)
    raised = []
    for pool in (None, _pool()):
        with pytest.raises(ConfigError) as exc:
            compute(cfg, ads, workers=pool)
        raised.append(str(exc.value))
        if pool is not None:
            pool.shutdown()
    assert raised[0] == raised[1] and "names no instrument" in raised[0]


class _EachInItsOwn(Executor):
    """Each job in a worker process of its own: a step sent apart finds nothing its needs left there."""

    def __init__(self) -> None:
        self.pools: list[ProcessPoolExecutor] = []

    def submit(self, fn, /, *args, **kwargs):
        self.pools.append(_pool())
        return self.pools[-1].submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False) -> None:
        for pool in self.pools:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_a_step_sent_apart_to_a_worker_without_its_needs_is_built_here(sample_tables):
    cfg, ads, _ = sample_tables()
    with pytest.raises(steps.NotKept):  # the outcomes it reads were built by no step of this process
        steps.built_apart("plan", cfg, None, "site", "a run", {}, ("outcomes",))
    here = compute(cfg, ads)
    pool = _EachInItsOwn()
    try:
        apart = compute(cfg, ads, workers=pool)
    finally:
        pool.shutdown()
    assert len(pool.pools) == 3  # the outcomes, the plan and the plan for the definitive trial were sent
    assert list(here.tables) == list(apart.tables) and here.failures == apart.failures == ()
    for name in ("plan", "plan_sensitivity"):
        assert here.tables[name].data.equals(apart.tables[name].data), name
