"""The trial team's pages (issue 36): the dashboard, the administrator's account pages with setup codes, the
optional second factor (TOTP), and each role against each new route, allowed and refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from advance_trial.randomisation import allocation as al
from tests.service_helpers import PASSWORD, csrf_of, run_sql, serve_trial, web_login

TARGET = "  target_sample_size: 104\n"


def _with_target(served):
    text = served.trial.config.read_text()
    served.trial.config.write_text(text.replace("  design: parallel\n", "  design: parallel\n" + TARGET, 1))
    return served


@pytest.fixture
def served(tmp_path):
    return _with_target(serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite")))


@pytest.fixture
def client(served):
    return TestClient(served.app())


def _allocate(client, served, pid, site):
    r = client.post("/api/allocations", headers=served.auth(f"ra.{site}"), json={"participant_id": pid, "site": site})
    assert r.status_code == 201, r.text
    return r


#: The new routes: (method, path, data) and the roles allowed.
PAGES = {
    ("GET", "/dashboard"): {"stat", "admin"},
    ("GET", "/admin/users"): {"admin"},
}
POSTS = {
    "/admin/users/add": ({"name": "ra.new", "role": "site_ra", "site_london": "yes"}, {"admin"}),
    "/admin/users/reset": ({"name": "ra.bristol"}, {"admin"}),
    "/admin/users/disable": ({"name": "ra.wolverhampton"}, {"admin"}),
}


def test_each_role_against_each_new_route(client, served):
    _allocate(client, served, "AF001", "london")
    for who in ("ra.london", "unblinder", "stat", "admin"):
        api = client.get("/api/dashboard", headers=served.auth(who))
        assert api.status_code == (200 if who in ("stat", "admin") else 403), (who, api.status_code)
        c = TestClient(client.app)
        web_login(c, who)
        for (method, path), allowed in PAGES.items():
            r = c.request(method, path)
            assert r.status_code == (200 if who in allowed else 403), (who, path, r.status_code)
            if who not in allowed:
                assert "This page is for" in r.text
        for path, (data, allowed) in POSTS.items():
            r = c.post(path, data={**data, "csrf": csrf_of(c.get("/").text)})
            assert r.status_code == (200 if who in allowed else 403), (who, path, r.status_code)
    # nobody logged in: the pages send to the login page, the API answers 401
    anonymous = TestClient(client.app)
    for (method, path), _ in PAGES.items():
        assert anonymous.request(method, path, follow_redirects=False).headers["location"] == "/login"
    assert anonymous.get("/api/dashboard").status_code == 401
    assert anonymous.post("/admin/users/add", data={"name": "x.y", "role": "admin"},
                          follow_redirects=False).status_code == 303  # fmt: skip
    # only the administrator's three changes reached the log (one each), and the refused ones nothing
    events = [json.loads(e[0]) for e in run_sql(served.where, "SELECT detail FROM events WHERE kind = 'account'")]
    web = [e for e in events if e.get("via") == "web"]
    assert [e["action"] for e in web] == ["add", "reset"] and events[-1] == {"account": "ra.wolverhampton",
                                                                           "action": "disable"}  # fmt: skip


def test_the_dashboard_counts_recruitment_by_site_and_month_against_the_target(served):
    months = iter([datetime(2026, 1, 5, 10, tzinfo=UTC), datetime(2026, 1, 20, 10, tzinfo=UTC),
                   datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 9, 10, tzinfo=UTC)])  # fmt: skip
    for pid, site in (("AF001", "london"), ("AF002", "bristol"), ("AF003", "london"), ("AF004", "london")):
        al.allocate(served.cfg, served.ring, pid, site, log=served.where, now=next(months), account=f"ra.{site}")
    client = TestClient(served.app())
    assert client.post("/api/allocations/AF002/unblind", headers=served.auth("unblinder"),
                       json={"reason": "admitted to hospital, clinician asks"}).status_code == 200  # fmt: skip
    web_login(client, "ra.london", "a wrong password")
    board = client.get("/api/dashboard", headers=served.auth("stat")).json()
    assert board["target"] == 104 and board["allocations"] == 4 and board["log"]["verifies"] is True
    assert [(m["month"], m["total"], m["cumulative"]) for m in board["by_month"]] == [
        ("2026-01", 2, 2), ("2026-02", 0, 2), ("2026-03", 2, 4)]  # fmt: skip
    assert board["by_month"][2]["by_site"] == {"london": 2, "wolverhampton": 0, "bristol": 0}
    assert [s["allocations"] for s in board["by_site"]] == [3, 0, 1]
    assert board["unblindings"][0]["participant_id"] == "AF002" and board["unblindings"][0]["by"] == "service:unblinder"
    assert board["logins"]["failed"] == 1 and board["logins"]["recent_refusals"][0]["account"] == "ra.london"
    text = json.dumps(board).lower()
    for word in ("advance", "tau", "treatment as usual"):  # no arm, in an open-label trial too
        assert word not in text.replace(served.cfg.trial.title.lower(), "").replace("advance-feasibility", "")
    web_login(client, "stat")
    page = client.get("/dashboard")
    assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "target 104" in page.text and "4 of 104 men allocated" in page.text
    assert "style=" not in page.text.split("<svg")[1].split("</svg>")[0]  # presentation attributes only: CSP holds


def test_the_dashboard_says_when_the_log_does_not_verify(client, served):
    from tests.service_helpers import edit_events

    _allocate(client, served, "AF001", "london")
    edit_events(served.where, "UPDATE events SET site = 'bristol' WHERE kind = 'allocation'")
    board = client.get("/api/dashboard", headers=served.auth("admin")).json()
    assert board["log"]["verifies"] is False and "row" in board["log"]["problem"] and "allocations" not in board


def test_the_dashboard_of_a_blinded_trial_shows_totals_only(tmp_path):
    served = _with_target(serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), blinded=True))
    client = TestClient(served.app())
    for i in range(1, 5):
        _allocate(client, served, f"AF00{i}", "london")
    web_login(client, "stat")
    page = client.get("/dashboard").text
    assert ">K<" not in page and ">Q<" not in page and "code" not in page.lower().split("<main>")[1]
    assert "4 of 104" in page


def test_an_administrator_adds_an_account_whose_holder_sets_a_password_with_a_one_time_code(client, served):
    web_login(client, "admin")
    page = client.get("/admin/users")
    added = client.post("/admin/users/add", data={"csrf": csrf_of(page.text), "name": "RA.London2", "role": "site_ra",
                                                  "site_london": "yes"})  # fmt: skip
    assert added.status_code == 200
    code = re.search(r'id="setup-code">([A-Z0-9-]+)<', added.text).group(1)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    stored = run_sql(served.where, "SELECT code_hash FROM account_setup")[0][0]
    assert code not in stored and code.replace("-", "") not in stored
    # the account cannot log in before its holder sets a password
    holder = TestClient(client.app)
    assert web_login(holder, "ra.london2", "").status_code in (400, 401)
    form = holder.get("/setup")
    wrong = holder.post("/setup", data={"csrf": csrf_of(form.text), "name": "ra.london2", "code": "AAAA-BBBB-CCCC",
                                        "password": PASSWORD, "password2": PASSWORD})  # fmt: skip
    assert wrong.status_code == 401 and "setup code is wrong" in wrong.text
    done = holder.post("/setup", data={"csrf": csrf_of(wrong.text), "name": "ra.london2", "code": code.lower(),
                                       "password": PASSWORD, "password2": PASSWORD})  # fmt: skip
    assert done.status_code == 200 and 'id="setup-done"' in done.text and "totp-secret" not in done.text
    # the code works once
    other = PASSWORD + "x"
    again = holder.post("/setup", data={"csrf": csrf_of(holder.get("/setup").text), "name": "ra.london2",
                                        "code": code, "password": other, "password2": other})  # fmt: skip
    assert again.status_code == 401
    assert web_login(holder, "ra.london2").status_code == 303
    assert "Allocate a man" in holder.get("/").text
    # the admin resets it: the password stops working and a new code is shown
    reset = client.post("/admin/users/reset", data={"csrf": csrf_of(client.get("/admin/users").text),
                                                    "name": "ra.london2"})  # fmt: skip
    assert 'id="setup-code"' in reset.text
    assert holder.get("/", follow_redirects=False).status_code == 303  # the session ended
    assert web_login(TestClient(client.app), "ra.london2").status_code == 401
    # disabling or resetting: not oneself
    me = client.post("/admin/users/disable", data={"csrf": csrf_of(reset.text), "name": "admin"})
    assert me.status_code == 400 and "your own account" in me.text
    me = client.post("/admin/users/reset", data={"csrf": csrf_of(me.text), "name": "admin"})
    assert me.status_code == 400 and "your own account" in me.text
    actions = [
        json.loads(e[0]).get("action")
        for e in run_sql(served.where, "SELECT detail FROM events WHERE kind = 'account'")
    ]
    assert actions[-3:] == ["add", "setup", "reset"]


def test_a_setup_code_expires_and_an_edited_one_is_refused(served):
    now = [datetime(2026, 3, 1, 9, tzinfo=UTC)]
    client = TestClient(served.app(clock=lambda: now[0]))
    web_login(client, "admin")
    added = client.post("/admin/users/add", data={"csrf": csrf_of(client.get("/admin/users").text),
                                                  "name": "stat2", "role": "statistician"})  # fmt: skip
    code = re.search(r'id="setup-code">([A-Z0-9-]+)<', added.text).group(1)
    now[0] += timedelta(hours=served.cfg.service.setup_code_hours, seconds=1)
    holder = TestClient(client.app)
    late = holder.post("/setup", data={"csrf": csrf_of(holder.get("/setup").text), "name": "stat2", "code": code,
                                       "password": PASSWORD, "password2": PASSWORD})  # fmt: skip
    assert late.status_code == 401
    # someone with write access to the database puts in a code of their own: it does not authenticate
    import hashlib

    run_sql(served.where, f"UPDATE account_setup SET code_hash = '{hashlib.sha256(b'AAAABBBBCCCC').hexdigest()}', "
                          "expires_at = '2099-01-01T00:00:00.000000Z'")  # fmt: skip
    forged = holder.post("/setup", data={"csrf": csrf_of(holder.get("/setup").text), "name": "stat2",
                                         "code": "AAAA-BBBB-CCCC", "password": PASSWORD,
                                         "password2": PASSWORD})  # fmt: skip
    assert forged.status_code >= 400 and "password is set" not in forged.text.lower()
    assert web_login(holder, "stat2").status_code == 401


def _totp_trial(tmp_path):
    return serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"),
                       extra="service:\n  totp_roles: [unblinder, admin]\n")  # fmt: skip


def test_users_add_totp_prints_an_otpauth_uri_and_the_unblinder_needs_a_code(tmp_path, runner):
    import pyotp

    from advance_trial.cli.main import app

    served = _totp_trial(tmp_path)
    t = served.trial
    r = runner.invoke(app, ["users", "add", str(t.config), "unblinder2", "--role", "unblinder", "--totp", "--db",
                            served.where, "--key-dir", str(t.keys), "--password-stdin", "--json"],
                      input=PASSWORD + "\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    uri = json.loads(r.stdout)["otpauth_uri"]
    assert uri.startswith("otpauth://totp/") and "unblinder2" in uri
    secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
    stored = run_sql(served.where, "SELECT sealed FROM account_totp WHERE name = 'unblinder2'")[0][0]
    assert secret not in stored
    client = TestClient(served.app())
    assert 'id="code"' in client.get("/login").text

    def login(code):
        page = client.get("/login")
        return client.post("/login", data={"csrf": csrf_of(page.text), "name": "unblinder2", "password": PASSWORD,
                                           "code": code}, follow_redirects=False)  # fmt: skip

    assert login("").status_code == 401
    assert login("123456").status_code == 401
    code = pyotp.TOTP(secret).now()
    assert login(code).status_code == 303
    assert login(code).status_code == 401  # a code is good once
    # a research assistant needs none (the config asks it of unblinders and admins)
    assert web_login(TestClient(client.app), "ra.london").status_code == 303
    # the unblinder added without --totp has no secret: it cannot log in to the pages until reset
    assert web_login(TestClient(client.app), "unblinder").status_code == 401
    logins = [json.loads(e[0]) for e in run_sql(served.where, "SELECT detail FROM events WHERE kind = 'login'")]
    assert sum(x.get("reason") == "wrong one-time code" for x in logins) == 4


def test_a_secret_moved_to_another_account_in_the_database_does_not_open(tmp_path, runner):
    import pyotp

    from advance_trial.cli.main import app

    served = _totp_trial(tmp_path)
    t = served.trial
    uris = {}
    for name in ("unblinder2", "unblinder3"):
        r = runner.invoke(app, ["users", "add", str(t.config), name, "--role", "unblinder", "--db", served.where,
                                "--key-dir", str(t.keys), "--password-stdin", "--json"],
                          input=PASSWORD + "\n")  # fmt: skip
        uris[name] = json.loads(r.stdout)["otpauth_uri"]  # the role needs one: given without --totp
    run_sql(served.where, "UPDATE account_totp SET sealed = (SELECT sealed FROM account_totp WHERE name = "
                          "'unblinder2') WHERE name = 'unblinder3'")  # fmt: skip
    client = TestClient(served.app())
    page = client.get("/login")
    code = pyotp.TOTP(re.search(r"secret=([A-Z2-7]+)", uris["unblinder2"]).group(1)).now()
    r = client.post("/login", data={"csrf": csrf_of(page.text), "name": "unblinder3", "password": PASSWORD,
                                    "code": code}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 401


def test_a_web_setup_of_a_totp_role_shows_the_key_once(tmp_path):
    import pyotp

    served = _totp_trial(tmp_path)
    client = TestClient(served.app())
    # the admin itself needs a code now: give it one as `users add --totp` would
    from advance_trial.service import totp

    accounts = served.accounts()
    secret = []
    accounts._change({"action": "totp", "account": "admin"}, None,
                     lambda db: secret.append(totp.new_secret(db, served.ring, "admin")))  # fmt: skip
    page = client.get("/login")
    assert client.post("/login", data={"csrf": csrf_of(page.text), "name": "admin", "password": PASSWORD,
                                       "code": pyotp.TOTP(secret[0]).now()}).status_code == 200  # fmt: skip
    added = client.post("/admin/users/add", data={"csrf": csrf_of(client.get("/admin/users").text),
                                                  "name": "unblinder9", "role": "unblinder"})  # fmt: skip
    code = re.search(r'id="setup-code">([A-Z0-9-]+)<', added.text).group(1)
    holder = TestClient(client.app)
    done = holder.post("/setup", data={"csrf": csrf_of(holder.get("/setup").text), "name": "unblinder9",
                                       "code": code, "password": PASSWORD, "password2": PASSWORD})  # fmt: skip
    key = re.search(r'id="totp-secret">([A-Z2-7]+)<', done.text).group(1)
    page = holder.get("/login")
    logged = holder.post("/login", data={"csrf": csrf_of(page.text), "name": "unblinder9", "password": PASSWORD,
                                         "code": pyotp.TOTP(key).now()}, follow_redirects=False)  # fmt: skip
    assert logged.status_code == 303


def test_wrong_one_time_codes_lock_the_account_as_wrong_passwords_do(tmp_path, runner):
    import pyotp

    from advance_trial.cli.main import app

    served = _totp_trial(tmp_path)
    t = served.trial
    r = runner.invoke(app, ["users", "add", str(t.config), "unblinder2", "--role", "unblinder", "--db", served.where,
                            "--key-dir", str(t.keys), "--password-stdin", "--json"], input=PASSWORD + "\n")  # fmt: skip
    secret = re.search(r"secret=([A-Z2-7]+)", json.loads(r.stdout)["otpauth_uri"]).group(1)
    client = TestClient(served.app())

    def login(code):
        page = client.get("/login")
        return client.post("/login", data={"csrf": csrf_of(page.text), "name": "unblinder2", "password": PASSWORD,
                                           "code": code}, follow_redirects=False)  # fmt: skip

    for _ in range(served.cfg.service.max_failed_logins):
        assert login("000000").status_code == 401  # the right password each time: its own counter resets
    assert login(pyotp.TOTP(secret).now()).status_code == 401  # locked now, the right code too
    logins = [json.loads(e[0]) for e in run_sql(served.where, "SELECT detail FROM events WHERE kind = 'login'")]
    assert "locked_until" in logins[-2] and logins[-1]["reason"] == "locked"
