"""The subject-level analysis data set: one row per man, every per-man fact derived once.

Built the way CDISC ADaM builds ADSL and admiral derives it: a base frame of the men randomised
(or, in a single-arm study, enrolled), then small named derivations, each adding one fact (or
one fact per timepoint, threshold or outcome). Every table, figure, model frame and the
simulator's calibration report reads these columns; nothing derives a per-man fact anywhere
else.

Columns, after those of ``participants.csv``:

=====================  ===========================================================================
``intervention``       the man is in the intervention arm (:func:`intervention_arm`)
``offered``            his arm is offered sessions (``schedule.arm``)
``group_id``           his therapy group: the first, in sorted order, of his attendance rows
``sessions`` ...       ``sessions, compulsory_sessions, hours, compulsory_hours, compulsory_percent``:
                       what he attended (0 without an attendance record); hours of attended
                       sessions only
``met_<threshold>``    he is offered sessions and meets the dose threshold
``state_<timepoint>``  his follow-up state at each follow-up timepoint (:data:`STATES`)
``y_<outcome>``        his score on the outcome at its timepoint (missing when not measured)
``base_<outcome>``     the same measure at baseline
``analysed_<outcome>`` he is in the outcome's complete-case analysis (see :func:`derive_analysed`)
``cluster``            his therapy group for an intervention man in one, else himself
``<baseline var>``     Table 1's participants.csv variables, typed (:func:`derive_baseline`)
``received``           he received the allocated intervention (:func:`derive_received`)
``not_received``       why not: the coded reason, ``reason not recorded``, or missing
``discontinued``       he started the sessions and stopped (a coded ``reason_discontinued``)
``events`` ...         ``events, events_serious, events_related, events_<category>``: his adverse events
                       (his own, not his partner's: the partner frame counts hers)
``attended_<comp>``    sessions he attended of each component of the schedule (:func:`components`)
=====================  ===========================================================================

The partner-level frame (:func:`partner_frame`) carries the man's arm, site and cycle beside
each partner's own facts; it is summarised, never joined into a man-level output.
"""

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
    by = ById(men["participant_id"])  # the men's ids hashed once: every file's rows are matched to them once
    sessions = Sessions(by, data.attendance)
    steps: list[Callable[[pd.DataFrame], pd.DataFrame]] = [
        lambda m: derive_intervention(cfg, m),
        lambda m: derive_offered(cfg, m),
        lambda m: derive_group(m, data.attendance, sessions),
        lambda m: derive_dose(cfg, m, data.attendance, sessions),
        lambda m: derive_thresholds(cfg, m),
        lambda m: derive_followup(cfg, m, data.followup, by),
        lambda m: derive_outcomes(cfg, m, scores, by),
        lambda m: derive_analysed(cfg, m),
        derive_cluster,
        lambda m: derive_baseline(cfg, m),
        lambda m: derive_received(cfg, m),
        lambda m: derive_events(cfg, m, data.events, by),
        lambda m: derive_components(cfg, m, data.attendance, sessions),
    ]
    for step in steps:
        men = step(men)
    partners = partner_frame(data)
    partners = partners.assign(**event_counts(cfg, partners["partner_id"], data.events, "partner_id", "partner"))
    return AnalysisData(men, screened_frame(data), partners, scores, data.events)


class ById:
    """A column of ids hashed once (``code``: each row's id numbered by its first appearance), and other
    columns' ids matched against it by code (:meth:`of`): each per-man fact is then summed, counted or
    looked up by integer code, and spread back over the rows (:meth:`spread`), as a group-by on the text
    and a join on it would, each id's rows together, in their order."""

    def __init__(self, ids: pd.Series) -> None:
        self.code, uniq = pd.factorize(ids.to_numpy(dtype=object))
        self.ids = pd.Index(uniq, dtype=object)  # text keys of one kind: a hash look-up, not a cast per key

    def __len__(self) -> int:
        return len(self.ids)

    def of(self, ids: pd.Series) -> np.ndarray:
        """The code of each of ``ids`` (-1 where it is missing or not among the ids hashed)."""
        own, texts = pd.factorize(ids.to_numpy(dtype=object))
        found = self.ids.get_indexer(pd.Index(texts, dtype=object)) if len(texts) else np.zeros(0, dtype=np.intp)
        return np.asarray(np.append(found, -1)[own])

    def spread(self, per_id: np.ndarray) -> np.ndarray:
        """``per_id`` (a value per code, then one for a missing id) for each row of the ids hashed."""
        return np.asarray(per_id[self.code])

    def first(self, codes: np.ndarray) -> np.ndarray:
        """For each code, the position in ``codes`` of its first appearance; -1 for none (and last, -1 for a
        missing id)."""
        found, at = np.unique(codes, return_index=True)
        out = np.full(len(self) + 1, -1, dtype=np.intp)
        keep = found >= 0
        out[found[keep]] = at[keep]
        return out

    def counts(self, codes: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """How many of ``codes`` (those ``where`` is true) fall on each row's id; 0 for none."""
        kept = codes[codes >= 0] if where is None else codes[(codes >= 0) & where]
        return self.spread(np.bincount(kept, minlength=len(self) + 1))

    def sums(self, codes: np.ndarray, values: pd.DataFrame) -> pd.DataFrame:
        """The columns of ``values`` summed over the rows of each code (as ``groupby().sum()`` sums them, in
        row order), one row per code (and last, one for a missing id), 0 for a code with none."""
        kept = codes >= 0
        per = values[kept].groupby(codes[kept]).sum()
        return per.reindex(np.arange(len(self) + 1), fill_value=0)


class Sessions:
    """The attendance rows matched to the men once: each row's man (``man``), its session type as a small
    code (``type``, of ``types``) and its number, for the derivations that count sessions."""

    def __init__(self, by: ById, attendance: pd.DataFrame) -> None:
        self.by = by
        self.man = by.of(attendance["participant_id"]) if len(attendance) else np.zeros(0, dtype=np.intp)
        codes, types = pd.factorize(attendance["session_type"].to_numpy(dtype=object))
        self.type, self.types = np.asarray(codes), [str(t) for t in types]
        self.number = (attendance["session_number"].to_numpy(dtype=np.int64, na_value=0) if len(attendance)
                       else np.zeros(0, dtype=np.int64))  # fmt: skip

    def among(self, sessions: set[tuple[str, int]]) -> np.ndarray:
        """Whether each row's session (its type and number) is one of ``sessions``."""
        out = np.zeros(len(self.type), dtype=bool)
        for k, name in enumerate(self.types):
            numbers = [n for t, n in sessions if t == name]
            if numbers:
                out |= (self.type == k) & np.isin(self.number, numbers)
        return out


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


def derive_components(cfg: Config, men: pd.DataFrame, attendance: pd.DataFrame,
                      sessions: Sessions | None = None) -> pd.DataFrame:  # fmt: skip
    """``attended_<component>``: how many of each component's sessions he attended (0 without a record)."""
    ses = sessions or Sessions(ById(men["participant_id"]), attendance)
    attended = attendance["attended"].fillna(False).to_numpy(dtype=bool)
    counts = {}
    for comp in components(cfg):
        mine = attended & ses.among({(comp.type, n) for n in comp.numbers})
        counts[f"attended_{comp.id}"] = ses.by.counts(ses.man, mine).astype(int)
    return men.assign(**counts)


def derive_intervention(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """``intervention``: the man is in the intervention arm."""
    return men.assign(intervention=(men["arm"].astype(str) == intervention_arm(cfg)).to_numpy(dtype=bool))


def derive_offered(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """``offered``: his arm is offered sessions."""
    arm = cfg.schedule.arm if cfg.schedule is not None else None
    return men.assign(offered=(men["arm"].astype(str) == arm).to_numpy(dtype=bool))


def derive_group(men: pd.DataFrame, attendance: pd.DataFrame, sessions: Sessions | None = None) -> pd.DataFrame:
    """``group_id``: the first (sorted) therapy group of his attendance rows; missing without one."""
    ses = sessions or Sessions(ById(men["participant_id"]), attendance)
    given = attendance["group_id"].notna().to_numpy(dtype=bool)
    # the ids' ranks in sorted order, whose minimum per man is found without Python (a text min is not)
    rank, names = pd.factorize(attendance["group_id"][given], sort=True)
    man = ses.man[given]
    known = man >= 0
    first = np.full(len(ses.by) + 1, len(names))  # len(names): no group (and last: a missing id)
    np.minimum.at(first, man[known], rank[known])
    if not len(names):  # no man has a group: missing throughout, as a map from no group at all gives it
        return men.assign(group_id=np.full(len(men), np.nan))
    groups = pd.Series([*names, None], dtype=attendance["group_id"].dtype).array  # the last: no group
    return men.assign(group_id=pd.Series(groups[ses.by.spread(first)], index=men.index))


def derive_dose(cfg: Config, men: pd.DataFrame, attendance: pd.DataFrame,
                sessions: Sessions | None = None) -> pd.DataFrame:  # fmt: skip
    """Sessions and hours attended, all and compulsory, and the compulsory percentage.

    A session counts when ``attended`` is true; hours are those of attended sessions. A man with no
    attendance record attended nothing.
    """
    compulsory = {(p.type, p.number) for p in cfg.session_plan() if p.compulsory}
    att = attendance
    ses = sessions or Sessions(ById(men["participant_id"]), att)
    is_comp = ses.among(compulsory)
    attended = att["attended"].fillna(False).to_numpy(dtype=bool)
    hours = att["hours"].fillna(0.0).to_numpy(dtype=float) * attended
    per = pd.DataFrame(
        {
            "sessions": attended.astype(int),
            "compulsory_sessions": (attended & is_comp).astype(int),
            "hours": hours,
            "compulsory_hours": hours * is_comp,
        }
    )
    sums = ses.by.sums(ses.man, per)  # summed by the men's codes: the same sums, in the same order
    out = men.assign(**{col: sums[col].to_numpy()[ses.by.code] for col in per.columns})
    for col in ("sessions", "compulsory_sessions"):
        out[col] = out[col].astype(int)
    for col in ("hours", "compulsory_hours"):
        out[col] = out[col].astype(float)
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


def derive_followup(cfg: Config, men: pd.DataFrame, followup: pd.DataFrame, by: ById | None = None) -> pd.DataFrame:
    """``state_<timepoint>``: retained (completed within the window), outside_window, or the recorded
    status; ``unknown`` without a record or a status."""
    states = {}
    by = by or ById(men["participant_id"])
    man = by.of(followup["participant_id"])
    for tp_id in followup_timepoints(cfg):
        tp = cfg.timepoint(tp_id)
        mine = np.flatnonzero((followup["timepoint"] == tp_id).fillna(False).to_numpy(dtype=bool))
        pos = by.spread(by.first(man[mine]))  # each man's row at this timepoint (one: the file's key), or -1
        at = np.where(pos >= 0, mine[np.maximum(pos, 0)] if len(mine) else -1, -1)
        merged = pd.DataFrame({c: followup[c].array.take(at, allow_fill=True)
                               for c in ("due_on", "status", "completed_on")}, index=men.index)  # fmt: skip
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


def derive_outcomes(cfg: Config, men: pd.DataFrame, scores: pd.DataFrame, by: ById | None = None) -> pd.DataFrame:
    """``y_<outcome>`` at the outcome's timepoint and ``base_<outcome>`` at baseline."""
    from advance_trial.analysis.scoring import score_column

    rows: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}  # per timepoint: its scores, and each man's row
    by = by or ById(men["participant_id"])
    man = by.of(scores["participant_id"]) if len(scores) else np.zeros(0, dtype=np.intp)

    def at(tp: str | None, col: str) -> np.ndarray:
        if tp is None:
            return np.full(len(men), np.nan)
        if tp not in rows:
            mine = np.flatnonzero((scores["timepoint"] == tp).fillna(False).to_numpy(dtype=bool))
            rows[tp] = (scores.iloc[mine], by.spread(by.first(man[mine])))  # each man's first row there
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


def event_counts(cfg: Config, ids: pd.Series, events: pd.DataFrame, id_col: str, about: str,
                 by: ById | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Per person (``ids``, matched on ``events[id_col]``): ``events``, ``events_serious``,
    ``events_related`` (judged related to the intervention; not known counts as not) and
    ``events_<category>`` for the config's categories ``about`` men or partners."""
    by = by or ById(ids)
    whose = by.of(events[id_col]) if len(events) else np.zeros(0, dtype=np.intp)  # -1: not one of ``ids``
    serious = events["serious"].fillna(False).to_numpy(dtype=bool)
    related = (events["related"].fillna(False).to_numpy(dtype=bool) if "related" in events
               else np.zeros(len(events), bool))  # fmt: skip
    parts = {"events": np.ones(len(events), dtype=bool), "events_serious": serious, "events_related": related}
    for c in cfg.events.categories if cfg.events else []:
        if c.about == about:
            parts[f"events_{c.id}"] = (events["category"] == c.id).fillna(False).to_numpy(dtype=bool)
    return {name: by.counts(whose, rows).astype(int) for name, rows in parts.items()}


def derive_events(cfg: Config, men: pd.DataFrame, events: pd.DataFrame, by: ById | None = None) -> pd.DataFrame:
    """``events``, ``events_serious``, ``events_related`` and ``events_<category>``: how many adverse
    events (his own, by participant_id) he had, all, serious, related to the intervention and of each
    category about men."""
    return men.assign(**event_counts(cfg, men["participant_id"], events, "participant_id", "man", by))
