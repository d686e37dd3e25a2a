"""``advance-trial randomise`` through the CLI: every attack caught or refused, exit codes, nothing concealed shown."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import stat

import pytest

from tests.allocation_helpers import BLINDED, config_text, tamper
from tests.conftest import SAMPLES, config_path


@pytest.fixture
def trial(tmp_path, invoke, monkeypatch):
    """A trial created as a statistician would: a config without a key, then `randomise init`."""
    config = tmp_path / "configs" / "trial.yaml"
    config.parent.mkdir()
    config.write_text(
        config_text().replace("randomisation:\n", "randomisation:\n  log: ../allocation/trial.sqlite\n", 1)
    )
    monkeypatch.setenv("ADVANCE_TRIAL_KEY_DIR", str(tmp_path / "keys"))
    out = invoke("randomise", "init", config)
    assert out.exit_code == 0, out.output
    return config


def _allocate(invoke, config, pid, site="london", *more):
    return invoke("randomise", "allocate", config, "--participant", pid, "--site", site, *more)


def test_init_creates_a_private_key_records_its_fingerprint_and_refuses_a_second_time(trial, invoke, tmp_path):
    key = tmp_path / "keys" / "advance-feasibility.key"
    fingerprint = hashlib.sha256(bytes.fromhex(key.read_text().splitlines()[1])).hexdigest()
    assert f"key_fingerprint: {fingerprint}" in trial.read_text()
    assert "\n  seed:" not in trial.read_text()  # the allocation has no seed; assess_seed conceals nothing
    log = tmp_path / "allocation" / "trial.sqlite"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(log.stat().st_mode) == 0o600
    again = invoke("randomise", "init", trial)
    assert again.exit_code == 2 and "created already" in again.output


def test_allocate_prints_a_receipt_and_asking_again_writes_nothing(trial, invoke, tmp_path):
    first = _allocate(invoke, trial, "AF001", "wolverhampton", "--json", "--receipt-out", tmp_path / "r1.json")
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert body["sequence"] == 1 and body["arm"] in {"advance", "tau"} and body["new"] is True
    assert {"row", "tag", "log_id", "signature"} <= set(body["receipt"]) and "arm" not in body["receipt"]
    again = _allocate(invoke, trial, "AF001", "wolverhampton")
    assert again.exit_code == 0 and "nothing written" in again.stdout
    plain = _allocate(invoke, trial, "AF002", "london")
    assert "receipt: sequence 2, row 3, tag " in plain.stdout
    ok = invoke("randomise", "verify", trial, "--receipt", tmp_path / "r1.json", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["receipts"] == 1
    public = tmp_path / "keys" / "advance-feasibility.signing.pub"
    good = invoke("randomise", "check-receipt", tmp_path / "r1.json", "--public-key", public)
    assert good.exit_code == 0 and "signature valid" in good.stdout
    forged = json.loads((tmp_path / "r1.json").read_text()) | {"participant_id": "AF009"}
    (tmp_path / "r2.json").write_text(json.dumps(forged))
    assert invoke("randomise", "check-receipt", tmp_path / "r2.json", "--public-key", public).exit_code == 5
    assert invoke("randomise", "verify", trial, "--receipt", tmp_path / "r2.json").exit_code == 5


def test_allocate_errors_map_to_exit_codes(trial, invoke, tmp_path):
    bad = _allocate(invoke, trial, "AF 1", "london")
    assert bad.exit_code == 4 and "value 'AF 1'" in bad.output and "Traceback" not in bad.output
    site = _allocate(invoke, trial, "AF001", "leeds")  # not one of its choices: a usage error (issue 37)
    assert site.exit_code == 2 and "--site 'leeds'" in site.output and "Traceback" not in site.output
    factor = _allocate(invoke, trial, "AF001", "london", "--factor", "cycle")
    assert factor.exit_code == 2 and "NAME=VALUE" in factor.output
    by = _allocate(invoke, trial, "AF001", "london", "--by", "Chief Investigator")
    assert by.exit_code == 2  # who acted is the OS user, not free text
    single = invoke("randomise", "allocate", config_path("advance-digital"), "--participant", "D1", "--site", "london",
                    "--log", tmp_path / "x.sqlite")  # fmt: skip
    assert single.exit_code == 2
    for variant in ("AF-001", "af001"):
        _allocate(invoke, trial, "AF001")
        out = _allocate(invoke, trial, variant)
        assert out.exit_code == 4, out.output


def test_allocate_never_creates_a_log(tmp_path, invoke, monkeypatch):
    config = tmp_path / "configs" / "trial.yaml"
    config.parent.mkdir()
    config.write_text(config_text())
    monkeypatch.setenv("ADVANCE_TRIAL_KEY_DIR", str(tmp_path / "keys"))
    from advance_trial.randomisation.key import create_key

    ring = create_key(tmp_path / "keys", "advance-feasibility")
    config.write_text(config_text(fingerprint=ring.fingerprint))
    out = _allocate(invoke, config, "AF001")
    assert out.exit_code == 2 and "randomise init" in out.output
    assert not (tmp_path / "log").exists()


def test_a_tampered_log_stops_verify_allocate_unblind_and_export(trial, invoke, tmp_path):
    for i, site in enumerate(["london", "bristol", "london"], 1):
        _allocate(invoke, trial, f"AF00{i}", site)
    log = tmp_path / "allocation" / "trial.sqlite"
    tamper(log, "UPDATE events SET sealed = (SELECT sealed FROM events WHERE row = 2) WHERE row = 3")
    out = invoke("randomise", "verify", trial)
    assert out.exit_code == 5 and "row 3" in out.output
    assert _allocate(invoke, trial, "AF009").exit_code == 5
    reason = ("--reason", "safety concern reported by partner")
    assert invoke("randomise", "unblind", trial, "--participant", "AF001", *reason).exit_code == 5
    assert invoke("randomise", "export", trial, "--out", tmp_path / "e", *reason).exit_code == 5
    assert not (tmp_path / "e" / "allocations.csv").exists()


def test_a_cut_log_is_caught_from_the_cli(trial, invoke, tmp_path):
    for i in range(1, 4):
        _allocate(invoke, trial, f"AF00{i}")
    tamper(tmp_path / "allocation" / "trial.sqlite", "DELETE FROM events WHERE row = 4")
    out = invoke("randomise", "verify", trial)
    assert out.exit_code == 5 and "cut off the end" in out.output


def test_export_and_list_need_a_reason_and_are_recorded(trial, invoke, tmp_path):
    _allocate(invoke, trial, "AF001")
    assert invoke("randomise", "export", trial, "--out", tmp_path / "e").exit_code == 2
    assert invoke("randomise", "export", trial, "--out", tmp_path / "e", "--reason", ".").exit_code == 2
    out = invoke("randomise", "export", trial, "--out", tmp_path / "e", "--reason", "build participants csv now")
    assert out.exit_code == 0 and "recorded" in out.stdout
    assert (tmp_path / "e" / "allocations.csv").read_text().startswith("participant_id,")
    assert (tmp_path / "e" / "allocations.csv").stat().st_mode & 0o077 == 0  # arms: for the statistician only
    listed = invoke("randomise", "list", trial, "--n", "6", "--out", tmp_path / "l", "--reason",
                    "sealed list for the trial master file")  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert "advance" not in listed.stdout and "tau" not in listed.stdout
    digest = re.search(r"commitment \(publish it\): ([0-9a-f]{64})", listed.stdout).group(1)
    assert hashlib.sha256((tmp_path / "l" / "concealed_list.csv").read_bytes()).hexdigest() == digest
    assert (tmp_path / "l" / "concealed_list.csv.sha256").read_text() == f"{digest}  concealed_list.csv\n"
    redcap = invoke("randomise", "list", trial, "--n", "4", "--out", tmp_path / "l", "--format", "redcap",
                    "--reason", "upload to the redcap module", "--json")  # fmt: skip
    assert redcap.exit_code == 0
    written = json.loads(redcap.stdout)
    assert written["file"] == str(tmp_path / "l" / "redcap_allocation.csv") and written["positions"] > 0
    assert (tmp_path / "l" / "redcap_allocation.csv").read_text().splitlines()[0] == "redcap_randomization_group,site"
    report = json.loads(invoke("randomise", "verify", trial, "--json").stdout)
    assert report["exports"] == 1 and report["rows"] == 5


def test_out_is_always_a_folder_and_nothing_is_recorded_otherwise(trial, invoke, tmp_path):
    _allocate(invoke, trial, "AF001")
    (tmp_path / "afile").write_text("x")
    reason = ("--reason", "build participants csv now")
    for out in (tmp_path / "afile", tmp_path / "e.csv"):
        res = invoke("randomise", "export", trial, "--out", out, *reason)
        assert res.exit_code == 2 and "give a folder" in res.output
    assert json.loads(invoke("randomise", "verify", trial, "--json").stdout)["exports"] == 0


def test_unblind_one_man_with_a_reason(trial, invoke):
    _allocate(invoke, trial, "AF001")
    short = invoke("randomise", "unblind", trial, "--participant", "AF001", "--reason", "why")
    assert short.exit_code == 2
    out = invoke("randomise", "unblind", trial, "--participant", "AF001", "--reason", "safety concern from partner",
                 "--json")  # fmt: skip
    assert out.exit_code == 0 and json.loads(out.stdout)["arm"] in {"advance", "tau"}


def test_a_config_amendment_is_refused_until_recorded(trial, invoke):
    _allocate(invoke, trial, "AF001")
    text = trial.read_text()
    two_to_one = text.replace("Treatment as usual, ratio: 1}", "Treatment as usual, ratio: 2}")
    trial.write_text(two_to_one.replace("[2, 4]", "[3, 6]"))
    out = _allocate(invoke, trial, "AF002")
    assert out.exit_code == 3 and "arms[tau].ratio" in out.output and "randomisation.block_sizes" in out.output
    assert invoke("randomise", "amend", trial, "--reason", "two to one ratio").exit_code == 3  # same version
    trial.write_text(trial.read_text().replace('version: "1.0.0"', 'version: "1.1.0"'))
    amended = invoke("randomise", "amend", trial, "--reason", "two to one ratio", "--json")
    assert amended.exit_code == 0, amended.output
    assert json.loads(amended.stdout) == {"from_version": "1.0.0", "to_version": "1.1.0",
                                          "changed": json.loads(amended.stdout)["changed"]}  # fmt: skip
    assert "arms[tau].ratio" in json.loads(amended.stdout)["changed"]
    assert _allocate(invoke, trial, "AF002").exit_code == 0
    corrected = invoke("randomise", "correct", trial, "--participant", "AF002", "--reason", "not eligible after all",
                       "--json")  # fmt: skip
    assert corrected.exit_code == 0, corrected.output
    assert json.loads(corrected.stdout)["participant_id"] == "AF002"


def test_blinded_config_prints_the_code(tmp_path, invoke, monkeypatch):
    config = tmp_path / "configs" / "blinded.yaml"
    config.parent.mkdir()
    config.write_text(config_text(BLINDED))
    monkeypatch.setenv("ADVANCE_TRIAL_KEY_DIR", str(tmp_path / "keys"))
    assert invoke("randomise", "init", config, "--log", tmp_path / "l" / "l.sqlite").exit_code == 0
    out = _allocate(invoke, config, "B1", "london", "--log", tmp_path / "l" / "l.sqlite", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["arm"] in {"K", "Q"}
    plain = _allocate(invoke, config, "B1", "london", "--log", tmp_path / "l" / "l.sqlite")
    assert "advance" not in plain.stdout and "tau" not in plain.stdout.replace("(", " ")


@pytest.mark.filterwarnings("always::advance_trial.randomisation.key.DemonstrationKeyWarning")
def test_the_demonstration_key_is_named_on_the_terminal(tmp_path, invoke):
    import shutil

    from tests.conftest import DEMO_KEYS

    keys = tmp_path / "keys"
    shutil.copytree(DEMO_KEYS, keys)
    for p in keys.glob("*.checkpoint.json"):
        p.unlink()
    log = tmp_path / "log" / "log.sqlite"
    out = invoke("randomise", "init", config_path("advance-feasibility"), "--key-dir", keys, "--log", log)
    assert out.exit_code == 0, out.output
    got = invoke("randomise", "allocate", config_path("advance-feasibility"), "--key-dir", keys, "--log", log,
                 "--participant", "AF001", "--site", "wolverhampton", "--json")  # fmt: skip
    assert got.exit_code == 0 and "DEMONSTRATION" in got.stderr
    assert json.loads(got.stdout)["arm"] == "advance"  # the sample's AF001


def test_run_with_a_log_that_disagrees_with_participants_exits_4(trial, invoke, tmp_path):
    for i in range(1, 7):
        _allocate(invoke, trial, f"AF00{i}")
    out = invoke("run", trial, "--data", SAMPLES / "advance-feasibility", "--out", tmp_path / "out", "--log",
                 tmp_path / "allocation" / "trial.sqlite")  # fmt: skip
    assert out.exit_code == 4 and "in the data but not in the allocation log" in out.output
    assert not (tmp_path / "out").exists()


def test_assess_needs_a_plain_seed(invoke, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(config_text().replace("  assess_seed: 2018052395", ""))
    out = invoke("randomise", "assess", config, "--participants", "20", "--n-trials", "50")
    assert out.exit_code == 2 and "assess_seed" in out.output
    ok = invoke("randomise", "assess", config, "--participants", "20", "--n-trials", "50", "--seed", "1", "--json")
    assert ok.exit_code == 0


def test_verify_json_names_the_head(trial, invoke, tmp_path):
    _allocate(invoke, trial, "AF001")
    body = json.loads(invoke("randomise", "verify", trial, "--json").stdout)
    con = sqlite3.connect(tmp_path / "allocation" / "trial.sqlite")
    (tag,) = con.execute("SELECT tag FROM events ORDER BY row DESC LIMIT 1").fetchone()
    con.close()
    assert body["head_tag"] == tag and body["head_row"] == 2 and body["valid"] is True


def test_init_whose_config_allows_no_safe_edit_prints_the_line_and_exits_1(tmp_path, invoke, monkeypatch):
    """A ``randomisation:`` line the edit cannot follow (here, with an anchor): init writes the key, prints the
    line to add by hand and exits 1 (ExitCode.ERROR), creating no log until the fingerprint is recorded."""
    config = tmp_path / "configs" / "trial.yaml"
    config.parent.mkdir()
    text = config_text().replace("randomisation:\n", "randomisation: &design\n  log: ../allocation/trial.sqlite\n", 1)
    config.write_text(text)
    monkeypatch.setenv("ADVANCE_TRIAL_KEY_DIR", str(tmp_path / "keys"))
    out = invoke("randomise", "init", config)
    assert out.exit_code == 1, out.output
    assert "add this line under randomisation:" in out.output and "key_fingerprint: " in out.output
    assert config.read_text() == text and not (tmp_path / "allocation" / "trial.sqlite").exists()
