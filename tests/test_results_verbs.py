"""The results data set's verbs and structure (advance_trial/results/): each verb against R or a closed form,
the structure check on what it must refuse, and the house rule that results/ is neutral ground."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from advance_trial.output.ard import results_data
from advance_trial.output.displays import layouts
from advance_trial.output.pivots import table_of
from advance_trial.results import COLUMNS, ResultsStructureError, check_results_structure
from advance_trial.results.layout import pivot_rows
from advance_trial.results.verbs import (
    Target,
    ard_continuous,
    ard_count,
    ard_difference,
    ard_model,
    ard_proportion,
    ard_rate,
    bind_results,
)

TO = Target("t", "test", "men", "Men retained")
PACKAGE = Path(__file__).resolve().parents[1] / "advance_trial"


def _men() -> pd.DataFrame:
    # 23 men: 7 retained; arm a has 12 of 20 ... built so each cell's counts are known
    arm = ["a"] * 12 + ["b"] * 11
    retained = [True] * 5 + [False] * 7 + [True] * 2 + [False] * 9
    return pd.DataFrame({"arm": arm, "retained": retained, "x": np.arange(23, dtype=float)})


def _stats(rows: pd.DataFrame, **groups: str) -> dict[str, object]:
    keep = np.ones(len(rows), dtype=bool)
    for name, level in groups.items():
        keep &= ((rows["group1"] == name) & (rows["group1_level"] == level)).to_numpy()
    return dict(zip(rows.loc[keep, "stat_name"], rows.loc[keep, "stat"], strict=True))


def test_proportion_is_rs_wilson_interval_with_margins():
    rows = ard_proportion(_men(), TO, "retained", "retained", by=[("arm", ["a", "b"])], total="n_randomised",
                          count="n_retained")  # fmt: skip
    check_results_structure(rows)
    assert list(dict.fromkeys(rows["group1_level"])) == ["a", "b", "all"]
    s = _stats(rows, arm="all")
    assert (s["n_randomised"], s["n_retained"], s["proportion"]) == (23, 7, 7 / 23)
    # R: prop.test(7, 23, correct = FALSE)$conf.int -> 0.15604024453214027 0.50865756268759199
    assert s["ci_lower"] == pytest.approx(0.15604024453214027, rel=1e-12)
    assert s["ci_upper"] == pytest.approx(0.50865756268759199, rel=1e-12)
    assert set(rows.loc[rows["stat_name"].str.startswith("n_"), "method"].map(str)) == {"None"}  # a count: no method
    assert set(rows.loc[rows["stat_name"] == "proportion", "method"]) == {"wilson"}
    assert not rows["contrast"].any()


def test_proportion_clopper_pearson_as_binom_test():
    rows = ard_proportion(_men(), TO, "retained", "retained", method="clopper_pearson")
    s = _stats(rows)
    # R: binom.test(7, 23)$conf.int -> 0.13210287969809992 0.52919166600850653
    assert (s["ci_lower"], s["ci_upper"]) == pytest.approx((0.13210287969809992, 0.52919166600850653), rel=1e-12)


def test_an_empty_cell_is_nan_with_its_reason():
    rows = ard_proportion(_men(), TO, "retained", "retained", by=[("arm", ["a", "b", "c"])])
    empty = rows[rows["group1_level"] == "c"]
    assert math.isnan(empty.loc[empty["stat_name"] == "proportion", "stat"].iloc[0])
    assert set(empty["error"]) == {"no men in this cell"}
    check_results_structure(rows)


def test_count_with_and_without_a_condition():
    men = _men()
    n = ard_count(men, TO, "retained", by=[("arm", ["a", "b"])])
    assert _stats(n, arm="a") == {"n": 12} and _stats(n, arm="all") == {"n": 23}
    k = ard_count(men, TO, "retained", by=[("arm", ["a", "b"])], where="retained", stat_name="n_retained")
    assert [_stats(k, arm=a)["n_retained"] for a in ("a", "b", "all")] == [5, 2, 7]


def test_continuous_summary_as_r():
    df = pd.DataFrame({"x": [3, 1, 4, 1, 5, 9, 2, 6, None]})
    rows = ard_continuous(df, TO, "x", "x", stats=("n", "mean", "sd", "median", "q1", "q3", "min", "max"))
    s = _stats(rows)
    # R: x <- c(3, 1, 4, 1, 5, 9, 2, 6); quantile(x, c(.25, .5, .75), type = 7) -> 1.75 3.50 5.25;
    #    sd(x) -> 2.7483761439387129; mean(x) -> 3.875
    assert (s["q1"], s["median"], s["q3"]) == (1.75, 3.5, 5.25)
    assert s["sd"] == pytest.approx(2.7483761439387129, rel=1e-12)
    assert (s["n"], s["mean"], s["min"], s["max"]) == (8, 3.875, 1.0, 9.0)
    named = ard_continuous(df, TO, "x", "x", names={"median": "median_x"})
    assert set(named["stat_name"]) == {"median_x", "q1", "q3"}
    with pytest.raises(ValueError, match="unknown summaries"):
        ard_continuous(df, TO, "x", "x", stats=("mode",))


def test_rate_is_rs_exact_poisson_interval():
    rows = ard_rate(104, 45, TO, "rate", {"site": "all"}, exposure_name="site_months")
    s = _stats(rows, site="all")
    # R: poisson.test(104, 45)$conf.int -> 1.8883452513362322 2.8002979332223417
    assert s["rate"] == 104 / 45
    assert (s["ci_lower"], s["ci_upper"]) == pytest.approx((1.8883452513362322, 2.8002979332223417), rel=1e-10)
    none = ard_rate(3, 0, TO, "rate", {"site": "all"})
    assert math.isnan(_stats(none, site="all")["rate"]) and set(none["error"]) == {"no exposure"}


def test_difference_is_newcombes_hybrid_score_and_a_contrast():
    men = pd.DataFrame({"arm": ["a"] * 20 + ["b"] * 18, "ok": [True] * 12 + [False] * 8 + [True] * 5 + [False] * 13})
    rows = ard_difference(men, TO, "ok", "ok", arm_column="arm", arm="a", comparator="b", count="n_ok")
    check_results_structure(rows)
    s = dict(zip(rows["stat_name"], rows["stat"], strict=True))
    # R: w <- function(x, n) prop.test(x, n, correct = FALSE)$conf.int; p1 <- 12/20; p2 <- 5/18;
    #    a <- w(12, 20); b <- w(5, 18); d <- p1 - p2
    #    c(d, d - sqrt((p1 - a[1])^2 + (b[2] - p2)^2), d + sqrt((a[2] - p1)^2 + (p2 - b[1])^2))
    #    -> 0.3222222222222221877 0.0077626883950224768 0.5592303985833660951
    assert (s["estimate"], s["ci_lower"], s["ci_upper"]) == pytest.approx(
        (0.3222222222222221877, 0.0077626883950224768, 0.5592303985833660951), rel=1e-12)  # fmt: skip
    assert (s["n_arm"], s["n_ok_arm"], s["n_comparator"], s["n_ok_comparator"]) == (20, 12, 18, 5)
    assert set(rows.loc[rows["contrast"], "stat_name"]) == {"estimate", "ci_lower", "ci_upper"}
    assert list(rows[["group1", "group1_level", "group2", "group2_level"]].iloc[0]) == ["arm", "a", "comparator", "b"]


@dataclass(frozen=True)
class _Fit:
    estimate: float
    ci_lower: float
    ci_upper: float
    se: float
    df: float
    method: str = "t (residual df)"


def test_model_estimate_rows_are_contrasts_unless_said():
    fit = _Fit(-0.5, -1.2, 0.2, 0.35, 46.0)
    rows = ard_model(fit, TO, "y", {"analysis": "ancova"}, level="week16", extra={"n_analysed": 51})
    check_results_structure(rows)
    s = dict(zip(rows["stat_name"], rows["stat"], strict=True))
    assert s == {"estimate": -0.5, "ci_lower": -1.2, "ci_upper": 0.2, "se": 0.35, "df": 46.0, "n_analysed": 51}
    assert set(rows.loc[rows["contrast"], "stat_name"]) == {"estimate", "ci_lower", "ci_upper"}
    assert set(rows.loc[rows["stat_name"] == "estimate", "method"]) == {"t (residual df)"}
    within = ard_model(fit, TO, "y", {"arm": "a"}, contrast=False)
    assert not within["contrast"].any()


def test_bind_refuses_a_statistic_made_twice():
    a = ard_count(_men(), TO, "retained")
    assert len(bind_results(a, [ard_count(_men(), TO, "other")])) == 2
    with pytest.raises(ResultsStructureError, match="made twice"):
        bind_results(a, a)


def test_text_statistics_go_to_their_own_columns_and_the_pivot_gives_them_back():
    from advance_trial.results.layout import frame
    from advance_trial.results.verbs import stat_rows

    to = Target("progression", "progression", "as in each metric's table")
    rows = frame(stat_rows(to, {}, "recruitment", None, {"label": "At least 60% randomised", "estimate": 0.7,
                                                        "rule": "estimate >= 0.60", "status": "met",
                                                        "reason": "", "flag": True}))  # fmt: skip
    check_results_structure(rows)
    by = rows.set_index("stat_name")
    assert by["stat"].map(lambda v: v is None or isinstance(v, int | float)).all()
    assert (by.at["rule", "text"], by.at["status", "text"]) == ("estimate >= 0.60", "met")
    assert by.at["label", "variable_label"] == "At least 60% randomised" and by.at["reason", "text"] == ""
    assert by.at["flag", "stat"] == 1
    cols = ["criterion", "label", "estimate", "rule", "status", "reason", "flag"]
    back = pivot_rows(layouts()["progression"], rows, cols, {"flag": bool})
    assert back.iloc[0].to_dict() == {"criterion": "recruitment", "label": "At least 60% randomised",
                                      "estimate": 0.7, "rule": "estimate >= 0.60", "status": "met", "reason": "",
                                      "flag": True}  # fmt: skip


def test_an_empty_label_stays_empty_through_the_pivot():
    from advance_trial.results.layout import melt

    shown = pd.DataFrame({"criterion": ["a", "b"], "label": ["", "Retention"], "estimate": [0.5, 0.6],
                          "ci_method": ["wilson", "wilson"]})  # fmt: skip
    rows = frame_of(melt("progression", shown, layouts()["progression"], {"a": "Criterion a"}))
    check_results_structure(rows)
    assert list(rows.drop_duplicates("variable")["variable_label"]) == ["Criterion a", "Retention"]
    back = pivot_rows(layouts()["progression"], rows, list(shown.columns))
    assert back.to_dict("records") == shown.to_dict("records")


def frame_of(rows: list[list[object]]) -> pd.DataFrame:
    from advance_trial.results.layout import frame

    return frame(rows)


def _good() -> pd.DataFrame:
    return ard_proportion(_men(), TO, "retained", "retained", by=[("arm", ["a", "b"])])


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: f.drop(columns=["context"]), "columns missing: context"),
        (lambda f: f[[*reversed(COLUMNS)]], "out of order"),
        (lambda f: f.assign(stat=f["stat"].where(f.index != 0, "sessions >= 1")), "stat is not a number"),
        (lambda f: f.assign(stat_label=f["stat_label"].where(f.index != 2, "")), "with no stat_label"),
        (lambda f: f.assign(context=None), "with no context"),
        (lambda f: pd.concat([f, f.iloc[:1]], ignore_index=True), "with the same key"),
        (lambda f: f.assign(group1_level=f["group1_level"].where(f.index != 0, None)), "named but no level"),
        (lambda f: f.assign(group2_level="x"), "level for an unnamed breakdown"),
        (lambda f: f.assign(contrast=f["stat_name"] == "n"), "marked contrast"),
        (lambda f: f.assign(contrast=f["contrast"].astype(object).where(f.index != 0, "yes")), "not true or false"),
        (lambda f: f.assign(error=f["error"].astype(object).where(f.index != 0, 3)), "error is not text"),
    ],
)
def test_the_structure_check_refuses_what_is_not_a_results_data_set(spoil, message):
    good = _good()
    check_results_structure(good)
    with pytest.raises(ResultsStructureError, match=message):
        check_results_structure(spoil(good))


def test_a_display_is_a_pivot_of_its_rows():
    rows = ard_proportion(_men(), Target("partner_contact"), "partner_contacted", "retained",
                          by=[("arm", ["a", "b"]), ("site", [])], total="n_partners", count="n_contacted")  # fmt: skip
    cols = ["arm", "site", "n_partners", "n_contacted", "proportion", "ci_lower", "ci_upper", "ci_method"]
    t = table_of(SimpleNamespace(reporting=SimpleNamespace(proportion_ci="wilson", ci_level=0.95)), "partner_contact",
                 rows)  # fmt: skip
    assert list(t.data.columns) == cols and list(t.data["arm"]) == ["a", "b", "all"]
    assert t.data["n_partners"].dtype == np.int64 and t.results is rows
    assert t.title == "Partner contact (aggregates only)"


def test_a_display_made_as_the_pivot_of_its_rows_is_not_pivoted_again_but_a_replaced_one_is(monkeypatch):
    from dataclasses import replace

    from advance_trial.results import layout as layout_module
    from advance_trial.results.layout import melting_once

    rows = ard_proportion(_men(), Target("partner_contact"), "partner_contacted", "retained",
                          by=[("arm", ["a", "b"]), ("site", [])], total="n_partners", count="n_contacted")  # fmt: skip
    cfg = SimpleNamespace(reporting=SimpleNamespace(proportion_ci="wilson", ci_level=0.95))
    checked: list[str] = []
    same = layout_module._same
    monkeypatch.setattr(layout_module, "_same", lambda a, b: checked.append("pivoted again") or same(a, b))
    with melting_once():
        t = table_of(cfg, "partner_contact", rows)
        assert "partner_contact" in results_data({"partner_contact": t}).pivots and checked == []
        # the same values in another frame (as disclosure or blinding would leave them): pivoted again to know
        copy = replace(t, data=t.data.copy())
        assert "partner_contact" in results_data({"partner_contact": copy}).pivots and checked == ["pivoted again"]
        changed = t.data.copy()
        changed.loc[0, "n_contacted"] = 0
        assert "partner_contact" not in results_data({"partner_contact": replace(t, data=changed)}).pivots
    # outside the block nothing is remembered: every display is pivoted again
    checked.clear()
    t = table_of(cfg, "partner_contact", rows)
    assert "partner_contact" in results_data({"partner_contact": t}).pivots and checked == ["pivoted again"]


def test_results_is_neutral_ground():
    for path in sorted((PACKAGE / "results").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
            for name in names:
                assert not name.startswith(("advance_trial.output", "advance_trial.cli", "advance_trial.service")), (
                    path.name, name)  # fmt: skip


ANALYSES = ["analysis", "feasibility", "outcomes", "planning"]


@pytest.mark.parametrize("package", ANALYSES)
def test_an_analysis_imports_nothing_from_the_output_and_returns_no_display_table(package):
    """Analyses hand on results rows; the output makes every table from them (issue 31)."""
    for path in sorted((PACKAGE / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("advance_trial.output"), (path.name, node.module)
                assert "Table" not in [a.name for a in node.names], (path.name, node.module)


def test_change_is_made_by_the_verbs_and_says_why_an_interval_is_missing(sample_tables):
    from advance_trial.outcomes.within import change_results

    cfg, ads, tables = sample_tables("advance-feasibility")
    own = tables["change"].results
    assert own is not None and len(own)
    long = results_data(tables).long
    made = long[long["table"] == "change"]
    assert len(made) == len(own) and made["context"].eq("change").all() and not made["contrast"].any()
    # one man of the first arm with both measures: his change, no interval, and why
    o = next(o for o in cfg.outcomes if o.type != "binary")
    men, arm = ads.men, cfg.arm_ids[0]
    both = (men[f"y_{o.id}"].notna() & men[f"base_{o.id}"].notna()).to_numpy()
    in_arm = (men["arm"].astype(str) == arm).to_numpy()
    first = np.flatnonzero(in_arm & both)[0]
    lone = SimpleNamespace(men=men[~in_arm | (np.arange(len(men)) == first)])
    rows = change_results(cfg, lone)
    check_results_structure(rows)
    cell = rows[(rows["variable"] == o.id) & (rows["group1_level"] == arm)]
    s = dict(zip(cell["stat_name"], cell["stat"], strict=True))
    assert s["n"] == 1 and s["estimate"] == men[f"y_{o.id}"].iloc[first] - men[f"base_{o.id}"].iloc[first]
    assert math.isnan(s["ci_lower"]) and math.isnan(s["ci_upper"])
    assert set(cell["error"]) == {"fewer than two men with both measures"}
    shown = table_of(cfg, "change", change_results(cfg, lone)).data
    r = shown[(shown["outcome"] == o.id) & (shown["arm"] == arm)].iloc[0]
    assert (r["status"], r["reason"]) == ("not_estimable", "fewer than two men with both measures")
    assert shown["n"].dtype == np.int64


def _bound(tables, name):
    """A table's own results rows (checked) and its rows as results.csv binds them."""
    own = tables[name].results
    assert own is not None and len(own)
    check_results_structure(own)
    made = results_data(tables).long
    return own, made[made["table"] == name]


def test_progression_is_made_by_the_verbs(sample_tables):
    cfg, _, tables = sample_tables("advance-feasibility")
    own, made = _bound(tables, "progression")
    assert len(made) == len(own) and made["context"].eq("progression").all()
    assert list(dict.fromkeys(own["variable"])) == [c.id for c in cfg.progression]
    rule = own[own["stat_name"] == "rule"]
    assert rule["stat"].isna().all() and rule["text"].str.len().gt(0).all()  # words in text, never in stat


def test_outcomes_are_model_rows_marked_as_contrasts_unless_within_an_arm(sample_tables):
    cfg, _, tables = sample_tables("advance-feasibility")
    own = tables["outcomes"].results
    assert own is not None and len(own)
    check_results_structure(own)
    assert own["context"].eq("outcomes").all()
    est = own[own["stat_name"].isin(["estimate", "ci_lower", "ci_upper"])]
    within = est["group2_level"].isin(["icc", "mean_change"])
    assert within.any() and not est.loc[within, "contrast"].any() and est.loc[~within, "contrast"].all()
    assert not own.loc[~own["stat_name"].isin(["estimate", "ci_lower", "ci_upper"]), "contrast"].any()


def test_the_plan_is_made_by_the_verbs(sample_tables):
    cfg, _, tables = sample_tables("advance-feasibility")
    own, made = _bound(tables, "plan")
    assert len(made) == len(own) and own["context"].eq("planning").all()
    assert set(own["group1"]) == {"step"} and set(own["stat_name"]) == {"estimate", "conservative", "note"}
    total = own[(own["variable_level"] == "men to randomise in all") & (own["stat_name"] == "estimate")]
    assert len(total) and all(isinstance(v, float) for v in total["stat"])  # as the plan's column holds it


@pytest.mark.parametrize("trial", ["advance-feasibility", "cranstoun-dvip"])
def test_a_key_s_records_are_those_pandas_gives(sample_tables, trial):
    _, _, tables = sample_tables(trial)
    results = results_data(tables)
    assert results._keys
    for key in results._keys:
        made, expected = results._records_of(*key), results._rows_of(*key).to_dict("records")
        assert [list(r) for r in made] == [list(r) for r in expected]
        for r, e in zip(made, expected, strict=True):
            for name, value in r.items():
                assert type(value) is type(e[name]), (key, name)
                assert value == e[name] or (value != value and e[name] != e[name]), (key, name)


def test_records_are_what_pandas_to_dict_gives_for_every_kind_of_column():
    from advance_trial.results.layout import records

    frame_ = pd.DataFrame({
        "int": [1, 2, 3], "float": [0.5, np.nan, -0.0], "bool": [True, False, True],
        "Int64": pd.array([1, None, 3], dtype="Int64"), "boolean": pd.array([True, None, False], dtype="boolean"),
        "string": pd.array(["a", None, "c"], dtype="string"), "Float64": pd.array([1.5, None, 2.0], dtype="Float64"),
        "date": pd.to_datetime(["2024-01-02", None, "2024-03-04"]),
        "objects": pd.Series([np.int64(4), np.float64(0.25), None], dtype=object),
        "mixed": pd.Series(["x", np.bool_(True), np.datetime64("2024-05-06")], dtype=object),
        "category": pd.Categorical(["u", "v", None]),
    })  # fmt: skip
    made, expected = list(records(frame_)), frame_.to_dict("records")
    assert [list(r) for r in made] == [list(r) for r in expected]
    for r, e in zip(made, expected, strict=True):
        for name, value in r.items():
            assert type(value) is type(e[name]), name
            assert value is e[name] or value == e[name] or (value != value and e[name] != e[name]), name
