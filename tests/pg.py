"""A throwaway PostgreSQL server for the tests, and a fresh database per test.

CI starts the server in ``.ci/run`` and passes its URL as ``ADVANCE_TRIAL_TEST_PG`` (an account that may
create databases, on loopback). Elsewhere the session starts one itself from Debian's ``postgresql``
binaries when they are installed (``initdb`` into a temporary folder, ``pg_ctl start`` on a free loopback
port, stopped at the end), once for all the pytest-xdist workers of a run. Under CI a missing server fails
the PostgreSQL tests; elsewhere they skip.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV = "ADVANCE_TRIAL_TEST_PG"


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[str, dict[str, Any]]:
    """Start a PostgreSQL server in a temporary folder: its admin URL, and what :func:`stop_server` needs."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise FileNotFoundError("PostgreSQL's initdb and pg_ctl (Debian's postgresql package)")
    as_root = os.geteuid() == 0
    # as root the server runs as the postgres user, who must reach its folder: the system's temporary folder,
    # not a private one (each xdist worker's TMPDIR is its own, mode 700)
    root = Path(tempfile.mkdtemp(prefix="advance-pg-", dir="/tmp" if as_root and os.path.isdir("/tmp") else None))
    password = secrets.token_hex(12)
    port = free_port()
    (root / "pw").write_text(password)
    run_as: list[str] = []
    if as_root:  # the server refuses to run as root
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
        shutil.chown(root / "pw", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    init = [initdb, "-D", str(data), "-U", "advance", "--pwfile", str(root / "pw"), "--auth", "scram-sha-256"]
    stop = {"root": str(root), "command": [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"]}
    try:
        subprocess.run([*run_as, *init, "-E", "UTF8", "--locale", "C"], check=True, capture_output=True)
        opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=on"
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
                       check=True, capture_output=True)  # fmt: skip
    except BaseException:
        stop_server(stop)
        raise
    return f"postgresql://advance:{password}@127.0.0.1:{port}/postgres", stop


def stop_server(stop: dict[str, Any]) -> None:
    """Stop a server :func:`start_server` started and remove its folder."""
    subprocess.run(stop["command"], capture_output=True)
    shutil.rmtree(stop["root"], ignore_errors=True)


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a PostgreSQL server in a temporary folder; yields an admin URL; stops and removes it after."""
    url, stop = start_server()
    try:
        yield url
    finally:
        stop_server(stop)


def shared_server(state: Path) -> str:
    """The admin URL of the server recorded in ``state`` (a JSON file), started by the first process to ask.

    The pytest-xdist workers of one run share it; :func:`stop_shared_server` stops it at the end.
    """
    from filelock import FileLock

    with FileLock(f"{state}.lock"):
        if not state.exists():
            url, stop = start_server()
            state.write_text(json.dumps({"url": url, "stop": stop}))
        return str(json.loads(state.read_text())["url"])


def stop_shared_server(state: Path) -> None:
    """Stop the server :func:`shared_server` started, if one was."""
    if state.exists():
        stop_server(json.loads(state.read_text())["stop"])
        state.unlink()


def fresh_database(admin_url: str) -> str:
    """Create an empty database on the server; its URL."""
    import psycopg

    name = f"trial_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
