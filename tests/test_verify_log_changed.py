"""Issue 32, attack 6: `verify` of a run made with the allocation log, after one more man was allocated, must
name the log as a changed input (exit 5), not fail the repeated run's reconciliation (exit 4)."""

from __future__ import annotations

import shutil
import warnings
from datetime import datetime

import pandas as pd
import pytest

from advance_trial.randomisation import allocation as al
from advance_trial.randomisation.key import DemonstrationKeyWarning, load_key
from tests.conftest import DEMO_KEYS, SAMPLES, config_path


@pytest.mark.filterwarnings("always::advance_trial.randomisation.key.DemonstrationKeyWarning")
def test_verify_names_the_log_when_a_man_was_allocated_after_the_run(tmp_path, advance_cfg, invoke):
    keys = tmp_path / "keys"
    shutil.copytree(DEMO_KEYS, keys)
    for p in keys.glob("*.checkpoint.json"):
        p.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemonstrationKeyWarning)
        ring = load_key(keys, advance_cfg.trial.id, advance_cfg.randomisation.key_fingerprint)
        log = tmp_path / "log" / "log.sqlite"
        al.init_log(advance_cfg, ring, log)
        men = pd.read_csv(SAMPLES / "advance-feasibility" / "participants.csv").sort_values("participant_id")
        for r in men.itertuples():
            noon = datetime.fromisoformat(f"{r.randomised_on}T12:00:00+00:00")
            al.allocate(advance_cfg, ring, r.participant_id, r.site, log=log, now=noon)
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
