"""How long the README's test command takes: wall time, the tests' summed durations, CPU, the slowest tests.

``python benchmarks/bench_tests.py`` runs the README's test command (``pytest -q -n auto``) once and prints

- the wall time of the whole command (what a developer waits for; issue 38's target: under 5 minutes on 2 cores),
- the sum of the tests' own durations (set-up, call and tear-down, from pytest's JUnit XML): the work done,
  whatever the parallelism,
- the CPU seconds of pytest and every process it waited for (workers, subprocesses of the tests): on a machine
  shared with other jobs, CPU / cores is the wall time a quiet machine of that many cores would approach,
- the 20 slowest tests.

``--keep=FILE`` keeps the JUnit XML (every test's duration) in FILE. Other arguments go to pytest in place of
``-n auto`` (``python benchmarks/bench_tests.py -p no:xdist`` for
the serial figure, ``python benchmarks/bench_tests.py -n auto tests/test_report.py`` for one file).
Like the other benchmarks, the run's processes may write bytecode (``PYTHONDONTWRITEBYTECODE`` unset).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import ENV

ROOT = Path(__file__).resolve().parents[1]


def durations(junit: Path) -> list[tuple[float, str]]:
    """Each test's duration (seconds) and id, slowest first."""
    out = []
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        out.append((float(case.get("time") or 0), name))
    return sorted(out, reverse=True)


def main(args: list[str]) -> int:
    keep = [a.split("=", 1)[1] for a in args if a.startswith("--keep=")]
    extra = [a for a in args if not a.startswith("--keep=")] or ["-n", "auto"]
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        tests = durations(junit) if junit.exists() else []
        if keep and junit.exists():
            Path(keep[0]).write_bytes(junit.read_bytes())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = [line for line in done.stdout.splitlines() if line.strip()][-1:] or ["(no output)"]
    print(f"command: {' '.join(cmd[1:3])} -q {' '.join(extra)}")
    print(f"result: {summary[0]}")
    print(f"wall: {wall:.1f} s ({wall / 60:.1f} min) on {os.cpu_count()} cores")
    print(f"sum of test durations: {sum(t for t, _ in tests):.1f} s over {len(tests)} tests")
    print(f"CPU (pytest and the processes it waited for): {cpu:.1f} s; / {os.cpu_count()} cores = "
          f"{cpu / (os.cpu_count() or 1):.1f} s")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("slowest 20:")
    for seconds, name in tests[:20]:
        print(f"  {seconds:7.2f} s  {name}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
