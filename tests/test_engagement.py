"""Engagement by component (issue 20, part 4), counted by hand from attendance.csv; single-arm wording."""

from __future__ import annotations

import pandas as pd
import pytest

from advance_trial.analysis.subjects import components
from advance_trial.config import load_config
from advance_trial.pipeline import dose_tables, load_analysis
from tests.conftest import SAMPLES, config_path


@pytest.mark.parametrize("trial", ["advance-feasibility", "advance-digital"])
def test_components_started_and_completed_by_hand(trial):
    cfg, ads = load_analysis(config_path(trial), SAMPLES / trial)
    table = dose_tables(cfg, ads)["engagement"].data
    att = pd.read_csv(SAMPLES / trial / "attendance.csv")
    att = att[att["attended"].astype(str).str.lower() == "true"]
    men = pd.read_csv(SAMPLES / trial / "participants.csv")
    offered = men[men["arm"] == cfg.schedule.arm]["participant_id"]
    assert len(table) == len(cfg.schedule.sessions)
    for comp, row in zip(components(cfg), table.itertuples(), strict=True):
        mine = att[(att["session_type"] == comp.type) & att["session_number"].isin(comp.numbers)]
        per_man = mine.groupby("participant_id").size().reindex(offered, fill_value=0)
        assert (row.n, row.n_started, row.n_completed) == (len(offered), int((per_man >= 1).sum()),
                                                           int((per_man >= comp.sessions).sum()))  # fmt: skip
        assert row.median_attended == per_man.median()
        assert row.proportion_started == pytest.approx(row.n_started / row.n, rel=1e-12)


def test_components_of_one_type_are_told_apart():
    """ADVANCE's individual sessions are two components: the two compulsory ones and the optional booster,
    numbered on within their type as the attendance file numbers them."""
    comps = components(load_config(config_path("advance-feasibility")))
    assert [(c.id, c.numbers, c.compulsory) for c in comps] == [
        ("individual_1", (1, 2), True),
        ("group", tuple(range(1, 13)), True),
        ("individual_2", (3,), False),
    ]
    digital = [c.id for c in components(load_config(config_path("advance-digital")))]
    assert digital == ["goal_setting", "online_group", "website", "coaching_call", "booster"]


def test_the_report_shows_engagement_and_a_single_arm_study_says_enrolled(sample_run):
    out = sample_run("advance-digital").out
    md = (out / "report.md").read_text()
    assert "Engagement by component of the programme" in md and "engagement.svg" in md
    assert "| 1:1 coaching call after a website session | 12 |" in md
    # every human word says enrolled; only a reference's title keeps "randomised", and the checklist appendix,
    # which quotes the guidelines' items in their own words ("Type of randomisation")
    text = md.split("## Appendix: reporting checklist")[0]
    text = text.replace("CONSORT 2010 extension to randomised pilot and feasibility trials", "")
    assert "randomis" not in text.lower(), [line for line in text.splitlines() if "randomis" in line.lower()][:3]
    for name in ("dose.md", "retention.md", "recruitment.md"):
        notes = (out / name).read_text().split("\n\n", 2)[-1]  # the footnotes, after the table
        assert "men randomised" not in notes, name
