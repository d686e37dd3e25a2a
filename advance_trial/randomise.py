"""Allocation methods as pure functions of (state, inputs, Generator).

Randomness comes from numpy ``Generator`` objects seeded through
``SeedSequence``: one independent stream per stratum, keyed by the stratum's
values rather than by its position, so that recruitment in one stratum never
shifts another's sequence and adding a site later changes no existing stream.

Streams are cut into chunks of :data:`CHUNK` positions, each from its own
child seed (chunk 0 from the stratum's key, chunk ``k`` from the key extended by
``k``). The allocation log stores every chunk it uses, so a numpy upgrade in
mid-trial (numpy promises stream stability only within a version) can change
only chunks not yet drawn, never a list already in use.

Methods
-------
simple
    Each allocation takes one uniform ``u`` and the arm whose cumulative ratio
    share first exceeds it.
blocks, stratified_blocks
    Permuted blocks, block size drawn uniformly from ``block_sizes``, one list
    per stratum (an unstratified design uses the empty stratum).
minimisation
    Pocock and Simon (1975) with the range as the imbalance measure. For each
    candidate arm, each factor's imbalance is the range over arms of
    ``count / ratio`` at the participant's level after the hypothetical
    allocation (dividing by the ratio is this toolkit's rule for unequal
    ratios); the score is the weighted sum over factors. The arms with the
    lowest score are tied candidates; one is chosen with the first uniform,
    with probability in proportion to the ratios. If every arm is tied the
    choice stands; otherwise the preferred arm is taken when the second
    uniform is below ``probability``, and one of the other arms (in proportion
    to their ratios, by the rescaled second uniform) when it is not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Stratum = tuple[tuple[str, str], ...]

#: Positions (list methods) or uniforms (simple, minimisation) per chunk of a stream.
CHUNK = 1024


@dataclass(frozen=True)
class ListEntry:
    """One position of a permuted-block list.

    Attributes
    ----------
    position : int
        1-based position within the stratum's list.
    arm : str
        The arm allocated at this position.
    block : int
        1-based block number within the stratum.
    block_size : int
        Size of that block.
    chunk : int
        The stream chunk the block came from (see the module docstring).
    """

    position: int
    arm: str
    block: int
    block_size: int
    chunk: int = 0


def stratum_key(stratum: Stratum) -> tuple[int, ...]:
    """A stable ``SeedSequence`` spawn key for a stratum, derived from its factor values."""
    text = ";".join(f"{k}={v}" for k, v in sorted(stratum))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def stratum_generator(seed: int, stratum: Stratum, chunk: int = 0) -> np.random.Generator:
    """The Generator for one chunk of one stratum's stream (an unstratified design uses the empty stratum)."""
    key = stratum_key(stratum) + ((chunk,) if chunk else ())
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def stratum_of(values: Mapping[str, str], strata: Sequence[str]) -> Stratum:
    """A participant's stratum: the values of the configured strata, in config order."""
    return tuple((name, str(values[name])) for name in strata)


def block_chunk(
    seed: int, stratum: Stratum, chunk: int, arms: list[str], ratios: list[int], block_sizes: list[int]
) -> list[ListEntry]:
    """One chunk of a stratum's permuted-block list: at least :data:`CHUNK` positions, whole blocks.

    Positions and block numbers are local to the chunk (1-based).
    """
    return permuted_blocks(stratum_generator(seed, stratum, chunk), arms, ratios, block_sizes, CHUNK)


def uniform_chunk(seed: int, stratum: Stratum, chunk: int) -> np.ndarray:
    """One chunk of a stream of uniforms on [0, 1) (simple randomisation and minimisation)."""
    return stratum_generator(seed, stratum, chunk).random(CHUNK)


def pick_by_ratio(u: float, arms: Sequence[str], ratios: Sequence[float]) -> str:
    """The arm a uniform ``u`` in [0, 1) selects when arms are weighted by their ratios."""
    edges = np.cumsum(np.asarray(ratios, dtype=float)) / float(sum(ratios))
    return arms[min(int(np.searchsorted(edges, u, side="right")), len(arms) - 1)]


#: Per factor, per level, per arm: participants allocated so far.
MarginCounts = dict[str, dict[str, dict[str, int]]]


def minimisation_scores(
    counts: MarginCounts,
    levels: Mapping[str, str],
    weights: Mapping[str, float],
    arms: Sequence[str],
    ratios: Sequence[int],
) -> dict[str, float]:
    """Pocock-Simon scores: for each candidate arm, the weighted sum of marginal ranges.

    Parameters
    ----------
    counts : MarginCounts
        Allocations so far by factor, level and arm (missing entries count as 0).
    levels : mapping
        The new participant's level of each factor.
    weights : mapping
        Factor weights.
    arms, ratios : sequence
        Arms and their allocation ratios.
    """
    scores: dict[str, float] = {}
    for candidate in arms:
        total = 0.0
        for factor, weight in weights.items():
            at_level = counts.get(factor, {}).get(str(levels[factor]), {})
            adjusted = [(at_level.get(a, 0) + (a == candidate)) / r for a, r in zip(arms, ratios, strict=True)]
            total += weight * (max(adjusted) - min(adjusted))
        scores[candidate] = total
    return scores


@dataclass(frozen=True)
class MinimisationDraw:
    """How one minimisation allocation was decided."""

    scores: dict[str, float]
    preferred: str
    tied: tuple[str, ...]
    u_tie: float
    u_prob: float
    arm: str


def minimisation_decision(
    scores: Mapping[str, float],
    arms: Sequence[str],
    ratios: Sequence[int],
    probability: float,
    u_tie: float,
    u_prob: float,
) -> MinimisationDraw:
    """The arm given the scores and two uniforms (the rule in the module docstring)."""
    low = min(scores.values())
    tied = tuple(a for a in arms if scores[a] == low)
    tied_ratios = [r for a, r in zip(arms, ratios, strict=True) if a in tied]
    preferred = pick_by_ratio(u_tie, tied, tied_ratios)
    if len(tied) == len(arms) or u_prob < probability:
        arm = preferred
    else:
        others = [a for a in arms if a != preferred]
        other_ratios = [r for a, r in zip(arms, ratios, strict=True) if a != preferred]
        arm = pick_by_ratio((u_prob - probability) / (1 - probability), others, other_ratios)
    return MinimisationDraw(dict(scores), preferred, tied, float(u_tie), float(u_prob), arm)


def add_to_margins(counts: MarginCounts, levels: Mapping[str, str], arm: str) -> None:
    """Count one allocation into ``counts`` (in place)."""
    for factor, level in levels.items():
        cell = counts.setdefault(factor, {}).setdefault(str(level), {})
        cell[arm] = cell.get(arm, 0) + 1


def permuted_blocks(
    rng: np.random.Generator, arms: list[str], ratios: list[int], block_sizes: list[int], n: int
) -> list[ListEntry]:
    """The first ``n`` (or more, to the end of a block) positions of a permuted-block list.

    Each block's size is drawn uniformly from ``block_sizes``; a block of size ``b`` holds
    ``b * ratio / sum(ratios)`` of each arm in a uniformly random order. The list for ``n``
    is a prefix of the list for any larger ``n`` from the same Generator state.

    Parameters
    ----------
    rng : numpy.random.Generator
    arms, ratios : list
        Arm ids and their allocation ratios, in config order.
    block_sizes : list of int
        Each a multiple of ``sum(ratios)``.
    n : int
        Number of positions needed.
    """
    total = sum(ratios)
    if any(b % total for b in block_sizes):
        raise ValueError(f"block sizes {block_sizes} must be multiples of the ratio sum {total}")
    entries: list[ListEntry] = []
    block = 0
    sizes = np.asarray(block_sizes)
    while len(entries) < n:
        block += 1
        size = int(sizes[rng.integers(len(sizes))])
        content = np.repeat(np.asarray(arms, dtype=object), [size // total * r for r in ratios])
        order = rng.permutation(size)
        start = len(entries)
        entries.extend(
            ListEntry(position=start + i + 1, arm=str(content[j]), block=block, block_size=size)
            for i, j in enumerate(order)
        )
    return entries


def extend_list(
    entries: list[ListEntry], seed: int, stratum: Stratum, arms: list[str], ratios: list[int], block_sizes: list[int]
) -> None:
    """Append the stratum's next chunk to ``entries`` (in place), numbering positions and blocks on."""
    chunk = entries[-1].chunk + 1 if entries else 0
    pos0, block0 = (entries[-1].position, entries[-1].block) if entries else (0, 0)
    for e in block_chunk(seed, stratum, chunk, arms, ratios, block_sizes):
        entries.append(ListEntry(pos0 + e.position, e.arm, block0 + e.block, e.block_size, chunk))


def stratum_list(
    seed: int, stratum: Stratum, arms: list[str], ratios: list[int], block_sizes: list[int], n: int
) -> list[ListEntry]:
    """The first ``n`` (or more, to the end of a chunk) positions of a stratum's list."""
    entries: list[ListEntry] = []
    while len(entries) < n:
        extend_list(entries, seed, stratum, arms, ratios, block_sizes)
    return entries


def stratified_block_arms(
    seed: int,
    strata_of: list[Stratum],
    arms: list[str],
    ratios: list[int],
    block_sizes: list[int],
) -> list[ListEntry]:
    """Allocate participants, given in randomisation order, by stratified permuted blocks.

    Parameters
    ----------
    seed : int
        The config's randomisation seed.
    strata_of : list of Stratum
        Each participant's stratum, in randomisation order (the empty stratum for unstratified blocks).

    Returns
    -------
    list of ListEntry
        Each participant's list entry, in the same order.
    """
    lists: dict[Stratum, list[ListEntry]] = {}
    used: dict[Stratum, int] = {}
    result: list[ListEntry] = []
    for s in strata_of:
        entries = lists.setdefault(s, [])
        i = used.get(s, 0)
        used[s] = i + 1
        while len(entries) <= i:
            extend_list(entries, seed, s, arms, ratios, block_sizes)
        result.append(entries[i])
    return result
