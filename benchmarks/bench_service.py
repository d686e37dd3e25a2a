"""Allocations per second and latency over HTTP: the allocation service on SQLite and on PostgreSQL, side by side.

For each database a fresh trial (key, log, an account per site) is served by ``advance-trial serve`` as its own
process on loopback; three site accounts, each with ``--clients`` concurrent HTTP clients, allocate
``--allocations`` men between them as fast as they are answered. Each request is one whole allocation: the
token checked, the log verified from the last step, one authenticated row appended and committed, the
checkpoint moved, the signed receipt returned. The log is verified afterwards with every receipt.

Printed per database: allocations, wall time, allocations per second, median and 95th-percentile latency;
then PostgreSQL's figures as ratios of SQLite's, from the same run (the machine is noisy; only the ratios
compare). PostgreSQL is ``ADVANCE_TRIAL_TEST_PG`` (an account that may create databases) or a throwaway
server started here from Debian's ``postgresql`` binaries.

Run: ``python benchmarks/bench_service.py [--allocations 300] [--clients 2] [--rounds 1]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SITES = ("london", "wolverhampton", "bristol")


def _run(where_of, n: int, clients: int) -> dict[str, float]:
    from advance_trial.randomisation import allocation as al
    from tests.service_helpers import Server, serve_trial

    with tempfile.TemporaryDirectory() as tmp:
        served = serve_trial(Path(tmp), where_of(Path(tmp)))
        latencies: list[float] = []
        receipts: list[dict] = []
        with Server(served) as server:
            jobs = [(site, [f"AF{s}{k}{i:04d}" for i in range(k, n // 3, clients)])
                    for s, site in enumerate(SITES) for k in range(clients)]  # fmt: skip

            def work(job: tuple[str, list[str]]) -> None:
                site, men = job
                token = served.tokens[f"ra.{site}"]
                for pid in men:
                    t0 = time.perf_counter()
                    status, body = server.request("POST", "/api/allocations", token,
                                                  {"participant_id": pid, "site": site})  # fmt: skip
                    latencies.append(time.perf_counter() - t0)
                    assert status == 201, body
                    receipts.append(body["receipt"])

            start = time.perf_counter()
            with ThreadPoolExecutor(len(jobs)) as pool:
                list(pool.map(work, jobs))
            wall = time.perf_counter() - start
        report = al.verify_log(served.cfg, served.ring, served.where, receipts)
        assert report.allocations == len(receipts) == len(latencies)
    latencies.sort()
    return {"allocations": len(latencies), "wall": wall, "rate": len(latencies) / wall,
            "p50": statistics.median(latencies), "p95": latencies[int(0.95 * (len(latencies) - 1))]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allocations", type=int, default=300, help="allocations per database (default 300)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients per site account (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, alternating the databases (default 1)")
    args = parser.parse_args()
    from tests.pg import ENV, fresh_database, throwaway_server

    with contextlib.ExitStack() as stack:
        admin = os.environ.get(ENV) or stack.enter_context(throwaway_server())
        kinds = {"sqlite": lambda tmp: str(tmp / "log" / "log.sqlite"), "postgresql": lambda tmp: fresh_database(admin)}
        results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for kind, where_of in kinds.items():
                results[kind].append(_run(where_of, args.allocations, args.clients))
    print(f"{args.allocations} allocations per database, 3 site accounts x {args.clients} clients, "
          f"{args.rounds} round(s); medians over rounds")  # fmt: skip
    print(f"{'database':<11} {'allocs':>7} {'wall s':>8} {'alloc/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    summary = {}
    for kind, rows in results.items():
        m = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        summary[kind] = m
        print(f"{kind:<11} {m['allocations']:>7.0f} {m['wall']:>8.2f} {m['rate']:>8.1f} {1000 * m['p50']:>8.1f} "
              f"{1000 * m['p95']:>8.1f}")  # fmt: skip
    s, p = summary["sqlite"], summary["postgresql"]
    print(f"postgresql / sqlite: throughput {p['rate'] / s['rate']:.2f}x, p95 latency {p['p95'] / s['p95']:.2f}x")


if __name__ == "__main__":
    main()
