"""The allocation service in process: every role against every endpoint it must not use, the pages' sessions
and CSRF tokens, lock-outs, notices, and a tampered database; each against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from advance_trial.randomisation import allocation as al
from tests.service_helpers import PASSWORD, csrf_of, edit_events, run_sql, serve_trial, web_login


@pytest.fixture
def served(tmp_path, log_location):
    return serve_trial(tmp_path, log_location)


@pytest.fixture
def client(served):
    return TestClient(served.app())


#: Every API endpoint, with a body where it takes one.
ENDPOINTS = {
    "allocate": ("POST", "/api/allocations", {"participant_id": "AF900", "site": "london"}),
    "list": ("GET", "/api/allocations", None),
    "read": ("GET", "/api/allocations/AF001", None),
    "unblind": ("POST", "/api/allocations/AF001/unblind", {"reason": "serious adverse event in hospital"}),
    "export": ("POST", "/api/export", {"reason": "data manager builds participants file"}),
    "verify": ("GET", "/api/verify", None),
    "users": ("GET", "/api/users", None),
}
#: What each role may use; every other endpoint must answer 403.
ALLOWED = {
    "ra.london": {"allocate", "list", "read"},
    "unblinder": {"list", "read", "unblind"},
    "stat": {"list", "read", "export", "verify"},
    "admin": {"verify", "users"},
}


def call(client, served, who, endpoint):
    method, path, body = ENDPOINTS[endpoint]
    return client.request(method, path, headers=served.auth(who), json=body)


def test_each_role_is_refused_every_endpoint_it_must_not_use(client, served):
    assert call(client, served, "ra.london", "allocate").status_code == 201
    client.post(
        "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF001", "site": "london"}
    )
    refused = []
    for who, allowed in ALLOWED.items():
        for endpoint in ENDPOINTS:
            status = call(client, served, who, endpoint).status_code
            if endpoint not in allowed:
                assert status == 403, (who, endpoint, status)
                refused.append((who, endpoint))
            else:
                assert status in (200, 201, 409), (who, endpoint, status)
    assert len(refused) == 4 * len(ENDPOINTS) - sum(map(len, ALLOWED.values()))
    # nothing a refused request asked for reached the log: one allocation for AF900, one for AF001
    report = al.verify_log(served.cfg, served.ring, served.where)
    assert report.allocations == 2 and report.unblindings == 1 and report.exports == 1


def test_no_token_a_bad_token_and_a_disabled_account_are_401(client, served):
    assert client.get("/api/allocations").status_code == 401
    assert client.get("/api/allocations", headers={"Authorization": "Bearer atk_forged"}).status_code == 401
    assert client.get("/api/allocations", headers={"Authorization": "Basic abc"}).status_code == 401
    served.accounts().disable("ra.london")
    r = client.post(
        "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF1", "site": "london"}
    )
    assert r.status_code == 401 and "disabled" in r.json()["error"]
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0


def test_an_allocation_with_a_bad_body_tells_the_token_fault_first(client, served):
    """The token is checked before the body's faults are told (the token check and the step share one hand-over
    to a thread; the body is read before it)."""
    for body in (b"not json", b"[1, 2]", b'{"participant_id": 7}'):
        for auth, status in (({"Authorization": "Bearer atk_forged"}, 401), ({}, 401)):
            assert client.post("/api/allocations", headers=auth, content=body).status_code == status
    assert client.post("/api/allocations", headers=served.auth("ra.london"), content=b"not json").status_code == 400
    assert client.post("/api/allocations", headers=served.auth("ra.london"), content=b"[1]").status_code == 400
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0


def test_a_london_assistant_cannot_allocate_or_read_at_bristol(client, served):
    r = client.post(
        "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF001", "site": "bristol"}
    )
    assert r.status_code == 403 and "london" in r.json()["error"]
    r = client.post(
        "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF001", "site": " BRISTOL"}
    )
    assert r.status_code == 403
    assert client.post("/api/allocations", headers=served.auth("ra.bristol"),
                       json={"participant_id": "AF002", "site": "bristol"}).status_code == 201  # fmt: skip
    # his allocation is not London's to read: 404 (not even whether he exists), and not in London's list
    assert client.get("/api/allocations/AF002", headers=served.auth("ra.london")).status_code == 404
    assert client.get("/api/allocations", headers=served.auth("ra.london")).json() == {"allocations": []}
    assert client.get("/api/allocations/AF002", headers=served.auth("ra.bristol")).status_code == 200


def test_statuses_bad_input_400_unknown_404_again_409(client, served):
    h = served.auth("ra.london")
    bad = client.post("/api/allocations", headers=h, json={"participant_id": "=cmd()", "site": "london"})
    assert bad.status_code == 400 and bad.json()["problems"][0]["column"] == "--participant"
    assert client.post("/api/allocations", headers=h, content=b"not json").status_code == 400
    assert client.post("/api/allocations", headers=h, json=["AF1"]).status_code == 400
    assert client.post("/api/allocations", headers=h, json={"participant_id": 7, "site": "london"}).status_code == 400
    first = client.post("/api/allocations", headers=h, json={"participant_id": "AF001", "site": "london"})
    assert first.status_code == 201 and first.json()["receipt"]["sequence"] == 1
    again = client.post("/api/allocations", headers=h, json={"participant_id": "af-001 ", "site": "london"})
    assert again.status_code in (400, 409)
    same = client.post("/api/allocations", headers=h, json={"participant_id": "AF001", "site": "london"})
    # asking again is no event, so the answer shows no arm (the arm is seen only with an event in the chain)
    assert same.status_code == 409 and same.json()["sequence"] == 1
    assert not {"arm", "arm_label", "code"} & set(same.json())
    assert client.get("/api/allocations/AF404", headers=h).status_code == 404
    assert client.post("/api/allocations/AF404/unblind", headers=served.auth("unblinder"),
                       json={"reason": "serious adverse event in hospital"}).status_code == 404  # fmt: skip
    short = client.post("/api/allocations/AF001/unblind", headers=served.auth("unblinder"), json={"reason": "why"})
    assert short.status_code == 400
    assert client.get("/api/nothing").status_code == 404


def test_a_tampered_log_answers_503_and_nothing_is_written(tmp_path, client, served):
    h = served.auth("ra.london")
    assert (
        client.post("/api/allocations", headers=h, json={"participant_id": "AF001", "site": "london"}).status_code
        == 201
    )
    edit_events(served.where, "UPDATE events SET site = 'bristol' WHERE kind = 'allocation'")
    assert client.get("/api/health").status_code == 503
    r = client.post("/api/allocations", headers=h, json={"participant_id": "AF002", "site": "london"})
    assert r.status_code == 503 and "row" in r.json()["error"]


def test_an_account_row_edited_in_the_database_is_refused(client, served):
    """Someone who can write the database but not read the key cannot make an assistant an admin."""
    run_sql(served.where, "UPDATE accounts SET role = 'admin' WHERE name = 'ra.london'")
    r = client.get("/api/users", headers=served.auth("ra.london"))
    assert r.status_code == 503 and "does not authenticate" in r.json()["error"]


def test_blinded_assistants_see_codes_and_no_arms_in_the_list(tmp_path, log_location):
    served = serve_trial(tmp_path, log_location, blinded=True)
    client = TestClient(served.app())
    made = client.post("/api/allocations", headers=served.auth("ra.london"),
                       json={"participant_id": "AF001", "site": "london"}).json()  # fmt: skip
    assert set(made) >= {"code", "receipt"} and "arm" not in made and made["code"] in ("K", "Q")
    assert "arm" not in json.dumps(client.get("/api/allocations/AF001", headers=served.auth("unblinder")).json())
    listed = client.get("/api/allocations", headers=served.auth("ra.london")).json()["allocations"]
    assert listed and all("arm" not in m and "code" not in m for m in listed)
    stat = client.get("/api/allocations/AF001", headers=served.auth("stat")).json()
    assert stat["participant_id"] == "AF001" and not {"arm", "arm_label", "code"} & set(stat)
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303
    web_login(client, "ra.london")
    html = client.get("/").text
    assert "AF001" in html and ">K<" not in html and ">Q<" not in html and "advance" not in html.split("<main>")[1]


# ---------------------------------------------------------------------------- pages


def test_a_research_assistant_logs_in_allocates_and_sees_the_receipt(client, served):
    login = web_login(client, "ra.london")
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    page = client.get("/")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text and 'name="viewport"' in page.text
    assert (
        '<option value="london" selected>' in page.text
        and "bristol" not in page.text.split('id="site"')[1].split("</select>")[0]
    )
    done = client.post("/allocate", data={"csrf": csrf_of(page.text), "participant_id": "AF001", "site": "london"})
    assert done.status_code == 200 and 'id="receipt"' in done.text
    receipt = al.verify_log(served.cfg, served.ring, served.where)
    assert receipt.allocations == 1 and receipt.logins == 1
    tag = re.search(r"<dt>Tag</dt><dd class=\"mono\">([0-9a-f]{64})</dd>", done.text).group(1)
    assert tag in {e for e in _tags(served)}
    # a second man with the next form's token; the arm shown is the one the log holds
    again = client.post("/allocate", data={"csrf": csrf_of(done.text), "participant_id": "AF002", "site": "london"})
    arm = re.search(r'class="arm">([^<]+)<', again.text).group(1)
    frame = al.allocations(served.cfg, served.ring, served.where).set_index("participant_id")
    assert arm == served.cfg.arm(frame.at["AF002", "arm"]).label
    assert frame.at["AF002", "allocated_by"] == "service:ra.london"


def test_the_page_refuses_another_site_a_forged_or_replayed_token_and_a_logged_out_session(client, served):
    web_login(client, "ra.london")
    page = client.get("/")
    token = csrf_of(page.text)
    # another site, posted by editing the form: refused, nothing written, and the page says why
    other = client.post("/allocate", data={"csrf": token, "participant_id": "AF001", "site": "bristol"})
    assert other.status_code == 403 and "You allocate only at London" in other.text
    # the token used is spent: posting it again (a replay) is refused
    replay = client.post("/allocate", data={"csrf": token, "participant_id": "AF001", "site": "london"})
    assert replay.status_code == 403 and "security token" in replay.text
    forged = client.post("/allocate", data={"csrf": "x" * 43, "participant_id": "AF001", "site": "london"})
    assert forged.status_code == 403
    missing = client.post("/allocate", data={"participant_id": "AF001", "site": "london"})
    assert missing.status_code == 403
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0
    # a token from another account's session is no good in this one
    other_client = TestClient(client.app)
    web_login(other_client, "ra.bristol")
    stolen = csrf_of(other_client.get("/").text)
    assert (
        client.post("/allocate", data={"csrf": stolen, "participant_id": "AF001", "site": "london"}).status_code == 403
    )
    # logged out: the old session cookie opens nothing
    sid = client.cookies.get("advance_session")
    fresh = csrf_of(client.get("/").text)
    client.post("/logout", data={"csrf": fresh}, follow_redirects=False)
    client.cookies.set("advance_session", sid)
    assert client.post("/allocate", data={"csrf": fresh, "participant_id": "AF001", "site": "london"},
                       follow_redirects=False).status_code == 303  # fmt: skip
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0


def test_an_expired_session_and_a_disabled_account_are_sent_to_log_in(served):
    now = [datetime(2026, 3, 1, 9, 0, tzinfo=UTC)]
    client = TestClient(served.app(clock=lambda: now[0]))
    web_login(client, "ra.london")
    token = csrf_of(client.get("/").text)
    now[0] += timedelta(minutes=served.cfg.service.session_minutes + 1)
    r = client.post(
        "/allocate", data={"csrf": token, "participant_id": "AF001", "site": "london"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303
    web_login(client, "ra.london")
    token = csrf_of(client.get("/").text)
    served.accounts().disable("ra.london")
    r = client.post(
        "/allocate", data={"csrf": token, "participant_id": "AF001", "site": "london"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert web_login(client, "ra.london").status_code == 401
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0


def test_failed_logins_are_slowed_then_locked_and_each_is_in_the_chain(served):
    app = served.app()
    svc = app.state.service
    # a base of 0.01 s (the service's own 0.5 s is tested in test_service_hardening.py): the schedule is the same
    # doubling, and the service's own pause (asyncio.sleep) really waits each time; the waits it asked for are
    # recorded exactly, so that a schedule that does not double fails whatever the machine's load
    svc.login_delay = 0.01
    asked: list[float] = []
    schedule = svc.login_wait

    def login_wait(failures: int) -> float:
        asked.append(schedule(failures))
        return asked[-1]

    svc.login_wait = login_wait
    client = TestClient(app)
    limit = served.cfg.service.max_failed_logins
    times = []
    for _ in range(limit):
        t0 = time.perf_counter()
        assert web_login(client, "ra.london", "wrong password").status_code == 401
        times.append(time.perf_counter() - t0)
    # the answer slows as failures mount: each waits at least 0.01 * 2^(failures - 1) s (a floor, whatever the load)
    assert asked == [0.01 * 2**k for k in range(limit)]
    assert all(t >= 0.01 * 2**k for k, t in enumerate(times)) and times[-1] >= 0.01 * 2 ** (limit - 1)
    locked = web_login(client, "ra.london")  # the right password, but locked now
    assert locked.status_code == 401 and "locked" in locked.text
    assert web_login(client, "nobody.here", "x").status_code == 401
    assert asked[limit:] == [0.01 * 2**limit, 0.01 * 2 ** (limit + 1)]  # the address's failures go on counting
    events = _events(served)
    logins = [json.loads(e["detail"]) for e in events if e["kind"] == "login"]
    assert [x["result"] for x in logins] == ["failed"] * limit + ["refused", "failed"]
    assert logins[-2]["reason"] == "locked" and logins[-1] == {"account": None, "reason": "unknown account",
                                                               "result": "failed", "via": "web"}  # fmt: skip
    assert "password" not in json.dumps(logins).replace("wrong password", "")
    served.accounts().set_password("ra.london", PASSWORD)  # lifts the lock
    assert web_login(client, "ra.london").status_code == 303


def test_cookies_are_secure_over_tls(served):
    client = TestClient(served.app(), base_url="https://testserver")
    cookie = web_login(client, "ra.london").headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_each_role_sees_its_own_forms(client, served):
    expected = {"ra.london": ['id="allocate"'], "unblinder": ['id="unblind"'],
                "stat": ['action="/export"', 'id="verify-button"'],
                "admin": ['id="users"', 'id="verify-button"']}  # fmt: skip
    forms = ['id="allocate"', 'id="unblind"', 'action="/export"', 'id="verify-button"', 'id="users"']
    for who, shown in expected.items():
        c = TestClient(client.app)
        web_login(c, who)
        html = c.get("/").text
        for form in forms:
            assert (form in html) == (form in shown), (who, form)
    stat = TestClient(client.app)
    web_login(stat, "stat")
    csv = stat.post("/export", data={"csrf": csrf_of(stat.get("/").text), "reason": "data manager builds the file"})
    assert csv.status_code == 200 and csv.text.startswith("participant_id,site,arm")


def test_emergency_unblinding_writes_a_notice_without_the_arm_and_sends_it(tmp_path, log_location):
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Keep()
    sink = Controller(handler, hostname="127.0.0.1", port=port)
    sink.start()
    try:
        extra = ("notify:\n  contacts:\n    - {name: Chief investigator, email: ci@example.org}\n"
                 "    - {name: Trial manager, email: tm@example.org}\n  outbox: ../outbox\n"
                 f"  smtp: {{host: 127.0.0.1, port: {port}, from: advance@example.org, "
                 "starttls: false}\n")  # fmt: skip
        served = serve_trial(tmp_path, log_location, blinded=True, extra=extra)
        client = TestClient(served.app())
        client.post(
            "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF001", "site": "london"}
        )
        r = client.post("/api/allocations/AF001/unblind", headers=served.auth("unblinder"),
                        json={"reason": "admitted to hospital, clinician asks"})  # fmt: skip
        assert r.status_code == 200 and r.json()["notice"]["sent"] is True
        assert r.json()["arm"] in ("advance", "tau")  # the unblinder sees the arm; the notice does not
    finally:
        sink.stop()
    (outbox_file,) = (tmp_path / "outbox").glob("*.eml")
    text = outbox_file.read_text()
    assert "AF001" in text and "service:unblinder" in text and "admitted to hospital" in text
    unblinding = [e for e in _events(served) if e["kind"] == "unblinding"][0]
    assert f"row {unblinding['row']}." in text and outbox_file.name.endswith(f"-row{unblinding['row']}-unblinding.eml")
    body = text.split("\n\n", 1)[1].replace(served.cfg.trial.title, "").replace(served.cfg.trial.id, "").lower()
    for word in ("advance", "tau", "treatment as usual", "code k", "code q"):  # neither arm, label nor code
        assert word not in body
    assert oct(outbox_file.stat().st_mode & 0o777) == "0o600"
    ((rcpts, content),) = handler.messages
    assert sorted(rcpts) == ["ci@example.org", "tm@example.org"] and "AF001" in content
    assert al.verify_log(served.cfg, served.ring, served.where).unblindings == 1


def test_a_notice_that_cannot_be_sent_stays_in_the_outbox(tmp_path, log_location):
    from tests.pg import free_port

    extra = ("notify:\n  contacts: [{name: CI, email: ci@example.org}]\n  outbox: ../outbox\n"
             f"  smtp: {{host: 127.0.0.1, port: {free_port()}, from: a@example.org, starttls: false, "
             "timeout_seconds: 2}\n")  # fmt: skip
    served = serve_trial(tmp_path, log_location, extra=extra)
    client = TestClient(served.app())
    client.post(
        "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF001", "site": "london"}
    )
    r = client.post("/api/allocations/AF001/unblind", headers=served.auth("unblinder"),
                    json={"reason": "admitted to hospital, clinician asks"})  # fmt: skip
    assert r.status_code == 200 and r.json()["notice"]["sent"] is False and "Connection" in r.json()["notice"]["error"]
    assert (
        len(list((tmp_path / "outbox").glob("*.eml"))) == 1 and len(list((tmp_path / "outbox").glob("*.failed"))) == 1
    )


# ---------------------------------------------------------------------------- the users commands


def test_users_commands_add_list_disable_and_token(tmp_path, invoke, log_location, runner):
    from advance_trial.cli.main import app
    from tests.allocation_helpers import make_trial

    t = make_trial(tmp_path, init=False)
    t.log = log_location
    t.init()
    base = [str(t.config), "--db", log_location, "--key-dir", str(t.keys)]
    r = runner.invoke(app, ["users", "add", base[0], "ra.london", "--role", "site_ra", "--site", "london",
                            "--password-stdin", "--json", *base[1:]], input=PASSWORD + "\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    token = json.loads(r.stdout)["token"]
    assert token.startswith("atk_")
    bad = runner.invoke(app, ["users", "add", base[0], "x.y", "--role", "site_ra", "--site", "paris",
                              "--password-stdin", *base[1:]], input=PASSWORD + "\n")  # fmt: skip
    assert bad.exit_code == 2 and "paris" in bad.output
    short = runner.invoke(app, ["users", "add", base[0], "x.y", "--role", "admin", "--password-stdin", *base[1:]],
                          input="short\n")  # fmt: skip
    assert short.exit_code == 2 and "at least" in short.output
    listed = runner.invoke(app, ["users", "list", *base, "--json"])
    (only,) = json.loads(listed.stdout)
    assert only == {"name": "ra.london", "role": "site_ra", "sites": ["london"], "disabled": False,
                    "changed_at": only["changed_at"]}  # fmt: skip
    new = runner.invoke(app, ["users", "token", base[0], "ra.london", *base[1:], "--json"])
    assert new.exit_code == 0 and json.loads(new.stdout)["token"] != token
    assert runner.invoke(app, ["users", "disable", base[0], "ra.london", *base[1:]]).exit_code == 0
    assert json.loads(runner.invoke(app, ["users", "list", *base, "--json"]).stdout)[0]["disabled"] is True
    report = al.verify_log(t.cfg, t.ring, log_location)
    assert report.account_changes == 3 and all(e["actor"] != "service:ra.london" for e in _events_of(t, log_location))
    stored = run_sql(log_location, "SELECT password_hash, token_hash FROM accounts")[0]
    assert stored[0].startswith("$argon2id$") and PASSWORD not in json.dumps(stored) and token not in json.dumps(stored)


# ---------------------------------------------------------------------------- helpers


def _events_of(trial, where):
    from advance_trial.randomisation.log import open_log

    store = open_log(where, trial.ring)
    try:
        return store.events()
    finally:
        store.close()


def _events(served):
    return _events_of(served.trial, served.where)


def _tags(served):
    return [e["tag"] for e in _events(served)]


def test_another_sites_man_is_not_described_to_an_assistant_and_huge_bodies_are_refused(client, served):
    assert client.post("/api/allocations", headers=served.auth("ra.bristol"),
                       json={"participant_id": "AF050", "site": "bristol"}).status_code == 201  # fmt: skip
    r = client.post(
        "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF050", "site": "london"}
    )
    assert r.status_code == 400 and "bristol" not in r.text.lower() and "allocated already" in r.text
    huge = client.post("/api/allocations", headers=served.auth("ra.london"),
                       content=b'{"participant_id": "' + b"A" * 100_000 + b'"}')  # fmt: skip
    assert huge.status_code == 413 and "larger than" in huge.json()["error"]
    web_login(client, "ra.london")
    page = client.post("/allocate", data={"csrf": "x", "participant_id": "A" * 100_000, "site": "london"})
    assert page.status_code == 413
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 1


def test_an_unexpected_failure_is_a_500_without_a_traceback(client, served, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(al, "allocate", broken)
    r = client.post(
        "/api/allocations", headers=served.auth("ra.london"), json={"participant_id": "AF1", "site": "london"}
    )
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
    assert "secret internals" in caplog.text  # logged on the server, never sent


def test_after_an_amendment_the_running_service_refuses_until_restarted(client, served):
    from tests.allocation_helpers import BLOCKS

    h = served.auth("ra.london")
    assert (
        client.post("/api/allocations", headers=h, json={"participant_id": "AF001", "site": "london"}).status_code
        == 201
    )
    served.trial.write(BLOCKS.replace("[2, 4]", "[2]"), version="1.1.0")
    al.amend(served.cfg, served.ring, "block sizes of two from now on", log=served.where)
    stale = client.post("/api/allocations", headers=h, json={"participant_id": "AF002", "site": "london"})
    assert stale.status_code == 503 and "amend" in stale.json()["error"]
    restarted = TestClient(served.app())  # the service started again reads the amended config
    assert (
        restarted.post("/api/allocations", headers=h, json={"participant_id": "AF002", "site": "london"}).status_code
        == 201
    )
