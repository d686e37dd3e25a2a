"""An Excel sheet's cells read straight from its XML with whole-array operations, for plain sheets.

calamine parses a sheet into typed cells in Rust; handing them to Python and turning them into text
costs about as much again, and the parse itself is most of a large import's time. Exports hold
text, numbers, booleans and dates in plain cells, in order: this reader finds every cell, its
reference, its type and its value with numpy over the sheet's bytes, and converts each distinct
value once; a large sheet is read in parts side by side (numpy lets go of the interpreter's lock).
It reads only what it can read exactly as calamine does (each value's text as
``readers._cell_text`` gives it for calamine's value; the tests compare the two readers cell by
cell). Anything else returns None and the sheet is read by calamine: a number in a time or
duration format, or in a date format but not a whole day; a ``d``-typed cell; rich or phonetic
text; an escape calamine decodes (``_x000D_``); CDATA, a comment, a carriage return, a namespace
prefix; cells without a reference or out of order; a ``<v>`` text with spaces around it; a number
of more than 15 digits.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
#: What stops this reader in the shared strings: CDATA, comments, carriage returns, calamine's
#: ``_xHHHH_`` escapes, rich text runs and phonetic runs, empty elements.
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
    cells : int
        How many cells the sheet's XML holds (a reference each).
    """

    codes: npt.NDArray[np.int64]
    texts: npt.NDArray[np.object_]
    cells: int = 0

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
        elif ch in "pm/PM" and ap and brackets == 0 or ch in "dmhysDMHYS" and not ap and brackets == 0:
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
    # a window may look past the end of the cells: into the rest of the document, else into padding
    a = np.frombuffer(data if len(data) - end > 2 * _WIDTH else data + b"\0" * 2 * _WIDTH, dtype=np.uint8)
    cuts = [start, *_cuts(data, start, end), end]
    if len(cuts) == 2:
        parts = [_part(a, start, end, wb)]
    else:  # numpy and pandas let go of the interpreter lock: the parts are read side by side
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(cuts) - 1) as pool:
            parts = list(pool.map(lambda i: _part(a, cuts[i], cuts[i + 1], wb), range(len(cuts) - 1)))
    col = np.concatenate([p[0] for p in parts])
    row = np.concatenate([p[1] for p in parts])
    texts: list[str] = []
    codes = []
    for _, _, code, part_texts in parts:
        codes.append(np.where(code < 0, -1, code + len(texts)))
        texts += part_texts
    cell_code = np.concatenate(codes)
    cell_code[cell_code < 0] = len(texts)  # "" where there is no value
    ncols, nrows = int(col.max()), int(row.max())
    if nrows * ncols > max_cells:
        raise TooLarge(nrows, ncols)
    linear = (row - 1) * ncols + (col - 1)
    if len(linear) > 1 and not (np.diff(linear) > 0).all():
        raise _Unread  # cells repeated or out of order
    grid = np.full(nrows * ncols, len(texts), dtype=np.int64)
    grid[linear] = cell_code
    return TextGrid(grid.reshape(-1, ncols), np.array([*texts, ""], dtype=object), len(linear))


#: A sheet's cells larger than this are read in parts, one a core (up to :data:`_PARTS`).
_PART_BYTES = 4 << 20
_PARTS = 2


def _cuts(data: bytes, start: int, end: int) -> list[int]:
    """Where the cells are cut into parts read side by side: just after a row's end."""
    import os

    n = min(_PARTS, os.cpu_count() or 1, max(1, (end - start) // _PART_BYTES))
    cuts: list[int] = []
    for k in range(1, n):
        at = data.find(b"</row>", start + (end - start) * k // n, end)
        if at < 0 or (cuts and at + 6 <= cuts[-1]):
            break
        cuts.append(at + 6)
    return [c for c in cuts if c < end]


def _part(
    a: npt.NDArray[np.uint8], start: int, end: int, wb: Book
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """The cells between ``start`` and ``end``: each one's column, row and text's position among the
    part's distinct texts (-1: no value), and those texts."""
    lt = np.flatnonzero(a[start:end] == ord("<")) + start
    if not len(lt):
        raise _Unread
    b1 = a[1:][lt]  # the byte after each '<' (a shifted view: no array of positions made)
    _known_tags(a, lt, b1)
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
    # the values: <v>...</v>, or <t>...</t> (or <t xml:space="preserve">) in an inline string
    vi = np.flatnonzero((b1 == ord("v")) | (b1 == ord("t")))
    vtag = lt[vi]
    owner = np.searchsorted(ci, vi) - 1
    if len(vtag) and (owner[0] < 0 or not (np.diff(owner) > 0).all() or closed[owner].any()):
        raise _Unread  # a value outside a cell, or two values in one
    in_t = a[1:][vtag] == ord("t")
    if not np.isin(a[2:][vtag], np.frombuffer(b" >", dtype=np.uint8)).all():
        raise _Unread  # <v> or <t>, or <t xml:space="preserve">: not <v/> nor <text>
    if (in_t != (kind[owner] == -1)).any():
        raise _Unread  # an inline string's text is in <t>, every other value in <v>
    tagged = a[2:][vtag] == ord(" ")
    vstart = vtag + np.where(tagged, len(_PRESERVE), 3)
    if tagged.any() and not (_at(a, vtag[tagged] + 2, _PRESERVE[2:]) & in_t[tagged]).all():
        raise _Unread
    vend = lt[vi + 1]
    if not ((a[vstart - 1] == ord(">")) & (a[1:][vend] == ord("/")) & (a[2:][vend] == a[1:][vtag])).all():
        raise _Unread
    kind[owner[(kind[owner] == -1) & ~tagged]] = _TRIMMED  # calamine trims <t> without xml:space="preserve"
    kind[kind == -1] = _TEXT
    present = np.zeros(len(cell), dtype=bool)
    present[owner] = True
    if not present[kind == _SHARED].all():
        raise _Unread  # a shared string cell without its string's number (an empty inline string is "")
    code, texts = _values(a, kind[owner], vstart, vend, wb.sst)
    cell_code = np.full(len(cell), -1, dtype=np.int64)
    cell_code[owner] = code
    return col, row, cell_code, texts


#: How many bytes of a reference, of a cell's attributes, of a short value are looked at as one row.
_WIDTH = 32
_SHORT = 16


def _windows(a: npt.NDArray[np.uint8], width: int) -> npt.NDArray[np.uint8]:
    """Every run of ``width`` bytes of ``a`` as a row (a view: nothing copied)."""
    return np.lib.stride_tricks.as_strided(a, shape=(len(a) - width + 1, width), strides=(1, 1), writeable=False)


def _known_tags(a: npt.NDArray[np.uint8], lt: npt.NDArray[np.int64], b1: npt.NDArray[np.uint8]) -> None:
    """Only <row>, <c>, <f>, <v>, <is> and <t> open in the cells: anything else (a comment, CDATA, rich
    or phonetic text, an empty <v/>, a namespace prefix) is calamine's to read. An element's end needs
    no look: its start was looked at; <c is looked at with its reference, <v and <t with their values."""
    counts = np.bincount(b1, minlength=256)
    if counts.sum() != counts[[ord(ch) for ch in "/cfvtir"]].sum():
        raise _Unread
    for ch, follows in (("r", b"o"), ("i", b"s"), ("f", b" >/")):
        if counts[ord(ch)]:
            second = a[2:][lt[b1 == ord(ch)]]
            if not np.isin(second, np.frombuffer(follows, dtype=np.uint8)).all():
                raise _Unread
    if counts[ord("i")] and not (a[3:][lt[b1 == ord("i")]] == ord(">")).all():
        raise _Unread


def _groups(
    rows: npt.NDArray[np.uint8], extra: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Rows of bytes (and a number with each) grouped by equality: each row's group, and each group's first row.

    Hashed eight bytes at a time, then checked byte for byte against the group's first row (a hash
    shared by two different rows leaves the sheet to calamine)."""
    words = np.ascontiguousarray(rows).view(np.uint64)
    h = extra.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for k in range(words.shape[1]):
        h = (h ^ words[:, k]) * np.uint64(0x100000001B3)
    codes, uniques = pd.factorize(h)
    first = np.zeros(len(uniques), dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes), dtype=np.intp)[::-1]
    if not ((rows == rows[first][codes]).all() and (extra == extra[first][codes]).all()):
        raise _Unread
    return codes, first


def _values(
    a: npt.NDArray[np.uint8], kind: npt.NDArray[np.int64], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64],
    sst: list[str],
) -> tuple[npt.NDArray[np.int64], list[str]]:  # fmt: skip
    """Each value's position among the distinct texts, and those texts (each distinct kind and value
    converted once). Short values are grouped as rows of bytes; longer ones as bytes objects."""
    length = end - start
    short = length <= _SHORT
    code = np.zeros(len(kind), dtype=np.int64)
    texts: list[str] = []
    at = np.flatnonzero(short)
    if len(at):
        rows = _windows(a, _SHORT)[start[at]] * (np.arange(_SHORT) < length[at, None])
        codes, first = _groups(rows, kind[at] * 64 + length[at])
        code[at] = codes
        firsts = zip(kind[at[first]].tolist(), start[at[first]].tolist(), end[at[first]].tolist(), strict=True)
        texts = [_text(int(k), a[s:e].tobytes(), sst) for k, s, e in firsts]
    at = np.flatnonzero(~short)
    if len(at):
        each = zip(kind[at].tolist(), start[at].tolist(), end[at].tolist(), strict=True)
        keys = [bytes([k]) + a[s:e].tobytes() for k, s, e in each]
        codes, uniques = pd.factorize(np.array(keys, dtype=object))
        code[at] = codes + len(texts)
        texts += [_text(u[0], u[1:], sst) for u in uniques.tolist()]
    return code, texts


def _at(a: npt.NDArray[np.uint8], where: npt.NDArray[np.int64], literal: bytes) -> npt.NDArray[np.bool_]:
    """Whether ``literal`` stands at each position."""
    ok = np.ones(len(where), dtype=bool)
    for i, ch in enumerate(literal):
        ok &= a[i:][where] == ch
    return ok


def _references(
    a: npt.NDArray[np.uint8], where: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The column and row (1-based) of each reference starting at ``where`` (``B12"``), and its closing quote."""
    g = _windows(a, 12)[where]
    letter = (g >= ord("A")) & (g <= ord("Z"))
    nlet = np.argmin(letter, axis=1)
    col = np.zeros(len(where), dtype=np.int64)
    row = np.zeros(len(where), dtype=np.int64)
    ndig = np.zeros(len(where), dtype=np.int64)
    lengths = np.unique(nlet).tolist()
    for n in lengths:  # one, two or three letters
        if not 1 <= n <= 3:
            raise _Unread
        at = np.flatnonzero(nlet == n) if len(lengths) > 1 else None
        part = g[at] if at is not None else g
        c = np.zeros(len(part), dtype=np.int64)
        for k in range(n):
            c = c * 26 + part[:, k] - 64
        digits = part[:, n : n + 8]
        count = np.argmin((digits >= ord("0")) & (digits <= ord("9")), axis=1)  # 8 digits (or none): 0, refused
        r = np.zeros(len(part), dtype=np.int64)
        for k in range(7):
            r = np.where(k < count, r * 10 + digits[:, k] - 48, r)
        if at is None:
            col, row, ndig = c, r, count
        else:
            col[at], row[at], ndig[at] = c, r, count
    quote = nlet + ndig
    first = g[np.arange(len(g)), nlet]
    if not ((ndig >= 1) & (first != ord("0")) & (g[np.arange(len(g)), np.minimum(quote, 11)] == ord('"'))).all():
        raise _Unread
    return col, row, where + quote


def _kinds(
    a: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64], wb: Book
) -> npt.NDArray[np.int64]:
    """Each cell's kind from the attributes after its reference (-1: an inline string)."""
    length = end - start
    if not len(length) or length.min() < 0 or length.max() > _WIDTH:
        raise _Unread
    width = 16 if length.max() <= 16 else _WIDTH
    rows = _windows(a, width)[start] * (np.arange(width) < length[:, None])
    codes, first = _groups(rows, length)
    firsts = zip(first.tolist(), length[first].tolist(), strict=True)
    kinds = np.array([_kind(rows[i, :n].tobytes(), wb.formats, wb.is_1904) for i, n in firsts], dtype=np.int64)
    return kinds[codes]


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


def _text(kind: int, raw: bytes, sst: list[str]) -> str:
    """The text of one value of one kind, as ``readers._cell_text`` gives it for calamine's value."""
    if kind == _NONE:
        return ""  # an error (#N/A): python-calamine gives an empty cell
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
    if kind in (_TEXT, _STR):
        text = value
    elif kind == _TRIMMED:
        text = value.strip(" \t\n")
    elif kind == _SHARED:
        if not value.isdigit() or int(value) >= len(sst):
            raise _Unread
        return sst[int(value)]  # as calamine reads it (see shared_strings)
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
    return text


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
