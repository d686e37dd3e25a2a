"""Issue 32, attack 7: a new man's screening row alone, or his participants row alone, is refused; the refusal
must say which file is missing and show the one command that brings both (and that command must work)."""

from __future__ import annotations

import shlex
import shutil

import pytest

from tests.conftest import SAMPLES, config_path

CANONICAL = ("screening", "participants", "attendance", "followup", "measures", "partners")


@pytest.fixture
def site_files(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for name in CANONICAL:
        shutil.copy(SAMPLES / "advance-feasibility" / f"{name}.csv", data)
    (tmp_path / "screening-new.csv").write_text("screen_id,site,cycle,screened_on,eligible,consented,participant_id\n"
                                                "SAF0900,london,3,2019-08-01,true,true,AF105\n")  # fmt: skip
    (tmp_path / "participants-new.csv").write_text("participant_id,site,cycle,randomised_on,arm\n"
                                                   "AF105,london,3,2019-08-05,advance\n")  # fmt: skip
    monkeypatch.chdir(tmp_path)  # the site's files are named as the assistant typed them
    return data


CASES = [("screening-new.csv", "screening", "participants"), ("participants-new.csv", "participants", "screening")]


@pytest.mark.parametrize(("given", "kind", "partner"), CASES)
def test_a_new_mans_file_alone_names_its_partner_and_the_command_that_brings_both(site_files, invoke, given, kind,
                                                                                  partner):  # fmt: skip
    alone = invoke("import", config_path("advance-feasibility"), given, "--data", site_files, "--site", "london",
                   "--kind", kind)  # fmt: skip
    assert alone.exit_code == 4
    said = alone.output
    assert f"his {partner} row is not imported yet" in " ".join(said.split())
    command = next(line.strip() for line in said.splitlines() if line.strip().startswith("advance-trial import"))
    words = shlex.split(command)
    assert f"--kind {kind} --kind {partner}" in command and given in words
    partner_file = f"{partner}-new.csv"
    args = [partner_file if w == f"{partner.upper()}-FILE" else w for w in words[1:]]
    both = invoke(*args)
    assert both.exit_code == 0, both.output
    assert "AF105" in (site_files / "participants.csv").read_text()
    assert "AF105" in (site_files / "screening.csv").read_text()
