"""``verify``: re-run a recorded run and compare every output byte for byte.

``provenance.json`` records the config, the data folder, the run's options (and, for a step's own
command such as ``recruitment --out``, the command: the same steps of the registry,
:mod:`advance_trial.steps`, are built again), the SHA-256 of every input and of every output.
Verification checks that the files in the folder are the ones recorded, that the inputs are still
the ones recorded (the config, the data files and the allocation log before the run is repeated: a
repeat over changed inputs could only differ), and that a fresh run in a temporary folder writes the
same bytes. Any difference raises :class:`~advance_trial.errors.IntegrityError` (exit 5) naming the files.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advance_trial.errors import IntegrityError, UsageError
from advance_trial.output.provenance import sha256_file


@dataclass(frozen=True)
class VerifyResult:
    """How many outputs were compared."""

    files: int


def _provenance(path: Path) -> dict[str, Any]:
    """The record, checked for the fields verify needs; a malformed one is an integrity failure (exit 5)."""
    try:
        prov = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IntegrityError(f"{path}: not a readable provenance record ({exc})") from None
    spec = prov.get("run") if isinstance(prov, dict) else None
    if not isinstance(spec, dict):
        raise IntegrityError(f"{path}: malformed: no record of the run's options")
    for key in ("outputs", "inputs"):
        value = prov.get(key)
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise IntegrityError(f"{path}: malformed: {key!r} is not a table of file names and SHA-256s")
    if not all(isinstance(spec.get(k), str) for k in ("config", "data")):
        raise IntegrityError(f"{path}: malformed: the run's config and data folder are not recorded")
    from advance_trial.steps import COMMANDS

    if spec.get("command", "run") not in COMMANDS or not isinstance(spec.get("pilot", ""), str):
        raise IntegrityError(f"{path}: malformed: {spec.get('command')!r} is not a command that writes outputs")
    return dict(prov)


def _same_log(prov: dict[str, Any], spec: dict[str, Any]) -> None:
    """The run's allocation log must still end where it ended then (its head tag); a row added since (another
    man allocated, an unblinding) is a changed input, said before the run is repeated."""
    from advance_trial.pipeline import LOG_INPUT

    then = prov["inputs"].get(LOG_INPUT)
    if not spec.get("log") or then is None:
        return
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import trial_key, verify_log

    cfg = load_config(spec["config"])
    ring = trial_key(cfg, spec.get("key_dir"), spec["log"])
    now = verify_log(cfg, ring, spec["log"])
    if now.head_tag != then:
        raise IntegrityError(
            f"inputs changed since the run: the allocation log {spec['log']} (it now ends at row {now.head_row}, "
            f"{now.allocations} allocations; the run read an earlier head): run again to include what was added"
        )


def _files_changed(prov: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """The recorded input files (the data files and the config) whose bytes are no longer the recorded ones, or
    that are gone: a changed input, said before the run is repeated (the repeat would read them and differ).
    A config the record cannot name by itself alone (a definitive trial's and its pilot's of one file name) is
    left to the repeat."""
    data = Path(spec["data"])
    places = {name: data / name.removeprefix("data/") for name in prov["inputs"] if name.startswith("data/")}
    configs = [Path(p) for p in (spec["config"], spec.get("pilot")) if p]
    if len({p.name for p in configs}) == len(configs):
        places |= {f"config/{p.name}": p for p in configs}
    return sorted(n for n, p in places.items() if n in prov["inputs"] and _sha256_or_none(p) != prov["inputs"][n])


def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_file(path) if path.is_file() else None
    except OSError:
        return None


def verify_outputs(outdir: str | Path) -> VerifyResult:
    """Check ``outdir`` against its provenance and a fresh run (see the module docstring).

    Every file below ``outdir`` (subfolders too) must be one the run recorded, with its hash; every
    field of ``provenance.json`` but its creation time must be what a fresh run derives again.
    """
    from advance_trial.pipeline import RunOptions, run

    out = Path(outdir)
    prov_path = out / "provenance.json"
    if not prov_path.exists():
        raise UsageError(
            f"{out}: no provenance.json; verify a folder written by `advance-trial run` (or a step's "
            "command with --out)"
        )
    prov = _provenance(prov_path)
    spec = prov["run"]
    recorded = prov["outputs"]
    touched = sorted(n for n, h in recorded.items() if not (out / n).is_file() or sha256_file(out / n) != h)
    present = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    extra = [n for n in present if n not in recorded and n != "provenance.json"]
    if touched or extra:
        what = [f"changed or missing: {', '.join(touched)}"] if touched else []
        what += [f"not written by the run: {', '.join(extra)}"] if extra else []
        raise IntegrityError(f"{out}: the outputs are not the ones the run recorded ({'; '.join(what)})")
    for name in ("config", "data", "pilot"):
        if spec.get(name) is not None and not Path(spec[name]).exists():
            raise IntegrityError(f"{spec[name]}: the run's {name} is not there, so the run cannot be repeated")
    opts = RunOptions(
        by=spec.get("by", "site"), blinded=bool(spec.get("blinded")), shareable=bool(spec.get("shareable")),
        log=spec.get("log"), key_dir=spec.get("key_dir"), report=bool(spec.get("report", True)),
        closed=bool(spec.get("closed")), data_cut_off=spec.get("data_cut_off"),
        command=str(spec.get("command", "run")), pilot=spec.get("pilot"),
    )  # fmt: skip
    _same_log(prov, spec)
    moved = _files_changed(prov, spec)
    if moved:
        raise IntegrityError(f"{out}: inputs changed since the run: {', '.join(moved)}")
    key = spec.get("key")
    if key is not None and not Path(key).is_file():
        raise IntegrityError(f"{key}: the run's blinding key is not there, so the blinded run cannot be repeated")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / out.name
        opts_key = RunOptions(**{**opts.__dict__, "key": key or str(Path(tmp) / "key.csv")})
        again = run(spec["config"], spec["data"], fresh, options=opts_key)
    now = again.provenance
    moved = sorted(n for n in set(prov["inputs"]) | set(now["inputs"]) if prov["inputs"].get(n) != now["inputs"].get(n))
    differ = sorted(n for n in set(recorded) | set(again.outputs) if recorded.get(n) != again.outputs.get(n))
    fields = sorted(k for k in set(prov) | set(now) if k not in ("created_utc", "inputs", "outputs")
                    and prov.get(k) != now.get(k))  # fmt: skip
    if moved or differ or fields:
        parts = [f"inputs changed since the run: {', '.join(moved)}"] if moved else []
        parts += [f"outputs that do not reproduce: {', '.join(differ)}"] if differ else []
        parts += [f"provenance fields that are not what the run gives: {', '.join(fields)}"] if fields else []
        raise IntegrityError(f"{out}: {'; '.join(parts)}")
    return VerifyResult(len(recorded))
