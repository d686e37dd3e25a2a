"""The registry of steps: run, each step's command and verify walk it; nothing is done twice."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from advance_trial.config import load_config
from advance_trial.steps import COMMANDS, REGISTRY, STEPS, planning_outcomes, select
from tests.conftest import SAMPLES, config_path

ADVANCE = config_path("advance-feasibility")
DATA = SAMPLES / "advance-feasibility"
EXPECTED = config_path("advance-feasibility").parents[1] / "tests" / "expected" / "advance-feasibility"


def test_each_step_declared_once_after_what_it_needs(advance_cfg):
    names = [s.name for s in STEPS]
    assert len(names) == len(set(names)) == len(REGISTRY)
    for i, step in enumerate(STEPS):
        assert set(step.needs(advance_cfg)) <= set(names[:i]), step.name
        assert set(step.narrows) <= set(step.needs(advance_cfg)), step.name
    assert set(COMMANDS["run"]) == set(names)
    for command, targets in COMMANDS.items():
        assert set(targets) <= set(names), command


def test_plan_builds_only_what_it_reads(advance_cfg):
    chosen = select(advance_cfg, COMMANDS["plan"])
    assert chosen.steps == ("retention", "outcomes", "plan", "definitive")
    assert chosen.narrowed == {"outcomes": planning_outcomes}
    narrowed = planning_outcomes(advance_cfg)
    assert [o.id for o in narrowed.outcomes] == advance_cfg.planning.outcomes
    assert {a for o in narrowed.outcomes for a in o.analyses} == {"partially_nested", "partially_nested_equal_var"}
    # a run builds the outcomes whole: the plan's need does not narrow a step that is itself a target
    assert select(advance_cfg, COMMANDS["run"]).narrowed == {}


def test_progression_reads_the_outcomes_only_when_a_criterion_names_one(advance_cfg):
    names = select(advance_cfg, COMMANDS["progression"]).steps
    named = any(c.metric.startswith(("outcome.", "change.")) for c in advance_cfg.progression)
    assert ("outcomes" in names) == named
    assert names[-2:] == ("recruitment_rate", "progression") and "plan" not in names
    without = advance_cfg.model_copy(
        update={"progression": [c for c in advance_cfg.progression if not c.metric.startswith(("outcome.", "change."))]}
    )
    assert "outcomes" not in select(without, COMMANDS["progression"]).steps


def test_a_step_without_its_config_block_is_skipped(advance_cfg):
    bare = advance_cfg.model_copy(update={"schedule": None, "planning": None})
    names = select(bare, COMMANDS["run"]).steps
    assert "dose" not in names and "plan" not in names and "definitive" not in names


def test_plan_from_the_registry_is_the_runs_plan(tmp_path, invoke, shared_reruns):
    """`plan --out` computes only retention and the planned outcome's partially nested models, and writes the
    same plan tables as a whole run (tests/expected), with results.csv, figures and provenance."""
    out = tmp_path / "plan"
    r = invoke("plan", ADVANCE, "--data", DATA, "--out", out)
    assert r.exit_code == 0, r.output
    for name in ("plan", "plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast"):
        fresh = pd.read_csv(out / f"{name}.csv")
        pd.testing.assert_frame_equal(fresh, pd.read_csv(EXPECTED / f"{name}.csv"), rtol=1e-9)
        assert (out / f"{name}.md").read_bytes() == (EXPECTED / f"{name}.md").read_bytes(), name
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["run"]["command"] == "plan" and "results.csv" in prov["outputs"]
    assert not (out / "outcomes.csv").exists() and not (out / "retention.csv").exists()
    results = pd.read_csv(out / "results.csv")
    assert set(results["table"]) == {"plan", "plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast",
                                     "recruitment_forecast_bands"}  # fmt: skip
    r = invoke("verify", out)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("command", ["recruitment", "retention"])
def test_a_steps_out_folder_is_a_runs(tmp_path, invoke, command, shared_reruns):
    """A step's command writes its tables as the run does, with results.csv and provenance.json; verify
    repeats the same steps, and catches an edited output (exit 5)."""
    out = tmp_path / command
    r = invoke(command, ADVANCE, "--data", DATA, "--out", out)
    assert r.exit_code == 0, r.output
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["run"]["command"] == command
    assert prov["command"].startswith(f"advance-trial {command} ")
    written = {n for n in prov["outputs"] if n.endswith(".csv")} - {"results.csv"}
    for name in written:  # numbers to 1e-9, as tests/expected is compared
        pd.testing.assert_frame_equal(pd.read_csv(out / name), pd.read_csv(EXPECTED / name), rtol=1e-9)
    results = pd.read_csv(out / "results.csv", dtype=str, keep_default_na=False)
    assert set(results["table"]) <= {n.removesuffix(".csv") for n in written}
    assert invoke("verify", out).exit_code == 0
    first = sorted(written)[0]
    (out / first).write_text((out / first).read_text() + "\n")
    r = invoke("verify", out)
    assert r.exit_code == 5 and first in r.output


def test_a_shareable_steps_folder_has_the_disclosure_audit(tmp_path, invoke, shared_reruns):
    out = tmp_path / "retention"
    r = invoke("retention", ADVANCE, "--data", DATA, "--out", out, "--shareable")
    assert r.exit_code == 0, r.output
    assert (out / "disclosure_audit.csv").exists()
    assert (tmp_path / "retention.suppression.csv").exists()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["run"]["shareable"] and prov["run"]["min_cell"] == load_config(ADVANCE).reporting.min_cell
    assert invoke("disclosure-audit", out).exit_code == 0
    assert invoke("verify", out).exit_code == 0


def test_a_blinded_step_shows_no_arm(tmp_path, invoke):
    r = invoke("recruitment", ADVANCE, "--data", DATA, "--blinded", "--json")
    assert r.exit_code == 0, r.output
    cfg = load_config(ADVANCE)
    shown = json.loads(r.output)
    arms = {row.get("arm") for rows in shown.values() for row in rows} - {None, "all"}
    assert arms and not arms & set(cfg.arm_ids)


def test_verify_refuses_a_command_that_writes_nothing(tmp_path, invoke):
    out = tmp_path / "rec"
    assert invoke("recruitment", ADVANCE, "--data", DATA, "--out", out).exit_code == 0
    prov = json.loads((out / "provenance.json").read_text())
    prov["run"]["command"] = "serve"
    (out / "provenance.json").write_text(json.dumps(prov))
    r = invoke("verify", out)
    assert r.exit_code == 5 and "malformed" in r.output


def test_a_run_parses_the_config_once_and_melts_each_table_once(tmp_path, invoke, monkeypatch):
    """Issue 38 part 3: one parse of the config per process (the terminal's display reuses it), and the
    results data set melted once per table although progression, the plan and results.csv all read it."""
    from advance_trial.config import loader, yamlsource
    from advance_trial.results import layout

    loader._LOADED.clear()
    parses: list[str] = []
    melts: list[str] = []
    parse, melt = yamlsource.parse_yaml, layout.melt
    monkeypatch.setattr(loader, "parse_yaml", lambda *a, **k: parses.append(a[1]) or parse(*a, **k))
    monkeypatch.setattr(layout, "melt", lambda name, *a: melts.append(name) or melt(name, *a))
    r = invoke("run", ADVANCE, "--data", DATA, "--out", tmp_path / "out", "--no-report")
    assert r.exit_code == 0, r.output
    assert parses == [str(ADVANCE)]
    # every analysis makes its own results rows: no table of a plain run is read back into rows
    assert melts == []
