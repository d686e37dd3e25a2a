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

from advance_trial.analysis import analysis_data
from advance_trial.config import Config
from advance_trial.data.canonical import CanonicalData, read_canonical
from advance_trial.data.folder import locked
from advance_trial.data.schema import FILE_NAMES
from advance_trial.data.tablefile import write_table_atomic
from advance_trial.errors import UsageError
from advance_trial.randomisation.key import KeyRing
from advance_trial.simulate.generate import CalibrationError, simulate
from advance_trial.simulate.targets import Targets, load_targets

__all__ = ["CalibrationError", "Targets", "calibration_report", "load_targets", "simulate", "simulate_to_dir"]

TARGETS_FILE = "calibration.yaml"


def calibration_report(cfg: Config, targets: Targets, data: CanonicalData) -> pd.DataFrame:
    """Each calibration target beside what the data gives, read from the analysis data sets (the
    follow-up windows and dose rules are the analyses' own).

    Returns
    -------
    DataFrame
        Columns ``target, wanted, achieved, met``; one row per target.
    """
    ads = analysis_data(cfg, data)
    rows: list[tuple[str, float, float]] = []
    men, s = ads.men, ads.screened
    for arm, n in targets.arms.items():
        rows.append((f"randomised, arm {arm}", n, int((men["arm"] == arm).sum())))
    for site, n in targets.sites.items():
        rows.append((f"randomised, site {site}", n, int((men["site"] == site).sum())))
    if targets.cycles:
        for c, n in targets.cycles.items():
            rows.append((f"randomised, cycle {c}", n, int((men["cycle"] == c).sum())))
    if len(s):
        eligible = int(s["eligible"].sum())
        rows.append(("eligible", targets.n + targets.screening.eligible_not_randomised, eligible))
        rows.append(("screened", eligible + targets.screening.ineligible, len(s)))
    for tp, n in targets.followup.items():
        state = men[f"state_{tp}"]
        rows.append((f"followed up at {tp} (within the window)", n, int((state == "retained").sum())))
        if tp in targets.followup_outside_window:
            rows.append((f"completed at {tp} outside the window", targets.followup_outside_window[tp],
                         int((state == "outside_window").sum())))  # fmt: skip
    offered = ads.offered
    if cfg.schedule is not None and len(data.attendance):
        k = offered["compulsory_sessions"]
        if targets.dose.compulsory_median is not None:
            rows.append(("median compulsory sessions", targets.dose.compulsory_median, float(k.median())))
        for c, m in targets.dose.compulsory_median_by_cycle.items():
            rows.append((f"median compulsory sessions, cycle {c}", m, float(k[offered["cycle"] == c].median())))
        for th_id, n in targets.dose.thresholds.items():
            th = next(th for th in cfg.thresholds if th.id == th_id)
            rows.append((f"men meeting {th_id} ({th.rule})", n, int(offered[f"met_{th_id}"].sum())))
    pt = targets.partners
    if pt is not None:
        pa = ads.partners
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
