"""The definitive ADVANCE trial's config (issue 20, part 5): assess its design, plan it from the pilot."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES, config_path

DEFINITIVE = config_path("advance-definitive")
PILOT = config_path("advance-feasibility")
DATA = SAMPLES / "advance-feasibility"


def test_plan_from_the_pilot_sets_the_registered_size_beside_the_plan(invoke):
    res = invoke("plan", DEFINITIVE, "--pilot", PILOT, "--data", DATA, "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["plan"]
    by = {r["quantity"]: r for r in rows}
    # the pilot's own plan (its planning block has the same assumptions and six sites)
    alone = {r["quantity"]: r for r in json.loads(invoke("plan", PILOT, "--data", DATA, "--json").stdout)["plan"]}
    for q in ("pooled SD at follow-up", "ANCOVA factor 1 - r^2", "design effect, intervention arm",
              "men to randomise in all"):  # fmt: skip
        assert by[q]["estimate"] == alone[q]["estimate"] and by[q]["conservative"] == alone[q]["conservative"]
    registered = by["men planned by the definitive trial"]
    assert registered["estimate"] == 378 and registered["step"] == "7_registered"
    assert registered["note"] == "advance-definitive: the plan needs 447 (conservative 1465)"
    assert rows[-1]["step"] == "7_registered"


def test_plan_names_an_outcome_the_pilot_did_not_measure(invoke, tmp_path):
    bad = tmp_path / "d.yaml"
    bad.write_text(DEFINITIVE.read_text().replace("  outcomes: [abi_physical]\n  target_difference",
                                                  "  outcomes: [craving]\n  target_difference"))  # fmt: skip
    res = invoke("plan", bad, "--pilot", PILOT, "--data", DATA)
    assert res.exit_code in (2, 3) and "craving" in res.output and "Traceback" not in res.output


def test_assess_takes_the_definitive_trials_size(invoke):
    res = invoke("randomise", "assess", DEFINITIVE, "--n-trials", "200", "--json")
    assert res.exit_code == 0, res.output
    summary = [r for r in json.loads(res.stdout)["summary"] if r["statistic"] == "mean_allocated"]
    assert round(sum(r["value"] for r in summary), 9) == 378  # every simulated trial allocates its 378 men
    res = invoke("randomise", "assess", PILOT, "--n-trials", "10")
    assert res.exit_code == 2 and "--participants" in res.output
