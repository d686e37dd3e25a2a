"""The subject-level derivations as they were before they matched the files' rows to the men once and summed,
counted and looked up by integer code (group-bys and joins on the ids' text), kept as the reference the fast
ones must match frame for frame, dtype for dtype and bit for bit (``tests/test_analysis_fast.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from advance_trial.config.arms import Arms as Arms
from advance_trial.config.arms import arms_of as arms_of
from advance_trial.config.arms import intervention_arm as intervention_arm
from advance_trial.config.models import Config, Outcome, Threshold
from advance_trial.data.canonical import CanonicalData

#: Each man's state at a follow-up timepoint, in reporting order.
STATES = ("retained", "outside_window", "missed", "withdrawn", "lost", "died", "unknown")


def followup_timepoints(cfg: Config) -> list[str]:
    """Timepoints after baseline, in config order."""
    return [t.id for t in cfg.timepoints if t.week > 0]


def factors_of(o: Outcome) -> list[str]:
    """The outcome's adjustment factors (everything in ``adjust_for`` except ``baseline``)."""
    return [f for f in o.adjust_for if f != "baseline"]


@dataclass(frozen=True)
class AnalysisData:
    """The run's analysis data sets.

    Attributes
    ----------
    men : DataFrame
        The subject-level data set (module docstring), in ``participants.csv`` order.
    screened : DataFrame
        One row per man screened: ``site, eligible, consented, randomised`` and the coded reason.
    partners : DataFrame
        One row per partner, with the man's ``arm, site, cycle`` (:func:`partner_frame`).
    events : DataFrame
        ``events.csv`` as read (one row per event; summarised only, never listed).
    scores : DataFrame
        Every man's scores at every timepoint (:func:`advance_trial.analysis.scoring.score_measures`).
    """

    men: pd.DataFrame
    screened: pd.DataFrame
    partners: pd.DataFrame
    scores: pd.DataFrame
    events: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def offered(self) -> pd.DataFrame:
        """The men whose arm is offered sessions."""
        return self.men[self.men["offered"].to_numpy(dtype=bool)]


def analysis_data(cfg: Config, data: CanonicalData) -> AnalysisData:
    """Build every analysis data set of a run, once."""
    from advance_trial.analysis.scoring import score_measures

    scores = score_measures(cfg, data) if cfg.outcomes else pd.DataFrame(columns=["participant_id", "timepoint"])
    men = data.participants.reset_index(drop=True).copy()
    men["participant_id"] = men["participant_id"].astype(str)
    steps: list[Callable[[pd.DataFrame], pd.DataFrame]] = [
        lambda m: derive_intervention(cfg, m),
        lambda m: derive_offered(cfg, m),
        lambda m: derive_group(m, data.attendance),
        lambda m: derive_dose(cfg, m, data.attendance),
        lambda m: derive_thresholds(cfg, m),
        lambda m: derive_followup(cfg, m, data.followup),
        lambda m: derive_outcomes(cfg, m, scores),
        lambda m: derive_analysed(cfg, m),
        derive_cluster,
        lambda m: derive_baseline(cfg, m),
        lambda m: derive_received(cfg, m),
        lambda m: derive_events(cfg, m, data.events),
        lambda m: derive_components(cfg, m, data.attendance),
    ]
    for step in steps:
        men = step(men)
    partners = partner_frame(data)
    partners = partners.assign(**event_counts(cfg, partners["partner_id"], data.events, "partner_id", "partner"))
    return AnalysisData(men, screened_frame(data), partners, scores, data.events)


@dataclass(frozen=True)
class Component:
    """One entry of the schedule: its sessions, numbered within their type as the attendance file numbers them.

    ``id`` is the session type, or ``<type>_<k>`` for the k-th entry of a type that has several.
    """

    id: str
    label: str
    type: str
    sessions: int
    compulsory: bool
    numbers: tuple[int, ...]


def components(cfg: Config) -> list[Component]:
    """The schedule's components, in schedule order."""
    if cfg.schedule is None:
        return []
    entries = cfg.schedule.sessions
    per_type = {e.type: sum(x.type == e.type for x in entries) for e in entries}
    seen: dict[str, int] = {}
    start: dict[str, int] = {}
    out = []
    for e in entries:
        seen[e.type] = seen.get(e.type, 0) + 1
        first = start.get(e.type, 0)
        start[e.type] = first + e.count
        cid = e.type if per_type[e.type] == 1 else f"{e.type}_{seen[e.type]}"
        out.append(Component(cid, e.label or e.type.replace("_", " "), e.type, e.count, e.compulsory,
                             tuple(range(first + 1, first + e.count + 1))))  # fmt: skip
    return out


def derive_components(cfg: Config, men: pd.DataFrame, attendance: pd.DataFrame) -> pd.DataFrame:
    """``attended_<component>``: how many of each component's sessions he attended (0 without a record)."""
    att = attendance[attendance["attended"].fillna(False).to_numpy(dtype=bool)] if len(attendance) else attendance
    counts = {}
    for comp in components(cfg):
        rows = att[(att["session_type"] == comp.type) & att["session_number"].astype(int).isin(comp.numbers)]
        per = rows.groupby(rows["participant_id"].astype(str)).size()
        counts[f"attended_{comp.id}"] = men["participant_id"].map(per).fillna(0).astype(int).to_numpy()
    return men.assign(**counts)


def derive_intervention(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """``intervention``: the man is in the intervention arm."""
    return men.assign(intervention=(men["arm"].astype(str) == intervention_arm(cfg)).to_numpy(dtype=bool))


def derive_offered(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """``offered``: his arm is offered sessions."""
    arm = cfg.schedule.arm if cfg.schedule is not None else None
    return men.assign(offered=(men["arm"].astype(str) == arm).to_numpy(dtype=bool))


def derive_group(men: pd.DataFrame, attendance: pd.DataFrame) -> pd.DataFrame:
    """``group_id``: the first (sorted) therapy group of his attendance rows; missing without one."""
    att = attendance.dropna(subset=["group_id"])
    # the ids' ranks in sorted order, whose minimum is found without Python (a text min is not)
    rank, names = pd.factorize(att["group_id"], sort=True)
    first = pd.Series(rank, index=att.index).groupby(att["participant_id"]).min()
    groups = pd.Series(names.take(first.to_numpy()), index=first.index, dtype=att["group_id"].dtype)
    return men.assign(group_id=men["participant_id"].map(groups))


def derive_dose(cfg: Config, men: pd.DataFrame, attendance: pd.DataFrame) -> pd.DataFrame:
    """Sessions and hours attended, all and compulsory, and the compulsory percentage.

    A session counts when ``attended`` is true; hours are those of attended sessions. A man with no
    attendance record attended nothing.
    """
    compulsory = {(p.type, p.number) for p in cfg.session_plan() if p.compulsory}
    att = attendance
    is_comp = (
        pd.MultiIndex.from_arrays([att["session_type"], att["session_number"].astype(int)]).isin(list(compulsory))
        if compulsory and len(att)
        else np.zeros(len(att), dtype=bool)
    )
    attended = att["attended"].fillna(False).to_numpy(dtype=bool)
    hours = att["hours"].fillna(0.0).to_numpy(dtype=float) * attended
    per = pd.DataFrame(
        {
            "participant_id": att["participant_id"].astype(str).to_numpy(),
            "sessions": attended.astype(int),
            "compulsory_sessions": (attended & is_comp).astype(int),
            "hours": hours,
            "compulsory_hours": hours * is_comp,
        }
    )
    sums = per.groupby("participant_id").sum()
    out = men.join(sums, on="participant_id")
    for col in ("sessions", "compulsory_sessions"):
        out[col] = out[col].fillna(0).astype(int)
    for col in ("hours", "compulsory_hours"):
        out[col] = out[col].fillna(0.0).astype(float)
    n = len(compulsory)
    out["compulsory_percent"] = 100.0 * out["compulsory_sessions"] / n if n else np.nan
    return out


def meets(th: Threshold, men: pd.DataFrame) -> np.ndarray:
    """Whether each man's dose meets a threshold (``at_least``: >=, ``more_than``: >)."""
    value = men[th.measure].to_numpy(dtype=float)
    return np.asarray(value >= th.at_least if th.at_least is not None else value > th.bound)


def derive_thresholds(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """``met_<threshold>``: offered sessions and meeting the threshold (a man not offered never does)."""
    offered = men["offered"].to_numpy(dtype=bool)
    return men.assign(**{f"met_{th.id}": offered & meets(th, men) for th in cfg.thresholds})


def derive_followup(cfg: Config, men: pd.DataFrame, followup: pd.DataFrame) -> pd.DataFrame:
    """``state_<timepoint>``: retained (completed within the window), outside_window, or the recorded
    status; ``unknown`` without a record or a status."""
    states = {}
    for tp_id in followup_timepoints(cfg):
        tp = cfg.timepoint(tp_id)
        rec = followup[followup["timepoint"] == tp_id].set_index("participant_id")
        merged = men[["participant_id"]].join(rec[["due_on", "status", "completed_on"]], on="participant_id")
        status = merged["status"].astype("string")
        completed = (status == "completed").fillna(False).to_numpy(dtype=bool)
        if tp.window_weeks is not None:
            lo = merged["due_on"] + pd.to_timedelta(tp.window_weeks[0] * 7, unit="D")
            hi = merged["due_on"] + pd.to_timedelta(tp.window_weeks[1] * 7, unit="D")
            within = ((merged["completed_on"] >= lo) & (merged["completed_on"] <= hi)).fillna(False).to_numpy(bool)
        else:
            within = completed
        state = np.where(completed & within, "retained",
                         np.where(completed, "outside_window", status.fillna("unknown")))  # fmt: skip
        states[f"state_{tp_id}"] = state.astype(object)
    return men.assign(**states)


def derive_outcomes(cfg: Config, men: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``y_<outcome>`` at the outcome's timepoint and ``base_<outcome>`` at baseline."""
    from advance_trial.analysis.scoring import score_column

    rows: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}  # per timepoint: its scores, and each man's row

    def at(tp: str | None, col: str) -> np.ndarray:
        if tp is None:
            return np.full(len(men), np.nan)
        if tp not in rows:
            s = scores.loc[scores["timepoint"] == tp].drop_duplicates("participant_id").set_index("participant_id")
            rows[tp] = (s, s.index.get_indexer(pd.Index(men["participant_id"])))
        s, where = rows[tp]
        values = s[col].to_numpy(dtype=float, na_value=np.nan)[np.maximum(where, 0)] if len(s) else np.zeros(len(men))
        return np.where(where >= 0, values, np.nan)

    base_tp = cfg.baseline.id if cfg.baseline else None
    values: dict[str, np.ndarray] = {}
    for o in cfg.outcomes:
        col = score_column(cfg, o.id)
        values[f"y_{o.id}"] = at(o.timepoint, col)
        values[f"base_{o.id}"] = at(base_tp, col)
    return men.assign(**values)


def derive_analysed(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """``analysed_<outcome>``: in the outcome's complete-case analysis.

    Two-arm designs: the outcome measured, and the baseline and every adjustment factor known when
    the outcome is adjusted for them (the men the models use; the CONSORT "analysed" boxes count
    them). Single-arm designs analyse the change from baseline: the outcome and the baseline both
    measured.
    """
    flags = {}
    for o in cfg.outcomes:
        keep = men[f"y_{o.id}"].notna().to_numpy(dtype=bool, copy=True)
        if "baseline" in o.adjust_for or cfg.trial.design == "single_arm":
            keep &= men[f"base_{o.id}"].notna().to_numpy(dtype=bool)
        for f in factors_of(o):
            keep &= men[f].notna().to_numpy(dtype=bool) if f in men.columns else False
        flags[f"analysed_{o.id}"] = keep
    return men.assign(**flags)


def derive_cluster(men: pd.DataFrame) -> pd.DataFrame:
    """``cluster``: ``group:<id>`` for an intervention man with a therapy group, else ``man:<id>``."""
    group = men["group_id"]
    in_group = men["intervention"].to_numpy(dtype=bool) & group.notna().to_numpy()
    return men.assign(cluster=np.where(in_group, "group:" + group.astype(str), "man:" + men["participant_id"]))


def screened_frame(data: CanonicalData) -> pd.DataFrame:
    """One row per man screened: ``site, eligible, consented, randomised`` (and the coded reason)."""
    scr = data.screening
    cols = ["site"] + (["reason_ineligible"] if "reason_ineligible" in scr.columns else [])
    out = scr[cols].reset_index(drop=True).copy()
    out["eligible"] = scr["eligible"].fillna(False).to_numpy(dtype=bool)
    out["consented"] = scr["consented"].fillna(False).to_numpy(dtype=bool)
    out["randomised"] = scr["participant_id"].notna().to_numpy(dtype=bool)
    return out


def partner_frame(data: CanonicalData) -> pd.DataFrame:
    """One row per partner with the man's ``arm, site, cycle``: summarised only, never listed."""
    men = data.participants.set_index("participant_id")[["arm", "site", "cycle"]]
    return data.partners.join(men, on="participant_id")


def derive_baseline(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """Table 1's participants.csv variables typed: continuous as numbers, the others as text (checked
    on reading, :func:`advance_trial.data.canonical.cross_checks`)."""
    from advance_trial.data.schema import baseline_columns

    typed = {}
    for v in baseline_columns(cfg):
        if v.id not in men.columns:
            typed[v.id] = (
                np.full(len(men), np.nan) if v.type == "continuous" else pd.array([None] * len(men), dtype="string")
            )
        elif v.type == "continuous":
            typed[v.id] = pd.to_numeric(men[v.id], errors="coerce").to_numpy(dtype=float)
    return men.assign(**typed)


NOT_RECORDED = "reason not recorded"


def derive_received(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """``received``: a man offered sessions attended at least one; a man of another arm received his
    allocation (usual care). ``not_received``: the reason a man offered sessions attended none.
    ``discontinued``: he attended and a reason for stopping is recorded."""
    offered = men["offered"].to_numpy(dtype=bool)
    attended = men["sessions"].to_numpy(dtype=int) > 0
    received = ~offered | attended
    given = men["reason_not_received"] if "reason_not_received" in men.columns else pd.Series(pd.NA, index=men.index)
    why = given.astype("string").fillna(NOT_RECORDED).mask(received)
    stopped = men["reason_discontinued"] if "reason_discontinued" in men.columns else pd.Series(pd.NA, index=men.index)
    return men.assign(received=received, not_received=why.astype(object),
                      discontinued=offered & attended & stopped.notna().to_numpy(dtype=bool))  # fmt: skip


def event_counts(cfg: Config, ids: pd.Series, events: pd.DataFrame, id_col: str, about: str) -> dict[str, np.ndarray]:
    """Per person (``ids``, matched on ``events[id_col]``): ``events``, ``events_serious``,
    ``events_related`` (judged related to the intervention; not known counts as not) and
    ``events_<category>`` for the config's categories ``about`` men or partners."""
    own = events[events[id_col].notna()]
    serious = own["serious"].fillna(False).to_numpy(dtype=bool)
    related = own["related"].fillna(False).to_numpy(dtype=bool) if "related" in own else np.zeros(len(own), bool)
    parts = {"events": own, "events_serious": own[serious], "events_related": own[related]}
    for c in cfg.events.categories if cfg.events else []:
        if c.about == about:
            parts[f"events_{c.id}"] = own[own["category"] == c.id]
    return {name: ids.map(rows.groupby(id_col).size()).fillna(0).astype(int).to_numpy()
            for name, rows in parts.items()}  # fmt: skip


def derive_events(cfg: Config, men: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``events``, ``events_serious``, ``events_related`` and ``events_<category>``: how many adverse
    events (his own, by participant_id) he had, all, serious, related to the intervention and of each
    category about men."""
    return men.assign(**event_counts(cfg, men["participant_id"], events, "participant_id", "man"))
