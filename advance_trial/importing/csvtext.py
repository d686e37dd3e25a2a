"""The canonical text of imported rows and the CSV bytes of a merged file, one distinct value at a time.

An import writes its rows through the canonical CSV dialect (:mod:`advance_trial.data.tablefile`). Exports
repeat their values, so each column's distinct values are formatted (and quoted) once and spread back onto
the rows: the bytes are those :func:`~advance_trial.data.tablefile.format_for_csv` and
``DataFrame.to_csv(index=False, lineterminator="\\n")`` give, in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from advance_trial.data.tablefile import format_for_csv
from advance_trial.importing.convert import Spread


def _first_rows(codes: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The row of each code's first appearance (``pandas.factorize`` numbers codes in that order)."""
    filled = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[filled], return_index=True)
    return filled[first]


def canonical_text(typed: pd.DataFrame, spread: Mapping[str, Spread] | None = None) -> pd.DataFrame:
    """``format_for_csv(typed)`` as object text, each distinct value of a column formatted once.

    ``spread``: columns already known as their distinct values (from :func:`~advance_trial.importing.convert.convert`,
    and unchanged since), formatted without counting them again.
    """
    out: dict[str, npt.NDArray[np.object_]] = {}
    for name in typed.columns:
        s = typed[name]
        known = (spread or {}).get(str(name))
        if known is not None:
            codes, distinct = known.codes, known.values
        else:
            # a float's bits: 0.0 and -0.0 (equal, written apart) stay apart; NaN is written "" whatever its bits
            found, _ = pd.factorize(s.to_numpy().view(np.int64) if s.dtype == np.float64 else s)
            codes = found.astype(np.intp, copy=False)
            distinct = s.iloc[_first_rows(codes)]
        text = format_for_csv(distinct.reset_index(drop=True).to_frame(name))[name].to_numpy(dtype=object)
        out[str(name)] = np.append(text, np.array([""], dtype=object))[codes]  # missing (-1): empty
    return pd.DataFrame(out, index=typed.index, columns=typed.columns, dtype=object)  # plain str: no conversion


def _quoted(text: str) -> str:
    """A field as pandas' CSV writer quotes it (minimal quoting, ``\\n`` line ends): a comma, a quote or a
    ``\\n`` in it, not a bare ``\\r``."""
    if "," in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _all_text(values: npt.NDArray[np.object_]) -> bool:
    return len(values) == 0 or pd.api.types.infer_dtype(values, skipna=False) == "string"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame.to_csv(index=False, lineterminator="\\n")`` in UTF-8, for a table of text (``str`` cells).

    Other tables go to pandas: a cell that is not text, one column (whose empty field the csv module quotes),
    a column name that would need quoting (pandas writes the header its own way).
    """
    columns = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    return _csv_bytes(frame, columns, all(map(_all_text, columns)))


def _csv_bytes(frame: pd.DataFrame, columns: list[npt.NDArray[np.object_]], text: bool) -> bytes:
    """:func:`csv_bytes`, the frame's columns and whether every cell is text already known."""
    names = [n for n in frame.columns if isinstance(n, str) and _quoted(n) == n]
    if len(names) < 2 or len(names) < len(columns) or not text:
        return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    head = ",".join(names) + "\n"
    if not len(frame):
        return head.encode("utf-8")
    lists = [values.tolist() for values in columns]
    body = "\n".join(map(",".join, zip(*lists, strict=True)))
    # no field needing quotes: exactly the separators the rows themselves put in, and no quote character
    if '"' not in body and body.count(",") == (len(names) - 1) * len(frame) and body.count("\n") == len(frame) - 1:
        return (head + body + "\n").encode("utf-8")
    for j, values in enumerate(columns):  # quoted as the csv module quotes, each distinct value once
        codes, distinct = pd.factorize(values)
        lists[j] = np.array([_quoted(t) for t in distinct], dtype=object)[codes].tolist()
    body = "\n".join(map(",".join, zip(*lists, strict=True)))
    return (head + body + "\n").encode("utf-8")


@dataclass(frozen=True)
class TextFile:
    """A canonical file made from text cells: the cells (a missing cell as empty text), the file's bytes, and
    the cells its bytes read back as (:func:`read_back`; None when the bytes must be read)."""

    frame: pd.DataFrame
    body: bytes
    cells: pd.DataFrame | None


def text_file(frame: pd.DataFrame) -> TextFile:
    """``frame`` (text, some cells perhaps missing) as a canonical file: :func:`csv_bytes` of it with every
    missing cell empty, and :func:`read_back` of those bytes; each column is looked at once."""
    columns = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    text = [_all_text(values) for values in columns]
    if not all(text):  # a missing cell (NaN, None) in some column: empty text, as the CSV writer has it
        frame = frame.copy()
        for j, name in enumerate(frame.columns):
            if not text[j]:
                frame[name] = frame[name].fillna("")
                columns[j] = frame[name].to_numpy(dtype=object)
                text[j] = _all_text(columns[j])
    body = _csv_bytes(frame, columns, all(text))
    return TextFile(frame, body, _read_back(frame, columns, all(text), body))


def read_back(frame: pd.DataFrame, body: bytes) -> pd.DataFrame | None:
    """The cells ``pandas.read_csv(body, dtype=str, keep_default_na=False, na_filter=False)`` would give, when
    ``body`` is :func:`csv_bytes` of ``frame`` and plainly so; else None (the caller reads the bytes).

    Plain: a row or more, two or more columns named by distinct, non-empty text, every cell text, and no quote,
    carriage return, NUL or byte-order mark in the bytes. Every field needing quotes (a comma, a quote, a line
    break) is quoted, so without a quote each line splits on its commas into exactly the frame's cells, and the
    tokeniser has nothing to undo: the cells are the frame's, as text. The file is checked as read all the
    same (:func:`advance_trial.data.canonical.parse_table`); only the tokenising is saved.
    """
    columns = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    return _read_back(frame, columns, all(map(_all_text, columns)), body)


def _read_back(
    frame: pd.DataFrame, columns: list[npt.NDArray[np.object_]], text: bool, body: bytes
) -> pd.DataFrame | None:
    names = list(frame.columns)
    if not text or not len(frame) or len(names) < 2 or len(set(names)) < len(names):
        return None
    if not all(isinstance(n, str) and n for n in names):
        return None
    if b'"' in body or b"\r" in body or b"\x00" in body or body.startswith(b"\xef\xbb\xbf"):
        return None
    if body.count(b"\n") != len(frame) + 1 or not body.endswith(b"\n"):
        return None  # one line per row and the header: no row of the frame spans lines
    return pd.DataFrame(dict(zip(names, columns, strict=True)), index=pd.RangeIndex(len(frame))).astype(str)
