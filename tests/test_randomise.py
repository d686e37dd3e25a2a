"""Permuted blocks: balance, prefix stability and stream independence (property tests)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.randomise import BlockList, Stream, below, stratified_block_arms

ratios_st = st.lists(st.integers(1, 3), min_size=2, max_size=3)


def stream(key: int, stratum: str = "[]") -> Stream:
    return Stream(key.to_bytes(32, "big"), "t", "list", 0, stratum)


@st.composite
def designs(draw):
    ratios = draw(ratios_st)
    total = sum(ratios)
    sizes = sorted(set(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))))
    return ratios, [total * m for m in sizes], draw(st.integers(0, 2**64)), draw(st.integers(1, 60))


def entries(design):
    ratios, sizes, key, n = design
    arms = [f"a{i}" for i in range(len(ratios))]
    return arms, BlockList(stream(key), tuple(arms), tuple(ratios), tuple(sizes)).first(n)


@settings(max_examples=150, deadline=None)
@given(designs())
def test_every_complete_block_is_balanced_to_the_ratio(design):
    ratios, sizes, _, n = design
    arms, got = entries(design)
    assert len(got) >= n and [e.position for e in got] == list(range(1, len(got) + 1))
    for b in {e.block for e in got}:
        block = [e for e in got if e.block == b]
        size = block[0].block_size
        assert size in sizes and len(block) == size
        assert Counter(e.arm for e in block) == {a: size // sum(ratios) * r for a, r in zip(arms, ratios, strict=True)}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([2, 4, 6, 8]), min_size=1, max_size=3), st.integers(0, 2**64), st.integers(1, 80))
def test_imbalance_never_exceeds_half_the_largest_block(sizes, key, n):
    sizes = sorted(set(sizes))
    d = 0
    for e in BlockList(stream(key), ("a", "b"), (1, 1), tuple(sizes)).first(n):
        d += 1 if e.arm == "a" else -1
        assert abs(d) <= max(sizes) // 2


@settings(max_examples=100, deadline=None)
@given(designs(), st.integers(1, 40))
def test_same_key_same_arms_and_prefix_stable(design, extra):
    ratios, sizes, key, n = design
    _, short = entries(design)
    _, long = entries((ratios, sizes, key, n + extra))
    assert long[: len(short)] == short


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64), st.integers(1, 7))
def test_below_is_uniform_over_its_range_by_rejection(key, n):
    """Every value of range(n) comes out, and only those (no modulo bias: the limit is a multiple of n)."""
    words = stream(key).words(0)
    seen = {below(words, n) for _ in range(60 * n)}
    assert seen <= set(range(n)) and len(seen) == n


def test_below_rejects_the_words_past_the_last_multiple():
    limit = 2**64 - 2**64 % 3
    assert below(iter([limit, limit + 1, 5]), 3) == 2


def test_block_sizes_are_chosen_evenly():
    """Over about 6,000 blocks, size 2 within four binomial standard deviations of half."""
    got = BlockList(stream(9), ("a", "b"), (1, 1), (2, 4)).first(18_000)
    by_size = Counter(size for _, size in {(e.block, e.block_size) for e in got})
    n = sum(by_size.values())
    assert set(by_size) == {2, 4} and abs(by_size[2] - n / 2) < 4 * (n / 4) ** 0.5


def test_strata_streams_are_independent_of_each_other():
    london = (("site", "london"),)
    bristol = (("site", "bristol"),)
    key = bytes(range(32))
    alone = stratified_block_arms(key, "t", [london] * 10, ["a", "b"], [1, 1], [2, 4])
    mixed = stratified_block_arms(key, "t", [bristol, london] * 10, ["a", "b"], [1, 1], [2, 4])
    assert [e.arm for e in mixed[1::2]] == [e.arm for e in alone]


def test_unequal_ratio_block_validation():
    with pytest.raises(ValueError, match="multiples"):
        BlockList(stream(1), ("a", "b"), (2, 1), (4,))


def test_sample_arms_are_the_configured_stratified_blocks(advance_cfg):
    """The sample's men in randomisation order through the derivation, under the demonstration key."""
    from advance_trial.data.canonical import read_canonical
    from tests.conftest import SAMPLES, demo_ring

    p = read_canonical(advance_cfg, SAMPLES / "advance-feasibility").participants.sort_values("participant_id")
    ring = demo_ring(advance_cfg)
    got = stratified_block_arms(ring.derive, advance_cfg.trial.id, [(("site", s),) for s in p["site"]],
                                advance_cfg.arm_ids, [1, 1], advance_cfg.randomisation.block_sizes)  # fmt: skip
    assert [e.arm for e in got] == p["arm"].tolist()
    assert Counter(e.arm for e in got) == {"advance": 54, "tau": 50}


def test_minimisation_worked_example_lim_and_in_2019():
    """Lim C-Y, In J. Randomization in clinical studies. Korean J Anesthesiol 2019;72(3):221-232, Table 4.

    After 14 patients (site 1: control 4, treatment 2; site 2: 3, 5; male 4, 4; female 3, 3;
    age < 20: 2, 2; 20-64: 2, 2; >= 65: 3, 3) the 15th patient is female, 74 years old, from
    site 2. Total imbalance if allocated to control: 3; to treatment: 5; so control.
    """
    from advance_trial.randomise import minimisation_decision, minimisation_scores

    counts = {
        "site": {"1": {"control": 4, "treatment": 2}, "2": {"control": 3, "treatment": 5}},
        "sex": {"male": {"control": 4, "treatment": 4}, "female": {"control": 3, "treatment": 3}},
        "age": {"<20": {"control": 2, "treatment": 2}, "20-64": {"control": 2, "treatment": 2},
                ">=65": {"control": 3, "treatment": 3}},
    }  # fmt: skip
    patient = {"site": "2", "sex": "female", "age": ">=65"}
    arms, weights = ["control", "treatment"], {"site": 1.0, "sex": 1.0, "age": 1.0}
    scores = minimisation_scores(counts, patient, weights, arms, [1, 1])
    assert scores == {"control": 3.0, "treatment": 5.0}
    decided = minimisation_decision(scores, arms, [1, 1], 1.0, 0.99, 0.99)
    assert (decided.preferred, decided.arm, decided.tied) == ("control", "control", ("control",))
    # with the random element, the other arm is taken when the second uniform is at or above p
    assert minimisation_decision(scores, arms, [1, 1], 0.8, 0.5, 0.85).arm == "treatment"
    assert minimisation_decision(scores, arms, [1, 1], 0.8, 0.5, 0.79).arm == "control"


def test_minimisation_ties_are_broken_by_the_first_uniform_in_ratio():
    from advance_trial.randomise import minimisation_decision

    tied = {"a": 1.0, "b": 1.0, "c": 1.0}
    assert minimisation_decision(tied, ["a", "b", "c"], [2, 1, 1], 0.8, 0.49, 0.99).arm == "a"
    assert minimisation_decision(tied, ["a", "b", "c"], [2, 1, 1], 0.8, 0.50, 0.99).arm == "b"
    assert minimisation_decision(tied, ["a", "b", "c"], [2, 1, 1], 0.8, 0.75, 0.99).arm == "c"


def test_unequal_ratios_divide_counts_by_the_ratio():
    from advance_trial.randomise import minimisation_scores

    counts = {"site": {"x": {"a": 2, "b": 1}}}
    # a 2:1 design with 2 and 1 allocated is balanced: either arm next costs the same relative step
    scores = minimisation_scores(counts, {"site": "x"}, {"site": 1.0}, ["a", "b"], [2, 1])
    assert scores == {"a": 0.5, "b": 1.0}
