"""Trials with a key and a log of their own, built from the ADVANCE config's text, and tampering tools."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import config_path

MINIMISATION = """randomisation:
  method: minimisation
  minimisation: {factors: {site: 1.0, cycle: 1.0}, probability: 0.8}
"""
SIMPLE = """randomisation:
  method: simple
"""
BLINDED = """randomisation:
  method: stratified_blocks
  strata: [site]
  block_sizes: [2, 4]
  blinding: {codes: {advance: K, tau: Q}}
"""
BLOCKS = """randomisation:
  method: stratified_blocks
  strata: [site]
  block_sizes: [2, 4]
"""


def config_text(block: str | None = None, fingerprint: str | None = None, extra: str = "",
                eligibility: bool = True) -> str:  # fmt: skip
    """The ADVANCE config's text, its randomisation block replaced and its fingerprint set (without its
    eligibility criteria when ``eligibility`` is false)."""
    text = config_path("advance-feasibility").read_text()
    if not eligibility:
        text = re.sub(r"^eligibility:\n(?:  .*\n)+", "", text, flags=re.M)
    if block is not None:
        text = re.sub(r"^randomisation:\n(?:  .*\n)+", block, text, flags=re.M)
    text = re.sub(r"^  key_fingerprint: .*\n", "", text, flags=re.M)
    text = re.sub(r"^  log: .*\n", "", text, flags=re.M)
    if fingerprint:
        text = text.replace(
            "randomisation:\n", f"randomisation:\n  key_fingerprint: {fingerprint}\n  log: ../log/log.sqlite\n", 1
        )
    return text + extra


@dataclass
class Trial:
    """A config file, its key and its log, all in a temporary folder."""

    root: Path
    block: str | None
    extra: str = ""
    key: bytes | None = None
    eligibility: bool = True

    def __post_init__(self) -> None:
        from advance_trial.randomisation.key import create_key

        self.keys = self.root / "keys"
        self.ring = create_key(self.keys, "advance-feasibility", self.key)
        self.config = self.root / "configs" / "trial.yaml"
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.write(self.block, self.extra)
        self.log = self.root / "log" / "log.sqlite"

    def write(self, block: str | None, extra: str = "", version: str | None = None) -> None:
        text = config_text(block, self.ring.fingerprint, extra, self.eligibility)
        if version:
            text = text.replace('version: "1.0.0"', f'version: "{version}"', 1)
        self.config.write_text(text)

    @property
    def cfg(self):
        from advance_trial.config import load_config

        return load_config(self.config)

    def init(self) -> Trial:
        from advance_trial.randomisation.allocation import init_log

        init_log(self.cfg, self.ring, self.log)
        return self


def make_trial(
    tmp_path: Path,
    block: str | None = BLOCKS,
    extra: str = "",
    init: bool = True,
    key: bytes | None = None,
    eligibility: bool = True,
) -> Trial:
    """A trial with a new key (random, or ``key`` where a test needs the same lists every run)."""
    t = Trial(tmp_path, block, extra, key, eligibility)
    return t.init() if init else t


def tamper(log: Path, *sql: str) -> None:
    """Run SQL on a log as someone with write access to the file would, triggers dropped."""
    con = sqlite3.connect(log, isolation_level=None)
    for name in [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
        con.execute(f"DROP TRIGGER {name}")
    for statement in sql:
        con.execute(statement)
    con.close()


def retag_all(log: Path, ring) -> None:
    """Rewrite the whole chain with the project's own tagging code and the key ``ring`` holds."""
    from advance_trial.randomisation.log import genesis_tag, row_tag

    con = sqlite3.connect(log, isolation_level=None)
    con.row_factory = sqlite3.Row
    for name in [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
        con.execute(f"DROP TRIGGER {name}")
    log_id = con.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()[0]
    prev = genesis_tag(ring, log_id)
    for r in [dict(x) for x in con.execute("SELECT * FROM events ORDER BY row")]:
        r["prev_tag"] = prev
        prev = row_tag(ring, r)
        con.execute("UPDATE events SET prev_tag = ?, tag = ? WHERE row = ?", (r["prev_tag"], prev, r["row"]))
    con.close()


def variant(block: str, extra: str = ""):
    """The ADVANCE config with its randomisation block replaced (no key: for design assessment)."""
    from advance_trial.config import parse_config

    return parse_config(config_text(block, extra=extra), "variant.yaml")


def sample_log(tmp_path: Path, cfg):
    """The ADVANCE sample's 104 men replayed into a new log with the demonstration key, each at noon of his
    randomisation date: ``(ring, keys folder, log path)``, the key folder a copy without its checkpoint."""
    import shutil
    import warnings
    from datetime import datetime

    import pandas as pd

    from advance_trial.randomisation import allocation as al
    from advance_trial.randomisation.key import DemonstrationKeyWarning, load_key
    from tests.conftest import DEMO_KEYS, SAMPLES

    keys = tmp_path / "keys"
    shutil.copytree(DEMO_KEYS, keys)
    for p in keys.glob("*.checkpoint.json"):
        p.unlink()
    log = tmp_path / "log" / "log.sqlite"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemonstrationKeyWarning)
        ring = load_key(keys, cfg.trial.id, cfg.randomisation.key_fingerprint)
        al.init_log(cfg, ring, log)
        men = pd.read_csv(SAMPLES / "advance-feasibility" / "participants.csv").sort_values("participant_id")
        for r in men.itertuples():
            noon = datetime.fromisoformat(f"{r.randomised_on}T12:00:00+00:00")
            al.allocate(cfg, ring, r.participant_id, r.site, log=log, now=noon)
    return ring, keys, log
