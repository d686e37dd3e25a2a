"""Regenerate tests/expected/advance-feasibility/ (the text outputs CI compares with a fresh run).

Run after a deliberate change to an analysis or a renderer, or after updating constraints.txt;
review the diff before committing. A file is rewritten only when it differs in the way the test
compares (:func:`differences`): last-digit changes from another machine's floating-point kernels
leave the committed file as it is. Run: ``python scripts/update_expected.py``
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXPECTED = ROOT / "tests" / "expected" / "advance-feasibility"
#: A CSV cell compared as a floating-point number: a decimal point or an exponent, or nan/inf.
_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+|nan|inf)$")
REL = 1e-9
ABS = 1e-12  # a zero against a rounding residue of a difference


def _close(a: str, b: str) -> bool:
    if a == b:
        return True
    if not (_FLOAT.match(a) and _FLOAT.match(b)):
        return False
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or math.isinf(y):
        return False  # equal ones were equal as text
    return math.isclose(x, y, rel_tol=REL, abs_tol=ABS)


def differences(new: bytes, old: bytes, name: str) -> str:
    """How a fresh output differs from the committed one, or ``""``.

    CSV files: cells that are both floating-point numbers must agree to a relative ``1e-9``;
    every other cell (integers, text, the header) and the shape byte for byte. Other files
    (Markdown, rounded for reading): byte for byte.
    """
    if new == old:
        return ""
    if not name.endswith(".csv"):
        return "differs"
    a = list(csv.reader(io.StringIO(new.decode("utf-8"), newline="")))
    b = list(csv.reader(io.StringIO(old.decode("utf-8"), newline="")))
    if len(a) != len(b):
        return f"{len(a)} rows, committed {len(b)}"
    for i, (ra, rb) in enumerate(zip(a, b, strict=True), 1):
        if len(ra) != len(rb):
            return f"row {i}: {len(ra)} cells, committed {len(rb)}"
        for j, (x, y) in enumerate(zip(ra, rb, strict=True)):
            if not _close(x, y):
                return f"row {i}, column {j + 1}: {x!r}, committed {y!r}"
    return "" if new.endswith(b"\n") == old.endswith(b"\n") else "line ending at the end differs"


def main() -> None:
    from advance_trial.pipeline import run

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results"
        run(ROOT / "configs" / "advance-feasibility.yaml", ROOT / "data" / "sample" / "advance-feasibility", out)
        EXPECTED.mkdir(parents=True, exist_ok=True)
        fresh = {p.name: p for p in sorted(out.iterdir()) if p.suffix in (".csv", ".md")}
        for stale in sorted(set(p.name for p in EXPECTED.iterdir()) - set(fresh)):
            (EXPECTED / stale).unlink()
            print(f"removed {stale}")
        for name, p in fresh.items():
            committed = EXPECTED / name
            if not committed.exists() or differences(p.read_bytes(), committed.read_bytes(), name):
                shutil.copyfile(p, committed)
                print(f"wrote {name}")
    print(f"{len(fresh)} expected outputs in {EXPECTED}")


if __name__ == "__main__":
    main()
