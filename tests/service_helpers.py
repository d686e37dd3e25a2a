"""A trial served by the allocation service: accounts for every role, in-process clients and real servers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.allocation_helpers import BLINDED, BLOCKS, Trial, make_trial
from tests.conftest import ROOT
from tests.pg import free_port

PASSWORD = "correct horse battery staple"
#: The answers that make a man eligible under the ADVANCE config's criteria.
ELIGIBLE = {
    "adult": True,
    "in_treatment": True,
    "abusive": True,
    "english": True,
    "other_programme": False,
    "consented": True,
}
ACCOUNTS = {
    "ra.london": ("site_ra", ["london"]),
    "ra.wolverhampton": ("site_ra", ["wolverhampton"]),
    "ra.bristol": ("site_ra", ["bristol"]),
    "unblinder": ("unblinder", []),
    "stat": ("statistician", []),
    "admin": ("admin", []),
}


@dataclass
class ServedTrial:
    """A trial with its log at ``where`` and an account (with its API token) for every role."""

    trial: Trial
    where: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def cfg(self):
        return self.trial.cfg

    @property
    def ring(self):
        return self.trial.ring

    def accounts(self, clock=None):
        from advance_trial.service.accounts import Accounts

        return Accounts(self.cfg, self.ring, self.where, clock) if clock else Accounts(self.cfg, self.ring, self.where)

    def app(self, **kwargs):
        from advance_trial.randomisation.allocation import log_path
        from advance_trial.service.app import create_app

        return create_app(self.cfg, self.ring, log_path(self.cfg, self.where), login_delay=0.001, **kwargs)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def serve_trial(root: Path, where: str, blinded: bool = False, extra: str = "",
                eligibility: bool = False, block: str | None = None) -> ServedTrial:  # fmt: skip
    """A new trial whose log lives at ``where`` (a path or a PostgreSQL URL), with every role's account.

    ``eligibility``: keep the ADVANCE config's eligibility criteria (the service then asks for every answer).
    """
    block = block or (BLINDED if blinded else BLOCKS)
    t = make_trial(root, block, extra=extra, init=False, eligibility=eligibility)
    t.log = where
    t.init()
    served = ServedTrial(t, where)
    accounts = served.accounts()
    from advance_trial.service import accounts as module
    from tests.conftest import _cheap_hasher

    # at Argon2's lowest cost also outside a test's own fixtures (a fixture of module scope: tests/conftest.py's
    # autouse fixture is not in place there), so that each login to a server is not 0.3 s of CPU
    real, module._hasher = module._hasher, _cheap_hasher
    try:
        for name, (role, sites) in ACCOUNTS.items():
            served.tokens[name] = accounts.add(name, role, sites, PASSWORD)[1]
    finally:
        module._hasher = real
    return served


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def web_login(client, name: str, password: str = PASSWORD):
    """Log a test client in through the login form; the response to the form's post."""
    page = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(page.text), "name": name, "password": password},
                       follow_redirects=False)  # fmt: skip


# ---------------------------------------------------------------------------- a real server process


#: ``python -m advance_trial ARGS`` with the service's base wait after a failed login (``create_app``'s
#: ``login_delay``, 0.5 s: ``test_service_hardening.py`` checks that default) set to ``sys.argv[1]`` seconds
_SERVE_WITH_LOGIN_DELAY = (
    "import runpy, sys; from advance_trial.service import app; "
    "app.create_app.__kwdefaults__['login_delay'] = float(sys.argv.pop(1)); "
    "runpy.run_module('advance_trial', run_name='__main__', alter_sys=True)"
)


class Server:
    """``advance-trial serve`` as its own process on a free loopback port (killable, restartable).

    ``login_delay``: the base of the failed logins' doubling wait, in place of the service's 0.5 s, for a test
    of what failed logins do (a lock-out) rather than of how long they wait (which takes 0.5 + 1 + 2 + 4 +
    8 s over five failures from one address).
    """

    def __init__(self, served: ServedTrial, port: int | None = None, extra: list[str] | None = None,
                 login_delay: float | None = None) -> None:  # fmt: skip
        self.served, self.port, self.extra = served, port or free_port(), extra or []
        self.login_delay = login_delay
        self.proc: subprocess.Popen[bytes] | None = None
        self.scheme = "https" if "--certfile" in self.extra else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        t = self.served.trial
        cmd = [sys.executable, "-m", "advance_trial", "serve", str(t.config), "--db", self.served.where,
               "--key-dir", str(t.keys), "--port", str(self.port), *self.extra]  # fmt: skip
        if self.login_delay is not None:
            cmd[1:3] = ["-c", _SERVE_WITH_LOGIN_DELAY, str(self.login_delay)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server stopped: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
                )
            try:
                if self.get("/api/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def request(self, method: str, path: str, token: str | None = None, body: Any = None,
                timeout: float = 60.0) -> tuple[int, Any]:  # fmt: skip
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        ctx = None
        if self.scheme == "https":
            import ssl

            ctx = ssl.create_default_context(cafile=self.extra[self.extra.index("--certfile") + 1])
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return self.request("GET", path, token)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serving(served: ServedTrial, **kwargs: Any):
    server = Server(served, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


def run_sql(where, sql):
    """Run SQL on the log's database directly, as someone with write access to it (not to the key)."""
    from advance_trial.randomisation.database import connect, location

    db = connect(location(where))
    try:
        if sql.lstrip().upper().startswith("SELECT"):
            return db.query(sql)[1]
        db.run(sql)
        return []
    finally:
        db.close()


def edit_events(where, sql):
    """Edit the events table with its append-only triggers dropped (someone with the database's owner rights)."""
    from advance_trial.randomisation.database import connect, location

    db = connect(location(where))
    try:
        if db.kind == "sqlite":
            for (name,) in db.query("SELECT name FROM sqlite_master WHERE type = 'trigger'")[1]:
                db.run(f"DROP TRIGGER {name}")
        else:
            db.run("ALTER TABLE events DISABLE TRIGGER USER")
        db.run(sql)
    finally:
        db.close()
