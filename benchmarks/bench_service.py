"""Allocations per second and latency over HTTP: the allocation service on SQLite, on PostgreSQL, and as two
instances over one PostgreSQL database, now and at a baseline, side by side.

For each setting a fresh trial (key, log, an account per site) is served by ``advance-trial serve`` as its own
process on loopback (two processes over one database for ``postgresql x2``, each client sending its requests
to them in turn); three site accounts, each with ``--clients`` concurrent HTTP clients, allocate
``--allocations`` men between them as fast as they are answered. Each request is one whole allocation: the
token checked, the log verified from the last step, one authenticated row appended and committed, the
checkpoint moved, the signed receipt returned. The log is verified afterwards with every receipt.

Printed per setting: allocations per second and median and 95th-percentile latency. With ``--baseline DIR`` (a
checkout of another commit with its own ``.venv``, e.g. ``git worktree add --detach /tmp/base main``), every
measurement is taken of that tree and of this one in turn, ``--rounds`` times, alternating which goes first;
medians and the ratios now/baseline are printed. PostgreSQL is ``ADVANCE_TRIAL_TEST_PG`` (an account that may
create databases) or one throwaway server started here from Debian's ``postgresql`` binaries for the whole run.

With ``--prefill N`` each log holds N men before the clock starts (a trial's log grows: a step on PostgreSQL
must not read it all; since issue 38 it reads none of the rows it verified before while the log's append-only
triggers guard them).

Run: ``python benchmarks/bench_service.py [--allocations 300] [--clients 2] [--rounds 3] [--prefill N]
[--baseline DIR]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
#: The tree measured: this one, or (in the processes this script starts for ``--baseline``) the baseline's.
ROOT = Path(os.environ.get("ADVANCE_BENCH_TREE") or HERE)
sys.path.insert(0, str(ROOT))

SITES = ("london", "wolverhampton", "bristol")
SETTINGS = ("sqlite", "postgresql", "postgresql x2")


def _prefill(served: Any, men: int) -> None:
    """Allocate ``men`` men before the clock starts (in steps of 32), so that the log is as long as a trial's."""
    from advance_trial.randomisation import allocation as al

    ids = [f"AF9{i:04d}" for i in range(men)]
    for start in range(0, men, 32):
        items = [al.prepare(served.cfg, pid, SITES[i % 3]) for i, pid in enumerate(ids[start : start + 32], start)]
        al.allocate_many(served.cfg, served.ring, items, log=served.where)


def _run(setting: str, admin: str, n: int, clients: int, prefill: int = 0) -> dict[str, float]:
    from advance_trial.randomisation import allocation as al
    from tests.pg import fresh_database
    from tests.service_helpers import Server, serve_trial

    with tempfile.TemporaryDirectory() as tmp:
        where = str(Path(tmp) / "log" / "log.sqlite") if setting == "sqlite" else fresh_database(admin)
        served = serve_trial(Path(tmp), where)
        _prefill(served, prefill)
        latencies: list[float] = []
        receipts: list[dict[str, Any]] = []
        with contextlib.ExitStack() as stack:
            servers = [Server(served) for _ in range(2 if setting.endswith("x2") else 1)]
            for server in servers:  # a loaded machine may take a while to start a server
                stack.callback(server.stop)
                server.start(timeout=180)
            jobs = [(site, [f"AF{s}{k}{i:04d}" for i in range(k, n // 3, clients)])
                    for s, site in enumerate(SITES) for k in range(clients)]  # fmt: skip

            def work(job: tuple[str, list[str]]) -> None:
                site, men = job
                token = served.tokens[f"ra.{site}"]
                for i, pid in enumerate(men):
                    t0 = time.perf_counter()
                    status, body = servers[i % len(servers)].request("POST", "/api/allocations", token,
                                                                     {"participant_id": pid, "site": site})  # fmt: skip
                    latencies.append(time.perf_counter() - t0)
                    assert status == 201, body
                    receipts.append(body["receipt"])

            start = time.perf_counter()
            with ThreadPoolExecutor(len(jobs)) as pool:
                list(pool.map(work, jobs))
            wall = time.perf_counter() - start
        report = al.verify_log(served.cfg, served.ring, served.where, receipts)
        assert report.allocations == len(receipts) + prefill == len(latencies) + prefill
    latencies.sort()
    return {"allocations": len(latencies), "wall": wall, "rate": len(latencies) / wall,
            "p50": statistics.median(latencies), "p95": latencies[int(0.95 * (len(latencies) - 1))]}  # fmt: skip


def measure(tree: Path, setting: str, admin: str, n: int, clients: int, prefill: int = 0) -> dict[str, float]:
    """One setting's figures for ``tree`` (its code, served by its own interpreter), measured by this script."""
    python = tree / ".venv" / "bin" / "python"
    cmd = [str(python if python.exists() else sys.executable), str(Path(__file__).resolve()), "--only", setting,
           "--allocations", str(n), "--clients", str(clients), "--prefill", str(prefill)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree), "ADVANCE_BENCH_TREE": str(tree), "ADVANCE_TRIAL_TEST_PG": admin}
    done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}, {setting}: {done.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allocations", type=int, default=300, help="allocations per setting (default 300)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients per site account (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the trees (default 3)")
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout of the commit to compare with")
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="men allocated before the clock starts, so that the log is long (default 0)",
    )
    parser.add_argument("--only", choices=SETTINGS, default=None, help=argparse.SUPPRESS)  # one setting, once
    args = parser.parse_args()
    from tests.pg import ENV, throwaway_server

    if args.only:
        print(json.dumps(_run(args.only, os.environ[ENV], args.allocations, args.clients, args.prefill)))
        return
    trees = {"now": HERE} if args.baseline is None else {"baseline": args.baseline.resolve(), "now": HERE}
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with contextlib.ExitStack() as stack:
        admin = os.environ.get(ENV) or stack.enter_context(throwaway_server())
        for r in range(args.rounds):
            for setting in SETTINGS:
                order = list(trees.items()) if r % 2 == 0 else list(reversed(trees.items()))
                for name, tree in order:
                    results.setdefault((name, setting), []).append(
                        measure(tree, setting, admin, args.allocations, args.clients, args.prefill)
                    )
    print(
        f"{args.allocations} allocations per setting, 3 site accounts x {args.clients} clients, "
        f"{args.rounds} alternating round(s); medians"
        + (f"; baseline {args.baseline}" if args.baseline else "")
        + (f"; the log holding {args.prefill} men before the clock starts" if args.prefill else "")
    )
    print(f"{'setting':<14} {'tree':<9} {'alloc/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    med = {k: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for k, rows in results.items()}
    for setting in SETTINGS:
        for name in trees:
            m = med[(name, setting)]
            print(f"{setting:<14} {name:<9} {m['rate']:>8.1f} {1000 * m['p50']:>8.1f} {1000 * m['p95']:>8.1f}")
        if args.baseline is not None:
            b, n = med[("baseline", setting)], med[("now", setting)]
            print(f"{setting:<14} {'now/base':<9} {n['rate'] / b['rate']:>8.2f} {n['p50'] / b['p50']:>8.2f} "
                  f"{n['p95'] / b['p95']:>8.2f}")  # fmt: skip
    for name in trees:
        s, p = med[(name, "sqlite")], med[(name, "postgresql")]
        print(f"{name}: postgresql / sqlite throughput {p['rate'] / s['rate']:.2f}x, p95 {p['p95'] / s['p95']:.2f}x; "
              f"two instances / one: {med[(name, 'postgresql x2')]['rate'] / p['rate']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
