"""The committee's report: the data cut-off (config or --data-cut-off) and the closed report (--closed)."""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from advance_trial.errors import UsageError
from advance_trial.pipeline import RunOptions, run
from advance_trial.verify import verify_outputs
from tests.conftest import SAMPLES, config_path

ADV = config_path("advance-feasibility")
DATA = SAMPLES / "advance-feasibility"
ARMS = ("ADVANCE + treatment as usual", "Treatment as usual")


@pytest.fixture
def closed(sample_run):
    return sample_run(closed=True, data_cut_off="2020-07-31").out


def test_the_open_part_is_pooled_and_the_closed_part_by_arm(closed):
    md = (closed / "report.md").read_text()
    head, rest = md.split("\n## Open report\n")
    opened, shut = rest.split("\n## Closed report\n")
    # the open part: no arm as a column or a comparison, no outcome or dose table, no figure
    assert not any(arm in opened for arm in ARMS), [a for a in ARMS if a in opened]
    assert "Outcome analyses" not in opened and "Difference in retention" not in opened
    assert "Men meeting each dose threshold" not in opened and "![" not in opened
    assert "Standardised difference" not in opened and "| Overall (n=104) |" in opened
    assert "(all arms pooled)" in opened
    # the closed part: everything by arm, marked for the committee's members only
    assert "CLOSED: for the members of the data monitoring committee only" in shut
    assert all(arm in shut for arm in ARMS) and "Outcome analyses" in shut and "Standardised difference" in shut
    # tables and figures numbered on through both parts
    import re

    numbers = [int(n) for n in re.findall(r"^### Table (\d+)\. ", md, flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1))


def test_the_cut_off_dates_the_report_and_is_recorded_for_verify(closed, shared_reruns):
    assert "Data cut-off: 2020-07-31." in (closed / "report.md").read_text()
    with zipfile.ZipFile(closed / "report.docx") as z:
        core = z.read("docProps/core.xml").decode()
    assert "2020-07-31T00:00:00Z" in core and "2000-01-01" not in core
    prov = json.loads((closed / "provenance.json").read_text())
    assert prov["run"]["closed"] is True and prov["run"]["data_cut_off"] == "2020-07-31"
    assert "--closed --data-cut-off 2020-07-31" in prov["command"]
    assert verify_outputs(closed).files > 30


def test_a_cut_off_before_the_data_is_refused_naming_the_file_and_row(invoke, tmp_path):
    res = invoke("report", ADV, "--data", DATA, "--out", tmp_path / "r", "--data-cut-off", "2019-01-31")
    assert res.exit_code == 4, res.output
    assert "2019-01-31" in res.output and "row" in res.output and not (tmp_path / "r").exists()


def test_a_cut_off_in_the_future_or_malformed_is_a_usage_error(invoke, tmp_path):
    with pytest.raises(UsageError, match="in the future"):
        run(ADV, DATA, tmp_path / "o", options=RunOptions(data_cut_off="2999-01-01"))
    res = invoke("run", ADV, "--data", DATA, "--out", tmp_path / "o", "--data-cut-off", "31/07/2020")
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_cli_closed_report(invoke, tmp_path):
    res = invoke("report", ADV, "--data", DATA, "--out", tmp_path / "r", "--closed")
    assert res.exit_code == 0, res.output
    page = (tmp_path / "r" / "report.html").read_text()
    assert re.search(r'<h2 id="s\d+">Open report</h2>', page) and re.search(r'<h2 id="s\d+">Closed report</h2>', page)


def test_every_dated_file_is_held_to_the_cut_off(invoke, tmp_path):
    """Events and randomisations too (they were not checked): the sample's last event is 2019-11-06."""
    res = invoke("report", ADV, "--data", DATA, "--out", tmp_path / "r", "--data-cut-off", "2019-11-05")
    assert res.exit_code == 4, res.output
    text = " ".join(res.output.split())
    assert "events.csv, row 32, column 'event_on', value '2019-11-06': an adverse event or incident after the data " \
           "cut-off 2019-11-05" in text  # fmt: skip
    from advance_trial.config import load_config
    from advance_trial.data.canonical import read_canonical
    from advance_trial.errors import DataError
    from advance_trial.pipeline import with_cut_off

    with pytest.raises(DataError) as err:  # the last men were randomised on 2019-08-09
        read_canonical(with_cut_off(load_config(ADV), "2019-08-08"), DATA)
    late = [p for p in err.value.problems if p.file == "participants.csv"]
    assert late and all(p.column == "randomised_on" and "a randomisation after the data cut-off" in p.message
                        for p in late)  # fmt: skip
