"""Provenance: what a run read and wrote, with what, and when (``provenance.json``).

The record holds the toolkit and package versions, the config's id, version and SHA-256, the seed,
the SHA-256 of every input and output file, the command and the run's UTC time: the only place a
time appears in a run's outputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advance_trial import __version__
from advance_trial.data.tablefile import write_bytes_atomic

if TYPE_CHECKING:
    from advance_trial.config import Config

#: Packages whose versions are recorded in provenance.json.
RECORDED_PACKAGES = ("numpy", "pandas", "scipy", "pydantic", "pyyaml", "typer", "rich", "matplotlib", "python-docx")


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions(names: Iterable[str] = RECORDED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the named distributions (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_provenance(
    cfg: Config,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    seed: int | None = None,
    command: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The provenance record of one run (contract section 3).

    Parameters
    ----------
    cfg : Config
        The config as loaded (its source gives path and SHA-256).
    inputs : mapping
        Input file name -> SHA-256.
    outputs : mapping
        Output file name -> SHA-256.
    seed : int, optional
        The seed used (default: the config's ``randomisation.assess_seed``; allocation uses no seed).
    command : str, optional
        The command line, for the record.
    now : datetime, optional
        The run's time (default: now, UTC).
    """
    src = cfg.source
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return {
        "toolkit": {"name": "advance-trial", "version": __version__},
        "config": {
            "id": cfg.trial.id,
            "version": cfg.trial.version,
            "schema_version": cfg.schema_version,
            "path": src.path if src else None,
            "sha256": src.sha256 if src else None,
            "migrations": list(src.migrations) if src else [],
        },
        "seed": seed if seed is not None else cfg.randomisation.assess_seed,
        "inputs": dict(sorted(inputs.items())),
        "outputs": dict(sorted(outputs.items())),
        "command": command,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "created_utc": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_provenance(record: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``provenance.json`` (sorted keys, two-space indent) atomically."""
    path = Path(out_dir) / "provenance.json"
    write_bytes_atomic((json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"), path)
    return path
