"""Design assessment against closed forms and exact enumeration."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.errors import UsageError
from advance_trial.randomisation.assess import _minimise, assess, block_lists, design_of
from tests.allocation_helpers import MINIMISATION, SIMPLE, variant


def _stat(result, statistic, scope="overall"):
    s = result.summary
    return float(s.loc[(s["statistic"] == statistic) & (s["scope"] == scope), "value"].iloc[0])


def test_simple_randomisation_split_probability_matches_the_binomial():
    """P(|2X - 104| >= 4) for X ~ Binomial(104, 1/2), summed exactly."""
    exact = sum(comb(104, x) for x in range(105) if abs(2 * x - 104) >= 4) / 2**104
    result = assess(variant(SIMPLE), 20_000, 104, seed=777, split=(54, 50))
    got = _stat(result, "p_split_at_least_as_uneven", "54/50")
    se = (exact * (1 - exact) / 20_000) ** 0.5
    assert abs(got - exact) < 4 * se
    # a man allocated by a fair coin is guessed right half of the time, whatever the strategy
    assert abs(_stat(result, "correct_guess_proportion") - 0.5) < 0.005


def _convergence_expectation(block):
    """Exact expected correct guesses per allocation in a 1:1 block, by enumerating arrangements."""
    total = 0.0
    arrangements = set(itertools.permutations([0] * (block // 2) + [1] * (block // 2)))
    for seq in arrangements:
        counts = [0, 0]
        for arm in seq:
            total += 0.5 if counts[0] == counts[1] else float(arm == int(np.argmin(counts)))
            counts[arm] += 1
    return total / len(arrangements) / block


@pytest.mark.parametrize("size", [2, 4, 6])
def test_blocks_correct_guesses_match_enumeration(size):
    cfg = variant(f"randomisation:\n  method: blocks\n  block_sizes: [{size}]\n  assess_seed: 11\n")
    n = size * 10
    result = assess(cfg, 5_000, n)
    assert _stat(result, "final_imbalance_max") == 0
    assert _stat(result, "max_imbalance_max") <= size // 2
    assert abs(_stat(result, "correct_guess_proportion") - _convergence_expectation(size)) < 0.004


def test_stratified_blocks_of_two_keep_every_stratum_within_one():
    cfg = variant(
        "randomisation:\n  method: stratified_blocks\n  strata: [site]\n  block_sizes: [2]\n  assess_seed: 5\n"
    )
    result = assess(cfg, 2_000, 61)
    for site in ("london", "wolverhampton", "bristol"):
        assert _stat(result, "final_imbalance_max", f"site={site}") <= 1
    assert _stat(result, "final_imbalance_max") <= 3


def test_deterministic_minimisation_on_site_balances_each_site():
    cfg = variant(
        "randomisation:\n  method: minimisation\n  minimisation: {factors: {site: 1.0}, probability: 1.0}\n"
        "  assess_seed: 3\n"
    )
    result = assess(cfg, 1_000, 50)
    for site in ("london", "wolverhampton", "bristol"):
        assert _stat(result, "final_imbalance_max", f"site={site}") <= 1


def test_vectorised_minimisation_agrees_with_the_allocation_rule():
    """The vectorised loop and the scalar rule in randomise.py give the same arms from the same uniforms."""
    from advance_trial.randomise import add_to_margins, minimisation_decision, minimisation_scores

    cfg = variant(MINIMISATION)
    d = design_of(cfg)
    rng = np.random.default_rng(9)
    levels = np.stack([rng.integers(k, size=(20, 30)) for k in d.factor_sizes], axis=-1)
    arms = _minimise(d, np.random.default_rng(10), levels)
    uniforms = np.random.default_rng(10)
    draws = [uniforms.random((20, 2)) for _ in range(30)]
    weights = dict(zip(d.stratum_names, d.weights, strict=True))
    for t in range(20):
        counts: dict = {}
        for i in range(30):
            lv = {name: str(levels[t, i, f]) for f, name in enumerate(d.stratum_names)}
            scores = minimisation_scores(counts, lv, weights, ["advance", "tau"], [1, 1])
            arm = minimisation_decision(scores, ["advance", "tau"], [1, 1], 0.8, *draws[i][t]).arm
            add_to_margins(counts, lv, arm)
            assert ["advance", "tau"][arms[t, i]] == arm


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 3), min_size=2, max_size=3),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.integers(0, 2**32 - 1),
    st.integers(1, 40),
)
def test_vectorised_lists_have_balanced_complete_blocks(ratios, multiples, seed, length):
    r = np.asarray(ratios)
    sizes = tuple(sorted({int(r.sum()) * m for m in multiples}))
    lists = block_lists(np.random.default_rng(seed), 7, length, sizes, r.astype(float))
    assert lists.shape == (7, length)
    for row in lists:
        # along any list, arm counts never drift from the ratio by more than one largest block
        for k, share in enumerate(r / r.sum()):
            drift = np.cumsum(row == k) - share * np.arange(1, length + 1)
            assert np.abs(drift).max() <= max(sizes) * share + 1e-9


def test_same_seed_same_assessment_and_bad_requests():
    cfg = variant(SIMPLE)
    a, b = assess(cfg, 1_500, 30, seed=1), assess(cfg, 1_500, 30, seed=1)
    assert a.summary.equals(b.summary) and a.distribution.equals(b.distribution)
    with pytest.raises(UsageError, match="adding up"):
        assess(cfg, 10, 30, split=(20, 20))
    from advance_trial.config import load_config
    from tests.conftest import config_path

    with pytest.raises(UsageError, match="single-arm"):
        assess(load_config(config_path("cranstoun-dvip")), 10, 20)
