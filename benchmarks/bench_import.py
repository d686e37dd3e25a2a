"""Import rate of a large site export: 67,845 attendance rows in a site's own CSV dialect.

The export has London's headers, day-first dates and Yes/No values (mapped by the ADVANCE
config's import rules) for 4,000 synthetic men of the advance arm, 15 sessions each. It is
imported into a fresh folder holding only their participants.csv, as CSV and as an Excel workbook
with the same cells; the rate counts every row read, checked and written. For scale, a bare
``pandas.read_csv`` of the same file is timed in the same run, and so is the whole
``advance-trial import`` command as its own process (interpreter start, imports, typer's parsing of
the options, the import, the messages). The target (issues 4 and 15): the import, read to write,
at 50,000 rows per second or better.

Run: ``python benchmarks/bench_import.py [--rows N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _timing import timed  # noqa: E402

from advance_trial.config import load_config  # noqa: E402
from advance_trial.importing import import_files  # noqa: E402


def make_export(folder: Path, rows: int) -> tuple[Path, Path]:
    """A participants.csv and a London-style attendance export with ``rows`` rows."""
    per_man = 15
    men = -(-rows // per_man)
    ids = [f"BX{i:05d}" for i in range(men)]
    pd.DataFrame({"participant_id": ids, "site": "london", "cycle": 1, "randomised_on": "2018-06-01",
                  "arm": "advance"}).to_csv(folder / "participants.csv", index=False)  # fmt: skip
    types = ["individual"] * 2 + ["group"] * 12 + ["individual"]
    numbers = [1, 2, *range(1, 13), 3]
    hours = [1.0, 1.0] + [2.0] * 12 + [1.0]
    rng = np.random.default_rng(1)
    attended = rng.random(men * per_man) < 0.4
    days = pd.to_datetime("2018-06-04") + pd.to_timedelta(np.tile(np.arange(per_man) * 7, men), unit="D")
    export = pd.DataFrame(
        {
            "Participant ID": np.repeat(ids, per_man),
            "Session type": np.tile([t.capitalize() for t in types], men),
            "Session no.": np.tile(numbers, men),
            "Group": "london-c1",
            "Date": days.strftime("%d/%m/%Y"),
            "Attended": np.where(attended, "Yes", "No"),
            "Hours": np.where(attended, np.tile(hours, men), 0.0),
        }
    ).iloc[:rows]
    path = folder / "london-attendance-export.csv"
    export.to_csv(path, index=False)
    return folder / "participants.csv", path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=67_845)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cfg = load_config(ROOT / "configs" / "advance-feasibility.yaml")
    times: dict[str, list[float]] = {"csv": [], "xlsx": [], "process": []}
    reads = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        participants, export = make_export(src, args.rows)
        workbook = src / "london-attendance-export.xlsx"
        pd.read_csv(export, dtype=str, keep_default_na=False).to_excel(workbook, index=False)
        for r in range(args.rounds):
            for kind, path in (("csv", export), ("xlsx", workbook)):
                data = Path(tmp) / f"data{r}{kind}"
                data.mkdir()
                shutil.copy(participants, data)
                t0 = time.perf_counter()
                (out,) = import_files(cfg, data, "london", "attendance", [path], by="bench")
                times[kind].append(time.perf_counter() - t0)
                assert out.new == args.rows and out.rejected == 0
            t0 = time.perf_counter()
            pd.read_csv(export, dtype=str)
            reads.append(time.perf_counter() - t0)
            data = Path(tmp) / f"data{r}process"
            data.mkdir()
            shutil.copy(participants, data)
            config = str(ROOT / "configs" / "advance-feasibility.yaml")
            command = [sys.executable, "-m", "advance_trial", "import", config, str(export), "--data", str(data),
                       "--site", "london", "--kind", "attendance", "--by", "bench", "--json"]  # fmt: skip
            times["process"].append(timed(command))
    b = statistics.median(reads)
    print(f"{args.rows} attendance rows, {args.rounds} rounds (read, map, check, merge, write)")
    for kind, values in times.items():
        t = statistics.median(values)
        what = "CLI process, csv" if kind == "process" else f"import {kind}"
        print(f"{what:16s} median {t:.3f} s = {args.rows / t:>7,.0f} rows/s ({t / b:5.1f}x the bare read)")
    print(f"bare pandas.read_csv of the CSV: median {b:.3f} s = {args.rows / b:,.0f} rows/s")
    print("target: import csv >= 50,000 rows/s")


if __name__ == "__main__":
    main()
