"""Migrations of older config schema versions to the current one.

A migration takes the plain data of schema version ``n`` (and the line map, so
that messages about migrated keys still point at the right line) and returns it
as version ``n + 1``, with a note of what it changed. They run in sequence on
load; the file on disk is never rewritten.

History
-------
0 -> 1
    The pre-release draft format: ``randomization`` became ``randomisation``,
    ``reporting.ci_method`` became ``reporting.proportion_ci`` and thresholds'
    ``min`` became ``at_least``.
1 -> 2
    Allocation derives from a secret key in a key folder, no longer from a seed
    in the config: ``randomisation.seed`` became ``randomisation.assess_seed``
    (the design assessment's plain seed, which conceals nothing), and
    ``randomisation.log``, if relative, is now read relative to the config
    file's folder instead of the working folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Key = tuple[str | int, ...]
Migration = Callable[[dict[str, Any], dict[Key, int]], list[str]]

CURRENT_SCHEMA_VERSION = 2

MIGRATIONS: dict[int, Migration] = {}


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register ``func`` as the migration from ``from_version`` to ``from_version + 1``."""

    def register(func: Migration) -> Migration:
        MIGRATIONS[from_version] = func
        return func

    return register


def rename_key(data: dict[str, Any], lines: dict[Key, int], path: Key, new: str) -> bool:
    """Rename the key at ``path`` to ``new`` in place, moving its lines; ``True`` if it was there."""
    parent: Any = data
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(parent, dict) or path[-1] not in parent or new in parent:
        return False
    parent[new] = parent.pop(path[-1])
    new_path = (*path[:-1], new)
    n = len(path)
    for key in [k for k in lines if k[:n] == path]:
        lines[new_path + key[n:]] = lines.pop(key)
    return True


@migration(0)
def _draft_to_1(data: dict[str, Any], lines: dict[Key, int]) -> list[str]:
    notes = []
    if rename_key(data, lines, ("randomization",), "randomisation"):
        notes.append("randomization -> randomisation")
    if rename_key(data, lines, ("reporting", "ci_method"), "proportion_ci"):
        notes.append("reporting.ci_method -> reporting.proportion_ci")
    thresholds = data.get("thresholds")
    if isinstance(thresholds, list):
        for i in range(len(thresholds)):
            if rename_key(data, lines, ("thresholds", i, "min"), "at_least"):
                notes.append(f"thresholds[{i}].min -> at_least")
    data["schema_version"] = 1
    return notes


@migration(1)
def _seed_to_key(data: dict[str, Any], lines: dict[Key, int]) -> list[str]:
    notes = []
    if rename_key(data, lines, ("randomisation", "seed"), "assess_seed"):
        notes.append("randomisation.seed -> randomisation.assess_seed (allocation now derives from the key)")
    log = data.get("randomisation", {}).get("log") if isinstance(data.get("randomisation"), dict) else None
    if isinstance(log, str) and not log.startswith("/"):
        notes.append(f"randomisation.log {log!r} is now relative to the config's folder")
    data["schema_version"] = 2
    return notes


def migrate(data: dict[str, Any], lines: dict[Key, int], version: int) -> tuple[dict[str, Any], list[str]]:
    """Bring ``data`` from schema ``version`` to :data:`CURRENT_SCHEMA_VERSION`.

    Returns
    -------
    data, notes
        The migrated data (changed in place) and one note per migration run.

    Raises
    ------
    KeyError
        If no migration is registered for a version on the way.
    """
    notes: list[str] = []
    while version < CURRENT_SCHEMA_VERSION:
        changes = MIGRATIONS[version](data, lines)
        notes.append(f"schema {version} -> {version + 1}: " + (", ".join(changes) if changes else "no key changed"))
        version += 1
    return data, notes
