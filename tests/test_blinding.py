"""Blinding on the results data set (output/blinding.py): arms as codes, contrasts turned round by their flag,
whichever table they are in; the module names no table."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.output.blinding import blind_rows, blind_tables, substituter
from advance_trial.output.displays import layouts
from advance_trial.results.layout import frame
from advance_trial.results.structure import check_results_structure
from advance_trial.results.verbs import Target, ard_difference, ard_model, stat_rows

PACKAGE = Path(__file__).resolve().parents[1] / "advance_trial"


def _sub(text: str) -> str:
    return text.replace("treat", "B").replace("usual", "A")


def _sub_ab(text: str) -> str:
    return text.replace("treat", "A").replace("usual", "B")


def _by(rows: pd.DataFrame) -> dict[str, object]:
    return dict(zip(rows["stat_name"], rows["stat"], strict=True))


def test_a_difference_is_turned_round_when_the_first_arm_codes_after_the_second():
    men = pd.DataFrame({"arm": ["treat"] * 20 + ["usual"] * 18, "ok": [True] * 12 + [False] * 8 + [True] * 5 +
                        [False] * 13})  # fmt: skip
    rows = ard_difference(men, Target("d"), "ok", "ok", arm_column="arm", arm="treat", comparator="usual",
                          count="n_ok")  # fmt: skip
    plain = _by(rows)
    out = blind_rows(rows, {"treat": "B", "usual": "A"}, _sub)
    check_results_structure(out)
    s = _by(out)
    assert list(out[["group1_level", "group2_level"]].iloc[0]) == ["A", "B"]  # A vs B, whichever is treated
    assert s["estimate"] == -plain["estimate"]
    assert (s["ci_lower"], s["ci_upper"]) == (-plain["ci_upper"], -plain["ci_lower"])
    assert (s["n_arm"], s["n_ok_arm"], s["n_comparator"], s["n_ok_comparator"]) == (18, 5, 20, 12)  # each its own
    assert set(out.loc[out["contrast"], "stat_name"]) == {"estimate", "ci_lower", "ci_upper"}
    same = blind_rows(rows, {"treat": "A", "usual": "B"}, _sub_ab)  # already in code order: only relabelled
    assert _by(same) == plain and list(same[["group1_level", "group2_level"]].iloc[0]) == ["A", "B"]


class _Fit:
    estimate, ci_lower, ci_upper, method = 2.0, 1.25, 4.0, "Wald"


def test_a_ratio_is_inverted_and_its_limits_exchanged_a_non_contrast_is_left_alone():
    to = Target("m")
    rows = pd.concat([
        ard_model(_Fit(), to, "y", {"analysis": "logistic", "effect": "odds_ratio"}, extra={"n_analysed": 40}),
        frame(stat_rows(to, {"analysis": "logistic", "effect": "odds_ratio"}, "y", None,
                        {"comparison": "treat vs usual"})),
        ard_model(_Fit(), to, "y", {"analysis": "change", "effect": "mean_change"}, contrast=False),
    ], ignore_index=True)  # fmt: skip
    out = blind_rows(rows, {"treat": "B", "usual": "A"}, _sub)
    ratio = out[out["group2_level"] == "odds_ratio"]
    s = _by(ratio[ratio["stat_name"] != "comparison"])
    assert (s["estimate"], s["ci_lower"], s["ci_upper"]) == (0.5, 0.25, 0.8)
    assert s["n_analysed"] == 40
    assert ratio.loc[ratio["stat_name"] == "comparison", "text"].tolist() == ["A vs B"]
    change = _by(out[out["group2_level"] == "mean_change"])
    assert (change["estimate"], change["ci_lower"], change["ci_upper"]) == (2.0, 1.25, 4.0)  # no comparison


def test_blinded_sample_tables_contrasts_follow_the_codes(advance_cfg, sample_tables):
    cfg, _, tables = sample_tables("advance-feasibility")
    plain = tables["retention_difference"].data
    for codes, sign in (({"advance": "B", "tau": "A"}, -1), ({"advance": "A", "tau": "B"}, 1)):
        blinded = blind_tables(cfg, tables, codes)
        diff = blinded["retention_difference"].data
        assert set(diff["arm"]) == {"A"} and set(diff["comparator"]) == {"B"}
        assert list(diff["estimate"]) == [sign * v for v in plain["estimate"]]
        lower = plain["ci_lower"] if sign == 1 else -plain["ci_upper"]
        assert list(diff["ci_lower"]) == list(lower)
        rows = blinded["retention_difference"].results
        assert rows is not None and rows.loc[rows["contrast"], "stat_name"].isin(["estimate", "ci_lower",
                                                                                  "ci_upper"]).all()  # fmt: skip
        words = " ".join(str(v) for v in rows.drop(columns=["contrast"]).to_numpy().ravel() if isinstance(v, str))
        for arm in cfg.arms:
            assert arm.id not in words.split() and arm.label not in words
        out = blinded["outcomes"].data
        est = out["estimate"].astype(float)
        assert not math.isnan(est.iloc[0])


def test_substituter_writes_ids_and_labels_as_codes(advance_cfg):
    sub = substituter(advance_cfg, {"advance": "B", "tau": "A"})
    label = next(a.label for a in advance_cfg.arms if a.id == "advance")
    assert sub(f"advance vs tau; {label}") == "B vs A; Arm B"
    assert sub("advanced") == "advanced"


def test_the_blinding_module_names_no_table():
    tree = ast.parse((PACKAGE / "output" / "blinding.py").read_text(encoding="utf-8"))
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not literals & set(layouts()), literals & set(layouts())
    for table in ("scores", "dose_participants", "progression", "harms", "consort"):
        assert table not in literals


@pytest.mark.parametrize("bad", ["treat vs", "no comparison here"])
def test_a_row_without_two_known_arms_is_only_relabelled(bad):
    rows = frame(stat_rows(Target("m"), {"analysis": "x"}, "y", None, {"comparison": bad}))
    rows = pd.concat([rows, ard_model(_Fit(), Target("m"), "y", {"analysis": "x"})], ignore_index=True)
    out = blind_rows(rows, {"treat": "B", "usual": "A"}, _sub)
    assert _by(out[out["stat_name"] == "estimate"]) == {"estimate": 2.0}
