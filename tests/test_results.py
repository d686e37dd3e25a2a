"""The table writer and provenance."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd

from advance_trial import __version__
from advance_trial.output.provenance import build_provenance, write_provenance
from advance_trial.output.tables import Table, format_number, to_markdown, write_tables


def table() -> Table:
    df = pd.DataFrame({"site": ["all", "london"], "n": [104, 40], "proportion": [104 / 147, 0.5]})
    return Table("recruitment", df, "Recruitment", ("Wilson 95% interval.", "Denominator: eligible men."))


def test_csv_unrounded_markdown_rounded(tmp_path):
    written = write_tables([table()], tmp_path)
    csv = (tmp_path / "recruitment.csv").read_text()
    assert csv == "site,n,proportion\nall,104,0.7074829931972789\nlondon,40,0.5\n"
    md = (tmp_path / "recruitment.md").read_text()
    assert "| all | 104 | 0.707 |" in md and "| london | 40 | 0.500 |" in md
    assert md.rstrip().endswith("Denominator: eligible men.")
    assert written["recruitment.csv"] == hashlib.sha256(csv.encode()).hexdigest()


def test_writing_twice_is_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert write_tables([table()], a) == write_tables([table()], b)


def test_markdown_alignment_and_escaping():
    md = to_markdown(Table("t", pd.DataFrame({"label": ["a|b"], "x": [1.23456]})))
    assert md.splitlines()[:3] == ["| label | x |", "| --- | ---: |", "| a\\|b | 1.235 |"]


def test_format_number():
    assert [format_number(v) for v in (None, float("nan"), 3.0, 0.12345, "x", pd.NA)] == ["", "", "3", "0.123", "x", ""]


def test_provenance_record(advance_cfg, tmp_path):
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    rec = build_provenance(advance_cfg, {"participants.csv": "ab"}, {"recruitment.csv": "cd"}, now=when)
    assert rec["toolkit"] == {"name": "advance-trial", "version": __version__}
    assert rec["config"]["id"] == "advance-feasibility" and rec["config"]["version"] == "1.0.0"
    assert rec["config"]["sha256"] == advance_cfg.source.sha256
    assert rec["seed"] == advance_cfg.randomisation.assess_seed
    assert rec["inputs"] == {"participants.csv": "ab"} and rec["created_utc"] == "2026-01-02T03:04:05Z"
    assert rec["packages"]["pandas"] == pd.__version__
    path = write_provenance(rec, tmp_path)
    assert json.loads(path.read_text()) == rec
