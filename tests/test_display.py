"""The display layer: labelled tables and cells as a paper writes them, agreeing with the CSV outputs."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from advance_trial.intervals import proportion_ci
from advance_trial.output.display import display, estimate, interval, median, proportion, share
from advance_trial.output.tables import Table
from tests.conftest import SAMPLES, config_path

ADV = config_path("advance-feasibility")
DATA = SAMPLES / "advance-feasibility"


@pytest.fixture
def out(sample_run):
    return sample_run().out


def test_the_issues_example_cell():
    # the issue's own example: 38 of 54, Wilson 95% (R: prop.test(38, 54, correct = FALSE)$conf.int
    # = 0.5717243 0.8086257)
    e = proportion_ci(38, 54, "wilson", 0.95)
    assert proportion(38, 54, e.estimate, e.ci_lower, e.ci_upper, 1) == "38/54 (70.4%; 57.2 to 80.9)"


def test_cells():
    assert interval(-20.31, 16.84, 1) == "-20.3 to 16.8"  # never "-20.3-16.8"
    assert estimate(-1.94, -20.31, 16.84, 1) == "-1.9 (-20.3 to 16.8)"
    assert estimate(0.2126, 0.0206, 0.3837, 1, 100.0) == "21.3 (2.1 to 38.4)"
    assert estimate(float("nan"), 0, 1, 2) == ""
    assert median(4.0, 2.25, 9.0, 1) == "4.0 [2.2, 9.0]"  # C's (and R's sprintf) rounding of 2.25
    assert share(14, 14 / 54, 1) == "14 (25.9%)"
    # a shareable run's suppressed count stays as it is, and takes its percentage and interval with it
    assert proportion("[c]", 20, float("nan"), float("nan"), float("nan"), 1) == "[c]/20"
    assert share("[c]", float("nan"), 1) == "[c]"
    assert proportion(0, 0, float("nan"), float("nan"), float("nan"), 1) == "0/0"


def _tables(folder):
    from advance_trial.config import load_config

    cfg = load_config(ADV)
    names = ["recruitment", "allocation", "recruitment_rate", "retention", "retention_reasons",
             "retention_difference", "partner_retention", "dose", "dose_summary", "outcomes", "harms", "progression",
             "plan", "baseline"]  # fmt: skip
    return cfg, {n: pd.read_csv(folder / f"{n}.csv", keep_default_na=False, na_values=[""]) for n in names}


RAW = re.compile(r"\b(n_[a-z_]+|ci_(lower|upper|method)|proportion|median_[a-z]+|std_difference|judge_on)\b")


def test_no_raw_names_or_ids_in_the_display_tables(out):
    cfg, tables = _tables(out)
    ids = {"advance", "tau", "week16", "any_session", "half_of_compulsory", "abi_physical", "not_met", "london"}
    for name, df in tables.items():
        shown = display(cfg, Table(name, df, name))
        cells = {str(v) for v in shown.data.to_numpy().ravel()} | {str(c) for c in shown.data.columns}
        assert not cells & ids, (name, cells & ids)
        assert not any(RAW.search(c) for c in shown.data.columns), (name, list(shown.data.columns))
        assert not any(RAW.search(n) for n in shown.footnotes), (name, shown.footnotes)
        # no bare proportion such as 0.707: a share is written as a percentage
        assert not any(re.fullmatch(r"0\.\d{3,}", c) for c in cells), name


def test_display_cells_agree_with_the_csv(out):
    cfg, tables = _tables(out)
    ret = tables["retention"]
    shown = display(cfg, Table("retention", ret, "Retention")).data
    row = ret[(ret["arm"] == "advance") & (ret["site"] == "all")].iloc[0]
    cell = shown.loc[shown["Site or cycle"] == "All sites", "ADVANCE + treatment as usual"].iloc[0]
    lo, hi = 100 * row["ci_lower"], 100 * row["ci_upper"]
    assert cell == f"{row['n_retained']}/{row['n_randomised']} ({100 * row['proportion']:.1f}%; {lo:.1f} to {hi:.1f})"
    harms = display(cfg, Table("harms", tables["harms"], "Harms")).data
    any_men = harms[(harms["About"] == "Men") & (harms["Category"] == "Any event")].iloc[0]
    src = tables["harms"][(tables["harms"]["category"] == "any") & (tables["harms"]["about"] == "men")]
    for _, r in src.iterrows():
        head = {"advance": "ADVANCE + treatment as usual", "tau": "Treatment as usual", "all": "Overall"}[r["arm"]]
        assert any_men[f"{head} (n={r['n']})"].startswith(f"{r['n_with_event']} (")
        assert any_men[f"{head} (n={r['n']})"].endswith(f"; events {r['events']}")


def test_report_tables_and_figures_are_numbered_and_captioned(out):
    import docx

    md = (out / "report.md").read_text()
    numbers = [int(n) for n in re.findall(r"^### Table (\d+)\. ", md, flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 12
    figures = [int(n) for n in re.findall(r"^\*Figure (\d+)\. ", md, flags=re.M)]
    assert figures == [1, 2, 3, 4, 5, 6, 7, 8]  # with the sensitivity heat map and the forecast (issue 35)
    html = (out / "report.html").read_text()
    assert html.count("<caption>Table ") == len(numbers) and html.count("<figcaption>Figure ") == 8
    doc = docx.Document(str(out / "report.docx"))
    captions = [p for p in doc.paragraphs if p.style.name == "Caption"]
    assert [p.text for p in captions if p.text.startswith("Table ")][:4] == [  # the summary's two first
        "Table 1. Key figures",
        "Table 2. Progression criteria",
        "Table 3. Recruitment: men randomised of men eligible",
        "Table 4. Allocation by site and arm",
    ]
    # each number is a SEQ field, as Word's Insert Caption writes it (its list of tables finds them)
    body = doc.element.body.xml
    assert body.count("SEQ Table") == len(numbers) and body.count("SEQ Figure") == 8
