"""Synthetic trial data calibrated to published aggregates.

:func:`simulate_to_dir` reads the calibration targets (``calibration.yaml`` in
the output folder unless another file is named), generates the six canonical
files, checks that they read back as valid canonical data and that every
target is met exactly, and only then writes them, each atomically.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from advance_trial.allocation_key import KeyRing
from advance_trial.canonical import FILE_NAMES, CanonicalData, read_canonical
from advance_trial.config import Config
from advance_trial.config.models import Threshold
from advance_trial.datafolder import locked
from advance_trial.errors import UsageError
from advance_trial.simulate.generate import CalibrationError, simulate
from advance_trial.simulate.targets import Targets, load_targets
from advance_trial.tablefile import write_table_atomic

__all__ = ["CalibrationError", "Targets", "calibration_report", "load_targets", "simulate", "simulate_to_dir"]

TARGETS_FILE = "calibration.yaml"


def calibration_report(cfg: Config, targets: Targets, data: CanonicalData) -> pd.DataFrame:
    """Each calibration target beside what the data gives.

    Returns
    -------
    DataFrame
        Columns ``target, wanted, achieved, met``; one row per target.
    """
    rows: list[tuple[str, float, float]] = []
    p, s, fu, att = data.participants, data.screening, data.followup, data.attendance
    for arm, n in targets.arms.items():
        rows.append((f"randomised, arm {arm}", n, int((p["arm"] == arm).sum())))
    for site, n in targets.sites.items():
        rows.append((f"randomised, site {site}", n, int((p["site"] == site).sum())))
    if targets.cycles:
        for c, n in targets.cycles.items():
            rows.append((f"randomised, cycle {c}", n, int((p["cycle"] == c).sum())))
    if len(s):
        eligible = int(s["eligible"].sum())
        rows.append(("eligible", targets.n + targets.screening.eligible_not_randomised, eligible))
        rows.append(("screened", eligible + targets.screening.ineligible, len(s)))
    for tp, n in targets.followup.items():
        done = fu[(fu["timepoint"] == tp) & (fu["status"] == "completed")]
        window = cfg.timepoint(tp).window_weeks or [float("-inf"), float("inf")]
        weeks = (done["completed_on"] - done["due_on"]).dt.days / 7
        within = int(((weeks >= window[0]) & (weeks <= window[1])).sum())
        rows.append((f"followed up at {tp} (within the window)", n, within))
        if tp in targets.followup_outside_window:
            rows.append(
                (f"completed at {tp} outside the window", targets.followup_outside_window[tp], len(done) - within)
            )
    if cfg.schedule is not None and len(att):
        per_man = _compulsory_attended(cfg, att, p)
        if targets.dose.compulsory_median is not None:
            rows.append(("median compulsory sessions", targets.dose.compulsory_median, float(per_man["k"].median())))
        for c, m in targets.dose.compulsory_median_by_cycle.items():
            rows.append(
                (f"median compulsory sessions, cycle {c}", m, float(per_man.loc[per_man["cycle"] == c, "k"].median()))
            )
        for th_id, n in targets.dose.thresholds.items():
            th = next(th for th in cfg.thresholds if th.id == th_id)
            rows.append((f"men meeting {th_id} ({th.rule})", n, _count_meeting(cfg, att, th)))
    pt = targets.partners
    if pt is not None:
        pa = data.partners
        if pt.consented is not None:
            rows.append(("partners consented", pt.consented, int(pa["consented"].sum())))
        if pt.followed_up is not None:
            rows.append(("partners followed up", pt.followed_up, int((pa["followup_status"] == "completed").sum())))
        if pt.total is not None:
            rows.append(("partners", pt.total, len(pa)))
        if pt.contacted is not None:
            rows.append(("partners contacted", pt.contacted, int(pa["contacted"].sum())))
    df = pd.DataFrame(rows, columns=["target", "wanted", "achieved"])
    df["met"] = np.isclose(df["wanted"].astype(float), df["achieved"].astype(float))
    return df


def _compulsory_attended(cfg: Config, att: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    compulsory = {(p.type, p.number) for p in cfg.session_plan() if p.compulsory}
    is_comp = [(t, int(n)) in compulsory for t, n in zip(att["session_type"], att["session_number"], strict=True)]
    k = att[np.asarray(is_comp) & att["attended"].fillna(False).to_numpy(dtype=bool)].groupby("participant_id").size()
    offered = participants[participants["arm"] == cfg.schedule.arm]  # type: ignore[union-attr]
    return pd.DataFrame(
        {"cycle": offered["cycle"].to_numpy(), "k": offered["participant_id"].map(k).fillna(0).to_numpy()}
    )


def _count_meeting(cfg: Config, att: pd.DataFrame, th: Threshold) -> int:
    compulsory = {(p.type, p.number) for p in cfg.session_plan() if p.compulsory}
    a = att[att["attended"].fillna(False)].copy()
    a["compulsory"] = [(t, int(n)) in compulsory for t, n in zip(a["session_type"], a["session_number"], strict=True)]
    if th.measure.startswith("compulsory"):
        a = a[a["compulsory"]]
    per = (
        a.groupby("participant_id")["hours"].sum()
        if th.measure.endswith("hours")
        else a.groupby("participant_id").size()
    )
    men = att["participant_id"].unique()
    per = per.reindex(men, fill_value=0)
    return int((per >= th.at_least).sum() if th.at_least is not None else (per > th.bound).sum())


def simulate_to_dir(
    cfg: Config, out: str | Path, seed: int, targets_path: str | Path | None = None, ring: KeyRing | None = None,
    force: bool = False,
) -> tuple[CanonicalData, pd.DataFrame]:  # fmt: skip
    """Generate a calibrated sample and write its canonical files into ``out``.

    Parameters
    ----------
    cfg : Config
    out : str or Path
        Output folder; created if needed.
    seed : int
        Seed of the simulation.
    targets_path : str or Path, optional
        Calibration targets; default ``out/calibration.yaml``.
    ring : KeyRing, optional
        The allocation key, for randomised designs (see :func:`simulate`).
    force : bool
        Replace canonical files already in ``out`` (else refused: it may hold a trial's real data).

    Returns
    -------
    data, report
        The data as written, and :func:`calibration_report` of it.

    Raises
    ------
    CalibrationError
        If a target is missed; nothing is written.
    UsageError
        If ``out`` already holds canonical data and ``force`` is not given.
    """
    out = Path(out)
    held = [f"{n}.csv" for n in FILE_NAMES if (out / f"{n}.csv").exists()]
    if held and not force:
        raise UsageError(f"{out} already holds data ({', '.join(held)}); simulated data would replace it. "
                         "Write to a new folder, or give --force to replace it")  # fmt: skip
    targets = load_targets(targets_path or out / TARGETS_FILE, cfg)
    data = simulate(cfg, targets, seed, ring)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out) as txn, tempfile.TemporaryDirectory(dir=out, prefix=".simulate-") as tmp:
        for name, df in data.tables().items():
            if len(df) or name in ("participants",):
                write_table_atomic(df, Path(tmp) / f"{name}.csv")
        checked = read_canonical(cfg, tmp)
        report = calibration_report(cfg, targets, checked)
        if not report["met"].all():
            missed = report[~report["met"]]
            raise CalibrationError(
                "targets missed: "
                + "; ".join(f"{r.target}: wanted {r.wanted:g}, got {r.achieved:g}" for r in missed.itertuples())
            )
        for name in FILE_NAMES:  # one transaction: the old sample or the new, never a mix
            src = Path(tmp) / f"{name}.csv"
            txn.put(f"{name}.csv", src.read_bytes() if src.exists() else None)
    return checked, report
