"""Outputs carry no payload: CSV cells a spreadsheet would run, HTML or lines injected into Markdown, mathtext."""

from __future__ import annotations

import csv
import io
import shutil

import pandas as pd
import pytest

from advance_trial.output.tables import Table, neutralise, to_csv_bytes, to_markdown
from tests.conftest import SAMPLES, config_path

PAYLOADS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "=DDE(1)", "-2+3", "\tTAB", "\rCR"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_cell_is_neutralised_and_numbers_are_not(payload):
    df = pd.DataFrame({"detail": [payload, "plain"], "estimate": [-1.5, 2.0], "n": [-3, 4]})
    rows = list(csv.reader(io.StringIO(to_csv_bytes(df).decode(), newline="")))
    assert rows[1][0] == "'" + payload.replace("\r", "\n") and rows[2][0] == "plain"  # a bare CR breaks a CSV row
    assert [r[1] for r in rows[1:]] == ["-1.5", "2.0"] and [r[2] for r in rows[1:]] == ["-3", "4"]
    assert neutralise("plain") == "plain"


def test_numbers_in_a_column_mixing_numbers_and_text_are_not_neutralised():
    # found by trying: a shareable run withholds some estimates as "", the column becomes object,
    # and every negative estimate was written as '-0.08
    df = pd.DataFrame({"estimate": pd.Series([-0.25, "", 1.5, "-1"], dtype=object)})
    rows = list(csv.reader(io.StringIO(to_csv_bytes(df).decode(), newline="")))
    assert [r[0] for r in rows[1:]] == ["-0.25", "", "1.5", "'-1"]


def test_markdown_escapes_html_and_keeps_each_value_on_its_line():
    df = pd.DataFrame({"reason": ["<script>alert(1)</script>", "two\n## lines | and a pipe"], "n": [1, 2]})
    md = to_markdown(Table("t", df, "Title <b>x</b>", ("note <img src=x onerror=alert(1)>",)))
    assert "<script>" not in md and "<img" not in md and "<b>" not in md
    assert "&lt;script>" in md and "\n## lines" not in md and "two ## lines \\| and a pipe" in md
    assert len([line for line in md.splitlines() if line.startswith("|")]) == 4  # header, rule, two rows


def test_a_reason_with_payloads_neither_stops_run_nor_reaches_the_outputs_raw(tmp_path):
    from advance_trial.pipeline import run

    data = tmp_path / "data"
    shutil.copytree(SAMPLES / "advance-feasibility", data, ignore=shutil.ignore_patterns("site-exports"))
    text = (data / "screening.csv").read_text()
    evil = '"=HYPERLINK(""http://x"") $\\frac{a}{b}$ <script>x</script>"'
    (data / "screening.csv").write_text(text.replace("no intimate partner abuse in the past year", evil, 1))
    result = run(config_path("advance-feasibility"), data, tmp_path / "out")
    consort = (tmp_path / "out" / "consort.csv").read_text()
    assert "'=HYPERLINK" in consort and "\n=HYPERLINK" not in consort and ",=HYPERLINK" not in consort
    assert "<script>" not in (tmp_path / "out" / "consort.md").read_text()
    assert "<script>" not in (tmp_path / "out" / "report.md").read_text()
    assert "consort.svg" in result.outputs
