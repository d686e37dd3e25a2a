"""`advance-trial checklist`: every item of CONSORT 2025 and of the pilot and feasibility extension, marked
from the trial's own config, data and allocation log; the report's appendix (issue 34, item 5)."""

from __future__ import annotations

import json
import warnings
from datetime import datetime

import pandas as pd
import pytest

from advance_trial.checklist import COLUMNS, STATUSES, assess, summary
from advance_trial.checklist.items import CONSORT_2025, CONSORT_2025_ITEMS, ITEMS, PILOT_2016, PILOT_2016_ITEMS
from tests.conftest import SAMPLES, config_path

SAMPLE = SAMPLES / "advance-feasibility"
OPEN_SCIENCE = """  registered_on: 2018-03-01
  analysis_plan: https://example.org/advance-sap.pdf
  data_sharing: De-identified data on request to the chief investigator after a data access agreement.
  funding: A research funder, which had no role in the trial's design, conduct, analysis or reporting.
  ethics: A research ethics committee, reference 00/AA/0000
  progression_set_on: {set_on}
"""


@pytest.fixture(scope="module")
def sample_checklist() -> pd.DataFrame:
    from advance_trial.pipeline import checklist

    return checklist(config_path("advance-feasibility"), SAMPLE)[1]


def _config_with(tmp_path, set_on: str = "2018-05-01"):
    text = config_path("advance-feasibility").read_text()
    text = text.replace("  registration: ISRCTN79435190\n",
                        "  registration: ISRCTN79435190\n" + OPEN_SCIENCE.format(set_on=set_on))  # fmt: skip
    path = tmp_path / "cfg" / "advance-feasibility.yaml"
    path.parent.mkdir()
    path.write_text(text)
    return path


def _row(frame: pd.DataFrame, guideline: str, item: str) -> dict[str, str]:
    rows = frame[(frame["guideline"] == guideline) & (frame["item"] == item)]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def test_every_item_of_both_guidelines_once() -> None:
    keys = [(i.guideline, i.item) for i in ITEMS]
    assert len(keys) == len(set(keys))
    # CONSORT 2025 numbers its items 1 to 30; the pilot extension 1 to 26
    assert {int(i.item.rstrip("abcd")) for i in CONSORT_2025_ITEMS} == set(range(1, 31))
    assert {int(i.item.rstrip("abcd")) for i in PILOT_2016_ITEMS} == set(range(1, 27))
    # the open-science items CONSORT 2025 added
    assert [i.section for i in CONSORT_2025_ITEMS if i.item in ("2", "3", "4")] == ["Open science"] * 3


def test_the_samples_checklist(sample_checklist: pd.DataFrame) -> None:
    f = sample_checklist
    assert list(f.columns) == COLUMNS and set(f["status"]) <= set(STATUSES) and len(f) == len(ITEMS)
    # registered, but CONSORT 2025 also asks for the date
    r = _row(f, CONSORT_2025, "2")
    assert r["status"] == "missing" and "trial.registered_on" in r["action"]
    assert _row(f, PILOT_2016, "23")["status"] == "shown"  # the extension asks for the number only
    # the protocol is in the config; CONSORT 2025 also wants the analysis plan
    assert _row(f, PILOT_2016, "24") == {**_row(f, PILOT_2016, "24"), "status": "shown",
                                         "where": "Trial section: protocol"}  # fmt: skip
    r = _row(f, CONSORT_2025, "3")
    assert r["status"] == "missing" and r["action"].startswith("trial.analysis_plan")
    assert _row(f, CONSORT_2025, "4")["status"] == "missing"
    # shown where the report shows it
    assert _row(f, CONSORT_2025, "22a")["where"] == "Participant flow section: the CONSORT flow diagram"
    assert _row(f, CONSORT_2025, "25")["where"] == "Baseline characteristics section: table 'Baseline " \
        "characteristics by arm'"  # fmt: skip
    assert "Progression criteria section" in _row(f, PILOT_2016, "6a")["where"]
    assert _row(f, CONSORT_2025, "21c")["status"] == "shown"  # multiple imputation is configured
    # the progression criteria's date is not recorded; no log was given, so implementation is missing
    r = _row(f, PILOT_2016, "6c")
    assert r["status"] == "missing" and "trial.progression_set_on" in r["action"]
    assert "--log" in _row(f, CONSORT_2025, "19")["action"]
    # what only the authors can write
    assert _row(f, CONSORT_2025, "29")["status"] == "authors_text"
    # the config's eligibility block (its criteria asked before allocation) fills 12a and 4a
    assert _row(f, CONSORT_2025, "12a")["where"] == "Methods section: eligibility criteria"
    assert summary(f) == {CONSORT_2025: {"shown": 20, "authors_text": 17, "missing": 5},
                          PILOT_2016: {"shown": 22, "authors_text": 14, "missing": 4}}  # fmt: skip


def test_open_science_items_filled_from_the_config_and_shown_in_the_report(tmp_path) -> None:
    from advance_trial.pipeline import checklist, run

    cfg_path = _config_with(tmp_path)
    cfg, f = checklist(cfg_path, SAMPLE)
    for item in ("2", "3", "4", "5a"):
        assert _row(f, CONSORT_2025, item)["status"] == "shown", item
    for item in ("23", "24", "25", "26"):
        assert _row(f, PILOT_2016, item)["status"] == "shown", item
    r = _row(f, PILOT_2016, "6c")
    assert r["status"] == "shown" and "set on 2018-05-01" in r["action"] and "--log" in r["action"]
    run(cfg_path, SAMPLE, tmp_path / "out")
    page = (tmp_path / "out" / "report.md").read_text()
    assert "Registration: ISRCTN79435190, registered on 2018-03-01." in page
    assert "Statistical analysis plan: https://example.org/advance-sap.pdf." in page
    assert "Ethical approval: A research ethics committee, reference 00/AA/0000." in page
    assert "Prespecified progression criteria (set on 2018-05-01):" in page
    assert "## Appendix: reporting checklist" in page
    assert "CONSORT 2025: 24 shown, 17 for the authors' text, 1 missing data." in page


def test_criteria_set_after_the_first_allocation_are_not_prespecified(tmp_path, advance_cfg, sample_tables) -> None:
    tables = sample_tables("advance-feasibility")[2]
    late = advance_cfg.model_copy(update={"trial": advance_cfg.trial.model_copy(
        update={"progression_set_on": datetime(2018, 7, 1).date()})})  # fmt: skip
    r = _row(assess(late, tables, ["consort"], {"first": "2018-06-04"}), PILOT_2016, "6c")
    assert r["status"] == "shown" and "after the first allocation (2018-06-04): not prespecified" in r["action"]
    early = late.model_copy(update={"trial": late.trial.model_copy(
        update={"progression_set_on": datetime(2018, 5, 1).date()})})  # fmt: skip
    r = _row(assess(early, tables, ["consort"], {"first": "2018-06-04"}), PILOT_2016, "6c")
    assert r["action"] == "set on 2018-05-01, before the first allocation (2018-06-04)"


def test_the_log_given_checks_the_date_against_its_first_allocation(tmp_path) -> None:
    from advance_trial.config import load_config
    from advance_trial.pipeline import checklist
    from advance_trial.randomisation.key import DemonstrationKeyWarning
    from tests.allocation_helpers import sample_log

    cfg_path = _config_with(tmp_path, set_on="2018-07-01")
    cfg = load_config(cfg_path)
    ring, keys, log = sample_log(tmp_path, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemonstrationKeyWarning)
        _, f = checklist(cfg_path, SAMPLE, log=str(log), key_dir=str(keys))
    assert _row(f, CONSORT_2025, "19") == {**_row(f, CONSORT_2025, "19"), "status": "shown",
                                           "where": "Methods section: implementation"}  # fmt: skip
    assert "after the first allocation (2018-06-04): not prespecified" in _row(f, PILOT_2016, "6c")["action"]


def test_the_command_prints_both_guidelines_and_json_gives_objects_with_an_item_key(invoke) -> None:
    res = invoke("checklist", config_path("advance-feasibility"), "--data", SAMPLE)
    assert res.exit_code == 0, res.output
    assert "CONSORT 2025" in res.output and "CONSORT pilot and feasibility extension" in res.output
    assert "20 shown, 17 for the authors' text, 5 missing data" in res.output
    res = invoke("checklist", config_path("advance-feasibility"), "--data", SAMPLE, "--json")
    assert res.exit_code == 0
    items = json.loads(res.output)
    assert len(items) == len(ITEMS) and all({"item", "guideline", "status", "where", "action"} <= set(i)
                                            for i in items)  # fmt: skip


def test_a_checklist_for_a_folder_that_does_not_exist_is_one_line(invoke, tmp_path) -> None:
    res = invoke("checklist", config_path("advance-feasibility"), "--data", tmp_path / "nowhere")
    assert res.exit_code in (2, 4) and "Traceback" not in res.output
