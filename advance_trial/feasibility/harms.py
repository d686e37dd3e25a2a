"""Harms (CONSORT pilot item 19): men with at least one adverse event, and with a serious one, by arm;
partner safety incidents as aggregates only (partners with at least one, and incidents), by the man's arm.

Every per-man fact comes from the subject-level data set (``events``, ``events_serious``,
``events_<category>``), every per-partner one from the partner frame's same columns; no event is
listed, and no free text exists to list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config.models import Config
from advance_trial.output.tables import Table

COLUMNS = ("about", "category", "arm", "n", "n_with_event", "proportion", "events")
ANY, SERIOUS, RELATED = "any", "any_serious", "any_related"
COUNT_OF = {ANY: "events", SERIOUS: "events_serious", RELATED: "events_related"}


def _rows(about: str, people: pd.DataFrame, arms: list[str], categories: list[str]) -> list[dict[str, Any]]:
    """One row per category and arm from the people's ``events_<category>`` counts (subject-level facts)."""
    rows: list[dict[str, Any]] = []
    for cat in categories:
        col = COUNT_OF.get(cat, f"events_{cat}")
        for a in arms:
            these = people if a == "all" else people[people["arm"].astype(str) == a]
            counts = these[col].to_numpy(dtype=int)
            k, n = int((counts > 0).sum()), len(these)
            rows.append({"about": about, "category": cat, "arm": a, "n": n, "n_with_event": k,
                         "proportion": k / n if n else np.nan, "events": int(counts.sum())})  # fmt: skip
    return rows


def harms_table(cfg: Config, ads: AnalysisData) -> Table:
    """The harms table; empty without an ``events`` block."""
    if cfg.events is None:
        return Table("harms", pd.DataFrame(columns=list(COLUMNS)), "Harms")
    arms = [*cfg.arm_ids, "all"]
    man_cats = [c.id for c in cfg.events.categories if c.about == "man"]
    partner_cats = [c.id for c in cfg.events.categories if c.about == "partner"]
    rows = _rows("men", ads.men, arms, [*man_cats, ANY, SERIOUS, RELATED])
    if partner_cats:
        rows += _rows("partners", ads.partners, arms, [*partner_cats, ANY])
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df[["n", "n_with_event", "events"]] = df[["n", "n_with_event", "events"]].astype(int)
    notes = ("n_with_event: men (or partners) with at least one event of the category; proportion of n, the men "
             "randomised to the arm (partners: those identified, by their man's arm); events: how many events.",
             "Partner safety incidents are aggregates only: no incident is listed.")  # fmt: skip
    return Table("harms", df, "Adverse events and partner safety incidents", notes)
