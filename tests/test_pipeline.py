"""``run``: every contract table, figures, provenance; byte-identical reruns; all three configs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from advance_trial.errors import IntegrityError
from advance_trial.pipeline import run
from tests.conftest import SAMPLES, TRIALS, config_path

CONTRACT = {
    "recruitment.csv": ["site", "n_screened", "n_eligible", "n_randomised", "proportion", "ci_lower", "ci_upper"],
    "allocation.csv": ["site", "arm", "n"],
    "retention.csv": ["timepoint", "arm", "site", "n_randomised", "n_retained", "proportion", "ci_lower", "ci_upper",
                      "ci_method"],
    "partner_retention.csv": ["timepoint", "arm", "site", "n_randomised", "n_retained", "proportion", "ci_lower",
                              "ci_upper", "ci_method"],
    "dose.csv": ["threshold", "arm", "cycle", "n", "n_met", "proportion", "ci_lower", "ci_upper", "median_sessions",
                 "median_hours"],
    "progression.csv": ["criterion", "metric", "estimate", "ci_lower", "ci_upper", "rule", "status"],
    "consort.csv": ["stage", "arm", "n"],
    "outcomes.csv": ["outcome", "timepoint", "analysis", "effect", "estimate", "ci_lower", "ci_upper", "n_analysed"],
}  # fmt: skip


@pytest.fixture
def advance_out(sample_run):
    return sample_run().out


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_tables_and_columns(advance_out, name):
    df = pd.read_csv(advance_out / name, dtype=str, keep_default_na=False)
    assert [c for c in CONTRACT[name] if c not in df.columns] == []
    assert len(df) > 0


def test_figures_and_provenance(advance_out):
    for stem in ("consort", "attendance", "forest"):
        assert (advance_out / f"{stem}.svg").read_bytes().startswith(b"<?xml")
        assert (advance_out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<dc:date>" not in (advance_out / "consort.svg").read_bytes()
    prov = json.loads((advance_out / "provenance.json").read_text())
    assert prov["config"]["id"] == "advance-feasibility" and prov["config"]["version"] == "1.0.0"
    assert set(prov["inputs"]) >= {"data/participants.csv", "config/advance-feasibility.yaml"}
    assert "recruitment.csv" in prov["outputs"] and prov["created_utc"].endswith("Z")


def test_rerun_is_byte_identical(advance_out, tmp_path):
    run(config_path("advance-feasibility"), SAMPLES / "advance-feasibility", tmp_path)
    names = sorted(p.name for p in advance_out.iterdir() if p.name != "provenance.json")
    assert names == sorted(p.name for p in tmp_path.iterdir() if p.name != "provenance.json")
    for name in names:
        assert (tmp_path / name).read_bytes() == (advance_out / name).read_bytes(), name


def test_csv_is_unrounded(advance_out):
    text = (advance_out / "recruitment.csv").read_text()
    assert "0.7074829931972789" in text  # 104 / 147 to the last digit


@pytest.mark.parametrize("trial", TRIALS)
def test_every_bundled_config_runs(trial, sample_run):
    done = sample_run(trial)
    assert "progression" in done.result.tables and (done.out / "consort.svg").exists()


def test_input_changed_during_run_stops(tmp_path, monkeypatch):
    import shutil

    import advance_trial.pipeline as pipeline

    data = tmp_path / "data"
    shutil.copytree(SAMPLES / "advance-feasibility", data)
    real = pipeline.write_tables

    def touch_then_write(tables, out, **kwargs):
        (data / "followup.csv").write_text((data / "followup.csv").read_text() + "\n")
        return real(tables, out, **kwargs)

    monkeypatch.setattr(pipeline, "write_tables", touch_then_write)
    with pytest.raises(IntegrityError, match="followup.csv"):
        run(config_path("advance-feasibility"), data, tmp_path / "out")
    assert not (tmp_path / "out" / "provenance.json").exists()


def test_run_cli(invoke, tmp_path):
    r = invoke("run", config_path("advance-feasibility"), "--data", SAMPLES / "advance-feasibility", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    assert "Met" in r.stdout and "Not met" in r.stdout and (tmp_path / "progression.csv").exists()


@pytest.mark.parametrize("command", ["recruitment", "retention", "dose", "progression"])
def test_step_commands_json(invoke, command):
    r = invoke(command, config_path("advance-feasibility"), "--data", SAMPLES / "advance-feasibility", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out and all(isinstance(v, list) for v in out.values())


def test_retention_cli_by_cycle_writes(invoke, tmp_path):
    args = ["retention", config_path("advance-feasibility"), "--data", SAMPLES / "advance-feasibility"]
    r = invoke(*args, "--by", "cycle", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    assert set(pd.read_csv(tmp_path / "retention.csv", dtype=str)["cycle"]) == {"1", "2", "3", "all"}
    assert invoke(*args, "--by", "region").exit_code == 2


def test_every_analysis_for_both_abi_subscales(advance_out):
    """Issue 6's done-when: both ABI subscales under every analysis, effects intervention minus control."""
    df = pd.read_csv(advance_out / "outcomes.csv")
    for outcome in ("abi_physical", "abi_psychological"):
        got = df.loc[df["outcome"] == outcome]
        assert set(got["analysis"]) == {"ancova", "partially_nested", "partially_nested_equal_var",
                                        "multiple_imputation", "cace"}  # fmt: skip
        assert set(got.loc[got["analysis"] == "cace", "threshold"]) == {"any_session", "half_of_compulsory"}
        assert (got["comparison"] == "advance vs tau").all() and (got["ci_lower"] < got["ci_upper"]).all()
    assert {"odds_ratio", "risk_difference", "rate_ratio"} <= set(df["effect"])
    assert "p_value" not in df.columns  # estimates with intervals; p-values only when asked
    scores = pd.read_csv(advance_out / "scores.csv")
    assert not any(c.startswith("abi_r") for c in scores.columns)  # partner data never in a table about men


@pytest.mark.parametrize("trial", ["advance-digital", "cranstoun-dvip"])
def test_single_arm_configs_write_pre_post_change(trial, sample_run):
    df = pd.read_csv(sample_run(trial).out / "outcomes.csv")
    assert set(df["analysis"]) == {"change"} and set(df["effect"]) == {"mean_change"}
    assert set(df["outcome"]) == {"abi_physical", "abi_psychological"}


def test_outcomes_cli(invoke, tmp_path):
    res = invoke("outcomes", config_path("advance-feasibility"), "--data", SAMPLES / "advance-feasibility", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["outcomes"]
    assert len(rows) == 21 and rows[0]["analysis"] == "ancova"  # 20 on the ABI, 1 on days of substance use
    assert sum(r["effect"] == "icc" for r in rows) == 4 and {r["status"] for r in rows} == {"estimated"}
