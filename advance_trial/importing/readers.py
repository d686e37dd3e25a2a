"""Reading what sites send: CSV in any common dialect and encoding, and Excel workbooks.

Every reader returns a :class:`RawTable`: the header as written, every cell as text, and the row
number each data row has in the user's spreadsheet (the header is row 1), so that every problem
can be reported where the user will look for it. Rows that are entirely empty are dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from advance_trial.errors import DataError, DataProblem

XLSX_MAGIC = b"PK\x03\x04"
DELIMITERS = (",", ";", "\t")
#: A multi-byte UTF-8 character (a lead byte and its continuation bytes): rare by chance in Windows-1252.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


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
        One column per header position (named by position), every cell a ``str`` ("" when empty), object dtype.
    rows : numpy.ndarray
        Spreadsheet row number of each data row.
    source : str
        How it was read, e.g. ``csv utf-8 ';'`` or ``xlsx sheet 'Attendance'``.
    header_row : int
        The header's row number in the spreadsheet (1 unless a title stands above it).
    """

    file: str
    header: list[str]
    cells: pd.DataFrame
    rows: npt.NDArray[np.int64]
    source: str
    header_row: int = 1


@dataclass(frozen=True)
class Part:
    """Rows already read for one canonical file and site (a REDCap export's, for one of its forms' files).

    ``problems`` are row problems found while the rows were taken apart: (position, column, value, message).
    """

    site: str
    kind: str
    raw: RawTable
    problems: tuple[tuple[int, str, str | None, str], ...]
    sha256: str = ""


def _fail(file: str, message: str, row: int | None = None) -> DataError:
    return DataError([DataProblem(file, row, None, None, message)])


#: How far down a file its header row is looked for (a title, a date, a blank line above it).
HEADER_SEARCH = 20


def read_site_file(
    path: str | Path, sheet: str | None = None, accepts: Callable[[list[str]], bool] | None = None,
    header_row: int | None = None, likeness: Callable[[list[str]], int] | None = None,
) -> tuple[RawTable, bytes]:  # fmt: skip
    """Read a CSV or ``.xlsx`` file sent by a site; returns the table and the file's bytes.

    ``accepts`` tells a header the config's mapping can read: it chooses among visible sheets and
    finds the header row below a title (the first of the first :data:`HEADER_SEARCH` rows it accepts);
    ``header_row`` (1-based) names the header row instead. When no row is accepted, the row most like a
    header is taken (``likeness``: how many of its cells name a known column; then the most cells
    filled), so that the mapping can say which of its columns need mapping. The source says which row
    was used.
    """
    return _read_site_file(path, sheet, HeaderRule(accepts, header_row, likeness))


@dataclass(frozen=True)
class HeaderRule:
    """How the header row is found: a test a header passes, or its row number (1-based); and, when no
    row passes, how much a row looks like a header."""

    accepts: Callable[[list[str]], bool] | None = None
    row: int | None = None
    likeness: Callable[[list[str]], int] | None = None


def _header_index(texts: list[list[str]], file: str, rule: HeaderRule) -> int:
    """The 0-based index of the header among ``texts`` (the file's first rows, as text)."""
    accepts, header_row = rule.accepts, rule.row
    if header_row is not None:
        if header_row > len(texts):
            raise _fail(file, f"--header-row {header_row}: the file has only {len(texts)} rows")
        return header_row - 1
    first = next((i for i, r in enumerate(texts) if any(c.strip() for c in r)), 0)
    if accepts is None or accepts([c.strip() for c in texts[first]]):
        return first
    for i in range(first, min(len(texts), first + HEADER_SEARCH)):
        if accepts([c.strip() for c in texts[i]]):
            return i
    return _most_like_a_header(texts, first, rule)  # the mapping will say what it misses in that row


def _most_like_a_header(texts: list[list[str]], first: int, rule: HeaderRule) -> int:
    """The row (0-based) most like a header when none names the required columns: the most cells naming a
    known column, then the most text cells filled (a title above has one, data rows have numbers and
    dates); the first such row."""

    def score(i: int) -> tuple[int, int, int]:
        cells = [c.strip() for c in texts[i]]
        known = rule.likeness(cells) if rule.likeness is not None else 0
        words = sum(1 for c in cells if c and not _looks_like_a_value(c))
        return known, words, -i

    rows = range(first, min(len(texts), first + HEADER_SEARCH))
    return max(rows, key=score) if rows else first


_VALUE = re.compile(r"^[-+]?[0-9.,:/ ]+$|^(true|false)$|^[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _looks_like_a_value(cell: str) -> bool:
    """A number, a date or a boolean: what a data row holds and a header does not."""
    return bool(_VALUE.match(cell.casefold()))


def _read_site_file(path: str | Path, sheet: str | None, rule: HeaderRule) -> tuple[RawTable, bytes]:
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise _fail(str(path), "no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise _fail(file, "the file is empty (a header row and data rows are expected)")
    if raw.startswith(XLSX_MAGIC):
        return _read_xlsx(raw, file, sheet, rule), raw
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        raise _fail(file, "not a readable Excel workbook (.xlsx); save it again as .xlsx or CSV")
    if sheet is not None:
        raise _fail(file, "--sheet applies to Excel workbooks only")
    return _read_csv(raw, file, rule), raw


def _decode(raw: bytes, file: str) -> tuple[str, str]:
    if b"\x00" in raw[:4096]:
        raise _fail(file, "binary content (NUL bytes): not a CSV; export the sheet as CSV or .xlsx")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    if _UTF8_SEQUENCE.search(raw):  # some text is UTF-8 and some is not: decoding either way corrupts a part
        row = raw[:bad_at].count(b"\n") + 1
        raise _fail(file, "mixes UTF-8 and Windows-1252 text (the first byte that is not UTF-8 is on this row); "
                          "save it again as CSV UTF-8", row)  # fmt: skip
    try:
        return raw.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as exc:
        raise _fail(file, f"neither UTF-8 nor Windows-1252 text (byte {exc.start}); export it again as CSV") from None


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one by one (the header is near the top: the file is not split whole)."""
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


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


def _read_csv(raw: bytes, file: str, rule: HeaderRule = HeaderRule()) -> RawTable:
    text, encoding = _decode(raw, file)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = next((line for line in _lines(text) if line.strip()), "")
    delim = _sniff(first)
    source = f"csv {encoding} {delim!r}"
    plain = raw if encoding == "utf-8" and len(raw) == len(text) else None  # ASCII, no BOM, no CR: the bytes as read
    fast = _fast_csv(text, file, delim, source, rule, plain)
    if fast is not None:
        return fast
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delim, strict=True))
    except csv.Error as exc:
        raise _fail(file, f"not a valid CSV: {exc}") from None
    return _table(file, records, source, rule)


def _fast_csv(
    text: str, file: str, delim: str, source: str, rule: HeaderRule, plain: bytes | None = None
) -> RawTable | None:
    """pandas' C parser for well-formed files; None sends the file to the careful reader. ``plain``: the
    file's bytes when they are ``text`` as it is (parsed without encoding the text again)."""
    if not text.strip() or text.startswith("\n") or rule.row not in (None, 1):
        return None  # the careful reader finds the header
    try:
        frame = pd.read_csv(io.BytesIO(plain) if plain is not None else io.StringIO(text), sep=delim, header=None,
                            dtype=object, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                            engine="c", encoding="utf-8")  # fmt: skip
    except (pd.errors.ParserError, ValueError):
        return None
    header = [str(h).strip() for h in frame.iloc[0]]
    if not header or not all(header) or len(frame) < 1 or (rule.accepts is not None and not rule.accepts(header)):
        return None
    body = frame.iloc[1:]
    body.columns = pd.RangeIndex(body.shape[1])
    if _spaced(text, delim):
        body = body.apply(lambda c: c.str.strip())  # some cell has spaces around it
    return _filled(file, header, body.reset_index(drop=True), 2, source)


def _spaced(text: str, delim: str) -> bool:
    """Whether the text has a space at its start or end, or next to a delimiter or a line break.

    Substring tests, far faster than a regex over the file; every one of them holds a space, so when the
    rows below the first line hold none (one fast scan), only that line is looked at."""
    ends = text.startswith(" ") or text.rstrip("\n").endswith(" ")
    spaced = (f"{delim} ", f" {delim}", "\n ", " \n")
    cut = text.find("\n") + 1 or len(text)
    if " " not in text[cut:]:  # any of them in the text lies within the first line and its line end
        text = text[: cut + 1]
    return ends or any(p in text for p in spaced)


def _filled(file: str, header: list[str], body: pd.DataFrame, first: int, source: str) -> RawTable:
    """The rows of ``body`` (text, object dtype, data rows from spreadsheet row ``first``) with a cell filled."""
    keep = (body.to_numpy(dtype=object) != "").any(axis=1) if body.shape[1] else np.zeros(len(body), dtype=bool)
    if not keep.all():
        body = body[keep].reset_index(drop=True)
    return RawTable(file, header, body, (np.flatnonzero(keep) + first).astype(np.int64), source)


def _table(file: str, records: list[list[str]], source: str, rule: HeaderRule = HeaderRule()) -> RawTable:
    if not any(any(c.strip() for c in r) for r in records):
        raise _fail(file, "the file is empty (a header row and data rows are expected)")
    at = _header_index(records[:HEADER_SEARCH], file, rule)
    if at:
        source = f"{source}; header on row {at + 1}"
    header = records[at]
    body = [(i + 1, r) for i, r in enumerate(records) if i > at and any(c.strip() for c in r)]
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    problems = []
    for j, h in enumerate(header):
        if not h:
            problems.append(DataProblem(file, at + 1, f"column {j + 1}", None, "a column without a header"))
    for n, r in body:
        extra = [c for c in r[width:] if c.strip()]
        if extra:
            problems.append(
                DataProblem(file, n, None, extra[0], f"more cells ({len(r)}) than header columns ({width})")
            )
    if problems:
        raise DataError(problems)
    cells = pd.DataFrame([[c.strip() for c in (r + [""] * width)[:width]] for _, r in body],
                         columns=pd.RangeIndex(width), dtype=object)  # fmt: skip
    rows = np.fromiter((n for n, _ in body), dtype=np.int64, count=len(body))
    return RawTable(file, header, cells, rows, source, at + 1)


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


@dataclass(frozen=True)
class WorkbookLimits:
    """What a workbook may declare before it is read (generous for real exports, far below a bomb).

    Attributes
    ----------
    max_cells : int
        Rows times columns of a sheet's extent (its dimension, or its farthest cell).
    max_uncompressed : int
        Bytes of all the workbook's parts once unzipped.
    max_ratio : float
        Unzipped over zipped size of any one part.
    """

    max_cells: int = 20_000_000
    max_uncompressed: int = 1 << 30
    max_ratio: float = 200.0


LIMITS = WorkbookLimits()
#: A reference beyond column Z or row 99,999: only then is a sheet measured cell by cell (fast for the rest).
_WIDE_OR_LONG = re.compile(rb' r="[A-Z](?:[A-Z]|[0-9]{6})')  # one literal prefix: a fast scan
_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+[0-9]+:([A-Z]{1,3})([0-9]{1,7})"')
#: A cell's reference (``<c r="B7">``; a row's ``r`` has no letters) or the sheet's declared extent.
_CELL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]{1,7})"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _check_zip(
    raw: bytes, file: str, limits: WorkbookLimits, defer: bool = False
) -> tuple[Any, dict[str, bytes], str | None]:
    """Refuse a workbook whose parts would unzip too large, too suddenly, or into too many cells (exit 4)
    before any reader allocates for it. Each sheet is streamed, so a size the zip directory lies about
    counts as what it really is. Returns the zip, each sheet's XML unzipped, and (with ``defer``) the
    workbook's only sheet, whose cells are left to be measured before it is read (:func:`_measure`)."""
    import zipfile
    import zlib

    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, zlib.error) as exc:
        raise _fail(file, f"not a readable Excel workbook: {exc}") from None
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed:
        raise _fail(file, f"refused: the workbook would unzip to {total:,} bytes (limit {limits.max_uncompressed:,})")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 20 and ratio > limits.max_ratio:
            raise _fail(file, f"refused: {info.filename} unzips {ratio:.0f} times larger than it is stored "
                              f"(limit {limits.max_ratio:g}): a zip bomb, not an export")  # fmt: skip
    sheets: dict[str, bytes] = {}
    parts = [i for i in infos if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")]
    # a workbook's only sheet is measured as it is read (see _read_xlsx); every other sheet here
    deferred = parts[0].filename if len(parts) == 1 and defer else None
    for info in parts:
        scan = None if info.filename == deferred else _Extent(file, info.filename, limits)
        seen = 0
        chunks = []
        try:
            with zf.open(info) as fh:
                while chunk := fh.read(_CHUNK):
                    seen += len(chunk)
                    if seen > limits.max_uncompressed:
                        raise _fail(file, f"refused: {info.filename} unzips beyond {limits.max_uncompressed:,} bytes")
                    chunks.append(chunk)
                    if scan is not None:
                        scan.feed(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise _fail(file, f"not a readable Excel workbook: {info.filename}: {exc}") from None
        sheets[info.filename] = data = b"".join(chunks)
        if scan is not None:
            scan.finish(data)
    return zf, sheets, deferred


_CHUNK = 1 << 20


class _Extent:
    """A sheet's farthest cell, measured block by block as it is unzipped: refused (exit 4) as soon as its
    rows times columns exceed the limit."""

    def __init__(self, file: str, part: str, limits: WorkbookLimits) -> None:
        self.file, self.part, self.limits = file, part, limits
        self.rows = self.cols = 0
        self.tail = b""
        self.first = True
        self.skipped = False

    def feed(self, chunk: bytes) -> None:
        block = self.tail + chunk
        self.tail = block[-256:]
        refs = _DIMENSION.findall(block) if self.first else []
        self.first = False
        if _WIDE_OR_LONG.search(block):  # else at most 26 columns and 99,999 rows here
            refs += _CELL_REF.findall(block)
        else:
            self.skipped = True
        for letters, digits in refs:
            self.cols, self.rows = max(self.cols, _column_number(letters)), max(self.rows, int(digits))
        _check_cells(self.file, self.part, self.rows, self.cols, self.limits)

    def finish(self, data: bytes) -> None:
        if self.skipped and max(self.rows, 99_999) * max(self.cols, 26) > self.limits.max_cells:
            # a block skipped (no reference beyond column Z or row 99,999) may still hold the farthest row or
            # column that, with the others, makes too many cells: every reference counts
            for letters, digits in _CELL_REF.findall(data):
                self.cols, self.rows = max(self.cols, _column_number(letters)), max(self.rows, int(digits))
            _check_cells(self.file, self.part, self.rows, self.cols, self.limits)


def _measure(file: str, part: str, data: bytes, limits: WorkbookLimits) -> None:
    """A sheet unzipped earlier measured as the zip check measures it (the same blocks, the same words)."""
    scan = _Extent(file, part, limits)
    for at in range(0, len(data), _CHUNK):
        scan.feed(data[at : at + _CHUNK])
    scan.finish(data)


def _check_cells(file: str, part: str, rows: int, cols: int, limits: WorkbookLimits) -> None:
    if rows * cols > limits.max_cells:
        raise _fail(file, f"refused: {part} declares cells up to row {rows:,}, column "
                          f"{cols:,} ({rows * cols:,} cells; limit {limits.max_cells:,})")  # fmt: skip


def _calamine(file: str, what: str, call: Callable[[], Any]) -> Any:
    """Call calamine; every failure, a Rust panic included (pyo3's PanicException is not an
    Exception), is one problem for the file."""
    try:
        return call()
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:  # a panic from Rust arrives as a BaseException
        raise _fail(file, f"{what}: {type(exc).__name__}: {exc}") from None


def _read_xlsx(
    raw: bytes, file: str, sheet: str | None, rule: HeaderRule = HeaderRule(), limits: WorkbookLimits = LIMITS
) -> RawTable:
    """Excel through calamine (pandas' fast engine): dates arrive as dates, TRUE/FALSE as booleans.

    The sheet: ``sheet`` (without regard to case; a hidden sheet only when named), else the one
    visible sheet, else the one visible sheet whose header ``accepts`` (the mapping knows it).
    """
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    accepts = rule.accepts
    zf, sheets, deferred = _check_zip(raw, file, limits, defer=True)
    wb = _calamine(file, "not a readable Excel workbook", lambda: CalamineWorkbook.from_filelike(io.BytesIO(raw)))
    names: list[str] = list(wb.sheet_names)
    visible = [m.name for m in wb.sheets_metadata if m.visible == SheetVisibleEnum.Visible] or names
    if sheet is not None:
        matches = [n for n in names if n.casefold() == sheet.casefold()]
        if not matches:
            raise _fail(file, f"no sheet {sheet!r}; sheets: {', '.join(names)}")
        name = matches[0]
    elif len(visible) == 1 or accepts is None:
        name = visible[0]
    else:
        fits = []

        def first_rows(n: str) -> Any:
            return wb.get_sheet_by_name(n).to_python(skip_empty_area=False, nrows=HEADER_SEARCH)

        for n in visible:  # a header below a title counts: the first rows are looked at, as for the header
            grid = _calamine(file, f"sheet {n!r} could not be read", functools.partial(first_rows, n))
            if any(accepts([_cell_text(v).strip() for v in row]) for row in grid):
                fits.append(n)
        if len(fits) != 1:
            which = "none of" if not fits else "more than one of"
            raise _fail(file, f"{which} the visible sheets ({', '.join(visible)}) has the columns the config maps; "
                              "name one with --sheet")  # fmt: skip
        name = fits[0]
    # every problem found in the sheet names it: "an Instructions sheet" is then plain to see
    grid, measured = _plain_grid(zf, sheets, name, file, limits, deferred)
    if deferred is not None and not measured:  # measured as the zip check measures, before calamine reads
        _measure(file, deferred, sheets[deferred], limits)
    if grid is not None:
        return _text_grid_table(f"{file}, sheet {name!r}", grid, f"xlsx sheet {name!r}", rule)
    rows = _calamine(file, f"sheet {name!r} could not be read",
                     lambda: wb.get_sheet_by_name(name).to_python(skip_empty_area=False))  # fmt: skip
    return _grid_table(f"{file}, sheet {name!r}", rows, f"xlsx sheet {name!r}", rule)


def _plain_grid(
    zf: Any, sheets: dict[str, bytes], name: str, file: str, limits: WorkbookLimits, deferred: str | None = None
) -> tuple[Any, bool]:
    """The sheet as text read straight from its XML (:mod:`.xlsxgrid`), or None when calamine reads it;
    and whether the sheet the zip check left unmeasured (``deferred``) was measured here.

    Its cells are measured from the reading (its declared dimension and every cell's reference); over
    the limit, it is measured as the zip check measures, for the same words."""
    from advance_trial.importing import xlsxgrid

    part = (xlsxgrid.workbook_sheets(zf) or {}).get(name)
    data = sheets.get(part or "")
    try:
        wb = xlsxgrid.book(zf, limits.max_uncompressed)
        if data is None or wb is None:
            return None, False
        grid = xlsxgrid.read_grid(data, wb, limits.max_cells)
    except xlsxgrid.TooLarge as exc:
        if part is not None and part == deferred and data is not None:
            _measure(file, part, data, limits)
        _check_cells(file, part or name, exc.rows, exc.cols, limits)
        return None, part == deferred
    except Exception:  # anything this reader did not foresee: calamine reads the sheet and says
        return None, False
    if grid is None or part is None or part != deferred or data is None:
        return grid, False
    head = data[: min(len(data), _CHUNK)]
    declared = [(_column_number(c), int(r)) for c, r in _DIMENSION.findall(head)]
    rows = max([grid.codes.shape[0], *(r for _, r in declared)])
    cols = max([grid.codes.shape[1], *(c for c, _ in declared)])
    # every reference the zip check would count is a cell's (or a row's, without letters)
    counted = data.count(b' r="') == grid.cells + data.count(b'<row r="')
    if rows * cols > limits.max_cells or not counted:
        _measure(file, part, data, limits)
        _check_cells(file, part, rows, cols, limits)
    return grid, True


def _grid_table(file: str, rows: Sequence[Sequence[object]], source: str, rule: HeaderRule = HeaderRule()) -> RawTable:
    """A rectangular grid of typed cells (calamine's) as a RawTable, converted column by column."""
    if not rows or not any(_cell_text(v).strip() for v in rows[0]):
        return _table(file, [[_cell_text(v) for v in r] for r in rows], source, rule)  # the careful path says why
    at = _header_index([[_cell_text(v) for v in r] for r in rows[:HEADER_SEARCH]], file, rule)
    if at:  # a title above the header: the careful path keeps the spreadsheet's row numbers
        return _table(file, [[_cell_text(v) for v in r] for r in rows], source, rule)
    header = [_cell_text(v).strip() for v in rows[0]]
    while header and not header[-1]:
        header.pop()
    if len(rows) < 2 or not max(map(len, rows[1:])):
        return RawTable(file, header, pd.DataFrame(columns=pd.RangeIndex(len(header)), dtype=object),
                        np.zeros(0, np.int64), source)  # fmt: skip
    frame = pd.DataFrame(dict(enumerate(map(_column_text, _columns(rows[1:])))), dtype=object)
    return _body_table(file, header, frame, source)


def _text_grid_table(file: str, grid: Any, source: str, rule: HeaderRule = HeaderRule()) -> RawTable:
    """A sheet read as text (an ``xlsxgrid.TextGrid``) as a RawTable, as :func:`_grid_table` makes one."""
    top = grid.rows(HEADER_SEARCH)
    if not top or not any(c.strip() for c in top[0]):
        return _table(file, grid.rows(), source, rule)  # the careful path says why
    if _header_index(top, file, rule):  # a title above the header: the careful path keeps the row numbers
        return _table(file, grid.rows(), source, rule)
    header = [c.strip() for c in top[0]]
    while header and not header[-1]:
        header.pop()
    if len(top) < 2:
        return RawTable(file, header, pd.DataFrame(columns=pd.RangeIndex(len(header)), dtype=object),
                        np.zeros(0, np.int64), source)  # fmt: skip
    stripped = np.array([t.strip() for t in grid.texts.tolist()], dtype=object)
    body = grid.codes[1:]
    frame = pd.DataFrame({j: stripped[body[:, j]] for j in range(body.shape[1])}, dtype=object)
    return _body_table(file, header, frame, source)


def _body_table(file: str, header: list[str], frame: pd.DataFrame, source: str) -> RawTable:
    """The data rows below a header on the sheet's first row: text cells, one column per grid column."""
    problems = [DataProblem(file, 1, f"column {j + 1}", None, "a column without a header")
                for j, h in enumerate(header) if not h]  # fmt: skip
    width = len(header)
    if frame.shape[1] > width:
        spill = (frame.iloc[:, width:].to_numpy(dtype=object) != "").any(axis=1)
        for i in np.flatnonzero(spill).tolist():
            value = next(v for v in frame.iloc[i, width:] if v != "")
            problems.append(DataProblem(file, int(i) + 2, None, value, f"a cell beyond the header's {width} columns"))
    if problems:
        raise DataError(problems)
    frame = frame.iloc[:, :width].reindex(columns=pd.RangeIndex(width), fill_value="")
    return _filled(file, header, frame, 2, source)


def _columns(rows: Sequence[Sequence[object]]) -> list[npt.NDArray[np.object_]]:
    """The grid's columns (short rows padded with empty text)."""
    try:
        grid = np.array(rows, dtype=object)  # calamine's rows are all as wide as the sheet
    except ValueError:  # rows of different lengths
        grid = np.zeros(0)
    if grid.ndim == 2 and grid.shape[0] == len(rows):
        return [grid[:, j] for j in range(grid.shape[1])]
    return [np.array(cells, dtype=object) for cells in itertools.zip_longest(*rows, fillvalue="")]


def _column_text(values: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """A column of typed cells as stripped text (:func:`_cell_text`), converting each distinct value once."""
    codes, uniques = pd.factorize(values)  # None (an empty cell) and NaN are -1
    text = not (codes < 0).any() and all(type(u) is str for u in uniques.tolist())  # its distinct values: fast
    if not text and pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
        kinds = set(map(type, values.tolist()))
        if (bool in kinds and kinds & {int, float}) or (float in kinds and (codes < 0).any()):
            # True equals 1 and a NaN is not None: these columns are converted cell by cell
            return np.array([_cell_text(v).strip() for v in values.tolist()], dtype=object)
    texts = np.array([_cell_text(v).strip() for v in uniques] + [""], dtype=object)
    return texts[codes]
