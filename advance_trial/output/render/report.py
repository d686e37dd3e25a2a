"""The report: one document model, rendered to self-contained HTML, Markdown and Word.

The model is a list of blocks (headings, paragraphs, tables, figures) built from the config, the
computed tables, the figures and, when given, a summary of the allocation log. Renderers never
compute a statistic: they round and lay out what the tables hold. Nothing carries a date, so the
same inputs give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.display import STATUS_LABELS, display
from advance_trial.output.tables import Table, format_number
from advance_trial.randomisation.key import DEMO_KEY, fingerprint_of
from advance_trial.randomise import DERIVATION

STATUS_COLOURS = {"met": "#1e7b34", "green": "#1e7b34", "amber": "#b36b00", "not_met": "#b42318", "red": "#b42318",
                  "not_evaluated": "#667085"}  # fmt: skip
#: The Status column of a display table is coloured by the status its label stands for.
STATUS_COLOURS |= {STATUS_LABELS[k]: v for k, v in STATUS_COLOURS.items()}
STATUS_COLUMNS = ("status", "Status")
#: Figure captions (the figures carry no title of their own in the report).
FIGURE_CAPTIONS = {
    "consort": "Participant flow (CONSORT 2010 extension to randomised pilot and feasibility trials, Eldridge et "
    "al. 2016)",
    "accrual": "Cumulative accrual by site and in all, against the target sample size where the trial set one",
    "retention": "Men followed up by arm, with 95% confidence intervals",
    "attendance": "Sessions attended by the men offered them",
    "engagement": "Men who started and who completed each component of the programme, with 95% confidence intervals",
    "forest": "Outcome estimates with 95% confidence intervals",
    "plan_sensitivity": "Men to randomise in all over the ICC, SD and retention (sensitivity of the definitive "
    "trial's size)",
    "recruitment_forecast": "Predicted cumulative recruitment of the definitive trial, with 80% and 95% predictive "
    "bands, against its target",
}


@dataclass(frozen=True)
class Block:
    """One piece of the report: ``kind`` is heading, paragraph, table or figure."""

    kind: str
    text: str = ""
    level: int = 2
    table: Table | None = None
    columns: tuple[str, ...] = ()
    figure: str = ""  # stem of figure files (stem.svg, stem.png)
    number: int = 0  # a table's or figure's number in the report (its caption reads "Table 3. ...")

    @property
    def caption(self) -> str:
        """The numbered caption of a table or figure."""
        return f"{'Figure' if self.kind == 'figure' else 'Table'} {self.number}. {self.text}" if self.number else \
            self.text  # fmt: skip


@dataclass(frozen=True)
class Report:
    """The report's blocks and the figures they show (stem -> {"svg": bytes, "png": bytes})."""

    title: str
    blocks: list[Block]
    figures: dict[str, dict[str, bytes]] = field(default_factory=dict)
    cut_off: dt.date | None = None  # the data cut-off: the report's date, so that reruns are byte-identical


# ---------------------------------------------------------------------------- building


def _sessions(cfg: Config) -> str:
    if cfg.schedule is None:
        return "No sessions are scheduled."
    parts = []
    for s in cfg.schedule.sessions:
        kind = "compulsory" if s.compulsory else "optional"
        parts.append(f"{s.count} {kind} {s.type} session{'s' if s.count > 1 else ''} of {s.hours:g} h"
                     + (f" ({s.label})" if s.label else ""))  # fmt: skip
    return f"Offered to {cfg.arm(cfg.schedule.arm).label}: " + "; ".join(parts) + "."


def _randomisation_text(cfg: Config) -> list[str]:
    r = cfg.randomisation
    arms = ", ".join(f"{a.label} ({a.ratio})" for a in cfg.arms)
    if r.method == "none":
        return ["Single-arm design: every man receives the programme; no allocation."]
    texts = {
        "simple": "simple randomisation (each allocation an independent draw in the allocation ratio)",
        "blocks": f"permuted blocks of sizes {', '.join(map(str, r.block_sizes))} chosen at random",
        "stratified_blocks": f"permuted blocks of sizes {', '.join(map(str, r.block_sizes))} chosen at random, "
        f"stratified by {', '.join(r.strata)}",
        "minimisation": "minimisation (Pocock and Simon) on "
        + ", ".join(f"{k} (weight {v:g})" for k, v in (r.minimisation.factors.items() if r.minimisation else []))
        + f", the preferred arm taken with probability {r.minimisation.probability if r.minimisation else 1:g}",
    }
    demo = (
        "; the public demonstration key of the synthetic sample, which conceals nothing"
        if r.key_fingerprint == fingerprint_of(DEMO_KEY)
        else ""
    )
    out = [
        "Sequence generation: computer-generated allocation sequence derived from a secret 256-bit key held "
        f"apart from the config and the data (HMAC-SHA256, derivation {DERIVATION}, one stream per stratum; "
        f"key fingerprint {r.key_fingerprint or 'not recorded'}{demo}), allocation ratio {arms}.",
        f"Type of randomisation: {texts[r.method]}.",
        "Allocation concealment: allocations are issued one at a time from an append-only log whose rows are "
        "authenticated under the key and whose arms are sealed; nothing enrolling staff can read (config, data, "
        "outputs, log) predicts the next allocation; every allocation, unblinding and export of arms is an event "
        "in the log.",
    ]
    return out


def _implementation(log: dict[str, Any] | None) -> str:
    if not log:
        return "Implementation: no allocation log was given to this report."
    backup = f", {log['backup']} from sealed back-up lists" if log.get("backup") else ""
    corrected = f", {log['corrections']} recorded as randomised in error" if log.get("corrections") else ""
    return (f"Implementation: {log['allocations']} men allocated between {log['first']} and {log['last']} by "
            f"{log['allocators']} named staff{backup}{corrected}; the log verifies (every row authenticated under "
            f"the key and replayed; its head matches the checkpoint) and agrees with participants.csv; "
            f"{log['unblindings']} unblinding(s) and {log['exports']} export(s) of arms recorded. "
            f"Head of the log: row {log['head_row']}, tag {log['head_tag']}"
            + (f"; the checkpoint kept beside the key records row {log['checkpoint_row']} of log {log['log_id']}"
               if "checkpoint_row" in log else "") + ".")  # fmt: skip


SECTIONS = [
    ("Participant flow", ["consort"], ["consort"]),
    ("Recruitment", ["recruitment", "allocation", "recruitment_rate"], ["accrual"]),
    ("Baseline characteristics", ["baseline"], []),
    ("Retention", ["retention", "retention_reasons", "retention_difference", "partner_retention", "partner_contact"],
     ["retention"]),
    ("Treatment dose", ["dose", "dose_summary", "engagement"], ["attendance", "engagement"]),
    ("Outcomes", ["outcomes", "change"], ["forest"]),
    ("Harms", ["harms"], []),
    ("Progression criteria", ["progression"], []),
    ("Planning the definitive trial", ["plan", "plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast"],
     ["plan_sensitivity", "recruitment_forecast"]),
]  # fmt: skip
#: Tables that compare the arms or describe one arm only: in a closed report, only in its closed part.
CLOSED_ONLY = ("outcomes", "change", "retention_difference", "dose", "dose_summary", "engagement")


def pooled(table: Table) -> Table | None:
    """A table as the open part of a closed report shows it: its rows pooled over the arms (the ``all``
    margin the table already holds; nothing is summed here), without the standardised differences; None
    for a table that compares the arms or has no pooled rows."""
    df = table.data
    if table.name in CLOSED_ONLY:
        return None
    if "arm" in df:
        df = df[df["arm"].astype(str) == "all"]
    if table.name == "progression":  # a criterion on an outcome or on dose is about the intervention arm
        df = df[~df["metric"].astype(str).str.startswith(("outcome.", "change.", "dose"))]
    df = df.drop(columns=[c for c in ("std_difference",) if c in df])
    title = re.sub(r" (by|and) arm\b", "", table.title) + (" (all arms pooled)" if "arm" in table.data else "")
    return replace(table, data=df.reset_index(drop=True), title=title) if len(df) else None


def _sections(cfg: Config, tables: dict[str, Table], figures: dict[str, dict[str, bytes]], numbers: list[int],
              level: int = 2) -> list[Block]:  # fmt: skip
    """The results sections in CONSORT order: headings, figures and display tables, numbered on from
    ``numbers`` (tables, figures), which it updates."""
    b: list[Block] = []
    for title, names, figs in SECTIONS:
        present = [n for n in names if n in tables and not tables[n].data.empty and n != "consort"]
        shown = [f for f in figs if f in figures]
        if not present and not shown:
            continue
        b.append(Block("heading", title, level))
        for f in shown:
            numbers[1] += 1
            b.append(Block("figure", FIGURE_CAPTIONS.get(f, title), figure=f, number=numbers[1]))
        for n in present:  # the flow's table is consort.csv; the report draws it
            table = display(cfg, tables[n])
            numbers[0] += 1
            b.append(Block("table", table.title, table=table, columns=tuple(map(str, table.data.columns)),
                           number=numbers[0]))  # fmt: skip
    return b


def build_report(
    cfg: Config, tables: dict[str, Table], figures: dict[str, dict[str, bytes]], log: dict[str, Any] | None = None,
    notes: tuple[str, ...] = (), blinded: bool = False, closed: bool = False, checklist: Table | None = None,
) -> Report:  # fmt: skip
    """The report's blocks, in CONSORT order; with ``closed``, an open part pooled over the arms and then a
    closed part by arm (a data monitoring committee's report, as DAMOCLES lays it out)."""
    t = cfg.trial
    b: list[Block] = [Block("paragraph", f"{t.description or ''}".strip())] if t.description else []
    b += [Block("paragraph", note) for note in notes]
    arms = "; ".join(f"{a.label} (ratio {a.ratio})" for a in cfg.arms)
    sites = ", ".join(s.label for s in cfg.sites)
    b.append(Block("heading", "Trial", 2))
    design = "single-arm study" if t.design == "single_arm" else f"{len(cfg.arms)}-arm parallel-group randomised trial"
    b.append(Block("paragraph", f"Design: {design}. Arms: {arms}. Sites: {sites}."
                   + (f" Recruitment cycles: {', '.join(map(str, cfg.cycles))}." if cfg.cycles else "")
                   + (f" Registration: {t.registration}" + (f", registered on {t.registered_on.isoformat()}"
                                                              if t.registered_on else "") + "."
                      if t.registration else "")))  # fmt: skip
    science = [(words, value) for words, value in (("Protocol", t.protocol), ("Statistical analysis plan",
               t.analysis_plan), ("Data sharing", t.data_sharing), ("Funding", t.funding),
               ("Ethical approval", t.ethics)) if value]  # fmt: skip
    if science:
        b.append(Block("paragraph", " ".join(f"{words}: {value.rstrip('.')}." for words, value in science)))
    b.append(Block("paragraph", "Sessions are offered to one arm (withheld in blinded outputs)." if blinded
                   else _sessions(cfg)))  # fmt: skip
    b.append(Block("paragraph", f"Trial config {t.id} version {t.version}"
                   + (f" (SHA-256 {cfg.source.sha256[:16]}...)" if cfg.source else "") + "."))  # fmt: skip
    b.append(Block("heading", "Methods", 2))
    for text in _randomisation_text(cfg):
        b.append(Block("paragraph", text))
    if cfg.randomisation.method != "none":
        b.append(Block("paragraph", _implementation(log)))
    eligibility = getattr(cfg, "eligibility", None) or []
    if eligibility:
        b.append(Block("paragraph", "Eligibility criteria: " + "; ".join(
            str(getattr(c, "question", c)).rstrip("?") for c in eligibility) + "."))  # fmt: skip
    crit = "; ".join(f"{c.label or c.id}" for c in cfg.progression) or "none"
    when = f" (set on {t.progression_set_on.isoformat()})" if t.progression_set_on and cfg.progression else ""
    b.append(Block("paragraph", f"Prespecified progression criteria{when}: {crit}. Feasibility estimates are "
                   "reported with confidence intervals, not p-values (CONSORT extension for pilot and feasibility "
                   "trials)."))  # fmt: skip
    numbers = [0, 0]  # tables, figures: numbered through the open and closed parts
    if not closed:
        b += _sections(cfg, tables, figures, numbers)
    else:
        b.append(Block("heading", "Open report", 2))
        b.append(Block("paragraph", "For the open session of the data monitoring committee and the trial steering "
                       "committee: every figure pooled over the arms."))  # fmt: skip
        open_tables = {n: p for n, t in tables.items() if (p := pooled(t)) is not None}
        b += _sections(cfg, open_tables, {}, numbers, level=3)
        b.append(Block("heading", "Closed report", 2))
        b.append(Block("paragraph", "CLOSED: for the members of the data monitoring committee only, and the "
                       "statisticians who prepared it. Not to be shared with the trial team."))  # fmt: skip
        b += _sections(cfg, tables, figures, numbers, level=3)
    if checklist is not None:
        b.append(Block("heading", "Appendix: reporting checklist", 2))
        b.append(Block("paragraph", "Each item of CONSORT 2025 and of the CONSORT extension to randomised pilot and "
                       "feasibility trials: where this report shows it, or what the authors' text or the trial's "
                       "config and data must add."))  # fmt: skip
        numbers[0] += 1
        b.append(Block("table", checklist.title, table=checklist, columns=tuple(map(str, checklist.data.columns)),
                       number=numbers[0]))  # fmt: skip
    if t.data_cutoff is not None:
        b.insert(0, Block("paragraph", f"Data cut-off: {t.data_cutoff.isoformat()}."))
    return Report(f"{t.title} (v{t.version})", b, figures, t.data_cutoff)


#: A table of more columns than this is laid out on a landscape page (Word) or a landscape print page (HTML).
WIDE_COLUMNS = 8
#: The text width of an A4 portrait page between 20 mm margins, in twips.
PORTRAIT_TWIPS = 9638
#: ... and a table whose cells, each on one line, would need this many portrait widths goes landscape too
#: (below it, cells wrap onto a second line in portrait, as a journal's tables do).
LANDSCAPE_FROM = 1.4


def is_wide(b: Block) -> bool:
    """Whether a table block is laid out on a landscape page."""
    if b.kind != "table" or b.table is None:
        return False
    df = b.table.data
    natural = sum(max([len(c), *(len(_cell(v)) for v in df[c])]) * CHAR_TWIPS + CELL_PADDING_TWIPS
                  for c in b.columns)  # fmt: skip
    return len(b.columns) > WIDE_COLUMNS or natural > LANDSCAPE_FROM * PORTRAIT_TWIPS


# ---------------------------------------------------------------------------- rendering


def _cell(v: Any) -> str:
    return format_number(v)


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1d2939;line-height:1.45}
h1{font-size:1.5rem;border-bottom:2px solid #1f4e79;padding-bottom:.3rem}h2{font-size:1.2rem;margin-top:2rem;
color:#1f4e79}h3{font-size:1rem}table{border-collapse:collapse;margin:.5rem 0 .3rem;font-size:.82rem}
th,td{border-bottom:1px solid #d0d5dd;padding:.2rem .45rem;text-align:left}td.n{text-align:right;
font-variant-numeric:tabular-nums}th{background:#f2f4f7}.notes{font-size:.78rem;color:#475467;margin:0 0 1rem}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0;color:#1d2939}
figcaption{font-size:.85rem;font-weight:600}td.indent{padding-left:1.4rem}.status{font-weight:600}
.wide{overflow-x:auto}
@page{size:A4;margin:15mm}@page wide{size:A4 landscape;margin:12mm}
@media print{body{margin:0;max-width:none;font-size:10pt}h2,h3{page-break-after:avoid}figure{page-break-inside:avoid}
thead{display:table-header-group}tr{page-break-inside:avoid}table{font-size:7.5pt;width:100%;table-layout:auto}
th,td{padding:.1rem .25rem;overflow-wrap:normal;word-break:normal}.wide{page:wide;overflow:visible}
figure svg{max-height:240mm}}
"""


def to_html(report: Report) -> str:
    """One self-contained HTML file: figures inline as SVG, no external requests."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(report.title)}</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>{html.escape(report.title)}</h1>"]  # fmt: skip
    for b in fit_to_page(report.blocks):
        if b.kind == "heading":
            out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif b.kind == "paragraph":
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "figure":
            svg = report.figures[b.figure]["svg"].decode("utf-8")
            svg = re.sub(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", "", svg)
            svg = unique_ids(svg, b.figure)
            out.append(
                f'<figure aria-label="{html.escape(b.figure)}">{svg}'
                f"<figcaption>{html.escape(b.caption)}</figcaption></figure>"
            )
        elif b.kind == "table" and b.table is not None:
            out.append(_html_table(b))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


#: The text width of an A4 landscape page between 20 mm margins, in twips (Word's unit: 1/1440 inch).
LANDSCAPE_TWIPS = 14570


def _needs(df: pd.DataFrame, columns: tuple[str, ...]) -> list[int]:
    """Each column's least width in twips: its longest word (heading or cell) in the tables' 8-point text."""
    out = []
    for c in columns:
        texts = [c, *(_cell(v) for v in df[c])]
        out.append(max((len(w) for t in texts for w in t.split()), default=1) * CHAR_TWIPS + CELL_PADDING_TWIPS)
    return out


def fit_to_page(blocks: list[Block], width: int = LANDSCAPE_TWIPS) -> list[Block]:
    """Tables too wide for a landscape page split by column groups: each part repeats the table's leading
    text columns (what identifies a row) and takes as many of the others as fit; the parts are titled
    "(part i of k)". Nothing is computed: the same cells, laid out in pieces."""
    out: list[Block] = []
    for b in blocks:
        if b.kind != "table" or b.table is None or not b.columns:
            out.append(b)
            continue
        df = b.table.data
        needs = _needs(df, b.columns)
        if sum(needs) <= width:
            out.append(b)
            continue
        keys = b.table.keys
        while not b.table.keys and keys < min(3, len(b.columns) - 1) and df[b.columns[keys]].dtype.kind not in "iufb":
            keys += 1
        room = width - sum(needs[:keys])
        groups: list[list[int]] = [[]]
        used = 0
        for j in range(keys, len(b.columns)):
            if groups[-1] and used + needs[j] > room:
                groups.append([])
                used = 0
            groups[-1].append(j)
            used += needs[j]
        for i, g in enumerate(groups, 1):
            cols = tuple(b.columns[j] for j in (*range(keys), *g))
            out.append(replace(b, text=f"{b.text} (part {i} of {len(groups)})", columns=cols))
    return out


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
    wide = is_wide(b)
    rows = ['<div class="wide">' if wide else "<div>", f"<table><caption>{html.escape(b.caption)}</caption><thead><tr>"]
    rows += [f"<th>{html.escape(c)}</th>" for c in b.columns]
    rows.append("</tr></thead><tbody>")
    figures = {c for c in b.columns if _numeric_column(df[c])}
    for _, r in df.iterrows():
        cells = []
        for c in b.columns:
            v = r[c]
            text = html.escape(_cell(v))
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


def to_markdown(report: Report) -> str:
    """The same content as Markdown; figures referenced as the SVG files beside it."""
    from advance_trial.output.tables import md_text
    from advance_trial.output.tables import to_markdown as table_md

    out = [f"# {md_text(report.title)}", ""]
    for b in report.blocks:
        if b.kind == "heading":
            out += ["#" * b.level + " " + md_text(b.text), ""]
        elif b.kind == "paragraph":
            out += [md_text(b.text), ""]
        elif b.kind == "figure":
            out += [f"![{md_text(b.caption)}]({b.figure}.svg)", "", f"*{md_text(b.caption)}*", ""]
        elif b.kind == "table" and b.table is not None:
            shown = Table(b.table.name, b.table.data[list(b.columns)], b.caption, b.table.footnotes)
            out += [table_md(shown), ""]
    return "\n".join(out).rstrip() + "\n"


FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


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
    doc.add_heading(report.title, level=0)
    style = doc.styles["Light Grid Accent 1"].style_id
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)  # A4
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Mm(20))

    def orient(landscape: bool) -> int:
        """Start a new section in the orientation asked for (when it differs); its text width in twips."""
        current = doc.sections[-1]
        if (current.orientation == WD_ORIENT.LANDSCAPE) != landscape:
            current = doc.add_section(WD_SECTION.NEW_PAGE)
            current.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
            current.page_width, current.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
        usable = int(current.page_width or 0) - int(current.left_margin or 0) - int(current.right_margin or 0)
        return usable // 635  # EMU to twips

    blocks = fit_to_page(report.blocks)
    wide = [is_wide(b) for b in blocks]
    for k, b in enumerate(blocks):
        # a heading goes with the table after it: on its landscape page when that table is wide
        width = orient(wide[k] or (b.kind == "heading" and k + 1 < len(wide) and wide[k + 1]))
        if b.kind == "heading":
            doc.add_heading(b.text, level=min(b.level, 3))
        elif b.kind == "paragraph":
            doc.add_paragraph(b.text)
        elif b.kind == "figure":
            doc.add_picture(io.BytesIO(report.figures[b.figure]["png"]), width=Inches(6.2))
            doc.element.body._insert_p(parse_xml(_caption_xml("Figure", b)))
        elif b.kind == "table" and b.table is not None:
            doc.element.body._insert_p(parse_xml(_caption_xml("Table", b)))
            df = b.table.data
            rows = [list(b.columns)]
            bold: set[tuple[int, int]] = set()
            for i, r in enumerate(df[list(b.columns)].itertuples(index=False), 1):
                rows.append([_cell(v) for v in r])
                bold |= {(i, j) for j, c in enumerate(b.columns) if c in STATUS_COLUMNS and str(r[j]) in STATUS_COLOURS}
            doc.element.body._insert_tbl(parse_xml(_table_xml(rows, bold, style, column_widths(rows, width))))
            for note in b.table.footnotes:
                doc.add_paragraph(note).runs[0].font.italic = True  # notes follow each table
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


#: Characters XML 1.0 cannot hold (a cell holding one would make the document unreadable).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _caption_xml(label: str, b: Block) -> str:
    """A Word caption: the Caption style, its number a ``SEQ`` field as Word's Insert Caption writes it
    (so that Word's list of tables and cross-references find it), kept with the table that follows."""
    from xml.sax.saxutils import escape

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
    from xml.sax.saxutils import escape

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


#: Twips per character of the tables' 8-point text (a generous average width, so that a word never splits).
CHAR_TWIPS = 130
CELL_PADDING_TWIPS = 230


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


def write_report(report: Report, out_dir: str | Path, stem: str = "report") -> dict[str, str]:
    """Write ``report.html``, ``report.md`` and ``report.docx``; returns file name -> SHA-256."""
    import hashlib

    from advance_trial.data.tablefile import write_bytes_atomic

    written = {}
    for ext, data in (("html", to_html(report).encode("utf-8")), ("md", to_markdown(report).encode("utf-8")),
                      ("docx", to_docx(report))):  # fmt: skip
        write_bytes_atomic(data, Path(out_dir) / f"{stem}.{ext}")
        written[f"{stem}.{ext}"] = hashlib.sha256(data).hexdigest()
    return written
