"""Reading what sites send: CSV in any common dialect and encoding, and Excel workbooks.

Every reader returns a :class:`RawTable`: the header as written, every cell as text, and the row
number each data row has in the user's spreadsheet (the header is row 1), so that every problem
can be reported where the user will look for it. Rows that are entirely empty are dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from advance_trial.errors import DataError, DataProblem

XLSX_MAGIC = b"PK\x03\x04"
_SPACED = re.compile(r"\x1f\s|\s\x1f")
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class RawTable:
    """A site file as text.

    Attributes
    ----------
    file : str
        The file's name as the user knows it.
    header : list of str
        Column names as written (surrounding spaces removed).
    cells : pandas.DataFrame
        One column per header position (named by position), every cell a string ("" when empty).
    rows : numpy.ndarray
        Spreadsheet row number of each data row.
    source : str
        How it was read, e.g. ``csv utf-8 ';'`` or ``xlsx sheet 'Attendance'``.
    """

    file: str
    header: list[str]
    cells: pd.DataFrame
    rows: np.ndarray
    source: str


def _fail(file: str, message: str, row: int | None = None) -> DataError:
    return DataError([DataProblem(file, row, None, None, message)])


def read_site_file(path: str | Path, sheet: str | None = None) -> tuple[RawTable, bytes]:
    """Read a CSV or ``.xlsx`` file sent by a site; returns the table and the file's bytes."""
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise _fail(str(path), "no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise _fail(file, "the file is empty (a header row and data rows are expected)")
    if raw.startswith(XLSX_MAGIC):
        return _read_xlsx(raw, file, sheet), raw
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        raise _fail(file, "not a readable Excel workbook (.xlsx); save it again as .xlsx or CSV")
    if sheet is not None:
        raise _fail(file, "--sheet applies to Excel workbooks only")
    return _read_csv(raw, file), raw


def _decode(raw: bytes, file: str) -> tuple[str, str]:
    if b"\x00" in raw[:4096]:
        raise _fail(file, "binary content (NUL bytes): not a CSV; export the sheet as CSV or .xlsx")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as exc:
        raise _fail(file, f"neither UTF-8 nor Windows-1252 text (byte {exc.start}); export it again as CSV") from None


def _sniff(header_line: str) -> str:
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(raw: bytes, file: str) -> RawTable:
    text, encoding = _decode(raw, file)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = next((line for line in text.split("\n") if line.strip()), "")
    delim = _sniff(first)
    source = f"csv {encoding} {delim!r}"
    fast = _fast_csv(text, file, delim, source)
    if fast is not None:
        return fast
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delim, strict=True))
    except csv.Error as exc:
        raise _fail(file, f"not a valid CSV: {exc}") from None
    return _table(file, records, source)


def _fast_csv(text: str, file: str, delim: str, source: str) -> RawTable | None:
    """pandas' C parser for well-formed files; None sends the file to the careful reader."""
    if not text.strip() or text.startswith("\n"):
        return None  # the careful reader says where the header is
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delim, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, engine="c")  # fmt: skip
    except (pd.errors.ParserError, ValueError):
        return None
    header = [str(h).strip() for h in frame.iloc[0]]
    if not header or not all(header) or len(frame) < 1:
        return None
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = range(body.shape[1])
    if re.search(f"(?:^|[{re.escape(delim)}\n]) | (?:[{re.escape(delim)}\n]|$)", text, flags=re.M):
        for c in body.columns:  # some cell has spaces around it
            body[c] = body[c].str.strip()
    keep = (body != "").any(axis=1).to_numpy()
    rows = np.flatnonzero(keep) + 2
    body = body[keep].reset_index(drop=True).astype("string")
    return RawTable(file, header, body, rows.astype(np.int64), source)


def _table(file: str, records: list[list[str]], source: str) -> RawTable:
    numbered = [(i + 1, r) for i, r in enumerate(records) if any(c.strip() for c in r)]
    if not numbered:
        raise _fail(file, "the file is empty (a header row and data rows are expected)")
    (header_row, header), body = numbered[0], numbered[1:]
    if header_row != 1:
        raise _fail(file, f"the header must be on row 1 (found it on row {header_row})", header_row)
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    problems = []
    for j, h in enumerate(header):
        if not h:
            problems.append(DataProblem(file, 1, f"column {j + 1}", None, "a column without a header"))
    for n, r in body:
        extra = [c for c in r[width:] if c.strip()]
        if extra:
            problems.append(
                DataProblem(file, n, None, extra[0], f"more cells ({len(r)}) than header columns ({width})")
            )
    if problems:
        raise DataError(problems)
    cells = pd.DataFrame([(r + [""] * width)[:width] for _, r in body], columns=range(width), dtype=object).astype(
        "string"
    )
    cells = cells.fillna("").apply(lambda s: s.str.strip()) if len(cells) else cells
    rows = np.fromiter((n for n, _ in body), dtype=np.int64, count=len(body))
    return RawTable(file, header, cells, rows, source)


def _cell_text(v: object) -> str:
    if type(v) is str:
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def _read_xlsx(raw: bytes, file: str, sheet: str | None) -> RawTable:
    """Excel through calamine (pandas' fast engine): dates arrive as dates, TRUE/FALSE as booleans."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise _fail(file, f"not a readable Excel workbook: {exc}") from None
    if sheet is not None and sheet not in wb.sheet_names:
        raise _fail(file, f"no sheet {sheet!r}; sheets: {', '.join(wb.sheet_names)}")
    name = sheet if sheet is not None else wb.sheet_names[0]
    try:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception as exc:
        raise _fail(file, f"sheet {name!r} could not be read: {exc}") from None
    return _grid_table(file, rows, f"xlsx sheet {name!r}")


def _grid_table(file: str, rows: Sequence[Sequence[object]], source: str) -> RawTable:
    """A rectangular grid of typed cells (calamine's) as a RawTable, converted column by column."""
    if not rows or not any(_cell_text(v).strip() for v in rows[0]):
        return _table(file, [[_cell_text(v) for v in r] for r in rows], source)  # the careful path says why
    header = [_cell_text(v).strip() for v in rows[0]]
    while header and not header[-1]:
        header.pop()
    frame = pd.DataFrame(rows[1:], dtype=object)
    if frame.empty:
        return RawTable(file, header, pd.DataFrame(columns=range(len(header)), dtype="string"), np.zeros(0, np.int64),
                        source)  # fmt: skip
    for c in frame.columns:
        if pd.api.types.infer_dtype(frame[c], skipna=False) != "string":
            frame[c] = frame[c].map(_cell_text)
    frame = frame.astype("string")
    for c in frame.columns:  # strip only columns where some cell has spaces around it (one scan of joined text)
        if _SPACED.search("\x1f" + "\x1f".join(frame[c].fillna("")) + "\x1f"):
            frame[c] = frame[c].str.strip()
    problems = [DataProblem(file, 1, f"column {j + 1}", None, "a column without a header")
                for j, h in enumerate(header) if not h]  # fmt: skip
    width = len(header)
    if frame.shape[1] > width:
        spill = (frame.iloc[:, width:] != "").any(axis=1).to_numpy()
        for i in np.flatnonzero(spill).tolist():
            value = next(v for v in frame.iloc[i, width:] if v != "")
            problems.append(DataProblem(file, int(i) + 2, None, value, f"a cell beyond the header's {width} columns"))
    if problems:
        raise DataError(problems)
    frame = frame.iloc[:, :width]
    frame = frame.reindex(columns=range(width), fill_value="")
    keep = (frame != "").any(axis=1).to_numpy()
    return RawTable(file, header, frame[keep].reset_index(drop=True), (np.flatnonzero(keep) + 2).astype(np.int64),
                    source)  # fmt: skip
