"""Blinding on the results data set: arms as codes, contrasts in code order. Names no table.

A blinded run (``--blinded``) first leaves out what would say which code is the intervention
(:func:`advance_trial.output.disclosure.withhold_blinded`); then, generically, on every display's results
rows (:mod:`advance_trial.results.structure`):

- the levels of the arm breakdowns (``arm``, ``comparator``) become their codes, and every arm id and label
  in the words (levels, labels, text, methods, warnings, errors, titles, notes) becomes its code;
- a display row compares two arms when it has both an ``arm`` and a ``comparator`` breakdown, or a
  ``comparison`` statistic ``X vs Y``. When the first arm's code sorts after the second's, the row is
  re-expressed in code order: the two sides are exchanged (the breakdowns' levels, each side's statistics
  ``*_arm`` and ``*_comparator``, and the comparison's words), and the statistics marked ``contrast``
  change direction: a difference changes sign, a ratio (an ``effect`` breakdown on a ratio scale of
  :data:`advance_trial.vocabulary.EFFECTS`) is inverted, and the interval's limits change places;
- rows are put in code order (``A`` before ``B`` before ``all``), whichever arm a code stands for; a
  listing of men (a table without a layout with a ``participant_id``) is ordered by man.

The displays are then pivots of the blinded rows, which they carry on to ``results.csv``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.ard import results_data
from advance_trial.output.displays import layouts
from advance_trial.results.layout import display_key, frame, missing, pivot_rows
from advance_trial.results.structure import CONTRAST_STATS, MAX_GROUPS, stat_label
from advance_trial.results.table import Table
from advance_trial.vocabulary import EFFECTS

#: The breakdowns whose levels are arms.
ARM_BREAKDOWNS = ("arm", "comparator")
#: The statistic whose words name the two arms a row compares (``X vs Y``).
COMPARISON = "comparison"
_TEXT = ("group1_level", "group2_level", "group3_level", "variable", "variable_level", "method", "variable_label",
         "text", "warning", "error")  # fmt: skip


def blind_tables(cfg: Config, tables: dict[str, Table], codes: dict[str, str]) -> dict[str, Table]:
    """Tables with arms as codes only (see the module docstring): what would reveal the intervention's code
    withheld, then every display's results rows blinded and pivoted again."""
    from advance_trial.output.disclosure import withhold_blinded
    from advance_trial.results.labels import variable_labels

    sub = substituter(cfg, codes)
    order = sorted(codes.values())
    labels = variable_labels(cfg)
    out: dict[str, Table] = {}
    for name, t in withhold_blinded(cfg, tables, codes).items():
        title, notes = sub(t.title), tuple(sub(n) for n in t.footnotes)
        layout = layouts().get(name)
        if layout is None:
            df = _words(t.data, sub)
            if "participant_id" in df.columns:  # a listing of men: by man, whatever his arm
                df = df.sort_values("participant_id", kind="stable")
            else:
                df = code_order(df, order)
            out[name] = replace(t, data=df.reset_index(drop=True), title=title, footnotes=notes, results=None)
            continue
        rows = own_rows(name, t, labels)
        blinded = blind_rows(rows, codes, sub)
        data = code_order(pivot_rows(layout, blinded, list(t.data.columns), t.data.dtypes.to_dict()), order)
        out[name] = replace(t, data=data, title=title, footnotes=notes, results=in_display_order(name, blinded, data))
    return out


def own_rows(name: str, t: Table, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A display's results rows: the analysis's own, when the display is still their pivot, else read off it
    (the variables labelled by ``labels``)."""
    return results_data({name: t}, labels).long


def substituter(cfg: Config, codes: Mapping[str, str]) -> Callable[[str], str]:
    """A function that writes every arm id and label in a text as its code (``Arm A`` for a label)."""
    pairs = [(a.label, f"Arm {codes[a.id]}") for a in cfg.arms] + [(a.id, codes[a.id]) for a in cfg.arms]
    pairs.sort(key=lambda p: -len(p[0]))
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(k)}(?![\w-])" for k, _ in pairs))
    table = dict(pairs)

    def sub(text: str) -> str:
        return pattern.sub(lambda m: table[m.group(0)], text)

    return sub


def _words(df: pd.DataFrame, sub: Callable[[str], str]) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object or isinstance(df[c].dtype, pd.StringDtype):
            df[c] = df[c].map(lambda v: sub(v) if isinstance(v, str) else v)
    return df


def _groups(r: Mapping[Any, Any]) -> dict[str, Any]:
    return {r[f"group{k}"]: r[f"group{k}_level"] for k in range(1, MAX_GROUPS + 1) if r[f"group{k}"] is not None}


def _plain(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(None if missing(v) else v for v in key)


def _key(r: Mapping[Any, Any]) -> tuple[Any, ...]:
    cells = [r[f"group{k}{s}"] for k in range(1, MAX_GROUPS + 1) for s in ("", "_level")]
    return _plain((*cells, r["variable"], r["variable_level"]))


def _sides(rows: list[dict[Any, Any]]) -> tuple[str, str] | None:
    """The two arms a display row compares, first and second, or ``None``."""
    groups = _groups(rows[0])
    if all(g in groups for g in ARM_BREAKDOWNS):
        return str(groups[ARM_BREAKDOWNS[0]]), str(groups[ARM_BREAKDOWNS[1]])
    for r in rows:
        if r["stat_name"] == COMPARISON and isinstance(r["text"], str) and " vs " in r["text"]:
            first, second = r["text"].split(" vs ", 1)
            return first, second
    return None


def _other_side(stat_name: str) -> str:
    for a, b in (("_arm", "_comparator"), ("_comparator", "_arm")):
        if stat_name.endswith(a):
            return stat_name[: -len(a)] + b
    return stat_name


def _turned(value: Any, ratio: bool) -> Any:
    if not isinstance(value, int | float | np.integer | np.floating) or isinstance(value, bool):
        return value
    if ratio:
        return 1 / value if value != 0 else math.inf
    return -value


def _swap(rows: list[dict[Any, Any]]) -> None:
    """A display row's two sides exchanged in place, its contrasts turned round."""
    groups = _groups(rows[0])
    effect = groups.get("effect")
    ratio = isinstance(effect, str) and effect in EFFECTS and EFFECTS[effect].ratio
    limits = {"ci_lower": "ci_upper", "ci_upper": "ci_lower"}
    for r in rows:
        for k in range(1, MAX_GROUPS + 1):
            if r[f"group{k}"] in ARM_BREAKDOWNS:
                other = ARM_BREAKDOWNS[1 - ARM_BREAKDOWNS.index(r[f"group{k}"])]
                r[f"group{k}_level"] = groups[other]
        if r["stat_name"] == COMPARISON and isinstance(r["text"], str) and " vs " in r["text"]:
            first, second = r["text"].split(" vs ", 1)
            r["text"] = f"{second} vs {first}"
        if r["contrast"] and r["stat_name"] in CONTRAST_STATS:
            r["stat"] = _turned(r["stat"], ratio)
            r["stat_name"] = limits.get(r["stat_name"], r["stat_name"])
        else:
            r["stat_name"] = _other_side(r["stat_name"])
        r["stat_label"] = stat_label(r["stat_name"])


def blind_rows(rows: pd.DataFrame, codes: Mapping[str, str], sub: Callable[[str], str]) -> pd.DataFrame:
    """Results rows blinded (see the module docstring): sides in code order, contrasts turned with them,
    arms' levels and words as codes."""
    by_key: dict[tuple[Any, ...], list[dict[Any, Any]]] = {}
    for r in rows.to_dict("records"):
        by_key.setdefault(_key(r), []).append(r)
    out: list[dict[Any, Any]] = []
    for group in by_key.values():
        sides = _sides(group)
        if sides is not None and all(s in codes for s in sides) and codes[sides[0]] > codes[sides[1]]:
            _swap(group)
        for r in group:
            for c in _TEXT:
                if isinstance(r[c], str):
                    r[c] = sub(r[c])
        out += group
    return frame([[r[c] for c in rows.columns] for r in out]) if out else frame([])


def in_display_order(name: str, rows: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of their display's rows (then by column), as :func:`results_data` binds them."""
    layout = layouts()[name]
    position = {_plain(display_key(layout, rec)): i for i, rec in enumerate(data.to_dict("records"))}
    columns = {c: i for i, c in enumerate(data.columns)}
    records = rows.to_dict("records")
    at = [(position.get(_key(r), len(position)), columns.get(str(r["stat_name"]), len(columns))) for r in records]
    sort = sorted(range(len(records)), key=lambda i: at[i])
    return rows.iloc[sort].reset_index(drop=True)


def code_order(df: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Rows in code order: within the table's own layout, arm ``A`` before ``B`` before ``all``, so that
    the order of rows says nothing of which code is the intervention."""
    if df.empty or "arm" not in df.columns:
        return df
    keys = []
    for col in df.columns[: list(df.columns).index("arm") + 1]:  # the layout columns, arm the innermost
        values = df[col].astype(str)
        levels = [*codes, "all"] if col == "arm" else list(dict.fromkeys(values))
        rank = {v: i for i, v in enumerate(levels)}
        keys.append(values.map(lambda v, r=rank: r.get(v, len(r))).to_numpy())
    order = np.lexsort(keys[::-1]) if keys else np.arange(len(df))
    return df.iloc[order].reset_index(drop=True)
