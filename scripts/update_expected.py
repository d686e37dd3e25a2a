"""Regenerate tests/expected/advance-feasibility/ (the text outputs CI compares byte for byte).

Run after a deliberate change to an analysis or a renderer, or after updating constraints.txt;
review the diff before committing. Run: ``python scripts/update_expected.py``
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advance_trial.pipeline import run  # noqa: E402

EXPECTED = ROOT / "tests" / "expected" / "advance-feasibility"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results"
        run(ROOT / "configs" / "advance-feasibility.yaml", ROOT / "data" / "sample" / "advance-feasibility", out)
        shutil.rmtree(EXPECTED, ignore_errors=True)
        EXPECTED.mkdir(parents=True)
        for p in sorted(out.iterdir()):
            if p.suffix in (".csv", ".md"):
                shutil.copyfile(p, EXPECTED / p.name)
    print(f"wrote {len(list(EXPECTED.iterdir()))} files to {EXPECTED}")


if __name__ == "__main__":
    main()
