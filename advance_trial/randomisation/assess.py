"""Design assessment: the configured randomisation simulated many times, vectorised across trials.

Each simulated trial recruits ``participants`` men whose factor levels (site and any strata or
minimisation factors) are drawn uniformly and independently. The statistics:

imbalance
    ``max(n_a / r_a) - min(n_a / r_a)`` over arms ``a`` with ratios ``r_a`` (for 1:1, the
    absolute difference between arms), at the end of the trial (final) and its largest value
    along the way (maximum); overall and in each stratum (each combination of the design's
    factor levels).
split
    The probability that the final arm totals are at least as uneven as a given split, e.g.
    54/50 of 104 (final imbalance at least 4).
correct guesses
    Selection bias under the convergence strategy (Blackwell and Hodges 1957): before each
    allocation the enroller guesses the arm that is behind, in ratio-adjusted counts, within
    the stream the allocation comes from (the participant's stratum for ``stratified_blocks``,
    the whole trial otherwise), choosing at random among arms tied behind. The expected
    proportion of correct guesses; 1/(number of arms) for equal ratios means no predictability.

Trials are simulated in batches of :data:`BATCH`, each from its own child seed, so results depend
on the seed and the numbers of trials and participants only. Permuted-block and simple designs are
fully vectorised; minimisation is sequential over participants and vectorised across trials.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from advance_trial.config.models import Config
from advance_trial.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from advance_trial.output.tables import Table

BATCH = 1000
_KEY = 0xA55E55  # spawn-key prefix of assessment streams, apart from allocation streams


@dataclass(frozen=True)
class Design:
    """What the simulation needs from a config."""

    method: str
    ratios: np.ndarray
    block_sizes: tuple[int, ...]
    factor_sizes: tuple[int, ...]
    stratum_names: tuple[str, ...]
    stratified: bool
    weights: tuple[float, ...]
    probability: float

    @property
    def n_strata(self) -> int:
        return int(np.prod(self.factor_sizes))


@dataclass(frozen=True)
class Assessment:
    """Results of :func:`assess`, as plain rows (the simulation needs numpy only, not pandas).

    Attributes
    ----------
    rows : tuple
        ``(statistic, scope, value)`` rows of the long summary.
    imbalance : tuple
        ``(imbalance, final, maximum)``: the proportion of trials ending with (or reaching at most)
        each overall imbalance.
    """

    rows: tuple[tuple[str, str, float], ...]
    imbalance: tuple[tuple[float, float, float], ...]

    @property
    def summary(self) -> pd.DataFrame:
        """The long table ``statistic, scope, value``."""
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=["statistic", "scope", "value"])

    @property
    def distribution(self) -> pd.DataFrame:
        """``imbalance, final, maximum``."""
        import pandas as pd

        return pd.DataFrame(list(self.imbalance), columns=["imbalance", "final", "maximum"])


def assessment_tables(result: Assessment, n_trials: int, participants: int) -> list[Table]:
    """The assessment as output tables (``assessment``, ``assessment_imbalance``)."""
    from advance_trial.output.tables import Table

    notes = (f"{n_trials} simulated trials of {participants} participants; factor levels uniform.",)
    return [
        Table("assessment", result.summary, "Design assessment", notes),
        Table("assessment_imbalance", result.distribution, "Overall imbalance distribution", notes),
    ]


def table_assessment_tables(rows: list[tuple[str, str, float]], source: str) -> list[Table]:
    """``assess --table``: a REDCap allocation table's assessment (rows ``statistic, scope, value`` from
    :func:`advance_trial.redcap.allocation.table_assessment`) as the output table ``assessment_table``."""
    import pandas as pd

    from advance_trial.output.tables import Table

    frame = pd.DataFrame(rows, columns=["statistic", "scope", "value"])
    return [Table("assessment_table", frame, "Allocation table assessment", (source,))]


def design_of(cfg: Config) -> Design:
    """Read the randomisation design from a config (refuses single-arm designs)."""
    from advance_trial.randomisation.methods import required_factors

    r = cfg.randomisation
    if r.method == "none":
        raise UsageError(f"{cfg.trial.id} is a single-arm design: there is no allocation to assess")
    names = tuple(required_factors(cfg))
    levels = cfg.factor_levels()
    weights = tuple(r.minimisation.factors.get(n, 0.0) for n in names) if r.minimisation else ()
    return Design(
        method=r.method,
        ratios=np.asarray([a.ratio for a in cfg.arms], dtype=float),
        block_sizes=tuple(r.block_sizes),
        factor_sizes=tuple(len(levels[n]) for n in names),
        stratum_names=names,
        stratified=r.method == "stratified_blocks",
        weights=weights,
        probability=r.minimisation.probability if r.minimisation else 1.0,
    )


def _pick(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row, the index selected by uniform ``u`` among nonnegative ``weights`` (rows x K)."""
    edges = np.cumsum(weights, axis=-1) / weights.sum(axis=-1, keepdims=True)
    return np.asarray(np.minimum((u[:, None] >= edges).sum(axis=-1), weights.shape[-1] - 1))


@lru_cache(maxsize=32)
def _arrangements(size: int, ratios: tuple[int, ...]) -> np.ndarray | None:
    """Every distinct arrangement of one block (rows), or None when there are too many to list."""
    counts = [size // sum(ratios) * r for r in ratios]
    n = math.factorial(size) // math.prod(math.factorial(c) for c in counts)
    if n > 20_000:
        return None
    rows: list[list[int]] = [[]]
    for _ in range(size):
        rows = [r + [a] for r in rows for a in range(len(ratios)) if r.count(a) < counts[a]]
    return np.asarray(rows, dtype=np.int8)


def block_lists(
    rng: np.random.Generator, n_lists: int, length: int, sizes: tuple[int, ...], ratios: np.ndarray
) -> np.ndarray:
    """``n_lists`` permuted-block lists of ``length`` arm indices each, without a Python loop.

    Each block is one of its distinct arrangements chosen uniformly (every arrangement of a
    block's multiset of arms is equally likely under a uniform permutation); for blocks with
    too many arrangements to list, a random sort key within each block does the shuffling.
    """
    n_blocks = -(-length // min(sizes))
    choice = rng.integers(len(sizes), size=(n_lists, n_blocks))
    size = np.asarray(sizes)[choice]
    flat_size = size.ravel()
    block_start = np.repeat(np.cumsum(flat_size) - flat_size, flat_size)
    offset = np.arange(block_start.size) - block_start
    tables = [_arrangements(b, tuple(int(r) for r in ratios)) for b in sizes]
    if all(t is not None for t in tables):
        listed = [t for t in tables if t is not None]
        flat_table = np.concatenate([t.ravel() for t in listed])
        table_start = np.cumsum(np.asarray([0] + [t.size for t in listed[:-1]], dtype=np.int64))
        n_arr = np.asarray([len(t) for t in listed])
        flat_choice = choice.ravel()
        pattern = (rng.random(flat_choice.size) * n_arr[flat_choice]).astype(np.int64)
        start = table_start[flat_choice] + pattern * flat_size
        shuffled = flat_table[np.repeat(start, flat_size) + offset]
    else:
        total, cum = int(ratios.sum()), np.cumsum(ratios).astype(np.int64)
        b = np.repeat(flat_size, flat_size)
        base = (offset[:, None] * total >= b[:, None] * cum[None, :]).sum(axis=1)
        block_id = np.repeat(np.arange(flat_size.size), flat_size)
        shuffled = base[np.argsort(block_id + rng.random(block_id.size), kind="stable")]
    list_start = np.concatenate([[0], np.cumsum(size.sum(axis=1))[:-1]])
    return np.asarray(shuffled[list_start[:, None] + np.arange(length)[None, :]])


def guess_credits(before: np.ndarray, arms: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """Credit of the convergence guess for each allocation, given the counts before it."""
    if ratios.size == 2:  # the common case, without reductions over a length-2 axis
        gap = before[..., 0] * ratios[1] - before[..., 1] * ratios[0]
        return np.where(gap == 0, 0.5, (gap < 0) == (arms == 0))
    adj = before / ratios
    behind = adj == adj.min(axis=-1, keepdims=True)
    return np.asarray(np.take_along_axis(behind, arms[..., None], axis=-1)[..., 0] / behind.sum(axis=-1))


def _simulate_batch(d: Design, rng: np.random.Generator, t: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strata, arms and guess credits (each t x n, credits summed per trial for lists) of one batch."""
    levels = np.stack([rng.integers(k, size=(t, n)) for k in d.factor_sizes], axis=-1)
    radix = np.cumprod((1,) + d.factor_sizes[:-1])
    strata = (levels * radix).sum(axis=-1)
    k = d.ratios.size
    if d.method in ("blocks", "stratified_blocks"):
        s_lists = d.n_strata if d.stratified else 1
        which = strata if d.stratified else np.zeros_like(strata)
        onehot = which[:, :, None] == np.arange(s_lists)[None, None, :]
        ranks = np.cumsum(onehot, axis=1, dtype=np.int32)
        used = ranks[:, -1, :]  # (t, s_lists)
        length = int(used.max())
        lists = block_lists(rng, t * s_lists, length, d.block_sizes, d.ratios).reshape(t, s_lists, length)
        rank = np.take_along_axis(ranks, which[:, :, None], axis=2)[:, :, 0] - 1
        arms = lists[np.arange(t)[:, None], which, rank]
        counts = np.cumsum(lists[..., None] == np.arange(k), axis=2, dtype=np.int32)
        before = counts - (lists[..., None] == np.arange(k))
        hit = guess_credits(before, lists, d.ratios) * (np.arange(length) < used[:, :, None])
        return strata, arms, hit.sum(axis=(1, 2)) / n
    if d.method == "simple":
        arms = _pick(rng.random(t * n), np.broadcast_to(d.ratios, (t * n, k))).reshape(t, n)
    else:
        arms = _minimise(d, rng, levels)
    onehot = arms[:, :, None] == np.arange(k)
    before = np.cumsum(onehot, axis=1, dtype=np.int32) - onehot
    return strata, arms, guess_credits(before, arms, d.ratios).mean(axis=1)


def _minimise(d: Design, rng: np.random.Generator, levels: np.ndarray) -> np.ndarray:
    t, n, _ = levels.shape
    k = d.ratios.size
    rows = np.arange(t)
    counts = [np.zeros((t, size, k)) for size in d.factor_sizes]
    arms = np.empty((t, n), dtype=np.int64)
    eye = np.eye(k)
    for i in range(n):
        u = rng.random((t, 2))
        scores = np.zeros((t, k))
        for f, (w, c) in enumerate(zip(d.weights, counts, strict=True)):
            if w == 0:
                continue
            at = c[rows, levels[:, i, f]]  # (t, k)
            hyp = (at[:, None, :] + eye[None, :, :]) / d.ratios  # (t, candidate, k)
            scores += w * (hyp.max(axis=-1) - hyp.min(axis=-1))
        tied = scores == scores.min(axis=1, keepdims=True)
        preferred = _pick(u[:, 0], tied * d.ratios)
        others = np.where(np.arange(k)[None, :] == preferred[:, None], 0.0, d.ratios)
        p = d.probability
        rescaled = np.clip((u[:, 1] - p) / (1 - p), 0, np.nextafter(1, 0)) if p < 1 else np.zeros(t)
        other = _pick(rescaled, others)
        take_pref = tied.all(axis=1) | (u[:, 1] < p)
        arm = np.where(take_pref, preferred, other)
        arms[:, i] = arm
        for f, c in enumerate(counts):
            c[rows, levels[:, i, f], arm] += 1
    return arms


def imbalance(counts: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    if ratios.size == 2:
        return np.asarray(np.abs(counts[..., 0] / ratios[0] - counts[..., 1] / ratios[1]))
    adj = counts / ratios
    return np.asarray(adj.max(axis=-1) - adj.min(axis=-1))


def _batch_stats(d: Design, strata: np.ndarray, arms: np.ndarray, correct: np.ndarray) -> dict[str, np.ndarray]:
    t, n = arms.shape
    k, s = d.ratios.size, d.n_strata
    path = imbalance(np.cumsum(arms[:, :, None] == np.arange(k), axis=1, dtype=np.int32), d.ratios)
    flat = (np.arange(t)[:, None] * s + strata) * k + arms
    per_stratum = np.bincount(flat.ravel(), minlength=t * s * k).reshape(t, s, k)
    return {
        "final": path[:, -1],
        "maximum": path.max(axis=1),
        "stratum_final": imbalance(per_stratum, d.ratios),
        "correct": correct,
        "arm_totals": per_stratum.sum(axis=1),
    }


def assess(
    cfg: Config,
    n_trials: int,
    participants: int,
    seed: int | None = None,
    split: tuple[int, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Assessment:
    """Simulate the configured design ``n_trials`` times with ``participants`` each.

    Parameters
    ----------
    split : tuple of int, optional
        Arm totals (in config arm order) whose unevenness to compare against, e.g. ``(54, 50)``.
    progress : callable, optional
        Called with (trials done, trials in all) after each batch.
    """
    if n_trials < 1 or participants < 1:
        raise UsageError("--n-trials and --participants must be at least 1")
    d = design_of(cfg)
    if split is not None and (len(split) != d.ratios.size or sum(split) != participants):
        raise UsageError(f"--split needs {d.ratios.size} counts adding up to --participants ({participants})")
    base = cfg.randomisation.assess_seed if seed is None else seed
    if base is None:
        raise UsageError("give --seed, or randomisation.assess_seed in the config (a plain seed: it conceals nothing)")
    parts: dict[str, list[np.ndarray]] = {}
    done = 0
    for b in range(-(-n_trials // BATCH)):
        t = min(BATCH, n_trials - done)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(base or 0, spawn_key=(_KEY, b))))
        stats = _batch_stats(d, *_simulate_batch(d, rng, t, participants))
        for key, value in stats.items():
            parts.setdefault(key, []).append(value)
        done += t
        if progress:
            progress(done, n_trials)
    res = {k: np.concatenate(v) for k, v in parts.items()}
    return _tables(cfg, d, res, split)


def _tables(cfg: Config, d: Design, res: dict[str, np.ndarray], split: tuple[int, ...] | None) -> Assessment:
    rows: list[tuple[str, str, float]] = []

    def describe(name: str, scope: str, x: np.ndarray) -> None:
        rows.extend(
            [
                (f"{name}_mean", scope, float(x.mean())),
                (f"{name}_median", scope, float(np.median(x))),
                (f"{name}_p95", scope, float(np.quantile(x, 0.95))),
                (f"{name}_max", scope, float(x.max())),
            ]
        )

    describe("final_imbalance", "overall", res["final"])
    describe("max_imbalance", "overall", res["maximum"])
    for j, label in enumerate(_stratum_labels(cfg, d)):
        describe("final_imbalance", label, res["stratum_final"][:, j])
    for arm, mean in zip(cfg.arm_ids, res["arm_totals"].mean(axis=0), strict=True):
        rows.append(("mean_allocated", arm, float(mean)))
    if split is not None:
        target = float(imbalance(np.asarray(split, dtype=float), d.ratios))
        label = "/".join(map(str, split))
        rows.append(("p_split_at_least_as_uneven", label, float((res["final"] >= target - 1e-9).mean())))
    rows.append(("correct_guess_proportion", "overall", float(res["correct"].mean())))
    values = np.unique(np.concatenate([res["final"], res["maximum"]]))
    dist = tuple((float(v), float((res["final"] == v).mean()), float((res["maximum"] == v).mean())) for v in values)
    return Assessment(tuple(rows), dist)


def _stratum_labels(cfg: Config, d: Design) -> list[str]:
    levels = cfg.factor_levels()
    labels = [""]
    for name in d.stratum_names:
        labels = [f"{lab}{',' if lab else ''}{name}={v}" for v in levels[name] for lab in labels]
    return labels
