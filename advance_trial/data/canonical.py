"""The six canonical data files (contract section 2): schemas, reading, validation, atomic writing.

Every analysis reads the canonical files through :func:`read_canonical`, which
returns typed DataFrames or raises :class:`~advance_trial.errors.DataError`
listing every problem with its file, row (as a spreadsheet shows it: the header
is row 1), column and value. Files are written by
:func:`advance_trial.data.tablefile.write_table_atomic`, atomically.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from advance_trial.data.schema import (
    FILE_NAMES,
    REQUIRED_FILES,
    SPECS,
    Column,
    FileSpec,
    is_identifying,
    item_column_owner,
)
from advance_trial.errors import DataError, DataProblem

if TYPE_CHECKING:
    from advance_trial.config import Config
    from advance_trial.config.models import PlannedSession


@dataclass(frozen=True)
class CanonicalData:
    """The six canonical tables, typed, plus the SHA-256 of each file read."""

    screening: pd.DataFrame
    participants: pd.DataFrame
    attendance: pd.DataFrame
    followup: pd.DataFrame
    measures: pd.DataFrame
    partners: pd.DataFrame
    events: pd.DataFrame = field(default_factory=lambda: empty_table(SPECS["events"]))
    sha256: dict[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by canonical name, in contract order."""
        return {name: getattr(self, name) for name in FILE_NAMES}


# --------------------------------------------------------------------------- reading


def read_canonical(cfg: Config, directory: str | Path) -> CanonicalData:
    """Read and validate a trial's canonical data folder.

    Parameters
    ----------
    cfg : Config
        The trial config the data must agree with.
    directory : str or Path
        Folder holding ``screening.csv``, ``participants.csv``, ... Missing optional files read as empty tables.

    Returns
    -------
    CanonicalData

    Raises
    ------
    DataError
        Listing every problem found, across all files.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError([DataProblem(str(directory), None, None, None, "no such data folder")])
    problems: list[DataProblem] = []
    tables: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    for name in FILE_NAMES:
        path = directory / f"{name}.csv"
        if not path.exists():
            if name in REQUIRED_FILES:
                problems.append(DataProblem(f"{name}.csv", None, None, None, f"required file missing in {directory}"))
            tables[name] = empty_table(SPECS[name])
            continue
        raw = path.read_bytes()
        hashes[f"{name}.csv"] = hashlib.sha256(raw).hexdigest()
        df, file_problems = parse_table(cfg, SPECS[name], raw, f"{name}.csv")
        problems.extend(file_problems)
        tables[name] = df
    if not problems:
        problems.extend(cross_checks(cfg, tables))
    if problems:
        raise DataError(problems)
    tables = {name: in_key_order(name, t) for name, t in tables.items()}
    return CanonicalData(**tables, sha256=hashes)


#: Keys whose ranks multiply to this many or more are sorted column by column (``numpy.lexsort``), not as one number.
_ONE_NUMBER = 2**62


def in_key_order(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of their keys (numbers as numbers), whatever order the file has them in: the
    same data give the same outputs to the last bit, however they were imported.

    The order is ``sort_values(keys, kind="stable")``'s: with two or three keys, each key column is ranked
    once (text by its distinct values, numbers as numbers) and the rows sorted by one number made of the
    ranks; a table already in key order is returned as it is.
    """
    if table.empty:
        return table
    keys = list(SPECS[name].key)
    ranks = [_key_rank(table[k]) for k in keys] if len(keys) > 1 else [None]  # one key: pandas is as fast
    if any(r is None for r in ranks):  # one key, a missing key or another type: pandas sorts it
        return table.sort_values(keys, kind="stable")
    combined = np.zeros(len(table), dtype=np.int64)
    span = 1
    for rank, count in (r for r in ranks if r is not None):
        span *= count
        if span >= _ONE_NUMBER:  # too many distinct keys to make one number of: sorted key by key
            order = np.lexsort([r[0] for r in reversed(ranks) if r is not None])
            break
        combined = combined * count + rank
    else:
        order = np.argsort(combined, kind="stable")
    if bool((order == np.arange(len(order))).all()):
        return table
    return table.take(order)


def _key_rank(column: pd.Series) -> tuple[np.ndarray, int] | None:
    """Each cell's rank among the column's distinct values (as ``sort_values`` orders them) and how many
    there are; None for a column with a missing value or of a type other than text or whole numbers."""
    if isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
        codes, distinct = pd.factorize(column.to_numpy(dtype=object))
        if (codes < 0).any() or not all(isinstance(v, str) for v in distinct):
            return None
        rank = np.empty(len(distinct), dtype=np.int64)
        rank[np.argsort(distinct, kind="stable")] = np.arange(len(distinct))
        return rank[codes], len(distinct)
    if pd.api.types.is_integer_dtype(column.dtype):
        if column.isna().any():
            return None
        codes, distinct = pd.factorize(column.to_numpy(dtype=np.int64), sort=True)
        return codes.astype(np.int64), len(distinct)
    return None


def empty_table(spec: FileSpec) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=_DTYPES[c.kind]) for c in spec.columns})


_DTYPES = {"str": "string", "int": "Int64", "float": "float64", "bool": "boolean", "date": "datetime64[s]"}


def parse_table(
    cfg: Config, spec: FileSpec, raw: bytes, file: str, cells: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[DataProblem]]:
    """Parse one canonical CSV's bytes into a typed DataFrame and the problems found.

    ``cells``: the bytes' cells as ``pandas.read_csv(dtype=str)`` tokenises them, when the caller has them
    already (an import that has just written the bytes from those cells:
    :func:`advance_trial.importing.csvtext.read_back`); every check is made as for the bytes.
    """
    import io

    problems: list[DataProblem] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return empty_table(spec), [
            DataProblem(file, None, None, None, f"not UTF-8 (byte {exc.start}); canonical files are UTF-8")
        ]
    if not text.strip():
        return empty_table(spec), [DataProblem(file, None, None, None, "the file is empty (a header row is required)")]
    try:
        # the bytes as they are (without the byte order mark the text lost): the parser reads UTF-8 itself,
        # so the decoded text is not encoded again on the way in
        body = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
        df = cells if cells is not None else pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False,
                                                         na_filter=False, encoding="utf-8")  # fmt: skip
    except (pd.errors.ParserError, ValueError) as exc:
        m = re.search(r"line (\d+)", str(exc))
        return empty_table(spec), [
            DataProblem(file, int(m.group(1)) if m else None, None, None, f"not a valid CSV: {exc}")
        ]

    dup_cols = [c for c in df.columns if re.fullmatch(r".+\.\d+", str(c)) and str(c).rsplit(".", 1)[0] in df.columns]
    for dup in dup_cols:
        problems.append(DataProblem(file, 1, dup.rsplit(".", 1)[0], None, "the column appears twice"))
    names = {c.name for c in spec.columns} | {c.name for c in spec.optional_columns}
    for c in spec.columns:
        if c.name not in df.columns:
            problems.append(DataProblem(file, 1, c.name, None, "required column missing"))
    respondent = "partner" if spec.name == "partners" else "man"
    item_cols: list[str] = []
    for header in df.columns:
        col = str(header)
        if col in names or col in dup_cols:
            continue
        if is_identifying(col):
            problems.append(
                DataProblem(file, 1, col, None, "looks like identifying information, which never enters canonical data")
            )
        elif spec.items and item_column_owner(cfg, col, respondent):
            item_cols.append(col)
        elif spec.covariates:
            continue
        elif spec.items:
            problems.append(
                DataProblem(
                    file, 1, col, None, f"not an item column of any {respondent}'s instrument (<instrument>_<nn>)"
                )
            )
        else:
            problems.append(DataProblem(file, 1, col, None, f"unknown column; {file} has: {', '.join(sorted(names))}"))
    if problems:
        return empty_table(spec), problems

    # strip cells only when some cell has spaces around it (one scan of the text, not one per cell)
    # a cell with spaces or tabs around it: substring tests, far faster than a regex over the file
    edges = (", ", ",\t", " ,", "\t,", "\n ", "\n\t", " \n", "\t\n")
    blank = " " in text or "\t" in text  # one fast scan: most files have no space or tab at all
    if blank:
        stripped = text.rstrip("\n")
        spaced = stripped[:1] in (" ", "\t") or stripped[-1:] in (" ", "\t") or any(e in text for e in edges)
    else:
        spaced = False
    columns: dict[str, pd.Series] = {}  # made into the frame at once (a column added at a time costs more)
    present_optional = [c for c in spec.optional_columns if c.name in df.columns]
    codes: dict[str, np.ndarray] = {}  # each column's cells numbered by their text, for the duplicate keys
    for column in (*spec.columns, *present_optional):
        columns[column.name] = _convert(cfg, df[column.name], column, file, problems, spaced, codes)
    for name in item_cols:
        ins = cfg.instruments[name.rpartition("_")[0]]
        item = Column(name, "int", nullable=True)
        values = _convert(cfg, df[name], item, file, problems, spaced)
        scores = values.to_numpy(dtype="float64", na_value=np.nan)  # a missing score is within any range
        for i in np.flatnonzero((scores < ins.min) | (scores > ins.max)).tolist():
            problems.append(
                DataProblem(file, i + 2, name, str(df[name].iat[i]), f"outside the item range {ins.min}..{ins.max}")
            )
        columns[name] = values
    for col in df.columns:
        if col not in columns and spec.covariates:
            columns[col] = df[col].replace("", pd.NA).astype("string")
    out = pd.DataFrame(columns, index=df.index)
    problems.extend(_duplicate_keys(out, df, spec, file, codes))
    return out, problems


def _convert(
    cfg: Config, s: pd.Series, col: Column, file: str, problems: list[DataProblem], spaced: bool = True,
    numbered: dict[str, np.ndarray] | None = None,
) -> pd.Series:  # fmt: skip
    """One column's text to its type, the problems reported by row.

    Every step is cell by cell, so it runs once per distinct text (a column of 750,000 item scores
    holds a handful) and the results are spread back over the rows. ``numbered`` gets the column's cells
    numbered by their text (``pandas.factorize``'s codes), which the duplicate keys are found by.
    """
    codes, uniques = pd.factorize(s.to_numpy(dtype=object))  # as objects: twice as fast as the string array
    if numbered is not None:
        numbered[col.name] = codes
    text = pd.Series(uniques, dtype=s.dtype)
    if len(uniques) * 2 > len(s):  # mostly distinct (identifiers): no cheaper than cell by cell
        codes, text = np.arange(len(s)), s.reset_index(drop=True)
    typed, flags = _convert_values(cfg, text.str.strip() if spaced else text, col)

    def rows(mask: np.ndarray) -> np.ndarray:
        return np.asarray(mask[codes], dtype=bool)

    for mask, allowed in flags:
        _report(problems, file, col, s, rows(mask), allowed)
    return pd.Series(typed.array.take(codes), index=s.index)


def _convert_values(cfg: Config, stripped: pd.Series, col: Column) -> tuple[pd.Series, list[tuple[np.ndarray, str]]]:
    """Typed values of the (distinct) texts ``stripped``, and the masks of those that break a rule with
    what the rule allows, in the order the problems are reported."""
    empty = stripped == ""
    bad = pd.Series(False, index=stripped.index)
    flags: list[tuple[pd.Series, str]] = []
    typed: pd.Series
    if col.kind == "str":
        typed = stripped.mask(empty).astype("string")
    elif col.kind in ("int", "float"):
        typed, bad = parse_numbers(stripped, empty, col.kind)
        flags.append((bad, "a whole number" if col.kind == "int" else "a number"))
        if col.minimum is not None:
            low = typed.notna() & (typed < col.minimum)
            flags.append((low, f"at least {col.minimum:g}"))
    elif col.kind == "bool":
        typed = stripped.map({"true": True, "false": False}).astype("boolean")
        bad = typed.isna() & ~empty
        flags.append((bad, "true or false"))
    elif col.kind == "date":
        iso = stripped.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
        parsed = pd.to_datetime(stripped.where(iso & ~empty), format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & ~empty
        typed = parsed.astype("datetime64[s]")
        flags.append((bad, "an ISO date (yyyy-mm-dd) that exists"))
    else:  # pragma: no cover - specs are fixed above
        raise ValueError(col.kind)
    if not col.nullable:
        flags.append((empty, "a value (this column may not be empty)"))
    if col.choices is not None:
        allowed = col.choices(cfg)
        unknown = ~empty & ~bad & ~stripped.isin(allowed)
        flags.append((unknown, f"one of {', '.join(allowed) if allowed else '(none configured)'}"))
    return typed, [(m.to_numpy(dtype=bool, na_value=False), allowed) for m, allowed in flags]


#: Up to this many texts (a column's distinct texts), whole numbers written plainly are read text by text:
#: pandas' conversion costs a millisecond a column whatever its length, and a file of item scores has dozens.
FEW = 64
_PLAIN_WHOLE = re.compile(r"-?[0-9]{1,15}")  # exactly representable; anything else is read by pandas


def parse_numbers(s: pd.Series, empty: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """Text to ``Int64`` (kind ``int``) or ``float64``; returns the typed values and the unparseable cells."""
    if kind == "int" and len(s) <= FEW:
        texts = s.tolist()
        if all(type(t) is str and (t == "" or _PLAIN_WHOLE.fullmatch(t)) for t in texts):
            whole = pd.array([int(t) if t else None for t in texts], dtype="Int64")
            return pd.Series(whole, index=s.index), pd.Series(np.zeros(len(texts), dtype=bool), index=s.index)
    num = pd.to_numeric(s.mask(empty), errors="coerce")
    bad = num.isna() & ~empty
    if kind == "int":
        bad |= num.notna() & (num != np.round(num))
        return num.where(~bad).round().astype("Int64"), bad
    return num.where(~bad).astype("float64"), bad


def _report(
    problems: list[DataProblem], file: str, col: Column, raw: pd.Series, mask: np.ndarray, allowed: str
) -> None:
    for i in np.flatnonzero(mask).tolist():
        problems.append(DataProblem(file, int(i) + 2, col.name, str(raw.iat[i]), f"must be {allowed}"))


def _duplicate_keys(out: pd.DataFrame, raw: pd.DataFrame, spec: FileSpec, file: str,
                    numbered: dict[str, np.ndarray] | None = None) -> list[DataProblem]:  # fmt: skip
    """A row whose key (its key columns' text) an earlier row has. ``numbered``: the key columns' cells
    numbered by their text, when the caller has them (:func:`_convert`); the keys are then told apart by
    those numbers, without hashing the text again."""
    keys = list(spec.key)
    if numbered is not None and all(k in numbered for k in keys):
        combined = numbered[keys[0]].astype(np.int64)
        for k in keys[1:]:  # each pair of numbers numbered again: no product of the counts can overflow
            codes = numbered[k].astype(np.int64) + 1  # 0: a missing cell (-1), as duplicated() pairs them
            combined = pd.factorize(combined * (int(codes.max(initial=0)) + 1) + codes)[0].astype(np.int64)
        dup = pd.Series(combined).duplicated(keep="first").to_numpy()
    else:
        dup = raw.duplicated(subset=keys, keep="first").to_numpy()
    if not dup.any():
        return []
    first = raw.reset_index(drop=True).reset_index().groupby(keys, sort=False)["index"].transform("first").to_numpy()
    problems = []
    for i in np.flatnonzero(dup).tolist():
        key = "/".join(str(raw[k].iat[i]) for k in keys)
        message = f"duplicate key (first on row {int(first[i]) + 2})"
        problems.append(DataProblem(file, int(i) + 2, "/".join(keys), key, message))
    return problems


# --------------------------------------------------------------------------- cross-file checks


def _rows(df: pd.DataFrame, mask: pd.Series) -> Iterable[int]:
    return (int(i) for i in np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool)))


class _Men:
    """participants.csv's ids hashed once, and every other file's ``participant_id`` matched against them
    once: the cross-file checks' memberships and lookups (site, arm, randomisation date) are then array
    indexing, not a set or a map of text per check.

    A man is numbered by his id's first appearance in participants.csv (``code``); ``rows(name)`` gives each
    row of a file the number of its man, -1 for an empty cell or an id that participants.csv does not have.
    A lookup of a participants.csv column gives each id the value of its first row, as a map of the
    de-duplicated ids would.
    """

    def __init__(self, t: dict[str, pd.DataFrame]) -> None:
        self.tables = t
        part = t["participants"]
        self.code, ids = pd.factorize(part["participant_id"].to_numpy(dtype=object))
        self.ids = pd.Index(ids, dtype=object)
        found, first = np.unique(self.code, return_index=True)
        self.first: np.ndarray = first[found >= 0]  # each man's first row (an empty id is no man)
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _match(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._rows:
            own, texts = pd.factorize(self.tables[name]["participant_id"].to_numpy(dtype=object))
            found = self.ids.get_indexer(pd.Index(texts, dtype=object)) if len(texts) else np.zeros(0, np.intp)
            self._rows[name] = (np.append(found, -1)[own], own)
        return self._rows[name]

    def rows(self, name: str) -> np.ndarray:
        """The man (his code) of each row of file ``name``; -1 when its id is empty or not in participants.csv."""
        return self._match(name)[0]

    def given(self, name: str) -> np.ndarray:
        """Whether each row of file ``name`` names a man (its ``participant_id`` is not empty)."""
        return self._match(name)[1] >= 0

    def repeated(self, name: str) -> np.ndarray:
        """Whether each row of file ``name`` names a man an earlier row names (``duplicated(keep="first")``)."""
        own = self._match(name)[1]
        return np.asarray(pd.Series(own).duplicated(keep="first").to_numpy(dtype=bool) & (own >= 0))

    def column(self, name: str, column: str) -> pd.api.extensions.ExtensionArray | np.ndarray:
        """participants.csv's ``column`` for each row of file ``name`` (missing where the man is not known)."""
        values = self.tables["participants"][column].array
        at = self.rows(name)
        taken: pd.api.extensions.ExtensionArray = values.take(
            np.where(at >= 0, self.first[np.maximum(at, 0)] if len(self.first) else -1, -1), allow_fill=True
        )
        return taken


def _day(when: object) -> str:
    """A date as ``yyyy-mm-dd`` (a Timestamp, a numpy datetime or a date)."""
    return str(pd.Timestamp(str(when)).date())


def _date_checks(cfg: Config, t: dict[str, pd.DataFrame], today: dt.date | None = None,
                 men: _Men | None = None) -> list[DataProblem]:  # fmt: skip
    """Dates that cannot be: after the data cut-off or in the future (sessions, follow-ups, screenings,
    randomisations, events); a session, a completed follow-up or a man's adverse event before his
    randomisation; a screening after it (a file read month-first would show these)."""
    problems: list[DataProblem] = []
    men = men or _Men(t)
    now = pd.Timestamp(today or dt.datetime.now(dt.UTC).date())
    cutoff = pd.Timestamp(cfg.trial.data_cutoff) if cfg.trial.data_cutoff is not None else None
    checks = (("attendance", "session_on", "a session"), ("followup", "completed_on", "a completed follow-up"),
              ("screening", "screened_on", "a screening decision"),
              ("participants", "randomised_on", "a randomisation"),
              ("events", "event_on", "an adverse event or incident"))  # fmt: skip
    for name, col, what in checks:
        df = t.get(name, pd.DataFrame())
        if not len(df) or col not in df.columns:
            continue
        when = pd.to_datetime(df[col]).to_numpy(dtype="datetime64[s]")
        late = pd.Series((when > now) if cutoff is None else (when > min(now, cutoff)))
        for i in _rows(df, late):
            future = cutoff is None or when[i] > now
            limit = "in the future" if future or cutoff is None else f"after the data cut-off {cutoff.date()}"
            problems.append(DataProblem(f"{name}.csv", i + 2, col, _day(when[i]), f"{what} {limit}"))
        if name == "participants" or "participant_id" not in df.columns:
            continue  # a partner's incident has no randomisation of its own
        rand = pd.to_datetime(pd.Series(men.column(name, "randomised_on"))).to_numpy(dtype="datetime64[s]")
        wrong = pd.Series((when > rand) if name == "screening" else (when < rand))
        for i in _rows(df, wrong):
            side = "after" if name == "screening" else "before"
            problems.append(DataProblem(f"{name}.csv", i + 2, col, _day(when[i]),
                                        f"{what} {side} the man's randomisation on {_day(rand[i])}"))  # fmt: skip
    return problems


def cross_checks(cfg: Config, t: dict[str, pd.DataFrame]) -> list[DataProblem]:
    problems: list[DataProblem] = []
    part = t["participants"]
    men = _Men(t)  # the ids hashed once, each file's matched once: no set or map of text per check

    def unknown_participants(name: str) -> None:
        df = t[name]
        for i in np.flatnonzero(men.given(name) & (men.rows(name) < 0)).tolist():
            problems.append(
                DataProblem(
                    f"{name}.csv", i + 2, "participant_id", str(df["participant_id"].iat[i]), "not in participants.csv"
                )
            )

    scr = t["screening"]
    if len(scr):
        unknown_participants("screening")
        inconsistent = scr["participant_id"].notna() & ~(scr["eligible"].fillna(False) & scr["consented"].fillna(False))
        for i in _rows(scr, inconsistent):
            problems.append(
                DataProblem(
                    "screening.csv",
                    i + 2,
                    "participant_id",
                    str(scr["participant_id"].iat[i]),
                    "a randomised man must be eligible and have consented",
                )
            )
        consent_without_eligibility = ~scr["eligible"].fillna(False) & scr["consented"].fillna(False)
        for i in _rows(scr, consent_without_eligibility):
            problems.append(
                DataProblem("screening.csv", i + 2, "consented", "true", "consent recorded for an ineligible man")
            )
        at = men.rows("screening")
        screened = np.zeros(len(men.ids) + 1, dtype=bool)  # the last: an empty id, never screened
        screened[at[at >= 0]] = True
        for i in np.flatnonzero(~screened[men.code]).tolist():
            problems.append(
                DataProblem(
                    "participants.csv",
                    i + 2,
                    "participant_id",
                    str(part["participant_id"].iat[i]),
                    "not in screening.csv (every randomised man was screened)",
                )
            )
        for i in np.flatnonzero(men.repeated("screening")).tolist():
            problems.append(
                DataProblem(
                    "screening.csv",
                    i + 2,
                    "participant_id",
                    str(scr["participant_id"].iat[i]),
                    "the same man randomised from two screenings",
                )
            )
        # each man's site at his first screening, beside his site in participants.csv
        hit = np.flatnonzero(at >= 0)
        known, first = np.unique(at[hit], return_index=True)
        site_at = np.full(len(men.ids) + 1, -1, dtype=np.intp)
        site_at[known] = hit[first]
        mismatch = pd.Series(scr["site"].array.take(site_at[men.code], allow_fill=True), index=part.index)
        for i in _rows(part, mismatch.notna() & (mismatch != part["site"])):
            problems.append(
                DataProblem(
                    "participants.csv",
                    i + 2,
                    "site",
                    str(part["site"].iat[i]),
                    f"screening.csv has site {mismatch.iat[i]!r} for this man",
                )
            )

    for name in ("attendance", "followup", "measures", "partners", "events"):
        if name in t and len(t[name]):
            unknown_participants(name)
    if "events" in t and len(t["events"]):
        problems.extend(_event_checks(cfg, t))
    problems.extend(_baseline_checks(cfg, part))
    problems.extend(_attendance_checks(cfg, t, men))
    problems.extend(_date_checks(cfg, t, men=men))
    fu = t["followup"]
    missing_date = (fu["status"] == "completed") & fu["completed_on"].isna()
    for i in _rows(fu, missing_date):
        problems.append(DataProblem("followup.csv", i + 2, "completed_on", "", "a completed follow-up needs its date"))
    date_without = (fu["status"] != "completed") & fu["completed_on"].notna()
    for i in _rows(fu, date_without):
        problems.append(
            DataProblem(
                "followup.csv",
                i + 2,
                "completed_on",
                _day(fu["completed_on"].iat[i]),
                f"a completion date with status {fu['status'].iat[i]!r}",
            )
        )
    pa = t["partners"]
    status_without_consent = ~pa["consented"].fillna(False) & pa["followup_status"].notna()
    for i in _rows(pa, status_without_consent):
        problems.append(
            DataProblem(
                "partners.csv",
                i + 2,
                "followup_status",
                str(pa["followup_status"].iat[i]),
                "a follow-up status for a partner who did not consent",
            )
        )
    return problems


def _attendance_checks(cfg: Config, t: dict[str, pd.DataFrame], men: _Men | None = None) -> list[DataProblem]:
    att = t["attendance"]
    if not len(att):
        return []
    problems: list[DataProblem] = []
    plan = cfg.session_plan()
    counts: dict[str, int] = {}
    for p in plan:
        counts[p.type] = max(counts.get(p.type, 0), p.number)
    length = _session_lengths(plan, att)
    hours = att["hours"].to_numpy(dtype=float, na_value=np.nan)
    unplanned = np.isnan(length)
    over = ~unplanned & ~np.isnan(hours) & (hours > length + 1e-9)
    idle = (att["attended"] == False).fillna(False).to_numpy(dtype=bool) & ~np.isnan(hours) & (hours > 0)  # noqa: E712
    arm = pd.Series((men or _Men(t)).column("attendance", "arm"), index=att.index)
    offered_arm = cfg.schedule.arm if cfg.schedule else None
    wrong_arm = (arm.notna() & (arm != offered_arm)).to_numpy(dtype=bool)
    for i in np.flatnonzero(unplanned | over | idle | wrong_arm).tolist():
        if unplanned[i]:
            ptype, num = str(att["session_type"].iat[i]), att["session_number"].iat[i]
            problems.append(
                DataProblem(
                    "attendance.csv",
                    i + 2,
                    "session_number",
                    str(num),
                    f"the schedule has {counts.get(ptype, 0)} {ptype} sessions",
                )  # fmt: skip
            )
            continue
        if over[i]:
            problems.append(
                DataProblem(
                    "attendance.csv",
                    i + 2,
                    "hours",
                    repr(float(hours[i])),
                    f"more than the session's {length[i]:g} hours",
                )  # fmt: skip
            )
        if idle[i]:
            problems.append(
                DataProblem(
                    "attendance.csv", i + 2, "hours", repr(float(hours[i])), "hours recorded for a session not attended"
                )  # fmt: skip
            )
        if wrong_arm[i]:
            problems.append(
                DataProblem(
                    "attendance.csv",
                    i + 2,
                    "participant_id",
                    str(att["participant_id"].iat[i]),
                    f"arm {arm.iat[i]!r} is not offered sessions (schedule.arm is {offered_arm!r})",
                )  # fmt: skip
            )
    return problems


def _session_lengths(plan: list[PlannedSession], att: pd.DataFrame) -> np.ndarray:
    """The planned hours of each attendance row's session (by its type and number), NaN for a session the
    schedule does not have: a look-up among each type's few numbers, not a merge of every row's pair of keys."""
    length = np.full(len(att), np.nan)
    types, names = pd.factorize(att["session_type"].to_numpy(dtype=object))
    number = att["session_number"].to_numpy(dtype=np.int64, na_value=0)  # 0: no session is numbered 0
    for k, name in enumerate(names):
        planned = sorted((p.number, p.hours) for p in plan if p.type == name)
        if not planned:
            continue
        rows = np.flatnonzero(types == k)
        numbers = np.array([n for n, _ in planned], dtype=np.int64)
        at = np.minimum(np.searchsorted(numbers, number[rows]), len(numbers) - 1)
        hit = numbers[at] == number[rows]
        length[rows[hit]] = np.array([h for _, h in planned], dtype=float)[at[hit]]
    return length


def _event_checks(cfg: Config, t: dict[str, pd.DataFrame]) -> list[DataProblem]:
    """Each event is about one man or one partner (not both, not neither), as its category says."""
    ev = t["events"]
    problems: list[DataProblem] = []
    about = {c.id: c.about for c in cfg.events.categories} if cfg.events else {}
    partners = set(t["partners"]["partner_id"].dropna()) if "partners" in t else set()
    man = ev["participant_id"].notna().to_numpy(dtype=bool)
    partner = ev["partner_id"].notna().to_numpy(dtype=bool)
    for i in range(len(ev)):
        cat = str(ev["category"].iat[i])
        if man[i] == partner[i]:
            problems.append(DataProblem("events.csv", i + 2, "partner_id", "" if not partner[i] else
                                        str(ev["partner_id"].iat[i]),
                                        "an event names either participant_id or partner_id, one of them"))  # fmt: skip
        elif partner[i] and ev["partner_id"].iat[i] not in partners:
            problems.append(DataProblem("events.csv", i + 2, "partner_id", str(ev["partner_id"].iat[i]),
                                        "not in partners.csv"))  # fmt: skip
        elif about.get(cat) == "partner" and man[i]:
            problems.append(DataProblem("events.csv", i + 2, "category", cat,
                                        "a partner safety category: the event names the partner_id"))  # fmt: skip
        elif about.get(cat) == "man" and partner[i]:
            problems.append(DataProblem("events.csv", i + 2, "category", cat,
                                        "a category about men: the event names the participant_id"))  # fmt: skip
    return problems


def _baseline_checks(cfg: Config, part: pd.DataFrame) -> list[DataProblem]:
    """Table 1's participants.csv variables: a number where continuous, one of the levels where categorical."""
    from advance_trial.data.schema import baseline_columns

    problems: list[DataProblem] = []
    for v in baseline_columns(cfg):
        if v.id not in part.columns:
            continue
        col = part[v.id].astype("string")
        given = col.notna().to_numpy(dtype=bool)
        if v.type == "continuous":
            bad = given & pd.to_numeric(col, errors="coerce").isna().to_numpy(dtype=bool)
            why = "not a number"
        else:
            allowed = list(v.levels) if v.type == "categorical" else ["true", "false"]
            bad = given & ~col.isin(allowed).fillna(False).to_numpy(dtype=bool)
            why = f"not one of the levels {', '.join(allowed)}"
        for i in np.flatnonzero(bad).tolist():
            problems.append(DataProblem("participants.csv", i + 2, v.id, str(col.iat[i]), why))
    return problems
