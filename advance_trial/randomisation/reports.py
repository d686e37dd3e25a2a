"""Reading the allocation log: verify it in full (with receipts), its events, the men allocated and their
arms (recording nothing), and its reconciliation with ``participants.csv`` and the facts the report's methods
give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.errors import DataError, DataProblem, IntegrityError
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.key import KeyRing, check_receipt_signature, read_checkpoint
from advance_trial.randomisation.log import locked
from advance_trial.randomisation.replay import Replay
from advance_trial.randomisation.trial_log import (
    Allocation,
    VerifyReport,
    _as_allocation,
    _reading,
    log_path,
)


def _allocations_frame(cfg: Config, state: Replay) -> pd.DataFrame:
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else None
    factor_names = sorted({k for m in state.allocated.values() for k in m.factors} - {"site"})
    rows = []
    for m in sorted(state.allocated.values(), key=lambda m: m.sequence):
        rec: dict[str, Any] = {
            "participant_id": m.participant_id, "site": m.site, "arm": m.arm, "sequence": m.sequence,
            "allocated_at": m.at_utc, "randomised_on": m.on_date, "allocated_by": m.actor,
            "source": m.draw.get("source", "online"), "randomised_in_error": m.in_error,
        }  # fmt: skip
        rec.update({f: m.factors.get(f) for f in factor_names})
        if codes is not None:
            rec["arm_code"] = codes[m.arm]
        rec["config_version"] = m.config_version
        rows.append(rec)
    cols = ["participant_id", "site", "arm", "sequence", "allocated_at", "randomised_on", "allocated_by", "source",
            "randomised_in_error", *factor_names, *(["arm_code"] if codes else []), "config_version"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def verify_log(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None,
               receipts: Iterable[Mapping[str, Any]] = ()) -> VerifyReport:  # fmt: skip
    """Authenticate and replay every row, compare the head with the checkpoint, and find each receipt.

    Raises
    ------
    IntegrityError
        At the first fault, naming its row (or the receipt the log does not contain).
    """
    receipts = list(receipts)
    with _reading(cfg, ring, log_path(cfg, log), full=True) as (store, state, head):
        events = store.events()
    by_row = {ev["row"]: ev for ev in events}
    for r in receipts:
        _check_receipt(ring, store.log_id, r, by_row)
    c = state.counts
    return VerifyReport(
        rows=head.row, allocations=c.get("allocation", 0), unblindings=c.get("unblinding", 0),
        exports=c.get("export", 0), corrections=c.get("correction", 0), amendments=c.get("amendment", 0),
        logins=c.get("login", 0), account_changes=c.get("account", 0), head_row=head.row, head_tag=head.tag,
        log_id=store.log_id, receipts=len(receipts),
    )  # fmt: skip


def _check_receipt(ring: KeyRing, log_id: str, receipt: Mapping[str, Any], by_row: Mapping[int, Any]) -> None:
    row = receipt.get("row")
    who = f"receipt of row {row} ({receipt.get('participant_id')})"
    if receipt.get("log_id") != log_id or receipt.get("trial_id") != ring.trial_id:
        raise IntegrityError(f"{who}: issued by another log; this log was replaced")
    ev = by_row.get(row) if isinstance(row, int) else None
    if ev is None or ev["tag"] != receipt.get("tag") or ev["participant_id"] != receipt.get("participant_id"):
        raise IntegrityError(f"{who}: the log does not contain it; the row was cut or rewritten")
    if "signature" in receipt and ring.public_path.exists():
        check_receipt_signature(receipt, ring.public_path.read_bytes())


def events(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None) -> list[dict[str, Any]]:
    """Every row of the log, verified (what was verified before in this process is not verified again)."""
    with _reading(cfg, ring, log_path(cfg, log)) as (store, _state, _head):
        return store.events()


def allocated_men(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None) -> list[Allocation]:
    """Every allocation in sequence order, after verifying the log (from what this process last verified);
    records nothing. The service's reads use it."""
    with _reading(cfg, ring, log_path(cfg, log)) as (_store, state, _head):
        men = sorted(state.allocated.values(), key=lambda m: m.sequence)
        return [_as_allocation(state, m.participant_id, False, {}) for m in men]


def allocations(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None) -> pd.DataFrame:
    """The allocations (as :func:`export` gives them) after verifying the log; records nothing."""
    with _reading(cfg, ring, log_path(cfg, log)) as (_store, state, _head):
        return _allocations_frame(cfg, state)


def reconcile(cfg: Config, ring: KeyRing, participants: pd.DataFrame, log: str | Path | Location | None = None,
              file: str = "participants.csv") -> VerifyReport:  # fmt: skip
    """Check that the log and ``participants.csv`` hold the same men, arms (or codes), sites and dates.

    Raises
    ------
    DataError
        Listing every man in the log and not the data, in the data and not the log, or whose arm,
        site or randomisation date differ.
    """
    report = verify_log(cfg, ring, log)
    frame = allocations(cfg, ring, log).set_index("participant_id")
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else {}
    problems: list[DataProblem] = []
    data = participants.reset_index(drop=True)
    seen = set()
    where = str(log_path(cfg, log))
    for i, r in data.iterrows():
        pid = str(r["participant_id"])
        seen.add(pid)
        row = int(str(i)) + 2
        if pid not in frame.index:
            problems.append(
                DataProblem(file, row, "participant_id", pid, f"in the data but not in the allocation log {where}")
            )
            continue
        logged = frame.loc[pid]
        arm = str(r["arm"])
        if arm != logged["arm"] and arm != codes.get(str(logged["arm"])):
            problems.append(DataProblem(file, row, "arm", arm, "the arm differs from the allocation log's"))
        if str(r["site"]) != logged["site"]:
            problems.append(DataProblem(file, row, "site", str(r["site"]), f"the allocation log says {logged['site']}"))
        on = pd.Timestamp(r["randomised_on"]).date().isoformat() if pd.notna(r["randomised_on"]) else ""
        if on != logged["randomised_on"]:
            problems.append(
                DataProblem(file, row, "randomised_on", on, f"the allocation log says {logged['randomised_on']}")
            )
    for pid in frame.index:
        if pid not in seen:
            problems.append(DataProblem(where, None, "participant_id", pid, f"allocated in the log but not in {file}"))
    if problems:
        raise DataError(problems)
    return report


def log_summary(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None,
                participants: pd.DataFrame | None = None) -> dict[str, Any]:  # fmt: skip
    """Facts about the log for the report's methods (verified, and reconciled with the data when given)."""
    report = reconcile(cfg, ring, participants, log) if participants is not None else verify_log(cfg, ring, log)
    frame = allocations(cfg, ring, log)
    dates = frame["randomised_on"] if len(frame) else pd.Series(["-"])
    with locked(ring, exclusive=False):  # a writer moves the checkpoint in place under the exclusive lock
        checkpoint_row = read_checkpoint(ring).row
    return {"allocations": report.allocations, "unblindings": report.unblindings, "exports": report.exports,
            "corrections": int(frame["randomised_in_error"].sum()) if len(frame) else 0,  # withdrawals are not
            "head_row": report.head_row, "head_tag": report.head_tag,
            "log_id": report.log_id, "checkpoint_row": checkpoint_row,
            "allocators": int(frame["allocated_by"].nunique()) if len(frame) else 0,
            "backup": int((frame["source"] == "backup").sum()) if len(frame) else 0,
            "first": str(dates.min()), "last": str(dates.max())}  # fmt: skip
