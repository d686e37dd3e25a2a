"""Figures drawn, outcomes built and the Word report made by worker processes are those of the run's own
process, byte for byte."""

from __future__ import annotations

import pytest

from advance_trial.output.render import workers
from advance_trial.pipeline import run
from tests.conftest import SAMPLES, config_path


def test_workers_draw_the_same_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVANCE_TRIAL_WORKERS", "2")  # the xdist workers' default is 0 (tests/conftest.py)
    pool = workers.start_workers()
    workers.stop_workers(pool)
    if pool is None:
        pytest.skip("this machine draws in-process (one core or no fork)")
    runs = {}
    for name, env in (("workers", "2"), ("inline", "0")):
        monkeypatch.setenv("ADVANCE_TRIAL_WORKERS", env)
        out = tmp_path / name
        runs[name] = run(config_path("advance-feasibility"), SAMPLES / "advance-feasibility", out).outputs
    assert {n for n in runs["workers"] if n.endswith((".svg", ".png"))} == {
        f"{s}.{e}" for s in ("consort", "accrual", "attendance", "engagement", "retention", "forest",
                             "plan_sensitivity", "recruitment_forecast")
        for e in ("svg", "png")}  # fmt: skip
    assert {"report.docx", "outcomes.csv", "results.csv"} <= set(runs["workers"])
    assert runs["workers"] == runs["inline"]


def test_report_files_a_worker_failed_to_make_are_made_here(tmp_path, monkeypatch):
    from concurrent.futures import Executor, Future
    from concurrent.futures.process import BrokenProcessPool

    from advance_trial.output.render import files

    class Gone(Executor):
        def submit(self, fn, /, *args, **kwargs):
            made: Future[bytes] = Future()
            made.set_exception(BrokenProcessPool("a worker died"))
            return made

    monkeypatch.setattr(files, "to_html", lambda report: "<p>r</p>")  # made here: the workers are gone
    monkeypatch.setattr(files, "to_markdown", lambda report: "r")
    monkeypatch.setattr(files, "to_docx", lambda report: b"word")
    written = files.write_report(object(), tmp_path, workers=Gone())  # type: ignore[arg-type]
    assert (tmp_path / "report.html").read_bytes() == b"<p>r</p>"
    assert (tmp_path / "report.docx").read_bytes() == b"word" and set(written) == {
        "report.html", "report.md", "report.docx"}  # fmt: skip


def test_no_workers_when_told_or_on_one_core(monkeypatch):
    monkeypatch.setenv("ADVANCE_TRIAL_WORKERS", "0")
    assert workers.start_workers() is None
    monkeypatch.delenv("ADVANCE_TRIAL_WORKERS")
    monkeypatch.setattr(workers, "_cores", lambda: 1)
    assert workers.start_workers() is None


def test_figure_jobs_follow_the_tables():
    import pandas as pd

    from advance_trial.output.tables import Table

    tables = {"consort": Table("consort", pd.DataFrame({"n": [1]})),
              "dose_distribution": Table("dose_distribution", pd.DataFrame({"n": [1]})),
              "retention": Table("retention", pd.DataFrame())}  # fmt: skip
    assert [j[0] for j in workers.figure_jobs(tables)] == ["consort", "attendance"]
    assert [j[0] for j in workers.figure_jobs(tables, histogram=False)] == ["consort"]


def test_workers_end_when_the_run_is_killed(tmp_path):
    """``kill -9`` of a run leaves no figure worker behind (they had waited for work for ever)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    script = (
        "import os, sys, time\n"
        "from advance_trial.output.render import workers\n"
        "pool = workers.start_workers()\n"
        "if pool is None:\n    print('none', flush=True); sys.exit(0)\n"
        "pool.submit(workers._noop).result()\n"
        "print(' '.join(str(p) for p in pool.processes), flush=True)\n"
        "time.sleep(600)\n"
    )  # fmt: skip
    # two workers whatever the tests' own setting (tests/conftest.py: none under xdist)
    env = {**os.environ, "ADVANCE_TRIAL_WORKERS": "2"}
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    line = run.stdout.readline().split()
    if line == ["none"]:
        run.wait()
        pytest.skip("this machine draws in-process (one core or no fork)")
    kids = [int(p) for p in line]
    assert len(kids) == 2
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 30
    alive = kids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in kids if _alive(p)]
    assert not alive


def _alive(pid: int) -> bool:
    import contextlib
    import os

    with contextlib.suppress(ChildProcessError):  # not our child: raises; a zombie of ours would be reaped
        os.waitpid(pid, os.WNOHANG)
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _modules_and_pid(name: str, wait: float = 0.0) -> tuple[bool, int]:
    import os
    import sys
    import time

    time.sleep(wait)
    return name in sys.modules, os.getpid()


def test_a_step_built_apart_goes_to_the_worker_that_imported_its_modules(monkeypatch):
    import sys

    from advance_trial.steps import apart_modules

    assert "advance_trial.outcomes.nested" in apart_modules()  # scipy's optimiser, imported while the data are read
    if "tabnanny" in sys.modules:
        pytest.skip("the test process has the module already")
    monkeypatch.setenv("ADVANCE_TRIAL_WORKERS", "2")
    pool = workers.start_workers(prepare=("tabnanny",))
    if pool is None:
        pytest.skip("this machine draws in-process (one core or no fork)")
    try:
        busy = pool.submit_apart(_modules_and_pid, "tabnanny", 1.0)
        other = pool.submit(_modules_and_pid, "tabnanny")  # the kept worker is busy: the other one takes it
        (prepared, kept), (elsewhere, pid) = busy.result(), other.result()
        assert prepared and not elsewhere and kept != pid
        assert workers.submit_apart(pool, _modules_and_pid, "tabnanny").result() == (True, kept)
    finally:
        workers.stop_workers(pool)


def _frozen() -> int:
    import gc

    return gc.get_freeze_count()


def test_the_imports_are_set_aside_from_the_collector_while_the_workers_run_and_given_back_after(monkeypatch):
    import gc

    monkeypatch.setenv("ADVANCE_TRIAL_WORKERS", "2")
    session = gc.get_freeze_count()  # what the test session set aside (tests/conftest.py), given back for now
    gc.unfreeze()
    try:
        pool = workers.start_workers()
        if pool is None:
            pytest.skip("this machine draws in-process (one core or no fork)")
        try:
            assert gc.get_freeze_count() > 10_000  # the test process's modules, at least
            assert pool.submit(_frozen).result() > 10_000  # the worker inherits them set aside: no page copied
        finally:
            workers.stop_workers(pool)
        assert gc.get_freeze_count() == 0  # a process that goes on collects them again
        gc.freeze()  # a process that set objects aside itself keeps them as it set them
        kept = gc.get_freeze_count()
        workers.stop_workers(workers.start_workers())
        assert gc.get_freeze_count() == kept
    finally:
        gc.unfreeze()
        if session:
            gc.freeze()


def test_the_command_line_sets_its_objects_aside_as_it_ends(monkeypatch):
    import gc

    from advance_trial.cli import main as cli

    def done() -> None:
        raise SystemExit(0)

    monkeypatch.setattr(cli, "app", done)
    try:
        with pytest.raises(SystemExit):
            cli.main()
        assert gc.get_freeze_count() > 10_000  # the exiting process's last collection has nothing to look at
    finally:
        gc.unfreeze()
