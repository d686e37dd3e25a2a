"""Read a YAML file into plain data plus the line of every key.

PyYAML's ``safe_load`` forgets where things stood; error messages need the line,
so the node graph is walked once here, building the Python data and a map from
key paths (tuples of keys and list indexes) to 1-based line numbers. Duplicate
keys, which ``safe_load`` silently collapses, are reported.

PyYAML's C parser (libyaml, :data:`FAST_LOADER`) reads the file when PyYAML was built with it, about ten
times faster than the pure-Python one; its nodes carry the same line marks. A file it refuses is read
again by the pure-Python loader, so every message about a broken file (its words and line) is the one
that loader gives.

No file can make the reading hang or run out of memory: before anything is
built, the event stream (parsed without recursion) is screened for nesting
deeper than :data:`MAX_DEPTH` and more than :data:`MAX_ALIASES` aliases; while
building, more than :data:`MAX_VALUES` values (an alias bomb repeating parts of
the file) stop it; whole numbers of :data:`MAX_INT` or more are refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advance_trial.errors import ConfigError, ConfigProblem

Key = tuple[str | int, ...]

#: Limits on what a YAML file may ask of the reader.
MAX_BYTES = 2_000_000
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_INT = 2**63

#: The loader that reads a config: libyaml's when PyYAML has it, else the pure-Python one.
FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    _screen(text, file)
    loader: yaml.SafeLoader | None = None
    try:
        loader, node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or str(exc)
        raise ConfigError(file, [ConfigProblem("", line, f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, [ConfigProblem("", None, f"not valid YAML: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise ConfigError(file, [ConfigProblem("", None, "the file is empty")])
    lines: dict[Key, int] = {(): node.start_mark.line + 1}
    problems: list[ConfigProblem] = []
    data = _walk(loader, node, (), lines, problems, _Budget(file))
    if problems:
        raise ConfigError(file, problems)
    return YamlDocument(file=file, data=data, lines=lines, sha256=sha256)


def _compose(text: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """The node graph of ``text`` and the loader that composed it (to construct its scalars). libyaml's
    when it has one; a text libyaml refuses is composed by the pure-Python loader, whose errors (words and
    marks) are the ones reported."""
    if FAST_LOADER is not yaml.SafeLoader:
        fast = FAST_LOADER(text)
        try:
            return fast, fast.get_single_node()
        except yaml.YAMLError:
            fast.dispose()
    loader = yaml.SafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError:
        loader.dispose()
        raise


def read_text(path: str | Path) -> tuple[str, str]:
    """A YAML file's text and the SHA-256 of its bytes.

    Raises
    ------
    ConfigError
        If the file cannot be read, is larger than :data:`MAX_BYTES`, or is not UTF-8.
    """
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ConfigError(str(path), [ConfigProblem("", None, f"larger than {MAX_BYTES:,} bytes; not a config")])
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", None, f"cannot read the file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), [ConfigProblem("", None, f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")]
        ) from None
    return text, hashlib.sha256(raw).hexdigest()


def load_yaml(path: str | Path) -> YamlDocument:
    """Read and parse a YAML file.

    Raises
    ------
    ConfigError
        If the file cannot be read or decoded, or is not valid YAML.
    """
    text, sha256 = read_text(path)
    return parse_yaml(text, str(path), sha256)


def _screen(text: str, file: str) -> None:
    """Refuse deep nesting, many aliases and huge files from the event stream, before building anything."""
    if len(text) > MAX_BYTES:
        raise ConfigError(file, [ConfigProblem("", None, f"larger than {MAX_BYTES:,} bytes; not a config")])
    loaders: list[type[yaml.SafeLoader]] = list(dict.fromkeys((FAST_LOADER, yaml.SafeLoader)))
    for loader in loaders:  # what libyaml refuses, the pure-Python loader may read: screened by it too
        try:
            _screen_events(text, file, loader)
            return
        except yaml.YAMLError:
            continue  # the parse proper reports it, with its line


def _screen_events(text: str, file: str, loader: type[yaml.SafeLoader]) -> None:
    """Screen the event stream as ``loader`` parses it (a YAMLError where it refuses the text)."""
    depth = aliases = 0
    for ev in yaml.parse(text, Loader=loader):
        line = ev.start_mark.line + 1 if ev.start_mark is not None else None
        if isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                msg = f"nested more than {MAX_DEPTH} levels deep; a config never needs that"
                raise ConfigError(file, [ConfigProblem("", line, msg)])
        elif isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        elif isinstance(ev, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                msg = f"more than {MAX_ALIASES} YAML aliases (*name); write the values out"
                raise ConfigError(file, [ConfigProblem("", line, msg)])


@dataclass
class _Budget:
    """How many more values the walk may build (aliases can repeat a part of the file many times)."""

    file: str
    left: int = MAX_VALUES

    def spend(self, node: yaml.Node) -> None:
        self.left -= 1
        if self.left < 0:
            msg = f"expands to more than {MAX_VALUES:,} values (YAML aliases repeat parts of it); not a config"
            raise ConfigError(self.file, [ConfigProblem("", node.start_mark.line + 1, msg)])


def _scalar(loader: yaml.SafeLoader, node: yaml.Node, path: Key, problems: list[ConfigProblem]) -> Any:
    line = node.start_mark.line + 1
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        problems.append(ConfigProblem(format_path(path), line, f"cannot read this value ({exc})"))
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
        problems.append(
            ConfigProblem(format_path(path), line, f"{str(value)[:20]}...: a whole number this large is not allowed")
        )
        return None
    return value


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Key,
    lines: dict[Key, int],
    problems: list[ConfigProblem],
    budget: _Budget,
) -> Any:
    budget.spend(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node, path, problems)
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
            out[key] = _walk(loader, value_node, child, lines, problems, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            items.append(_walk(loader, item, child, lines, problems, budget))
        return items
    return _scalar(loader, node, path, problems)
