"""Harms (CONSORT pilot item 19): men with at least one adverse event, and with a serious one, by arm;
partner safety incidents as aggregates only (partners with at least one, and incidents), by the man's arm.

Every per-man fact comes from the subject-level data set (``events``, ``events_serious``) and the events
frame; no event is listed, and no free text exists to list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config.models import Config
from advance_trial.output.tables import Table

COLUMNS = ("about", "category", "arm", "n", "n_with_event", "proportion", "events")
ANY, SERIOUS = "any", "any_serious"


def harms_table(cfg: Config, ads: AnalysisData) -> Table:
    """The harms table; empty without an ``events`` block."""
    if cfg.events is None:
        return Table("harms", pd.DataFrame(columns=list(COLUMNS)), "Harms")
    men, ev = ads.men, ads.events
    arms = [*cfg.arm_ids, "all"]
    man_cats = [c.id for c in cfg.events.categories if c.about == "man"]
    partner_cats = [c.id for c in cfg.events.categories if c.about == "partner"]
    rows: list[dict[str, Any]] = []
    own = ev[ev["participant_id"].notna()]
    for cat in [*man_cats, ANY, SERIOUS]:
        if cat == ANY:
            these = own
        elif cat == SERIOUS:
            these = own[own["serious"].fillna(False).to_numpy(dtype=bool)]
        else:
            these = own[own["category"] == cat]
        for a in arms:
            ids = men["participant_id"] if a == "all" else men.loc[men["arm"].astype(str) == a, "participant_id"]
            hit = these[these["participant_id"].isin(set(ids))]
            k = int(hit["participant_id"].nunique())
            rows.append({"about": "men", "category": cat, "arm": a, "n": len(ids), "n_with_event": k,
                         "proportion": k / len(ids) if len(ids) else np.nan, "events": len(hit)})  # fmt: skip
    if partner_cats:
        partners = ads.partners
        theirs = ev[ev["partner_id"].notna()]
        for cat in [*partner_cats, ANY]:
            these = theirs if cat == ANY else theirs[theirs["category"] == cat]
            for a in arms:
                ids = partners["partner_id"] if a == "all" else partners.loc[partners["arm"].astype(str) == a,
                                                                             "partner_id"]  # fmt: skip
                hit = these[these["partner_id"].isin(set(ids))]
                k = int(hit["partner_id"].nunique())
                rows.append({"about": "partners", "category": cat, "arm": a, "n": len(ids), "n_with_event": k,
                             "proportion": k / len(ids) if len(ids) else np.nan, "events": len(hit)})  # fmt: skip
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df[["n", "n_with_event", "events"]] = df[["n", "n_with_event", "events"]].astype(int)
    notes = ("n_with_event: men (or partners) with at least one event of the category; proportion of n, the men "
             "randomised to the arm (partners: those identified, by their man's arm); events: how many events.",
             "Partner safety incidents are aggregates only: no incident is listed.")  # fmt: skip
    return Table("harms", df, "Adverse events and partner safety incidents", notes)
