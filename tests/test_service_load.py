"""The service as its own process under load: 90 allocations from three site accounts at once over HTTP, and the
server killed with SIGKILL in the middle of that load and restarted; against SQLite and PostgreSQL."""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from advance_trial.randomisation import allocation as al
from tests.service_helpers import Server, serve_trial

SITES = ("london", "wolverhampton", "bristol")


def _men(site_index: int, n: int = 30) -> list[str]:
    return [f"AF{site_index}{i:02d}" for i in range(n)]


def _allocate_all(server: Server, token: str, site: str, men: list[str], receipts: list, errors: list,
                  stop: threading.Event | None = None) -> None:  # fmt: skip
    """Allocate each man, retrying through connection failures (the server may be down for a while)."""
    for pid in men:
        while True:
            if stop is not None and stop.is_set():
                return
            try:
                status, body = server.request("POST", "/api/allocations", token, {"participant_id": pid, "site": site},
                                              timeout=30)  # fmt: skip
            except (OSError, http.client.HTTPException):
                # refused, or cut off while the server is down (mid-answer: an IncompleteRead): ask again
                time.sleep(0.05)
                continue
            if status == 201:
                receipts.append(body["receipt"])
            elif status != 409:  # 409: his allocation was committed before the answer was lost
                errors.append((pid, status, body))
            break


def _check(served, receipts, n: int) -> None:
    report = al.verify_log(served.cfg, served.ring, served.where, receipts)
    frame = al.allocations(served.cfg, served.ring, served.where)
    assert report.allocations == n and report.receipts == len(receipts)
    assert list(frame["sequence"]) == list(range(1, n + 1)), "a gap or a duplicate in the sequence"
    assert frame["participant_id"].is_unique and len(frame) == n
    assert set(frame["allocated_by"]) == {f"service:ra.{s}" for s in SITES}
    for i, site in enumerate(SITES):
        assert set(frame.loc[frame["site"] == site, "participant_id"]) == set(_men(i))


def test_90_allocations_from_three_sites_at_once(tmp_path, log_location):
    served = serve_trial(tmp_path, log_location)
    receipts: list = []
    errors: list = []
    with Server(served) as server:
        # three site accounts, three clients each, all at once
        jobs = [(server, served.tokens[f"ra.{site}"], site, _men(i)[k::3], receipts, errors)
                for i, site in enumerate(SITES) for k in range(3)]  # fmt: skip
        with ThreadPoolExecutor(len(jobs)) as pool:
            list(pool.map(lambda job: _allocate_all(*job), jobs))
    assert errors == []
    assert len(receipts) == 90 and len({r["sequence"] for r in receipts}) == 90
    _check(served, receipts, 90)


def test_the_server_killed_during_the_load_loses_no_receipt(tmp_path, log_location):
    served = serve_trial(tmp_path, log_location)
    receipts: list = []
    errors: list = []
    server = Server(served).start()
    try:
        jobs = [(server, served.tokens[f"ra.{site}"], site, _men(i), receipts, errors) for i, site in enumerate(SITES)]
        threads = [threading.Thread(target=_allocate_all, args=job) for job in jobs]
        for t in threads:
            t.start()
        kills = 0
        for moment in (12, 40, 65):  # kill -9 after so many receipts, twice more after restarting
            deadline = time.time() + 120
            while len(receipts) < moment and time.time() < deadline and any(t.is_alive() for t in threads):
                time.sleep(0.005)
            server.kill()
            kills += 1
            time.sleep(0.3)
            server.start()
        for t in threads:
            t.join(240)
        assert not any(t.is_alive() for t in threads)
    finally:
        server.stop()
    assert kills == 3 and errors == []
    # every receipt a client received is in the log, which verifies; every man allocated once, no gap
    _check(served, receipts, 90)
