"""A throwaway PostgreSQL server for the tests, and a fresh database per test.

CI starts the server in ``.ci/run`` and passes its URL as ``ADVANCE_TRIAL_TEST_PG`` (an account that may
create databases, on loopback). Elsewhere the session starts one itself from Debian's ``postgresql``
binaries when they are installed (``initdb`` into a temporary folder, ``pg_ctl start`` on a free loopback
port, stopped at the end). Under CI a missing server fails the PostgreSQL tests; elsewhere they skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENV = "ADVANCE_TRIAL_TEST_PG"


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a PostgreSQL server in a temporary folder; yields an admin URL; stops and removes it after."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise FileNotFoundError("PostgreSQL's initdb and pg_ctl (Debian's postgresql package)")
    root = Path(tempfile.mkdtemp(prefix="advance-pg-"))
    password = secrets.token_hex(12)
    port = free_port()
    (root / "pw").write_text(password)
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
        shutil.chown(root / "pw", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    init = [initdb, "-D", str(data), "-U", "advance", "--pwfile", str(root / "pw"), "--auth", "scram-sha-256"]
    subprocess.run([*run_as, *init, "-E", "UTF8", "--locale", "C"], check=True, capture_output=True)
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=on"
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://advance:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(admin_url: str) -> str:
    """Create an empty database on the server; its URL."""
    import psycopg

    name = f"trial_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
