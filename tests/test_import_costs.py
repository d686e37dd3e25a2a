"""What loading a config and assessing a design import: never pandas (issue 17)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import CONFIGS, ROOT

ADV = str(CONFIGS / "advance-feasibility.yaml")


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\ntry:\n{code}\nfinally:\n    print(' '.join(sorted(sys.modules)))\n"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False)
    assert res.stdout, res.stderr
    return set(res.stdout.split("\n")[-2].split())


def test_loading_a_config_does_not_import_pandas():
    mods = _modules_after(f"    from advance_trial.config import load_config\n    load_config({ADV!r})")
    assert "advance_trial.config.rules" in mods and "advance_trial.data.schema" in mods
    assert "pandas" not in mods and "numpy" not in mods


def test_assessing_a_design_from_the_command_line_does_not_import_pandas():
    argv = ["advance-trial", "randomise", "assess", ADV, "--n-trials", "50", "--participants", "20"]
    code = (f"    from advance_trial.cli.main import main\n    sys.argv = {argv!r}\n"
            "    try:\n        main()\n    except SystemExit:\n        pass")  # fmt: skip
    mods = _modules_after(code)
    assert "advance_trial.randomisation.assess" in mods
    assert "pandas" not in mods


def test_a_subcommands_help_imports_neither_pydantic_nor_pandas():
    """typer coerced the flags not given (--help, completion) through pydantic adapters: 90 ms of each help."""
    argv = ["advance-trial", "randomise", "assess", "--help"]
    code = (f"    from advance_trial.cli.main import main\n    sys.argv = {argv!r}\n"
            "    try:\n        main()\n    except SystemExit:\n        pass")  # fmt: skip
    mods = _modules_after(code)
    assert "advance_trial.cli.randomise_cmd" in mods
    assert "pydantic" not in mods and "pandas" not in mods


def test_flags_still_parse_after_the_pass_through(invoke):
    res = invoke("randomise", "assess", ADV, "--n-trials", "20", "--participants", "10", "--json")
    assert res.exit_code == 0, res.output
    assert '"summary"' in res.output
