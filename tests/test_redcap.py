"""REDCap in and out: dictionary -> config -> import -> canonical data, label exports, allocation tables.

The fixtures in tests/fixtures/redcap/ are written in REDCap's documented formats by
scripts/make_redcap_fixtures.py from the ADVANCE sample data, so the round trip must give back the
sample's canonical data exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.allocation_helpers import config_text
from tests.conftest import SAMPLES, config_path

FIX = Path(__file__).parent / "fixtures" / "redcap"
DICT = FIX / "ADVANCE_DataDictionary.csv"
EVENTS = ("--events", FIX / "ADVANCE_events.csv", "--events", FIX / "ADVANCE_InstrumentDesignations.csv")


@pytest.fixture
def redcap_config(tmp_path, invoke):
    out = tmp_path / "advance-redcap.yaml"
    made = invoke("config", "from-redcap", DICT, *EVENTS, "--base", config_path("advance-feasibility"), "--out", out)
    assert made.exit_code == 0, made.output
    return out


def _canonical(config: Path, data: Path) -> dict[str, pd.DataFrame]:
    from advance_trial.config import load_config
    from advance_trial.data.canonical import read_canonical
    from advance_trial.data.schema import SPECS

    cfg = load_config(config)
    tables = read_canonical(cfg, data).tables()
    return {k: t.sort_values(list(SPECS[k].key)).reset_index(drop=True) for k, t in tables.items()}


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert set(a.columns) == set(b.columns)
    b = b[list(a.columns)]
    assert a.shape == b.shape
    for c in a.columns:
        x, y = a[c], b[c]
        nums = pd.to_numeric(x.astype("string").str.replace("-0", "0"), errors="coerce")
        if x.notna().any() and nums.notna().sum() == x.notna().sum():  # a number column: -0 is 0
            other = pd.to_numeric(y.astype("string").str.replace("-0", "0"), errors="coerce")
            assert np.allclose(nums.to_numpy(float), other.to_numpy(float), equal_nan=True), c
        else:
            assert x.astype("string").fillna("").tolist() == y.astype("string").fillna("").tolist(), c


def test_dictionary_to_config_to_import_gives_back_the_canonical_data(redcap_config, tmp_path, invoke):
    data = tmp_path / "data"
    data.mkdir()
    done = invoke("import", redcap_config, FIX / "ADVANCE_export_raw.csv", "--data", data, "--json")
    assert done.exit_code == 0, done.output
    outcomes = json.loads(done.stdout)
    assert len(outcomes) == 21 and all(o["outcome"] == "imported" for o in outcomes)  # 7 files x 3 sites
    assert {(o["kind"], o["site"]) for o in outcomes} == {
        (k, s) for k in ("screening", "participants", "attendance", "followup", "measures", "partners", "events")
        for s in ("london", "wolverhampton", "bristol")}  # fmt: skip
    got = _canonical(config_path("advance-feasibility"), data)
    want = _canonical(config_path("advance-feasibility"), SAMPLES / "advance-feasibility")
    for kind in want:
        _same(want[kind], got[kind])
    written = "".join(p.read_text() for p in data.rglob("*.csv"))
    assert "Testname" not in written and "07700900123" not in written and "Testpartner" not in written
    again = invoke("import", redcap_config, FIX / "ADVANCE_export_raw.csv", "--data", data, "--json")
    assert {o["outcome"] for o in json.loads(again.stdout)} == {"already_imported"}
    validate = invoke("config", "validate", redcap_config, "--data", data)
    assert validate.exit_code == 0, validate.output


def test_a_label_export_reads_back_to_the_same_rows(redcap_config, tmp_path, invoke):
    data = tmp_path / "data"
    data.mkdir()
    done = invoke("import", redcap_config, FIX / "ADVANCE_export_labels_bristol.csv", "--data", data)
    assert done.exit_code == 0, done.output
    got = _canonical(config_path("advance-feasibility"), data)
    want = _canonical(config_path("advance-feasibility"), SAMPLES / "advance-feasibility")
    men = set(want["participants"].loc[want["participants"]["site"] == "bristol", "participant_id"])
    partners = set(want["partners"].loc[want["partners"]["participant_id"].isin(men), "partner_id"])
    for kind, frame in want.items():
        if kind == "screening":
            frame = frame[frame["site"] == "bristol"]
        elif kind == "events":
            frame = frame[frame["participant_id"].isin(men) | frame["partner_id"].isin(partners)]
        else:
            frame = frame[frame["participant_id"].isin(men)]
        _same(frame.reset_index(drop=True), got[kind])


def test_the_configs_import_rules_and_redcap_section_are_made_from_the_dictionary(redcap_config):
    from advance_trial.config import load_config

    cfg = load_config(redcap_config)
    assert cfg.redcap is not None
    assert cfg.redcap.events["week_16_arm_1"].timepoint == "week16"
    assert cfg.redcap.events["screening_arm_1"].timepoint is None
    assert cfg.redcap.randomisation is not None and cfg.redcap.randomisation.groups == {"1": "advance", "2": "tau"}
    assert cfg.redcap.forms["session_log"].kind == "attendance"
    rules = [r for r in cfg.import_ if r.kinds == ["participants"]]
    assert rules[-1].values["ethnicity"]["2"] == "black"  # "Black or Black British" matched to the level's label
    mapped = {h for r in cfg.import_ for h in r.columns}
    assert not mapped & {"first_name", "phone", "partner_name"}  # identifiers are never mapped
    text = redcap_config.read_text()
    assert "# Harms (events.csv)" in text  # the base's comments are kept


def test_made_again_from_its_own_output_the_config_is_unchanged(redcap_config, tmp_path, invoke):
    again = tmp_path / "again.yaml"
    made = invoke("config", "from-redcap", DICT, *EVENTS, "--base", redcap_config, "--out", again)
    assert made.exit_code == 0, made.output
    assert again.read_text() == redcap_config.read_text()


def test_without_a_base_the_skeleton_is_a_valid_config_listing_what_it_could_not_place(tmp_path, invoke):
    out = tmp_path / "skeleton.yaml"
    made = invoke("config", "from-redcap", DICT, *EVENTS, "--trial-id", "advance-redcap", "--out", out, "--json")
    assert made.exit_code == 0, made.output
    report = json.loads(made.stdout)
    placed = {f["field"]: f["placed"] for f in report["fields"]}
    assert placed["first_name"] == "identifying" and placed["scr_notes"] == "not placed"
    assert placed["abi_07"] == "item" and placed["rand_group"] == "mapped"
    assert any("randomisation" in a for a in report["assumptions"])
    from advance_trial.config import load_config

    cfg = load_config(out)
    assert cfg.trial.id == "advance-redcap" and cfg.site_ids == ["london", "wolverhampton", "bristol"]
    assert cfg.instruments["abi"].items == 30 and (cfg.instruments["abi"].min, cfg.instruments["abi"].max) == (1, 5)
    assert [t.week for t in cfg.timepoints] == [0, 16]
    assert cfg.baseline_table is not None
    ethnicity = next(v for v in cfg.baseline_table.variables if v.id == "ethnicity")
    assert ethnicity.level_labels["black_or_black_british"] == "Black or Black British"
    assert placed["age"] == "mapped" and placed["substance_01"] == "not placed"


def _export(tmp_path: Path, edit) -> Path:
    frame = pd.read_csv(FIX / "ADVANCE_export_raw.csv", dtype=str, keep_default_na=False)
    frame = edit(frame)
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    return path


def test_two_ticked_boxes_an_unknown_field_and_a_stray_group_are_refused_naming_the_row(redcap_config, tmp_path,
                                                                                       invoke):  # fmt: skip
    data = tmp_path / "data"
    data.mkdir()

    def ticks(f: pd.DataFrame) -> pd.DataFrame:
        f.loc[0, "scr_reason___1"] = "1"
        f.loc[0, "scr_reason___2"] = "1"
        return f

    bad = invoke("import", redcap_config, _export(tmp_path, ticks), "--data", data)
    assert bad.exit_code == 4
    assert "row 2, column 'scr_reason'" in bad.output and "2 boxes ticked" in bad.output
    assert not (data / "screening.csv").exists()

    extra = invoke("import", redcap_config, _export(tmp_path, lambda f: f.assign(nhs_number="943 476 5919")),
                   "--data", data)  # fmt: skip
    assert extra.exit_code == 4 and "'nhs_number'" in extra.output and "943" not in extra.output

    def stray(f: pd.DataFrame) -> pd.DataFrame:
        f.loc[3, "redcap_data_access_group"] = "cardiff"
        return f

    dag = invoke("import", redcap_config, _export(tmp_path, stray), "--data", data)
    assert dag.exit_code == 4 and "row 5, column 'redcap_data_access_group', value 'cardiff'" in dag.output
    only = invoke("import", redcap_config, FIX / "ADVANCE_export_raw.csv", "--data", data, "--site", "london")
    assert only.exit_code == 4 and "not --site london" in only.output


def test_an_export_without_data_access_groups_needs_its_site(redcap_config, tmp_path, invoke):
    data = tmp_path / "data"
    data.mkdir()

    def london(f: pd.DataFrame) -> pd.DataFrame:
        return f[f["redcap_data_access_group"] == "london"].drop(columns="redcap_data_access_group")

    path = _export(tmp_path, london)
    refused = invoke("import", redcap_config, path, "--data", data)
    assert refused.exit_code == 2 and "give --site" in refused.output
    done = invoke("import", redcap_config, path, "--data", data, "--site", "london")
    assert done.exit_code == 0, done.output


def test_an_event_that_is_no_timepoint_is_a_problem_where_a_timepoint_is_needed(redcap_config, tmp_path, invoke):
    data = tmp_path / "data"
    data.mkdir()

    def moved(f: pd.DataFrame) -> pd.DataFrame:
        f.loc[f["redcap_event_name"] == "week_16_arm_1", "redcap_event_name"] = "week_52_arm_1"
        return f

    bad = invoke("import", redcap_config, _export(tmp_path, moved), "--data", data)
    assert bad.exit_code == 4 and "'week_52_arm_1': this event is no timepoint" in bad.output


def test_a_redcap_section_naming_an_unknown_timepoint_is_an_invalid_config(redcap_config, invoke):
    text = redcap_config.read_text().replace("{timepoint: week16, label: Week 16}", "{timepoint: week52, label: W}")
    redcap_config.write_text(text)
    bad = invoke("config", "validate", redcap_config)
    assert bad.exit_code == 3 and "redcap.events.week_16_arm_1.timepoint: unknown timepoint 'week52'" in bad.output


def test_an_allocation_table_round_trips_through_assess_and_the_replay(tmp_path, invoke, monkeypatch):
    base = tmp_path / "configs" / "base.yaml"
    base.parent.mkdir()
    base.write_text(config_text().replace("randomisation:\n", "randomisation:\n  log: ../allocation/t.sqlite\n", 1))
    config = tmp_path / "configs" / "trial.yaml"
    made = invoke("config", "from-redcap", DICT, *EVENTS, "--base", base, "--out", config)
    assert made.exit_code == 0, made.output
    monkeypatch.setenv("ADVANCE_TRIAL_KEY_DIR", str(tmp_path / "keys"))
    assert invoke("randomise", "init", config).exit_code == 0
    listed = invoke("randomise", "list", config, "--n", "40", "--out", tmp_path / "l", "--format", "redcap",
                    "--reason", "upload to the redcap module")  # fmt: skip
    assert listed.exit_code == 0, listed.output
    table = tmp_path / "l" / "redcap_allocation.csv"
    lines = table.read_text().splitlines()
    assert lines[0] == "redcap_randomization_group,site" and {ln.split(",")[1] for ln in lines[1:]} == {"1", "2", "3"}
    assessed = invoke("randomise", "assess", config, "--table", table, "--json")
    assert assessed.exit_code == 0, assessed.output
    rows = {(r["statistic"], r["scope"]): r["value"] for r in json.loads(assessed.stdout)["summary"]}
    assert rows[("positions", "site=london")] == 40 and rows[("made_of_design_blocks", "site=bristol")] == 1
    assert rows[("max_imbalance", "site=london")] <= 2  # blocks of 2 and 4
    ok = invoke("randomise", "verify", config, "--table", table)
    assert ok.exit_code == 0 and "are the lists the trial's key derives" in ok.output
    swapped = lines[:]
    a, b = next((i, j) for i in range(1, 40) for j in range(i + 1, 40)  # same site, other arm
                if lines[i].split(",")[1] == lines[j].split(",")[1] and lines[i] != lines[j])  # fmt: skip
    swapped[a], swapped[b] = lines[b], lines[a]
    table.write_text("\n".join(swapped) + "\n")
    caught = invoke("randomise", "verify", config, "--table", table)
    assert caught.exit_code == 5 and f"row {a + 1} differs" in caught.output
    three = [f"1,{ln.split(',')[1]}" if 1 <= i <= 3 else ln for i, ln in enumerate(lines)]  # london: 1, 1, 1
    table.write_text("\n".join(three) + "\n")
    unbalanced = invoke("randomise", "assess", config, "--table", table, "--json")
    values = {(r["statistic"], r["scope"]): r["value"] for r in json.loads(unbalanced.stdout)["summary"]}
    assert values[("made_of_design_blocks", "site=london")] == 0


def test_blocks_fit_accepts_whole_blocks_and_a_cut_short_last_one():
    from advance_trial.redcap.allocation import _blocks_fit

    assert _blocks_fit([0, 1, 1, 0, 0, 1], [2, 4], [1, 1])
    assert _blocks_fit([0, 1, 1, 1, 0, 0, 1], [2, 4], [1, 1])  # 2, then 4, then a block cut short
    assert not _blocks_fit([0, 0, 0, 1], [2, 4], [1, 1])
    assert _blocks_fit([0, 0], [4], [1, 1])  # the start of a block of 4
    assert not _blocks_fit([0, 0, 0], [4], [1, 1])


def test_a_record_with_two_participant_ids_is_refused(redcap_config, tmp_path, invoke):
    data = tmp_path / "data"
    data.mkdir()

    def two(f: pd.DataFrame) -> pd.DataFrame:
        at = f.index[(f["record_id"] == "SAF0001") & (f["redcap_event_name"] == "week_16_arm_1")][0]
        f.loc[at, "participant_id"] = "AF999"
        return f

    bad = invoke("import", redcap_config, _export(tmp_path, two), "--data", data)
    assert bad.exit_code == 4 and "record SAF0001 has two participant ids" in bad.output


def test_a_hostile_label_is_written_into_the_config_as_text(tmp_path, invoke):
    frame = pd.read_csv(DICT, dtype=str, keep_default_na=False)
    frame.loc[frame["Variable / Field Name"] == "scr_date", "Field Label"] = 'Date: screened\n- &x *y {"a": 1} <b>!</b>'
    hostile = tmp_path / "dictionary.csv"
    frame.to_csv(hostile, index=False)
    out = tmp_path / "c.yaml"
    made = invoke("config", "from-redcap", hostile, *EVENTS, "--base", config_path("advance-feasibility"), "--out", out)
    assert made.exit_code == 0, made.output
    from advance_trial.config import load_config

    assert load_config(out).redcap.fields["scr_date"].label == 'Date: screened - &x *y {"a": 1} !'


def test_the_same_data_in_another_row_order_give_the_same_outputs(tmp_path, invoke, sample_run):
    """An import appends rows in the order it meets them (a REDCap export: site by site); the outputs
    must not depend on it, to the last bit."""
    import shutil

    shuffled = tmp_path / "shuffled"
    shutil.copytree(SAMPLES / "advance-feasibility", shuffled)
    rng = np.random.default_rng(21)
    for path in shuffled.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.iloc[rng.permutation(len(frame))].to_csv(path, index=False, lineterminator="\n")
    config = config_path("advance-feasibility")
    done = invoke("run", config, "--data", shuffled, "--out", tmp_path / "b", "--no-report")
    assert done.exit_code == 0, done.output
    a = sample_run().out  # the sample in its own order (the report adds no CSV)
    names = sorted(p.name for p in a.glob("*.csv"))
    assert len(names) > 20 and names == sorted(p.name for p in (tmp_path / "b").glob("*.csv"))
    assert [n for n in names if (a / n).read_bytes() != (tmp_path / "b" / n).read_bytes()] == []


def test_a_classic_project_record_is_the_man_one_box_checkbox_and_no_events(tmp_path, invoke):
    """No events, no groups, no participant id field: the record id is the man's, once randomised."""
    from tests.make_redcap_helpers import write_small_project

    dictionary, export = write_small_project(tmp_path)
    config = tmp_path / "small.yaml"
    made = invoke("config", "from-redcap", dictionary, "--base", config_path("advance-feasibility"), "--out", config)
    assert made.exit_code == 0, made.output
    data = tmp_path / "data"
    data.mkdir()
    done = invoke("import", config, export, "--data", data, "--site", "london")
    assert done.exit_code == 0, done.output
    screening = pd.read_csv(data / "screening.csv", dtype=str, keep_default_na=False).set_index("screen_id")
    assert screening.loc["AF001", "participant_id"] == "AF001" and screening.loc["AF002", "participant_id"] == ""
    assert screening.loc["AF001", "consented"] == "true" and screening.loc["AF002", "consented"] == "false"
    participants = pd.read_csv(data / "participants.csv", dtype=str, keep_default_na=False)
    assert participants[["participant_id", "site", "arm"]].values.tolist() == [["AF001", "london", "tau"]]


def test_a_later_export_adds_its_new_rows_and_survey_columns_are_dropped(redcap_config, tmp_path, invoke):
    data = tmp_path / "data"
    data.mkdir()
    assert invoke("import", redcap_config, FIX / "ADVANCE_export_raw.csv", "--data", data).exit_code == 0

    def later(f: pd.DataFrame) -> pd.DataFrame:
        row = f[f["redcap_repeat_instrument"] == "adverse_event"].iloc[[0]].copy()
        row[["redcap_repeat_instance", "ae_id", "ae_date"]] = ["99", "EAF999", "2019-01-10"]
        f = pd.concat([f, row], ignore_index=True)
        f.insert(5, "redcap_survey_identifier", "")
        f["abi_timestamp"] = "2018-06-04 10:00:00"
        return f

    done = invoke("import", redcap_config, _export(tmp_path, later), "--data", data, "--json")
    assert done.exit_code == 0, done.output
    changed = [(o["new"], o["unchanged"]) for o in json.loads(done.stdout) if o["new"]]
    assert changed == [(1, 9)]  # wolverhampton's 9 events unchanged and the new one
    assert "EAF999" in (data / "events.csv").read_text()


def test_accept_valid_sets_a_bad_row_aside_for_its_site_and_keeps_the_rest(redcap_config, tmp_path, invoke):
    data = tmp_path / "data"
    data.mkdir()

    def long_session(f: pd.DataFrame) -> pd.DataFrame:
        at = f.index[(f["redcap_data_access_group"] == "bristol") & (f["redcap_repeat_instrument"] == "session_log")]
        f.loc[at[0], "ses_hours"] = "9"
        return f

    done = invoke("import", redcap_config, _export(tmp_path, long_session), "--data", data, "--accept-valid", "--json")
    assert done.exit_code == 0, done.output
    rejected = [o for o in json.loads(done.stdout) if o["rejected"]]
    assert len(rejected) == 1 and Path(rejected[0]["rejected_file"]).name.startswith("attendance-bristol-")
    assert len(pd.read_csv(data / "attendance.csv")) == 809

    def no_screening(f: pd.DataFrame) -> pd.DataFrame:  # a man's screening row set aside takes his others with it
        at = f.index[(f["record_id"] == "SAF0001") & (f["redcap_event_name"] == "screening_arm_1")][0]
        f.loc[at, "scr_date"] = "2018-02-30"
        return f

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    refused = invoke("import", redcap_config, _export(tmp_path, no_screening), "--data", fresh, "--accept-valid")
    assert refused.exit_code == 4 and "not in screening.csv" in refused.output
    assert not (fresh / "participants.csv").exists()


def test_table_statistics_by_hand(advance_cfg):
    """Worked by hand for the list A B B A in one stratum (1:1, blocks of 4): counts after each position
    1-0, 1-1, 1-2, 2-2, so the imbalance runs 1, 0, 1, 0 (largest 1, final 0). Guessing the arm behind:
    a tie (credit 1/2), B behind and B comes (1), a tie (1/2), A behind and A comes (1): 3/4."""
    from advance_trial.redcap.allocation import table_assessment

    frame = pd.DataFrame({"site": ["london"] * 4, "position": [1, 2, 3, 4],
                          "arm": ["advance", "tau", "tau", "advance"]})  # fmt: skip
    rows = {(s, scope): v for s, scope, v in table_assessment(advance_cfg, frame)}
    assert rows[("positions", "site=london")] == 4
    assert (rows[("allocated_advance", "site=london")], rows[("allocated_tau", "site=london")]) == (2, 2)
    assert rows[("final_imbalance", "site=london")] == 0 and rows[("max_imbalance", "site=london")] == 1
    assert rows[("correct_guess_proportion", "site=london")] == 0.75
    assert rows[("made_of_design_blocks", "site=london")] == 1
    assert rows[("correct_guess_proportion", "all strata")] == 0.75
