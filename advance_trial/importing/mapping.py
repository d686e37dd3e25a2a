"""The config's ``import`` rules for one site and kind, and the mapping of a site's header.

Rules apply in config order; a rule with no ``sites`` (or no ``kinds``) applies to every site (or
kind). Later rules override earlier ones. Header names, ``values`` keys and ``ignore`` entries
match without regard to case or surrounding spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence, Sized
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


def with_options(mapping: SiteMapping, columns: Mapping[str, str], ignore: Sequence[str]) -> SiteMapping:
    """``mapping`` with the command line's ``--map HEADER=column`` and ``--ignore HEADER`` on top (they win)."""
    if not columns and not ignore:
        return mapping
    mapped = {**mapping.columns, **{fold(h): c for h, c in columns.items()}}
    dropped = (mapping.ignore - {fold(h) for h in columns}) | {fold(h) for h in ignore}
    return SiteMapping(mapping.date_format, mapped, mapping.values, frozenset(dropped))


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


def header_likeness(cfg: Config, kind: str, mapping: SiteMapping) -> Callable[[list[str]], int]:
    """How many cells of a row name a column of ``kind`` (directly, through the mapping, or nearly:
    ``Participant ID`` for ``participant_id``): the row most like a header when none fits."""
    allowed = {_words(a) for a in allowed_columns(cfg, kind)} | {_words(h) for h in mapping.columns}
    ignored = {_words(h) for h in mapping.ignore}

    def likeness(header: list[str]) -> int:
        return sum(1 for h in header if h and (_words(h) in allowed or _words(h) in ignored))

    return likeness


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", str(text).casefold()))


def map_header(cfg: Config, kind: str, raw: RawTable, mapping: SiteMapping, site: str | None = None, *,
               redcap: bool = False) -> MappedHeader:  # fmt: skip
    """Map every header to a canonical column, an ignored one, or a problem; all problems at once."""
    allowed = allowed_columns(cfg, kind)
    by_fold = {fold(a): a for a in allowed}
    positions: dict[str, int] = {}
    shown: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[DataProblem] = []
    row = raw.header_row
    unknown: list[str] = []
    for pos, header in enumerate(raw.header):
        key = fold(header)
        if key in mapping.ignore:
            ignored.append(header)
            continue
        target = mapping.columns.get(key) or by_fold.get(key)
        if target is None and _is_item(cfg, kind, header.strip().lower()):
            target = header.strip().lower()
        if target is None:
            unknown.append(header)
            continue
        if target in positions:
            first = raw.header[positions[target]]
            problems.append(DataProblem(raw.file, row, header, None, f"maps onto {target!r}, as column {first!r} does"))
            continue
        positions[target] = pos
        shown[target] = header if fold(header) == fold(target) else f"{header} ({target})"
    spec = SPECS[kind]
    implied = {"site"} if "site" in allowed else set()
    missing = [c.name for c in spec.columns if c.name not in positions and c.name not in implied]
    if redcap and missing:  # a REDCap export's columns are the dictionary's fields: the config places them
        problems += [
            DataProblem(
                raw.file,
                None,
                name,
                None,
                f"{kind}.csv needs {name!r}, and no field of the REDCap "
                "project gives it: add the field to the project, or map one onto it in the "
                f"config's import rule for {kind} (columns: {{FIELD: {name}}})",
            )
            for name in missing
        ]
        raise DataError(problems)
    if missing or unknown:
        free = [a for a in allowed if a not in positions and a not in implied]
        guess = guess_columns(unknown, [*missing, *(c for c in free if c not in missing)])
        problems.insert(0, explain_header(raw, kind, site, unknown, missing, guess))
        problems += [_unknown(raw.file, row, h, kind, allowed, guess.get(h)) for h in unknown]
        by_target = {c: h for h, c in guess.items()}
        problems += [DataProblem(raw.file, row, name, None, _missing(name, by_target.get(name))) for name in missing]
    if problems:
        raise DataError(problems)
    return MappedHeader(positions, shown, tuple(ignored))


def _unknown(file: str, row: int, header: str, kind: str, allowed: list[str], guess: str | None) -> DataProblem:
    if is_identifying(header):
        return DataProblem(
            file, row, header, None,
            "looks like identifying information, which never enters the canonical data; delete the column, or drop "
            f'it with --ignore "{header}"',
        )  # fmt: skip
    how = f'--map "{header}={guess}"' if guess else f'--map "{header}=COLUMN", or --ignore "{header}"'
    return DataProblem(file, row, header, None, f"not a column of {kind}.csv ({', '.join(allowed)}); {how}")


def _missing(name: str, header: str | None) -> str:
    how = f'--map "{header}={name}"' if header else f'name it {name!r}, or --map "HEADER={name}"'
    return f"required column missing; {how}"


#: Words a site's header may use for a word of a canonical column's name.
_SYNONYMS = {"date": "on", "no": "number", "num": "number", "nr": "number", "hrs": "hours", "id": "id",
             "code": "id", "present": "attended", "type": "type"}  # fmt: skip


def _likeness(header: str, column: str) -> int:
    """How much a site's header looks like a canonical column: a shared word 2, a word one begins the other
    (``screened``, ``screen``) or a synonym (``Date`` for ``_on``) 1."""
    words = re.findall(r"[a-z0-9]+", header.casefold())
    parts = column.split("_")
    score = 0
    for w in words:
        if w in parts:
            score += 2
        elif _SYNONYMS.get(w) in parts or any(len(p) >= 4 and len(w) >= 4 and (w.startswith(p) or p.startswith(w))
                                               for p in parts):  # fmt: skip
            score += 1
    return score


def guess_columns(headers: Sequence[str], columns: Sequence[str]) -> dict[str, str]:
    """Each header's likeliest canonical column (each column once; a guess only when a word is shared)."""
    pairs = sorted(((_likeness(h, c), -i, -j, h, c) for i, h in enumerate(headers) for j, c in enumerate(columns)),
                   reverse=True)  # fmt: skip
    guess: dict[str, str] = {}
    for score, _, _, h, c in pairs:
        if score >= 2 and h not in guess and c not in guess.values() and not is_identifying(h):
            guess[h] = c
    return guess


def explain_header(raw: RawTable, kind: str, site: str | None, unknown: Sequence[str], missing: Sequence[str],
                   guessed: Mapping[str, str]) -> DataProblem:  # fmt: skip
    """One problem that says why the header does not fit and what to type: the row taken for the header,
    which of its columns need mapping (with a guess at each) or dropping, as ``--map``/``--ignore``
    options and as the config rule that keeps them."""
    guess = {h: guessed[h] for h in unknown if h in guessed}  # in the file's order
    drop = [h for h in unknown if h not in guess]
    still = [c for c in missing if c not in guess.values()]
    options = [f'--map "{h}={c}"' for h, c in guess.items()] + [f'--ignore "{h}"' for h in drop]
    lines = [
        f"row {raw.header_row} looks like the header of this {kind} file"
        + (" (the rows above it are not)" if raw.header_row > 1 else "")
    ]
    if missing:
        lines.append(f"it does not name the required column{'s' if len(missing) > 1 else ''} "
                     f"{', '.join(missing)}")  # fmt: skip
    if guess:
        lines.append(_columns(guess) + " " + ", ".join(f"{h!r} (likely {c})" for h, c in guess.items())
                     + (" needs" if len(guess) == 1 else " need") + " mapping")  # fmt: skip
    if drop:
        lines.append(_columns(drop) + " " + ", ".join(map(repr, drop)) + (" is not a column" if len(drop) == 1 else
                     " are not columns") + f" of {kind}.csv: map it onto one, or ignore it")  # fmt: skip
    if still:
        lines.append("no column was found for " + ", ".join(still) + '; add --map "HEADER=COLUMN" for each')
    if options:
        lines.append("add to the command: " + " ".join(options) + " (check each guess first; --dry-run shows "
                     "what the import would do), and --save-rule to keep them in the config")  # fmt: skip
        rule = {"sites": [site] if site else [], "kinds": [kind], "columns": guess, "ignore": drop}
        lines.append("the config's import rule that keeps them: " + _rule_text(rule))
    return DataProblem(raw.file, raw.header_row, None, None, "; ".join(lines))


def _columns(what: Sized) -> str:
    return "its column" if len(what) == 1 else "its columns"


def _rule_text(rule: Mapping[str, object]) -> str:
    import yaml

    kept = {k: v for k, v in rule.items() if v}
    return "- " + yaml.safe_dump(kept, default_flow_style=True, sort_keys=False, width=10**6).strip()
