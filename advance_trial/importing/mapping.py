"""The config's ``import`` rules for one site and kind, and the mapping of a site's header.

Rules apply in config order; a rule with no ``sites`` (or no ``kinds``) applies to every site (or
kind). Later rules override earlier ones. Header names, ``values`` keys and ``ignore`` entries
match without regard to case or surrounding spaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.data.schema import SPECS, allowed_columns, is_identifying, item_column_owner
from advance_trial.errors import DataError, DataProblem
from advance_trial.importing.readers import RawTable

BOOLEAN_WORDS = {"yes": "true", "y": "true", "true": "true", "1": "true", "no": "false", "n": "false",
                 "false": "false", "0": "false"}  # fmt: skip


def fold(text: str) -> str:
    """The form names and values are matched in: case-folded, inner spaces collapsed."""
    return " ".join(str(text).split()).casefold()


def lookup(s: pd.Series, table: dict[str, str]) -> pd.Series:
    """Each value's entry in ``table`` (keys folded), or missing; one dictionary look-up per distinct value."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = np.array([table.get(fold(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=s.index, dtype=object)


@dataclass(frozen=True)
class SiteMapping:
    """The merged import rules for one site and kind."""

    date_format: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # folded site header -> canonical column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # canonical column -> folded value -> text
    ignore: frozenset[str] = frozenset()


def _canonical_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def mapping_for(cfg: Config, site: str, kind: str) -> SiteMapping:
    """Merge the rules that apply to ``site`` and ``kind`` (their targets were checked with the config)."""
    date_format: str | None = None
    columns: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}
    ignore: set[str] = set()
    for rule in cfg.import_:
        if (rule.sites and site not in rule.sites) or (rule.kinds and kind not in rule.kinds):
            continue
        date_format = rule.date_format or date_format
        columns.update({fold(header): target for header, target in rule.columns.items()})
        for column, recode in rule.values.items():
            values.setdefault(column, {}).update({fold(k): _canonical_text(v) for k, v in recode.items()})
        ignore.update(fold(c) for c in rule.ignore)
    return SiteMapping(date_format, columns, values, frozenset(ignore))


def _is_item(cfg: Config, kind: str, column: str) -> bool:
    if not SPECS[kind].items:
        return False
    return item_column_owner(cfg, column, "partner" if kind == "partners" else "man") is not None


@dataclass(frozen=True)
class MappedHeader:
    """Which position of the site file feeds which canonical column, and what the site called it."""

    positions: dict[str, int]  # canonical column -> position
    shown: dict[str, str]  # canonical column -> how to name it in messages
    ignored: tuple[str, ...]


def header_fits(cfg: Config, kind: str, mapping: SiteMapping) -> Callable[[list[str]], bool]:
    """A test of a header row: does it name every required column (directly or through the mapping)?
    It picks the sheet of a workbook that holds the data among sheets of instructions or lists."""
    allowed = {fold(a): a for a in allowed_columns(cfg, kind)}
    required = {c.name for c in SPECS[kind].columns} - ({"site"} if "site" in allowed.values() else set())

    def fits(header: list[str]) -> bool:
        named = {mapping.columns.get(fold(h)) or allowed.get(fold(h)) for h in header}
        return required <= named

    return fits


def map_header(cfg: Config, kind: str, raw: RawTable, mapping: SiteMapping) -> MappedHeader:
    """Map every header to a canonical column, an ignored one, or a problem; all problems at once."""
    allowed = allowed_columns(cfg, kind)
    by_fold = {fold(a): a for a in allowed}
    positions: dict[str, int] = {}
    shown: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[DataProblem] = []
    for pos, header in enumerate(raw.header):
        key = fold(header)
        if key in mapping.ignore:
            ignored.append(header)
            continue
        target = mapping.columns.get(key) or by_fold.get(key)
        if target is None and _is_item(cfg, kind, header.strip().lower()):
            target = header.strip().lower()
        if target is None:
            problems.append(_unknown(raw.file, header, kind, allowed))
            continue
        if target in positions:
            first = raw.header[positions[target]]
            problems.append(DataProblem(raw.file, 1, header, None, f"maps onto {target!r}, as column {first!r} does"))
            continue
        positions[target] = pos
        shown[target] = header if fold(header) == fold(target) else f"{header} ({target})"
    spec = SPECS[kind]
    implied = {"site"} if "site" in allowed else set()
    for col in spec.columns:
        if col.name not in positions and col.name not in implied:
            problems.append(DataProblem(raw.file, 1, col.name, None, _missing(col.name, mapping)))
    if problems:
        raise DataError(problems)
    return MappedHeader(positions, shown, tuple(ignored))


def _unknown(file: str, header: str, kind: str, allowed: list[str]) -> DataProblem:
    how = f"list it under `ignore` in the config's import rule for this site, e.g. ignore: [{header!r}]"
    if is_identifying(header):
        return DataProblem(
            file, 1, header, None,
            f"looks like identifying information, which never enters the canonical data; delete the column, or {how}",
        )  # fmt: skip
    return DataProblem(
        file, 1, header, None,
        f"not a column of {kind}.csv ({', '.join(allowed)}); "
        f"map it with `columns` in the config's import rule, or {how}",
    )  # fmt: skip


def _missing(name: str, mapping: SiteMapping) -> str:
    return f"required column missing; name it {name!r} or map the site's header onto it with `columns`"
