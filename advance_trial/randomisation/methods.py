"""Allocation methods as pure functions of a keyed, versioned derivation.

Randomness comes from the trial's secret allocation key, never from a seed in
the config or from a library's random streams. Every number is derived by
:data:`DERIVATION`: HMAC-SHA256 under a subkey of the allocation key, over the
canonical JSON of ``[DERIVATION, trial id, purpose, epoch, stratum, counter, sub]``.
The derivation is written here and nowhere else; it does not depend on numpy or
on any library version, so a log written today replays identically under any
later install. A new derivation would get a new name; the log records the name
it was written with.

Terms
-----
purpose
    ``list`` (the permuted-block lists allocate draws from), ``backup`` (the
    sealed lists used when the system is down), ``simple`` and ``minimisation``
    (uniforms).
epoch
    The design in force: 0 from ``randomise init``, one more after each
    amendment that changed the design (method, ratios, block sizes, strata or
    minimisation factors). A new epoch starts new lists.
stratum
    The participant's values of the stratification factors; an unstratified
    design uses the empty stratum. Streams are keyed by the stratum's values,
    so recruitment in one stratum never shifts another's list.

Methods
-------
simple
    Each allocation takes one uniform ``u`` and the arm whose cumulative ratio
    share first exceeds it.
blocks, stratified_blocks
    Permuted blocks: block ``b`` of a stratum takes its size uniformly from
    ``block_sizes`` and orders ``size * ratio / sum(ratios)`` of each arm by a
    Fisher-Yates shuffle. Integers are drawn by rejection from 64-bit words,
    so every size and order is exactly equally likely.
minimisation
    Pocock and Simon (1975) with the range as the imbalance measure. For each
    candidate arm, each factor's imbalance is the range over arms of
    ``count / ratio`` at the participant's level after the hypothetical
    allocation; the score is the weighted sum over factors. The arms with the
    lowest score are tied candidates; one is chosen with the first uniform,
    with probability in proportion to the ratios. If every arm is tied the
    choice stands; otherwise the preferred arm is taken when the second
    uniform is below ``probability``, and one of the other arms (in proportion
    to their ratios, by the rescaled second uniform) when it is not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advance_trial.config.models import Config

#: The name of the derivation below; recorded in every log.
DERIVATION = "advance-trial/hmac-sha256/1"

Stratum = tuple[tuple[str, str], ...]

_TWO64 = 1 << 64


def canon(value: object) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def stratum_text(stratum: Stratum) -> str:
    """A stratum as canonical text, e.g. ``[["site","london"]]``."""
    return canon([list(p) for p in stratum])


def stratum_of(values: Mapping[str, str], strata: Sequence[str]) -> Stratum:
    """A participant's stratum: the values of the configured strata, in config order."""
    return tuple((name, str(values[name])) for name in strata)


@dataclass(frozen=True)
class Stream:
    """One keyed stream of 64-bit words: a purpose, an epoch and a stratum of one trial.

    ``key`` is the derivation subkey of the allocation key (never the key itself).
    """

    key: bytes
    trial_id: str
    purpose: str
    epoch: int
    stratum: str

    def __repr__(self) -> str:  # the key never appears in a traceback or a log
        return f"Stream({self.trial_id!r}, {self.purpose!r}, epoch {self.epoch}, {self.stratum})"

    def block(self, counter: int, sub: int = 0) -> bytes:
        """32 bytes: HMAC-SHA256 over the stream's identity, the counter and a sub-counter."""
        message = canon([DERIVATION, self.trial_id, self.purpose, self.epoch, self.stratum, counter, sub])
        return hmac.new(self.key, message.encode("utf-8"), hashlib.sha256).digest()

    def words(self, counter: int) -> Iterator[int]:
        """An endless run of 64-bit words for one counter: four per HMAC, then the next sub-counter."""
        sub = 0
        while True:
            digest = self.block(counter, sub)
            for i in range(0, 32, 8):
                yield int.from_bytes(digest[i : i + 8], "big")
            sub += 1

    def uniforms(self, counter: int, n: int) -> list[float]:
        """``n`` uniforms on [0, 1) for one counter, each a 53-bit fraction (exact as a double)."""
        words = self.words(counter)
        return [(next(words) >> 11) / float(1 << 53) for _ in range(n)]


def below(words: Iterator[int], n: int) -> int:
    """A uniform integer in ``range(n)`` from 64-bit words, by rejection (no modulo bias)."""
    limit = _TWO64 - _TWO64 % n
    while True:
        w = next(words)
        if w < limit:
            return w % n


@dataclass(frozen=True)
class ListEntry:
    """One position of a permuted-block list.

    Attributes
    ----------
    position : int
        1-based position within the stratum's list (in its epoch).
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


def check_block_sizes(ratios: Sequence[int], block_sizes: Sequence[int]) -> None:
    """Refuse block sizes that are not multiples of the ratio sum."""
    total = sum(ratios)
    if not block_sizes or any(b <= 0 or b % total for b in block_sizes):
        raise ValueError(f"block sizes {list(block_sizes)} must be positive multiples of the ratio sum {total}")


def permuted_block(stream: Stream, block: int, arms: Sequence[str], ratios: Sequence[int],
                   block_sizes: Sequence[int]) -> list[str]:  # fmt: skip
    """Block ``block`` (1-based) of a stream's permuted-block list: its arms in order."""
    words = stream.words(block)
    size = block_sizes[below(words, len(block_sizes))]
    total = sum(ratios)
    content = [a for a, r in zip(arms, ratios, strict=True) for _ in range(size // total * r)]
    for i in range(size - 1, 0, -1):  # Fisher-Yates
        j = below(words, i + 1)
        content[i], content[j] = content[j], content[i]
    return content


@dataclass
class BlockList:
    """A stratum's permuted-block list, derived block by block as positions are needed."""

    stream: Stream
    arms: tuple[str, ...]
    ratios: tuple[int, ...]
    block_sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        check_block_sizes(self.ratios, self.block_sizes)
        self.entries: list[ListEntry] = []

    def at(self, position: int) -> ListEntry:
        """The entry at a 1-based position, deriving blocks up to it."""
        while len(self.entries) < position:
            block = (self.entries[-1].block if self.entries else 0) + 1
            arms = permuted_block(self.stream, block, self.arms, self.ratios, self.block_sizes)
            start = len(self.entries)
            self.entries.extend(ListEntry(start + i + 1, a, block, len(arms)) for i, a in enumerate(arms))
        return self.entries[position - 1]

    def first(self, n: int) -> list[ListEntry]:
        """The first ``n`` positions (to the end of the block that holds position ``n``)."""
        self.at(n)
        last_block = self.entries[n - 1].block
        return [e for e in self.entries if e.block <= last_block]


def pick_by_ratio(u: float, arms: Sequence[str], ratios: Sequence[float]) -> str:
    """The arm a uniform ``u`` in [0, 1) selects when arms are weighted by their ratios."""
    total = float(sum(ratios))
    edge = 0.0
    for arm, r in zip(arms, ratios, strict=True):
        edge += r / total
        if u < edge:
            return arm
    return arms[-1]


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


def stratified_block_arms(
    key: bytes,
    trial_id: str,
    strata_of: Sequence[Stratum],
    arms: Sequence[str],
    ratios: Sequence[int],
    block_sizes: Sequence[int],
    epoch: int = 0,
    purpose: str = "list",
) -> list[ListEntry]:
    """Allocate participants, given in randomisation order, by (stratified) permuted blocks.

    Parameters
    ----------
    key : bytes
        The derivation subkey (:attr:`advance_trial.randomisation.key.KeyRing.derive`).
    trial_id : str
    strata_of : sequence of Stratum
        Each participant's stratum, in randomisation order (the empty stratum for unstratified blocks).

    Returns
    -------
    list of ListEntry
        Each participant's list entry, in the same order: what ``allocate`` gives them.
    """
    lists: dict[Stratum, BlockList] = {}
    used: dict[Stratum, int] = {}
    out: list[ListEntry] = []
    for s in strata_of:
        if s not in lists:
            stream = Stream(key, trial_id, purpose, epoch, stratum_text(s))
            lists[s] = BlockList(stream, tuple(arms), tuple(ratios), tuple(block_sizes))
        used[s] = used.get(s, 0) + 1
        out.append(lists[s].at(used[s]))
    return out


def required_factors(cfg: Config) -> list[str]:
    """The factors an allocation needs besides the participant: strata or minimisation factors."""
    r = cfg.randomisation
    names = list(r.strata) if r.method == "stratified_blocks" else []
    if r.method == "minimisation" and r.minimisation is not None:
        names = list(r.minimisation.factors)
    return ["site"] + [n for n in names if n != "site"]
