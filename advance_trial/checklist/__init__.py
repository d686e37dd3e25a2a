"""The reporting checklist: every item of CONSORT 2025 and of the pilot and feasibility extension, marked from
the trial's own config, data and (when given) allocation log.

Each item is one of

``shown``
    the run's report shows it; ``where`` names the section, table or figure;
``authors_text``
    only the authors can write it (background, interpretation, limitations, ...); ``action`` says where;
``missing``
    the report could show it but the config or data lack what it needs; ``action`` says what to add.

A note in ``action`` may go with a shown item: progression criteria set after the first allocation in the
log are shown, but not prespecified, and the note says so. :func:`assess` returns one row per item (columns
:data:`COLUMNS`); ``advance-trial checklist`` prints it and the report carries it as an appendix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from advance_trial.checklist.items import CONSORT_2025, ITEMS, PILOT_2016, Item

if TYPE_CHECKING:
    from advance_trial.config import Config
    from advance_trial.output.tables import Table

COLUMNS = ["guideline", "item", "section", "topic", "status", "where", "action"]
STATUSES = ("shown", "authors_text", "missing")
#: The words a reader sees for each status.
STATUS_LABELS = {"shown": "shown", "authors_text": "authors' text", "missing": "missing data"}


def _sections() -> tuple[dict[str, str], dict[str, str]]:
    """The report section of each table and each figure, as the report lays them out."""
    from advance_trial.output.render.report import SECTIONS

    tables = {name: title for title, names, _ in SECTIONS for name in names}
    figures = {name: title for title, _, figs in SECTIONS for name in figs}
    return tables, figures


FIGURE_LABELS = {"consort": "the CONSORT flow diagram", "accrual": "the accrual figure",
                 "attendance": "the attendance histogram", "forest": "the forest plot",
                 "retention": "the retention figure", "engagement": "the engagement figure"}  # fmt: skip


def _has(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _config_fact(cfg: Config, name: str, guideline: str, log: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """``(status, where, action)`` of an item shown from a config fact."""
    t = cfg.trial

    def get(key: str) -> Any:
        return getattr(t, key, None)

    if name == "registration":
        if not _has(t.registration):
            return "missing", "", ""
        if guideline == CONSORT_2025 and not _has(get("registered_on")):
            return "missing", "", "trial.registered_on (the date of registration; CONSORT 2025 asks for it)"
        return "shown", "Trial section: registration", ""
    if name == "protocol":
        if guideline == CONSORT_2025:
            lacking = [k for k in ("protocol", "analysis_plan") if not _has(get(k))]
            if lacking:
                return "missing", "", " and ".join(f"trial.{k}" for k in lacking) + " (where it can be read)"
        elif not _has(get("protocol")):
            return "missing", "", ""
        return "shown", "Trial section: protocol" + (" and analysis plan" if guideline == CONSORT_2025 else ""), ""
    if name in ("data_sharing", "funding", "ethics"):
        words = {"data_sharing": "data sharing", "funding": "funding", "ethics": "ethical approval"}[name]
        return ("shown", f"Trial section: {words}", "") if _has(get(name)) else ("missing", "", "")
    if name == "eligibility":
        return ("shown", "Methods section: eligibility criteria", "") if _has(getattr(cfg, "eligibility", None)) \
            else ("missing", "", "")  # fmt: skip
    if name == "schedule":
        return ("shown", "Trial section: the sessions offered", "") if cfg.schedule is not None else ("missing", "", "")
    if name == "events":
        return ("shown", "Harms section", "") if cfg.events is not None else ("missing", "", "")
    if name == "implementation":
        return ("shown", "Methods section: implementation", "") if log else ("missing", "", "")
    if name == "missing_data":
        mi = any("multiple_imputation" in o.analyses_for(t.design) for o in cfg.outcomes)
        return ("shown", "Outcomes section: multiple imputation rows", "") if mi else \
            ("authors_text", "", "the methods: how missing outcomes were handled (complete cases here)")  # fmt: skip
    if name == "objectives":
        return ("shown", "Progression criteria section", "") if cfg.progression else ("missing", "", "")
    if name == "progression_set":
        if not cfg.progression:
            return "missing", "", ""
        set_on = get("progression_set_on")
        if set_on is None:
            return (
                "missing",
                "Progression criteria section",
                "trial.progression_set_on (the date the criteria were set)",
            )
        first = (log or {}).get("first")
        try:
            first_day = dt.date.fromisoformat(str(first)[:10]) if first else None
        except ValueError:
            first_day = None
        if first_day is not None and set_on > first_day:
            return ("shown", "Progression criteria section",
                    f"set on {set_on.isoformat()}, after the first allocation ({first_day.isoformat()}): not "
                    "prespecified; report this as a change to the methods")  # fmt: skip
        note = f"set on {set_on.isoformat()}" + (
            f", before the first allocation ({first_day.isoformat()})" if first_day else
            " (give the allocation log with --log to check it against the first allocation)")  # fmt: skip
        return "shown", "Progression criteria section", note
    raise ValueError(f"no such config fact: {name}")


def _evidence(item: Item, tables: Mapping[str, Table], figures: set[str]) -> list[str]:
    section_of, figure_section = _sections()
    where = []
    for f in item.figures:
        if f in figures and f in figure_section:
            where.append(f"{figure_section[f]} section: {FIGURE_LABELS.get(f, 'a figure')}")
    for n in item.tables:  # a table the report does not lay out (consort.csv's, the monthly counts) shows nothing
        t = tables.get(n)
        if t is not None and not t.data.empty and n in section_of and n != "consort":
            where.append(f"{section_of[n]} section: table '{t.title}'")
    return list(dict.fromkeys(where))


def assess(cfg: Config, tables: Mapping[str, Table], figures: Iterable[str] = (),
           log: Mapping[str, Any] | None = None) -> pd.DataFrame:  # fmt: skip
    """Every item of both guidelines, marked shown, needing the authors' text, or missing (see the module).

    Parameters
    ----------
    cfg : Config
        The trial config (its facts are what the report's Trial and Methods sections state).
    tables : mapping
        The run's tables by name (an empty table shows nothing).
    figures : iterable of str
        The stems of the figures the run draws (``consort``, ``accrual``, ...).
    log : mapping, optional
        The allocation log's facts (``first`` allocation date among them), when the run was given ``--log``.
    """
    drawn = set(figures)
    rows = []
    for it in ITEMS:
        if it.config is not None:
            status, where, action = _config_fact(cfg, it.config, it.guideline, log)
            if status == "missing" and not action:
                action = it.fill
        elif it.tables or it.figures:
            shown = _evidence(it, tables, drawn)
            status, where = ("shown", "; ".join(shown)) if shown else ("missing", "")
            action = it.text and f"also {it.text}" if shown else it.fill
        elif it.section_shown is not None:
            status, where, action = "shown", f"{it.section_shown} section", ""
        else:
            status, where, action = "authors_text", "", it.text
        rows.append({"guideline": it.guideline, "item": it.item, "section": it.section, "topic": it.topic,
                     "status": status, "where": where, "action": action})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def summary(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of each status in each guideline."""
    out: dict[str, dict[str, int]] = {}
    for g in (CONSORT_2025, PILOT_2016):
        sub = frame[frame["guideline"] == g]
        out[g] = {s: int((sub["status"] == s).sum()) for s in STATUSES}
    return out


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The checklist in a reader's words: statuses as words, where and what to add in one column."""
    words = frame["status"].map(STATUS_LABELS)
    detail = [w if s == "shown" and not a else (f"{w}; {a}" if w and a else (w or a))
              for s, w, a in zip(frame["status"], frame["where"], frame["action"], strict=True)]  # fmt: skip
    return pd.DataFrame({"Guideline": frame["guideline"], "Item": frame["item"], "Topic": frame["topic"],
                         "Status": words, "Where, or what is needed": detail})  # fmt: skip


def checklist_table(frame: pd.DataFrame) -> Table:
    """The checklist as the report's appendix table."""
    from advance_trial.output.tables import Table

    counts = summary(frame)
    notes = tuple(f"{g}: {c['shown']} shown, {c['authors_text']} for the authors' text, {c['missing']} missing data."
                  for g, c in counts.items())  # fmt: skip
    return Table("checklist", display_frame(frame), "Reporting checklist", notes)


__all__ = ["COLUMNS", "STATUSES", "assess", "checklist_table", "display_frame", "summary"]
