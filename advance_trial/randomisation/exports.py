"""What leaves the allocation log as a file: the export of every arm and the concealed (or back-up) lists,
each an event in the chain first, then written privately with its SHA-256 (a list's commitment beside it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.errors import UsageError
from advance_trial.randomisation import methods as rz
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.reports import _allocations_frame
from advance_trial.randomisation.trial_log import (
    _reading,
    _reason,
    _writing,
    check_design,
    log_path,
)


def export(cfg: Config, ring: KeyRing, reason: str, *, log: str | Path | Location | None = None,
           note: str | None = None, account: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Every allocation with its arm, one row per man in sequence order; the export is itself an event.

    Columns: ``participant_id, site, arm, sequence, allocated_at, randomised_on, allocated_by, source,
    randomised_in_error``, one column per recorded factor, ``arm_code`` under blinding, ``config_version``.
    """
    text = _reason(reason)
    with _writing(cfg, ring, log_path(cfg, log), account=account) as step:
        frame = _allocations_frame(cfg, step.state)
        step.append("export", {"detail": rz.canon({"reason": text, "men": len(frame), "with": "arms"})}, note=note)
    return frame


def concealed_list(cfg: Config, ring: KeyRing, n: int, reason: str, *, backup: bool = False,
                   log: str | Path | Location | None = None) -> pd.DataFrame:  # fmt: skip
    """The first ``n`` positions of every stratum's list, as ``allocate`` draws them (or the back-up lists).

    Columns: one per stratification factor, then ``position, block, block_size, arm``. Recorded in the
    chain (who, why, how many positions), because the list is the next allocations.
    """
    text = _reason(reason)
    if n < 1 or n > 100_000:
        raise UsageError("--n must be between 1 and 100000")
    with _writing(cfg, ring, log_path(cfg, log)) as step:
        state = step.state
        check_design(cfg, state)
        design = state.design
        if not backup and design["method"] not in ("blocks", "stratified_blocks"):
            raise UsageError(f"a concealed list exists only for blocks and stratified_blocks, not {design['method']!r}")
        names = list(design.get("strata") or ["site"]) if backup else list(design.get("strata", []))
        levels = cfg.factor_levels()
        combos: list[rz.Stratum] = [()]
        for name in names:
            combos = [c + ((name, v),) for c in combos for v in levels[name]]
        rows: list[dict[str, Any]] = []
        for stratum in combos:
            values = dict(stratum)
            if backup:
                entries = [state.backup_entry(values, p) for p in range(1, n + 1)]
            else:
                entries = [state.list_entry(values, p) for p in range(1, n + 1)]
            rows.extend({**values, "position": e.position, "block": e.block, "block_size": e.block_size,
                         "arm": e.arm} for e in entries)  # fmt: skip
        frame = pd.DataFrame(rows, columns=names + ["position", "block", "block_size", "arm"])
        kind = "backup" if backup else "allocation"
        step.append("list", {"detail": rz.canon({"reason": text, "list": kind, "positions": n, "epoch": state.epoch})})
    return frame


def first_list_difference(cfg: Config, ring: KeyRing, entries: Iterable[tuple[Mapping[str, str], int, str]],
                          log: str | Path | Location | None = None) -> int | None:  # fmt: skip
    """Compare ``(factor values, position, arm)`` entries with the lists the key derives, read-only.

    Returns the index of the first entry whose arm differs, or None; the list's own arm is never returned,
    so a table in hand is checked without revealing anything of the list it is not.
    """
    with _reading(cfg, ring, log_path(cfg, log)) as (_, state, _head):
        check_design(cfg, state)
        for i, (values, position, arm) in enumerate(entries):
            if state.list_entry(values, position).arm != arm:
                return i
    return None


@dataclass(frozen=True)
class WrittenFile:
    """A file a command wrote: where, how many rows, and the SHA-256 of its bytes."""

    path: Path
    rows: int
    sha256: str


#: The file ``export`` writes into its output folder, and those ``list`` writes (by format and kind).
EXPORT_FILE = "allocations.csv"
LIST_FILES = {("csv", False): "concealed_list.csv", ("csv", True): "backup_lists.csv",
              ("redcap", False): "redcap_allocation.csv", ("redcap", True): "redcap_backup_allocation.csv"}  # fmt: skip


def output_folder(out: str | Path) -> Path:
    """An output folder, created if needed, before anything is recorded in the log.

    Raises
    ------
    UsageError
        If ``out`` is a file, or names a CSV file (``--out`` is a folder).
    """
    out = Path(out)
    if out.is_file() or (out.suffix.lower() == ".csv" and not out.exists()):
        raise UsageError(f"--out {out}: give a folder; the file is written inside it")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_export(cfg: Config, ring: KeyRing, reason: str, out: str | Path, *, log: str | Path | Location | None = None,
                 note: str | None = None) -> WrittenFile:  # fmt: skip
    """:func:`export` written as ``OUT/allocations.csv`` (the export is recorded in the log first)."""
    import hashlib

    from advance_trial.data.tablefile import write_bytes_atomic
    from advance_trial.output.tables import to_csv_bytes

    folder = output_folder(out)
    frame = export(cfg, ring, reason, log=log, note=note)
    data = to_csv_bytes(frame)
    write_bytes_atomic(data, folder / EXPORT_FILE, private=True)
    return WrittenFile(folder / EXPORT_FILE, len(frame), hashlib.sha256(data).hexdigest())


def write_list(cfg: Config, ring: KeyRing, n: int, reason: str, out: str | Path, *, backup: bool = False,
               log: str | Path | Location | None = None) -> WrittenFile:  # fmt: skip
    """:func:`concealed_list` written into ``out`` with its SHA-256 commitment beside it (``<file>.sha256``, in
    ``sha256sum`` format): the digest can be published while the list stays sealed. REDCap's allocation table
    is written by :func:`advance_trial.redcap.allocation.write_table`."""
    folder = output_folder(out)
    frame = concealed_list(cfg, ring, n, reason, backup=backup, log=log)
    return write_committed(frame, folder / LIST_FILES[("csv", backup)])


def write_committed(frame: pd.DataFrame, path: Path) -> WrittenFile:
    """A list written (private) as CSV at ``path``, with its SHA-256 commitment beside it (``<file>.sha256``)."""
    import hashlib

    from advance_trial.data.tablefile import write_bytes_atomic
    from advance_trial.output.tables import to_csv_bytes

    data = to_csv_bytes(frame)
    digest = hashlib.sha256(data).hexdigest()
    write_bytes_atomic(data, path, private=True)
    write_bytes_atomic(f"{digest}  {path.name}\n".encode(), path.with_name(path.name + ".sha256"))
    return WrittenFile(path, len(frame), digest)
