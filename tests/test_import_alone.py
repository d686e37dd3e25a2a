"""Every module of the data-facing packages imports on its own in a fresh interpreter: no import cycle
held apart by import order (``import advance_trial.redcap.export`` first once failed on one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "data", "importing", "redcap", "randomisation")
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for pkg in PACKAGES
    for p in (ROOT / "advance_trial" / pkg).glob("*.py")
)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr.splitlines()[-1:]
