"""Site data import: the bad-file corpus (nothing gets in, every message placed) and good files of every shape."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.errors import DataError, UsageError
from advance_trial.importing import ImportRefused, import_files
from tests.conftest import SAMPLES, config_path

CORPUS = Path(__file__).resolve().parent / "import_corpus" / "bad"
MANIFEST = list(csv.DictReader((CORPUS / "manifest.csv").open()))
SAMPLE = SAMPLES / "advance-feasibility"
CANONICAL = ("screening", "participants", "attendance", "followup", "measures", "partners")


@pytest.fixture
def full(tmp_path):
    """A copy of the whole ADVANCE sample's canonical data."""
    out = tmp_path / "data"
    out.mkdir()
    for name in CANONICAL:
        shutil.copy(SAMPLE / f"{name}.csv", out)
    return out


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}


def test_the_corpus_is_big_enough():
    assert len(MANIFEST) >= 30


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_bad_file_is_refused_naming_row_and_column_and_leaves_data_untouched(advance_cfg, full, case):
    before = _hashes(full)
    with pytest.raises(DataError) as err:
        import_files(advance_cfg, full, "london", case["kind"], [CORPUS / case["file"]], by="test")
    assert err.value.exit_code == 4
    hits = [
        p
        for p in err.value.problems
        if case["message"] in p.message
        and (not case["row"] or p.row == int(case["row"]))
        and (not case["column"] or case["column"] in (p.column or ""))
    ]
    assert hits, "\n".join(map(str, err.value.problems))
    assert _hashes(full) == before  # the canonical files are byte-identical


@pytest.mark.parametrize("name", ["impossible-date.csv", "identifying-nhs.csv", "binary.csv"])
def test_bad_files_through_the_cli(invoke, full, name):
    before = _hashes(full)
    res = invoke("import", config_path("advance-feasibility"), CORPUS / name, "--data", full, "--site", "london",
                 "--kind", "attendance")  # fmt: skip
    assert res.exit_code == 4 and "Traceback" not in res.output and name in res.output
    assert _hashes(full) == before


def test_refusal_writes_a_report_for_the_site(advance_cfg, full):
    with pytest.raises(ImportRefused) as err:
        import_files(advance_cfg, full, "london", "attendance", [CORPUS / "hours-over-length.csv"], by="t")
    report = pd.read_csv(err.value.report)
    assert list(report.columns) == ["file", "row", "column", "value", "problem"]
    assert report.iloc[0]["row"] == 2 and report.iloc[0]["value"] == 2.5
    audit = pd.read_csv(full / "import" / "audit.csv")
    assert audit.iloc[-1]["outcome"] == "refused"


# ---------------------------------------------------------------------------- good files

HEADER = ["Participant ID", "Session type", "Session no.", "Group", "Date", "Attended", "Hours"]
GOOD = [
    ["AF024", "Group", "1", "london-c1", "06/08/2018", "No", "0"],
    ["AF024", "group", "2", "london-c1", "2018-08-13", "N", "0"],
    ["AF024", "INDIVIDUAL", "1", "", "", "YES", "1"],
    ["AF012", "group", "3", "london-c1", "20/8/2018", "true", "1.5"],
    ["AF012", "individual", "3", "", "01/10/2018", "y", ""],
]
EXPECTED = [
    "AF024,group,1,london-c1,2018-08-06,false,0.0",
    "AF024,group,2,london-c1,2018-08-13,false,0.0",
    "AF024,individual,1,,,true,1.0",
    "AF012,group,3,london-c1,2018-08-20,true,1.5",
    "AF012,individual,3,,2018-10-01,true,",
]


def _csv(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    return "".join(delimiter.join(r) + newline for r in rows)


SHAPES = {
    "comma.csv": _csv([HEADER, *GOOD]).encode(),
    "semicolon.csv": _csv([HEADER, *GOOD], ";").encode(),
    "tab.csv": _csv([HEADER, *GOOD], "\t").encode(),
    "bom.csv": b"\xef\xbb\xbf" + _csv([HEADER, *GOOD]).encode(),
    "crlf.csv": _csv([HEADER, *GOOD], ",", "\r\n").encode(),
    "windows-1252.csv": _csv([HEADER, *GOOD], ";", "\r\n").encode("cp1252"),
    "trailing-blank-rows.csv": (_csv([HEADER, *GOOD]) + ",,,,,,\n\n").encode(),
    "quoted.csv": _csv([[f'"{h}"' for h in HEADER], *GOOD]).encode(),
}


def _lines(folder: Path, name: str = "attendance") -> list[str]:
    return (folder / f"{name}.csv").read_text().splitlines()


@pytest.mark.parametrize("shape", list(SHAPES))
def test_good_csv_shapes_bring_in_exactly_these_rows(advance_cfg, fresh, tmp_path, shape):
    path = tmp_path / shape
    path.write_bytes(SHAPES[shape])
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert (out.rows_read, out.new, out.rejected, out.outcome) == (5, 5, 0, "imported")
    assert _lines(fresh) == ["participant_id,session_type,session_number,group_id,session_on,attended,hours", *EXPECTED]


def test_windows_1252_text_arrives_as_utf8(advance_cfg, fresh, tmp_path):
    rows = [HEADER, ["AF024", "group", "1", "café-c1", "06/08/2018", "no", "0"]]
    path = tmp_path / "accents.csv"
    path.write_bytes(_csv(rows, ";").encode("cp1252"))
    import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert _lines(fresh)[1] == "AF024,group,1,café-c1,2018-08-06,false,0.0"


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


XLSX_ROWS = [
    HEADER,
    ["AF024", "Group", 1, "london-c1", dt.datetime(2018, 8, 6), False, 0],
    ["AF024", "group", 2.0, "london-c1", "13/08/2018", "N", 0.0],
    ["AF024", "Individual", 1, None, None, True, 1],
    ["AF012", "group", 3, "london-c1", dt.date(2018, 8, 20), "Yes", 1.5],
    ["AF012", "individual", 3, None, "2018-10-01", "y", None],
    [None] * 7,
]


def test_xlsx_first_sheet_with_date_and_boolean_cells(advance_cfg, fresh, tmp_path):
    path = _xlsx(tmp_path / "export.xlsx", {"Attendance": XLSX_ROWS, "Other": [["x"]]})
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert out.new == 5 and out.source == "xlsx sheet 'Attendance'"
    assert _lines(fresh)[1:] == EXPECTED


def test_xlsx_named_sheet(advance_cfg, fresh, tmp_path):
    path = _xlsx(tmp_path / "export.xlsx", {"Notes": [["nothing here"]], "Sessions": XLSX_ROWS})
    import_files(advance_cfg, fresh, "london", "attendance", [path], sheet="Sessions", by="t")
    assert _lines(fresh)[1:] == EXPECTED
    with pytest.raises(DataError, match="no sheet 'Missing'"):
        import_files(advance_cfg, fresh, "london", "attendance", [path], sheet="Missing", by="t")


def test_each_sample_sites_excel_export_arrives_exactly(advance_cfg, fresh):
    """The done-when of issue 4: each site's own headers and Yes/No values, one command each."""
    for site in ("london", "wolverhampton", "bristol"):
        path = SAMPLE / "site-exports" / f"{site}-attendance.xlsx"
        (out,) = import_files(advance_cfg, fresh, site, "attendance", [path], by="ra")
        assert out.rejected == 0 and out.new == out.rows_read
    key = ["participant_id", "session_type", "session_number"]
    got = pd.read_csv(fresh / "attendance.csv", dtype=str, keep_default_na=False).sort_values(key)
    want = pd.read_csv(SAMPLE / "attendance.csv", dtype=str, keep_default_na=False).sort_values(key)
    assert got.reset_index(drop=True).equals(want.reset_index(drop=True))


def test_reimporting_the_same_file_changes_nothing(advance_cfg, fresh, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(SHAPES["comma.csv"])
    import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    before = _hashes(fresh)
    (again,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert again.outcome == "already_imported" and _hashes(fresh) == before
    audit = pd.read_csv(fresh / "import" / "audit.csv")
    assert list(audit["outcome"]) == ["imported", "already_imported"] and set(audit["by"]) == {"t"}


def test_existing_rows_keep_their_exact_text(advance_cfg, fresh, tmp_path):
    first = tmp_path / "first.csv"
    first.write_bytes(SHAPES["comma.csv"])
    import_files(advance_cfg, fresh, "london", "attendance", [first], by="t")
    before = _lines(fresh)
    path = tmp_path / "new.csv"
    path.write_text(_csv([HEADER, ["AF022", "group", "1", "london-c1", "01/10/2018", "yes", "2"], GOOD[0]]))
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert (out.new, out.unchanged) == (1, 1)
    assert _lines(fresh) == [*before, "AF022,group,1,london-c1,2018-10-01,true,2.0"]


def test_accept_valid_counts_add_up_and_quarantines(advance_cfg, fresh, tmp_path):
    rows = [HEADER, *GOOD, ["AF024", "group", "13", "london-c1", "06/08/2018", "no", "0"],
            ["AF999", "group", "1", "london-c1", "06/08/2018", "no", "0"]]  # fmt: skip
    path = tmp_path / "mixed.csv"
    path.write_text(_csv(rows))
    with pytest.raises(ImportRefused):
        import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert not (fresh / "attendance.csv").exists()
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], accept_valid=True, by="t")
    assert (out.rows_read, out.accepted, out.rejected) == (7, 5, 2)
    assert out.accepted + out.rejected == out.rows_read
    assert _lines(fresh)[1:] == EXPECTED
    quarantined = pd.read_csv(out.rejected_file, dtype=str)
    assert list(quarantined["row"]) == ["7", "8"] and "not in the schedule" in quarantined["problems"].iat[0]


def test_replace_is_recorded(advance_cfg, full, tmp_path):
    path = tmp_path / "fix.csv"
    path.write_text(_csv([HEADER, ["AF024", "group", "1", "london-c1", "06/08/2018", "yes", "2"]]))
    with pytest.raises(ImportRefused, match="differs from the canonical data"):
        import_files(advance_cfg, full, "london", "attendance", [path], by="t")
    (out,) = import_files(advance_cfg, full, "london", "attendance", [path], replace=True, by="dm")
    assert out.replaced == 1
    assert "AF024,group,1,london-c1,2018-08-06,true,2.0" in _lines(full)
    log = pd.read_csv(full / "import" / "replacements.csv", dtype=str)
    assert set(zip(log["column"], log["old"], log["new"], strict=True)) == {("attended", "false", "true"),
                                                                             ("hours", "0.0", "2.0")}  # fmt: skip


def test_wolverhampton_recodes_and_ignores(advance_cfg, fresh, tmp_path):
    header = ["Client ID", "Type", "Session", "Group ID", "Session date", "Present", "Duration (hrs)", "Facilitator"]
    path = tmp_path / "w.csv"
    path.write_text(_csv([header, ["AF005", "1:1", "1", "", "20/06/2018", "Attended", "1", "JS"],
                          ["AF005", "Group", "1", "wolverhampton-c1", "20/08/2018", "DNA", "0", "JS"]]))  # fmt: skip
    import_files(advance_cfg, fresh, "wolverhampton", "attendance", [path], by="t")
    assert _lines(fresh)[1:] == ["AF005,individual,1,,2018-06-20,true,1.0",
                                 "AF005,group,1,wolverhampton-c1,2018-08-20,false,0.0"]  # fmt: skip


def test_day_month_order_unknown_without_a_date_format(advance_cfg, fresh, tmp_path):
    cfg = advance_cfg.model_copy(update={"import_": []})
    path = tmp_path / "d.csv"
    path.write_text(_csv([["participant_id", "session_type", "session_number", "group_id", "session_on", "attended",
                           "hours"], ["AF024", "group", "1", "london-c1", "06/08/2018", "no", "0"]]))  # fmt: skip
    with pytest.raises(DataError, match="day and month order unknown"):
        import_files(cfg, fresh, "london", "attendance", [path], by="t")


def test_participants_then_attendance_into_an_empty_folder(advance_cfg, tmp_path):
    data = tmp_path / "empty"
    men = tmp_path / "men.csv"
    men.write_text("Participant_ID,Site,Cycle,Randomised_on,Arm\nAF900,London,1,01/06/2018,ADVANCE\n")
    with pytest.raises(UsageError, match="no such data folder"):  # a mistyped --data is one message
        import_files(advance_cfg, data, "london", "participants", [men], by="t")
    data.mkdir()
    (out,) = import_files(advance_cfg, data, "london", "participants", [men], by="t")
    assert out.new == 1 and _lines(data, "participants") == [
        "participant_id,site,cycle,randomised_on,arm", "AF900,london,1,2018-06-01,advance",
    ]  # fmt: skip
