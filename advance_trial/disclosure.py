"""Blinded and shareable outputs: what may leave the trial team, and in what form.

Blinded (``--blinded``): arms appear only as codes from a key kept apart from the outputs (the
config's ``randomisation.blinding.codes``, or codes drawn from the config seed and written to a
key file beside, not inside, the output folder). Every arm id and label in tables, titles, notes
and figures becomes its code. Tables that would reveal which code is the intervention (dose,
which only one arm is offered; partially nested and CACE analyses, which are defined by it) are
withheld, and comparisons are re-expressed in code order: ``A vs B`` is always A minus (or over)
B, whichever arm A is.

Shareable (``--shareable``): counts from 1 to ``reporting.min_cell - 1`` are shown as ``<N``, and
the proportions, intervals, medians and estimates computed from such a row are withheld;
tables about individual men (scores, per-man dose) are left out; partner data appear only as the
aggregate tables. This is primary suppression: totals are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.results import Table

WITHHELD_BLINDED = ("dose", "dose_summary", "dose_distribution", "dose_participants")
BLINDED_ANALYSES = ("partially_nested", "partially_nested_equal_var", "cace")
PER_MAN = ("scores", "dose_participants")
#: Counts shown beside a row's figures but not behind them: suppressed alone.
SIDE_COUNTS = ("n_outside_window",)
DERIVED = ("proportion", "ci_lower", "ci_upper", "estimate", "se", "df", "median_sessions", "q1_sessions",
           "q3_sessions", "median_hours", "q1_hours", "q3_hours")  # fmt: skip


def blinding_codes(cfg: Config) -> dict[str, str]:
    """Arm id -> code: the config's codes, or letters assigned by a permutation drawn from the seed."""
    if cfg.randomisation.blinding is not None:
        return dict(cfg.randomisation.blinding.codes)
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(cfg.randomisation.assess_seed or 0, spawn_key=(7,)))
    )
    letters = [chr(ord("A") + i) for i in range(len(cfg.arms))]
    order = rng.permutation(len(letters))
    return {a.id: letters[order[i]] for i, a in enumerate(cfg.arms)}


def blinded_config(cfg: Config, codes: dict[str, str]) -> Config:
    """The config as figures and the report see it in blinded outputs: arms named only by code."""
    arms = [a.model_copy(update={"id": codes[a.id], "label": f"Arm {codes[a.id]}"}) for a in cfg.arms]
    arms.sort(key=lambda a: a.id)
    sched = cfg.schedule.model_copy(update={"arm": codes[cfg.schedule.arm]}) if cfg.schedule else None
    return cfg.model_copy(update={"arms": arms, "schedule": sched})


def _substituter(cfg: Config, codes: dict[str, str]) -> Callable[[str], str]:
    pairs = [(a.label, f"Arm {codes[a.id]}") for a in cfg.arms] + [(a.id, codes[a.id]) for a in cfg.arms]
    pairs.sort(key=lambda p: -len(p[0]))
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(k)}(?![\w-])" for k, _ in pairs))
    table = dict(pairs)

    def sub(text: str) -> str:
        return pattern.sub(lambda m: table[m.group(0)], text)

    return sub


def _flip(df: pd.DataFrame, swap: pd.Series) -> pd.DataFrame:
    out = df.copy()
    ratio = out["effect"].isin(["odds_ratio", "rate_ratio"])
    flips: tuple[tuple[pd.Series, Callable[[pd.Series], pd.Series]], ...] = (
        (swap & ~ratio, lambda v: -v),
        (swap & ratio, lambda v: 1 / v),
    )
    for mask, f in flips:
        if mask.any():
            est, lo, hi = f(out.loc[mask, "estimate"]), f(out.loc[mask, "ci_upper"]), f(out.loc[mask, "ci_lower"])
            out.loc[mask, "estimate"], out.loc[mask, "ci_lower"], out.loc[mask, "ci_upper"] = est, lo, hi
    return out


def blind_tables(cfg: Config, tables: dict[str, Table], codes: dict[str, str]) -> dict[str, Table]:
    """Tables with arms as codes only (see the module docstring)."""
    sub = _substituter(cfg, codes)
    intervention = cfg.schedule.arm if cfg.schedule else cfg.arm_ids[0]
    control = next((a for a in cfg.arm_ids if a != intervention), None)
    out: dict[str, Table] = {}
    for name, t in tables.items():
        if name in WITHHELD_BLINDED:
            continue
        df = t.data.copy()
        if name == "consort":
            df = df[~df["stage"].isin(["received_any_session", "met_threshold"])]
        if name == "outcomes" and not df.empty and control is not None:
            df = df[~df["analysis"].isin(BLINDED_ANALYSES)]
            swap = pd.Series(codes[intervention] > codes[control], index=df.index)
            df = _flip(df, swap)
            first, second = sorted([codes[intervention], codes[control]])
            df["comparison"] = f"{first} vs {second}"
            df = df.drop(columns=[c for c in ("n_intervention", "n_control", "note", "threshold") if c in df])
        if name == "retention_difference" and not df.empty:
            swap = df["arm"].map(codes) > df["comparator"].map(codes)
            df.loc[swap, ["arm", "comparator"]] = df.loc[swap, ["comparator", "arm"]].to_numpy()
            df.loc[swap, ["n_arm", "n_comparator"]] = df.loc[swap, ["n_comparator", "n_arm"]].to_numpy()
            df.loc[swap, ["n_retained_arm", "n_retained_comparator"]] = df.loc[
                swap, ["n_retained_comparator", "n_retained_arm"]
            ].to_numpy()
            df.loc[swap, "estimate"] = -df.loc[swap, "estimate"]
            lo = df.loc[swap, "ci_lower"].copy()
            df.loc[swap, "ci_lower"] = -df.loc[swap, "ci_upper"]
            df.loc[swap, "ci_upper"] = -lo
        for c in df.columns:
            if df[c].dtype == object or isinstance(df[c].dtype, pd.StringDtype):
                df[c] = df[c].map(lambda v: sub(v) if isinstance(v, str) else v)
        notes = tuple(sub(n) for n in t.footnotes)
        if name == "outcomes":
            notes += ("Blinded: comparisons are the first code minus (or over) the second; analyses defined by the "
                      "intervention arm (partially nested, CACE) are withheld.",)  # fmt: skip
        out[name] = replace(t, data=df.reset_index(drop=True), title=sub(t.title), footnotes=notes)
    return out


def _count_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if (c == "n" or c.startswith("n_")) and df[c].dtype.kind in "iuf"]


def shareable_tables(tables: dict[str, Table], min_cell: int) -> dict[str, Table]:
    """Tables with small counts suppressed (see the module docstring)."""
    out: dict[str, Table] = {}
    for name, t in tables.items():
        if name in PER_MAN:
            continue
        df = t.data.copy()
        counts = _count_columns(df)
        if counts:
            small = pd.DataFrame({c: (df[c] >= 1) & (df[c] < min_cell) for c in counts})
            basis = [c for c in counts if c not in SIDE_COUNTS]
            row_small = small[basis].any(axis=1) if basis else pd.Series(False, index=df.index)
            for c in counts:
                df[c] = df[c].astype(object).where(~small[c], f"<{min_cell}")
            for c in DERIVED:
                if c in df.columns:
                    df[c] = df[c].astype(object).where(~row_small, "")
        note = (
            f"Shareable: counts from 1 to {min_cell - 1} are shown as <{min_cell}, "
            "and figures computed from them are withheld."
        )
        out[name] = replace(t, data=df, footnotes=(*t.footnotes, note))
    return out
