"""Allocation methods as pure functions of (config, inputs, Generator).

Randomness comes from numpy ``Generator`` objects seeded through
``SeedSequence``: one independent stream per stratum, keyed by the stratum's
values rather than by its position, so that recruitment in one stratum never
shifts another's sequence and adding a site later changes no existing stream.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

Stratum = tuple[tuple[str, str], ...]


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
    """

    position: int
    arm: str
    block: int
    block_size: int


def stratum_key(stratum: Stratum) -> tuple[int, ...]:
    """A stable ``SeedSequence`` spawn key for a stratum, derived from its factor values."""
    text = ";".join(f"{k}={v}" for k, v in sorted(stratum))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def stratum_generator(seed: int, stratum: Stratum) -> np.random.Generator:
    """The Generator for one stratum's stream (an unstratified design uses the empty stratum)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=stratum_key(stratum))))


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
        Each participant's stratum, in randomisation order.

    Returns
    -------
    list of ListEntry
        Each participant's list entry, in the same order.
    """
    needed: dict[Stratum, int] = {}
    for s in strata_of:
        needed[s] = needed.get(s, 0) + 1
    lists = {s: permuted_blocks(stratum_generator(seed, s), arms, ratios, block_sizes, n) for s, n in needed.items()}
    used: dict[Stratum, int] = {}
    out = []
    for s in strata_of:
        i = used.get(s, 0)
        used[s] = i + 1
        out.append(lists[s][i])
    return out
