"""REDCap's randomisation module: allocation tables out, and back in to be checked.

REDCap allocates from an uploaded allocation table: ``redcap_randomization_group`` (the raw code of
the randomisation field's choice), then one column per stratification field (its raw code, or
``redcap_data_access_group``), the next unused row whose strata match going to the next man; the
module's own download has the same columns (and, in recent versions, ``redcap_randomization_number``).
The config's ``redcap.randomisation`` gives the codes; without it the arms are numbered 1, 2, ... in
config order and strata are written as their levels.

A table read back is checked two ways: :func:`table_assessment` describes it as ``assess`` describes
a design (balance along each stratum's list, whether the list is made of the design's blocks,
convergence guessing), and :func:`check_table` replays the trial's lists from the key and says
whether the table is exactly the list the key derives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.errors import DataError, DataProblem, IntegrityError, UsageError
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.exports import (
    LIST_FILES,
    WrittenFile,
    concealed_list,
    first_list_difference,
    output_folder,
    write_committed,
)

if TYPE_CHECKING:
    from advance_trial.randomisation.key import KeyRing

GROUP = "redcap_randomization_group"
NUMBER = "redcap_randomization_number"


def codes(cfg: Config) -> tuple[dict[str, str], dict[str, tuple[str, dict[str, str]]]]:
    """Arm -> group code, and factor -> (table column, level -> code)."""
    rc = cfg.redcap.randomisation if cfg.redcap is not None else None
    if rc is None:
        arms = {a: str(i) for i, a in enumerate(cfg.arm_ids, 1)}
        return arms, {}
    arms = {arm: code for code, arm in rc.groups.items()}
    strata = {f: (s.field, {level: code for code, level in s.codes.items()}) for f, s in rc.strata.items()}
    return arms, strata


def redcap_table(cfg: Config, frame: pd.DataFrame) -> pd.DataFrame:
    """A concealed list (``strata..., position, block, block_size, arm``) as REDCap's allocation table."""
    arms, strata = codes(cfg)
    out = pd.DataFrame({GROUP: frame["arm"].map(arms)})
    for c in [c for c in frame.columns if c not in ("position", "block", "block_size", "arm")]:
        column, level_code = strata.get(c, (c, {}))
        out[column] = frame[c].map(lambda v, m=level_code: m.get(v, v)).to_numpy()
    return out


def write_table(cfg: Config, ring: KeyRing, n: int, reason: str, out: str | Path, *, backup: bool = False,
                log: str | Path | Location | None = None) -> WrittenFile:  # fmt: skip
    """:func:`~advance_trial.randomisation.allocation.concealed_list` as REDCap's allocation table, written into
    ``out`` with its SHA-256 commitment beside it (the list is recorded in the log first)."""
    folder = output_folder(out)
    frame = redcap_table(cfg, concealed_list(cfg, ring, n, reason, backup=backup, log=log))
    return write_committed(frame, folder / LIST_FILES[("redcap", backup)])


def read_table(cfg: Config, path: str | Path) -> pd.DataFrame:
    """An allocation table as ``strata..., position, arm`` (position counted within each stratum, in
    table order), every code read back through the config.

    Raises
    ------
    DataError
        Not an allocation table, a code the config does not know (naming row, column and value).
    """
    from advance_trial.importing.readers import read_site_file

    raw, _ = read_site_file(path, None, lambda h: GROUP in h)
    header = [h.strip() for h in raw.header]
    if GROUP not in header:
        raise DataError(
            [DataProblem(raw.file, 1, GROUP, None, "not a REDCap allocation table: this column is missing")]
        )
    arms, strata = codes(cfg)
    factors = list(cfg.randomisation.strata) if cfg.randomisation.method == "stratified_blocks" else []
    problems: list[DataProblem] = []
    out: dict[str, list[str]] = {}
    wanted: list[tuple[str, str, dict[str, str]]] = [("arm", GROUP, {c: a for a, c in arms.items()})]
    for f in factors:
        column, level_code = strata.get(f, (f, {}))
        wanted.append((f, column, {c: lvl for lvl, c in level_code.items()} or
                       {lvl: lvl for lvl in cfg.factor_levels()[f]}))  # fmt: skip
    for name, column, back in wanted:
        if column not in header:
            problems.append(DataProblem(raw.file, 1, column, None, f"missing: the column of {name}"))
            continue
        cells = raw.cells[header.index(column)].astype(str)
        mapped = cells.map(back)
        for i in np.flatnonzero(mapped.isna().to_numpy()).tolist():
            problems.append(DataProblem(raw.file, int(raw.rows[i]), column, str(cells.iat[i]),
                                        f"must be one of {', '.join(back)}"))  # fmt: skip
        out[name] = mapped.tolist()
    extra = [h for h in header if h not in {c for _, c, _ in wanted} | {NUMBER}]
    for h in extra:
        problems.append(DataProblem(raw.file, 1, h, None, "not a column of the design's allocation table "
                                                          f"({', '.join(c for _, c, _ in wanted)})"))  # fmt: skip
    if problems:
        raise DataError(problems)
    frame = pd.DataFrame({f: out[f] for f in factors} | {"arm": out["arm"]})
    frame.insert(
        len(factors), "position", frame.groupby(factors).cumcount() + 1 if factors else np.arange(1, len(frame) + 1)
    )
    frame.attrs["rows"] = raw.rows.tolist()
    return frame


def _blocks_fit(arms: list[int], sizes: list[int], ratios: list[int]) -> bool:
    """Whether the list is a run of whole blocks of the design's sizes, each balanced to the ratios, and a
    start of one more (the table may stop inside a block)."""
    total = sum(ratios)
    n = len(arms)
    ok = [False] * (n + 1)
    ok[0] = True
    for i in range(n + 1):
        if not ok[i]:
            continue
        for b in sizes:
            seg = arms[i : i + b]
            counts = [seg.count(k) for k in range(len(ratios))]
            want = [r * b // total for r in ratios]
            if len(seg) == b and counts == want:
                ok[i + b] = True
            elif len(seg) < b and i + len(seg) == n and all(c <= w for c, w in zip(counts, want, strict=True)):
                return True
    return ok[n]


@dataclass(frozen=True)
class TableCheck:
    """A table replayed against the key's lists."""

    rows: int
    strata: int
    matches: bool
    first_difference: int | None  # the table's row (as a spreadsheet numbers it), not the arm


def table_assessment(cfg: Config, frame: pd.DataFrame) -> list[tuple[str, str, float]]:
    """``(statistic, scope, value)`` rows describing the table, stratum by stratum and overall."""
    from advance_trial.randomisation.assess import guess_credits, imbalance

    ratios = np.asarray([a.ratio for a in cfg.arms], dtype=float)
    index = {a: i for i, a in enumerate(cfg.arm_ids)}
    factors = [c for c in frame.columns if c not in ("position", "arm")]
    groups = frame.groupby(factors, sort=False) if factors else [((), frame)]
    rows: list[tuple[str, str, float]] = []
    hits = 0.0
    for key, g in groups:
        values = key if isinstance(key, tuple) else (key,)
        scope = ",".join(f"{f}={v}" for f, v in zip(factors, values, strict=True)) or "overall"
        arms = np.asarray([index[a] for a in g["arm"]])
        onehot = arms[:, None] == np.arange(len(ratios))
        counts = np.cumsum(onehot, axis=0)
        path = imbalance(counts, ratios)
        hit = guess_credits(counts - onehot, arms, ratios)
        hits += float(hit.sum())
        rows.append(("positions", scope, float(len(arms))))
        rows += [(f"allocated_{a}", scope, float(counts[-1, i])) for a, i in index.items()]
        rows.append(("final_imbalance", scope, float(path[-1])))
        rows.append(("max_imbalance", scope, float(path.max())))
        rows.append(("correct_guess_proportion", scope, float(hit.mean())))
        sizes = list(cfg.randomisation.block_sizes)
        if sizes:
            fit = _blocks_fit(arms.tolist(), sizes, [a.ratio for a in cfg.arms])
            rows.append(("made_of_design_blocks", scope, 1.0 if fit else 0.0))
    rows.append(("correct_guess_proportion", "all strata", hits / max(len(frame), 1)))
    return rows


def check_table(cfg: Config, ring: KeyRing, frame: pd.DataFrame, log: str | Path | None = None) -> TableCheck:
    """Replay the key's lists (read-only) and compare every position of the table with them.

    Raises
    ------
    IntegrityError
        The table is not the list the key derives: the first row that differs is named, never the arm.
    """
    if cfg.randomisation.method not in ("blocks", "stratified_blocks"):
        raise UsageError(f"a REDCap allocation table is a list: the design is {cfg.randomisation.method!r}")
    factors = [c for c in frame.columns if c not in ("position", "arm")]
    rows = frame.attrs.get("rows") or list(range(2, len(frame) + 2))
    entries = (({f: str(getattr(r, f)) for f in factors}, int(str(r.position)), str(r.arm))
               for r in frame.itertuples(index=False))  # fmt: skip
    differs = first_list_difference(cfg, ring, entries, log)
    if differs is not None:
        why = "the table was changed, or made by another key or design"
        raise IntegrityError(f"the allocation table is not the trial's list: row {rows[differs]} differs from "
                             f"the list the key derives ({why})")  # fmt: skip
    strata = len(frame.groupby(factors)) if factors else 1
    return TableCheck(len(frame), strata, True, None)
