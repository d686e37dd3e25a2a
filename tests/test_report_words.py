"""The report a committee takes as it is (issue 34): every word a label, never an id (scanned in every
rendered output of the three samples); figures a reader understands; a Word file and an HTML page with a
title page, contents, a summary first, page numbers; the config's report block."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.config.loader import load_config, parse_config
from advance_trial.errors import ConfigError
from advance_trial.output.display import comparison, group_labels
from advance_trial.output.render.chart import Shape
from advance_trial.pipeline import run
from tests.conftest import SAMPLES, TRIALS, SampleRun, config_path
from tests.idscan import ids_of, leaks, words_of


def chart_width(t: object) -> float:
    from advance_trial.output.render.chart import text_width

    return text_width(t.words, t.size, t.bold)  # type: ignore[attr-defined]


RENDERED = (".html", ".md", ".docx", ".svg")


@pytest.fixture
def reports(sample_run: Callable[..., SampleRun]) -> dict[str, Path]:
    """Each sample's report (and figures), as `run` writes them."""
    return {trial: sample_run(trial).out for trial in TRIALS}


@pytest.mark.parametrize("trial", TRIALS)
def test_no_id_or_snake_case_name_in_any_rendered_output(reports: dict[str, Path], trial: str) -> None:
    cfg = load_config(config_path(trial))
    ids, words = ids_of(cfg, SAMPLES / trial), words_of(cfg)
    files = [f for f in sorted(reports[trial].iterdir()) if f.name.startswith("report.") or f.suffix == ".svg"]
    assert {f.suffix for f in files} == set(RENDERED) and len(files) >= 8
    found = [leak for f in files for leak in leaks(f, ids, words)]
    assert not found, "\n".join(found[:20])


# the closed report with the committee's cut-off after the sample's last date: the run of
# tests/test_committee_report.py, shared (the same report with its cut-off stated)
@pytest.mark.parametrize("options", [{"blinded": True}, {"shareable": True},
                                     {"closed": True, "data_cut_off": "2020-07-31"},
                                     {"blinded": True, "closed": True}])  # fmt: skip
def test_no_id_in_blinded_shareable_or_closed_reports(
    sample_run: Callable[..., SampleRun], options: dict[str, bool]
) -> None:
    trial = "advance-feasibility"
    cfg = load_config(config_path(trial))
    out = sample_run(trial, **options).out
    files = [f for f in sorted(out.iterdir()) if f.name.startswith("report.") or f.suffix == ".svg"]
    found = [leak for f in files for leak in leaks(f, ids_of(cfg, SAMPLES / trial), words_of(cfg))]
    assert not found, "\n".join(found[:20])


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scan is no test that cannot fail: ids and snake_case names in each kind of file are found."""
    cfg = load_config(config_path("advance-feasibility"))
    ids, words = ids_of(cfg, SAMPLES / "advance-feasibility"), words_of(cfg)
    (tmp_path / "a.html").write_text("<html><style>.week16{}</style><p>Followed up at week16</p></html>")
    (tmp_path / "b.md").write_text("Effects compare advance vs tau ![x](forest.svg)\n")
    (tmp_path / "c.svg").write_text('<svg><g id="abi_physical"><text>Group bristol-c1</text></g></svg>')
    with zipfile.ZipFile(tmp_path / "d.docx", "w") as z:
        z.writestr("word/document.xml", "<w:t>see trial.target_sample_size</w:t><w:instrText> PAGE </w:instrText>")
    found = {f.suffix: leaks(f, ids, words) for f in sorted(tmp_path.iterdir())}
    assert len(found[".html"]) == 1 and "week16" in found[".html"][0]
    assert len(found[".md"]) == 2 and "'advance'" in found[".md"][0] and "'tau'" in found[".md"][1]  # as written
    assert len(found[".svg"]) == 1 and "bristol-c1" in found[".svg"][0]  # an attribute is not text
    assert len(found[".docx"]) == 1 and "target_sample_size" in found[".docx"][0]


def test_svg_figures_keep_their_text_as_text(reports: dict[str, Path]) -> None:
    svg = (reports["advance-feasibility"] / "forest.svg").read_text()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "Intention to treat" in texts and "ANCOVA, complete cases" in texts
    assert "ABI physical abuse (mean item score)" in texts
    assert "DejaVuSans-" not in svg  # no glyphs drawn as paths


def test_forest_plot_has_a_panel_per_outcome_scale_risk_differences_in_points() -> None:
    from advance_trial.output.render.figures import forest_plot

    cfg = load_config(config_path("advance-feasibility"))
    rows = pd.DataFrame([
        {"outcome": "abi_physical", "analysis": "ancova", "effect": "mean_difference", "estimate": -0.08,
         "ci_lower": -0.25, "ci_upper": 0.08, "comparison": "advance vs tau", "threshold": ""},
        {"outcome": "abi_physical", "analysis": "cace", "effect": "mean_difference", "estimate": -0.2,
         "ci_lower": -0.7, "ci_upper": 0.3, "comparison": "advance vs tau", "threshold": "any_session"},
        {"outcome": "substance_days", "analysis": "ancova", "effect": "mean_difference", "estimate": -1.6,
         "ci_lower": -3.7, "ci_upper": 0.5, "comparison": "advance vs tau", "threshold": ""},
        {"outcome": "physical_more_than_rarely", "analysis": "unadjusted", "effect": "risk_difference",
         "estimate": 0.085, "ci_lower": -0.17, "ci_upper": 0.335, "comparison": "advance vs tau", "threshold": ""},
    ])  # fmt: skip
    c = forest_plot(cfg, rows)
    scales = dict(c.scales)
    assert list(scales) == ["x0", "x1", "x2"]  # ABI scores, days of use, risk differences: no shared axis
    labels = [" ".join(t.words for t in c.texts(f"x{i}label")) for i in range(3)]
    assert "Abusive Behavior Inventory" in labels[0] and "1 to 5" in labels[0]
    assert "0 to 28" in labels[1]
    assert labels[2].startswith("Risk difference, percentage points")
    risk = scales["x2"]
    assert risk.lo <= -17 and risk.hi >= 33.5 and not risk.log  # drawn at 100 times the proportion
    ticks = [t.words for t in c.texts("tick") if t.y > c.texts("x2label")[0].y - 20 and t.y < c.texts("x2label")[0].y]
    assert ticks == ["\u221210", "0", "10", "20", "30"]  # round, within the data, a minus sign
    first = c.texts("heading0") + c.texts("row0")
    shown = [" ".join(t.words for t in first if t.y == y) for y in sorted({t.y for t in first})]
    assert shown == [
        "ABI physical abuse (mean item score)",
        "ANCOVA, complete cases",
        "Complier average causal effect (Attended at",
        "least one session)",
    ]
    assert all(t.bold for t in c.texts("heading0")) and not any(t.bold for t in c.texts("row0"))
    assert min(t.x for t in c.texts("row0")) > max(t.x for t in c.texts("heading0"))  # indented
    legend = [t.words for t in c.texts("legend")]
    assert legend[0] == "Intention to treat" and legend[1].startswith("Complier average causal effect")


def test_forest_plot_draws_ratios_on_a_log_axis_and_skips_withheld_cells() -> None:
    import math

    from advance_trial.output.render.figures import forest_images, forest_plot

    cfg = load_config(config_path("advance-feasibility"))
    rows = pd.DataFrame([
        {"outcome": "physical_more_than_rarely", "analysis": "logistic", "effect": "odds_ratio", "estimate": 1.28,
         "ci_lower": 0.34, "ci_upper": 4.79, "comparison": "advance vs tau", "threshold": ""},
        {"outcome": "physical_acts", "analysis": "negative_binomial", "effect": "rate_ratio", "estimate": 0.9,
         "ci_lower": 0.71, "ci_upper": 1.14, "comparison": "advance vs tau", "threshold": ""},
        {"outcome": "abi_physical", "analysis": "ancova", "effect": "mean_difference", "estimate": "<5",
         "ci_lower": "<5", "ci_upper": "<5", "comparison": "advance vs tau", "threshold": ""},
    ])  # fmt: skip
    c = forest_plot(cfg, rows)
    ((role, scale),) = c.scales
    assert scale.log and scale.lo < 0.34 and scale.hi > 4.79
    assert scale(1.0) - scale(0.5) == pytest.approx(scale(2.0) - scale(1.0))  # a ratio and its inverse alike
    assert [t.words for t in c.texts("tick")] == ["0.5", "1", "2", "4"]
    assert "Odds ratio or rate ratio (log scale)" in c.texts("x0label")[0].words
    assert "ABI physical abuse (mean item score)" not in [t.words for t in c.texts()]  # withheld: not drawn
    assert len(c.texts("legend")) == 1  # no complier average causal effect shown, none in the legend
    rows.loc[0, ["ci_lower", "ci_upper"]] = [0.0, float("inf")]  # a separated model's interval
    c = forest_plot(cfg, rows)
    ((_, scale),) = c.scales
    assert math.isfinite(scale.lo) and math.isfinite(scale.hi) and scale.lo > 0
    xs = [x for s in c.items if isinstance(s, Shape) for x, _ in s.points]
    assert all(math.isfinite(x) and 0 <= x <= c.width for x in xs)
    assert "inf" not in forest_images(cfg, rows)["svg"].decode()


def test_forest_plot_of_no_estimable_row_says_so() -> None:
    """A run in which no analysis could be estimated (an arm never followed up) still draws its figure."""
    from advance_trial.output.render.figures import forest_plot

    cfg = load_config(config_path("advance-feasibility"))
    rows = pd.DataFrame(
        [
            {
                "outcome": "abi_physical",
                "analysis": "ancova",
                "effect": "mean_difference",
                "estimate": None,
                "ci_lower": None,
                "ci_upper": None,
                "comparison": "advance vs tau",
            }
        ]
    )
    for frame in (rows, rows.iloc[:0]):
        c = forest_plot(cfg, frame)
        assert [t.words for t in c.texts("message")] == [
            "No outcome estimate: see the outcome table for each analysis's reason"
        ]
        assert not c.scales and not c.texts("legend") and c.texts("title")[0].words == "Outcome estimates"
        message = c.texts("message")[0]
        assert chart_width(message) < c.width  # fits the figure


def test_accrual_figure_draws_the_target_its_caption_promises(reports: dict[str, Path]) -> None:
    from advance_trial.output.render.figures import accrual_plot

    cfg = load_config(config_path("advance-digital"))
    assert cfg.trial.target_sample_size == 60
    monthly = pd.read_csv(reports["advance-digital"] / "recruitment_monthly.csv", dtype={"site": str})
    c = accrual_plot(cfg, monthly)
    ys = dict(c.scales)["y"]
    dashed = [s for s in c.items if isinstance(s, Shape) and s.dash and s.stroke == "#b42318"]
    target, sample = dashed  # the line across the axes, and the legend's sample of it
    assert [p[1] for p in target.points] == [pytest.approx(ys(60))] * 2 and ys.hi > 60
    assert "Target: 60 men" in [t.words for t in c.texts("legend")]
    assert [t.words for t in c.texts("target")] == ["Target sample size: 60 men"]
    months = sorted(monthly["month"].astype(str).unique())
    assert [t.words for t in c.texts("tick") if t.angle == 30] == months[:: max(1, len(months) // 8)]
    assert "against the target sample size (60 men)" in (reports["advance-digital"] / "report.md").read_text()
    no_target = (reports["advance-feasibility"] / "report.md").read_text()  # the trial set none: none promised
    assert "Cumulative accrual by site and in all*" in no_target and "target sample size (" not in no_target


def _docx_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("word/") and n.endswith(".xml")}


def test_word_file_has_title_page_header_footer_contents_and_summary_first(reports: dict[str, Path]) -> None:
    import docx

    path = reports["advance-feasibility"] / "report.docx"
    xml = _docx_xml(path)
    body = xml["word/document.xml"]
    footers = " ".join(v for k, v in xml.items() if "footer" in k)
    headers = " ".join(v for k, v in xml.items() if "header" in k)
    assert " PAGE " in footers and " NUMPAGES " in footers
    assert ">Page <" in footers.replace(' xml:space="preserve"', "")
    assert "ADVANCE feasibility randomised controlled trial (v1.0.0): open report" in headers
    assert "Confidential: for the trial steering committee" in footers
    assert "w:titlePg" in body  # no header or footer on the title page
    assert ' TOC \\o "1-3"' in body
    doc = docx.Document(str(path))
    text = [p.text for p in doc.paragraphs if p.text]
    assert text[0] == "ADVANCE feasibility randomised controlled trial (v1.0.0)"
    assert "Data cut-off: 2020-06-30." in text[:6] and "Open report" in text[:6]
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:3] == ["Summary", "Trial", "Methods"]
    first = doc.tables[0].rows[0].cells[0].text, doc.tables[1].rows[0].cells[0].text
    assert first == ("Measure", "Criterion")  # the key figures, then the progression criteria
    # the progression section points to the summary rather than repeating the table
    assert "The progression criteria and their status are in the summary: Table 2." in text
    # notes smaller than the tables' 8-point text
    assert re.search(r'<w:sz w:val="13"/></w:rPr><w:t xml:space="preserve">Men randomised of the men eligible', body)
    assert "<w:i/>" not in body.split("Men randomised of the men eligible")[0][-300:]


def test_landscape_only_where_a_section_has_a_wide_table(reports: dict[str, Path]) -> None:
    import docx

    doc = docx.Document(str(reports["advance-feasibility"] / "report.docx"))
    orientations = [s.orientation for s in doc.sections]
    # portrait and landscape alternate, never two sections of one orientation in a row
    assert all(a != b for a, b in zip(orientations, orientations[1:], strict=False))
    assert len(doc.sections) <= 7


def test_html_prints_headings_with_what_follows_and_page_numbers(reports: dict[str, Path]) -> None:
    page = (reports["advance-feasibility"] / "report.html").read_text()
    assert "h2,h3{break-after:avoid" in page and ".keep{break-inside:avoid" in page
    assert 'content:"Page " counter(page) " of " counter(pages)' in page
    assert '<header class="title-page"><h1>ADVANCE feasibility randomised controlled trial (v1.0.0)</h1>' in page
    assert '<nav class="toc"><h2>Contents</h2>' in page
    body = page.split("</nav>", 1)[1]
    # every heading is wrapped with the block after it
    for m in re.finditer(r"<h([23]) id=\"s\d+\">", body):
        before = body[: m.start()]
        assert before.rstrip().endswith(('<div class="keep">', "</h2>", "</h3>")), body[m.start() : m.start() + 80]
    assert body.index(">Summary</h2>") < body.index(">Trial</h2>")


def test_a_heading_never_ends_a_printed_page_wrapper_holds_its_table(reports: dict[str, Path]) -> None:
    page = (reports["advance-feasibility"] / "report.html").read_text()
    kept = re.findall(r'<div class="keep">(.*?)(?=\n)', page)
    assert kept and all(not k.rstrip().endswith(("</h2>", "</h3>")) for k in kept)


# ---------------------------------------------------------------------------- the config's report block

BASE = config_path("advance-feasibility").read_text()


def _with(block: str) -> str:
    return BASE + "\n" + block


def test_report_block_is_validated_naming_each_key() -> None:
    cases = {
        "report:\n  sections: [summary, flow, flow]\n": "report.sections[2]: 'flow' is listed twice",
        "report:\n  sections: [summary, chapter]\n": "report.sections[1]: 'chapter' is not allowed",
        "report:\n  figures: [forest, pie]\n": "report.figures[1]: 'pie' is not allowed",
        "report:\n  colour: red\n": "report.colour: unknown key",
        "report:\n  closed: 'yes'\n": "report.closed:",
        "report:\n  title: ''\n": "report.title:",
        "report:\n  confidentiality: 3\n": "report.confidentiality:",
        "report:\n  sections: []\n": "report.sections:",
        "report:\n  sections: [summary, trial, checklist]\n": "report.sections: lists no results section",
    }
    for block, message in cases.items():
        with pytest.raises(ConfigError) as err:
            parse_config(_with(block))
        assert message in str(err.value), (block, str(err.value))


def test_closed_report_refused_for_a_single_arm_study() -> None:
    text = config_path("advance-digital").read_text() + "\nreport:\n  closed: true\n"
    with pytest.raises(ConfigError, match=r"report\.closed: a closed report splits the results by arm"):
        parse_config(text)


def test_report_block_chooses_sections_order_figures_title_and_confidentiality(tmp_path: Path) -> None:
    cfg_file = tmp_path / "trial.yaml"
    cfg_file.write_text(_with(
        "report:\n  title: Report to the trial steering committee\n"
        "  confidentiality: Confidential - TSC members only\n"
        "  sections: [summary, progression, recruitment, retention, trial]\n"
        "  figures: [accrual]\n"))  # fmt: skip
    out = tmp_path / "out"
    run(cfg_file, SAMPLES / "advance-feasibility", out)
    md = (out / "report.md").read_text()
    assert md.startswith("# Report to the trial steering committee (v1.0.0)\n\nADVANCE feasibility randomised")
    assert "**Confidential - TSC members only**" in md
    heads = re.findall(r"^## (.+)$", md, flags=re.M)
    assert heads == ["Summary", "Progression criteria", "Recruitment", "Retention", "Trial"]
    assert md.count("![") == 1 and "(accrual.svg)" in md  # only the figure asked for
    assert "Methods" not in heads and "Appendix: reporting checklist" not in heads
    assert "Confidential - TSC members only" in " ".join(_docx_xml(out / "report.docx").values())


def test_the_documented_closed_dmc_report_config(tmp_path: Path) -> None:
    """docs/reports.md's example report block makes a closed report for the DMC."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "reports.md").read_text()
    block = re.search(r"```yaml\n(report:\n.*?)```", doc, flags=re.S)
    assert block is not None
    cfg_file = tmp_path / "dmc.yaml"
    cfg_file.write_text(_with(block.group(1)))
    out = tmp_path / "out"
    run(cfg_file, SAMPLES / "advance-feasibility", out)
    md = (out / "report.md").read_text()
    heads = re.findall(r"^##+ (.+)$", md, flags=re.M)
    assert "Open report" in heads and "Closed report" in heads and heads[0] == "Summary"
    assert "Closed report for the data monitoring committee" in md.split("## Summary")[0]
    summary = md.split("## Summary")[1].split("\n## ")[0]
    assert "Table 2. Progression criteria" in summary
    assert "Substance use in the intervention arm" not in summary  # no criterion on an outcome in the open summary
    assert "Attended at least one session" not in summary  # nor the dose of the arm offered sessions
    provenance = (out / "provenance.json").read_text()
    assert '"closed": false' in provenance  # the option was not given: the config made it closed


# ---------------------------------------------------------------------------- words


def test_groups_read_as_cycle_and_site_never_as_ids() -> None:
    cfg = load_config(config_path("advance-feasibility"))
    assert group_labels(cfg, ["bristol-c1", "wolverhampton-c3"]) == {
        "bristol-c1": "Cycle 1, Bristol",
        "wolverhampton-c3": "Cycle 3, Wolverhampton",
    }
    assert group_labels(cfg, ["x9", "london-c1"]) == {"x9": "Group 1", "london-c1": "Cycle 1, London"}
    assert group_labels(cfg, ["london-c7"]) == {"london-c7": "Group 1"}  # no such cycle: numbered
    cran = load_config(config_path("cranstoun-dvip"))
    site = cran.sites[0]
    assert group_labels(cran, [f"{site.id}-g2"]) == {f"{site.id}-g2": f"{site.label}, group 2"}


def test_comparisons_in_the_arms_labels() -> None:
    cfg = load_config(config_path("advance-feasibility"))
    assert comparison(cfg, "advance vs tau") == "ADVANCE + treatment as usual vs Treatment as usual"
    digital = load_config(config_path("advance-digital"))
    arm = digital.arms[0]
    assert comparison(digital, f"{arm.id}: change") == f"{arm.label}: change from baseline"


def test_dose_table_leaves_medians_repeated_for_every_threshold_to_the_dose_summary(reports: dict[str, Path]) -> None:
    md = (reports["advance-feasibility"] / "report.md").read_text()
    dose = md.split("Men meeting each dose threshold")[1].split("### Table")[0]
    assert "Sessions, median" not in dose and "medians and quartiles in the next table" in dose
    assert "Dose: medians and quartiles" in md.split("Men meeting each dose threshold")[1]


def test_dose_table_keeps_medians_that_differ_by_threshold() -> None:
    from advance_trial.output.display import display
    from advance_trial.output.tables import Table

    cfg = load_config(config_path("advance-feasibility"))
    row = {"rule": "", "arm": "advance", "cycle": "all", "site": "all", "n": 10, "n_met": 5, "proportion": 0.5,
           "ci_lower": 0.2, "ci_upper": 0.8, "ci_method": "wilson", "median_sessions": 4.0, "q1_sessions": 2.0,
           "q3_sessions": 6.0, "median_hours": 8.0, "q1_hours": 4.0, "q3_hours": 12.0}  # fmt: skip
    same = pd.DataFrame([{"threshold": "any_session", **row}, {"threshold": "half_of_compulsory", **row}])
    differ = same.assign(median_sessions=[4.0, 9.0])
    assert "Sessions, median [Q1, Q3]" not in display(cfg, Table("dose", same, "Dose")).data
    assert "Sessions, median [Q1, Q3]" in display(cfg, Table("dose", differ, "Dose")).data


def test_plan_notes_name_the_interval_method_and_timepoint_in_words(reports: dict[str, Path]) -> None:
    md = (reports["advance-feasibility"] / "report.md").read_text()
    assert "retained at 16 weeks after randomisation" in md and "lower limit (Wilson score interval)" in md
    assert "(wilson)" not in md and "week16" not in md
