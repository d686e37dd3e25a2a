"""How long the README's test command takes: wall time, the tests' summed durations and CPU, the slowest tests.

``python benchmarks/bench_tests.py`` runs the README's test command (``pytest -q -n auto``) once and prints

- the wall time of the whole command (what a developer waits for; issue 38's target: under 5 minutes on 2 cores),
- the sum of the tests' own durations (set-up, call and tear-down, from pytest's JUnit XML): the work done,
  whatever the parallelism,
- the CPU seconds of pytest and every process it waited for (workers, the tests' subprocesses): on a machine
  shared with other jobs, CPU / cores is the wall time a quiet machine of that many cores would approach,
- the 20 slowest tests by duration, and the 20 costliest by CPU seconds (each test's own process and the
  processes it waited for; on a loaded machine the CPU ranking is the one to trust). The commands that
  ``tests/cli_fork.py`` forks from its server are waited for by that server, which each worker stops and
  waits for at its end: their CPU is in the total, not in their tests' own figures.

``--keep=PREFIX`` keeps the JUnit XML (``PREFIX.xml``) and the CPU seconds of each test (``PREFIX.cpu.json``).
Other arguments go to pytest in place of ``-n auto`` (``python benchmarks/bench_tests.py -p no:xdist`` for
the serial figure, ``python benchmarks/bench_tests.py -n auto tests/test_report.py`` for one file).
Like the other benchmarks, the run's processes may write bytecode (``PYTHONDONTWRITEBYTECODE`` unset).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CPU_ENV = "BENCH_TESTS_CPU"


class CpuPerTest:
    """Each test's CPU seconds (its process's and the processes it waited for), as JSON lines in a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    @staticmethod
    def _cpu() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
        start = self._cpu()
        try:
            return (yield)
        finally:
            with open(self.path, "a") as fh:
                fh.write(json.dumps([item.nodeid, self._cpu() - start]) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    """This module as a pytest plugin (``-p bench_tests``, in every worker): record each test's CPU seconds."""
    if os.environ.get(CPU_ENV):
        config.pluginmanager.register(CpuPerTest(os.environ[CPU_ENV]), "bench-tests-cpu")


def durations(junit: Path) -> list[tuple[float, str]]:
    """Each test's duration (seconds) and id, slowest first."""
    out = []
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        out.append((float(case.get("time") or 0), name))
    return sorted(out, reverse=True)


def cpu_seconds(path: Path) -> list[tuple[float, str]]:
    """Each test's CPU seconds and id, costliest first."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(((float(cpu), str(node)) for node, cpu in rows), reverse=True)


def main(args: list[str]) -> int:
    keep = [a.split("=", 1)[1] for a in args if a.startswith("--keep=")]
    extra = [a for a in args if not a.startswith("--keep=")] or ["-n", "auto"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        junit, per_test = Path(tmp) / "junit.xml", Path(tmp) / "cpu.jsonl"
        env[CPU_ENV] = str(per_test)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bench_tests",
               f"--junitxml={junit}", *extra]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        # Ctrl-C's default action in the run, as from a terminal: a benchmark started in the background of a
        # shell ignores SIGINT, and every process of the run would inherit that
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        tests = durations(junit) if junit.exists() else []
        cpus = cpu_seconds(per_test)
        if keep:
            if junit.exists():
                Path(f"{keep[0]}.xml").write_bytes(junit.read_bytes())
            Path(f"{keep[0]}.cpu.json").write_text(json.dumps([[n, c] for c, n in cpus], indent=0))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cores = os.cpu_count() or 1
    summary = [line for line in done.stdout.splitlines() if line.strip()][-1:] or ["(no output)"]
    print(f"command: python -m pytest -q {' '.join(extra)}")
    print(f"result: {summary[0]}")
    print(f"wall: {wall:.1f} s ({wall / 60:.1f} min) on {cores} cores; load average at the end "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"sum of test durations: {sum(t for t, _ in tests):.1f} s over {len(tests)} tests")
    print(f"CPU, pytest and the processes it waited for: {cpu:.1f} s (/ {cores} cores = {cpu / cores:.1f} s); "
          f"sum over the tests: {sum(c for c, _ in cpus):.1f} s")  # fmt: skip
    print("slowest 20 by duration:")
    for seconds, name in tests[:20]:
        print(f"  {seconds:7.2f} s  {name}")
    print("costliest 20 by CPU:")
    for seconds, name in cpus[:20]:
        print(f"  {seconds:7.2f} s  {name}")
    if done.returncode not in (0, 5):
        print("\n".join(done.stdout.splitlines()[-40:]))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
