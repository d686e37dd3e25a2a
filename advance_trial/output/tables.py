"""Display tables: the CSV and Markdown writers of the :class:`~advance_trial.results.table.Table` every
analysis returns (defined in :mod:`advance_trial.results.table`, re-exported here).

CSV unrounded through :mod:`advance_trial.data.tablefile`, Markdown rounded for reading, in a
stable row and column order, without timestamps (the run's time lives only in
``provenance.json``, :mod:`advance_trial.output.provenance`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advance_trial.data.tablefile import write_bytes_atomic
from advance_trial.results.table import Table  # the neutral home; re-exported here

__all__ = ["FORMULA_STARTS", "Table", "format_number", "md_text", "neutralise", "to_csv_bytes", "to_markdown",
           "write_tables"]  # fmt: skip

if TYPE_CHECKING:
    import pandas as pd


#: A text cell beginning with one of these is run as a formula by spreadsheets (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet would run as a formula, prefixed with an apostrophe (OWASP's advice)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """The canonical CSV bytes of an output table (unrounded); text cells carry no formula.

    Only text columns are neutralised (:func:`neutralise`); numbers, dates and booleans are written as
    they are, so a negative estimate stays a number.
    """
    import pandas as pd

    from advance_trial.data.tablefile import csv_text, format_for_csv, plain_columns

    shown = format_for_csv(df)
    for col in df.columns:
        if df[col].dtype.kind == "O" or str(df[col].dtype) == "string":
            # only cells that hold text: a number in a column of mixed values stays a number
            if str(df[col].dtype) == "string" or pd.api.types.infer_dtype(df[col], skipna=True) in ("string", "empty"):
                is_text = df[col].notna().to_numpy(dtype=bool)
            else:
                is_text = df[col].map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
            values = shown[col].to_numpy(dtype=object)
            cells = values[is_text]
            # one scan of the cells joined: a cell can start a formula only after a separator
            joined = "\x1f" + "\x1f".join(cells) if len(cells) else ""
            if any("\x1f" + start in joined for start in FORMULA_STARTS):
                values = values.copy()
                values[is_text] = [neutralise(v) if isinstance(v, str) else v for v in cells]
                shown[col] = values
    return csv_text(shown, plain_columns(df)).encode("utf-8")


def md_text(value: object) -> str:
    """Text for a Markdown cell or line: no HTML (``&`` and ``<`` escaped), line breaks folded to spaces,
    pipes escaped. ``>`` stays: it opens no tag, and ``sessions >= 1`` reads as it is."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;")
    return " ".join(text.splitlines()).replace("|", "\\|") if text else text


def format_number(value: Any, digits: int = 3) -> str:
    """A value as shown in rendered tables: floats rounded to ``digits`` decimals, missing as empty."""
    import math

    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e12:
            return str(int(value))
        return f"{value:.{digits}f}"
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def to_markdown(table: Table, digits: int = 3) -> str:
    """Render a table as GitHub-flavoured Markdown, rounded, with its footnotes."""
    df = table.data
    cols = [str(c) for c in df.columns]
    lines = []
    if table.title:
        lines += [f"### {md_text(table.title)}", ""]
    lines.append("| " + " | ".join(md_text(c) for c in cols) + " |")
    numeric = [df[c].dtype.kind in "iuf" for c in df.columns]
    lines.append("| " + " | ".join("---:" if n else "---" for n in numeric) + " |")
    for row in df.itertuples(index=False):
        cells = [md_text(format_number(v, digits)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    if table.footnotes:
        lines.append("")
        notes = [md_text(n) for n in table.footnotes]
        lines += [f"{note}  " if i < len(notes) - 1 else note for i, note in enumerate(notes)]
    return "\n".join(lines) + "\n"


def write_tables(tables: Iterable[Table], out_dir: str | Path, markdown: bool = True) -> dict[str, str]:
    """Write each table as ``<name>.csv`` (and ``<name>.md``), atomically.

    Returns
    -------
    dict
        File name -> SHA-256 of what was written, for provenance.
    """
    out = Path(out_dir)
    written: dict[str, str] = {}
    for t in tables:
        data = to_csv_bytes(t.data)
        write_bytes_atomic(data, out / f"{t.name}.csv")
        written[f"{t.name}.csv"] = hashlib.sha256(data).hexdigest()
        if markdown and t.markdown:
            md = to_markdown(t).encode("utf-8")
            write_bytes_atomic(md, out / f"{t.name}.md")
            written[f"{t.name}.md"] = hashlib.sha256(md).hexdigest()
    return written
