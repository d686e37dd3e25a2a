"""Blinded and shareable outputs: what may leave the trial team, and in what form.

Blinded (``--blinded``): arms appear only as codes from a key kept apart from the outputs (the
config's ``randomisation.blinding.codes``, or codes dealt by :mod:`secrets` and written to a key
file beside, never inside, the output folder; a run repeated with the same key file reuses it).
Rows and figures list arms in code order, whichever arm a code stands for; a listing of men
(``scores``) is ordered by participant id, never by arm. Every arm id and label
in tables, titles, notes and figures becomes its code. Tables that would reveal which code is the intervention (dose,
which only one arm is offered; partially nested and CACE analyses, which are defined by it) are
withheld, and comparisons are re-expressed in code order: ``A vs B`` is always A minus (or over)
B, whichever arm A is.

Shareable (``--shareable``): counts from 1 to ``reporting.min_cell - 1`` are suppressed (primary),
then further counts (complementary, :mod:`advance_trial.output.sdc`) until none can be recovered from the
rest of the output set; every suppressed count is shown as ``[c]``, and the proportions, intervals,
medians and estimates computed from its row are withheld. Tables about individual men (scores,
per-man dose, the attendance distribution) are left out; dose and partner figures appear overall
only; reasons appear only as the config's coded categories.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.displays import declared, names
from advance_trial.output.tables import Table

if TYPE_CHECKING:
    from advance_trial.output.sdc import Protection

#: Tables a blinded run withholds, and listings of men (ordered by man, whatever his arm): read from the
#: declarations beside each display (:mod:`advance_trial.output.displays`).
WITHHELD_BLINDED = names(lambda d: d.blinded.withheld)
PER_MAN = names(lambda d: d.per_man)
#: Counts shown beside a row's figures but not behind them: suppressed alone.
SIDE_COUNTS = ("n_outside_window",)
DERIVED = ("proportion", "ci_lower", "ci_upper", "estimate", "se", "df", "median_sessions", "q1_sessions",
           "q3_sessions", "median_hours", "q1_hours", "q3_hours", "events",
           # Table 1's summaries go with their row's count: an unrounded mean is a fraction whose
           # denominator (839/52 = 16.134615384615383) is the count it would otherwise reveal
           "mean", "sd", "median", "q1", "q3")  # fmt: skip


def blinding_codes(cfg: Config, key: Path | None = None) -> dict[str, str]:
    """Arm id -> code: the config's codes; else the key file's, when it exists (a run repeated, or
    ``verify``); else letters dealt by :mod:`secrets`, never from anything a reader holds (a seed, the
    config, the data).

    Raises
    ------
    IntegrityError
        If the key file does not name exactly the config's arms with distinct codes.
    """
    if cfg.randomisation.blinding is not None:
        return dict(cfg.randomisation.blinding.codes)
    if key is not None and key.exists():
        return read_blinding_key(cfg, key)
    import secrets

    letters = [chr(ord("A") + i) for i in range(len(cfg.arms))]
    dealt = [letters.pop(secrets.randbelow(len(letters))) for _ in range(len(cfg.arms))]
    return {a.id: dealt[i] for i, a in enumerate(cfg.arms)}


def read_blinding_key(cfg: Config, key: Path) -> dict[str, str]:
    """The codes of a blinding key file (``arm,code`` lines), checked against the config's arms."""
    from advance_trial.errors import IntegrityError

    try:
        lines = key.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{key}: the blinding key cannot be read ({exc})") from exc
    pairs = [line.split(",", 1) for line in lines[1:] if line.strip()]
    codes = {p[0]: p[1] for p in pairs if len(p) == 2}
    if lines[:1] != ["arm,code"] or sorted(codes) != sorted(cfg.arm_ids) or len(set(codes.values())) != len(codes):
        raise IntegrityError(f"{key}: not a blinding key for the arms {', '.join(cfg.arm_ids)}")
    return codes


def blinded_config(cfg: Config, codes: dict[str, str]) -> Config:
    """The config as figures and the report see it in blinded outputs: arms named only by code."""
    arms = [a.model_copy(update={"id": codes[a.id], "label": f"Arm {codes[a.id]}"}) for a in cfg.arms]
    arms.sort(key=lambda a: a.id)
    sched = cfg.schedule.model_copy(update={"arm": codes[cfg.schedule.arm]}) if cfg.schedule else None
    return cfg.model_copy(update={"arms": arms, "schedule": sched})


def blinded_view(name: str, table: Table) -> Table | None:
    """What a blinded run keeps of a table, as its declaration says (``None``: withheld), before its arms are
    relabelled: the rows ``blinded.rows`` keeps, without the columns ``blinded.drop``, with its note."""
    rule = declared(name).blinded
    if rule.withheld:
        return None
    df = table.data
    if len(df) and (rule.when is None or rule.when(df)):
        df = rule.rows(df) if rule.rows is not None else df
        df = df.drop(columns=[c for c in rule.drop if c in df.columns])
    notes = (*table.footnotes, rule.note) if rule.note else table.footnotes
    return replace(table, data=df.reset_index(drop=True), footnotes=notes)


def withhold_blinded(cfg: Config, tables: dict[str, Table], codes: dict[str, str]) -> dict[str, Table]:
    """The tables a blinded run may show, with what would reveal the intervention's code withheld, as each
    table's declaration says (:func:`blinded_view`); arms are relabelled and contrasts turned round apart
    (output/blinding.py)."""
    kept = {name: blinded_view(name, t) for name, t in tables.items()}
    return {name: t for name, t in kept.items() if t is not None}


def _count_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c == "n" or c.startswith("n_")]


def shareable_tables(cfg: Config, tables: dict[str, Table], min_cell: int) -> tuple[dict[str, Table], Protection]:
    """Tables safe to share, and which cells were suppressed (see the module docstring).

    What each table keeps is declared beside its display (``shareable``: withheld, coarsened, recoded).
    Primary suppression hides counts from 1 to ``min_cell - 1``; complementary suppression
    (:func:`advance_trial.output.sdc.protect`) hides further counts until no suppressed cell, and no count a
    reader can form by subtraction, can be narrowed to fewer than ``min_cell`` values. Every suppressed
    count is shown as :data:`SUPPRESSED`, whichever kind it is, and the figures computed from its row
    are withheld.
    """
    from advance_trial.output.disclosure_cells import SUPPRESSED, output_structure
    from advance_trial.output.sdc import protect

    out: dict[str, Table] = {}
    for name, t in tables.items():
        rule = declared(name).shareable
        if rule.withheld:
            continue
        df = t.data
        if rule.coarse is not None and len(df):
            df = df[rule.coarse(df).to_numpy()].reset_index(drop=True)
        if rule.recode is not None:
            df = rule.recode(cfg, df, min_cell)
        out[name] = replace(t, data=df.copy())
    protection = protect(output_structure({n: t.data for n, t in out.items()}), min_cell)
    hidden = protection.primary | protection.complementary
    for name, t in out.items():
        df = t.data
        keys = [(row, col) for (table, row, col) in hidden if table == name]
        counts = _count_columns(df)
        for c in counts:
            df[c] = df[c].astype(object)
        row_hidden = np.zeros(len(df), dtype=bool)
        for row, col in keys:
            df.iat[row, list(df.columns).index(col)] = SUPPRESSED
            if col not in SIDE_COUNTS:
                row_hidden[row] = True
        for c in DERIVED:
            if c in df.columns and row_hidden.any():
                df[c] = df[c].astype(object).where(~row_hidden, "")
        together = declared(name).shareable.together
        if together is not None and together[0] in df:
            hit = set(df.loc[df.isin([SUPPRESSED]).any(axis=1), together[0]])
            for c in (c for c in together[1] if c in df):
                df[c] = df[c].astype(object).where(~df[together[0]].isin(hit), "")
        note = (f"Shareable: {SUPPRESSED} marks a suppressed count: fewer than {min_cell} men, or a count hidden "
                "so that such a number cannot be worked out from the others; figures computed from a row with "
                "a suppressed count are withheld.")  # fmt: skip
        out[name] = replace(t, data=df, footnotes=(*t.footnotes, note) if counts else t.footnotes)
    frames = {n: t.data for n, t in out.items()}
    for name, t in out.items():
        after = declared(name).shareable.after
        if after is not None:
            out[name] = replace(t, data=after(t.data, frames))
    return out, protection


def _counts_as_numbers(df: pd.DataFrame) -> pd.DataFrame:
    """A table read from its CSV file with its counts as numbers, as a run holds them (a suppressed ``[c]``
    and an empty cell stay text): read as text, a published count would be taken for words, not a cell."""
    out = df.copy()
    for col in _count_columns(df):
        out[col] = pd.Series([int(v) if v.isdigit() else v for v in df[col]], index=df.index, dtype=object)
    return out


def audit_folder(outdir: str | Path, min_cell: int) -> pd.DataFrame:
    """The disclosure audit of the CSV files in ``outdir`` (what a reader holds): see :func:`sdc.audit`.

    Raises
    ------
    IntegrityError
        If the published counts contradict each other (a file was altered).
    """
    from advance_trial.errors import IntegrityError
    from advance_trial.output.disclosure_cells import output_structure
    from advance_trial.output.sdc import StructureError, audit

    out = Path(outdir)
    frames = {p.stem: _counts_as_numbers(pd.read_csv(p, dtype=str, keep_default_na=False))
              for p in sorted(out.glob("*.csv")) if p.stem != "disclosure_audit"}  # fmt: skip
    try:
        return audit(output_structure(frames), min_cell)
    except (StructureError, KeyError, ValueError) as exc:
        raise IntegrityError(f"{out}: the published counts cannot be audited: {exc}") from exc


def audit_outputs(outdir: str | Path, min_cell: int | None = None) -> tuple[pd.DataFrame, int]:
    """``disclosure-audit OUTDIR``: the audit of a folder, with ``min_cell`` from the option, else from the
    shareable run's provenance.json, else 5. Returns the audit table and the ``min_cell`` used.

    Raises
    ------
    UsageError
        If the folder holds no output tables.
    IntegrityError
        If the published counts contradict each other.
    """
    import json

    from advance_trial.errors import UsageError

    out = Path(outdir)
    if not out.is_dir() or not any(out.glob("*.csv")):
        raise UsageError(f"{out}: no output tables here; audit a folder written by `advance-trial run`")
    if min_cell is None:
        try:
            spec = json.loads((out / "provenance.json").read_text(encoding="utf-8")).get("run", {})
            min_cell = int(spec.get("min_cell", 5))
        except (OSError, ValueError, AttributeError, TypeError):
            min_cell = 5
    return audit_folder(out, min_cell), min_cell
