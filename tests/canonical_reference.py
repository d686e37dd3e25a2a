"""The cross-file checks of the canonical files as they were before they matched each file's ids against
participants.csv once (a set or a map of text per check, a merge of every attendance row's session keys),
kept as the reference the fast ones must match problem for problem (``tests/test_canonical_fast.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from advance_trial.config import Config
from advance_trial.data.canonical import _baseline_checks, _event_checks
from advance_trial.errors import DataProblem


def _rows(df: pd.DataFrame, mask: pd.Series) -> Iterable[int]:
    return (int(i) for i in np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool)))


def _day(when: object) -> str:
    """A date as ``yyyy-mm-dd`` (a Timestamp, a numpy datetime or a date)."""
    return str(pd.Timestamp(str(when)).date())


def _date_checks(cfg: Config, t: dict[str, pd.DataFrame], today: dt.date | None = None) -> list[DataProblem]:
    """Dates that cannot be: after the data cut-off or in the future (sessions, follow-ups, screenings,
    randomisations, events); a session, a completed follow-up or a man's adverse event before his
    randomisation; a screening after it (a file read month-first would show these)."""
    problems: list[DataProblem] = []
    now = pd.Timestamp(today or dt.datetime.now(dt.UTC).date())
    cutoff = pd.Timestamp(cfg.trial.data_cutoff) if cfg.trial.data_cutoff is not None else None
    randomised = t["participants"].set_index("participant_id")["randomised_on"]
    checks = (("attendance", "session_on", "a session"), ("followup", "completed_on", "a completed follow-up"),
              ("screening", "screened_on", "a screening decision"),
              ("participants", "randomised_on", "a randomisation"),
              ("events", "event_on", "an adverse event or incident"))  # fmt: skip
    for name, col, what in checks:
        df = t.get(name, pd.DataFrame())
        if not len(df) or col not in df.columns:
            continue
        when = pd.to_datetime(df[col]).to_numpy(dtype="datetime64[s]")
        late = pd.Series((when > now) if cutoff is None else (when > min(now, cutoff)))
        for i in _rows(df, late):
            future = cutoff is None or when[i] > now
            limit = "in the future" if future or cutoff is None else f"after the data cut-off {cutoff.date()}"
            problems.append(DataProblem(f"{name}.csv", i + 2, col, _day(when[i]), f"{what} {limit}"))
        if name == "participants" or "participant_id" not in df.columns:
            continue  # a partner's incident has no randomisation of its own
        rand = pd.to_datetime(df["participant_id"].map(randomised)).to_numpy(dtype="datetime64[s]")
        wrong = pd.Series((when > rand) if name == "screening" else (when < rand))
        for i in _rows(df, wrong):
            side = "after" if name == "screening" else "before"
            problems.append(DataProblem(f"{name}.csv", i + 2, col, _day(when[i]),
                                        f"{what} {side} the man's randomisation on {_day(rand[i])}"))  # fmt: skip
    return problems


def cross_checks(cfg: Config, t: dict[str, pd.DataFrame]) -> list[DataProblem]:
    problems: list[DataProblem] = []
    part = t["participants"]
    known = set(part["participant_id"].dropna().to_numpy(dtype=object).tolist())  # the ids at once, not one by one

    def unknown_participants(name: str) -> None:
        df = t[name]
        mask = ~df["participant_id"].isin(known) & df["participant_id"].notna()
        for i in _rows(df, mask):
            problems.append(
                DataProblem(
                    f"{name}.csv", i + 2, "participant_id", str(df["participant_id"].iat[i]), "not in participants.csv"
                )
            )

    scr = t["screening"]
    if len(scr):
        unknown_participants("screening")
        inconsistent = scr["participant_id"].notna() & ~(scr["eligible"].fillna(False) & scr["consented"].fillna(False))
        for i in _rows(scr, inconsistent):
            problems.append(
                DataProblem(
                    "screening.csv",
                    i + 2,
                    "participant_id",
                    str(scr["participant_id"].iat[i]),
                    "a randomised man must be eligible and have consented",
                )
            )
        consent_without_eligibility = ~scr["eligible"].fillna(False) & scr["consented"].fillna(False)
        for i in _rows(scr, consent_without_eligibility):
            problems.append(
                DataProblem("screening.csv", i + 2, "consented", "true", "consent recorded for an ineligible man")
            )
        screened = set(scr["participant_id"].dropna())
        for i in _rows(part, ~part["participant_id"].isin(screened)):
            problems.append(
                DataProblem(
                    "participants.csv",
                    i + 2,
                    "participant_id",
                    str(part["participant_id"].iat[i]),
                    "not in screening.csv (every randomised man was screened)",
                )
            )
        dup = scr["participant_id"].notna() & scr["participant_id"].duplicated(keep="first")
        for i in _rows(scr, dup):
            problems.append(
                DataProblem(
                    "screening.csv",
                    i + 2,
                    "participant_id",
                    str(scr["participant_id"].iat[i]),
                    "the same man randomised from two screenings",
                )
            )
        site_of = (
            scr.dropna(subset=["participant_id"]).drop_duplicates("participant_id").set_index("participant_id")["site"]
        )
        mismatch = part["participant_id"].map(site_of)
        for i in _rows(part, mismatch.notna() & (mismatch != part["site"])):
            problems.append(
                DataProblem(
                    "participants.csv",
                    i + 2,
                    "site",
                    str(part["site"].iat[i]),
                    f"screening.csv has site {mismatch.iat[i]!r} for this man",
                )
            )

    for name in ("attendance", "followup", "measures", "partners", "events"):
        if name in t and len(t[name]):
            unknown_participants(name)
    if "events" in t and len(t["events"]):
        problems.extend(_event_checks(cfg, t))
    problems.extend(_baseline_checks(cfg, part))
    problems.extend(_attendance_checks(cfg, t))
    problems.extend(_date_checks(cfg, t))
    fu = t["followup"]
    missing_date = (fu["status"] == "completed") & fu["completed_on"].isna()
    for i in _rows(fu, missing_date):
        problems.append(DataProblem("followup.csv", i + 2, "completed_on", "", "a completed follow-up needs its date"))
    date_without = (fu["status"] != "completed") & fu["completed_on"].notna()
    for i in _rows(fu, date_without):
        problems.append(
            DataProblem(
                "followup.csv",
                i + 2,
                "completed_on",
                _day(fu["completed_on"].iat[i]),
                f"a completion date with status {fu['status'].iat[i]!r}",
            )
        )
    pa = t["partners"]
    status_without_consent = ~pa["consented"].fillna(False) & pa["followup_status"].notna()
    for i in _rows(pa, status_without_consent):
        problems.append(
            DataProblem(
                "partners.csv",
                i + 2,
                "followup_status",
                str(pa["followup_status"].iat[i]),
                "a follow-up status for a partner who did not consent",
            )
        )
    return problems


def _attendance_checks(cfg: Config, t: dict[str, pd.DataFrame]) -> list[DataProblem]:
    att = t["attendance"]
    if not len(att):
        return []
    problems: list[DataProblem] = []
    plan = cfg.session_plan()
    counts: dict[str, int] = {}
    for p in plan:
        counts[p.type] = max(counts.get(p.type, 0), p.number)
    lengths = pd.DataFrame(
        {
            "session_type": [p.type for p in plan],
            "session_number": [p.number for p in plan],
            "_length": [p.hours for p in plan],
        }  # fmt: skip
    ).astype({"session_type": "string", "session_number": "Int64"})
    keyed = att[["session_type", "session_number"]].astype({"session_type": "string", "session_number": "Int64"})
    length = keyed.merge(lengths, how="left", on=["session_type", "session_number"])["_length"].to_numpy()
    hours = att["hours"].to_numpy(dtype=float, na_value=np.nan)
    unplanned = np.isnan(length)
    over = ~unplanned & ~np.isnan(hours) & (hours > length + 1e-9)
    idle = (att["attended"] == False).fillna(False).to_numpy(dtype=bool) & ~np.isnan(hours) & (hours > 0)  # noqa: E712
    arm = att["participant_id"].map(
        t["participants"].drop_duplicates("participant_id").set_index("participant_id")["arm"]
    )
    offered_arm = cfg.schedule.arm if cfg.schedule else None
    wrong_arm = (arm.notna() & (arm != offered_arm)).to_numpy(dtype=bool)
    for i in np.flatnonzero(unplanned | over | idle | wrong_arm).tolist():
        if unplanned[i]:
            ptype, num = str(att["session_type"].iat[i]), att["session_number"].iat[i]
            problems.append(
                DataProblem(
                    "attendance.csv",
                    i + 2,
                    "session_number",
                    str(num),
                    f"the schedule has {counts.get(ptype, 0)} {ptype} sessions",
                )  # fmt: skip
            )
            continue
        if over[i]:
            problems.append(
                DataProblem(
                    "attendance.csv",
                    i + 2,
                    "hours",
                    repr(float(hours[i])),
                    f"more than the session's {length[i]:g} hours",
                )  # fmt: skip
            )
        if idle[i]:
            problems.append(
                DataProblem(
                    "attendance.csv", i + 2, "hours", repr(float(hours[i])), "hours recorded for a session not attended"
                )  # fmt: skip
            )
        if wrong_arm[i]:
            problems.append(
                DataProblem(
                    "attendance.csv",
                    i + 2,
                    "participant_id",
                    str(att["participant_id"].iat[i]),
                    f"arm {arm.iat[i]!r} is not offered sessions (schedule.arm is {offered_arm!r})",
                )  # fmt: skip
            )
    return problems
