"""The fixed structure of the results data set, and its check (R cards' ``check_ard_structure``).

A statistic is one row. The columns, in order:

``table``
    The display the row belongs to (``recruitment``, ``retention``, ...).
``group1``, ``group1_level`` ... ``group3``, ``group3_level``
    Up to three breakdowns (``arm``, ``site``, ``cycle``, ``timepoint``, ...) and their levels (``all`` for
    a margin); unused ones are empty.
``variable``, ``variable_level``
    What is summarised (``retained``, a threshold, a CONSORT stage, an outcome, a criterion) and its level
    where it has one (a timepoint, a detail).
``stat_name``, ``stat``
    The statistic's name (``n_retained``, ``proportion``, ``ci_lower``, ``estimate``, ...) and its value:
    a number only (a count, a float, or 0/1 for a flag), empty when the statistic is words or missing.
``method``, ``denominator``
    The interval method of an estimate (empty for counts) and what the proportions are of.
``variable_label``, ``stat_label``
    The words a reader sees for the variable and for the statistic: from the config's labels or the
    vocabulary (:data:`STAT_LABELS`), never an id.
``text``
    The row's value when it is words, not a number: a rule (``sessions >= 1``), a status (``met``,
    ``estimated``), a note, a comparison (``advance vs tau``), a component's type. ``stat`` is then empty.
``warning``, ``error``
    Why a statistic is doubtful (``warning``) or missing (``error``): an analysis's reason for not
    estimating is its row's ``error`` and every statistic of the same display row carries it.
``context``
    The analysis (builder) that made the row: ``recruitment``, ``retention``, ``outcomes``, ...
``contrast``
    True where the statistic is a contrast between arms (a difference, a ratio, a model's arm effect: its
    estimate and interval limits): blinding flips these (:mod:`advance_trial.output.blinding`).

Where the words of a text statistic live (:data:`TEXT_HOME`): a ``label`` in ``variable_label``, a
``reason`` in ``error``, every other one (``rule``, ``status``, ``note``, ``comparison``, ``type``, ...)
in ``text``; empty words (a criterion without a label, an estimated row's reason) stay in ``text``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import pandas as pd

#: The columns of the contract's ``results.csv`` (a third breakdown where a table has one).
BASE_COLUMNS = ["table", "group1", "group1_level", "group2", "group2_level", "group3", "group3_level", "variable",
                "variable_level", "stat_name", "stat", "method", "denominator"]  # fmt: skip
#: The columns this structure adds, after the contract's.
NEW_COLUMNS = ["variable_label", "stat_label", "text", "warning", "error", "context", "contrast"]
COLUMNS = [*BASE_COLUMNS, *NEW_COLUMNS]
MAX_GROUPS = 3
#: The columns that identify a row.
KEY = ["table", "group1", "group1_level", "group2", "group2_level", "group3", "group3_level", "variable",
       "variable_level", "stat_name"]  # fmt: skip
#: A text statistic's home column, by its name (every other one: ``text``).
TEXT_HOME = {"label": "variable_label", "reason": "error"}
#: Statistics whose value is a contrast between arms (with ``ci_lower`` and ``ci_upper`` of the same row).
CONTRAST_STATS = ("estimate", "ci_lower", "ci_upper")

#: The words a reader sees for a statistic, by name; a name not here is labelled by :func:`stat_label`.
STAT_LABELS: dict[str, str] = {
    "n": "Men", "proportion": "Proportion", "ci_lower": "Lower limit", "ci_upper": "Upper limit",
    "estimate": "Estimate", "se": "Standard error", "df": "Degrees of freedom", "mean": "Mean",
    "sd": "Standard deviation", "median": "Median", "q1": "First quartile", "q3": "Third quartile",
    "events": "Events", "n_randomised": "Men randomised", "n_eligible": "Men eligible",
    "n_screened": "Men screened", "n_retained": "Men retained", "n_outside_window": "Men followed up outside "
    "the window", "n_partners": "Partners identified", "n_contacted": "Partners contacted", "n_met": "Men "
    "meeting the threshold", "n_with_event": "With at least one event", "n_level": "Men at the level",
    "n_analysed": "Men analysed", "n_intervention": "Men analysed, intervention arm", "n_control": "Men "
    "analysed, control arm", "n_arm": "Men in the arm", "n_comparator": "Men in the comparator arm",
    "n_retained_arm": "Men retained in the arm", "n_retained_comparator": "Men retained in the comparator arm",
    "rate": "Rate", "std_difference": "Standardised difference", "status": "Status", "note": "Note",
    "reason": "Reason", "rule": "Rule", "label": "Label", "comparison": "Comparison", "type": "Type",
    "metric": "Metric", "judge_on": "Judged on", "compulsory": "Compulsory",
}  # fmt: skip

_WORDS = {"ci": "interval", "n": "men", "q1": "first quartile", "q3": "third quartile", "sd": "standard deviation",
          "se": "standard error", "df": "degrees of freedom", "pct": "percent"}  # fmt: skip


def stat_label(name: str) -> str:
    """The words for a statistic: :data:`STAT_LABELS`, else its name's words (``median_hours`` -> ``Median
    hours``; ``ci_lower_started`` -> ``Interval lower started``)."""
    if name in STAT_LABELS:
        return STAT_LABELS[name]
    words = " ".join(_WORDS.get(w, w) for w in name.split("_") if w)
    return words[:1].upper() + words[1:]


class ResultsStructureError(ValueError):
    """A frame that is not a results data set: what is wrong, in words (the first few offending rows)."""


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, complex)


def _where(frame: pd.DataFrame, bad: pd.Series, what: str) -> ResultsStructureError:
    rows = frame[bad.to_numpy(dtype=bool)].head(3)
    shown = "; ".join(f"row {i + 1}: {r['table']} {r['variable']} {r['stat_name']}"
                      for i, (_, r) in zip(rows.index, rows.iterrows(), strict=True))  # fmt: skip
    return ResultsStructureError(f"{int(bad.sum())} rows {what} ({shown})")


def check_results_structure(frame: pd.DataFrame) -> None:
    """Check that ``frame`` is a results data set (as R cards' ``check_ard_structure``).

    Checked: every column of :data:`COLUMNS` present, in order; ``stat`` a number or empty, never text;
    no two rows with one key (:data:`KEY`); ``table``, ``variable``, ``stat_name``, ``variable_label``,
    ``stat_label`` and ``context`` non-empty; the text columns text or empty; a breakdown's level only where
    it is named, a named breakdown with its level; ``contrast`` boolean and only on :data:`CONTRAST_STATS`.

    Raises
    ------
    ResultsStructureError
        Naming the first problem and up to three of its rows.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ResultsStructureError(f"columns missing: {', '.join(missing)}")
    if list(frame.columns) != COLUMNS:
        raise ResultsStructureError(f"columns out of order or extra: {', '.join(map(str, frame.columns))}")
    if frame.empty:
        return
    stat = frame["stat"]
    bad = stat.map(lambda v: not (_missing(v) or _number(v)))
    if bad.any():
        raise _where(frame, bad, "whose stat is not a number")
    for col in ("table", "variable", "stat_name", "variable_label", "stat_label", "context"):
        empty = frame[col].map(lambda v: _missing(v) or str(v) == "")
        if empty.any():
            raise _where(frame, empty, f"with no {col}")
    for col in ("variable_label", "text", "warning", "error", "method", "denominator"):
        bad = frame[col].map(lambda v: not (_missing(v) or isinstance(v, str)))
        if bad.any():
            raise _where(frame, bad, f"whose {col} is not text")
    for k in range(1, MAX_GROUPS + 1):
        name, level = frame[f"group{k}"].map(_missing), frame[f"group{k}_level"].map(_missing)
        if (name & ~level).any():
            raise _where(frame, name & ~level, f"with a level for an unnamed breakdown group{k}")
        if (~name & level).any():
            raise _where(frame, ~name & level, f"with breakdown group{k} named but no level")
    flags = frame["contrast"]
    bad = flags.map(lambda v: not isinstance(v, bool))
    if bad.any():
        raise _where(frame, bad, "whose contrast is not true or false")
    bad = flags.astype(bool) & ~frame["stat_name"].isin(CONTRAST_STATS)
    if bad.any():
        raise _where(frame, bad, f"marked contrast that are not {', '.join(CONTRAST_STATS)}")
    dup = frame.duplicated(KEY, keep=False)
    if dup.any():
        raise _where(frame, dup, "with the same key")


def empty_results() -> pd.DataFrame:
    """A results data set with no rows."""
    return pd.DataFrame({c: pd.Series(dtype=bool if c == "contrast" else object) for c in COLUMNS})
