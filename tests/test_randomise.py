"""Permuted blocks: balance, prefix stability and stream independence (property tests)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.randomise import permuted_blocks, stratified_block_arms, stratum_generator

ratios_st = st.lists(st.integers(1, 3), min_size=2, max_size=3)


@st.composite
def designs(draw):
    ratios = draw(ratios_st)
    total = sum(ratios)
    sizes = sorted(set(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))))
    return ratios, [total * m for m in sizes], draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 60))


@settings(max_examples=150, deadline=None)
@given(designs())
def test_every_complete_block_is_balanced_to_the_ratio(design):
    ratios, sizes, seed, n = design
    arms = [f"a{i}" for i in range(len(ratios))]
    entries = permuted_blocks(stratum_generator(seed, ()), arms, ratios, sizes, n)
    assert len(entries) >= n and [e.position for e in entries] == list(range(1, len(entries) + 1))
    for b in {e.block for e in entries}:
        block = [e for e in entries if e.block == b]
        size = block[0].block_size
        assert size in sizes and len(block) == size
        assert Counter(e.arm for e in block) == {a: size // sum(ratios) * r for a, r in zip(arms, ratios, strict=True)}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([2, 4, 6, 8]), min_size=1, max_size=3), st.integers(0, 2**32 - 1), st.integers(1, 80))
def test_imbalance_never_exceeds_half_the_largest_block(sizes, seed, n):
    sizes = sorted(set(sizes))
    entries = permuted_blocks(stratum_generator(seed, ()), ["a", "b"], [1, 1], sizes, n)
    d = 0
    for e in entries:
        d += 1 if e.arm == "a" else -1
        assert abs(d) <= max(sizes) // 2


@settings(max_examples=100, deadline=None)
@given(designs(), st.integers(1, 40))
def test_same_seed_same_arms_and_prefix_stable(design, extra):
    ratios, sizes, seed, n = design
    arms = [f"a{i}" for i in range(len(ratios))]
    short = permuted_blocks(stratum_generator(seed, ()), arms, ratios, sizes, n)
    long = permuted_blocks(stratum_generator(seed, ()), arms, ratios, sizes, n + extra)
    assert long[: len(short)] == short


def test_strata_streams_are_independent_of_each_other():
    london = (("site", "london"),)
    bristol = (("site", "bristol"),)
    alone = stratified_block_arms(5, [london] * 10, ["a", "b"], [1, 1], [2, 4])
    mixed = stratified_block_arms(5, [bristol, london] * 10, ["a", "b"], [1, 1], [2, 4])
    assert [e.arm for e in mixed[1::2]] == [e.arm for e in alone]


def test_unequal_ratio_block_validation():
    with pytest.raises(ValueError, match="multiples"):
        permuted_blocks(stratum_generator(1, ()), ["a", "b"], [2, 1], [4], 4)


def test_sample_arms_are_the_configured_stratified_blocks(advance_cfg):
    """Replaying the sample's men in randomisation order through the configured method gives its arm column."""
    from advance_trial.canonical import read_canonical
    from tests.conftest import SAMPLES

    p = read_canonical(advance_cfg, SAMPLES / "advance-feasibility").participants
    p = p.sort_values(["randomised_on", "participant_id"])
    r = advance_cfg.randomisation
    entries = stratified_block_arms(
        r.seed, [(("site", s),) for s in p["site"]], advance_cfg.arm_ids, [1, 1], r.block_sizes
    )
    assert [e.arm for e in entries] == p["arm"].tolist()
    assert Counter(e.arm for e in entries) == {"advance": 54, "tau": 50}
