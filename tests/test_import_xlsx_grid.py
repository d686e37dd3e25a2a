"""A plain sheet read straight from its XML (importing.xlsxgrid) gives every cell as calamine's reading does.

Each workbook is read twice through ``readers._read_xlsx``: as the import reads it, and with the XML
reader switched off (calamine, as before). The tables (header, cells, row numbers, source) or the
problems must be the same; the tests also say which reader the import used, so that a workbook meant
for the fast reader cannot silently fall back to calamine (nor one meant for calamine be misread).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook

from advance_trial.errors import DataError
from advance_trial.importing import readers, xlsxgrid
from advance_trial.importing.readers import HeaderRule, WorkbookLimits


def _read(raw: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch, **kw):  # type: ignore[no-untyped-def]
    used = []
    real = xlsxgrid.read_grid

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        got = real(*a, **k) if fast else None
        used.append(got is not None)
        return got

    with monkeypatch.context() as m:
        m.setattr(xlsxgrid, "read_grid", spy)
        try:
            t = readers._read_xlsx(raw, "w.xlsx", kw.get("sheet"), kw.get("rule", HeaderRule()),
                                   kw.get("limits", readers.LIMITS))  # fmt: skip
            out = (t.header, t.cells.to_numpy().tolist(), t.rows.tolist(), t.source, t.header_row)
        except DataError as exc:
            out = ("error", [str(p) for p in exc.problems])
    return out, any(used)


def _same(raw: bytes, monkeypatch: pytest.MonkeyPatch, fast: bool = True, **kw):  # type: ignore[no-untyped-def]
    """Both readings of ``raw``; asserts they agree and that the XML reader was used (or not) as ``fast`` says."""
    got, used = _read(raw, True, monkeypatch, **kw)
    want, _ = _read(raw, False, monkeypatch, **kw)
    assert got == want
    assert used is fast
    return got


def _book(rows: list[list[object]], **sheets: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Attendance"
    for r in rows:
        ws.append(r)
    for name, more in sheets.items():
        other = wb.create_sheet(name)
        for r in more:
            other.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _with_sheet_xml(raw: bytes, body: bytes, shared: bytes | None = None) -> bytes:
    """``raw`` with the first sheet's cells replaced by ``body`` (and sharedStrings.xml by ``shared``)."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: data.index(b"<sheetData")] + b"<sheetData>" + body + b"</sheetData>" + (
                    data[data.index(b"</sheetData>") + 12 :] if b"</sheetData>" in data else
                    data[data.index(b"<sheetData/>") + 12 :])  # fmt: skip
            if info.filename == "[Content_Types].xml" and shared is not None and b"sharedStrings" not in data:
                kind = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="' + kind +
                                    b'"/></Types>')  # fmt: skip
            if info.filename == "xl/_rels/workbook.xml.rels" and shared is not None and b"sharedStrings" not in data:
                rel = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdS" Type="' + rel +
                                    b'" Target="sharedStrings.xml"/></Relationships>')  # fmt: skip
            dst.writestr(info, data)
        if shared is not None:
            dst.writestr("xl/sharedStrings.xml", b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                         b'openxmlformats.org/spreadsheetml/2006/main">' + shared + b"</sst>")  # fmt: skip
    return out.getvalue()


HEAD = ["Participant ID", "Session no.", "Attended", "Hours"]


def test_text_numbers_booleans_and_blank_rows_read_as_calamine_reads_them(monkeypatch):
    rows = [HEAD, ["BX001", 1, True, 1.5], ["BX001", 2.0, False, 0], [], ["  BX002 ", "3", "Yes", "2.50"],
            ["BX003", 12345678901, None, -0.25], [None, None, None, None], ["BX004", 1e-7, 1, 1e21]]  # fmt: skip
    got = _same(_book(rows), monkeypatch)
    assert got[1][0] == ["BX001", "1", "true", "1.5"] and got[1][2] == ["BX002", "3", "Yes", "2.50"]
    assert got[2] == [2, 3, 5, 6, 8]


def test_text_that_looks_like_numbers_and_xml_characters_stay_text(monkeypatch):
    rows = [HEAD, ["007", "1.50", "a & b < c > d", "é ü 中"], ["'5", "1e3", '"q"', "line\nbreak"]]
    got = _same(_book(rows), monkeypatch)
    assert got[1][0] == ["007", "1.50", "a & b < c > d", "é ü 中"]


def test_whole_dates_are_read_and_1900s_false_leap_day_kept(monkeypatch):
    rows = [
        HEAD,
        ["BX001", dt.date(2018, 6, 4), dt.date(1900, 1, 1), dt.date(1900, 3, 1)],
        ["BX002", dt.date(9999, 12, 31)],
    ]
    got = _same(_book(rows), monkeypatch)
    assert got[1] == [["BX001", "2018-06-04", "1900-01-01", "1900-03-01"], ["BX002", "9999-12-31", "", ""]]
    for serial in (1, 59, 60, 61, 2_958_465, 2_958_466):  # 60 is Excel's 29 February 1900
        body = b'<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row><row r="2"><c r="A2" s="1"><v>%d</v>' \
               b"</c></row>" % serial  # fmt: skip
        _same(
            _with_sheet_xml(_book([HEAD, ["BX001", dt.date(2018, 6, 4)]]), body), monkeypatch, fast=serial < 2_958_466
        )


def test_times_and_dates_with_times_are_left_to_calamine(monkeypatch):
    got = _same(_book([HEAD, ["BX001", dt.datetime(2018, 6, 4, 10, 30)]]), monkeypatch, fast=False)
    assert got[1][0][1] == "2018-06-04 10:30:00"
    _same(_book([HEAD, ["BX001", dt.time(9, 15)]]), monkeypatch, fast=False)
    _same(_book([HEAD, ["BX001", dt.timedelta(hours=30)]]), monkeypatch, fast=False)


def test_a_1904_workbook_counts_its_dates_from_1904(monkeypatch):
    wb = Workbook()
    wb.epoch = dt.datetime(1904, 1, 1)
    ws = wb.active
    ws.append(HEAD)
    ws.append(["BX001", dt.date(2018, 6, 4)])
    buf = io.BytesIO()
    wb.save(buf)
    assert b"date1904" in zipfile.ZipFile(buf).read("xl/workbook.xml")
    assert _same(buf.getvalue(), monkeypatch)[1] == [["BX001", "2018-06-04", "", ""]]


@pytest.mark.parametrize("fmt", ["dd/mm/yyyy", "[$-809]dd mmmm yyyy", "0.00", '0.0 "kg"', "#,##0;[Red]-#,##0", "mmm-yy",
                                 "General", "@", '"d"0', "[h]:mm", "h:mm AM/PM", "0%", "yyyy-mm-dd;@"])  # fmt: skip
def test_number_formats_are_told_apart_as_calamine_tells_them(fmt, monkeypatch):
    wb = Workbook()
    ws = wb.active
    ws.append(HEAD)
    ws.append(["BX001", 43255, 43255.5, 0.25])
    for c in ("B2", "C2", "D2"):
        ws[c].number_format = fmt
    buf = io.BytesIO()
    wb.save(buf)
    got, used = _read(buf.getvalue(), True, monkeypatch)
    assert got == _read(buf.getvalue(), False, monkeypatch)[0]


def test_a_number_in_a_custom_number_format_is_read_and_so_is_a_whole_date(monkeypatch):
    wb = Workbook()
    ws = wb.active
    ws.append(HEAD)
    ws.append(["BX001", 1, True, 2.5])
    ws["D2"].number_format = "0.00"
    buf = io.BytesIO()
    wb.save(buf)
    _same(buf.getvalue(), monkeypatch)
    ws["D2"].number_format = "dd/mm/yyyy"  # 2.5 days in a date format: a date with a time, calamine's
    buf = io.BytesIO()
    wb.save(buf)
    _same(buf.getvalue(), monkeypatch, fast=False)
    ws["D2"] = 43255
    buf = io.BytesIO()
    wb.save(buf)
    assert _same(buf.getvalue(), monkeypatch)[1] == [["BX001", "1", "true", "2018-06-04"]]


def test_merged_cells_keep_their_value_in_the_first_cell_only(monkeypatch):
    wb = Workbook()
    ws = wb.active
    for r in [HEAD, ["BX001", 1, "Yes", 1], ["BX002", 2, "No", 0]]:
        ws.append(r)
    ws.merge_cells("C2:C3")
    buf = io.BytesIO()
    wb.save(buf)
    got = _same(buf.getvalue(), monkeypatch)
    assert got[1][1][2] == ""


def test_a_header_below_a_title_and_cells_beyond_the_header(monkeypatch):
    _same(_book([["Attendance export"], [], HEAD, ["BX001", 1, "Yes", 1]]), monkeypatch,
          rule=HeaderRule(lambda h: "Participant ID" in h))  # fmt: skip
    got = _same(_book([HEAD, ["BX001", 1, "Yes", 1, None, "stray"]]), monkeypatch)
    assert got[0] == "error" and "beyond the header" in got[1][0]


def test_multiple_sheets_the_named_one_and_a_missing_one(monkeypatch):
    raw = _book([["Read me first"]], Data=[HEAD, ["BX001", 1, "Yes", 1]])
    got = _same(raw, monkeypatch, sheet="data")
    assert got[3] == "xlsx sheet 'Data'"
    got = _same(raw, monkeypatch, fast=False, sheet="nowhere")
    assert got[0] == "error" and "no sheet 'nowhere'" in got[1][0]
    rule = HeaderRule(lambda h: "Participant ID" in h)
    assert _same(raw, monkeypatch, rule=rule)[3] == "xlsx sheet 'Data'"


BASE = _book([HEAD])


@pytest.mark.parametrize(
    ("body", "shared", "fast"),
    [
        # shared strings, booleans, a formula's cached string and number, an error (calamine: empty)
        (
            b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s">'
            b'<v>2</v></c><c r="B2" t="b"><v>1</v></c><c r="C2" t="str"><f>A2&amp;"x"</f><v>BXx</v></c><c r="D2">'
            b'<f>1+1</f><v>2</v></c><c r="E2" t="e"><v>#N/A</v></c></row>',
            b"<si><t>ID</t></si><si><t>Attended</t></si><si><t>BX&amp;1</t></si>",
            True,
        ),
        # cells without a value, a formula without its cached value, gaps, an empty inline string
        (
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c><c r="C1" t="inlineStr"><is><t>X</t></is></c>'
            b'</row><row r="3"><c r="A3" s="0"/><c r="B3"><f>NOW()</f></c><c r="C3" t="inlineStr"><is><t></t></is>'
            b'</c></row><row r="4"><c r="C4"><v>4.5</v></c></row>',
            None,
            True,
        ),
        # space kept by xml:space, entities and character references
        (
            b'<row r="1"><c r="A1" t="inlineStr"><is><t xml:space="preserve">ID</t></is></c></row><row r="2"><c r="A2"'
            b' t="inlineStr"><is><t>&#66;&#x58;&lt;1&gt;&quot;&apos;</t></is></c></row>',
            None,
            True,
        ),
        # rich text, phonetic runs, _x000D_ escapes, a d-typed cell, CDATA, a comment: calamine's
        (b'<row r="1"><c r="A1" t="inlineStr"><is><r><t>I</t></r><r><t>D</t></r></is></c></row>', None, False),
        (
            b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
            b'<si><t>I</t><rPh sb="0" eb="1"><t>x</t></rPh></si>',
            False,
        ),
        (b'<row r="1"><c r="A1" t="inlineStr"><is><t>a_x000D_b</t></is></c></row>', None, False),
        (b'<row r="1"><c r="A1" t="d"><v>2018-06-04</v></c></row>', None, False),
        (b'<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[ID]]></t></is></c></row>', None, False),
        (b'<row r="1"><!-- x --><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row>', None, False),
        # spaces around text: trimmed without xml:space="preserve" (read), around a <v> (calamine's)
        (
            b'<row r="1"><c r="A1" t="inlineStr"><is><t> ID </t></is></c><c r="B1" t="s"><v>0</v></c><c r="C1" t="s">'
            b"<v>1</v></c></row>",
            b'<si><t> a </t></si><si><t xml:space="preserve"> b </t></si>',
            True,
        ),
        (b'<row r="1"><c r="A1" t="str"><v> ID </v></c></row>', None, False),
        # cells out of order, a cell without a reference
        (b'<row r="1"><c r="B1"><v>1</v></c><c r="A1"><v>2</v></c></row>', None, False),
        (b'<row r="1"><c t="inlineStr"><is><t>ID</t></is></c></row>', None, False),
        # more than 15 digits; an empty sheet
        (
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row><row r="2"><c r="A2"><v>12345678901234567'
            b"</v></c></row>",
            None,
            False,
        ),
        (b"", None, False),
    ],
)
def test_hand_written_sheets_read_as_calamine_reads_them(body, shared, fast, monkeypatch):
    _same(_with_sheet_xml(BASE, body, shared), monkeypatch, fast=fast)


def test_pretty_printed_xml_is_read(monkeypatch):
    body = b'\n<row r="1">\n  <c r="A1" t="inlineStr">\n    <is><t>ID</t></is>\n  </c>\n</row>\n<row r="2">' \
           b'<c r="A2" s="0">\n<v>7</v>\n</c></row>\n'  # fmt: skip
    assert _same(_with_sheet_xml(BASE, body), monkeypatch)[1] == [["7"]]


def test_a_sheet_reaching_too_far_is_refused_with_the_checks_words(monkeypatch):
    body = b'<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row><row r="400"><c r="ZZ400"><v>1</v>' \
           b"</c></row>"  # fmt: skip
    limits = WorkbookLimits(max_cells=10_000)
    got = _same(_with_sheet_xml(BASE, body), monkeypatch, fast=False, limits=limits)
    assert got == ("error", ["w.xlsx: refused: xl/worksheets/sheet1.xml declares cells up to row 400, column 702 "
                             "(280,800 cells; limit 10,000)"])  # fmt: skip


def test_a_huge_declared_dimension_is_refused_though_the_cells_are_few(monkeypatch):
    raw = _with_sheet_xml(BASE, b'<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row>')
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:D1"/>', b'<dimension ref="A1:XFD1048576"/>')
                assert b"XFD1048576" in data
            dst.writestr(info, data)
    got = _same(out.getvalue(), monkeypatch)  # read, then measured: the dimension counts
    assert got == ("error", ["w.xlsx: refused: xl/worksheets/sheet1.xml declares cells up to row 1,048,576, "
                             "column 16,384 (17,179,869,184 cells; limit 20,000,000)"])  # fmt: skip


def test_a_wide_cell_early_and_a_far_row_late_are_measured_together(monkeypatch):
    """Before: a block of the sheet with no reference beyond column Z or row 99,999 was not measured, so a
    wide cell in the first block and a far row in the next passed the check (here 702 x 60,000 cells, over the
    limit of 20 million: calamine would have allocated them)."""
    wide = b'<row r="1"><c r="ZZ1"><v>1</v></c></row>'
    filler = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(2, 60_001))
    raw = _with_sheet_xml(BASE, wide + filler)
    with pytest.raises(DataError, match="declares cells up to row 60,000, column 702"):
        readers._read_xlsx(raw, "w.xlsx", None, HeaderRule(), WorkbookLimits())


@pytest.mark.parametrize("raw", [b"PK\x03\x04 not a zip at all", b"PK\x03\x04" + bytes(300)])
def test_a_file_that_is_not_a_zip_is_one_problem(raw, monkeypatch):
    got = _same(raw, monkeypatch, fast=False)
    assert got[0] == "error" and "not a readable Excel workbook" in got[1][0]


@pytest.mark.parametrize("parts", [1, 3])
def test_random_grids_read_the_same(parts, monkeypatch):
    """Also cut into parts read side by side (as a large sheet is), at rows' ends."""
    if parts > 1:
        monkeypatch.setattr(xlsxgrid, "_PART_BYTES", 300)
        monkeypatch.setattr(xlsxgrid, "_PARTS", parts)
        monkeypatch.setattr("os.cpu_count", lambda: parts)
    rng = np.random.default_rng(7)
    pool: list[object] = ["a", "B 2", "x&y", "ünï", "0012", "1.0", "true", 0, 1, -3, 2.5, 1e-9, 123456.789, True,
                          False, None, None, None]  # fmt: skip
    for _ in range(20):
        width = int(rng.integers(1, 6))
        rows = [[f"h{j}" for j in range(width)]]
        rows += [[pool[int(i)] for i in rng.integers(0, len(pool), width)] for _ in range(int(rng.integers(0, 60)))]
        _same(_book(rows), monkeypatch)


def test_the_sample_export_is_read_by_the_xml_reader(monkeypatch):
    from tests.conftest import SAMPLES

    monkeypatch.setattr(xlsxgrid, "_PART_BYTES", 5000)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    raw = Path(SAMPLES / "advance-feasibility" / "site-exports" / "london-attendance.xlsx").read_bytes()
    _same(raw, monkeypatch, rule=HeaderRule(lambda h: len(h) > 2))


def test_a_large_sheet_is_cut_at_rows_ends(monkeypatch):
    monkeypatch.setattr(xlsxgrid, "_PART_BYTES", 10_000)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setattr(xlsxgrid, "_PARTS", 4)
    data = b"<sheetData>" + b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 2000)) + \
        b"</sheetData>"  # fmt: skip
    start, end = len(b"<sheetData>"), data.index(b"</sheetData>")
    cuts = xlsxgrid._cuts(data, start, end)
    assert len(cuts) == 3 and all(data[c - 6 : c] == b"</row>" and data[c : c + 5] == b"<row " for c in cuts)
    wb = xlsxgrid.Book([], [], False)
    whole = xlsxgrid.read_grid(data, wb, 10**9)
    monkeypatch.setattr(xlsxgrid, "_PARTS", 1)
    assert whole is not None and whole.rows() == xlsxgrid.read_grid(data, wb, 10**9).rows() == [["1"]] * 1999


def test_cells_that_start_below_and_right_of_a1_keep_their_row_numbers(monkeypatch):
    body = b'<row r="3"><c r="C3" t="inlineStr"><is><t>ID</t></is></c><c r="D3" t="inlineStr"><is><t>N</t></is></c>' \
           b'</row><row r="5"><c r="C5" t="inlineStr"><is><t>BX1</t></is></c><c r="D5"><v>2</v></c></row>'  # fmt: skip
    got = _same(_with_sheet_xml(BASE, body), monkeypatch, rule=HeaderRule(lambda h: "ID" in h))
    where = "w.xlsx, sheet 'Attendance', row 3, column"
    assert got == ("error", [f"{where} 'column {j}': a column without a header" for j in (1, 2)])


@pytest.mark.parametrize(
    ("cells", "fast"),
    [
        # a sheet calamine reads (an ISO date) is measured before it reads it
        (b'<row r="1"><c r="A1" t="d"><v>2018-06-04</v></c></row><row r="400"><c r="ZZ400"><v>1</v></c></row>', False),
        # text that reads like a far reference counts, as the zip check has always counted it
        (b'<row r="1"><c r="A1" t="inlineStr"><is><t> r="ZZ400"</t></is></c></row>', True),
    ],
)
def test_the_only_sheet_is_measured_whichever_reader_reads_it(cells, fast, monkeypatch):
    limits = WorkbookLimits(max_cells=10_000)
    got = _same(_with_sheet_xml(BASE, cells), monkeypatch, fast=fast, limits=limits)
    assert got == ("error", ["w.xlsx: refused: xl/worksheets/sheet1.xml declares cells up to row 400, column 702 "
                             "(280,800 cells; limit 10,000)"])  # fmt: skip
