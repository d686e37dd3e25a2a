"""The data folder never loses data: one writer at a time, and kill -9 leaves the old or the new.

Measured before: two sites importing at once lost a whole site's rows in 4 of 10 runs, both exiting 0;
a crash between writing the data and writing audit.csv left an arm change with no audit row.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.data.folder import STAGING, Transaction, locked, recover
from advance_trial.errors import UsageError
from tests.conftest import SAMPLES, config_path

SAMPLE = SAMPLES / "advance-feasibility"
EXPORTS = SAMPLE / "site-exports"
CLI = [sys.executable, "-m", "advance_trial"]


def _import(data: Path, site: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*CLI, *_import_args(data, site)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _import_args(data: Path, site: str) -> list[str]:
    export = EXPORTS / f"{site}-attendance.xlsx"
    return ["import", str(config_path("advance-feasibility")), str(export), "--data", str(data), "--site", site,
            "--kind", "attendance"]  # fmt: skip


# imports the command line once; then for each line read (a JSON list of [arguments, output file]) forks one
# process per command at once, each running `advance-trial ARGUMENTS` with its output in its file, and answers
# their exit codes (a JSON list): separate processes racing for the folder, without each importing the toolkit
_WARM_CLI = textwrap.dedent("""
    import json, os, sys, traceback
    from advance_trial.cli.main import main
    import advance_trial.importing
    for line in sys.stdin:
        pids = []
        for args, log in json.loads(line):
            pid = os.fork()
            if pid == 0:
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                sys.argv = ["advance-trial", *args]
                code = 0
                try:
                    main()
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            pids.append(pid)
        print(json.dumps([os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]), flush=True)
""")


@pytest.fixture
def warm_cli():
    """``warm_cli([(args, log), ...])``: the commands run at once, each in a process of its own forked from one
    that imported the toolkit (:data:`_WARM_CLI`); their exit codes."""
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    proc = subprocess.Popen([sys.executable, "-c", _WARM_CLI], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip

    def run(jobs: list[tuple[list[str], Path]]) -> list[int]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps([[args, str(log)] for args, log in jobs]) + "\n")
        proc.stdin.flush()
        answer = proc.stdout.readline()
        assert answer, f"the forking process ended (exit {proc.wait(timeout=60)})"
        return list(json.loads(answer))

    yield run
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=60)


def _sites_in(data: Path) -> set[str]:
    men = pd.read_csv(data / "participants.csv", dtype=str)
    att = pd.read_csv(data / "attendance.csv", dtype=str)
    return set(men.set_index("participant_id").loc[att["participant_id"].unique(), "site"])


def test_two_sites_importing_at_once_both_arrive(fresh, tmp_path, warm_cli):
    for attempt in range(4):
        data = tmp_path / f"run{attempt}"
        shutil.copytree(fresh, data)
        jobs = [(_import_args(data, site), tmp_path / f"run{attempt}-{site}.log") for site in ("london", "bristol")]
        codes = warm_cli(jobs)
        assert codes == [0, 0], [log.read_text() for _, log in jobs]
        assert _sites_in(data) == {"london", "bristol"}
        audit = pd.read_csv(data / "import" / "audit.csv", dtype=str)
        assert sorted(audit["site"]) == ["bristol", "london"] and set(audit["outcome"]) == {"imported"}


def test_a_second_writer_waits_and_says_so(fresh):
    heard = []
    with locked(fresh):
        code = textwrap.dedent(f"""
            from advance_trial.data.folder import locked
            from advance_trial.errors import UsageError
            try:
                with locked({str(fresh)!r}, waiting=print, timeout=0.5):
                    pass
            except UsageError as exc:
                print("gave up:", exc)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
        heard.append(out)
    assert "waiting for another command" in heard[0] and "gave up" in heard[0]


_KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from advance_trial.data.folder import Transaction
    folder, at = Path(sys.argv[1]), sys.argv[2]
    t = Transaction(folder)
    t.put("a.csv", b"new a\\n")
    t.put("import/audit.csv", b"new ledger\\n")
    t.put("b.csv", b"new b\\n")
    def hook(step):
        if step == at:
            os.kill(os.getpid(), signal.SIGKILL)
    t.commit(hook)
""")


@pytest.mark.parametrize("at", ["staged", "intent", "renamed a.csv", "renamed b.csv", "renamed import/audit.csv"])
def test_kill_9_at_each_step_leaves_the_old_files_or_the_new_with_their_ledger(tmp_path, at):
    folder = tmp_path / "data"
    (folder / "import").mkdir(parents=True)
    for name, text in (("a.csv", "old a\n"), ("b.csv", "old b\n"), ("import/audit.csv", "old ledger\n")):
        (folder / name).write_text(text)
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(folder), at], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = recover(folder)
    state = {n: (folder / n).read_text() for n in ("a.csv", "b.csv", "import/audit.csv")}
    if at == "staged":  # before the intent record: rolled back
        assert done[0].startswith("rolled back") and set(state.values()) == {"old a\n", "old b\n", "old ledger\n"}
    else:
        assert done[0].startswith("rolled forward")
        assert state == {"a.csv": "new a\n", "b.csv": "new b\n", "import/audit.csv": "new ledger\n"}
    assert not any((folder / STAGING).iterdir())


def test_kill_9_at_random_moments_of_a_real_import_never_mixes_data_and_ledger(fresh, tmp_path):
    before = (fresh / "participants.csv").read_bytes()
    for attempt, delay in enumerate((0.8, 1.2, 1.6, 2.0, 2.4, 3.0)):
        data = tmp_path / f"k{attempt}"
        shutil.copytree(fresh, data)
        proc = _import(data, "london")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        with locked(data):  # the next command recovers first
            pass
        has_data = (data / "attendance.csv").exists()
        audit = data / "import" / "audit.csv"
        has_ledger = audit.exists() and "london" in audit.read_text()
        assert has_data == has_ledger, (delay, has_data, has_ledger)
        assert (data / "participants.csv").read_bytes() == before


def test_a_missing_data_folder_is_one_message(invoke, tmp_path):
    res = invoke("import", config_path("advance-feasibility"), EXPORTS / "london-attendance.xlsx", "--data",
                 tmp_path / "nowhere", "--site", "london", "--kind", "attendance")  # fmt: skip
    assert res.exit_code == 2 and "no such data folder" in res.output
    assert len(res.output.strip().splitlines()) <= 3 and not (tmp_path / "nowhere").exists()


def test_files_follow_the_umask_and_blinding_keys_stay_private(tmp_path):
    from advance_trial.data.tablefile import write_bytes_atomic

    old = os.umask(0o002)
    try:
        write_bytes_atomic(b"x", tmp_path / "shared.csv")
        write_bytes_atomic(b"x", tmp_path / "key.csv", private=True)
        Transaction(tmp_path).put("t.csv", b"y")
        t = Transaction(tmp_path)
        t.put("t.csv", b"y")
        t.commit()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.csv").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "key.csv").stat().st_mode) == 0o600


def test_a_transaction_refuses_paths_outside_its_folder(tmp_path):
    t = Transaction(tmp_path)
    for bad in ("../x.csv", "/etc/passwd"):
        with pytest.raises(ValueError):
            t.put(bad, b"")
    with pytest.raises(UsageError), locked(tmp_path / "missing"):
        pass


@pytest.mark.parametrize("option", ["--user", "--by"])
def test_who_imports_is_user_and_the_old_by_still_works_with_a_warning(invoke, fresh, option):
    res = invoke("import", config_path("advance-feasibility"), EXPORTS / "london-attendance.xlsx", "--data", fresh,
                 "--site", "london", "--kind", "attendance", option, "RA London")  # fmt: skip
    assert res.exit_code == 0, res.output
    audit = (fresh / "import" / "audit.csv").read_text()
    assert "RA London" in audit
    assert ("is now --user" in res.output) is (option == "--by")
