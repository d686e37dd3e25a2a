"""Load a trial config: parse, migrate, validate, and report every problem with its line.

A process parses a config once: :func:`load_config` keeps the configs it validated by path and by the
SHA-256 of the file's bytes (the bytes are read every time, so a file edited since is parsed afresh);
configs are frozen, so every caller can share one.
"""

from __future__ import annotations

import copy
import threading
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from advance_trial.config import rules
from advance_trial.config.migrations import CURRENT_SCHEMA_VERSION, MIGRATIONS, migrate
from advance_trial.config.models import Config, ConfigSource
from advance_trial.config.yamlsource import YamlDocument, format_path, parse_yaml, read_text
from advance_trial.errors import ConfigError, ConfigProblem


def load_config(path: str | Path) -> Config:
    """Read, migrate and validate a trial config file.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    Config
        The validated config; ``config.source`` records the file, its SHA-256 and any migration.

    Raises
    ------
    ConfigError
        With every problem found, each naming its key path and line.
    """
    text, sha256 = read_text(path)
    key = (str(path), sha256)
    cfg = _LOADED.get(key)
    if cfg is None:
        cfg = config_from_document(parse_yaml(text, str(path), sha256))
        with _LOCK:  # the service loads configs from several threads
            while len(_LOADED) >= _KEEP:
                del _LOADED[next(iter(_LOADED))]
            _LOADED[key] = cfg
    return cfg


#: Configs validated in this process: (path as given, SHA-256 of its bytes) -> config (:func:`load_config`).
_LOADED: dict[tuple[str, str], Config] = {}
_KEEP = 16
_LOCK = threading.Lock()


def parse_config(text: str, file: str = "<config>") -> Config:
    """Validate a config given as YAML text (for tests and tools)."""
    import hashlib

    return config_from_document(parse_yaml(text, file, hashlib.sha256(text.encode()).hexdigest()))


def config_from_document(doc: YamlDocument) -> Config:
    """Validate a parsed YAML document as a trial config."""
    if not isinstance(doc.data, dict):
        raise ConfigError(doc.file, [ConfigProblem("", doc.line_of(()), "the config must be a mapping of keys")])
    data = copy.deepcopy(doc.data)
    lines = dict(doc.lines)
    version = data.get("schema_version")
    line = lines.get(("schema_version",))
    if version is None:
        msg = f"required: the config format version; add `schema_version: {CURRENT_SCHEMA_VERSION}` at the top"
        raise ConfigError(doc.file, [ConfigProblem("schema_version", 1, msg)])
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ConfigError(doc.file, [ConfigProblem("schema_version", line, f"must be a whole number, got {version!r}")])
    if version > CURRENT_SCHEMA_VERSION:
        raise ConfigError(
            doc.file,
            [
                ConfigProblem(
                    "schema_version",
                    line,
                    f"version {version} is newer than this toolkit understands (up to {CURRENT_SCHEMA_VERSION}); "
                    "upgrade advance-trial",
                )
            ],
        )
    if version < CURRENT_SCHEMA_VERSION and any(v not in MIGRATIONS for v in range(version, CURRENT_SCHEMA_VERSION)):
        raise ConfigError(doc.file, [ConfigProblem("schema_version", line, f"no migration from version {version}")])
    data, notes = migrate(data, lines, version)

    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = [problem_from_pydantic(err, data, lines) for err in exc.errors()]
        raise ConfigError(doc.file, _dedupe(problems)) from None

    cross = rules.check(cfg)
    if cross:
        raise ConfigError(doc.file, [ConfigProblem(format_path(p), line_for(lines, p), msg) for p, msg in cross])
    cfg._source = ConfigSource(path=doc.file, sha256=doc.sha256, schema_version=version, migrations=tuple(notes))
    return cfg


def line_for(lines: dict[Any, int], path: tuple[Any, ...]) -> int | None:
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Keep only the parts of a pydantic location that index the data (drop union tags)."""
    out: list[Any] = []
    node = data
    for part in loc:
        if (
            isinstance(node, dict)
            and part in node
            or isinstance(node, list)
            and isinstance(part, int)
            and 0 <= part < len(node)
        ):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part not in node and out[-1:] != [part]:
            out.append(part)  # a missing key: name it, then stop
            break
    return tuple(out)


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``path``, if any."""
    current: Any = Config
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin is list and args:
                current = args[0]
            elif origin is dict and len(args) == 2:
                current = args[1]
            else:
                return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def problem_from_pydantic(err: Any, data: Any, lines: dict[Any, int]) -> ConfigProblem:
    loc = tuple(err["loc"])
    path = _data_path(loc, data)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        allowed = ", ".join(model.model_fields) if model else "see `advance-trial config schema`"
        msg = f"unknown key {path[-1]!r}; allowed here: {allowed}"
    elif kind == "missing":
        msg = "required key is missing"
    elif kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"{value!r} is not allowed; use one of {expected}"
    elif kind == "string_pattern_mismatch":
        model = _model_at(path[:-1])
        field = model.model_fields.get(path[-1]) if model and path else None
        desc = _pattern_description(field) if field else None
        msg = f"{value!r} is not allowed: " + (desc or f"must match {err['ctx']['pattern']}")
    elif kind == "string_type":
        msg = f'must be text, got {value!r}; write it in quotes: "{value}"'
    else:
        msg = err["msg"][0].lower() + err["msg"][1:]
        if kind not in ("missing",) and not isinstance(value, dict | list):
            msg += f" (got {value!r}{', which is text' if isinstance(value, str) else ''})"
    return ConfigProblem(format_path(path), line_for(lines, path), msg)


def _pattern_description(field: Any) -> str | None:
    if field.description:
        return str(field.description)
    for meta in getattr(field, "metadata", []):
        if getattr(meta, "description", None):
            return str(meta.description)
    return None


def _dedupe(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen = set()
    out = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out
