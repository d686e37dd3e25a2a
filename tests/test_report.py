"""The report (HTML, Markdown, Word), verify, and the blinded and shareable modes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.analysis import analysis_data
from advance_trial.errors import IntegrityError, UsageError
from advance_trial.pipeline import RunOptions, run
from advance_trial.verify import verify_outputs
from tests.conftest import SAMPLES, config_path

ADV = config_path("advance-feasibility")
DATA = SAMPLES / "advance-feasibility"
EXPECTED = Path(__file__).resolve().parent / "expected" / "advance-feasibility"


@pytest.fixture
def out(sample_run):
    return sample_run().out


def test_html_is_self_contained_and_complete(out):
    page = (out / "report.html").read_text()
    # CONSORT flow, accrual, retention by arm, attendance, engagement, forest, the plan's sensitivity and forecast
    assert page.count("<svg") == 8
    assert not re.search(r"<(script|link|img|iframe)\b", page) and "@import" not in page
    for words in ("Sequence generation", "Type of randomisation", "Allocation concealment", "Implementation",
                  "Prespecified progression criteria", "At least 70% of men followed up at 16 weeks",
                  "95% Wilson score interval", "Outcome analyses", "Progression criteria"):  # fmt: skip
        assert words in page, words
    assert 'style="color:#b42318">Not met' in page and 'style="color:#1e7b34">Met' in page


def test_markdown_and_word_carry_the_same_tables(out):
    md = (out / "report.md").read_text()
    assert "![Figure 1. Participant flow" in md and "| At least 70% of men followed up at 16 weeks |" in md
    import docx

    doc = docx.Document(str(out / "report.docx"))
    assert len(doc.inline_shapes) == 8 and len(doc.tables) >= 8
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Allocation concealment" in text and "Wilson" in text


def test_verify_passes_then_catches_a_touched_output(out, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    assert verify_outputs(copy).files > 30
    (copy / "progression.csv").write_text((copy / "progression.csv").read_text().replace("not_met", "met"))
    with pytest.raises(IntegrityError, match="progression.csv"):
        verify_outputs(copy)


def test_verify_catches_changed_inputs(tmp_path, shared_reruns):
    from advance_trial import pipeline

    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    pipeline.run(ADV, data, tmp_path / "out", options=RunOptions(report=False))  # remembered for verify
    with open(data / "followup.csv", "a") as fh:
        fh.write("")  # same bytes: still verifies
    assert verify_outputs(tmp_path / "out").files > 0
    lines = (data / "followup.csv").read_text().splitlines()
    lines[-1] = lines[-1].replace("completed", "missed") if "completed" in lines[-1] else lines[-1]
    (data / "followup.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(IntegrityError, match="inputs changed since the run: data/followup.csv"):
        verify_outputs(tmp_path / "out")


def _moved_inputs(out: Path, tmp_path: Path, **spec: str) -> Path:
    """A copy of ``out`` whose provenance says the run read ``spec``'s config or data folder."""
    import json

    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    prov = json.loads((copy / "provenance.json").read_text())
    prov["run"] |= spec
    (copy / "provenance.json").write_text(json.dumps(prov))
    return copy


def test_verify_names_a_changed_config_or_a_lost_data_file_without_repeating_the_run(out, tmp_path, monkeypatch):
    from advance_trial import pipeline

    def no_repeat(*args, **kwargs):
        raise AssertionError("the run was repeated over inputs that changed")

    monkeypatch.setattr(pipeline, "run", no_repeat)
    config = tmp_path / ADV.name
    config.write_text(ADV.read_text() + "# a comment\n")
    with pytest.raises(IntegrityError, match=r"inputs changed since the run: config/advance-feasibility.yaml$"):
        verify_outputs(_moved_inputs(out, tmp_path / "a", config=str(config)))
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "partners.csv").unlink()
    with pytest.raises(IntegrityError, match=r"inputs changed since the run: data/partners.csv$"):
        verify_outputs(_moved_inputs(out, tmp_path / "b", data=str(data)))
    shutil.copy(DATA / "partners.csv", data)  # the same bytes again: on to the repeat
    with pytest.raises(AssertionError, match="repeated"):
        verify_outputs(_moved_inputs(out, tmp_path / "c", data=str(data)))


def test_verify_needs_provenance(tmp_path):
    with pytest.raises(UsageError, match="no provenance.json"):
        verify_outputs(tmp_path)


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_text() for p in folder.iterdir() if p.suffix in (".csv", ".md", ".html", ".svg"))


def test_blinded_outputs_show_only_codes(tmp_path, sample_run):
    blinded = sample_run(blinded=True)
    folder = blinded.out
    text = _all_text(folder)
    for label in ("ADVANCE + treatment as usual", "Treatment as usual", "advance vs tau"):
        assert label not in text, label
    for p in folder.glob("*.csv"):
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        assert not df.isin(["advance", "tau"]).any().any(), p.name
    assert not any(folder.glob("dose*")) and not (folder / "attendance.svg").exists()
    assert not (folder / "engagement.csv").exists() and not (folder / "engagement.svg").exists()
    # a criterion on the intervention arm's change (or effect), beside coded tables, would name its code
    prog = pd.read_csv(folder / "progression.csv", dtype=str, keep_default_na=False)
    judged = prog[prog["metric"].str.startswith(("change.", "outcome."))]
    assert len(judged) == 2 and (judged["status"] == "withheld").all() and (judged["estimate"] == "").all()
    key = pd.read_csv(blinded.key)
    assert set(key["arm"]) == {"advance", "tau"} and set(key["code"]) == {"A", "B"}
    outcomes = pd.read_csv(folder / "outcomes.csv")
    assert set(outcomes["comparison"]) == {"A vs B"}
    assert not set(outcomes["analysis"]) & {"partially_nested", "cace"}
    # Table 1 and harms by code, in code order; no row only the intervention arm can fill
    harms = pd.read_csv(folder / "harms.csv")
    assert list(dict.fromkeys(harms["arm"])) == ["A", "B", "all"] and "any_related" not in set(harms["category"])
    baseline = pd.read_csv(folder / "baseline.csv")
    assert list(dict.fromkeys(baseline["arm"])) == ["A", "B", "all"]
    flow = pd.read_csv(folder / "consort.csv")
    assert not set(flow["stage"]) & {"received_any_session", "not_received", "discontinued", "met_threshold"}
    md = (folder / "report.md").read_text()
    assert re.search(r"\| Characteristic \| Arm A \(n=5\d\) \| Arm B \(n=5\d\) \|", md)
    assert "related to the intervention" not in md
    with pytest.raises(UsageError, match="kept apart"):
        run(ADV, DATA, tmp_path / "b2", options=RunOptions(blinded=True, key=str(tmp_path / "b2" / "key.csv")))


def test_blinded_comparison_is_first_code_minus_second():
    from advance_trial.config import load_config
    from advance_trial.data.canonical import read_canonical
    from advance_trial.output.blinding import blind_tables
    from advance_trial.pipeline import outcome_tables

    cfg = load_config(ADV)
    tables = outcome_tables(cfg, analysis_data(cfg, read_canonical(cfg, DATA)))
    plain = tables["outcomes"].data
    flipped = blind_tables(cfg, tables, {"advance": "Z", "tau": "Y"})["outcomes"].data
    a = plain[plain["analysis"] == "ancova"].iloc[0]
    b = flipped[flipped["analysis"] == "ancova"].iloc[0]
    assert b["comparison"] == "Y vs Z" and b["estimate"] == -a["estimate"] and b["ci_lower"] == -a["ci_upper"]
    ratio = flipped[flipped["effect"] == "rate_ratio"].iloc[0]
    orig = plain[plain["effect"] == "rate_ratio"].iloc[0]
    assert ratio["estimate"] == pytest.approx(1 / orig["estimate"]) and ratio["ci_upper"] == pytest.approx(
        1 / orig["ci_lower"]
    )


def test_shareable_outputs_suppress_small_counts(sample_run):
    folder = sample_run(shareable=True).out
    assert not (folder / "scores.csv").exists() and not (folder / "dose_participants.csv").exists()
    assert not (folder / "engagement.csv").exists()  # men by component are not yet cells of the structure
    assert not (folder / "change.csv").exists()  # nor men with both measures by arm
    prog = pd.read_csv(folder / "progression.csv", dtype=str, keep_default_na=False)
    assert (prog.loc[prog["metric"].str.startswith("change."), "status"] == "withheld").all()
    seen_suppressed = False
    for p in folder.glob("*.csv"):
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        for c in [c for c in df.columns if c == "n" or c.startswith("n_")]:
            values = set(df[c])
            assert not values & {"1", "2", "3", "4"}, (p.name, c)
            seen_suppressed |= "[c]" in values
    assert seen_suppressed
    reasons = pd.read_csv(folder / "retention_reasons.csv", dtype=str, keep_default_na=False)
    small = reasons[reasons["n"] == "[c]"]
    assert len(small) and (small["proportion"] == "").all()


def test_cli_run_report_verify(invoke, tmp_path, shared_reruns):
    # verify compares the command's outputs with the shared shareable run's (another run, made apart):
    # test_verify_passes_then_catches_a_touched_output repeats a run for real
    res = invoke("run", ADV, "--data", DATA, "--out", tmp_path / "o", "--shareable")
    assert res.exit_code == 0, res.output
    assert invoke("verify", tmp_path / "o").exit_code == 0
    (tmp_path / "o" / "recruitment.csv").write_text("tampered\n")
    bad = invoke("verify", tmp_path / "o")
    assert bad.exit_code == 5 and "recruitment.csv" in bad.output
    rep = invoke("report", ADV, "--data", DATA, "--out", tmp_path / "r", "--blinded")
    assert rep.exit_code == 0, rep.output
    assert {p.name for p in (tmp_path / "r").iterdir()} >= {"report.html", "report.md", "report.docx"}


def test_sample_outputs_match_the_expected_ones_committed(out):
    """CI re-runs the sample analyses and compares them with tests/expected: CSV cells that are both
    floating-point numbers within a relative 1e-9 (another CPU's kernels may change the last digits),
    everything else byte for byte."""
    from scripts.update_expected import differences

    names = sorted(p.name for p in EXPECTED.iterdir())
    assert len(names) > 20
    differ = {n: d for n in names if (d := differences((out / n).read_bytes(), (EXPECTED / n).read_bytes(), n))}
    assert differ == {}


@pytest.mark.parametrize(
    "new, old, same",
    [
        ("a,1.0000000001\n", "a,1.0000000002\n", True),  # 1e-10 relative
        ("a,1.00000001\n", "a,1.00000002\n", False),  # 1e-8 relative
        ("a,1\n", "a,1.0\n", False),  # an integer is text: byte for byte
        ("a,0.0\n", "a,1e-300\n", True),  # zero against a rounding residue
        ("a,x\n", "a,y\n", False),
        ("a,1.5\nb,2.5\n", "a,1.5\n", False),  # a row lost
        ("a,nan\n", "a,nan\n", True),
        ("a,inf\n", "a,1e308\n", False),
    ],
)
def test_expected_comparison_is_numeric_only_for_floats(new, old, same):
    from scripts.update_expected import differences

    assert (differences(new.encode(), old.encode(), "t.csv") == "") is same
    assert (differences(new.encode(), old.encode(), "t.md") == "") is (new == old)


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: {**p, "seed": 1},
        lambda p: {**p, "command": p["command"] + " --shareable"},
        lambda p: {**p, "packages": {**p["packages"], "numpy": "0.0.1"}},
        lambda p: {**p, "config": {**p["config"], "sha256": "0" * 64}},
        lambda p: {**p, "python": "2.7.18"},
    ],
    ids=["seed", "command", "packages", "config-hash", "python"],
)
def test_verify_catches_an_edited_provenance_field(out, tmp_path, edit, shared_reruns):
    import json

    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    prov = json.loads((copy / "provenance.json").read_text())
    (copy / "provenance.json").write_text(json.dumps(edit(prov)))
    with pytest.raises(IntegrityError, match="provenance fields"):
        verify_outputs(copy)


@pytest.mark.parametrize(
    "body", ["{not json", "[]", '{"run": {}}', '{"run": {"config": 1}, "outputs": {}, "inputs": {}}']
)
def test_a_malformed_provenance_is_an_integrity_failure(out, tmp_path, body):
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    (copy / "provenance.json").write_text(body)
    with pytest.raises(IntegrityError) as err:
        verify_outputs(copy)
    assert err.value.exit_code == 5


def test_verify_catches_a_file_added_in_a_subfolder(out, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    (copy / "extra").mkdir()
    (copy / "extra" / "notes.txt").write_text("not from the run")
    with pytest.raises(IntegrityError, match="extra/notes.txt"):
        verify_outputs(copy)


def test_verify_works_from_another_folder(out, tmp_path, monkeypatch, shared_reruns):
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    monkeypatch.chdir(tmp_path)
    assert verify_outputs("results").files > 30
