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
#: Built-in number formats that are not dates or times (calamine: 14-22 and 45-47 are; so may be others
#: a workbook redefines, which is why only these are taken as plain).
_PLAIN_BUILTIN = frozenset([*range(0, 14), *range(37, 45), 48, 49])
#: A custom number format with no letter that could make it a date, a time or a duration.
_PLAIN_CUSTOM = re.compile(r'(?:[0#?.,% E+\-;()]|"[^"a-zA-Z]*")*|General|@', re.IGNORECASE)
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
_TEXT, _SHARED, _NUMERIC, _BOOL, _NONE = range(5)
_KINDS = {"inlineStr": _TEXT, "str": _TEXT, "s": _SHARED, "n": _NUMERIC, "b": _BOOL, "e": _NONE}


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


def plain_styles(zf: zipfile.ZipFile) -> list[bool] | None:
    """For each cell format (``s`` of a cell), whether a number in it is a plain number (no date or time)."""
    try:
        styles = ET.fromstring(zf.read("xl/styles.xml"))
    except KeyError:
        return [True]  # no styles part: every cell is General
    except (ET.ParseError, zipfile.BadZipFile, ValueError):
        return None
    custom = {n.get("numFmtId"): n.get("formatCode", "") for n in styles.iter(f"{_MAIN}numFmt")}
    xfs = styles.find(f"{_MAIN}cellXfs")
    if xfs is None:
        return [True]
    out = []
    for xf in xfs.iter(f"{_MAIN}xf"):
        fmt = xf.get("numFmtId", "0")
        if fmt in custom:
            out.append(_PLAIN_CUSTOM.fullmatch(custom[fmt]) is not None)
        else:
            out.append(fmt.isdigit() and int(fmt) in _PLAIN_BUILTIN)
    return out or [True]


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
        out.append(parts[0].text or "")
    return out


def read_grid(data: bytes, sst: list[str], plain: list[bool], max_cells: int) -> TextGrid | None:
    """The sheet ``data`` (its XML) as text, or None when calamine must read it; :class:`TooLarge` when
    its cells reach beyond ``max_cells`` (rows times columns)."""
    try:
        return _read_grid(data, sst, plain, max_cells)
    except _Unread:
        return None


def _read_grid(data: bytes, sst: list[str], plain: list[bool], max_cells: int) -> TextGrid:
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
    kind = _kinds(a, close + 1, tag_end - closed, plain)
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
    kind = np.where(kind == -1, _TEXT, kind)
    present = np.zeros(len(cell), dtype=bool)
    present[owner] = True
    if not present[(kind == _SHARED) | (kind == _TEXT)].all():
        raise _Unread  # a string cell without its string
    values = np.empty(len(cell), dtype=object)
    values[owner] = _slices(a, vstart, vend)
    texts: list[str] = []
    code = np.zeros(len(cell), dtype=np.int64)
    for k in (_TEXT, _SHARED, _NUMERIC, _BOOL):
        at = np.flatnonzero((kind == k) & present)
        if not len(at):
            continue
        codes, uniques = pd.factorize(values[at])
        code[at] = codes + len(texts)
        texts += _texts(k, uniques.tolist(), sst)
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
    a: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64], plain: list[bool]
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
    kinds = np.array([_kind(a[s : s + n].tobytes(), plain) for s, n in zip(start[first].tolist(), length[first].tolist())],
                     dtype=np.int64)  # fmt: skip
    return kinds[code]


def _kind(attributes: bytes, plain: list[bool]) -> int:
    text = attributes.decode("ascii", "replace")
    found = dict(_ATTRIBUTE.findall(text))
    if _ATTRIBUTE.sub("", text).strip() or set(found) - {"s", "t", "cm", "ph"}:
        raise _Unread
    kind = found.get("t", "n")
    if kind not in _KINDS:
        raise _Unread  # "d" (an ISO date) and anything unknown
    style = found.get("s", "0")
    if kind == "n" and not (style.isdigit() and int(style) < len(plain) and plain[int(style)]):
        raise _Unread  # a number in a date or time format (or an unknown one): calamine makes it a date
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
        if kind == _TEXT:
            text = value
        elif kind == _SHARED:
            if not value.isdigit() or int(value) >= len(sst):
                raise _Unread
            text = sst[int(value)]
        elif kind == _NUMERIC:
            if not _NUMBER.fullmatch(value):
                raise _Unread
            number = float(value)
            text = str(int(number)) if number.is_integer() else repr(number)
        elif value in ("0", "1"):
            text = "true" if value == "1" else "false"
        else:
            raise _Unread
        if text != text.strip(" \t\n"):
            raise _Unread  # calamine trims some strings and not others
        out.append(text)
    return out


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
