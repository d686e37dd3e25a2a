"""The report as one self-contained HTML page: figures inline as SVG (their text as text), styles inline, no
scripts and no external requests. It reads offline and prints as the Word file does: a title page, a table of
contents, the summary on a page of its own, a running header and "Page X of Y" in the page margins, wide
tables on landscape pages (grouped as in Word), and every heading kept with what follows it."""

from __future__ import annotations

import html
import re

import pandas as pd

from advance_trial.output.render.layout import cell_text, fit_to_page, landscape, tall_figures
from advance_trial.output.render.report import STATUS_COLOURS, STATUS_COLUMNS, Block, Report

_CSS = """
body{font-family:Arial,"Liberation Sans",Helvetica,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1d2939;line-height:1.45}
h1{font-size:1.6rem;color:#1f4e79;margin:0 0 1rem}h2{font-size:1.2rem;margin-top:2rem;
color:#1f4e79}h3{font-size:1rem}table{border-collapse:collapse;margin:.5rem 0 .3rem;font-size:.82rem}
th,td{border-bottom:1px solid #d0d5dd;padding:.2rem .45rem;text-align:left}td.n{text-align:right;
font-variant-numeric:tabular-nums}th{background:#f2f4f7}.notes{font-size:.72rem;color:#475467;margin:0 0 1rem}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0;color:#1d2939}
figcaption{font-size:.85rem;font-weight:600}td.indent{padding-left:1.4rem}.status{font-weight:600}
.wide{overflow-x:auto}.title-page{border-bottom:2px solid #1f4e79;padding-bottom:1rem;margin-bottom:1rem}
.title-page p{margin:.3rem 0}.confidential{color:#b42318;font-weight:700;margin-top:1.5rem!important}
nav.toc ol{list-style:none;padding-left:0}nav.toc ol ol{padding-left:1.2rem}nav.toc a{color:#1d2939}
@page{size:A4;margin:18mm 15mm;@top-right{content:HEADER;font:8pt Arial,sans-serif;color:#475467}
@bottom-left{content:CONFIDENTIAL;font:7pt Arial,sans-serif;color:#475467}
@bottom-right{content:"Page " counter(page) " of " counter(pages);font:8pt Arial,sans-serif;color:#475467}}
@page:first{@top-right{content:none}@bottom-left{content:none}@bottom-right{content:none}}
@page wide{size:A4 landscape;margin:15mm 12mm}
@media print{body{margin:0;max-width:none;font-size:10pt}h2,h3{break-after:avoid;page-break-after:avoid}
.keep{break-inside:avoid;page-break-inside:avoid}caption{break-after:avoid}figure{break-inside:avoid}
.title-page{border:none;padding-top:60mm;break-after:page}.title-page h1{font-size:24pt}
.title-page p{font-size:12pt}nav.toc{break-after:page}.page-break{break-after:page}
thead{display:table-header-group}tr{break-inside:avoid;page-break-inside:avoid}
table{font-size:7.5pt;width:100%;table-layout:auto}.notes{font-size:6.5pt}
th,td{padding:.1rem .25rem;overflow-wrap:normal;word-break:normal}.wide{page:wide;overflow:visible}
figure svg{max-height:230mm}}
"""


def _css_string(text: str) -> str:
    """A CSS string (for the page margins' ``content``)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3C ") + '"'


def _block(report: Report, b: Block, anchor: str) -> str:
    if b.kind == "heading":
        return f'<h{b.level} id="{anchor}">{html.escape(b.text)}</h{b.level}>'
    if b.kind == "paragraph":
        return f"<p>{html.escape(b.text)}</p>"
    if b.kind == "pagebreak":
        return '<div class="page-break"></div>'
    if b.kind == "figure":
        svg = report.figures[b.figure]["svg"].decode("utf-8")
        svg = re.sub(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", "", svg)
        svg = unique_ids(svg, b.figure)
        return f"<figure>{svg}<figcaption>{html.escape(b.caption)}</figcaption></figure>"
    if b.kind == "table" and b.table is not None:
        return _html_table(b)
    return ""


def _toc(blocks: list[Block]) -> str:
    """The contents: every heading, linked, levels nested."""
    out = ['<nav class="toc"><h2>Contents</h2><ol>']
    level = 2
    for k, b in enumerate(blocks):
        if b.kind != "heading":
            continue
        while b.level > level:
            out.append("<ol>")
            level += 1
        while b.level < level:
            out.append("</ol>")
            level -= 1
        out.append(f'<li><a href="#s{k}">{html.escape(b.text)}</a></li>')
    out += ["</ol>" * (level - 1), "</nav>"]
    return "".join(out)


def to_html(report: Report) -> str:
    """One self-contained HTML file: figures inline as SVG, no external requests."""
    css = _CSS.replace("HEADER", _css_string(report.header)).replace(
        "CONFIDENTIAL", _css_string(report.confidentiality)
    )
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(report.title)}</title>", f"<style>{css}</style></head><body>",
           f'<header class="title-page"><h1>{html.escape(report.title)}</h1>']  # fmt: skip
    out += [f"<p>{html.escape(line)}</p>" for line in report.front]
    if report.confidentiality:
        out.append(f'<p class="confidential">{html.escape(report.confidentiality)}</p>')
    out.append("</header>")
    blocks = fit_to_page(report.blocks)
    out.append(_toc(blocks))
    flags = landscape(blocks, tall_figures(report.figures))
    k = 0
    while k < len(blocks):
        if flags[k]:  # a run of landscape blocks: one landscape page group
            end = k
            while end < len(blocks) and flags[end]:
                end += 1
            out.append('<section class="wide">' + _kept(report, blocks, k, end) + "</section>")
        else:
            end = k
            while end < len(blocks) and not flags[end]:
                end += 1
            out.append(_kept(report, blocks, k, end))
        k = end
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _kept(report: Report, blocks: list[Block], start: int, end: int) -> str:
    """Blocks ``start`` to ``end``, each heading wrapped with the block after it (so that a printed page
    never ends with a heading)."""
    out = []
    k = start
    while k < end:
        if blocks[k].kind == "heading":
            j = k
            while j < end and blocks[j].kind == "heading":
                j += 1
            j = min(j + 1, end)
            out.append('<div class="keep">' + "".join(_block(report, blocks[i], f"s{i}") for i in range(k, j))
                       + "</div>")  # fmt: skip
            k = j
        else:
            out.append(_block(report, blocks[k], f"s{k}"))
            k += 1
    return "\n".join(out)


def unique_ids(svg: str, prefix: str) -> str:
    """An inlined SVG's ids (and the references to them) prefixed with its figure's stem: several figures in
    one page must not share an id (matplotlib numbers each figure's from 1)."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)


_FIGURE = re.compile(r"^(-?[0-9]|\[c\])")


def _numeric_column(col: pd.Series) -> bool:
    """A column of numbers or of cells that begin with one (``38/54 (70.4%; ...)``): right-aligned."""
    if col.dtype.kind in "iuf":
        return True
    texts = [str(v) for v in col if isinstance(v, str) and v]
    return bool(texts) and all(_FIGURE.match(t) for t in texts)


def _html_table(b: Block) -> str:
    assert b.table is not None
    df = b.table.data
    rows = ["<div>", f"<table><caption>{html.escape(b.caption)}</caption><thead><tr>"]
    rows += [f"<th>{html.escape(c)}</th>" for c in b.columns]
    rows.append("</tr></thead><tbody>")
    figures = {c for c in b.columns if _numeric_column(df[c])}
    for _, r in df.iterrows():
        cells = []
        for c in b.columns:
            v = r[c]
            text = html.escape(cell_text(v))
            if c in STATUS_COLUMNS:
                colour = STATUS_COLOURS.get(str(v), "#1d2939")
                cells.append(f'<td class="status" style="color:{colour}">{text}</td>')
            else:
                indent = len(text) - len(text.lstrip(" "))  # Table 1's levels under their characteristic
                if indent:
                    cells.append(f'<td class="indent">{text.lstrip(" ")}</td>')
                else:
                    cells.append(f'<td class="n">{text}</td>' if c in figures else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    if b.table.footnotes:
        rows.append('<p class="notes">' + "<br>".join(html.escape(n) for n in b.table.footnotes) + "</p>")
    rows.append("</div>")
    return "".join(rows)
