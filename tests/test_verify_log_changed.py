"""Issue 32, attack 6: `verify` of a run made with the allocation log, after one more man was allocated, must
name the log as a changed input (exit 5), not fail the repeated run's reconciliation (exit 4)."""

from __future__ import annotations

import warnings

import pytest

from advance_trial.randomisation import allocation as al
from advance_trial.randomisation.key import DemonstrationKeyWarning
from tests.allocation_helpers import sample_log
from tests.conftest import SAMPLES, config_path


@pytest.mark.filterwarnings("always::advance_trial.randomisation.key.DemonstrationKeyWarning")
def test_verify_names_the_log_when_a_man_was_allocated_after_the_run(tmp_path, advance_cfg, invoke):
    ring, keys, log = sample_log(tmp_path, advance_cfg)
    config, out = config_path("advance-feasibility"), tmp_path / "out"
    ran = invoke("run", config, "--data", SAMPLES / "advance-feasibility", "--out", out, "--log", log,
                 "--key-dir", keys)  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert invoke("verify", out).exit_code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemonstrationKeyWarning)
        al.allocate(advance_cfg, ring, "AF105", "london", log=log)
    again = invoke("verify", out)
    assert again.exit_code == 5, again.output
    said = " ".join(again.output.split())
    assert "inputs changed since the run: the allocation log" in said and str(log) in said.replace(" ", "")
    assert "not in participants.csv" not in said
