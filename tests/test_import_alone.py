"""Every module of the data-facing packages imports on its own in a fresh interpreter: no import cycle
held apart by import order (``import advance_trial.redcap.export`` first once failed on one).

Each module is imported in a process of its own, forked from one that has imported the third-party
libraries the modules use (pandas, numpy, pydantic...) and nothing of ``advance_trial``: what is imported
first is still the module alone, and each test pays for its own modules only, not for pandas again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "data", "importing", "redcap", "randomisation")
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for pkg in PACKAGES
    for p in (ROOT / "advance_trial" / pkg).glob("*.py")
)

# reads a module's name a line; imports it in a forked child; answers "0" or the error's last line
FORKER = """
import os, sys, traceback
for name in ("numpy", "pandas", "yaml", "pydantic", "filelock", "cryptography", "argon2", "typer", "rich"):
    try:
        __import__(name)
    except ImportError:
        pass
assert not [m for m in sys.modules if m.split(".")[0] == "advance_trial"]
for line in sys.stdin:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            __import__(line.strip())
            said = ""
        except BaseException:
            said = traceback.format_exc().strip().splitlines()[-1]
        os.write(w, said.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as fh:
        said = fh.read()
    _, status = os.waitpid(pid, 0)
    print(repr(said or ("" if status == 0 else f"exit status {status}")), flush=True)
"""


@pytest.fixture(scope="module")
def import_alone() -> Iterator[object]:
    if not hasattr(os, "fork"):
        yield None
        return
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", FORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env=env)  # fmt: skip
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=60)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str, import_alone) -> None:
    if import_alone is None:  # no fork: a fresh interpreter each
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr.splitlines()[-1:]
        return
    import_alone.stdin.write(module + "\n")
    import_alone.stdin.flush()
    said = import_alone.stdout.readline()
    assert said, "the importing process ended"
    assert eval(said) == "", eval(said)
