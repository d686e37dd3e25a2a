"""Reading and validating the canonical files; atomic writing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.data.canonical import read_canonical
from advance_trial.data.schema import is_identifying
from advance_trial.data.tablefile import write_bytes_atomic, write_table_atomic
from advance_trial.errors import DataError
from tests.conftest import SAMPLES

SAMPLE = SAMPLES / "advance-feasibility"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the ADVANCE sample."""
    dest = tmp_path / "data"
    shutil.copytree(SAMPLE, dest)
    return dest


def edit_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` counts as a spreadsheet does (header = row 1)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[row - 2, column] = value
    path.write_text(df.to_csv(index=False, lineterminator="\n"))


def problems(cfg, directory) -> list:
    with pytest.raises(DataError) as info:
        read_canonical(cfg, directory)
    return info.value.problems


def test_sample_reads_typed(advance_cfg):
    data = read_canonical(advance_cfg, SAMPLE)
    p = data.participants
    assert len(p) == 104 and p["participant_id"].is_unique
    assert str(p["randomised_on"].dtype).startswith("datetime64")
    assert str(p["cycle"].dtype) == "Int64"
    assert str(data.attendance["attended"].dtype) == "boolean"
    assert data.attendance["hours"].dtype == "float64"
    assert set(data.sha256) == {f"{n}.csv" for n in data.tables()}
    assert [c for c in data.measures.columns if c.startswith("abi_")] == [f"abi_{i:02d}" for i in range(1, 31)]
    assert str(data.measures["abi_01"].dtype) == "Int64"


CELL_CASES = [
    # file, row, column, bad value, words in the message
    ("participants.csv", 5, "arm", "control", "one of advance, tau"),
    ("participants.csv", 3, "site", "Londn", "one of london"),
    ("participants.csv", 4, "randomised_on", "31/02/2018", "ISO date"),
    ("participants.csv", 4, "randomised_on", "2018-02-31", "exists"),
    ("participants.csv", 6, "cycle", "4", "one of 1, 2, 3"),
    ("participants.csv", 6, "cycle", "two", "whole number"),
    ("screening.csv", 7, "eligible", "yes", "true or false"),
    ("screening.csv", 8, "screen_id", "", "may not be empty"),
    ("attendance.csv", 10, "hours", "2.5", "more than the session's 2 hours"),
    ("attendance.csv", 10, "hours", "-1", "at least 0"),
    ("attendance.csv", 2, "hours", "1.0", "session not attended"),
    ("attendance.csv", 11, "session_number", "13", "12 group sessions"),
    ("attendance.csv", 11, "session_type", "yoga", "one of individual, group"),
    ("followup.csv", 3, "status", "done", "one of completed, missed"),
    ("followup.csv", 2, "timepoint", "week12", "one of baseline, week16"),
    ("measures.csv", 4, "abi_07", "6", "outside the item range 1..5"),
    ("measures.csv", 4, "abi_07", "2.5", "whole number"),
    ("partners.csv", 2, "consented", "maybe", "true or false"),
    ("partners.csv", 3, "participant_id", "AF999", "not in participants.csv"),
]


@pytest.mark.parametrize("file, row, column, value, words", CELL_CASES)
def test_bad_cell_names_file_row_column_value(advance_cfg, data_dir, file, row, column, value, words):
    edit_cell(data_dir / file, row, column, value)
    found = problems(advance_cfg, data_dir)
    match = [p for p in found if p.file == file and p.column == column and p.row == row]
    assert match, found
    assert match[0].value == value and words in match[0].message, match[0]


def test_duplicate_key(advance_cfg, data_dir):
    path = data_dir / "participants.csv"
    lines = path.read_text().splitlines()
    lines.append(lines[3])
    path.write_text("\n".join(lines) + "\n")
    (p,) = problems(advance_cfg, data_dir)
    assert (p.file, p.row, p.column, p.value) == ("participants.csv", 106, "participant_id", lines[3].split(",")[0])
    assert "first on row 4" in p.message


def test_identifying_column_is_refused(advance_cfg, data_dir):
    df = pd.read_csv(data_dir / "participants.csv", dtype=str, keep_default_na=False)
    df.insert(1, "Surname", "Smith")
    df.insert(2, "NHS Number", "4857773456")
    df.to_csv(data_dir / "participants.csv", index=False)
    found = problems(advance_cfg, data_dir)
    assert {(p.column, p.row) for p in found} == {("Surname", 1), ("NHS Number", 1)}
    assert all("identifying" in p.message for p in found)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("surname", True),
        ("date_of_birth", True),
        ("DOB", True),
        ("PhoneNumber", True),
        ("post code", True),  # read as one word, as "E-mail" and "D.O.B." are
        ("postcode", True),
        ("email_address", True),
        ("site", False),
        ("substance", False),
        ("abi_01", False),
    ],
)
def test_is_identifying(name, expected):
    assert is_identifying(name) is expected


def test_unknown_and_missing_columns(advance_cfg, data_dir):
    df = pd.read_csv(data_dir / "followup.csv", dtype=str, keep_default_na=False)
    df = df.drop(columns=["due_on"]).assign(notes="x")
    df.to_csv(data_dir / "followup.csv", index=False)
    found = {(p.column, p.message.split(";")[0]) for p in problems(advance_cfg, data_dir)}
    assert ("due_on", "required column missing") in found
    assert ("notes", "unknown column") in found


def test_item_column_of_unknown_instrument(advance_cfg, data_dir):
    df = pd.read_csv(data_dir / "measures.csv", dtype=str, keep_default_na=False).assign(audit_01="3")
    df.to_csv(data_dir / "measures.csv", index=False)
    (p,) = problems(advance_cfg, data_dir)
    assert p.column == "audit_01" and "item column" in p.message


def test_partner_items_never_in_mens_measures(advance_cfg, data_dir):
    df = pd.read_csv(data_dir / "measures.csv", dtype=str, keep_default_na=False).assign(abi_r_01="3")
    df.to_csv(data_dir / "measures.csv", index=False)
    (p,) = problems(advance_cfg, data_dir)
    assert p.column == "abi_r_01"


@pytest.mark.parametrize(
    "content, words",
    [(b"", "empty"), (b"\xff\xfe\x00b\x00i\x00n", "not UTF-8"), (b'participant_id,site\n"AF001,london\n', "CSV")],
)
def test_unreadable_files(advance_cfg, data_dir, content, words):
    (data_dir / "participants.csv").write_bytes(content)
    found = problems(advance_cfg, data_dir)
    assert any(p.file == "participants.csv" and words in p.message for p in found), found


def test_missing_required_file_and_folder(advance_cfg, data_dir, tmp_path):
    (data_dir / "participants.csv").unlink()
    assert problems(advance_cfg, data_dir)[0].message.startswith("required file missing")
    assert problems(advance_cfg, tmp_path / "nowhere")[0].message == "no such data folder"


def test_optional_files_may_be_absent(advance_cfg, data_dir):
    for name in ("attendance", "measures", "partners", "followup", "screening", "events"):
        (data_dir / f"{name}.csv").unlink()
    data = read_canonical(advance_cfg, data_dir)
    assert len(data.partners) == 0 and list(data.attendance.columns)[:2] == ["participant_id", "session_type"]
    assert len(data.events) == 0 and list(data.events.columns)[:3] == ["event_id", "participant_id", "partner_id"]


def test_an_event_names_a_known_partner(advance_cfg, data_dir):
    """A partner incident whose partner is not in partners.csv is refused with its row."""
    (data_dir / "partners.csv").unlink()
    found = problems(advance_cfg, data_dir)
    assert found and all(p.file == "events.csv" and p.column == "partner_id" for p in found)
    assert "not in partners.csv" in found[0].message


def test_an_event_names_one_man_or_one_partner(advance_cfg, data_dir):
    ev = pd.read_csv(data_dir / "events.csv", dtype=str, keep_default_na=False)
    row = int(ev.index[ev["partner_id"] != ""][0])
    edit_cell(data_dir / "events.csv", row + 2, "participant_id", "AF001")
    found = problems(advance_cfg, data_dir)
    assert [(p.row, p.column) for p in found] == [(row + 2, "partner_id")]
    assert "one of them" in found[0].message


def test_cross_file_consistency(advance_cfg, data_dir):
    scr = pd.read_csv(data_dir / "screening.csv", dtype=str, keep_default_na=False)
    row = int(scr.index[scr["participant_id"] == "AF010"][0])
    edit_cell(data_dir / "screening.csv", row + 2, "eligible", "false")
    found = problems(advance_cfg, data_dir)
    assert any(p.file == "screening.csv" and p.row == row + 2 and "must be eligible" in p.message for p in found)


def test_attendance_only_for_the_arm_offered_sessions(advance_cfg, data_dir):
    part = pd.read_csv(data_dir / "participants.csv", dtype=str)
    tau = part.loc[part["arm"] == "tau", "participant_id"].iloc[0]
    with open(data_dir / "attendance.csv", "a") as fh:
        fh.write(f"{tau},group,1,london-c1,2018-08-20,true,2.0\n")
    (p,) = problems(advance_cfg, data_dir)
    assert p.column == "participant_id" and p.value == tau and "not offered sessions" in p.message


def test_completed_followup_needs_a_date(advance_cfg, data_dir):
    fu = pd.read_csv(data_dir / "followup.csv", dtype=str, keep_default_na=False)
    row = int(fu.index[(fu["status"] == "completed") & (fu["timepoint"] == "week16")][0]) + 2
    edit_cell(data_dir / "followup.csv", row, "completed_on", "")
    (p,) = problems(advance_cfg, data_dir)
    assert (p.row, p.column) == (row, "completed_on")


# --------------------------------------------------------------------------- atomic writing


def test_write_round_trips_the_sample(advance_cfg, tmp_path):
    data = read_canonical(advance_cfg, SAMPLE)
    for name, df in data.tables().items():
        write_table_atomic(df, tmp_path / f"{name}.csv")
        assert (tmp_path / f"{name}.csv").read_bytes() == (SAMPLE / f"{name}.csv").read_bytes(), name


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "participants.csv"
    target.write_bytes(b"old\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_bytes_atomic(b"new\n", target)
    assert target.read_bytes() == b"old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_floats_are_written_unrounded(tmp_path):
    df = pd.DataFrame({"x": [1 / 3, 2.0, float("nan")], "b": pd.array([True, None, False], dtype="boolean")})
    write_table_atomic(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "x,b\n0.3333333333333333,true\n2.0,\n,false\n"


def test_spaces_around_cells_are_stripped(advance_cfg, data_dir):
    path = data_dir / "participants.csv"
    lines = path.read_text().splitlines()
    parts = lines[1].split(",")
    parts[1] = f"  {parts[1]} "
    lines[1] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n")
    data = read_canonical(advance_cfg, data_dir)
    assert data.participants["site"].iat[0] == parts[1].strip()
