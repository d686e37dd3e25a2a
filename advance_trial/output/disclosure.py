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

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.tables import Table
from advance_trial.vocabulary import ANALYSES

if TYPE_CHECKING:
    from advance_trial.output.sdc import Protection

# plan: its design effect is the intervention arm's ICC, which says which arm had therapy groups (and so do the
# tables and the forecast sized from it)
WITHHELD_BLINDED = ("dose", "dose_summary", "engagement", "dose_distribution", "dose_participants", "plan",
                    "plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast",
                    "recruitment_forecast_bands")  # fmt: skip
#: CONSORT stages only the arm offered sessions has: withheld when blinded.
OFFERED_STAGES = ("received_any_session", "not_received", "discontinued", "met_threshold")
BLINDED_ANALYSES = tuple(name for name, a in ANALYSES.items() if a.reveals_arm)
PER_MAN = ("scores", "dose_participants")
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


def _same_rows_per_arm(df: pd.DataFrame) -> pd.DataFrame:
    """CONSORT with the same reasons listed for every arm (zeros where an arm has none), in one order:
    which rows an arm has must not tell the arms apart."""
    lost = df["stage"] == "not_followed_up"
    if not lost.any():
        return df
    arms = list(dict.fromkeys(df.loc[df["stage"] == "allocated", "arm"]))
    details = list(dict.fromkeys(df.loc[lost, "detail"]))
    rank = {d: i for i, d in enumerate(sorted(details, key=_state_rank))}
    present = set(zip(df.loc[lost, "arm"], df.loc[lost, "detail"], strict=True))
    extra = [{"stage": "not_followed_up", "arm": a, "detail": d, "n": 0}
             for a in arms for d in details if (a, d) not in present]  # fmt: skip
    out = pd.concat([df, pd.DataFrame(extra, columns=df.columns)], ignore_index=True) if extra else df.copy()
    order = [(list(dict.fromkeys(out["stage"])).index(r.stage),
              rank.get(r.detail, -1) if r.stage == "not_followed_up" else 0, i)
             for i, r in enumerate(out.itertuples())]  # fmt: skip
    out = out.iloc[[i for *_, i in sorted(order)]].reset_index(drop=True)
    out["n"] = out["n"].astype(int)
    return out


def _state_rank(detail: str) -> tuple[str, int]:
    from advance_trial.retention import STATES

    tp, _, state = str(detail).partition(": ")
    name = state.replace(" ", "_")
    return (tp, STATES.index(name) if name in STATES else len(STATES))


def withhold_blinded(cfg: Config, tables: dict[str, Table], codes: dict[str, str]) -> dict[str, Table]:
    """The tables a blinded run may show, with what would reveal the intervention's code withheld (see the
    module docstring); arms are relabelled and contrasts flipped by :mod:`advance_trial.output.blinding`."""
    from advance_trial.analysis import arms_of

    control = arms_of(cfg).control
    out: dict[str, Table] = {}
    for name, t in tables.items():
        if name in WITHHELD_BLINDED:
            continue
        df = t.data.copy()
        if name == "consort":
            df = _same_rows_per_arm(df[~df["stage"].isin(list(OFFERED_STAGES))])
        if name == "outcomes" and not df.empty and control is not None:
            df = df[~df["analysis"].isin(BLINDED_ANALYSES)]
            df = df.drop(columns=[c for c in ("n_intervention", "n_control", "note", "threshold") if c in df])
        if name == "progression" and not df.empty:
            # an effect's or a change's criterion names the intervention arm: beside the coded tables its
            # estimate and status would say which code that is
            df = withheld_criteria(df, ("outcome.", "change."))
        if name == "harms" and not df.empty:
            # only the arm offered the intervention can have events related to it: the row would name that arm
            from advance_trial.feasibility.harms import RELATED

            df = df[df["category"].astype(str) != RELATED]
        notes = t.footnotes
        if name == "outcomes":
            notes += ("Blinded: comparisons are the first code minus (or over) the second; analyses defined by the "
                      "intervention arm (partially nested, CACE) are withheld.",)  # fmt: skip
        out[name] = replace(t, data=df.reset_index(drop=True), footnotes=notes)
    return out


def _count_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c == "n" or c.startswith("n_")]


#: Breakdowns a shareable output set keeps: dose and partner figures overall only (small groups crossed
#: with cycle or site cannot be protected without hiding the allocation itself).
COARSE: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "dose": lambda d: (d["cycle"].astype(str) == "all") & (d["site"].astype(str) == "all"),
    "dose_summary": lambda d: d["by"] == "all",
    "partner_retention": lambda d: d["site"].astype(str) == "all",
    "partner_contact": lambda d: d["site"].astype(str) == "all",
}
# counts per site per month are small cells no audit of this folder covers: they stay with the statistician
# engagement: men by component attended are not yet cells of the disclosure structure
# change: its men with both measures by arm are not yet cells either
WITHHELD_SHAREABLE = (*PER_MAN, "dose_distribution", "recruitment_monthly", "recruitment_rate", "engagement",
                      "change")  # fmt: skip
OTHER_REASON = "other"


def coded_reasons(df: pd.DataFrame, codes: tuple[str, ...], min_cell: int,
                  stage: str = "excluded.not_eligible", arm: str = "all") -> pd.DataFrame:  # fmt: skip
    """CONSORT's reasons (for ineligibility, or why a man never attended) as coded categories only: a
    reason that is not one of the config's codes (``reasons.ineligible``, ``reasons.not_received``)
    becomes ``other``, and so does a category of fewer than ``min_cell`` men; ``other`` is dropped when it
    is the only category (the total says it)."""
    rows = (df["stage"].eq(stage) & df["arm"].astype(str).eq(arm)
            & df["detail"].fillna("").astype(str).ne(""))  # fmt: skip
    if not rows.any():
        return df
    detail = df.loc[rows, "detail"].astype(str).where(df.loc[rows, "detail"].astype(str).isin(codes), OTHER_REASON)
    counts = df.loc[rows, "n"].astype(int).groupby(detail.to_numpy()).sum()
    small = [c for c, n in counts.items() if n < min_cell and c != OTHER_REASON]
    counts = counts.groupby([OTHER_REASON if c in small else c for c in counts.index]).sum()
    kept = [(c, int(n)) for c, n in counts.items() if c != OTHER_REASON]
    kept.sort(key=lambda kv: (-kv[1], kv[0]))
    if OTHER_REASON in counts.index and kept:
        kept.append((OTHER_REASON, int(counts[OTHER_REASON])))
    first = int(np.flatnonzero(rows.to_numpy())[0])
    new = pd.DataFrame([{"stage": stage, "arm": arm, "detail": c, "n": n} for c, n in kept],
                       columns=df.columns)  # fmt: skip
    parts = [df.iloc[:first], new, df.iloc[first:][~rows.iloc[first:].to_numpy()]]
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


def _progression_sources(tables: dict[str, Table]) -> dict[str, tuple[str, dict[str, str]]]:
    """Metric -> (table, row filter) of the proportion a criterion reads (as in progression)."""
    out: dict[str, tuple[str, dict[str, str]]] = {
        "recruitment_rate": ("recruitment", {"site": "all"}),
        "partner_contact": ("partner_contact", {"arm": "all", "site": "all"}),
    }
    for name in ("retention", "partner_retention"):
        if name in tables:
            for tp in tables[name].data["timepoint"].astype(str).unique():
                out[f"{name}.{tp}"] = (name, {"timepoint": tp, "arm": "all", "site": "all", "cycle": "all"})
    if "dose" in tables:
        for th in tables["dose"].data["threshold"].astype(str).unique():
            out[f"dose.{th}"] = ("dose", {"threshold": th, "cycle": "all", "site": "all"})
    return out


def _withhold(df: pd.DataFrame, at: pd.Series, method: bool = False) -> pd.DataFrame:
    """Progression rows ``at`` with their estimate and interval (and method) blank and status ``withheld``."""
    if not at.any():
        return df
    df = df.copy()
    for c in ("estimate", "ci_lower", "ci_upper", *(("ci_method",) if method else ())):
        df[c] = df[c].astype(object).where(~at, "")
    df["status"] = df["status"].where(~at, "withheld")
    return df


def withheld_criteria(df: pd.DataFrame, prefixes: tuple[str, ...]) -> pd.DataFrame:
    """Progression rows on metrics of these kinds withheld, their method too ("within A: paired t" names
    the intervention arm's code)."""
    return _withhold(df, df["metric"].astype(str).str.startswith(prefixes), method=True)


def _withhold_progression(tables: dict[str, Table]) -> None:
    prog = tables.get("progression")
    if prog is None:
        return
    # a within-arm change reads a table withheld here (its men by arm are not cells of the structure)
    df = withheld_criteria(prog.data, ("change.",))
    for metric, (name, filt) in _progression_sources(tables).items():
        t = tables.get(name)
        if t is None:
            continue
        keep = np.ones(len(t.data), dtype=bool)
        for col, val in filt.items():
            keep &= (t.data[col].astype(str) == val).to_numpy()
        shown = t.data.loc[keep, "proportion"] if "proportion" in t.data else pd.Series(dtype=object)
        if len(shown) == 1 and isinstance(shown.iloc[0], str) and shown.iloc[0] == "":
            df = _withhold(df, df["metric"] == metric)
    tables["progression"] = replace(prog, data=df)


def shareable_tables(cfg: Config, tables: dict[str, Table], min_cell: int) -> tuple[dict[str, Table], Protection]:
    """Tables safe to share, and which cells were suppressed (see the module docstring).

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
        if name in WITHHELD_SHAREABLE:
            continue
        df = t.data
        if name in COARSE and len(df):
            df = df[COARSE[name](df).to_numpy()].reset_index(drop=True)
        if name == "consort" and len(df):
            df = coded_reasons(df, tuple(cfg.reasons.ineligible), min_cell)
            for arm in df.loc[df["stage"] == "not_received", "arm"].astype(str).unique():
                df = coded_reasons(df, tuple(cfg.reasons.not_received), min_cell, "not_received", arm)
            df = df.reset_index(drop=True)
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
            df.iat[row, df.columns.get_loc(col)] = SUPPRESSED
            if col not in SIDE_COUNTS:
                row_hidden[row] = True
        for c in DERIVED:
            if c in df.columns and row_hidden.any():
                df[c] = df[c].astype(object).where(~row_hidden, "")
        note = (f"Shareable: {SUPPRESSED} marks a suppressed count: fewer than {min_cell} men, or a count hidden "
                "so that such a number cannot be worked out from the others; figures computed from a row with "
                "a suppressed count are withheld.")  # fmt: skip
        out[name] = replace(t, data=df, footnotes=(*t.footnotes, note) if counts else t.footnotes)
    _withhold_progression(out)
    if "baseline" in out and "std_difference" in out["baseline"].data:
        # a standardised difference is a function of the arms' shares: with one of them suppressed it would
        # let a reader solve for it, so a variable with any suppressed count shows none
        df = out["baseline"].data
        hit = set(df.loc[df.isin([SUPPRESSED]).any(axis=1), "variable"])
        df["std_difference"] = df["std_difference"].astype(object).where(~df["variable"].isin(hit), "")
    return out, protection


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
    frames = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(out.glob("*.csv"))
              if p.stem != "disclosure_audit"}  # fmt: skip
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
