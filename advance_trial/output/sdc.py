"""Statistical disclosure control for linked count tables: the structure, the audit, and suppression.

Every count an output set publishes is a *cell*: the number of members of a population (men, men
screened, partners, men analysed for one outcome) whose classification matches a condition on a
few dimensions (site, arm, follow-up state, ...). The unknowns are the *atoms*, the counts of the
full cross-classification of each population; a cell is the sum of the atoms it covers, so every
published value is a linear equation in the atoms, and a reader knows nothing else but that atoms
are whole numbers of at least zero, that populations are linked (the men randomised at a site are
the screened men there who were randomised; no more men are analysed in an arm than were
allocated to it), and that a suppressed cell is at least one (zeros are always shown).

The audit (:func:`audit`) solves, for every suppressed cell and every *implied* cell (a count no
table shows but any reader can form, such as men allocated minus men followed up), the smallest
and the largest value consistent with all of that, by linear programming as tau-Argus and R's
sdcTable audit their tables. A suppressed cell is protected when at least ``min_cell`` values
remain possible; an implied cell when it cannot be narrowed to a small count (from 1 to
``min_cell - 1``) with fewer than ``min_cell`` possible values.

Suppression (:func:`protect`) is primary (published counts from 1 to ``min_cell - 1``) then
complementary: while the audit finds a cell unprotected, the smallest published non-zero cell
among the constraints that pin it (read from the linear programme's dual values) is suppressed
too, with every other cell that counts the same men.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

#: One condition: dimension, levels, and whether the levels are excluded rather than required.
Cond = tuple[str, tuple[str, ...], bool]


@dataclass(frozen=True)
class Cell:
    """One count in an output set (or one a reader can form from them).

    Attributes
    ----------
    table, row, column : str, int, str
        Where it is shown: output table, 0-based data row and column (for an implied cell, the
        row it is formed from and a column such as ``n_randomised-n_retained``).
    population : str
        Whom it counts.
    where : tuple of Cond
        The conditions; a dimension not named takes any level.
    value : int or None
        The count; ``None`` when it is suppressed (or, for an implied cell, unknown).
    implied : bool
        Not shown anywhere, but formed by subtraction from cells that are.
    parts : tuple of keys
        For an implied cell, the shown cells it is formed from.
    """

    table: str
    row: int
    column: str
    population: str
    where: tuple[Cond, ...]
    value: int | None
    implied: bool = False
    parts: tuple[tuple[str, int, str], ...] = ()

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.table, self.row, self.column)


@dataclass(frozen=True)
class Link:
    """``left - right`` is 0 (``equal``) or at most 0: two cells' worth of men in different populations."""

    left: tuple[str, tuple[Cond, ...]]
    right: tuple[str, tuple[Cond, ...]]
    equal: bool = True


@dataclass(frozen=True)
class Structure:
    """The cells of an output set and what a reader knows of how they fit together.

    Attributes
    ----------
    cells : tuple of Cell
    links : tuple of Link
    levels : mapping
        ``(population, dimension) -> levels`` where the levels are known to be complete; any other
        dimension gets the levels the cells name plus one for everything else.
    impossible : tuple
        ``(population, {dimension: level})`` combinations no member can have (a man who met a dose
        threshold attended at least one session).
    """

    cells: tuple[Cell, ...]
    links: tuple[Link, ...] = ()
    levels: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    impossible: tuple[tuple[str, Mapping[str, str]], ...] = ()


class StructureError(ValueError):
    """The published values contradict the structure (no atoms fit them): the tables were altered."""


REST = "~"  # the level for everything a dimension's named levels do not cover


class _Space:
    """The atoms of every population, in one vector."""

    def __init__(self, s: Structure) -> None:
        conds: dict[str, list[tuple[Cond, ...]]] = {}
        for c in s.cells:
            conds.setdefault(c.population, []).append(c.where)
        for link in s.links:
            for pop, where in (link.left, link.right):
                conds.setdefault(pop, []).append(where)
        self.offsets: dict[str, int] = {}
        self.atoms: dict[str, pd.DataFrame] = {}
        total = 0
        for pop in sorted(conds):
            dims: dict[str, list[str]] = {}
            for where in conds[pop]:
                for dim, levels, _ in where:
                    dims.setdefault(dim, [])
                    dims[dim] += [v for v in levels if v not in dims[dim]]
            for (p, dim), levels in s.levels.items():
                if p == pop and dim in dims:
                    extra = [v for v in dims[dim] if v not in levels]
                    if extra:
                        raise StructureError(f"{pop}: {dim} level(s) {extra} are not among {list(levels)}")
                    dims[dim] = list(levels)
            for dim in dims:
                if (pop, dim) not in s.levels:
                    dims[dim].append(REST)
            names = sorted(dims)
            frame = pd.DataFrame(list(itertools.product(*(dims[d] for d in names))), columns=names)
            if not names:
                frame = pd.DataFrame(index=[0])
            for p, combo in s.impossible:
                if p == pop and all(d in frame.columns for d in combo):
                    hit = np.ones(len(frame), dtype=bool)
                    for d, v in combo.items():
                        hit &= (frame[d] == v).to_numpy()
                    frame = frame[~hit].reset_index(drop=True)
            self.atoms[pop] = frame
            self.offsets[pop] = total
            total += len(frame)
        self.size = total

    def vector(self, population: str, where: tuple[Cond, ...]) -> np.ndarray:
        frame = self.atoms[population]
        hit = np.ones(len(frame), dtype=bool)
        for dim, levels, excluded in where:
            inside = frame[dim].isin(levels).to_numpy()
            hit &= ~inside if excluded else inside
        vec = np.zeros(self.size)
        start = self.offsets[population]
        vec[start : start + len(frame)] = hit
        return vec


@dataclass(frozen=True)
class _System:
    cells: tuple[Cell, ...]
    vectors: np.ndarray  # one row per cell, over groups of atoms no constraint tells apart
    klass: np.ndarray  # cell -> class: cells with the same vector count the same men
    links: tuple[tuple[np.ndarray, np.ndarray, bool], ...]  # (left, right, equal) over the same groups
    members: dict[int, list[int]] = field(default_factory=dict)  # class -> its cells, in order
    row_bytes: dict[int, bytes] = field(default_factory=dict)  # class -> its vector's bytes (a key)
    link_bytes: list[tuple[bytes, bytes]] = field(default_factory=list)  # each link's sides' bytes

    def __post_init__(self) -> None:
        for i, k in enumerate(self.klass.tolist()):
            self.members.setdefault(int(k), []).append(i)
        self.row_bytes.update({k: self.vectors[m[0]].tobytes() for k, m in self.members.items()})
        self.link_bytes.extend((left.tobytes(), right.tobytes()) for left, right, _ in self.links)


def _system(s: Structure) -> _System:
    space = _Space(s)
    vectors = np.array([space.vector(c.population, c.where) for c in s.cells]).reshape(len(s.cells), space.size)
    sides = [(space.vector(*lk.left), space.vector(*lk.right), lk.equal) for lk in s.links]
    both = np.array([v for left, right, _ in sides for v in (left, right)]).reshape(-1, space.size)
    # atoms that every row treats alike act as one unknown (their sum): the same ranges, a smaller programme
    _, keep = np.unique(np.vstack([vectors, both]).T, axis=0, return_index=True)
    keep = np.sort(keep)
    _, klass = np.unique(vectors, axis=0, return_inverse=True)
    links = tuple((left[keep], right[keep], equal) for left, right, equal in sides)
    return _System(s.cells, vectors[:, keep], klass.ravel(), links)


@dataclass(frozen=True)
class _Range:
    lower: float
    upper: float
    binding: frozenset[int]  # published classes whose equations pin the bounds


class _Programme:
    """The linear programme for one choice of suppressed classes.

    A link whose one side is a published count is that count (the men randomised to an arm, in Table 1's
    population as in the men's): written so, it ties nothing together, and the programme falls apart
    into independent blocks (the men, each characteristic of Table 1, harms). A range is solved over
    the block(s) of its cell only: the others share no unknown with it, so they cannot move its bounds.
    """

    def __init__(self, sys_: _System, suppressed: set[int], solved: dict[bytes, Any] | None = None) -> None:
        width = sys_.vectors.shape[1]
        rows, values, classes = [], [], []
        for k in sorted(sys_.members):
            if k in suppressed:
                continue
            members = [i for i in sys_.members[k] if not sys_.cells[i].implied]
            known = {sys_.cells[i].value for i in members} - {None}
            if not members or not known:
                continue
            if len(known) > 1:
                where = ", ".join(f"{sys_.cells[i].table} row {sys_.cells[i].row + 1} {sys_.cells[i].column}"
                                  for i in members)  # fmt: skip
                raise StructureError(f"one count published as {sorted(v for v in known if v is not None)}: {where}")
            rows.append(sys_.vectors[members[0]])
            values.append(float(next(iter(known))))  # type: ignore[arg-type]
            classes.append(k)
        published = {sys_.row_bytes[k]: v for k, v in zip(classes, values, strict=True)}
        class_of = {sys_.row_bytes[k]: k for k in classes}
        eq_classes: list[int | None] = []  # a link written as a published count binds through that count
        eq_rows: list[np.ndarray] = []
        ub_rows: list[np.ndarray] = []
        eq_values: list[float] = []
        ub_values: list[float] = []
        for (left, right, equal), (left_key, right_key) in zip(sys_.links, sys_.link_bytes, strict=True):
            if equal and left_key in published and right_key not in published:
                left, right, left_key, right_key = right, left, right_key, left_key
            if right_key in published:  # the link says: the left side is (at most) that count
                (eq_rows if equal else ub_rows).append(left)
                (eq_values if equal else ub_values).append(published[right_key])
                eq_classes += [class_of[right_key]] if equal else []
            else:
                (eq_rows if equal else ub_rows).append(left - right)
                (eq_values if equal else ub_values).append(0.0)
                eq_classes += [None] if equal else []
        low = [sys_.vectors[sys_.members[k][0]] for k in sorted(suppressed)]
        self.a_eq = np.vstack([np.array(rows).reshape(-1, width), np.array(eq_rows).reshape(-1, width)])
        self.b_eq = np.array([*values, *eq_values])
        self.a_ub = np.vstack([np.array(ub_rows).reshape(-1, width), -np.array(low).reshape(-1, width)])
        self.b_ub = np.array([*ub_values, *([-1.0] * len(low))])
        self.classes: list[int | None] = [*classes, *eq_classes]  # the class each equation publishes
        self.cache: dict[int, _Range] = {}
        self.block = _blocks(np.vstack([self.a_eq, self.a_ub]), width)
        self.solved = solved if solved is not None else {}

    def feasible(self) -> None:
        """Raise :class:`StructureError` if no counts fit the published values (anywhere in the tables)."""
        self._linprog(np.zeros(self.a_eq.shape[1]), np.ones(self.a_eq.shape[1], dtype=bool))

    def _linprog(self, c: np.ndarray, cols: np.ndarray) -> Any:
        from scipy.optimize import linprog

        # dense blocks: scipy hands HiGHS the same compressed matrix it would make of sparse ones (zeros dropped,
        # the same order), for less work on these small programmes
        solve: Any = linprog
        eq = np.flatnonzero(np.abs(self.a_eq[:, cols]).sum(axis=1) > 0)
        ub = np.flatnonzero(np.abs(self.a_ub[:, cols]).sum(axis=1) > 0)
        parts = (c[cols], self.a_eq[np.ix_(eq, cols)], self.b_eq[eq], self.a_ub[np.ix_(ub, cols)], self.b_ub[ub])
        # the same programme (every number of it, in the same order) solved before, for another cell or under
        # another choice of suppressed cells that leaves this block alone: HiGHS's answer again, not solved again
        digest = hashlib.sha256()
        for p in parts:
            digest.update(f"{p.shape}".encode() + np.ascontiguousarray(p).tobytes())
        key = digest.digest()
        if key not in self.solved:
            a_eq = parts[1] if len(eq) else None
            a_ub = parts[3] if len(ub) else None
            self.solved[key] = solve(parts[0], A_ub=a_ub, b_ub=parts[4] if len(ub) else None, A_eq=a_eq,
                                     b_eq=parts[2] if len(eq) else None, bounds=(0, None), method="highs")  # fmt: skip
        res = self.solved[key]
        if res.status not in (0, 3):
            raise StructureError(f"no counts fit the published values ({res.message})")
        return res, eq

    def solve(self, k: int, target: np.ndarray) -> _Range:
        if k in self.cache:
            return self.cache[k]
        cols = np.isin(self.block, np.unique(self.block[target != 0]))
        bounds: list[float] = []
        binding: set[int] = set()
        for sign in (1.0, -1.0):
            res, eq_rows = self._linprog(sign * target, cols)
            if res.status == 3:  # unbounded: only the maximum can be
                bounds.append(math.inf)
                continue
            bounds.append(sign * float(res.fun))
            if len(eq_rows):
                marg = np.asarray(res.eqlin.marginals)
                binding |= {c for r, m in zip(eq_rows, marg, strict=True)
                            if abs(m) > 1e-9 and (c := self.classes[int(r)]) is not None}  # fmt: skip
        self.cache[k] = _Range(bounds[0], bounds[1], frozenset(binding))
        return self.cache[k]


def _blocks(a: np.ndarray, width: int) -> np.ndarray:
    """Each column's block (a label): columns that share a row, directly or through others, are in one block.

    The connected components of the graph of rows and columns, a row joined to each column it uses."""
    import scipy.sparse as sparse
    from scipy.sparse.csgraph import connected_components

    if width == 0:
        return np.zeros(0, dtype=int)
    rows, cols = np.nonzero(a.reshape(-1, width))
    n = width + a.size // width
    graph = sparse.coo_matrix((np.ones(len(rows)), (rows + width, cols)), shape=(n, n))
    return np.asarray(connected_components(graph, directed=False)[1][:width])


def _whole(x: float, up: bool) -> float:
    if math.isinf(x):
        return x
    return float(math.floor(x + 1e-7) if up else math.ceil(x - 1e-7))


def _verdict(cell: Cell, lo: float, hi: float, min_cell: int) -> bool:
    """Protected? A suppressed cell keeps min_cell possible values; an implied one cannot be narrowed to a
    small count with fewer than min_cell possible values."""
    n_values = math.inf if math.isinf(hi) else hi - lo + 1
    if n_values >= min_cell:
        return True
    if cell.implied:
        return lo > min_cell - 1 or hi < 1
    return False


AUDIT_COLUMNS = ["table", "row", "column", "kind", "lower", "upper", "possible_values", "protected"]


def _range_of(sys_: _System, prog: _Programme, i: int, known: bool) -> tuple[float, float, _Range | None]:
    """The range of cell ``i``; an implied cell whose parts are all shown (``known``) is known exactly."""
    cell = sys_.cells[i]
    if cell.implied and known and cell.value is not None:
        return float(cell.value), float(cell.value), None
    r = prog.solve(int(sys_.klass[i]) if not cell.implied else -1 - i, sys_.vectors[i])
    return _whole(r.lower, up=False), _whole(r.upper, up=True), r


def audit(s: Structure, min_cell: int) -> pd.DataFrame:
    """For every suppressed and implied cell, the range a reader can narrow it to, and whether that protects it;
    a small count published (from 1 to ``min_cell - 1``) is listed as ``published`` and unprotected.

    Returns
    -------
    DataFrame
        :data:`AUDIT_COLUMNS`, one row per suppressed or implied cell (``row`` 1-based).

    Raises
    ------
    StructureError
        If no counts fit the published values.
    """
    sys_ = _system(s)
    suppressed = {int(sys_.klass[i]) for i, c in enumerate(s.cells) if c.value is None and not c.implied}
    prog = _Programme(sys_, suppressed)
    prog.feasible()  # altered tables, wherever: ranges are solved block by block
    rows = []
    for i, cell in enumerate(s.cells):
        if not cell.implied and cell.value is not None and 1 <= cell.value < min_cell:
            v = cell.value  # a small count published: a disclosure, whatever else holds
            rows.append({"table": cell.table, "row": cell.row + 1, "column": cell.column, "kind": "published",
                         "lower": v, "upper": v, "possible_values": 1, "protected": False})  # fmt: skip
            continue
        if not (cell.implied or int(sys_.klass[i]) in suppressed):
            continue
        lo, hi, _ = _range_of(sys_, prog, i, known=cell.value is not None)
        rows.append({"table": cell.table, "row": cell.row + 1, "column": cell.column,
                     "kind": "implied" if cell.implied else "suppressed", "lower": int(lo),
                     "upper": "" if math.isinf(hi) else int(hi),
                     "possible_values": "unbounded" if math.isinf(hi) else int(hi - lo + 1),
                     "protected": _verdict(cell, lo, hi, min_cell)})  # fmt: skip
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


@dataclass(frozen=True)
class Protection:
    """What :func:`protect` suppressed: cell keys by kind."""

    primary: frozenset[tuple[str, int, str]]
    complementary: frozenset[tuple[str, int, str]]


def _complement(
    sys_: _System,
    i: int,
    r: _Range | None,
    suppressed: set[int],
    value_of: dict[int, int],
    first: dict[int, tuple[str, int, str]],
    solved: dict[bytes, Any],
) -> int:
    """The next cell to suppress for unprotected cell ``i``: the smallest published non-zero count whose
    suppression widens the range a reader can narrow ``i`` to. Tried are the counts whose equations the
    programme's dual values show binding and those counting some of the same men."""
    overlap = {int(sys_.klass[j]) for j in np.flatnonzero((sys_.vectors @ sys_.vectors[i]) > 0)}
    binding = set(r.binding) if r is not None else set()
    candidates = sorted((k for k in (binding | overlap) - suppressed if value_of.get(k, 0) > 0),
                        key=lambda k: (value_of[k], first[k]))  # fmt: skip
    if r is None:
        r = _Programme(sys_, suppressed, solved).solve(-1, sys_.vectors[i])
    width = r.upper - r.lower
    for k in candidates[:_TRIES]:
        trial = _Programme(sys_, suppressed | {k}, solved).solve(-1, sys_.vectors[i])
        if trial.upper - trial.lower > width + 1e-7:
            return k
    if candidates:
        return candidates[0]
    c = sys_.cells[i]
    raise StructureError(f"{c.table} row {c.row + 1} {c.column} cannot be protected")


_TRIES = 12  # candidates tried, cheapest first, before taking the cheapest of all


def protect(s: Structure, min_cell: int) -> Protection:
    """Primary then complementary suppression until every suppressed and implied cell is protected.

    The cells carry their true values; the result names the cells to suppress. Ranges only widen as
    cells are suppressed, so a suppressed cell once protected stays protected and is not solved again;
    implied cells are checked once no suppressed cell fails.
    """
    sys_ = _system(s)
    value_of: dict[int, int] = {}
    occurrences: dict[int, int] = {}
    first: dict[int, tuple[str, int, str]] = {}
    for i, c in enumerate(s.cells):
        k = int(sys_.klass[i])
        if not c.implied and c.value is not None:
            value_of[k] = c.value
            occurrences[k] = occurrences.get(k, 0) + 1
            first.setdefault(k, c.key)
    primary = {k for k, v in value_of.items() if 1 <= v < min_cell}
    suppressed, safe = set(primary), set[int]()
    members = {k: [int(i) for i in np.flatnonzero(sys_.klass == k) if not s.cells[i].implied] for k in value_of}
    implied = [i for i, c in enumerate(s.cells) if c.implied]
    keys_of = {k: [s.cells[i].key for i in m] for k, m in members.items()}
    solved: dict[bytes, Any] = {}  # every linear programme solved, by its numbers (see _Programme._linprog)
    while True:
        prog = _Programme(sys_, suppressed, solved)
        failing: tuple[int, _Range | None] | None = None
        for k in sorted(suppressed - safe, key=lambda k: first[k]):
            lo, hi, r = _range_of(sys_, prog, members[k][0], known=False)
            if _verdict(s.cells[members[k][0]], lo, hi, min_cell):
                safe.add(k)
            else:
                failing = (members[k][0], r)
                break
        if failing is None:
            hidden = {key for k in suppressed for key in keys_of[k]}
            for i in implied:
                known = not hidden.intersection(s.cells[i].parts)
                lo, hi, r = _range_of(sys_, prog, i, known)
                if not _verdict(s.cells[i], lo, hi, min_cell):
                    failing = (i, r if r is not None else prog.solve(-1 - i, sys_.vectors[i]))
                    break
        if failing is None:
            break
        i, r = failing
        suppressed.add(_complement(sys_, i, r, suppressed, value_of, first, solved))
    keys = {kind: frozenset(c.key for j, c in enumerate(s.cells) if not c.implied and int(sys_.klass[j]) in group)
            for kind, group in (("primary", primary), ("complementary", suppressed - primary))}  # fmt: skip
    return Protection(keys["primary"], keys["complementary"])


def suppressed_cells(cells: Iterable[Cell], keys: Iterable[tuple[str, int, str]]) -> tuple[Cell, ...]:
    """The cells as a reader sees them once ``keys`` are suppressed: those and the implied cells formed
    from them without a value."""
    chosen = set(keys)

    def hidden(c: Cell) -> bool:
        return c.key in chosen if not c.implied else bool(chosen.intersection(c.parts))

    return tuple(replace(c, value=None) if hidden(c) else c for c in cells)
