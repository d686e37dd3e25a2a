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


def add_import_rule(path: str | Path, rule: dict[str, object]) -> str:
    """Append ``rule`` to the config's top-level ``import:`` list (made when absent), keeping every other line.

    The rule is written as one flow-style line (``- {sites: [london], kinds: [screening], columns: {...}}``);
    the new text is validated as a whole config before it replaces the file (atomically). Returns the line.

    Raises
    ------
    UsageError
        The file cannot be read, or its ``import:`` is not a block-style list that a line can be added to.
    ConfigError
        The config with the rule would be invalid (nothing written).
    """
    import yaml

    from advance_trial.config.loader import parse_config
    from advance_trial.data.tablefile import write_bytes_atomic

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config ({exc.strerror})") from None
    item = yaml.safe_dump(rule, default_flow_style=True, sort_keys=False, width=10**6, allow_unicode=True).strip()
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, line in enumerate(lines) if re.match(r"^import:\s*(#.*)?$", line)), None)
    if start is None:
        if any(re.match(r"^import\s*:", line) for line in lines):
            raise UsageError(f"{path}: its import rules are written on one line; add this rule by hand: - {item}")
        lines += ["import:\n", f"  - {item}\n"]
    else:
        end, indent = start + 1, None
        while end < len(lines):
            line = lines[end]
            if line.strip() and not line.startswith((" ", "\t", "#")):
                break  # the next top-level key
            m = re.match(r"^(\s*)- ", line)
            if m and indent is None:
                indent = m.group(1)
            end += 1
        while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1  # blank lines and the next key's comment stay after the rule
        lines.insert(end, f"{indent if indent is not None else '  '}- {item}\n")
    new = "".join(lines)
    parse_config(new, str(path))
    write_bytes_atomic(new.encode("utf-8"), path)
    return f"- {item}"
