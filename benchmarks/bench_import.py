"""Import rate of a large site export, before and after, side by side: CSV and Excel, rows per second.

The export has London's headers, day-first dates and Yes/No values (mapped by the ADVANCE config's
import rules) for synthetic men of the advance arm, 15 sessions each (100,000 rows by default). It is
imported into a fresh folder holding only their participants.csv, as CSV and as an Excel workbook with
the same cells; the rate counts every row read, mapped, checked, merged and written (``import_files``,
in a warm process: the interpreter and the toolkit's imports are not counted). For scale, a bare
``pandas.read_csv`` of the CSV and a bare ``pandas.read_excel(engine="calamine")`` of the workbook are
timed in the same run, and so are python-calamine alone (the sheet to Python lists) and the import's own
XML reader alone (``importing.xlsxgrid``: unzip, cells as text), and the whole ``advance-trial import``
command as its own process.

With ``--baseline-ref REF`` (or ``--baseline DIR``, a checkout of the earlier code) the earlier code is
timed in the same run, alternating with this checkout round by round (each import in its own process,
with the same interpreter and libraries), and the medians are printed side by side with their ratio;
every round, the canonical file and the ledger each code wrote are compared byte for byte (the ledger's
time stamps aside), and the run stops if they differ. The targets (issue 38): the import at 100,000 rows
per second or better from CSV, 50,000 from Excel.

``--stages`` adds where this checkout's time goes: the CPU seconds of each step of one import of each file
(reading, with the workbook's zip check, the XML reader, calamine when it reads, and the table apart; mapping and
converting; the row checks; the merge; the merged file's bytes; its check as canonical data; the final
cross-file check; the existing data's reading; the transaction's commit).

Run: ``python benchmarks/bench_import.py [--baseline-ref main] [--rows N] [--rounds N] [--stages]``
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path("configs") / "advance-feasibility.yaml"
KINDS = ("csv", "xlsx")


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


def worker(code: Path, files: dict[str, Path], participants: Path, rows: int, scratch: Path) -> None:
    """In its own process: import each file once with the code at ``code`` (after a small warm-up import);
    print the seconds of each as JSON."""
    sys.path.insert(0, str(code))
    import advance_trial
    from advance_trial.config import load_config
    from advance_trial.importing import import_files

    assert Path(advance_trial.__file__).resolve().is_relative_to(code.resolve()), advance_trial.__file__
    cfg = load_config(code / CONFIG)
    warm = scratch / "warm"
    warm.mkdir()
    shutil.copy(participants, warm)
    lines = files["csv"].read_text().splitlines()[:40]
    (scratch / "warm.csv").write_text("\n".join(lines) + "\n")
    import_files(cfg, warm, "london", "attendance", [scratch / "warm.csv"], by="bench")
    out = {}
    for kind, path in files.items():
        data = scratch / kind
        data.mkdir()
        shutil.copy(participants, data)
        t0, c0 = time.perf_counter(), time.process_time()
        (res,) = import_files(cfg, data, "london", "attendance", [path], by="bench")
        out[kind], out[f"{kind} cpu"] = time.perf_counter() - t0, time.process_time() - c0
        assert res.new == rows and res.rejected == 0, res
    print(json.dumps(out))


#: (module, function, label) timed by ``--stages``; nested steps are counted in their callers too.
STAGES = (
    ("advance_trial.importing.core", "read_site_file", "read the site file"),
    ("advance_trial.importing.readers", "_check_zip", "  of which: the workbook's zip check (unzips the sheets)"),
    ("advance_trial.importing.readers", "_plain_grid", "  of which: the sheet's cells from its XML"),
    ("advance_trial.importing.readers", "_text_grid_table", "  of which: the cells as a table"),
    ("advance_trial.importing.readers", "_calamine", "  of which: calamine (parse, to_python)"),
    ("advance_trial.importing.readers", "_grid_table", "  of which: calamine's grid as text"),
    ("advance_trial.importing.core", "_existing", "read the data already there"),
    ("advance_trial.importing.core", "convert", "convert each column"),
    ("advance_trial.importing.core", "check_rows", "check the rows"),
    ("advance_trial.importing.core", "canonical_text", "the rows' canonical text"),
    ("advance_trial.importing.core", "_merge", "merge with the rows there"),
    ("advance_trial.importing.core", "text_file", "the merged file's bytes"),
    ("advance_trial.importing.core", "parse_table", "check the merged file as canonical data"),
    ("advance_trial.importing.core", "cross_checks", "check it with the other files"),
    ("advance_trial.data.folder", "Transaction.commit", "commit the transaction"),
)


def stages(files: dict[str, Path], participants: Path, rows: int, scratch: Path) -> None:
    """Where this checkout's time goes: each step's CPU seconds in one import of each file (after a warm-up)."""
    import importlib
    from collections import defaultdict
    from functools import wraps

    from advance_trial.config import load_config
    from advance_trial.importing import import_files

    spent: dict[str, float] = defaultdict(float)

    def timed(f, label):  # type: ignore[no-untyped-def]
        @wraps(f)
        def inner(*a, **k):  # type: ignore[no-untyped-def]
            c0 = time.process_time()
            try:
                return f(*a, **k)
            finally:
                spent[label] += time.process_time() - c0

        return inner

    for module, name, label in STAGES:
        owner = importlib.import_module(module)
        *outer, attr = name.split(".")
        for part in outer:
            owner = getattr(owner, part)
        if hasattr(owner, attr):
            setattr(owner, attr, timed(getattr(owner, attr), label))
    cfg = load_config(ROOT / CONFIG)
    scratch.mkdir()
    for kind, path in (("warm", files["csv"]), *files.items()):
        data = scratch / f"stages-{kind}"
        data.mkdir()
        shutil.copy(participants, data)
        spent.clear()
        c0 = time.process_time()
        import_files(cfg, data, "london", "attendance", [path], by="bench")
        total = time.process_time() - c0
        if kind == "warm":
            continue
        print(f"where the time goes, {kind}: {total:.3f} s of CPU for {rows:,} rows")
        for _, _, label in STAGES:
            if label in spent:
                print(f"  {label:42s} {spent[label]:6.3f} s  {spent[label] / total:4.0%}")


def _bare_calamine(workbook: Path) -> None:
    """python-calamine alone: the sheet parsed and handed to Python as lists of cells."""
    from python_calamine import CalamineWorkbook

    CalamineWorkbook.from_path(str(workbook)).get_sheet_by_index(0).to_python(skip_empty_area=False)


def _bare_xml(workbook: Path) -> None:
    """This checkout's XML reader alone: the sheet unzipped and its cells read as text (no zip check)."""
    import zipfile

    from advance_trial.importing import xlsxgrid

    with zipfile.ZipFile(workbook) as zf:
        book = xlsxgrid.book(zf, 1 << 30)
        part = next(iter((xlsxgrid.workbook_sheets(zf) or {}).values()))
        assert book is not None and xlsxgrid.read_grid(zf.read(part), book, 1 << 40) is not None


def _same_files(first: Path, second: Path) -> None:
    """The canonical file and the ledger two codes wrote are the same bytes (the ledger's time stamps aside)."""
    for name in ("attendance.csv", "import/audit.csv"):
        a, b = (first / name).read_bytes(), (second / name).read_bytes()
        if name.endswith("audit.csv"):
            a, b = (re.sub(rb"^[^,\n]*,", b"", x, flags=re.M) for x in (a, b))
        if a != b:
            raise SystemExit(f"{name} differs between {first} and {second}")


def _in_process(code: Path, files: dict[str, Path], participants: Path, rows: int, scratch: Path) -> dict[str, float]:
    scratch.mkdir()
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(code), "--rows", str(rows),
               "--participants", str(participants), "--scratch", str(scratch),
               *(f"--{kind}={path}" for kind, path in files.items())]  # fmt: skip
    res = subprocess.run(command, capture_output=True, text=True, check=False, env=_env())
    if res.returncode:
        raise SystemExit(f"the import failed with the code at {code}:\n{res.stderr[-3000:]}")
    return {k: float(v) for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items()}


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}


def _process(data: Path, export: Path, participants: Path) -> float:
    """The whole command as its own process (interpreter start, imports, option parsing, the import)."""
    data.mkdir()
    shutil.copy(participants, data)
    command = [sys.executable, "-m", "advance_trial", "import", str(ROOT / CONFIG), str(export), "--data", str(data),
               "--site", "london", "--kind", "attendance", "--by", "bench", "--json"]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=ROOT)
    return time.perf_counter() - t0


def _baseline(args: argparse.Namespace, tmp: Path) -> Path | None:
    if args.baseline:
        return Path(args.baseline).resolve()
    if not args.baseline_ref:
        return None
    where = tmp / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), args.baseline_ref],
                   check=True, capture_output=True)  # fmt: skip
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="a checkout of the earlier code, timed alongside")
    parser.add_argument("--baseline-ref", help="a git commit or branch of this repository, checked out to time it")
    parser.add_argument("--stages", action="store_true", help="also print where this checkout's time goes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--participants", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    for kind in KINDS:
        parser.add_argument(f"--{kind}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        files = {k: Path(getattr(args, k)) for k in KINDS if getattr(args, k)}
        worker(Path(args.worker), files, Path(args.participants), args.rows, Path(args.scratch))
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        base = _baseline(args, tmp)
        try:
            _run(args, tmp, base)
        finally:
            if base is not None and not args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)


def _run(args: argparse.Namespace, tmp: Path, base: Path | None) -> None:
    src = tmp / "src"
    src.mkdir()
    participants, export = make_export(src, args.rows)
    workbook = src / "london-attendance-export.xlsx"
    pd.read_csv(export, dtype=str, keep_default_na=False).to_excel(workbook, index=False)
    files = {"csv": export, "xlsx": workbook}
    codes = {"after": ROOT} | ({"before": base} if base is not None else {})
    times: dict[str, dict[str, list[float]]] = {c: {k: [] for k in (*KINDS, *(f"{k} cpu" for k in KINDS))}
                                                for c in codes}  # fmt: skip
    bare: dict[str, list[float]] = {k: [] for k in (*KINDS, "calamine", "xml")}
    process: list[float] = []
    for r in range(args.rounds):
        order = list(codes) if r % 2 == 0 else list(reversed(codes))  # alternate which goes first
        for c in order:
            for kind, t in _in_process(codes[c], files, participants, args.rows, tmp / f"{c}{r}").items():
                times[c][kind].append(t)
        if "before" in codes:  # the same canonical files, byte for byte
            for kind in KINDS:
                _same_files(tmp / f"before{r}" / kind, tmp / f"after{r}" / kind)
        t0 = time.perf_counter()
        pd.read_csv(export, dtype=str)
        bare["csv"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pd.read_excel(workbook, dtype=str, engine="calamine")
        bare["xlsx"].append(time.perf_counter() - t0)
        for what, read in (("calamine", _bare_calamine), ("xml", _bare_xml)):
            t0 = time.perf_counter()
            read(workbook)
            bare[what].append(time.perf_counter() - t0)
        process.append(_process(tmp / f"process{r}", export, participants))
    print(f"{args.rows:,} attendance rows, {args.rounds} rounds, medians (read, map, check, merge, write)")
    for kind in KINDS:
        b = statistics.median(bare[kind])  # the import's rate over pandas' bare read of the same file
        line = f"import {kind:4s}"
        for c in ("before", "after"):
            if c in times:
                t = statistics.median(times[c][kind])
                line += f" | {c} {t:6.3f} s = {args.rows / t:>9,.0f} rows/s ({t / b:5.1f}x the bare read)"
        if "before" in times:
            ratio = statistics.median(times["before"][kind]) / statistics.median(times["after"][kind])
            cpu = statistics.median(times["before"][f"{kind} cpu"]) / statistics.median(times["after"][f"{kind} cpu"])
            line += f" | {ratio:.2f}x faster ({cpu:.2f}x in CPU time)"
        print(line)
        cpu_line = f"  CPU time {kind:4s}"
        for c in ("before", "after"):
            if c in times:
                t = statistics.median(times[c][f"{kind} cpu"])
                cpu_line += f" | {c} {t:6.3f} s = {args.rows / t:>9,.0f} rows/s of CPU"
        print(cpu_line)
    for kind, what in (
        ("csv", "pandas.read_csv"),
        ("xlsx", 'pandas.read_excel(engine="calamine")'),
        ("calamine", "python_calamine (to_python)"),
        ("xml", "importing.xlsxgrid (unzip, cells as text)"),
    ):
        b = statistics.median(bare[kind])
        file = "csv" if kind == "csv" else "xlsx"
        print(f"bare {what} of the {file}: median {b:.3f} s = {args.rows / b:,.0f} rows/s")
    t = statistics.median(process)
    print(f"CLI process (after), csv: median {t:.3f} s = {args.rows / t:,.0f} rows/s")
    if "before" in codes:
        print(f"canonical files and ledgers: the same bytes before and after in all {args.rounds} rounds")
    print("targets: import csv >= 100,000 rows/s, xlsx >= 50,000 rows/s")
    if args.stages:
        stages(files, participants, args.rows, tmp / "stages")


if __name__ == "__main__":
    main()
