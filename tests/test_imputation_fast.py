"""The vectorised PMM gives the very draws of the straightforward one (tests/pmm_reference.py), and
each imputed value is an observed donor among the five nearest by the rule mice uses."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.outcomes import imputation
from advance_trial.outcomes.imputation import DONORS, _donors, impute, stable_argsort
from tests import pmm_reference

#: Hashing the values first (``_places``) is used from ``HASHED_MIN`` values on; each test below runs both
#: ways: with hashing from the first value (0) and as a sample's small imputations run (the default).
BOTH_WAYS = pytest.mark.parametrize("hashed_min", [0, imputation.HASHED_MIN])


def _case(seed: int, n: int, blocks: bool = False, decimals: int = 1) -> tuple[np.ndarray, np.ndarray, list | None]:
    r = np.random.default_rng(seed)
    arm = (r.random(n) < 0.5).astype(float)
    site = r.integers(0, 3, n)
    complete = np.column_stack([np.ones(n), arm, site == 1, site == 2]).astype(float)
    base = np.round(1.7 + r.normal(0, 0.6, n), decimals)  # scores on a coarse scale: many ties
    y = np.round(base - 0.2 * arm + r.normal(0, 0.3, n), decimals)
    y[r.random(n) < 0.45] = np.nan
    base[r.random(n) < 0.05] = np.nan
    if not blocks:
        return complete, np.column_stack([y, base]), None
    f = r.integers(0, 3, n)
    dummies = np.column_stack([f == 1, f == 2]).astype(float)
    dummies[r.random(n) < 0.1] = np.nan
    return complete, np.column_stack([y, base, dummies]), [1, 1, 2]


@BOTH_WAYS
@pytest.mark.parametrize(
    ("seed", "n", "blocks", "decimals"),
    [(1, 6, False, 1), (2, 40, False, 1), (3, 500, False, 1), (4, 3000, False, 6), (5, 300, True, 1),
     (6, 6000, False, 1)],
)
def test_fast_pmm_draws_exactly_what_the_reference_draws(seed, n, blocks, decimals, hashed_min):
    complete, incomplete, groups = _case(seed, n, blocks, decimals)
    with mock.patch.object(imputation, "HASHED_MIN", hashed_min):
        fast = impute(np.random.default_rng(seed), complete, incomplete, 3, 4, groups=groups)
    slow = pmm_reference.impute(np.random.default_rng(seed), complete, incomplete, 3, 4, groups=groups)
    assert all(np.array_equal(a, b) for a, b in zip(fast, slow, strict=True))


def test_an_aliased_predictor_is_left_out_as_before():
    complete, incomplete, _ = _case(7, 200)
    complete = np.column_stack([complete, complete[:, 1]])  # the arm twice
    incomplete[:, 1] = np.where(np.isnan(incomplete[:, 1]), np.nan, 2.0)  # a constant baseline
    fast = impute(np.random.default_rng(7), complete, incomplete, 2, 3)
    slow = pmm_reference.impute(np.random.default_rng(7), complete, incomplete, 2, 3)
    assert all(np.array_equal(a, b) for a, b in zip(fast, slow, strict=True))


@BOTH_WAYS
@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_donors_match_the_reference_and_are_among_the_k_nearest(hashed_min, n_obs, n_mis, seed):
    rng = np.random.default_rng(seed)
    fitted_obs = np.round(rng.normal(size=n_obs), 1)  # rounding makes ties
    fitted_mis = np.round(rng.normal(size=n_mis), 1)
    k = min(DONORS, n_obs)
    with mock.patch.object(imputation, "HASHED_MIN", hashed_min):
        donors = _donors(np.random.default_rng(seed + 1), fitted_obs, fitted_mis, k)
    assert np.array_equal(donors, pmm_reference._donors(np.random.default_rng(seed + 1), fitted_obs, fitted_mis, k))
    for f, d in zip(fitted_mis, donors, strict=True):
        kth = np.sort(np.abs(fitted_obs - f))[k - 1]
        assert abs(fitted_obs[d] - f) <= kth + 1e-12


@BOTH_WAYS
@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([-1.5, -0.0, 0.0, 0.25, 1.0, 3.0, np.inf, -np.inf, np.nan]), max_size=30))
def test_stable_argsort_is_numpys_stable_sort(hashed_min, values):
    x = np.asarray(values, dtype=float)
    with mock.patch.object(imputation, "HASHED_MIN", hashed_min):
        assert np.array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([-1.5, -0.0, 0.0, 0.25, 1.0, 3.0, np.inf, -np.inf]), min_size=1, max_size=40))
def test_places_rank_the_distinct_values_with_equal_values_sharing_a_place(values):
    from advance_trial.outcomes.imputation import _places

    x = np.asarray(values, dtype=float)
    places = _places(x)
    assert places is not None
    distinct, place = places
    assert np.all(np.diff(distinct) > 0)  # ascending, and -0.0 and 0.0 are one value
    assert np.array_equal(distinct[place], x)


def test_places_give_way_to_sorting_with_nan_or_many_distinct_values():
    from advance_trial.outcomes.imputation import _places

    assert _places(np.array([1.0, np.nan, 1.0])) is None
    many = np.random.default_rng(3).normal(size=70_000)  # more than 2**16 distinct values
    assert _places(many) is None
    with_ties = np.concatenate([many, many[:5000]])
    assert np.array_equal(stable_argsort(with_ties), np.argsort(with_ties, kind="stable"))
    few = np.round(many, 2)
    assert _places(few) is not None
    assert np.array_equal(stable_argsort(few), np.argsort(few, kind="stable"))


@pytest.mark.parametrize("distance", [0.0, 1e-12, 1e-8, 1e-6, 1e-4, 1e-2, 1.0])
def test_the_quick_independence_check_keeps_what_the_full_check_keeps(distance):
    """A predictor at every distance from the span of the complete columns, across the check's threshold
    (1e-7 of its length) and the quick test's (1e-3): the columns kept are those of the full check."""
    from advance_trial.outcomes.checks import independent_columns
    from advance_trial.outcomes.imputation import _Design

    r = np.random.default_rng(11)
    n = 400
    complete = np.column_stack([np.ones(n), r.random(n) < 0.5, r.normal(size=n)]).astype(float)
    other = complete @ np.array([0.3, 1.0, -2.0]) + distance * r.normal(size=n)
    data = np.column_stack([np.full(n, np.nan), other])
    obs = r.random(n) < 0.6
    d = _Design(complete, data, np.array([1]), obs)
    Xo, _ = d.independent()
    full = np.column_stack([complete, other])[obs]
    assert Xo.shape[1] == len(independent_columns(full))
    assert np.array_equal(Xo, full[:, independent_columns(full)])


def _sample_outcomes(workers):
    import warnings

    from advance_trial.analysis.subjects import analysis_data
    from advance_trial.config import load_config
    from advance_trial.data.canonical import read_canonical
    from advance_trial.outcomes import outcome_results
    from advance_trial.outcomes.imputation import imputing_in
    from tests.conftest import SAMPLES, config_path

    cfg = load_config(config_path("advance-feasibility"))
    ads = analysis_data(cfg, read_canonical(cfg, SAMPLES / "advance-feasibility"))
    with warnings.catch_warnings(), imputing_in(workers):
        warnings.simplefilter("ignore")
        return outcome_results(cfg, ads)


def test_imputations_done_in_the_run_s_workers_are_those_done_here(monkeypatch):
    """The sample's imputations sent to worker processes (as a large trial's are): the same results to the bit;
    with the workers gone, imputed here, the same again."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from advance_trial.outcomes import imputation

    here = _sample_outcomes(None)
    assert (here["group1_level"] == "multiple_imputation").any()
    monkeypatch.setattr(imputation, "AHEAD_MIN_CELLS", 0)
    sent: list[str] = []
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        submit = pool.submit

        def counted(fn, *args):
            sent.append(fn.__name__)
            return submit(fn, *args)

        monkeypatch.setattr(pool, "submit", counted)
        away = _sample_outcomes(pool)
    assert sent and set(sent) == {"impute"}
    assert away.equals(here)
    pool.shutdown()
    assert _sample_outcomes(pool).equals(here)  # submitting to a shut pool fails: imputed here


def test_an_imputation_no_worker_has_started_is_taken_back_and_done_here(monkeypatch):
    """Workers busy with figures: an imputation still queued when its analysis needs it is cancelled and
    done in the run's process, not waited for; the same results."""
    from concurrent.futures import Executor, Future

    from advance_trial.outcomes import imputation

    class Busy(Executor):
        def __init__(self):
            self.queued: list[Future] = []

        def submit(self, fn, /, *args, **kwargs):
            self.queued.append(Future())  # never picked up
            return self.queued[-1]

    here = _sample_outcomes(None)
    monkeypatch.setattr(imputation, "AHEAD_MIN_CELLS", 0)
    busy = Busy()
    assert _sample_outcomes(busy).equals(here)
    assert busy.queued and all(f.cancelled() for f in busy.queued)
