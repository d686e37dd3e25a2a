"""``advance-trial ARGS`` as a process of its own, forked from one that has imported the third-party libraries.

A test about what the real command does outside pytest (an exit code, what it writes to a pipe that is not a
terminal, a config that could hang or crash it) needs a process of its own, but not a second of Python and
pandas imports each time: :func:`run` forks it from a server process (``multiprocessing``'s forkserver, one per
xdist worker, started at its first use) that imported :data:`PRELOAD` once. The child imports the toolkit
itself (after the environment is set: the terminal's width is read at import), runs the CLI's ``main``, and
exits with its status; its standard output and error go to files, returned as
:class:`subprocess.CompletedProcess` like ``subprocess.run(..., capture_output=True, text=True)``. A crash
kills the child alone (a negative status); a hang is killed at the timeout (:class:`subprocess.TimeoutExpired`).

A test about the interpreter itself (a signal, a traceback under ``--debug``, a pipe closed early, what an
import costs) still starts ``python -m advance_trial`` with :mod:`subprocess`.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: What the fork server imports once: the third-party libraries the CLI's commands import (not the toolkit).
PRELOAD = [
    "numpy",
    "pandas",
    "scipy.optimize",
    "scipy.special",
    "scipy.stats",
    "yaml",
    "pydantic",
    "typer",
    "rich",
    "click",
    "filelock",
    "tests.cli_fork",
]


def _child(args: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """In the forked process: the environment, the folder and the standard streams of ``python -m advance_trial``,
    then its ``main`` (its ``SystemExit`` is the process's status)."""
    import io

    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    # as Python opens them on a pipe: UTF-8, strict on standard output, escaping on standard error
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="strict")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True)  # fmt: skip
    sys.argv = [str(Path(sys.executable).parent / "advance-trial"), *args]
    from advance_trial.cli.main import main

    main()


def run(*args: object, timeout: float = 60, env: Mapping[str, str] | None = None, cwd: Path | str = ".",
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``advance-trial ARGS`` in a forked process; its status, standard output and standard error."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    argv = [str(a) for a in args]
    with tempfile.TemporaryDirectory() as folder:
        out, err = os.path.join(folder, "stdout"), os.path.join(folder, "stderr")
        proc = ctx.Process(target=_child, args=(argv, dict(os.environ if env is None else env), str(cwd), out, err))
        proc.start()
        proc.join(timeout)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
            raise subprocess.TimeoutExpired(["advance-trial", *argv], timeout)
        code = proc.exitcode
        proc.close()
        return subprocess.CompletedProcess(["advance-trial", *argv], code, Path(out).read_text(),
                                           Path(err).read_text(errors="replace"))  # fmt: skip


def stop() -> None:
    """Stop this process's fork server, if started, and wait for it: its CPU seconds, and its children's, are
    then this process's (``benchmarks/bench_tests.py`` counts what the processes it waited for used)."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if getattr(server, "_forkserver_pid", None) is not None:
        server._stop()
