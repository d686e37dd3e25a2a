"""Timing whole processes the way an installed toolkit runs: bytecode may be written.

An environment with ``PYTHONDONTWRITEBYTECODE`` set (this machine's) makes every process compile the
toolkit's modules from source while the libraries it is compared with load their installed
bytecode; the benchmarks' processes run without it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: str | Path | None = None) -> float:
    """Seconds of wall time to run ``cmd`` to completion (output discarded; a failure raises)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0
