"""Hostile and awkward workbooks are refused before they are read, or read from the right sheet.

Measured before: a 1.9 KB .xlsx declaring a cell at XFD1048576 made the reader try to allocate 512 GiB
and abort the process; a shared-string bomb raised a Rust panic as a traceback; rows were imported from
a hidden first sheet; ``--sheet attendance`` failed on case.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from advance_trial.errors import DataError
from advance_trial.importing import import_files
from advance_trial.importing.readers import _calamine
from tests.conftest import SAMPLES

EXPORT = SAMPLES / "advance-feasibility" / "site-exports" / "london-attendance.xlsx"


def _refused(cfg, data, path, match, **kw):
    with pytest.raises(DataError) as err:
        import_files(cfg, data, "london", "attendance", [path], by="t", **kw)
    assert err.value.exit_code == 4
    assert any(match in p.message for p in err.value.problems), [p.message for p in err.value.problems]
    assert not (data / "attendance.csv").exists()


def test_a_cell_declared_at_the_last_row_and_column_is_refused_before_reading(advance_cfg, fresh, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "Participant ID"
    ws["XFD1048576"] = "x"
    path = tmp_path / "far.xlsx"
    wb.save(path)
    assert path.stat().st_size < 10_000
    _refused(advance_cfg, fresh, path, "declares cells up to row 1,048,576")


def test_a_shared_string_bomb_is_refused(advance_cfg, fresh, tmp_path):
    src = zipfile.ZipFile(EXPORT)
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/sharedStrings.xml" or info.filename.endswith("sheet1.xml"):
                data = data + b"<!--" + b"A" * (64 << 20) + b"-->"
            out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2_000_000
    _refused(advance_cfg, fresh, path, "a zip bomb")


def test_a_rust_panic_is_one_problem_not_a_traceback():
    class PanicException(BaseException):  # what pyo3 raises: not an Exception
        pass

    def boom():
        raise PanicException("called `Option::unwrap()` on a `None` value")

    with pytest.raises(DataError, match="PanicException"):
        _calamine("x.xlsx", "not a readable Excel workbook", boom)


def _with_sheets(tmp_path: Path, first: str, hidden: bool, first_rows: list[list[str]]) -> Path:
    """The London export with another sheet put first (hidden or visible)."""
    wb = load_workbook(EXPORT)
    extra = wb.create_sheet(first, 0)
    for r in first_rows:
        extra.append(r)
    if hidden:
        extra.sheet_state = "hidden"
    wb.active = 1
    path = tmp_path / f"{first}.xlsx"
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())
    return path


def test_a_hidden_first_sheet_is_never_read_unless_named(advance_cfg, fresh, tmp_path):
    header = ["Participant ID", "Session type", "Session no.", "Group", "Date", "Attended", "Hours"]
    path = _with_sheets(tmp_path, "Old", True, [header, ["AF001", "group", "1", "london-g1", "01/01/2017", "Y", "2"]])
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert out.source == "xlsx sheet 'Attendance'" and out.new > 100
    data2 = tmp_path / "again"
    shutil.copytree(fresh, data2)
    shutil.rmtree(data2 / "import")
    (data2 / "attendance.csv").unlink()
    with pytest.raises(DataError):  # named, the hidden sheet is read (and its 2017 session refused)
        import_files(advance_cfg, data2, "london", "attendance", [path], by="t", sheet="old")


def test_an_instructions_sheet_first_the_data_sheet_is_found_by_its_header(advance_cfg, fresh, tmp_path):
    path = _with_sheets(
        tmp_path, "Instructions", False, [["How to fill in this workbook"], ["Use one row per session"]]
    )
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert out.source == "xlsx sheet 'Attendance'"


def test_the_sheet_is_named_without_regard_to_case(advance_cfg, fresh):
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [EXPORT], by="t", sheet="attendance")
    assert out.source == "xlsx sheet 'Attendance'" and out.new > 100


def test_real_exports_pass_the_limits(advance_cfg, fresh):
    for site in ("london", "wolverhampton", "bristol"):
        path = EXPORT.with_name(f"{site}-attendance.xlsx")
        (out,) = import_files(advance_cfg, fresh, site, "attendance", [path], by="t")
        assert out.outcome == "imported"


def test_a_title_row_above_the_header_is_passed_over_and_the_row_said(advance_cfg, fresh, tmp_path):
    # measured before: a merged title row above the header gave 301 problems with no hint
    wb = load_workbook(EXPORT)
    ws = wb.active
    ws.insert_rows(1)
    ws["A1"] = "London attendance export, June 2018"
    ws.merge_cells("A1:G1")
    path = tmp_path / "titled.xlsx"
    wb.save(path)
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert out.source == "xlsx sheet 'Attendance'; header on row 2" and out.rejected == 0 and out.new > 100


def test_a_blank_line_first_or_a_header_row_named(advance_cfg, fresh, tmp_path):
    text = pd.read_excel(EXPORT, dtype=object, engine="calamine").to_csv(index=False)
    path = tmp_path / "blank-first.csv"
    path.write_text("\n" + text)
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert out.source.endswith("header on row 2")
    other = tmp_path / "other"
    shutil.copytree(fresh, other, ignore=shutil.ignore_patterns("attendance.csv", "import"))
    path.write_text("exported by the site database\nversion 2\n" + text)
    (out,) = import_files(advance_cfg, other, "london", "attendance", [path], by="t", header_row=3)
    assert out.source.endswith("header on row 3") and out.rejected == 0


def test_the_ledger_names_the_sheet_read_and_a_second_import_changes_nothing(advance_cfg, fresh):
    import_files(advance_cfg, fresh, "london", "attendance", [EXPORT], by="t")
    audit = pd.read_csv(fresh / "import" / "audit.csv", dtype=str)
    assert list(audit["sheet"]) == ["Attendance"]
    (again,) = import_files(advance_cfg, fresh, "london", "attendance", [EXPORT], by="t")
    (named,) = import_files(advance_cfg, fresh, "london", "attendance", [EXPORT], by="t", sheet="ATTENDANCE")
    assert again.outcome == named.outcome == "already_imported"


def test_every_problem_in_a_workbook_names_its_sheet(advance_cfg, fresh, tmp_path):
    # measured before: an "Instructions" first sheet gave "not a column" without naming the sheet read
    wb = load_workbook(EXPORT)
    wb.active["B2"] = "Massage"  # not a session type
    path = tmp_path / "bad.xlsx"
    wb.save(path)
    with pytest.raises(DataError) as err:
        import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert {p.file for p in err.value.problems} == {"bad.xlsx, sheet 'Attendance'"}
    audit = pd.read_csv(fresh / "import" / "audit.csv", dtype=str)
    assert list(audit["file"]) == ["bad.xlsx"] and list(audit["outcome"]) == ["refused"]
