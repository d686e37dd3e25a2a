"""Display tables: results laid out for reading, as gtsummary lays out its results data.

A formatting layer only: every number comes from a table the run computed (a pivot of the results
data set, :func:`advance_trial.output.ard.pivot`), nothing is derived here but the arrangement (a
column per arm) and the text of a cell. How each table reads is declared once, in
:mod:`advance_trial.output.displays`; the words and number formats are
:mod:`advance_trial.output.formats`'. The CSV outputs keep their contract columns, unrounded; these
tables are for the report (Markdown, HTML and Word render the same frames) and the terminal.

:func:`display` maps a computed :class:`Table` to its display version; a table without a layout
keeps its cells and gets labelled column headings.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.ard import ResultsData, pivot
from advance_trial.output.display_baseline import baseline_frame
from advance_trial.output.display_spec import Context, render
from advance_trial.output.displays import DISPLAYS, declared
from advance_trial.output.formats import (
    ANALYSIS_LABELS,
    COLUMN_LABELS,
    EFFECT_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
    SUPPRESSED,
    Labels,
    comparison,
    count,
    enrolled,
    estimate,
    group_labels,
    interval,
    labels_of,
    median,
    num,
    proportion,
    rule,
    share,
)
from advance_trial.output.tables import Table

__all__ = ["ANALYSIS_LABELS", "COLUMN_LABELS", "DISPLAYS", "EFFECT_LABELS", "STATE_LABELS", "STATUS_LABELS",
           "SUPPRESSED", "Labels", "baseline_frame", "comparison", "count", "display", "display_of", "enrolled",
           "estimate", "group_labels", "interval", "labels_of", "median", "num", "proportion", "rule",
           "share"]  # fmt: skip


def _one_timepoint(frame: pd.DataFrame, title: str) -> tuple[pd.DataFrame, str]:
    """A Timepoint column holding one value moves into the title."""
    if "Timepoint" in frame and frame["Timepoint"].nunique() == 1 and len(frame):
        return frame.drop(columns="Timepoint"), f"{title}, {frame['Timepoint'].iloc[0]}"
    return frame, title


def _worded(cfg: Config, table: Table) -> Table:
    if cfg.trial.design != "single_arm":
        return table
    df = table.data.rename(columns={c: enrolled(str(c)) for c in table.data.columns})
    df = df.apply(lambda col: col.map(lambda v: enrolled(v) if isinstance(v, str) else v))
    return replace(table, data=df, title=enrolled(table.title), footnotes=tuple(map(enrolled, table.footnotes)))


def display(cfg: Config, table: Table) -> Table:
    """The display version of a computed table, laid out by its declaration
    (:data:`~advance_trial.output.displays.DISPLAYS`): labelled, cells formatted, a column per arm where
    the table breaks down by arm, its footnotes in the display's words. A table without a layout keeps
    its cells, with labelled column headings."""
    df = table.data
    decl = declared(table.name)
    if not decl.laid_out or df.empty:
        frame = df.rename(columns={c: COLUMN_LABELS.get(str(c), str(c).replace("_", " ").capitalize())
                                   for c in df.columns})  # fmt: skip
        return _worded(cfg, Table(table.name, frame, table.title, table.footnotes, table.markdown))
    notes = decl.notes(cfg, df) if decl.footnotes else table.footnotes
    frame, title = _one_timepoint(render(decl, Context(cfg, labels_of(cfg), df)), table.title)
    keys = decl.keys
    if "Timepoint" not in frame and title != table.title:
        keys -= 1
    return _worded(cfg, Table(table.name, frame, title, tuple(notes), table.markdown, keys=max(keys, 1)))


def display_of(cfg: Config, results: ResultsData, name: str, title: str = "") -> Table:
    """The display of table ``name``: its pivot of the results data set, laid out by its declaration."""
    return display(cfg, Table(name, pivot(results, name), title))
