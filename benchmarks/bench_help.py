"""Start-up cost of ``advance-trial --help`` and of every subcommand's ``--help`` against a bare
``python -c "import typer"``.

Each help and the bare import run alternately in the same session (this machine is shared and
noisy), and the ratio of their medians is printed, for the root and for every command and
subcommand (found by walking the command tree, the lazily loaded groups included). The target
(issues 2 and 17): 1.5 or less for every one.

Run: ``python benchmarks/bench_help.py [--rounds N]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys

from _timing import timed


def _time(cmd: list[str]) -> float:
    return timed(cmd)


def command_paths() -> list[list[str]]:
    """Every command's path below the root: ``[]``, ``["run"]``, ``["randomise", "allocate"]``, ..."""
    import typer

    from advance_trial.cli._help import LAZY_GROUPS
    from advance_trial.cli.main import app

    root = typer.main.get_command(app)
    ctx = root.make_context("advance-trial", [], resilient_parsing=True)
    paths: list[list[str]] = [[]]
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        paths.append([name])
        if name in LAZY_GROUPS:
            group = root.get_command(ctx, name)  # type: ignore[attr-defined]
            sub = group.make_context(name, [], parent=ctx, resilient_parsing=True)
            paths += [[name, s] for s in group.list_commands(sub)]
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    script = shutil.which("advance-trial")
    base = [script] if script else [sys.executable, "-m", "advance_trial"]
    bare = [sys.executable, "-c", "import typer"]
    paths = command_paths()
    for p in paths:
        _time([*base, *p, "--help"])  # warm the file cache
    _time(bare)
    times: dict[str, list[float]] = {" ".join(p): [] for p in paths}
    b = []
    for _ in range(args.rounds):
        for p in paths:
            times[" ".join(p)].append(_time([*base, *p, "--help"]))
            b.append(_time(bare))
    mb = statistics.median(b)
    print(f"python -c 'import typer' median {mb * 1000:7.1f} ms over {len(b)} runs")
    worst = 0.0
    for name, values in times.items():
        m = statistics.median(values)
        worst = max(worst, m / mb)
        print(f"advance-trial {name + ' ' if name else ''}--help".ljust(50) + f"median {m * 1000:7.1f} ms  "
              f"ratio {m / mb:.2f}")
    print(f"{len(times)} helps; largest ratio {worst:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
