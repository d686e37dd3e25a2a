"""The report: one document model, rendered to self-contained HTML (:mod:`.htmlpage`), Markdown and Word
(:mod:`.wordfile`).

The model is a title page (title, trial, version, data cut-off, open or closed report, confidentiality
line) and a list of blocks (headings, paragraphs, tables, figures, page breaks) built from the config (its
``report`` block chooses the sections, their order, the figures, the title and the confidentiality line),
the computed tables, the figures and, when given, a summary of the allocation log. It opens with a summary
page: the key figures and the progression criteria with their status. Renderers never compute a
statistic: they round and lay out what the tables hold. Nothing carries a date, so the same inputs give
the same bytes. Every word is a label from the config or the display vocabulary, never an id.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from advance_trial.config.models import REPORT_FIGURES, REPORT_SECTIONS, Config
from advance_trial.output.display import STATUS_LABELS, count, display, proportion
from advance_trial.output.tables import Table

STATUS_COLOURS = {"met": "#1e7b34", "green": "#1e7b34", "amber": "#b36b00", "not_met": "#b42318", "red": "#b42318",
                  "not_evaluated": "#667085"}  # fmt: skip
#: The Status column of a display table is coloured by the status its label stands for.
STATUS_COLOURS |= {STATUS_LABELS[k]: v for k, v in STATUS_COLOURS.items()}
STATUS_COLUMNS = ("status", "Status")
#: Figure captions (the figures carry no title of their own in the report).
FIGURE_CAPTIONS = {
    "consort": "Participant flow (CONSORT 2010 extension to randomised pilot and feasibility trials, Eldridge et "
    "al. 2016)",
    "accrual": "Cumulative accrual by site and in all",
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
    """One piece of the report: ``kind`` is heading, paragraph, table, figure or pagebreak."""

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
    front: tuple[str, ...] = ()  # the title page's lines under the title
    confidentiality: str = ""  # on the title page and in every page's footer
    header: str = ""  # every page's running header


# ---------------------------------------------------------------------------- building


def _sessions(cfg: Config) -> str:
    if cfg.schedule is None:
        return "No sessions are scheduled."
    parts = []
    for s in cfg.schedule.sessions:
        kind = "compulsory" if s.compulsory else "optional"
        what = s.label or f"{s.type.replace('_', ' ')} session"
        parts.append(f"{s.count} x {what} ({kind}, {s.hours:g} h each)")
    return f"Offered to {cfg.arm(cfg.schedule.arm).label}: " + "; ".join(parts) + "."


@dataclass(frozen=True)
class SequenceFacts:
    """What the report says of the allocation sequence that the config does not hold: the derivation's name
    and whether the key is the public demonstration key (given by the caller, which reads the key)."""

    derivation: str
    demonstration_key: bool = False


def _randomisation_text(cfg: Config, sequence: SequenceFacts | None) -> list[str]:
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
        if sequence is not None and sequence.demonstration_key
        else ""
    )
    derivation = sequence.derivation if sequence is not None else "not recorded"
    out = [
        "Sequence generation: computer-generated allocation sequence derived from a secret 256-bit key held "
        f"apart from the config and the data (HMAC-SHA256, derivation {derivation}, one stream per stratum; "
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
        return (
            "Implementation: the allocation log was not read for this report, so who allocated the men, and "
            "when, is not summarised here."
        )
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


#: The ``report.sections`` name of each results section (in SECTIONS' order).
RESULT_KEYS = ("flow", "recruitment", "baseline", "retention", "dose", "outcomes", "harms", "progression", "planning")


def _caption(cfg: Config, figure: str, title: str) -> str:
    if figure == "accrual" and cfg.trial.target_sample_size:
        return f"{FIGURE_CAPTIONS['accrual']}, against the target sample size ({cfg.trial.target_sample_size} men)"
    return FIGURE_CAPTIONS.get(figure, title)


def _sections(cfg: Config, tables: dict[str, Table], figures: dict[str, dict[str, bytes]], numbers: list[int],
              level: int = 2, keys: tuple[str, ...] = RESULT_KEYS, in_summary: str = "") -> list[Block]:  # fmt: skip
    """The results sections named by ``keys``, in their order: headings, figures and display tables,
    numbered on from ``numbers`` (tables, figures), which it updates. ``in_summary``: the caption of the
    progression table the summary shows, which its section then points to rather than repeats."""
    b: list[Block] = []
    by_key = dict(zip(RESULT_KEYS, SECTIONS, strict=True))
    for key in keys:
        title, names, figs = by_key[key]
        present = [n for n in names if n in tables and not tables[n].data.empty and n != "consort"]
        shown = [f for f in figs if f in figures]
        if not present and not shown:
            continue
        b.append(Block("heading", title, level))
        for f in shown:
            numbers[1] += 1
            b.append(Block("figure", _caption(cfg, f, title), figure=f, number=numbers[1]))
        for n in present:  # the flow's table is consort.csv; the report draws it
            if n == "progression" and in_summary:
                b.append(Block("paragraph", f"The progression criteria and their status are in the summary: "
                               f"{in_summary}."))  # fmt: skip
                continue
            table = display(cfg, tables[n])
            numbers[0] += 1
            b.append(Block("table", table.title, table=table, columns=tuple(map(str, table.data.columns)),
                           number=numbers[0]))  # fmt: skip
    return b


def _key_figures(cfg: Config, tables: dict[str, Table], closed: bool) -> Table | None:
    """The summary's key figures: recruitment, retention at each follow-up and, in an open report, the dose
    received; each read off its table's margin row (nothing is computed here)."""
    from advance_trial.intervals import describe

    d = cfg.reporting.percent_digits
    rows: list[tuple[str, str]] = []

    def margin(name: str, **keep: str) -> pd.DataFrame:
        t = tables.get(name)
        if t is None or t.data.empty:
            return pd.DataFrame()
        df = t.data
        for col, value in keep.items():
            if col in df:
                df = df[df[col].astype(str) == value]
        return df

    entered = "enrolled" if cfg.trial.design == "single_arm" else "randomised"
    for r in margin("recruitment", site="all").itertuples():
        rows += [("Men screened", count(r.n_screened)), ("Men eligible", count(r.n_eligible)),
                 (f"Men {entered} of the men eligible", proportion(r.n_randomised, r.n_eligible, r.proportion,
                                                                    r.ci_lower, r.ci_upper, d))]  # fmt: skip
    tps = {tp.id: tp.label or "follow-up" for tp in cfg.timepoints}
    for r in margin("retention", site="all", cycle="all", arm="all").itertuples():
        rows.append((f"Men followed up, {tps.get(str(r.timepoint), 'follow-up')}",
                     proportion(r.n_retained, r.n_randomised, r.proportion, r.ci_lower, r.ci_upper, d)))  # fmt: skip
    if not closed and cfg.schedule is not None:
        arm = cfg.arm(cfg.schedule.arm)
        names = {t.id: t.label or t.rule for t in cfg.thresholds}
        for r in margin("dose", site="all", cycle="all", arm=arm.id).itertuples():
            rows.append((f"{arm.label}: {names.get(str(r.threshold), 'dose threshold')}",
                         proportion(r.n_met, r.n, r.proportion, r.ci_lower, r.ci_upper, d)))  # fmt: skip
    if not rows:
        return None
    ci = describe(cfg.reporting.proportion_ci, cfg.reporting.ci_level)
    return Table("key_figures", pd.DataFrame(rows, columns=["Measure", "n/N (%; 95% CI)" if cfg.reporting.ci_level
                                                            == 0.95 else "n/N (%; CI)"]),
                 "Key figures", (f"Counts of men, and proportions with the {ci}; each from its table in the "
                                 "report.",))  # fmt: skip


def _table_block(table: Table, numbers: list[int]) -> Block:
    numbers[0] += 1
    return Block("table", table.title, table=table, columns=tuple(map(str, table.data.columns)), number=numbers[0])


def _summary(cfg: Config, tables: dict[str, Table], notes: tuple[str, ...], numbers: list[int], closed: bool
             ) -> tuple[list[Block], str]:  # fmt: skip
    """The summary page: the run's notes, the key figures and the progression criteria with their status
    (pooled over the arms in a closed report, whose summary is open); and the progression table's caption."""
    b = [Block("heading", "Summary", 2), *(Block("paragraph", n) for n in notes)]
    key = _key_figures(cfg, tables, closed)
    if key is not None:
        b.append(_table_block(key, numbers))
    caption = ""
    progression = tables.get("progression")
    if progression is not None and closed:
        progression = pooled(progression)
    if progression is not None and not progression.data.empty:
        b.append(_table_block(display(cfg, progression), numbers))
        caption = b[-1].caption.split(".")[0]
    b.append(Block("pagebreak"))
    return b, caption


def _trial(cfg: Config, blinded: bool, notes: tuple[str, ...]) -> list[Block]:
    t = cfg.trial
    b = [Block("heading", "Trial", 2)]
    b += [Block("paragraph", f"{t.description}".strip())] if t.description else []
    b += [Block("paragraph", note) for note in notes]
    arms = "; ".join(f"{a.label} (ratio {a.ratio})" for a in cfg.arms)
    sites = ", ".join(s.label for s in cfg.sites)
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
    return b


def _methods(cfg: Config, log: dict[str, Any] | None, sequence: SequenceFacts | None) -> list[Block]:
    t = cfg.trial
    b = [Block("heading", "Methods", 2), *(Block("paragraph", text) for text in _randomisation_text(cfg, sequence))]
    if cfg.randomisation.method != "none":
        b.append(Block("paragraph", _implementation(log)))
    if cfg.eligibility is not None:
        b.append(Block("paragraph", "Eligibility criteria, asked before allocation (with the answer that makes a man "
                       "eligible): " + "; ".join(f"{c.question.strip()} {'Yes' if c.eligible else 'No'}"
                                                 for c in cfg.eligibility.criteria) + "."))  # fmt: skip
    crit = "; ".join(f"{c.label or 'criterion'}" for c in cfg.progression) or "none"
    when = f" (set on {t.progression_set_on.isoformat()})" if t.progression_set_on and cfg.progression else ""
    b.append(Block("paragraph", f"Prespecified progression criteria{when}: {crit}. Feasibility estimates are "
                   "reported with confidence intervals, not p-values (CONSORT extension for pilot and feasibility "
                   "trials)."))  # fmt: skip
    return b


#: A config key in the checklist's actions (``trial.registered_on``): the appendix words it for the reader.
_CONFIG_KEY = re.compile(r"\b([a-z]+)\.([a-z]+(?:_[a-z]+)*)\b(?!\()")


def _key_words(text: str) -> str:
    """``trial.registered_on`` as "the config's trial: registered on"."""
    return _CONFIG_KEY.sub(lambda m: f"the config's {m.group(1)}: {m.group(2).replace('_', ' ')}", text)


def _appendix(checklist: Table, numbers: list[int]) -> list[Block]:
    df = checklist.data.apply(lambda col: col.map(lambda v: _key_words(v) if isinstance(v, str) else v))
    table = replace(checklist, data=df, footnotes=tuple(map(_key_words, checklist.footnotes)))
    return [Block("heading", "Appendix: reporting checklist", 2),
            Block("paragraph", "Each item of CONSORT 2025 and of the CONSORT extension to randomised pilot and "
                  "feasibility trials: where this report shows it, or what the authors' text or the trial's config "
                  "and data must add."), _table_block(table, numbers)]  # fmt: skip


DEFAULT_CONFIDENTIALITY = {
    False: "Confidential: for the trial steering committee and the trial team; not to be shared further.",
    True: "Confidential: the closed part is for the members of the data monitoring committee only.",
}


def build_report(
    cfg: Config, tables: dict[str, Table], figures: dict[str, dict[str, bytes]], log: dict[str, Any] | None = None,
    notes: tuple[str, ...] = (), blinded: bool = False, closed: bool = False, checklist: Table | None = None,
    sequence: SequenceFacts | None = None,
) -> Report:  # fmt: skip
    """The report: a title page, then the sections the config's ``report.sections`` names in their order
    (by default a summary page, the trial, methods, the results in CONSORT order and the checklist
    appendix); with ``closed`` (or ``report.closed``), the results in an open part pooled over the arms and
    then a closed part by arm (a data monitoring committee's report, as DAMOCLES lays it out)."""
    t, settings = cfg.trial, cfg.report
    closed = closed or settings.closed
    keys = tuple(settings.sections or REPORT_SECTIONS)
    wanted = set(settings.figures if settings.figures is not None else REPORT_FIGURES)
    figures = {k: v for k, v in figures.items() if k in wanted}
    numbers = [0, 0]  # tables, figures: numbered through the summary, the open and the closed parts
    summary: list[Block] = []
    in_summary = ""
    if "summary" in keys:
        summary, in_summary = _summary(cfg, tables, notes, numbers, closed)
    results = tuple(k for k in keys if k in RESULT_KEYS)
    b: list[Block] = []
    placed_results = False
    for key in keys:
        if key == "summary":
            b += summary
        elif key == "trial":
            b += _trial(cfg, blinded, () if "summary" in keys else notes)
        elif key == "methods":
            b += _methods(cfg, log, sequence)
        elif key == "checklist" and checklist is not None:
            b += _appendix(checklist, numbers)
        elif key in RESULT_KEYS and not closed:
            b += _sections(cfg, tables, figures, numbers, keys=(key,), in_summary=in_summary)
        elif key in RESULT_KEYS and not placed_results:  # a closed report's parts: the results where the first is
            placed_results = True
            b.append(Block("heading", "Open report", 2))
            b.append(Block("paragraph", "For the open session of the data monitoring committee and the trial "
                           "steering committee: every figure pooled over the arms."))  # fmt: skip
            open_tables = {n: p for n, tb in tables.items() if (p := pooled(tb)) is not None}
            b += _sections(cfg, open_tables, {}, numbers, level=3, keys=results, in_summary=in_summary)
            b.append(Block("heading", "Closed report", 2))
            b.append(Block("paragraph", "CLOSED: for the members of the data monitoring committee only, and the "
                           "statisticians who prepared it. Not to be shared with the trial team."))  # fmt: skip
            b += _sections(cfg, tables, figures, numbers, level=3, keys=results)
    if "summary" not in keys and "trial" not in keys:
        b = [Block("paragraph", note) for note in notes] + b
    kind = ("Closed report for the data monitoring committee (open and closed parts)" if closed
            else "Open report" + (", arms blinded" if blinded else ""))  # fmt: skip
    front = tuple(line for line in (
        t.title if settings.title and settings.title != t.title else "",
        f"Trial config version {t.version}" + (f"; registration {t.registration}" if t.registration else ""),
        f"Data cut-off: {t.data_cutoff.isoformat()}." if t.data_cutoff is not None else "",
        kind) if line)  # fmt: skip
    title = settings.title or t.title
    confidentiality = settings.confidentiality or DEFAULT_CONFIDENTIALITY[closed]
    header = f"{title} (v{t.version}): {'closed report' if closed else 'open report'}"
    return Report(f"{title} (v{t.version})", b, figures, t.data_cutoff, front, confidentiality, header)


def to_markdown(report: Report) -> str:
    """The same content as Markdown; figures referenced as the SVG files beside it."""
    from advance_trial.output.tables import md_text
    from advance_trial.output.tables import to_markdown as table_md

    out = [f"# {md_text(report.title)}", ""]
    out += [x for line in report.front for x in (md_text(line), "")]
    out += [f"**{md_text(report.confidentiality)}**", ""] if report.confidentiality else []
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
