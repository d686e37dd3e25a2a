"""The report as a Word document a committee expects: a title page (trial, version, data cut-off, open or
closed report, confidentiality), a running header and a "Page X of Y" footer (Word's PAGE and NUMPAGES
fields), a table of contents (a TOC field, filled with the headings so it reads before Word updates it),
then the report's blocks: tables in the landscape sections :func:`layout.landscape` groups them into,
their notes smaller than their text, figures at the size they were drawn (at most the text width).

Byte-reproducible: fixed core-property dates and zip entry times.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any
from xml.sax.saxutils import escape

from advance_trial.output.render.layout import (
    CELL_PADDING_TWIPS,
    CHAR_TWIPS,
    cell_text,
    fit_to_page,
    landscape,
    png_size,
    tall_figures,
)
from advance_trial.output.render.report import STATUS_COLOURS, STATUS_COLUMNS, Block, Report

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Characters XML 1.0 cannot hold (a cell holding one would make the document unreadable).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#: The report's type: Arial (Liberation Sans, its metric twin, where Arial is not installed), 10 points.
FONT = "Arial"
#: The text width of a portrait A4 page between 20 mm margins, in inches (figures are drawn at 6.3).
TEXT_INCHES = 6.5
#: The tallest a figure may be drawn (portrait, landscape), in inches: the text height less a heading's and a
#: caption's room.
TEXT_HEIGHT_INCHES = {False: 8.9, True: 5.6}


def _field(instruction: str, shown: str) -> str:
    """A simple field's runs (``PAGE``, ``NUMPAGES``), with the text shown until the reader updates it."""
    return ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> {instruction} </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
            f"<w:r><w:t>{shown}</w:t></w:r>"
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>')  # fmt: skip


def _text(text: str, size: int = 0, bold: bool = False, colour: str = "") -> str:
    """One run of plain text (``size`` in half-points)."""
    props = ("<w:b/>" if bold else "") + (f'<w:color w:val="{colour}"/>' if colour else "") + \
        (f'<w:sz w:val="{size}"/>' if size else "")  # fmt: skip
    return f'<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{escape(_NOT_XML.sub("", text))}</w:t></w:r>'


def _para(runs: str, style: str = "", align: str = "", after: int | None = None, before: int | None = None,
          indent: int = 0) -> str:  # fmt: skip
    """A paragraph (its properties in the order Word's schema wants them); spacing and indent in twips."""
    spacing = (f' w:before="{before}"' if before is not None else "") + (
        f' w:after="{after}"' if after is not None else ""
    )
    props = (
        (f'<w:pStyle w:val="{style}"/>' if style else "")
        + (f"<w:spacing{spacing}/>" if spacing else "")
        + (f'<w:ind w:left="{indent}"/>' if indent else "")
        + (f'<w:jc w:val="{align}"/>' if align else "")
    )
    return f'<w:p xmlns:w="{_W}"><w:pPr>{props}</w:pPr>{runs}</w:p>'  # fmt: skip


def _page_break() -> str:
    return f'<w:p xmlns:w="{_W}"><w:r><w:br w:type="page"/></w:r></w:p>'


def _toc(headings: list[tuple[int, str]]) -> list[str]:
    """The table of contents: a TOC field over heading levels 1 to 3, its cached result the headings
    themselves (so that it reads before Word or LibreOffice updates it, which adds the page numbers)."""
    begin = ('<w:r><w:fldChar w:fldCharType="begin" w:dirty="true"/></w:r>'
             '<w:r><w:instrText xml:space="preserve"> TOC \\o "1-3" \\h \\z \\u </w:instrText></w:r>'
             '<w:r><w:fldChar w:fldCharType="separate"/></w:r>')  # fmt: skip
    end = '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    out = []
    for k, (level, text) in enumerate(headings):
        out.append(_para((begin if k == 0 else "") + _text(text, 20) + (end if k == len(headings) - 1 else ""),
                         after=40, indent=360 * max(level - 2, 0)))  # fmt: skip
    return out or [_para(begin + end)]


def _set_fonts(doc: Any) -> None:
    """Every style the report uses in its one sans-serif type; the body at 10 points."""
    from docx.shared import Pt, RGBColor

    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "Caption"):
        style = doc.styles[name]
        style.font.name = FONT
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(f"{{{_W}}}rFonts")
        if fonts is not None:
            for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
                fonts.attrib.pop(f"{{{_W}}}{attr}", None)
            for attr in ("ascii", "hAnsi", "cs"):
                fonts.set(f"{{{_W}}}{attr}", FONT)
    doc.styles["Normal"].font.size = Pt(10)
    doc.styles["Caption"].font.size = Pt(9)
    doc.styles["Caption"].font.italic = False
    doc.styles["Caption"].font.color.rgb = RGBColor(0x1D, 0x29, 0x39)
    for name, size in (("Title", 24), ("Heading 1", 15), ("Heading 2", 13), ("Heading 3", 11)):
        doc.styles[name].font.size = Pt(size)


def _header_footer(doc: Any, report: Report) -> None:
    """The running header (the report's title and whether it is open or closed) and the footer (the
    confidentiality line and "Page X of Y"), on every page but the title page."""
    from docx.oxml import parse_xml

    sec = doc.sections[0]
    sec.different_first_page_header_footer = True
    header = sec.header._element
    for p in list(header):
        header.remove(p)
    header.append(parse_xml(_para(_text(f"{report.header}", 16, colour="475467"), align="right")))
    footer = sec.footer._element
    for p in list(footer):
        footer.remove(p)
    if report.confidentiality:
        footer.append(parse_xml(_para(_text(report.confidentiality, 14, colour="475467"), align="center",
                                      after=0)))  # fmt: skip
    page = _text("Page ", 16) + _field("PAGE", "1") + _text(" of ", 16) + _field("NUMPAGES", "1")
    footer.append(parse_xml(_para(page, align="center", after=0)))


def to_docx(report: Report) -> bytes:
    """A Word document (figures as PNG), made byte-reproducible: fixed core-property dates and zip times."""
    from docx import Document
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.oxml import parse_xml
    from docx.shared import Inches, Mm

    doc = Document()
    props = doc.core_properties
    day = report.cut_off or dt.date(2000, 1, 1)
    fixed = dt.datetime(day.year, day.month, day.day)
    props.created = props.modified = props.last_printed = fixed
    props.author = props.last_modified_by = "advance-trial"
    props.revision = 1
    props.title = report.title
    _set_fonts(doc)
    style = doc.styles["Light Grid Accent 1"].style_id
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)  # A4
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Mm(20))
    _header_footer(doc, report)
    body = doc.element.body

    # the title page
    body._insert_p(parse_xml(_para("", after=2400)))
    body._insert_p(parse_xml(_para(_text(report.title), style="Title")))
    for line in report.front:
        body._insert_p(parse_xml(_para(_text(line, 24), after=120)))
    if report.confidentiality:
        body._insert_p(parse_xml(_para(_text(report.confidentiality, 22, bold=True, colour="B42318"),
                                       before=720)))  # fmt: skip
    body._insert_p(parse_xml(_page_break()))
    # the table of contents
    blocks = fit_to_page(report.blocks)
    body._insert_p(parse_xml(_para(_text("Contents", 30, bold=True, colour="1F4E79"), after=200)))
    for p in _toc([(b.level, b.text) for b in blocks if b.kind == "heading"]):
        body._insert_p(parse_xml(p))
    body._insert_p(parse_xml(_page_break()))

    def orient(landscape: bool) -> int:
        """Start a new section in the orientation asked for (when it differs); its text width in twips."""
        current = doc.sections[-1]
        if (current.orientation == WD_ORIENT.LANDSCAPE) != landscape:
            current = doc.add_section(WD_SECTION.NEW_PAGE)
            current.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
            current.page_width, current.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
            current.different_first_page_header_footer = False
        usable = int(current.page_width or 0) - int(current.left_margin or 0) - int(current.right_margin or 0)
        return usable // 635  # EMU to twips

    flags = landscape(blocks, tall_figures(report.figures))
    for k, b in enumerate(blocks):
        width = orient(flags[k])
        if b.kind == "pagebreak":
            if k + 1 < len(blocks) and flags[k + 1] == flags[k]:  # a change of orientation starts a page anyway
                body._insert_p(parse_xml(_page_break()))
        elif b.kind == "heading":
            doc.add_heading(b.text, level=min(b.level, 3))
        elif b.kind == "paragraph":
            doc.add_paragraph(b.text)
        elif b.kind == "figure":
            png = report.figures[b.figure]["png"]
            w, h = png_size(png)  # at most the text width, and short enough to leave room for its caption
            tall = (TEXT_HEIGHT_INCHES[flags[k]]) * w / h
            doc.add_picture(io.BytesIO(png), width=Inches(min(w, TEXT_INCHES if not flags[k] else 9.0, tall)))
            doc.paragraphs[-1].paragraph_format.keep_with_next = True
            body._insert_p(parse_xml(_caption_xml("Figure", b)))
        elif b.kind == "table" and b.table is not None:
            body._insert_p(parse_xml(_caption_xml("Table", b)))
            df = b.table.data
            rows = [list(b.columns)]
            bold: set[tuple[int, int]] = set()
            for i, r in enumerate(df[list(b.columns)].itertuples(index=False), 1):
                rows.append([cell_text(v) for v in r])
                bold |= {(i, j) for j, c in enumerate(b.columns) if c in STATUS_COLUMNS and str(r[j]) in STATUS_COLOURS}
            body._insert_tbl(parse_xml(_table_xml(rows, bold, style, column_widths(rows, width))))
            for n, note in enumerate(b.table.footnotes):  # notes follow each table, smaller than its 8 points
                last = n == len(b.table.footnotes) - 1
                body._insert_p(parse_xml(_para(_text(note, 13, colour="475467"), after=160 if last else 0,
                                               before=40 if n == 0 else 0)))  # fmt: skip
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def _caption_xml(label: str, b: Block) -> str:
    """A Word caption: the Caption style, its number a ``SEQ`` field as Word's Insert Caption writes it
    (so that Word's list of tables and cross-references find it), kept with the table that follows."""
    keep = "<w:keepNext/>" if label == "Table" else ""
    text = escape(_NOT_XML.sub("", b.text))
    return (f'<w:p xmlns:w="{_W}"><w:pPr><w:pStyle w:val="Caption"/>{keep}</w:pPr>'
            f'<w:r><w:t xml:space="preserve">{label} </w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> SEQ {label} \\* ARABIC </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
            f"<w:r><w:t>{b.number}</w:t></w:r>"
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
            f'<w:r><w:t xml:space="preserve">. {text}</w:t></w:r></w:p>')  # fmt: skip


def _run_xml(text: str, coloured: str | None) -> str:
    """One run of text: line breaks and tabs as Word's own elements, ``xml:space`` where spaces matter."""
    props = (f'<w:rPr><w:b/><w:color w:val="{coloured}"/><w:sz w:val="16"/></w:rPr>' if coloured
             else '<w:rPr><w:sz w:val="16"/></w:rPr>')  # fmt: skip
    parts = []
    for k, line in enumerate(_NOT_XML.sub("", text).split("\n")):
        if k:
            parts.append("<w:br/>")
        for m, piece in enumerate(line.split("\t")):
            if m:
                parts.append("<w:tab/>")
            if piece:
                keep = ' xml:space="preserve"' if piece != piece.strip() else ""
                parts.append(f"<w:t{keep}>{escape(piece)}</w:t>")
    return f"<w:r>{props}{''.join(parts)}</w:r>" if parts else ""


def column_widths(rows: list[list[str]], total: int) -> list[int]:
    """Column widths in twips that fit ``total``: each column at least its longest word (so that no word is
    split), the rest of the width shared max-min fairly (the columns of short cells whole on one line first,
    the long ones sharing what is left equally)."""
    words = [max((len(w) for r in rows for w in r[j].split()), default=1) for j in range(len(rows[0]))]
    longest = [max((len(r[j]) for r in rows), default=1) for j in range(len(rows[0]))]
    least = [w * CHAR_TWIPS + CELL_PADDING_TWIPS for w in words]
    spare = total - sum(least)
    if spare <= 0:
        return least  # wider than the page: a landscape section is the caller's remedy
    extra = [max(n - w, 0) * CHAR_TWIPS for n, w in zip(longest, words, strict=True)]
    share = [0] * len(least)
    order = sorted(range(len(least)), key=lambda j: extra[j])
    for k, j in enumerate(order):
        share[j] = min(extra[j], spare // (len(order) - k))
        spare -= share[j]
    return [a + b for a, b in zip(least, share, strict=True)]


def _table_xml(rows: list[list[str]], bold: set[tuple[int, int]], style: str, widths: list[int]) -> str:
    """A whole Word table as XML, as python-docx's ``add_table`` builds it cell by cell (which took a
    third of the run's time for the report's 300-odd rows): styled, 8-point text, columns as wide as
    their words need, the header row repeated on every page, status cells bold in their colour."""
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, text in enumerate(row):
            colour = STATUS_COLOURS[text].lstrip("#").upper() if (i, j) in bold else None
            cell_pr = f'<w:tcPr><w:tcW w:type="dxa" w:w="{widths[j]}"/></w:tcPr>'
            tight = '<w:pPr><w:spacing w:after="0"/></w:pPr>'
            cells.append(f"<w:tc>{cell_pr}<w:p>{tight}{_run_xml(text, colour)}</w:p></w:tc>")
        head = "<w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>" if i == 0 else "<w:trPr><w:cantSplit/></w:trPr>"
        body.append(f"<w:tr>{head}{''.join(cells)}</w:tr>")
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    return (
        f'<w:tbl xmlns:w="{_W}"><w:tblPr><w:tblStyle w:val="{style}"/>'
        f'<w:tblW w:type="dxa" w:w="{sum(widths)}"/><w:tblLayout w:type="fixed"/>'
        '<w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0" w:noHBand="0" '
        f'w:noVBand="1" w:val="04A0"/></w:tblPr><w:tblGrid>{grid}</w:tblGrid>{"".join(body)}</w:tbl>'
    )


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with every entry's time fixed and in a stable order."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name))
    return out.getvalue()
