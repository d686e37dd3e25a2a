"""The canonical CSV writer as it was before it formatted each distinct value once and joined the rows
itself (``format_for_csv`` cell by cell, then pandas' ``to_csv``), kept as the reference the fast one
must match byte for byte."""

from __future__ import annotations

import numpy as np
import pandas as pd


def format_for_csv(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            words = np.where(s.fillna(False).to_numpy(dtype=bool), "true", "false")
            out[col] = pd.Series(np.where(s.isna().to_numpy(), "", words), index=s.index, dtype=object)
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[col] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif pd.api.types.is_float_dtype(s.dtype):
            out[col] = pd.Series(
                np.where(s.isna().to_numpy(), "", s.astype(str).to_numpy()), index=s.index, dtype=object
            )
        elif pd.api.types.is_integer_dtype(s.dtype):
            out[col] = s.astype("string").fillna("").astype(object)
        elif isinstance(s.dtype, pd.StringDtype):
            out[col] = _one_line_end(s.fillna("").astype(object))
        else:
            text = s.map(lambda v: "" if pd.isna(v) else (repr(float(v)) if isinstance(v, float) else str(v)))
            out[col] = _one_line_end(text)
    return out


def _one_line_end(text: pd.Series) -> pd.Series:
    return text.map(lambda v: v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v)


def csv_bytes(df: pd.DataFrame) -> bytes:
    """What ``write_table_atomic`` wrote: the reference format, through pandas' writer."""
    return format_for_csv(df).to_csv(index=False, lineterminator="\n").encode("utf-8")
