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
from advance_trial.results.labels import VOCABULARY
from advance_trial.results.layout import frame
from advance_trial.results.verbs import Target, stat_rows

COLUMNS = ("about", "category", "arm", "n", "n_with_event", "proportion", "events")
ANY, SERIOUS, RELATED = "any", "any_serious", "any_related"
COUNT_OF = {ANY: "events", SERIOUS: "events_serious", RELATED: "events_related"}


def _rows(to: Target, about: str, people: pd.DataFrame, arms: list[str], categories: list[str],
          labels: dict[str, str]) -> list[list[Any]]:  # fmt: skip
    """One row per category and arm from the people's ``events_<category>`` counts (subject-level facts)."""
    rows: list[list[Any]] = []
    arm_of = people["arm"].astype(str).to_numpy()
    whose = {a: slice(None) if a == "all" else arm_of == a for a in arms}  # each arm's people, found once
    for cat in categories:
        col = COUNT_OF.get(cat, f"events_{cat}")
        here = Target(to.table, to.context, to.denominator, labels.get(cat) or VOCABULARY.get(cat, ""))
        every = people[col].to_numpy(dtype=int)
        for a in arms:
            counts = every[whose[a]]
            k, n = int((counts > 0).sum()), len(counts)
            rows += stat_rows(here, {"about": about, "arm": a}, cat, None,
                              {"n": n, "n_with_event": k, "proportion": k / n if n else np.nan,
                               "events": int(counts.sum())})  # fmt: skip
    return rows


def harms_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of harms: men (and partners) with at least one event of each category, and events,
    by arm."""
    if cfg.events is None:
        return frame([])
    to = Target("harms", "harms", "men randomised (partners identified)")
    labels = {c.id: c.label for c in cfg.events.categories}
    arms = [*cfg.arm_ids, "all"]
    man_cats = [c.id for c in cfg.events.categories if c.about == "man"]
    partner_cats = [c.id for c in cfg.events.categories if c.about == "partner"]
    rows = _rows(to, "men", ads.men, arms, [*man_cats, ANY, SERIOUS, RELATED], labels)
    if partner_cats:
        rows += _rows(to, "partners", ads.partners, arms, [*partner_cats, ANY], labels)
    return frame(rows)
