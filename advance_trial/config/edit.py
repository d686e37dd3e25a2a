"""Small, line-level edits of a config file that keep its comments and layout."""

from __future__ import annotations

import re
from pathlib import Path

from advance_trial.errors import UsageError


def set_key_fingerprint(path: str | Path, fingerprint: str) -> bool:
    """Write ``randomisation.key_fingerprint`` into a block-style ``randomisation:`` mapping.

    Returns False (and writes nothing) when the file's layout does not allow a safe edit (a flow-style
    mapping, or a fingerprint already there); the caller then asks the user to add the line.
    """
    from advance_trial.data.tablefile import write_bytes_atomic

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config ({exc.strerror})") from None
    new = with_key_fingerprint(text, fingerprint)
    if new is None:
        return False
    write_bytes_atomic(new.encode("utf-8"), path)
    return True


def with_key_fingerprint(text: str, fingerprint: str) -> str | None:
    """A config's text with ``randomisation.key_fingerprint`` added to its block-style ``randomisation:`` mapping;
    None when the layout does not allow a safe edit (a flow-style mapping, or a fingerprint already there)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^randomisation:\s*(#.*)?$", line)), None)
    if start is None:
        return None
    child = next((line for line in lines[start + 1 :] if line.strip() and not line.lstrip().startswith("#")), "")
    indent = re.match(r"^(\s+)", child)
    if indent is None:
        return None
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(indent.group(1))):
        if re.match(rf"^{indent.group(1)}key_fingerprint\s*:", lines[end]):
            return None
        end += 1
    lines.insert(start + 1, f"{indent.group(1)}key_fingerprint: {fingerprint}   # SHA-256 of the allocation key\n")
    return "".join(lines)
