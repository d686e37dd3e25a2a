"""What an amendment changed: two configs compared key by key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from advance_trial.config.models import Config


@dataclass(frozen=True)
class Change:
    """One key that differs between two configs.

    Attributes
    ----------
    path : str
        Key path; list items with an ``id`` are named by it, e.g. ``arms[tau].ratio``.
    kind : {"added", "removed", "changed"}
    old, new : Any
        The values before and after (``None`` where absent).
    """

    path: str
    kind: Literal["added", "removed", "changed"]
    old: Any
    new: Any


def resolved(cfg: Config) -> dict[str, Any]:
    """The config as plain data with every default filled in."""
    return cfg.model_dump(mode="json", by_alias=True)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested data to ``path -> scalar``; list items with an ``id`` are keyed by it."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        if not data and prefix:
            out[prefix] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list):
        if not data and prefix:
            out[prefix] = []
        keyed = all(isinstance(v, dict) and "id" in v for v in data)
        if data and not keyed and all(not isinstance(v, dict | list) for v in data):
            out[prefix] = list(data)
        else:
            for i, v in enumerate(data):
                out.update(flatten(v, f"{prefix}[{v['id'] if keyed else i}]"))
    else:
        out[prefix] = data
    return out


def diff_configs(old: Config, new: Config) -> list[Change]:
    """Every key that differs between two resolved configs, in a stable order."""
    a, b = flatten(resolved(old)), flatten(resolved(new))
    changes = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            changes.append(Change(path, "removed", a[path], None))
        elif path not in a:
            changes.append(Change(path, "added", None, b[path]))
        elif a[path] != b[path]:
            changes.append(Change(path, "changed", a[path], b[path]))
    return changes


def version_key(version: str) -> tuple[int, int, int]:
    """The numeric part of a semantic version, for ordering."""
    core = version.split("+")[0].split("-")[0]
    major, minor, patch = (int(x) for x in core.split("."))
    return major, minor, patch


def version_warning(old: Config, new: Config, changes: list[Change]) -> str | None:
    """The amendment rule: a config that changed must carry a higher ``trial.version``; the warning when
    it does not, else ``None``."""
    if changes and not version_key(new.trial.version) > version_key(old.trial.version):
        return f"the config changed but trial.version did not increase ({old.trial.version} -> {new.trial.version})"
    return None
