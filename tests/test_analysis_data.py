"""The subject-level data set and the results data set: per-man facts derived once, tables as pivots."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.analysis import STATES, analysis_data
from advance_trial.output import Layout, layouts, pivot, results_data
from advance_trial.output.ard import melt
from advance_trial.output.tables import to_csv_bytes
from advance_trial.results import COLUMNS, check_results_structure
from tests.conftest import TRIALS
from tests.feasibility_helpers import sample

PACKAGE = Path(__file__).resolve().parents[1] / "advance_trial"


@pytest.mark.parametrize("trial", TRIALS)
def test_one_row_per_man_with_every_fact(trial):
    cfg, d = sample(trial)
    men = analysis_data(cfg, d).men
    assert list(men["participant_id"]) == list(d.participants["participant_id"].astype(str))
    assert men["participant_id"].is_unique
    for tp in (t.id for t in cfg.timepoints if t.week > 0):
        assert set(men[f"state_{tp}"]) <= set(STATES)
    for th in cfg.thresholds:
        assert not men.loc[~men["offered"], f"met_{th.id}"].any()  # a man not offered sessions never meets one
    for o in cfg.outcomes:
        analysed = men[f"analysed_{o.id}"]
        assert not analysed[men[f"y_{o.id}"].isna()].any()


def test_states_by_hand():
    cfg, d = sample("advance-feasibility")
    men = analysis_data(cfg, d).men.set_index("participant_id")
    fu = d.followup[d.followup["timepoint"] == "week16"].set_index("participant_id")
    done = fu[fu["status"] == "completed"]
    weeks = (done["completed_on"] - done["due_on"]).dt.days / 7
    within = weeks[(weeks >= -2) & (weeks <= 8)].index
    assert set(men.index[men["state_week16"] == "retained"]) == set(within)
    assert (men["state_week16"] == "outside_window").sum() == len(done) - len(within) == 2


def test_consort_analysed_boxes_equal_the_models_n(sample_tables):
    """The measured inconsistency: the CONSORT "analysed" boxes counted men with any questionnaire at the
    timepoint, which matched no outcome's n_analysed."""
    cfg, _, tables = sample_tables("advance-feasibility")
    consort, outcomes = tables["consort"].data, tables["outcomes"].data
    for o in cfg.outcomes:
        cc = outcomes[(outcomes["outcome"] == o.id) & (outcomes["analysis"] != "multiple_imputation")]
        for arm, col in (("advance", "n_intervention"), ("tau", "n_control")):
            box = consort[(consort["stage"] == "analysed") & (consort["arm"] == arm)
                          & (consort["detail"] == f"{o.timepoint}: {o.id}")]  # fmt: skip
            assert len(box) == 1
            assert set(cc[col]) == {int(box["n"].iloc[0])}, (o.id, arm)


def test_a_missing_baseline_or_factor_leaves_a_man_out_of_the_analysed_count():
    cfg, d = sample("advance-feasibility")
    o = cfg.outcomes[0]
    men = analysis_data(cfg, d).men
    pid = men.loc[men[f"analysed_{o.id}"], "participant_id"].iloc[0]
    parts = d.participants.copy()
    parts["site"] = parts["site"].astype(object)
    parts.loc[parts["participant_id"] == pid, "site"] = None
    changed = analysis_data(cfg, dataclasses.replace(d, participants=parts)).men
    assert changed[f"analysed_{o.id}"].sum() == men[f"analysed_{o.id}"].sum() - 1


@pytest.mark.parametrize("trial", TRIALS)
def test_every_table_is_a_pivot_of_the_results_data_set(trial, sample_tables):
    cfg, _, tables = sample_tables(trial)
    results = results_data(tables)
    assert set(results.columns) == set(tables) & set(layouts())
    for name in results.columns:
        assert to_csv_bytes(pivot(results, name)) == to_csv_bytes(tables[name].data), name
    counted = sum(len(tables[n].data) * (tables[n].data.shape[1] - len([c for c in layouts()[n].key_columns()
                  if c in tables[n].data.columns])) for n in results.columns)  # fmt: skip
    assert len(results.long) == counted  # every statistic a row, none twice


def test_blinded_and_shareable_tables_are_pivots_too(sample_tables, sample_shareable_tables):
    from advance_trial.output.blinding import blind_tables

    cfg, _, tables = sample_tables("advance-feasibility")
    blinded = blind_tables(cfg, tables, {"advance": "A", "tau": "B"})
    shared, _ = sample_shareable_tables("advance-feasibility")  # shareable_tables(cfg, tables, min_cell), once
    for disclosed in (blinded, shared):
        results = results_data(disclosed)
        for name in results.columns:
            assert to_csv_bytes(pivot(results, name)) == to_csv_bytes(disclosed[name].data), name


def test_statistics_by_key(sample_tables):
    results = results_data(sample_tables("advance-feasibility")[2])
    rec = results.stats("recruitment", "randomised", site="all")
    assert (rec["n_randomised"], rec["n_eligible"], rec["method"]) == (104, 147, "wilson")
    assert rec["proportion"] == 104 / 147
    ret = results.stats("retention", "retained", "week16", arm="all", site="all", cycle="all")
    assert (ret["n_retained"], ret["n_randomised"]) == (51, 104)
    assert results.stats("retention", "retained", "week99", arm="all", site="all", cycle="all") == {}
    with pytest.raises(KeyError, match="more than one row"):
        results.stats("retention", "retained", "week16", arm="all")  # every site and cycle match


def test_a_layout_that_does_not_identify_rows_is_refused():
    df = pd.DataFrame({"arm": ["a", "a"], "n": [1, 2]})
    with pytest.raises(ValueError, match="two rows with the key"):
        melt("t", df, layout=Layout(("arm",), "=x"))


def test_results_csv_is_written_and_holds_every_table(sample_run):
    out = sample_run().out
    long = pd.read_csv(out / "results.csv", dtype=str, keep_default_na=False)
    assert list(long.columns)[:2] == ["table", "group1"]
    assert set(long["table"]) == {n for n in layouts() if (out / f"{n}.csv").exists()}
    n = long[(long["table"] == "recruitment") & (long["group1_level"] == "all") & (long["stat_name"] == "n_randomised")]
    assert n["stat"].tolist() == ["104"] and n["method"].tolist() == [""]
    check_results_structure(read_results_csv(out / "results.csv"))
    rule = long[(long["table"] == "dose") & (long["stat_name"] == "rule")]
    assert set(rule["stat"]) == {""} and "sessions >= 1" in set(rule["text"])  # words in text, never in stat


def read_results_csv(path: Path) -> pd.DataFrame:
    """A written results.csv as the results frame: numbers as numbers, empty cells missing, flags boolean."""
    text = pd.read_csv(path, dtype=str, keep_default_na=False).astype(object)
    long = text.where(text != "", None)
    for k in (1, 2, 3):  # a named breakdown's level may be empty text (an outcome without a threshold)
        named = long[f"group{k}"].notna()
        long[f"group{k}_level"] = text[f"group{k}_level"].where(named, None)
    long["stat"] = pd.Series([None if v is None else float(v) for v in long["stat"]], dtype=object)
    long["contrast"] = long["contrast"] == "true"
    return long


def _disclosed_runs(trial, sample_tables, sample_shareable_tables):
    from advance_trial.output.blinding import blind_tables
    from advance_trial.pipeline import with_results

    cfg, _, tables = sample_tables(trial)  # all_tables(cfg, analysis_data(...)) of the sample, made once
    codes = dict(zip(cfg.arm_ids, "BA", strict=False))
    shared, _ = sample_shareable_tables(trial)  # shareable_tables(cfg, tables, cfg.reporting.min_cell), once
    return {"plain": with_results(tables, cfg), "blinded": with_results(blind_tables(cfg, tables, codes), cfg),
            "shareable": with_results(shared, cfg)}  # fmt: skip


@pytest.mark.parametrize("trial", TRIALS)
def test_results_structure_of_every_sample_plain_blinded_and_shareable(trial, sample_tables, sample_shareable_tables):
    """cards' check_ard_structure on the results data set of each sample, in the three kinds of run."""
    for kind, out in _disclosed_runs(trial, sample_tables, sample_shareable_tables).items():
        long = results_data({n: t for n, t in out.items() if n != "results"}).long
        check_results_structure(long)
        assert out["results"].data.shape[1] == len(COLUMNS), kind
        stats = long["stat"]
        assert not stats.map(lambda v: isinstance(v, str)).any(), kind  # stat holds numbers only
        if trial == "advance-feasibility" and kind == "plain":
            # the analyses made these rows through the verbs: labels from the config, contrasts marked
            dose = long[long["table"] == "dose"]
            assert set(dose["context"]) == {"dose"}
            assert set(long.loc[long["table"] == "retention_difference", "contrast"]) == {True, False}
            assert not long.loc[long["table"] == "retention", "contrast"].any()
            eng = long[(long["table"] == "engagement") & (long["stat_name"] == "label")]
            assert (eng["variable_label"] != eng["variable"]).all()


TABLE_MODULES = ["feasibility/recruitment.py", "feasibility/retention.py", "feasibility/dose.py",
                 "feasibility/consort.py", "feasibility/progression.py", "output/disclosure.py",
                 "output/disclosure_cells.py",
                 "outcomes/__init__.py", "outcomes/frame.py", "output/render/figures.py", "output/render/report.py",
                 "output/ard.py", "feasibility/accrual.py", "planning/__init__.py"]  # fmt: skip


@pytest.mark.parametrize("module", TABLE_MODULES)
def test_tables_read_the_analysis_data_sets_not_the_canonical_files(module):
    """No table derives a per-man fact of its own: none of them even sees the canonical data."""
    tree = ast.parse((PACKAGE / module).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "advance_trial.data.canonical" not in imported
    assert "CanonicalData" not in (PACKAGE / module).read_text()


@pytest.mark.parametrize("mode", ["blinded", "shareable"])
def test_rows_read_back_keep_the_words_the_analysis_made(sample_run, mode):
    """Found in issue 31's turning round: a table disclosure or blinding changed is read back into rows, and
    those rows took their variable's words from its id ("Assessed", "Excluded.not eligible") where the plain
    run says "Assessed for eligibility". Every row now keeps the label it was made with."""
    plain = pd.read_csv(sample_run().out / "results.csv", dtype=str, keep_default_na=False)
    words = dict(zip(zip(plain["table"], plain["variable"], strict=True), plain["variable_label"], strict=True))
    other = pd.read_csv(sample_run(**{mode: True}).out / "results.csv", dtype=str, keep_default_na=False)
    known = other[[(t, v) in words for t, v in zip(other["table"], other["variable"], strict=True)]]
    assert len(known) > len(other) / 2
    said = [words[(t, v)] for t, v in zip(known["table"], known["variable"], strict=True)]
    assert (known["variable_label"].to_numpy() == said).all(), known.loc[known["variable_label"] != said].head()
    assert "Assessed for eligibility" in set(other["variable_label"])
