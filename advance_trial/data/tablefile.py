"""Writing tables: the canonical CSV dialect, atomically.

One writer for every file the toolkit produces: UTF-8, comma, a header row,
``\\n`` line ends, ISO dates, ``true``/``false``, unrounded numbers (``repr``
of the float, which round-trips exactly), empty cell = missing. Files are
written to a temporary file in the same folder and renamed into place, so a
crash never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.data.durable import file_mode


def format_for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """Render a typed table in the canonical dialect: ISO dates, true/false, unrounded numbers, empty = missing.

    Every cell of the result is ``str``. Numbers and dates are formatted once per distinct value (a float
    by its bits, so that ``0.0`` and ``-0.0`` stay apart) and spread back over the rows: a per-man table
    repeats its values.
    """
    return pd.DataFrame({j: _column_text(df.iloc[:, j]) for j in range(df.shape[1])}, index=df.index).set_axis(
        df.columns, axis=1
    )


def _column_text(s: pd.Series) -> np.ndarray:
    """One column of :func:`format_for_csv`, as an object array of ``str``."""
    if pd.api.types.is_bool_dtype(s.dtype):
        words = np.where(s.fillna(False).to_numpy(dtype=bool), "true", "false")
        return np.asarray(np.where(s.isna().to_numpy(), "", words), dtype=object)
    small = len(s) < SMALL  # a display table's column: each value formatted on its own, as distinct ones are
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if small:
            return _iso_dates(s).to_numpy(dtype=object)
        return _by_distinct(*pd.factorize(s), _iso_dates)
    if pd.api.types.is_float_dtype(s.dtype):  # str of a float64 is its shortest round-trip repr
        if small or s.dtype != np.float64:  # no bits to hash by (Float64, float32): each value on its own
            return _float_column_text(s).to_numpy(dtype=object)
        codes, bits = pd.factorize(s.to_numpy().view(np.int64))
        return _by_distinct(codes, np.asarray(bits).view(np.float64), _float_column_text)
    if pd.api.types.is_integer_dtype(s.dtype):
        if small:
            return _integer_text(s).to_numpy(dtype=object)
        return _by_distinct(*pd.factorize(s), _integer_text)
    if isinstance(s.dtype, pd.StringDtype):
        return _one_line_end(s.fillna("").astype(object)).to_numpy(dtype=object)
    # Python objects: each cell on its own (1, 1.0 and True are equal as keys but written apart)
    text = [v if type(v) is str else _cell_text(v) for v in s.to_numpy(dtype=object)]
    return _one_line_end(pd.Series(text, index=s.index, dtype=object)).to_numpy(dtype=object)


#: Columns shorter than this are formatted value by value: finding their distinct values first costs more.
SMALL = 64


def _iso_dates(d: pd.Series) -> pd.Series:
    dates: pd.Series = d.dt.strftime("%Y-%m-%d").fillna("")
    return dates


def _integer_text(d: pd.Series) -> pd.Series:
    return d.astype("string").fillna("").astype(object)


def _cell_text(v: Any) -> str:
    """A Python object's cell: missing empty, a float unrounded, anything else its ``str``."""
    return "" if pd.isna(v) else (_float_text(v) if isinstance(v, float) else str(v))


def _float_column_text(s: pd.Series) -> pd.Series:
    return pd.Series(np.where(s.isna().to_numpy(), "", s.astype(str).to_numpy()), index=s.index, dtype=object)


def _by_distinct(codes: np.ndarray, distinct: Any, text: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``text`` of a column as an object array, computed on its distinct values only: ``codes`` and
    ``distinct`` as ``pandas.factorize`` gives them (-1, a missing value, is written empty)."""
    shown = text(pd.Series(distinct)).to_numpy(dtype=object)
    return np.asarray(np.append(shown, np.array([""], dtype=object))[codes])


def plain_columns(df: pd.DataFrame) -> set[int]:
    """The positions of the columns :func:`format_for_csv` writes as numbers, dates or booleans: their text
    holds no character the CSV writer quotes (digits, signs, points, ``e``, ``inf``, ``nan``, ``true``...)."""
    kinds = (pd.api.types.is_bool_dtype, pd.api.types.is_datetime64_any_dtype, pd.api.types.is_float_dtype,
             pd.api.types.is_integer_dtype)  # fmt: skip
    return {j for j, dtype in enumerate(df.dtypes) if any(kind(dtype) for kind in kinds)}


def _one_line_end(text: pd.Series) -> pd.Series:
    """Line breaks inside cells as ``\\n``: the CSV writer quotes a cell holding that, but not a bare ``\\r``."""
    try:
        found = "\r" in "".join(text.to_numpy(dtype=object))  # one scan of the cells joined
    except TypeError:  # some cell is not text
        found = bool(text.astype(str).str.contains("\r", regex=False).any())
    if not found:
        return text
    return text.map(lambda v: v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v)


def _float_text(v: float) -> str:
    return "" if pd.isna(v) else repr(float(v))


def write_table_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as canonical CSV at ``path`` through a temporary file and a rename.

    The row and column order are the caller's; the bytes depend only on the data.
    """
    path = Path(path)
    write_bytes_atomic(csv_text(format_for_csv(df), plain_columns(df)).encode("utf-8"), path)
    return path


#: The characters that make the csv module quote a field (minimal quoting, ``\n`` line ends); a field holding
#: one is quoted by the csv module itself, so that the rule is always the module's.
_QUOTE_IF = (",", '"', "\n", "\r")


def csv_text(shown: pd.DataFrame, plain: set[int] | None = None) -> str:
    """``shown.to_csv(index=False, lineterminator="\n")`` for a table of text (every cell ``str``, as
    :func:`format_for_csv` gives), the rows joined here; fields are quoted as the csv module quotes them.
    ``plain``: the positions of columns known to need no quoting (:func:`plain_columns` of the typed table).

    A table pandas writes its own way goes to pandas: fewer than two columns (a lone empty field is quoted),
    a column name that is not text, a cell that is not text.
    """
    names = list(shown.columns)
    if len(names) < 2 or not all(isinstance(n, str) for n in names):
        return str(shown.to_csv(index=False, lineterminator="\n"))
    columns = []
    for j in range(len(names)):
        values = shown.iloc[:, j].to_numpy(dtype=object)
        if plain is not None and j in plain:
            columns.append(values.tolist())
            continue
        try:
            joined = "\x1f".join(values)  # one scan of the column: most hold no character to quote
        except TypeError:  # some cell is not text
            return str(shown.to_csv(index=False, lineterminator="\n"))
        if any(c in joined for c in _QUOTE_IF):
            codes, distinct = pd.factorize(values)  # text only: each distinct text quoted once
            values = np.array([_quoted(t) for t in distinct], dtype=object)[codes]
        columns.append(values.tolist())
    head = ",".join(_quoted(n) for n in names) + "\n"
    if not len(shown):
        return head
    return head + "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"


def _quoted(text: str) -> str:
    """One field as the csv module writes it in a row of several (minimal quoting, ``\n`` line ends)."""
    if not any(c in text for c in _QUOTE_IF):
        return text
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text, ""])
    return buf.getvalue()[: -len(",\n")]


def write_bytes_atomic(data: bytes, path: str | Path, private: bool = False) -> None:
    """Write bytes to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    The file gets :func:`file_mode` (``mkstemp`` alone would make every output 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode(private))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
