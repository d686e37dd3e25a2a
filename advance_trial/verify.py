"""``verify``: re-run a recorded run and compare every output byte for byte.

``provenance.json`` records the config, the data folder, the run's options, the SHA-256 of every
input and of every output. Verification checks that the inputs are still the ones recorded, that
the files in the folder are the ones recorded, and that a fresh run in a temporary folder writes
the same bytes. Any difference raises :class:`~advance_trial.errors.IntegrityError` (exit 5)
naming the files.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from advance_trial.errors import IntegrityError, UsageError
from advance_trial.results import sha256_file


@dataclass(frozen=True)
class VerifyResult:
    """How many outputs were compared."""

    files: int


def verify_outputs(outdir: str | Path) -> VerifyResult:
    """Check ``outdir`` against its provenance and a fresh run (see the module docstring)."""
    from advance_trial.pipeline import RunOptions, run

    out = Path(outdir)
    prov_path = out / "provenance.json"
    if not prov_path.exists():
        raise UsageError(f"{out}: no provenance.json; verify a folder written by `advance-trial run`")
    prov = json.loads(prov_path.read_text())
    spec = prov.get("run")
    if not spec:
        raise UsageError(f"{prov_path}: written by an older version without the run's options; run again")
    recorded = prov["outputs"]
    touched = sorted(n for n, h in recorded.items() if not (out / n).exists() or sha256_file(out / n) != h)
    extra = sorted(
        p.name for p in out.iterdir() if p.is_file() and p.name not in recorded and p.name != "provenance.json"
    )
    if touched or extra:
        what = [f"changed or missing: {', '.join(touched)}"] if touched else []
        what += [f"not written by the run: {', '.join(extra)}"] if extra else []
        raise IntegrityError(f"{out}: the outputs are not the ones the run recorded ({'; '.join(what)})")
    opts = RunOptions(by=spec["by"], blinded=spec["blinded"], shareable=spec["shareable"], log=spec["log"],
                      key_dir=spec.get("key_dir"), report=spec["report"])  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / out.name
        opts_key = RunOptions(**{**opts.__dict__, "key": str(Path(tmp) / "key.csv")})
        again = run(spec["config"], spec["data"], fresh, options=opts_key)
    inputs_now = again.provenance["inputs"]
    moved = sorted(n for n in set(prov["inputs"]) | set(inputs_now) if prov["inputs"].get(n) != inputs_now.get(n))
    differ = sorted(n for n in set(recorded) | set(again.outputs) if recorded.get(n) != again.outputs.get(n))
    if moved or differ:
        parts = [f"inputs changed since the run: {', '.join(moved)}"] if moved else []
        parts += [f"outputs that do not reproduce: {', '.join(differ)}"] if differ else []
        raise IntegrityError(f"{out}: {'; '.join(parts)}")
    return VerifyResult(len(recorded))
