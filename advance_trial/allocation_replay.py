"""Reading the allocation log back: verify (chain and replay), export, and the concealed list.

Verification walks the rows in order and stops at the first fault, naming its
row: a gap in the row numbers, a ``prev_hash`` that is not the previous row's
hash, a ``row_hash`` that is not its content's, an allocation sequence with a
gap, or an allocation that the config's seed and the recorded inputs do not
reproduce. Draws are regenerated from the seed when the row was written under
the running numpy version; otherwise the recorded draw is checked against the
recorded arm and a note says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from advance_trial import randomise as rz
from advance_trial.allocation_log import (
    VerifyReport,
    connect,
    genesis_hash,
    row_hash,
    rows_sha256,
    stratum_text,
    uniforms_for,
)
from advance_trial.config.models import Config
from advance_trial.errors import IntegrityError, UsageError


class _Fault(Exception):
    pass


def _check_chain(events: list[dict[str, Any]], trial_id: str) -> str:
    prev = genesis_hash(trial_id)
    for i, ev in enumerate(events, 1):
        where = f"row {ev['row']}"
        if ev["row"] != i:
            raise IntegrityError(f"{where}: expected row {i}; a row was deleted, inserted or renumbered before it")
        if ev["prev_hash"] != prev:
            raise IntegrityError(f"{where}: prev_hash does not match row {i - 1}'s hash; the chain is broken here")
        if row_hash(ev) != ev["row_hash"]:
            raise IntegrityError(f"{where}: its content does not match its row_hash; the row was edited")
        prev = ev["row_hash"]
    return prev


def _list_rows(con: Any) -> dict[tuple[str, int], list[tuple[Any, ...]]]:
    chunks: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for r in con.execute("SELECT * FROM lists ORDER BY stratum, position"):
        chunks.setdefault((r["stratum"], r["chunk"]), []).append(tuple(r))
    return chunks


def verify_log(path: str | Path, cfg: Config, expect_head: str | None = None) -> VerifyReport:
    """Check the chain and replay every allocation; raise :class:`IntegrityError` at the first fault."""
    con = connect(path, cfg, create=False)
    try:
        events = [dict(r) for r in con.execute("SELECT * FROM events ORDER BY row")]
        chunks = _list_rows(con)
    finally:
        con.close()
    head = _check_chain(events, cfg.trial.id)
    if expect_head is not None and head != expect_head:
        raise IntegrityError(
            f"the log's head hash is {head}, not the recorded {expect_head}: rows were cut off or rewritten"
        )
    replay = _Replay(cfg, chunks)
    for ev in events:
        try:
            replay.step(ev)
        except _Fault as fault:
            who = f" ({ev['kind']} of {ev['participant_id']})" if ev["participant_id"] else f" ({ev['kind']})"
            raise IntegrityError(f"row {ev['row']}{who}: {fault}") from None
    stray = set(chunks) - replay.logged_chunks
    if stray:
        raise IntegrityError(f"the lists table holds chunks no row records: {sorted(stray)}; rows were inserted")
    kinds = [e["kind"] for e in events]
    return VerifyReport(
        rows=len(events),
        allocations=kinds.count("allocation"),
        unblindings=kinds.count("unblinding"),
        head_hash=head,
        draws_regenerated=not replay.notes,
        notes=tuple(sorted(replay.notes)),
    )


class _Replay:
    """Re-derives each allocation from the config and everything before it."""

    def __init__(self, cfg: Config, chunks: dict[tuple[str, int], list[tuple[Any, ...]]]) -> None:
        self.cfg = cfg
        self.r = cfg.randomisation
        self.arms, self.ratios = cfg.arm_ids, [a.ratio for a in cfg.arms]
        self.chunks = chunks
        self.logged_chunks: set[tuple[str, int]] = set()
        self.by_stratum: dict[str, int] = {}
        self.allocated: dict[str, dict[str, Any]] = {}
        self.margins: rz.MarginCounts = {}
        self.notes: set[str] = set()

    def step(self, ev: dict[str, Any]) -> None:
        getattr(self, f"_{ev['kind']}")(ev)

    def _list_chunk(self, ev: dict[str, Any]) -> None:
        d = json.loads(ev["detail"])
        key = (ev["stratum"], d["chunk"])
        rows = self.chunks.get(key, [])
        if rows_sha256(rows) != d["sha256"]:
            raise _Fault(f"the stored list chunk {d['chunk']} differs from the one this row committed to")
        if d["numpy"] == np.__version__:
            stratum = tuple(tuple(p) for p in json.loads(ev["stratum"]))
            fresh = rz.block_chunk(self.r.seed or 0, stratum, d["chunk"], self.arms, self.ratios, self.r.block_sizes)
            if [e.arm for e in fresh] != [r[3] for r in rows] or [e.block_size for e in fresh] != [r[5] for r in rows]:
                raise _Fault(f"list chunk {d['chunk']} is not the one the config's seed gives")
        else:
            self.notes.add(f"list chunks drawn under numpy {d['numpy']} were checked against their commitment only")
        self.logged_chunks.add(key)

    def _allocation(self, ev: dict[str, Any]) -> None:
        seq = len(self.allocated) + 1
        if ev["sequence"] != seq:
            raise _Fault(f"sequence {ev['sequence']} where {seq} was due")
        if ev["participant_id"] in self.allocated:
            raise _Fault("the participant was already allocated")
        values = json.loads(ev["factors"])
        levels = self.cfg.factor_levels()
        bad = [k for k, v in values.items() if k not in levels or v not in levels[k]]
        if bad or values.get("site") != ev["site"]:
            raise _Fault(f"recorded factors {values} do not fit the config")
        draw = json.loads(ev["draw"])
        method = self.r.method
        if method in ("blocks", "stratified_blocks"):
            arm = self._from_list(ev, values, draw)
        elif method == "simple":
            self._check_uniforms(draw, [draw["u"]], seq, 1)
            arm = rz.pick_by_ratio(draw["u"], self.arms, self.ratios)
        elif method == "minimisation" and self.r.minimisation is not None:
            arm = self._minimise(values, draw, seq)
        else:
            raise _Fault(f"the config's method {method!r} does not allocate")
        if arm != ev["arm"]:
            raise _Fault(f"the recorded arm is {ev['arm']!r} but the replay gives {arm!r}")
        self.allocated[ev["participant_id"]] = ev

    def _from_list(self, ev: dict[str, Any], values: dict[str, str], draw: dict[str, Any]) -> str:
        strata = self.r.strata if self.r.method == "stratified_blocks" else []
        text = stratum_text(rz.stratum_of(values, strata))
        if ev["stratum"] != text:
            raise _Fault(f"recorded stratum {ev['stratum']} is not the one its factors give ({text})")
        position = self.by_stratum.get(text, 0) + 1
        self.by_stratum[text] = position
        if draw.get("position") != position:
            raise _Fault(f"list position {draw.get('position')} where {position} was due")
        if (text, draw.get("chunk")) not in self.logged_chunks:
            raise _Fault("its list chunk was not drawn into the log before it")
        rows = self.chunks[(text, draw["chunk"])]
        entry = next((r for r in rows if r[2] == position), None)
        if entry is None:
            raise _Fault(f"position {position} is not in list chunk {draw['chunk']}")
        return str(entry[3])

    def _check_uniforms(self, draw: dict[str, Any], recorded: list[float], seq: int, per: int) -> None:
        if draw.get("index") != seq:
            raise _Fault(f"draw index {draw.get('index')} where {seq} was due")
        if draw.get("numpy") == np.__version__:
            if uniforms_for(self.r.seed or 0, seq, per) != recorded:
                raise _Fault("the recorded random numbers are not the ones the config's seed gives")
        else:
            self.notes.add(f"draws made under numpy {draw.get('numpy')} were checked against their arms only")

    def _minimise(self, values: dict[str, str], draw: dict[str, Any], seq: int) -> str:
        m = self.r.minimisation
        assert m is not None
        self._check_uniforms(draw, [draw["u_tie"], draw["u_prob"]], seq, 2)
        scores = rz.minimisation_scores(self.margins, values, m.factors, self.arms, self.ratios)
        if scores != draw.get("scores"):
            raise _Fault(f"recorded scores {draw.get('scores')} but the replay gives {scores}")
        d = rz.minimisation_decision(scores, self.arms, self.ratios, m.probability, draw["u_tie"], draw["u_prob"])
        rz.add_to_margins(self.margins, {f: values[f] for f in m.factors}, d.arm)
        return d.arm

    def _unblinding(self, ev: dict[str, Any]) -> None:
        first = self.allocated.get(ev["participant_id"])
        if first is None or first["arm"] != ev["arm"]:
            raise _Fault("unblinds a participant who was not allocated to that arm before it")


def export_frame(path: str | Path, cfg: Config) -> pd.DataFrame:
    """One row per allocation, in sequence order, for ``participants.csv`` and the trial master file.

    Columns: ``participant_id, site, arm, sequence, allocated_at, randomised_on, allocated_by``,
    then one column per factor recorded, then ``arm_code`` when the config blinds arms and
    ``config_version``.
    """
    con = connect(path, cfg, create=False)
    try:
        rows = [dict(r) for r in con.execute("SELECT * FROM events WHERE kind = 'allocation' ORDER BY sequence")]
    finally:
        con.close()
    factor_names = sorted({k for r in rows for k in json.loads(r["factors"])} - {"site"})
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else None
    out = []
    for r in rows:
        factors = json.loads(r["factors"])
        rec: dict[str, Any] = {
            "participant_id": r["participant_id"], "site": r["site"], "arm": r["arm"], "sequence": r["sequence"],
            "allocated_at": r["at_utc"], "randomised_on": r["at_utc"][:10], "allocated_by": r["by_whom"],
        }  # fmt: skip
        rec.update({f: factors.get(f) for f in factor_names})
        if codes is not None:
            rec["arm_code"] = codes[r["arm"]]
        rec["config_version"] = r["config_version"]
        out.append(rec)
    cols = ["participant_id", "site", "arm", "sequence", "allocated_at", "randomised_on", "allocated_by"]
    cols += factor_names + (["arm_code"] if codes else []) + ["config_version"]
    return pd.DataFrame(out, columns=cols)


def concealed_list(cfg: Config, n: int, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """The first ``n`` positions of every stratum's list (list-based methods only).

    Columns: one per stratification factor, then ``position, block, block_size, arm``. The same
    lists that ``allocate`` draws from, so an external system given this list allocates
    identically.
    """
    r = cfg.randomisation
    if r.method not in ("blocks", "stratified_blocks"):
        raise UsageError(f"a concealed list exists only for blocks and stratified_blocks, not {r.method!r}")
    if n < 1:
        raise UsageError("--n must be at least 1")
    strata_names = list(r.strata) if r.method == "stratified_blocks" else []
    levels = cfg.factor_levels()
    combos: list[rz.Stratum] = [()]
    for name in strata_names:
        combos = [c + ((name, v),) for c in combos for v in levels[name]]
    rows = []
    for i, stratum in enumerate(combos):
        entries = rz.stratum_list(r.seed or 0, stratum, cfg.arm_ids, [a.ratio for a in cfg.arms], r.block_sizes, n)
        for e in entries[:n]:
            rows.append({**dict(stratum), "position": e.position, "block": e.block, "block_size": e.block_size,
                         "arm": e.arm})  # fmt: skip
        if progress:
            progress(i + 1, len(combos))
    return pd.DataFrame(rows, columns=strata_names + ["position", "block", "block_size", "arm"])


def commitment(data: bytes) -> str:
    """The SHA-256 to publish before recruitment: anyone holding the list can check it later."""
    return hashlib.sha256(data).hexdigest()


__all__ = ["commitment", "concealed_list", "export_frame", "verify_log"]
