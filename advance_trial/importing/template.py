"""The workbook a site fills in: ``advance-trial import template``.

One sheet named after the canonical file, headed with the canonical columns (or the site's own headers
when the config's import rule maps them), with drop-down lists (Excel data validation) for every column
whose values are fixed (sites, arms, cycles, timepoints, session types, statuses, yes/no, coded reasons,
factor levels), date cells formatted as dates and questionnaire items limited to their range; an
``Instructions`` sheet saying what each column holds; the lists on a hidden sheet. Filled in, it
imports with no change to the config: its headers and values are the ones the import reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from advance_trial.config.models import Config
from advance_trial.data.schema import SPECS, Column, allowed_columns, item_column_owner
from advance_trial.errors import UsageError
from advance_trial.importing.checks import CODED
from advance_trial.importing.mapping import fold, mapping_for

#: Rows prepared with drop-downs and date formats (a site's file for one cycle fits many times over).
ROWS = 2000
#: What each canonical column holds, for the instructions sheet.
MEANING = {
    "screen_id": "the site's screening number of the man (not his name)",
    "site": "the site",
    "cycle": "the recruitment cohort",
    "screened_on": "the date he was screened",
    "eligible": "whether he was eligible",
    "consented": "whether he consented (empty if not asked)",
    "participant_id": "the trial's id for the man (empty on screening rows of men not randomised)",
    "reason_ineligible": "why he was not eligible (one of the coded reasons)",
    "randomised_on": "the date he was randomised",
    "arm": "the arm he was allocated to",
    "reason_not_received": "why he attended no session (one of the coded reasons)",
    "reason_discontinued": "why he stopped (one of the coded reasons)",
    "session_type": "the kind of session",
    "session_number": "the session's number within its kind (1, 2, ...)",
    "group_id": "the group's code",
    "session_on": "the date of the session",
    "attended": "whether he attended",
    "hours": "the hours he attended",
    "timepoint": "the follow-up point",
    "due_on": "the date the follow-up was due",
    "status": "how the follow-up ended",
    "completed_on": "the date it was completed",
    "partner_id": "the trial's id for the partner",
    "followup_status": "how the partner's follow-up ended",
    "contacted": "whether the partner was contacted",
    "event_id": "the event's number",
    "event_on": "the date of the event",
    "category": "the kind of event",
    "serious": "whether it was serious",
    "related": "whether it was related to the intervention",
}


@dataclass(frozen=True)
class TemplateColumn:
    """One column of the template: its header, canonical name, type and allowed values."""

    header: str
    column: str
    kind: str  # str | int | float | bool | date | item
    required: bool
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    meaning: str = ""


def template_columns(cfg: Config, kind: str, site: str | None = None) -> list[TemplateColumn]:
    """The template's columns for ``kind`` (and ``site``: its mapped headers and recoded values)."""
    if kind not in SPECS:
        raise UsageError(f"--kind {kind!r}: one of {', '.join(SPECS)}")
    if site is not None and site not in cfg.site_ids:
        raise UsageError(f"--site {site!r}: not a site of {cfg.trial.id}; sites: {', '.join(cfg.site_ids)}")
    spec = SPECS[kind]
    mapping = mapping_for(cfg, site or "", kind) if site else None
    header_of: dict[str, str] = {}
    if mapping is not None:
        originals = {fold(h): h for rule in cfg.import_ for h in rule.columns}
        for folded, target in mapping.columns.items():
            header_of.setdefault(target, originals.get(folded, folded))
    declared = {c.name: c for c in (*spec.columns, *spec.optional_columns)}
    factors = {f.id: f for f in cfg.factors}
    out: list[TemplateColumn] = []
    names = allowed_columns(cfg, kind)
    for name in names:
        col = declared.get(name, Column(name, "str", nullable=True))
        choices = _choices(cfg, col, site)
        if name in CODED:
            choices = tuple(getattr(cfg.reasons, CODED[name]))
        if name in factors:
            choices = tuple(factors[name].levels)
        kind_of = col.kind
        recode = mapping.values.get(name) if mapping is not None else None
        if recode:  # the site's own words for the values (``DNA`` for false)
            originals = {fold(k): str(k) for rule in cfg.import_ for k in rule.values.get(name, {})}
            choices = tuple(originals.get(k, k) for k in recode)
        elif kind_of == "bool":
            choices = ("yes", "no")
        out.append(TemplateColumn(header_of.get(name, name), name, kind_of, not col.nullable, choices, col.minimum,
                                  None, MEANING.get(name, _factor_label(cfg, name))))  # fmt: skip
    if spec.items:
        respondent = "partner" if kind == "partners" else "man"
        for ins_id, ins in cfg.instruments.items():
            for c in ins.item_columns(ins_id):
                if item_column_owner(cfg, c, respondent) is None:
                    continue
                out.append(TemplateColumn(header_of.get(c, c), c, "item", False, (), ins.min, ins.max,
                                          f"{ins.label or ins_id}: item {c.rsplit('_', 1)[1]}, "
                                          f"a whole number from {ins.min} to {ins.max}"))  # fmt: skip
    return out


def _choices(cfg: Config, col: Column, site: str | None) -> tuple[str, ...]:
    if col.name == "site" and site is not None:
        return (site,)
    return tuple(col.choices(cfg)) if col.choices is not None else ()


def _factor_label(cfg: Config, name: str) -> str:
    for f in cfg.factors:
        if f.id == name:
            return f.label or name
    if cfg.baseline_table is not None:
        for v in cfg.baseline_table.variables:
            if v.id == name:
                return str(getattr(v, "label", None) or name)
    return name


def write_template(cfg: Config, kind: str, out: str | Path, site: str | None = None) -> Path:
    """Write the workbook for ``kind`` (and ``site``) to ``out`` (``.xlsx``, replaced in one step); its path."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    from advance_trial.data.tablefile import write_bytes_atomic

    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise UsageError(f"--out {out}: a template is an Excel workbook; name it .xlsx")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: no such folder {out.parent}")
    columns = template_columns(cfg, kind, site)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = kind
    lists = wb.create_sheet("Lists")
    lists.sheet_state = "hidden"
    bold = Font(bold=True)
    needed = PatternFill("solid", fgColor="FFF2CC")
    list_at = 0
    for j, col in enumerate(columns, 1):
        letter = get_column_letter(j)
        cell = ws.cell(row=1, column=j, value=col.header)
        cell.font = bold
        if col.required:
            cell.fill = needed
        ws.column_dimensions[letter].width = max(12, min(40, len(col.header) + 4))
        cells = f"{letter}2:{letter}{ROWS + 1}"
        rule: DataValidation | None = None
        if col.choices:
            list_at += 1
            lc = get_column_letter(list_at)
            lists.cell(row=1, column=list_at, value=col.header)
            for i, v in enumerate(col.choices, 2):
                lists.cell(row=i, column=list_at, value=v)
            ref = f"{quote_sheetname('Lists')}!${lc}$2:${lc}${len(col.choices) + 1}"
            rule = DataValidation(type="list", formula1=ref, allow_blank=True)
            rule.error = f"{col.header}: choose one of the list"
        elif col.kind == "date":
            rule = DataValidation(type="date", operator="between", formula1="DATE(1990,1,1)",
                                  formula2="DATE(2100,12,31)", allow_blank=True)  # fmt: skip
            rule.error = f"{col.header}: a date (day, month and year)"
        elif col.kind in ("int", "item") and (col.minimum is not None or col.maximum is not None):
            lo = int(col.minimum) if col.minimum is not None else -1_000_000
            hi = int(col.maximum) if col.maximum is not None else 1_000_000
            rule = DataValidation(type="whole", operator="between", formula1=str(lo), formula2=str(hi),
                                  allow_blank=True)  # fmt: skip
            rule.error = f"{col.header}: a whole number from {lo} to {hi}"
        elif col.kind == "float" and col.minimum is not None:
            rule = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1=str(col.minimum),
                                  allow_blank=True)  # fmt: skip
            rule.error = f"{col.header}: a number of at least {col.minimum:g}"
        if rule is not None:
            rule.showErrorMessage = True
            rule.errorTitle = "Not allowed here"
            rule.add(cells)
            ws.add_data_validation(rule)
        if col.kind == "date":
            for r in range(2, ROWS + 2):
                ws.cell(row=r, column=j).number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    _instructions(wb.create_sheet("Instructions", 1), cfg, kind, site, columns, bold)
    buf = io.BytesIO()
    wb.save(buf)
    write_bytes_atomic(buf.getvalue(), out)
    return out


def _instructions(ws: object, cfg: Config, kind: str, site: str | None, columns: list[TemplateColumn],
                  bold: object) -> None:  # fmt: skip
    """The instructions sheet: how to fill the data sheet, then one row per column."""
    from openpyxl.worksheet.worksheet import Worksheet

    assert isinstance(ws, Worksheet)
    where = next((s.label for s in cfg.sites if s.id == site), None)
    lines = [
        f"{cfg.trial.title}: {kind} ({where or 'any site'})",
        f"Fill in the sheet '{kind}', one row per {_one_row(kind)}. Keep its first row (the headers) as it is.",
        "Yellow headers must have a value in every row; pick values from the drop-down lists; type dates as dates.",
        "Never type a name, date of birth, address, phone or NHS number: such data never enter the trial's files.",
        "Send the file back as it is (.xlsx); the statistician imports it with advance-trial import.",
        "",
    ]
    for i, text in enumerate(lines, 1):
        ws.cell(row=i, column=1, value=text)
    ws.cell(row=1, column=1).font = bold
    head = len(lines) + 1
    for j, text in enumerate(("Column", "Required", "What it holds", "Allowed values"), 1):
        ws.cell(row=head, column=j, value=text).font = bold
    for i, col in enumerate(columns, head + 1):
        allowed = ", ".join(_shown_choice(cfg, col, v) for v in col.choices)
        if not allowed:
            allowed = {"date": "a date", "int": "a whole number", "float": "a number", "item": "a whole number",
                       "bool": "yes or no"}.get(col.kind, "text")  # fmt: skip
            if col.kind == "item":
                allowed = f"a whole number from {col.minimum:g} to {col.maximum:g}"
        ws.cell(row=i, column=1, value=col.header)
        ws.cell(row=i, column=2, value="yes" if col.required else "no")
        ws.cell(row=i, column=3, value=col.meaning)
        ws.cell(row=i, column=4, value=allowed)
    for letter, width in zip("ABCD", (24, 10, 60, 60), strict=True):
        ws.column_dimensions[letter].width = width


def _one_row(kind: str) -> str:
    return {"screening": "man screened", "participants": "man randomised", "attendance": "session offered to a man",
            "followup": "man and follow-up point", "measures": "man and follow-up point", "partners": "partner",
            "events": "event"}.get(kind, "record")  # fmt: skip


def _shown_choice(cfg: Config, col: TemplateColumn, value: str) -> str:
    """A value of a list with its label when the config gives one (``advance (ADVANCE + treatment as usual)``)."""
    labels: dict[str, str] = {}
    if col.column == "site":
        labels = {s.id: s.label for s in cfg.sites}
    elif col.column == "arm":
        labels = {a.id: a.label for a in cfg.arms}
    label = labels.get(value)
    return f"{value} ({label})" if label and label != value else value
