"""An Excel sheet's cells read straight from its XML with whole-array operations, for plain sheets.

calamine parses a sheet into typed cells in Rust; handing them to Python and turning them into text
costs about as much again, and the parse itself is most of a large import's time. Exports hold
text, numbers and booleans in plain cells, in order: this reader finds every cell, its reference,
its type and its value with numpy over the sheet's bytes, and converts each distinct value once.
It reads only what it can read exactly as calamine does (each value's text as
``readers._cell_text`` gives it for calamine's value; the tests compare the two readers cell by
cell). Anything else returns None and the sheet is read by calamine: a number in a date, time or
unknown format, a ``d``-typed cell, rich or phonetic text, an escape calamine decodes
(``_x000D_``), CDATA, a comment, a carriage return, a namespace prefix, cells without a
reference or out of order, text with spaces around it, a number with more than 15 digits.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
#: What stops this reader anywhere in a sheet: CDATA, comments, processing instructions past the
#: prolog, carriage returns, calamine's ``_xHHHH_`` escapes, rich text runs and phonetic runs,
#: empty value elements.
_STOPS = (b"<!", b"\r", b"_x00", b"<r>", b"<r ", b"<rPh", b"<v/>", b"<t/>", b"<is/>")
_PRESERVE = b'<t xml:space="preserve">'
_NUMBER = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,3})?")
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_ATTRIBUTE = re.compile(r'\s+([A-Za-z:]+)="([^"<&]*)"')
#: The kinds of cell, by how their value becomes text.
_TEXT, _SHARED, _NUMERIC, _BOOL, _NONE, _TRIMMED, _STR, _DATE, _DATE_1904 = range(9)
_KINDS = {"inlineStr": _TEXT, "str": _STR, "s": _SHARED, "n": _NUMERIC, "b": _BOOL, "e": _NONE}


class TooLarge(Exception):
    """The sheet's cells reach further than the limit allows (nothing was allocated for them)."""

    def __init__(self, rows: int, cols: int) -> None:
        super().__init__(rows, cols)
        self.rows, self.cols = rows, cols


class _Unread(Exception):
    """The sheet holds something this reader does not read exactly as calamine: calamine reads it."""


@dataclass(frozen=True)
class TextGrid:
    """A sheet as text: spreadsheet rows 1 to ``codes.shape[0]``, columns A onwards.

    Attributes
    ----------
    codes : numpy.ndarray
        For each row and column, the position of the cell's text in ``texts``.
    texts : numpy.ndarray
        The distinct texts, each as ``readers._cell_text`` gives it for calamine's value ("" last).
    """

    codes: npt.NDArray[np.int64]
    texts: npt.NDArray[np.object_]

    def rows(self, n: int | None = None) -> list[list[str]]:
        """The first ``n`` rows (all without ``n``) as lists of text."""
        part = self.codes[:n] if n is not None else self.codes
        return self.texts[part].tolist()  # type: ignore[no-any-return]


def workbook_sheets(zf: zipfile.ZipFile) -> dict[str, str] | None:
    """Each sheet's name and its part in the zip (``xl/worksheets/sheet1.xml``), or None when unclear."""
    try:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError, zipfile.BadZipFile, ValueError):
        return None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    parts = {}
    for s in book.iter(f"{_MAIN}sheet"):
        target = targets.get(s.get(f"{_REL}id"))
        if s.get("name") is None or not target:
            return None
        parts[str(s.get("name"))] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return parts


def number_styles(zf: zipfile.ZipFile) -> list[int] | None:
    """For each cell format (``s`` of a cell), how calamine shows a number in it: :data:`PLAIN`,
    :data:`DATE` or :data:`DURATION` (its ``builtin_format_by_id`` and ``detect_custom_number_format``)."""
    try:
        styles = ET.fromstring(zf.read("xl/styles.xml"))
    except KeyError:
        return []  # no styles part: every cell is General
    except (ET.ParseError, zipfile.BadZipFile, ValueError):
        return None
    custom = {n.get("numFmtId"): n.get("formatCode") for n in styles.iter(f"{_MAIN}numFmt")}
    xfs = styles.find(f"{_MAIN}cellXfs")
    out = []
    for xf in xfs.iter(f"{_MAIN}xf") if xfs is not None else ():
        fmt = xf.get("numFmtId")
        code = custom.get(fmt) if fmt is not None else None
        if fmt is None:
            out.append(PLAIN)
        elif code is not None:
            out.append(_custom_format(code))
        else:
            out.append(DATE if fmt in _DATE_BUILTIN else DURATION if fmt == "46" else PLAIN)
    return out


PLAIN, DATE, DURATION = range(3)
_DATE_BUILTIN = frozenset(["14", "15", "16", "17", "18", "19", "20", "21", "22", "45", "47"])


def _custom_format(code: str) -> int:
    """calamine's ``detect_custom_number_format``, step for step."""
    escaped = quoted = hms = ap = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return PLAIN
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return DURATION
        elif ch == "]":
            brackets = max(brackets - 1, 0)
        elif ch in "aA" and not ap and brackets == 0:
            ap = True
        elif ch in "pm/PM" and ap and brackets == 0:
            return DATE
        elif ch in "dmhysDMHYS" and not ap and brackets == 0:
            return DATE
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return PLAIN


def date_1904(zf: zipfile.ZipFile) -> bool | None:
    """Whether the workbook counts days from 1904 (None when it cannot be told)."""
    try:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
    except (KeyError, ET.ParseError, zipfile.BadZipFile, ValueError):
        return None
    pr = book.find(f"{_MAIN}workbookPr")
    return pr is not None and pr.get("date1904") in ("1", "true")


def shared_strings(zf: zipfile.ZipFile, limit: int) -> list[str] | None:
    """The workbook's shared strings ([] without any), or None when they hold what calamine reads its own way."""
    try:
        info = zf.getinfo("xl/sharedStrings.xml")
    except KeyError:
        return []
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit or any(s in data for s in _STOPS):
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    out = []
    for si in root.iter(f"{_MAIN}si"):
        parts = list(si)
        if not parts:
            out.append("")
            continue
        if len(parts) != 1 or parts[0].tag != f"{_MAIN}t" or len(parts[0]):
            return None
        text = parts[0].text or ""
        preserve = parts[0].get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"
        out.append(text if preserve else text.strip(" \t\n"))  # as calamine: trimmed unless preserved
    return out


@dataclass(frozen=True)
class Book:
    """What a sheet's cells refer to: the shared strings, each cell format's kind of number, the epoch."""

    sst: list[str]
    formats: list[int]
    is_1904: bool


def book(zf: zipfile.ZipFile, limit: int) -> Book | None:
    """The workbook's shared strings, formats and epoch, or None when calamine must read it."""
    sst, formats, is_1904 = shared_strings(zf, limit), number_styles(zf), date_1904(zf)
    if sst is None or formats is None or is_1904 is None:
        return None
    return Book(sst, formats, is_1904)


def read_grid(data: bytes, wb: Book, max_cells: int) -> TextGrid | None:
    """The sheet ``data`` (its XML) as text, or None when calamine must read it; :class:`TooLarge` when
    its cells reach beyond ``max_cells`` (rows times columns)."""
    try:
        return _read_grid(data, wb, max_cells)
    except _Unread:
        return None


def _read_grid(data: bytes, wb: Book, max_cells: int) -> TextGrid:
    start = data.find(b"<sheetData>") + len(b"<sheetData>")
    end = data.find(b"</sheetData>")
    if start < len(b"<sheetData>") or end < start or data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise _Unread  # an empty sheet (<sheetData/>), a prefix, or another encoding: calamine says
    head = data[: data.find(b"?>") + 2] if data.startswith(b"<?xml") else b""
    if head and b"encoding" in head and not re.search(rb"""encoding=["'](?i:utf-8)["']""", head):
        raise _Unread
    a = np.frombuffer(data, dtype=np.uint8)[: end + 16]  # the document goes on past the body
    lt = np.flatnonzero(a[start:end] == ord("<")) + start
    if not len(lt):
        raise _Unread
    b1, b2 = a[lt + 1], a[lt + 2]
    # only <row>, <c>, <f>, <v>, <is>, <t> and their ends: anything else (a comment, CDATA, rich or
    # phonetic text, an empty <v/>, a namespace prefix) is calamine's to read
    name = np.where(b1 == ord("/"), b2, b1)
    after = np.where(b1 == ord("/"), a[lt + 3], b2)
    after3 = np.where(b1 == ord("/"), a[lt + 4], a[lt + 3])
    ends = (after == ord(">")) | (after == ord(" "))
    known = ((name == ord("c")) & (ends | (after == ord("/")))) | ((name == ord("f")) & (ends | (after == ord("/"))))
    known |= ((name == ord("v")) | (name == ord("t"))) & ends
    known |= (name == ord("r")) & (after == ord("o")) | (name == ord("i")) & (after == ord("s")) & (after3 == ord(">"))
    if not known.all():
        raise _Unread
    is_cell = b1 == ord("c")
    ci = np.flatnonzero(is_cell)
    cell = lt[ci]
    if not len(cell) or ci[-1] + 1 >= len(lt) or not _at(a, cell + 2, b' r="').all():
        raise _Unread  # every cell starts <c r="B12"
    col, row, close = _references(a, cell + 6)
    tag_end = lt[ci + 1] - 1  # the start tag's '>' stands just before the next tag
    if not (a[tag_end] == ord(">")).all():
        gt = np.flatnonzero(a[start:end] == ord(">")) + start
        tag_end = gt[np.searchsorted(gt, close)]
    closed = a[tag_end - 1] == ord("/")
    kind = _kinds(a, close + 1, tag_end - closed, wb)
    ncols, nrows = int(col.max()), int(row.max())
    if nrows * ncols > max_cells:
        raise TooLarge(nrows, ncols)
    linear = (row - 1) * ncols + (col - 1)
    if len(linear) > 1 and not (np.diff(linear) > 0).all():
        raise _Unread  # cells repeated or out of order
    # the values: <v>...</v>, or <t>...</t> (or <t xml:space="preserve">) in an inline string
    vi = np.flatnonzero((b1 == ord("v")) | (b1 == ord("t")))
    vtag = lt[vi]
    owner = np.cumsum(is_cell)[vi] - 1
    if len(vtag) and (owner[0] < 0 or not (np.diff(owner) > 0).all() or closed[owner].any()):
        raise _Unread  # a value outside a cell, or two values in one
    in_t = a[vtag + 1] == ord("t")
    if (in_t != (kind[owner] == -1)).any():
        raise _Unread  # an inline string's text is in <t>, every other value in <v>
    tagged = a[vtag + 2] == ord(" ")
    vstart = vtag + np.where(tagged, len(_PRESERVE), 3)
    if tagged.any() and not (_at(a, vtag[tagged] + 2, _PRESERVE[2:]) & in_t[tagged]).all():
        raise _Unread
    vend = lt[vi + 1]
    if not ((a[vstart - 1] == ord(">")) & (a[vend + 1] == ord("/")) & (a[vend + 2] == a[vtag + 1])).all():
        raise _Unread
    kind[owner[(kind[owner] == -1) & ~tagged]] = _TRIMMED  # calamine trims <t> without xml:space="preserve"
    kind = np.where(kind == -1, _TEXT, kind)
    present = np.zeros(len(cell), dtype=bool)
    present[owner] = True
    if not present[kind == _SHARED].all():
        raise _Unread  # a shared string cell without its string's number (an empty inline string is "")
    values = np.empty(len(cell), dtype=object)
    values[owner] = _slices(a, vstart, vend)
    texts: list[str] = []
    code = np.zeros(len(cell), dtype=np.int64)
    for k in (_TEXT, _TRIMMED, _STR, _SHARED, _NUMERIC, _BOOL, _DATE, _DATE_1904):
        at = np.flatnonzero((kind == k) & present)
        if not len(at):
            continue
        codes, uniques = pd.factorize(values[at])
        code[at] = codes + len(texts)
        texts += _texts(k, uniques.tolist(), wb.sst)
    empty = len(texts)
    code[(kind == _NONE) | ~present] = empty
    grid = np.full(nrows * ncols, empty, dtype=np.int64)
    grid[linear] = code
    return TextGrid(grid.reshape(-1, ncols), np.array([*texts, ""], dtype=object))


def _slices(a: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]) -> list[bytes]:
    """``a[start:end]`` for each pair, as bytes: gathered into one buffer (NUL between) and split."""
    length = end - start
    total = int(length.sum())
    buf = np.zeros(total + len(length), dtype=np.uint8)
    before = np.cumsum(length) - length  # the value bytes before each value
    source = np.arange(total, dtype=np.int64) + np.repeat(start - before, length)
    buf[np.arange(total, dtype=np.int64) + np.repeat(np.arange(len(length), dtype=np.int64), length)] = a[source]
    return buf.tobytes().split(b"\0")[: len(length)]


def _at(a: npt.NDArray[np.uint8], where: npt.NDArray[np.int64], literal: bytes) -> npt.NDArray[np.bool_]:
    """Whether ``literal`` stands at each position."""
    ok = np.ones(len(where), dtype=bool)
    for i, ch in enumerate(literal):
        ok &= a[where + i] == ch
    return ok


def _references(
    a: npt.NDArray[np.uint8], where: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The column and row (1-based) of each reference starting at ``where`` (``B12"``), and its closing quote."""
    col = np.zeros(len(where), dtype=np.int64)
    row = np.zeros(len(where), dtype=np.int64)
    at = where.copy()
    letters = np.zeros(len(where), dtype=np.int64)
    for _ in range(3):
        ch = a[at].astype(np.int64)
        is_letter = (ch >= ord("A")) & (ch <= ord("Z"))
        if not is_letter.any():
            break
        col = np.where(is_letter, col * 26 + ch - 64, col)
        at += is_letter
        letters += is_letter
    first = a[at]
    digits = np.zeros(len(where), dtype=np.int64)
    for _ in range(7):
        ch = a[at].astype(np.int64)
        is_digit = (ch >= ord("0")) & (ch <= ord("9"))
        if not is_digit.any():
            break
        row = np.where(is_digit, row * 10 + ch - 48, row)
        at += is_digit
        digits += is_digit
    if not ((letters >= 1) & (digits >= 1) & (first != ord("0")) & (a[at] == ord('"'))).all():
        raise _Unread
    return col, row, at


def _kinds(
    a: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64], wb: Book
) -> npt.NDArray[np.int64]:
    """Each cell's kind from the attributes after its reference (-1: an inline string)."""
    length = end - start
    if not len(length) or length.min() < 0 or length.max() > 32:
        raise _Unread
    code = np.zeros(len(length), dtype=np.int64)
    for word in range(0, int(length.max()), 8):  # the text, exactly, eight bytes at a time
        packed = np.zeros(len(length), dtype=np.uint64)
        for k in range(word, word + 8):
            packed = (packed << np.uint64(8)) | np.where(k < length, a[start + k], 0).astype(np.uint64)
        code = pd.factorize(code * (2**20) + pd.factorize(packed)[0])[0]
    first = np.zeros(int(code.max()) + 1, dtype=np.int64)
    first[code[::-1]] = np.arange(len(code))[::-1]
    kinds = np.array([_kind(a[s : s + n].tobytes(), wb.formats, wb.is_1904) for s, n in zip(start[first].tolist(), length[first].tolist())],
                     dtype=np.int64)  # fmt: skip
    return kinds[code]


def _kind(attributes: bytes, formats: list[int], is_1904: bool) -> int:
    text = attributes.decode("ascii", "replace")
    found = dict(_ATTRIBUTE.findall(text))
    if _ATTRIBUTE.sub("", text).strip() or set(found) - {"s", "t", "cm", "ph"}:
        raise _Unread
    kind = found.get("t", "n")
    if kind not in _KINDS:
        raise _Unread  # "d" (an ISO date) and anything unknown
    style = found.get("s", "0")
    if kind == "n":
        if not style.isdigit() or int(style) >= max(len(formats), 1):
            raise _Unread
        shown = formats[int(style)] if formats else PLAIN
        if shown == DURATION:
            raise _Unread
        if shown == DATE:
            return _DATE_1904 if is_1904 else _DATE
    return -1 if kind == "inlineStr" else _KINDS[kind]


def _texts(kind: int, uniques: list[Any], sst: list[str]) -> list[str]:
    """The text of each distinct value of one kind."""
    out = []
    for raw in uniques:
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Unread from None
        if "\r" in value:
            raise _Unread  # XML reads a carriage return as a line break
        if "&" in value:
            value = _unescape(value)
        if "_x00" in value:
            raise _Unread  # calamine decodes _x000D_ and its like
        if kind == _TEXT or kind == _STR:
            text = value
        elif kind == _TRIMMED:
            text = value.strip(" \t\n")
        elif kind == _SHARED:
            if not value.isdigit() or int(value) >= len(sst):
                raise _Unread
            out.append(sst[int(value)])  # as calamine reads it (see shared_strings)
            continue
        elif kind == _NUMERIC:
            if not _NUMBER.fullmatch(value):
                raise _Unread
            number = float(value)
            text = str(int(number)) if number.is_integer() else repr(number)
        elif kind in (_DATE, _DATE_1904):
            text = _date_text(value, kind == _DATE_1904)
        elif value in ("0", "1"):
            text = "true" if value == "1" else "false"
        else:
            raise _Unread
        if kind != _TEXT and text != text.strip(" \t\n"):
            raise _Unread  # a value in <v> with spaces around it: how calamine reads it is not known here
        out.append(text)
    return out


_EPOCH = dt.date(1899, 12, 30)


def _date_text(value: str, is_1904: bool) -> str:
    """A whole number of days in a date format, as python-calamine gives it (a date; 1900's false leap
    day kept, as calamine keeps it); a time, a date with a time, or a year past 9999 is calamine's to read."""
    if not _NUMBER.fullmatch(value):
        raise _Unread
    number = float(value)
    if number < 1 or not number.is_integer() or number > 2_958_465:
        raise _Unread
    days = int(number) + (1462 if is_1904 else 0)
    return (_EPOCH + dt.timedelta(days=days if days >= 60 else days + 1)).isoformat()


def _unescape(value: str) -> str:
    """XML's five entities and character references, as quick-xml decodes them."""
    if value.count("&") != len(_ENTITY.findall(value)):
        raise _Unread

    def one(m: re.Match[str]) -> str:
        name, dec, hexa = m.groups()
        if name:
            return _NAMED[name]
        n = int(dec) if dec else int(hexa, 16)
        if not 0 < n <= 0x10FFFF or 0xD800 <= n <= 0xDFFF:
            raise _Unread
        return chr(n)

    return _ENTITY.sub(one, value)
