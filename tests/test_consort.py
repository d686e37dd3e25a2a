"""The CONSORT flow adds up; thresholds annotate it without subtracting."""

from __future__ import annotations

from advance_trial.analysis import analysis_data
from advance_trial.feasibility.consort import consort_results
from advance_trial.output.pivots import table_of
from tests.feasibility_helpers import sample


def n(df, stage, arm="all", detail=None):
    d = df[(df["stage"] == stage) & (df["arm"] == arm)]
    if detail is not None:
        d = d[d["detail"] == detail]
    assert len(d) == 1, (stage, arm, detail, d)
    return int(d["n"].iloc[0])


def test_advance_flow_adds_up():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "consort", consort_results(cfg, analysis_data(cfg, d))).data
    assert list(t.columns) == ["stage", "arm", "detail", "n"]
    assert n(t, "assessed") == n(t, "excluded") + n(t, "randomised") == 188
    assert n(t, "excluded") == n(t, "excluded.not_eligible", detail="") + n(t, "excluded.declined") + n(
        t, "excluded.other")  # fmt: skip
    reasons = t[(t["stage"] == "excluded.not_eligible") & (t["detail"] != "")]
    assert reasons["n"].sum() == n(t, "excluded.not_eligible", detail="") == 41
    assert n(t, "randomised") == 104 and n(t, "allocated", "advance") == 54 and n(t, "allocated", "tau") == 50
    assert n(t, "received_any_session", "advance") <= 54
    met = t[t["stage"] == "met_threshold"]
    assert set(met["arm"]) == {"advance"} and len(met) == len(cfg.thresholds)
    for arm, total in (("advance", 54), ("tau", 50)):
        lost = t[(t["stage"] == "not_followed_up") & (t["arm"] == arm)]["n"].sum()
        assert n(t, "followed_up", arm, "week16") + lost == total  # thresholds subtract nothing
    assert n(t, "followed_up", "advance", "week16") + n(t, "followed_up", "tau", "week16") == 51
    outside = t[(t["stage"] == "not_followed_up") & (t["detail"] == "week16: outside window")]
    assert outside["n"].sum() == 2  # calibrated: two men completed after the window closed


def test_single_arm_flow():
    cfg, d = sample("cranstoun-dvip")
    t = table_of(cfg, "consort", consort_results(cfg, analysis_data(cfg, d))).data
    # a single-arm study enrols its men: the stage says so (issue 20)
    assert n(t, "enrolled") == 20 and n(t, "allocated", "programme") == 20 and "randomised" not in set(t["stage"])
    assert not t["detail"].fillna("").str.contains("randomised").any()
    assert n(t, "met_threshold", "programme", "hours_over_30: hours > 30") == 18
