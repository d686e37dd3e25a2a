"""Issue 37, REDCap: a config that cannot import says what it lacks; every instrument's scoring is stated
(from the dictionary when it says); section headers are labels; a participants form and the measures in one
export import in one step, and a refused participants row is said once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.make_redcap_helpers import HEADER

K10 = "1, None of the time | 2, A little of the time | 3, Some of the time | 4, Most of the time | 5, All of the time"
AUDIT = "0, Never | 1, Monthly or less | 2, 2-4 times a month | 3, 2-3 times a week | 4, 4 or more times a week"


def _project(folder: Path, *, randomised: bool = True, k10_note: str = "", audit_total: bool = True,
             arm_code: dict[int, str] | None = None) -> dict[str, Path]:  # fmt: skip
    """A participants form, the K10 (a section header over it) and the AUDIT (a calculated total); with
    ``randomised``, a randomisation date and arm, and one event; a 3-record export."""
    rows = [["record_id", "participants", "", "text", "Record ID"],
            ["site", "participants", "", "dropdown", "Site", "1, London | 2, Bristol"]]  # fmt: skip
    if randomised:
        rows += [
            ["rand_date", "participants", "", "text", "Date of randomisation", "", "", "date_ymd"],
            ["rand_group", "participants", "", "radio", "Allocated group", "1, ADVANCE | 2, Treatment as usual"],
        ]
    for i in range(1, 11):
        row = [f"k10_{i:02d}", "kessler", "Kessler psychological distress" if i == 1 else "", "radio",
               f"In the past 4 weeks ({i})", K10]  # fmt: skip
        rows.append(row + [""] * (len(HEADER) - 1 - len(row)) + [k10_note if i == 1 else ""])
    for i in range(1, 11):
        rows.append([f"audit_{i:02d}", "audit", "Alcohol Use Disorders Identification Test" if i == 1 else "",
                     "radio", f"AUDIT question {i}", AUDIT])  # fmt: skip
    if audit_total:
        rows.append(["audit_total", "audit", "", "calc", "AUDIT total",
                     "sum(" + ",".join(f"[audit_{i:02d}]" for i in range(1, 11)) + ")"])  # fmt: skip
    files = {"dictionary": folder / "dictionary.csv", "export": folder / "export.csv"}
    with files["dictionary"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows([r + [""] * (len(HEADER) - len(r)) for r in rows])
    head = ["record_id"] + (["redcap_event_name"] if randomised else []) + ["site"]
    head += ["rand_date", "rand_group"] if randomised else []
    head += ["participants_complete", *[f"k10_{i:02d}" for i in range(1, 11)], "kessler_complete"]
    head += [f"audit_{i:02d}" for i in range(1, 11)] + (["audit_total"] if audit_total else []) + ["audit_complete"]
    with files["export"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        for r in range(1, 4):
            row = [str(r)] + (["baseline_arm_1"] if randomised else []) + ["1"]
            row += [f"2019-01-0{r}", (arm_code or {}).get(r, str(1 + r % 2))] if randomised else []
            row += ["2", *["2"] * 10, "2", *["1"] * 10] + (["10"] if audit_total else []) + ["2"]
            w.writerow(row)
    if randomised:
        files["events"] = folder / "events.csv"
        files["events"].write_text("event_name,arm_num,day_offset,offset_min,offset_max,unique_event_name,"
                                   "custom_event_label\nBaseline,1,0,0,0,baseline_arm_1,\n")  # fmt: skip
        files["designations"] = folder / "designations.csv"
        files["designations"].write_text("arm_num,unique_event_name,form\n1,baseline_arm_1,participants\n"
                                         "1,baseline_arm_1,kessler\n1,baseline_arm_1,audit\n")  # fmt: skip
    return files


def _config(invoke, files, out: Path, *extra: str):
    events = [a for k in ("events", "designations") if k in files for a in ("--events", files[k])]
    return invoke("config", "from-redcap", files["dictionary"], *events, "--trial-id", "small", "--out", out, *extra)


def test_a_config_that_cannot_import_says_what_it_lacks(invoke, tmp_path):
    """No arm, no randomisation date, no events: `from-redcap` warns naming each, `validate --data` refuses."""
    files = _project(tmp_path, randomised=False)
    config = tmp_path / "trial.yaml"
    done = _config(invoke, files, config)
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "cannot import the project's forms yet" in text
    assert "no timepoints" in text and "randomised_on (the date of randomisation)" in text
    assert "arm (the arm allocated)" in text
    out = json.loads(_config(invoke, files, config, "--json").stdout)
    assert {g["key"] for g in out["cannot_import"]} == {"timepoints", "redcap.forms.participants"}
    data = tmp_path / "data"
    data.mkdir()
    refused = invoke("config", "validate", config, "--data", data)
    assert refused.exit_code == 3
    assert "no timepoints" in refused.output and "randomised_on" in refused.output and "arm" in refused.output


def test_a_config_that_can_import_has_no_gaps(invoke, tmp_path):
    files = _project(tmp_path)
    config = tmp_path / "trial.yaml"
    done = _config(invoke, files, config, "--json")
    assert json.loads(done.stdout)["cannot_import"] == []
    data = tmp_path / "data"
    data.mkdir()
    assert invoke("import", config, files["export"], "--data", data, "--site", "london").exit_code == 0
    done = invoke("config", "validate", config, "--data", data)
    assert done.exit_code == 0, done.output


def test_every_instruments_scoring_is_stated_from_the_dictionary_when_it_says(invoke, tmp_path):
    """K10: @SCORE=sum in a field annotation; AUDIT: a calculated sum; both were `score: mean`, silently."""
    files = _project(tmp_path, k10_note="@SCORE=sum")
    config = tmp_path / "trial.yaml"
    done = _config(invoke, files, config)
    text = " ".join(done.output.split())
    assert "k10 (Kessler psychological distress): the sum of its 10 items, 10 to 50; from the field annotation" in text
    assert ("audit (Alcohol Use Disorders Identification Test): the sum of its 10 items, 0 to 40; from the "
            "calculated field audit_total") in text  # fmt: skip
    from advance_trial.config import load_config

    cfg = load_config(config)
    assert (cfg.instruments["k10"].score, cfg.instruments["audit"].score) == ("sum", "sum")
    # the section header is the label: what the form calls it
    assert cfg.instruments["k10"].label == "Kessler psychological distress"
    assert cfg.instruments["audit"].label == "Alcohol Use Disorders Identification Test"
    out = json.loads(_config(invoke, files, tmp_path / "again.yaml", "--json").stdout)
    assert [(i["id"], i["score"], i["lowest"], i["highest"]) for i in out["instruments"]] == [
        ("k10", "sum", 10, 50), ("audit", "sum", 0, 40)]  # fmt: skip


def test_without_a_word_in_the_dictionary_the_mean_is_said_to_be_assumed(invoke, tmp_path):
    files = _project(tmp_path, audit_total=False)
    text = " ".join(_config(invoke, files, tmp_path / "trial.yaml").output.split())
    assert "audit (Alcohol Use Disorders Identification Test): the mean of its 10 items, 0 to 4; assumed" in text
    assert "@SCORE=sum" in text


def test_a_participants_form_and_the_measures_in_one_export_import_in_one_step(invoke, tmp_path):
    files = _project(tmp_path)
    config = tmp_path / "trial.yaml"
    assert _config(invoke, files, config).exit_code == 0
    data = tmp_path / "data"
    data.mkdir()
    done = invoke("import", config, files["export"], "--data", data, "--site", "london")
    assert done.exit_code == 0, done.output
    part = pd.read_csv(data / "participants.csv", dtype=str)
    assert part["participant_id"].tolist() == ["1", "2", "3"] and set(part["site"]) == {"london"}
    measures = pd.read_csv(data / "measures.csv", dtype=str)
    assert measures["participant_id"].tolist() == ["1", "2", "3"] and set(measures["timepoint"]) == {"baseline"}
    assert "audit_total" not in measures.columns  # REDCap's score: the toolkit scores the items


def test_a_refused_participants_row_is_said_once_not_again_for_his_measures(invoke, tmp_path):
    files = _project(tmp_path, arm_code={2: "7"})
    config = tmp_path / "trial.yaml"
    assert _config(invoke, files, config).exit_code == 0
    data = tmp_path / "data"
    data.mkdir()
    done = invoke("import", config, files["export"], "--data", data, "--site", "london", "--json")
    assert done.exit_code == 4
    problems = json.loads(done.stdout)["problems"]
    assert [(p["row"], p["value"]) for p in problems] == [(3, "7")]
    assert not (data / "participants.csv").exists()


@pytest.mark.parametrize("accept", [True])
def test_with_accept_valid_his_measures_are_set_aside_with_him(invoke, tmp_path, accept):
    files = _project(tmp_path, arm_code={2: "7"})
    config = tmp_path / "trial.yaml"
    assert _config(invoke, files, config).exit_code == 0
    data = tmp_path / "data"
    data.mkdir()
    done = invoke("import", config, files["export"], "--data", data, "--site", "london", "--accept-valid")
    assert done.exit_code == 0, done.output
    assert pd.read_csv(data / "measures.csv", dtype=str)["participant_id"].tolist() == ["1", "3"]


def test_a_classic_projects_rows_say_why_they_have_no_timepoint_once(invoke, tmp_path):
    files = _project(tmp_path, randomised=False)
    config = tmp_path / "trial.yaml"
    assert _config(invoke, files, config).exit_code == 0
    data = tmp_path / "data"
    data.mkdir()
    done = invoke("import", config, files["export"], "--data", data, "--site", "london", "--json")
    assert done.exit_code == 4
    problems = json.loads(done.stdout)["problems"]
    assert [p["column"] for p in problems] == ["randomised_on", "arm"] + ["redcap_event_name"] * 3
    assert all("classic REDCap project" in p["problem"] for p in problems[2:])
    assert not any("not in participants.csv" in p["problem"] for p in problems)
