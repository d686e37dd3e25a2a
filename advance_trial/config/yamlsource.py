"""Read a YAML file into plain data plus the line of every key.

PyYAML's ``safe_load`` forgets where things stood; error messages need the line,
so the node graph is walked once here, building the Python data and a map from
key paths (tuples of keys and list indexes) to 1-based line numbers. Duplicate
keys, which ``safe_load`` silently collapses, are reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advance_trial.errors import ConfigError, ConfigProblem

Key = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file.

    Attributes
    ----------
    file : str
        The path as given, for messages.
    data : Any
        The plain Python data (dicts, lists, scalars).
    lines : dict
        Key path -> 1-based line of the key (mapping entries) or item (list entries).
    sha256 : str
        SHA-256 of the file's bytes.
    """

    file: str
    data: Any
    lines: dict[Key, int] = field(default_factory=dict)
    sha256: str = ""

    def line_of(self, path: Key) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def format_path(path: Key) -> str:
    """Render a key path as ``a.b[2].c``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_yaml(text: str, file: str, sha256: str = "") -> YamlDocument:
    """Parse YAML text, keeping the line of every key.

    Raises
    ------
    ConfigError
        If the text is not valid YAML, is empty, or repeats a key.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or str(exc)
        raise ConfigError(file, [ConfigProblem("", line, f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, [ConfigProblem("", None, f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None:
        raise ConfigError(file, [ConfigProblem("", None, "the file is empty")])
    lines: dict[Key, int] = {(): node.start_mark.line + 1}
    problems: list[ConfigProblem] = []
    data = _walk(loader, node, (), lines, problems)
    if problems:
        raise ConfigError(file, problems)
    return YamlDocument(file=file, data=data, lines=lines, sha256=sha256)


def load_yaml(path: str | Path) -> YamlDocument:
    """Read and parse a YAML file.

    Raises
    ------
    ConfigError
        If the file cannot be read or decoded, or is not valid YAML.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", None, f"cannot read the file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), [ConfigProblem("", None, f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")]
        ) from None
    return parse_yaml(text, str(path), hashlib.sha256(raw).hexdigest())


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Key,
    lines: dict[Key, int],
    problems: list[ConfigProblem],
) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                problems.append(
                    ConfigProblem(format_path(path), key_node.start_mark.line + 1, "keys must be plain words")
                )
                continue
            part: str | int = key if isinstance(key, str | int) else str(key)
            child = (*path, part)
            line = key_node.start_mark.line + 1
            if key in out:
                problems.append(
                    ConfigProblem(
                        format_path(child), line, f"the key {key!r} is given twice (first on line {lines[child]})"
                    )
                )
                continue
            lines[child] = line
            out[key] = _walk(loader, value_node, child, lines, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            items.append(_walk(loader, item, child, lines, problems))
        return items
    return loader.construct_object(node, deep=True)
