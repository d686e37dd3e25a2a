"""Writing tables: the canonical CSV dialect, atomically.

One writer for every file the toolkit produces: UTF-8, comma, a header row,
``\\n`` line ends, ISO dates, ``true``/``false``, unrounded numbers (``repr``
of the float, which round-trips exactly), empty cell = missing. Files are
written to a temporary file in the same folder and renamed into place, so a
crash never leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from advance_trial.data.durable import file_mode


def format_for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """Render a typed table in the canonical dialect: ISO dates, true/false, unrounded numbers, empty = missing."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            words = np.where(s.fillna(False).to_numpy(dtype=bool), "true", "false")
            out[col] = pd.Series(np.where(s.isna().to_numpy(), "", words), index=s.index, dtype=object)
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[col] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif pd.api.types.is_float_dtype(s.dtype):  # str of a float64 is its shortest round-trip repr
            out[col] = pd.Series(
                np.where(s.isna().to_numpy(), "", s.astype(str).to_numpy()), index=s.index, dtype=object
            )
        elif pd.api.types.is_integer_dtype(s.dtype):
            out[col] = s.astype("string").fillna("").astype(object)
        elif isinstance(s.dtype, pd.StringDtype):
            out[col] = _one_line_end(s.fillna("").astype(object))
        else:
            text = s.map(lambda v: "" if pd.isna(v) else (_float_text(v) if isinstance(v, float) else str(v)))
            out[col] = _one_line_end(text)
    return out


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
    text = format_for_csv(df).to_csv(index=False, lineterminator="\n")
    write_bytes_atomic(text.encode("utf-8"), path)
    return path


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
