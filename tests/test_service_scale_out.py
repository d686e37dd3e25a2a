"""Two service instances over one PostgreSQL database, as docs/service.md scales the service out: each is its own
``advance-trial serve`` process on its own port, and everything a request relies on is in the database they share.
A session opened on one works on the other, a form's one-use token is spent on both, failed logins on both lock
the account on both, and 100 allocations sent to both at once are 100 rows of one chain, without a duplicate or
a gap."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from advance_trial.randomisation import allocation as al
from tests.service_helpers import PASSWORD, Server, csrf_of, serve_trial

SITES = ("london", "wolverhampton", "bristol")
LIMIT = 3  # failed logins before a lock-out (the config's service.max_failed_logins)


@pytest.fixture(scope="module")
def pair(tmp_path_factory, pg_server):
    """One trial on a fresh PostgreSQL database, served by two instances at once."""
    from tests.pg import fresh_database

    served = serve_trial(tmp_path_factory.mktemp("scale"), fresh_database(pg_server),
                         extra=f"service:\n  max_failed_logins: {LIMIT}\n")  # fmt: skip
    # failed logins answered after 0.01 s, 0.02 s... rather than the service's 0.5 s, 1 s... (what is shared is
    # tested here, not how long the answers wait: test_service_hardening.py)
    one, two = Server(served, login_delay=0.01), Server(served, login_delay=0.01)
    one.start()
    try:
        two.start()
        try:
            yield served, one, two
        finally:
            two.stop()
    finally:
        one.stop()


class Browser:
    """A browser's cookie jar, sent to whichever instance a request goes to (as behind a load balancer)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def send(self, server: Server, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        con = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body, headers["Content-Type"] = urllib.parse.urlencode(form), "application/x-www-form-urlencoded"
        try:
            con.request(method, path, body=body, headers=headers)
            response = con.getresponse()
            text = response.read().decode()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    kept = rest.split(";", 1)[0].strip('"')
                    if kept and "max-age=0" not in value.lower():
                        self.cookies[key] = kept
                    else:
                        self.cookies.pop(key, None)
            return response.status, text
        finally:
            con.close()

    def login(self, server: Server, name: str, password: str = PASSWORD) -> int:
        status, page = self.send(server, "GET", "/login")
        assert status == 200
        return self.send(server, "POST", "/login", {"csrf": csrf_of(page), "name": name, "password": password})[0]


def _logins(served, name: str) -> list[dict]:
    details = [
        json.loads(e["detail"]) for e in al.events(served.cfg, served.ring, served.where) if e["kind"] == "login"
    ]
    return [d for d in details if d.get("account") == name]


def test_a_session_opened_on_one_instance_works_on_the_other(pair):
    served, one, two = pair
    browser = Browser()
    assert browser.login(one, "stat") == 303  # logged in on the first
    status, page = browser.send(two, "GET", "/")  # and the second knows the session
    assert status == 200 and "stat" in page and 'action="/login"' not in page
    token = csrf_of(page)  # a form rendered by the second, posted to the first: one token, one database
    status, after = browser.send(one, "POST", "/allocate/edit", {"csrf": token})
    assert status == 200 and csrf_of(after) != token
    status, again = browser.send(two, "POST", "/allocate/edit", {"csrf": token})  # spent, on the other too
    assert status == 403 and "security token" in again
    assert browser.send(two, "POST", "/logout", {"csrf": csrf_of(after)})[0] == 303  # out on the second ...
    browser.cookies.pop("advance_login", None)
    status, page = browser.send(one, "GET", "/")  # ... is out on the first
    assert status == 303 or 'action="/login"' in page


def test_one_form_posted_to_both_instances_at_once_goes_through_once(pair):
    served, one, two = pair
    browser = Browser()
    assert browser.login(two, "admin") == 303
    token = csrf_of(browser.send(one, "GET", "/")[1])
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda server: browser.send(server, "POST", "/allocate/edit", {"csrf": token})[0],
                                [one, two] * 4))  # fmt: skip
    assert sorted(answers) == [200] + [403] * 7


def test_failed_logins_on_both_instances_lock_the_account_on_both(pair):
    served, one, two = pair
    browser = Browser()
    for k in range(LIMIT):  # wrong passwords, to one instance then the other
        assert browser.login((one, two)[k % 2], "unblinder", "a wrong password") == 401
    for server in (two, one):  # the right password is refused on both now
        assert browser.login(server, "unblinder") == 401
    logins = _logins(served, "unblinder")
    assert [x["result"] for x in logins] == ["failed"] * LIMIT + ["refused", "refused"]
    assert "locked_until" in logins[LIMIT - 1] and {x["reason"] for x in logins[LIMIT:]} == {"locked"}


def test_100_allocations_sent_to_both_instances_at_once_make_one_chain(pair):
    served, one, two = pair
    men = [(f"AF{5000 + i}", SITES[i % 3]) for i in range(100)]
    # six clients (two per site account), each sending its men alternately to one instance and the other
    jobs = [[m for j, m in enumerate(men) if j % 6 == k] for k in range(6)]

    def send(job: list[tuple[str, str]]) -> list[tuple[int, dict]]:
        out = []
        for i, (pid, site) in enumerate(job):
            server = (one, two)[i % 2]
            out.append(server.request("POST", "/api/allocations", served.tokens[f"ra.{site}"],
                                      {"participant_id": pid, "site": site}))  # fmt: skip
        return out

    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = [a for got in pool.map(send, jobs) for a in got]
    assert [status for status, _ in answers] == [201] * 100, [body for status, body in answers if status != 201]
    receipts = [body["receipt"] for _, body in answers]
    report = al.verify_log(served.cfg, served.ring, served.where, receipts)
    assert report.receipts == 100
    frame = al.allocations(served.cfg, served.ring, served.where)
    ours = frame[frame["participant_id"].isin([pid for pid, _ in men])]
    assert len(ours) == 100 and ours["participant_id"].is_unique
    sequences = sorted(frame["sequence"])
    assert sequences == list(range(1, len(frame) + 1)), "a gap or a duplicate in the sequence"
    assert sorted(r["sequence"] for r in receipts) == sorted(ours["sequence"])
    assert {r["row"] for r in receipts}.isdisjoint({0}) and len({r["row"] for r in receipts}) == 100
    # each instance answered, both wrote to the one chain: every row follows the one before it
    assert re.fullmatch(r"[0-9a-f]{64}", report.head_tag)
