"""Recruitment and allocation on the ADVANCE sample."""

from __future__ import annotations

import pytest

from advance_trial.analysis import analysis_data
from advance_trial.feasibility.recruitment import allocation_results, recruitment_results
from advance_trial.output.pivots import table_of
from tests.feasibility_helpers import row, sample


def test_recruitment_published_figure():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "recruitment", recruitment_results(cfg, analysis_data(cfg, d)))
    r = row(t.data, site="all")
    assert (r.n_eligible, r.n_randomised) == (147, 104)
    assert r.proportion == pytest.approx(104 / 147)
    # R: prop.test(104, 147, correct = FALSE)$conf.int
    assert (r.ci_lower, r.ci_upper) == pytest.approx((0.629409575101778, 0.774988529218540), abs=1e-12)
    assert r.ci_method == "wilson"
    assert list(t.data.columns[:7]) == ["site", "n_screened", "n_eligible", "n_randomised", "proportion", "ci_lower",
                                        "ci_upper"]  # fmt: skip
    by_site = t.data[t.data["site"] != "all"]
    assert list(by_site["site"]) == cfg.site_ids
    assert by_site[["n_screened", "n_eligible", "n_randomised"]].sum().tolist() == [r.n_screened, 147, 104]
    assert any("Wilson" in f for f in t.footnotes) and any("eligible" in f for f in t.footnotes)


def test_allocation_by_site_and_arm():
    cfg, d = sample("advance-feasibility")
    a = table_of(cfg, "allocation", allocation_results(cfg, analysis_data(cfg, d))).data
    assert row(a, site="all", arm="advance").n == 54 and row(a, site="all", arm="tau").n == 50
    assert row(a, site="all", arm="all").n == 104
    for s in cfg.site_ids:
        assert row(a, site=s, arm="advance").n + row(a, site=s, arm="tau").n == row(a, site=s, arm="all").n


def test_interval_method_follows_the_config():
    cfg, d = sample("advance-feasibility")
    cfg2 = cfg.model_copy(update={"reporting": cfg.reporting.model_copy(update={"proportion_ci": "clopper_pearson"})})
    r = row(table_of(cfg2, "recruitment", recruitment_results(cfg2, analysis_data(cfg2, d))).data, site="all")
    # R: binom.test(104, 147)$conf.int
    assert (r.ci_lower, r.ci_upper) == pytest.approx((0.626858083925347, 0.779536312662122), abs=1e-12)
    assert r.ci_method == "clopper_pearson"
