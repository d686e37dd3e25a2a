"""The command line: exit codes (contract section 4), messages, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from advance_trial.errors import ExitCode
from tests.conftest import CONFIGS, SAMPLES, config_path


def test_exit_code_enum_matches_contract():
    assert {e.name: int(e) for e in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "USAGE": 2,
        "CONFIG_INVALID": 3,
        "DATA_INVALID": 4,
        "INTERRUPTED": 130,
        "INTEGRITY": 5,
    }


def test_version_and_help(invoke):
    from advance_trial import __version__

    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == __version__
    r = invoke("--help")
    assert r.exit_code == 0 and "config" in r.stdout and "simulate" in r.stdout


def test_validate_ok(invoke):
    r = invoke("config", "validate", config_path("advance-feasibility"), "--data", SAMPLES / "advance-feasibility")
    assert r.exit_code == 0, r.output
    assert "valid" in r.stdout and "participants 104" in r.stdout


def test_validate_json(invoke):
    r = invoke("config", "validate", config_path("cranstoun-dvip"), "--json")
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["trial_id"] == "cranstoun-dvip" and out["valid"] is True


def test_invalid_config_exits_3_naming_key_and_line(invoke, tmp_path, advance_text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(advance_text.replace("  design: parallel", "  design: parallel\n  colour: blue"))
    r = invoke("config", "validate", bad)
    assert r.exit_code == 3
    assert "trial.colour" in r.stderr and "line 10" in r.stderr and "allowed here" in r.stderr
    assert "Traceback" not in r.output


def test_missing_config_file_exits_2(invoke, tmp_path):
    """A path that does not exist is a usage error in every command (issue 37; it was 3, an invalid config)."""
    r = invoke("config", "validate", tmp_path / "nope.yaml")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_invalid_data_exits_4(invoke, tmp_path):
    data = tmp_path / "d"
    shutil.copytree(SAMPLES / "advance-feasibility", data)
    p = data / "participants.csv"
    p.write_text(p.read_text().replace(",advance,", ",ADVANCE,", 1))
    r = invoke("config", "validate", config_path("advance-feasibility"), "--data", data)
    assert r.exit_code == 4
    assert "participants.csv, row" in r.stderr and "column 'arm'" in r.stderr and "'ADVANCE'" in r.stderr


def test_usage_error_exits_2(invoke):
    assert invoke("config", "validate", config_path("advance-feasibility"), "--bogus").exit_code == 2
    assert invoke("simulate", config_path("advance-feasibility")).exit_code == 2


def test_unexpected_error_exits_1_without_traceback(invoke, monkeypatch):
    import advance_trial.config as config_pkg

    def broken(path):
        raise RuntimeError("something odd")

    monkeypatch.setattr(config_pkg, "load_config", broken)
    r = invoke("config", "validate", config_path("advance-feasibility"))
    assert r.exit_code == 1 and "something odd" in r.stderr and "--debug" in r.stderr
    assert "Traceback" not in r.output
    r = invoke("--debug", "config", "validate", config_path("advance-feasibility"))
    assert isinstance(r.exception, RuntimeError)


def test_show_and_schema(invoke):
    r = invoke("config", "show", config_path("advance-digital"), "--json")
    shown = json.loads(r.stdout)
    assert shown["reporting"] == {
        "ci_level": 0.95,
        "proportion_ci": "wilson",
        "min_cell": 5,
        "digits": 2,
        "percent_digits": 1,
    }
    r = invoke("config", "show", config_path("advance-digital"))
    assert r.exit_code == 0 and "schema_version: 2" in r.stdout
    schema = json.loads(invoke("config", "schema").stdout)
    assert schema["title"] == "Config" and "trial" in schema["required"]


def test_diff_reports_amendment(invoke, tmp_path, advance_text):
    new = tmp_path / "new.yaml"
    new.write_text(advance_text.replace('version: "1.0.0"', 'version: "1.1.0"').replace("go: 0.70", "go: 0.65"))
    r = invoke("config", "diff", config_path("advance-feasibility"), new, "--json")
    out = json.loads(r.stdout)
    changes = {c["path"]: (c["old"], c["new"]) for c in out["changes"]}
    assert changes == {"progression[follow_up].go": (0.7, 0.65), "trial.version": ("1.0.0", "1.1.0")}
    assert out["warning"] is None
    unbumped = tmp_path / "unbumped.yaml"
    unbumped.write_text(advance_text.replace("go: 0.70", "go: 0.65"))
    r = invoke("config", "diff", config_path("advance-feasibility"), unbumped)
    assert r.exit_code == 0 and "did not increase" in r.stdout
    assert (
        "no differences"
        in invoke("config", "diff", config_path("advance-feasibility"), config_path("advance-feasibility")).stdout
    )


def test_simulate_command(invoke, tmp_path):
    shutil.copy(SAMPLES / "cranstoun-dvip" / "calibration.yaml", tmp_path)
    r = invoke("simulate", CONFIGS / "cranstoun-dvip.yaml", "--out", tmp_path, "--seed", "20150301", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["rows"]["participants"] == 20 and all(row["met"] for row in out["calibration"])
    assert (tmp_path / "attendance.csv").read_bytes() == (SAMPLES / "cranstoun-dvip" / "attendance.csv").read_bytes()


def test_console_script_runs_and_help_imports_no_heavy_modules():
    code = (
        "import sys\n"
        "from advance_trial.cli.main import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "mods = ('pandas', 'numpy', 'pydantic', 'yaml', 'statsmodels', 'matplotlib')\n"
        "heavy = [m for m in mods if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"


@pytest.mark.parametrize("args", [["config"], []])
def test_groups_without_command_show_help(invoke, args):
    r = invoke(*args)
    assert "Usage" in r.output


def test_statistical_warnings_are_one_readable_line(capsys):
    from advance_trial.cli.main import _show_warning
    from advance_trial.errors import BoundaryWarning

    _show_warning(BoundaryWarning("the group variance is zero"), BoundaryWarning, "x.py", 3)
    err = capsys.readouterr().err
    assert "warning (BoundaryWarning): the group variance is zero" in err and "x.py" not in err
