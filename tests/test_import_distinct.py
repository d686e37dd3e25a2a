"""The import converts, checks, formats and writes each distinct value once (issue 38): the same bytes and
the same problems, on the same rows, as a cell-by-cell import."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.data.tablefile import format_for_csv
from advance_trial.errors import DataError
from advance_trial.importing import ImportRefused, import_files
from advance_trial.importing.csvtext import canonical_text, csv_bytes
from advance_trial.importing.readers import _column_text, _columns, _grid_table
from tests.conftest import SAMPLES
from tests.text_frames import text_frames

EXPORT = SAMPLES / "advance-feasibility" / "site-exports" / "london-attendance.xlsx"
_TEXT = st.text(alphabet=st.sampled_from(list("ab ,\"\n\r\t'é;")), max_size=5)


@settings(max_examples=300, deadline=None)
@given(text_frames(_TEXT, _TEXT))
def test_csv_bytes_are_pandas_bytes(frame):
    assert csv_bytes(frame) == frame.to_csv(index=False, lineterminator="\n").encode()


def test_csv_bytes_of_a_cell_that_is_not_text_are_pandas_bytes():
    frame = pd.DataFrame({"a": ["x", 1.5], "b": ["", None]}, dtype=object)
    assert csv_bytes(frame) == frame.to_csv(index=False, lineterminator="\n").encode()


_N = 8


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(), st.sampled_from([0.0, -0.0])), min_size=_N, max_size=_N),
    st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=_N, max_size=_N),
    st.lists(st.one_of(st.none(), st.booleans()), min_size=_N, max_size=_N),
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b\r", "c\r\nd", ""])), min_size=_N, max_size=_N),
    st.lists(st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1))), min_size=_N, max_size=_N),
)
def test_canonical_text_is_format_for_csv(floats, ints, bools, texts, dates):
    typed = pd.DataFrame(
        {
            "f": pd.Series(floats, dtype="float64"),
            "i": pd.Series(ints, dtype="Int64"),
            "b": pd.Series(bools, dtype="boolean"),
            "s": pd.Series(texts, dtype="string"),
            "d": pd.to_datetime(pd.Series(dates, dtype=object)).astype("datetime64[s]"),
        }
    )
    assert canonical_text(typed).equals(format_for_csv(typed).astype(object))
    assert set(canonical_text(typed).dtypes) == {np.dtype(object)}  # plain str cells, as the merge reads them


def test_zero_and_minus_zero_keep_their_own_text():
    typed = pd.DataFrame({"f": [0.0, -0.0, 0.0, -0.0]})
    assert canonical_text(typed)["f"].tolist() == ["0.0", "-0.0", "0.0", "-0.0"]


def test_a_workbook_column_mixing_true_and_1_keeps_each_text():
    # True == 1 == 1.0 in Python: a look-up by value would write one for the other
    got = _column_text(np.array([True, 1, 1.0, False, 0, None, float("nan"), " x "], dtype=object))
    assert got.tolist() == ["true", "1", "1", "false", "0", "", "nan", "x"]


def test_a_workbook_column_of_dates_and_date_times():
    cells = [dt.datetime(2018, 6, 4), dt.date(2018, 6, 4), dt.datetime(2018, 6, 4, 9, 30), None, 2.0, 2.5]
    got = _column_text(np.array(cells, dtype=object))
    assert got.tolist() == ["2018-06-04", "2018-06-04", "2018-06-04 09:30:00", "", "2", "2.5"]


def test_ragged_workbook_rows_are_padded():
    cols = _columns([["a", "b"], ["c"], []])
    assert [c.tolist() for c in cols] == [["a", "c", ""], ["b", "", ""]]
    raw = _grid_table("w.xlsx", [["h1", "h2"], ["a", 1.0], ["", ""], [" c ", True]], "xlsx")
    assert raw.cells.to_numpy().tolist() == [["a", "1"], ["c", "true"]] and raw.rows.tolist() == [2, 4]


def _export(tmp_path, df: pd.DataFrame, name: str = "export.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_a_repeated_bad_value_is_placed_on_every_row_that_holds_it_in_row_order(advance_cfg, fresh, tmp_path):
    df = pd.read_excel(EXPORT, dtype=object, engine="calamine")
    df["Date"] = pd.to_datetime(df["Date"]).dt.strftime("%Y-%m-%d")
    df.loc[[1, 7, 4], "Date"] = ["2018-02-31", "2018-02-31", "someday"]
    df.loc[[4, 9], "Hours"] = ["lots", "lots"]
    with pytest.raises(ImportRefused) as err:
        import_files(advance_cfg, fresh, "london", "attendance", [_export(tmp_path, df)], by="t")
    got = [(p.row, p.column, p.value) for p in err.value.problems]
    assert got == [(3, "Date (session_on)", "2018-02-31"), (6, "Date (session_on)", "someday"),
                   (6, "Hours", "lots"), (9, "Date (session_on)", "2018-02-31"), (11, "Hours", "lots")]  # fmt: skip
    messages = {p.value: p.message for p in err.value.problems}
    assert messages["2018-02-31"].startswith("no such date") and messages["lots"] == "must be a number"


def test_a_cumulative_export_changes_only_the_rows_that_differ(advance_cfg, fresh, tmp_path):
    df = pd.read_excel(EXPORT, dtype=object, engine="calamine")
    first = _export(tmp_path, df.iloc[:200], "first.csv")
    import_files(advance_cfg, fresh, "london", "attendance", [first], by="t")
    before = (fresh / "attendance.csv").read_bytes()
    again = df.copy()
    again.loc[5, "Hours"] = 1  # a correction of a row imported before, and 100 rows new
    path = _export(tmp_path, again, "again.csv")
    with pytest.raises(DataError) as err:
        import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert [(p.row, p.column) for p in err.value.problems] == [(7, "Hours")]
    assert "differs from the canonical data ('2.0')" in err.value.problems[0].message
    assert (fresh / "attendance.csv").read_bytes() == before
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [path], by="t", replace=True)
    assert (out.new, out.unchanged, out.replaced) == (100, 199, 1)
    rows = pd.read_csv(fresh / "attendance.csv", dtype=str, keep_default_na=False)
    assert len(rows) == 300 and rows["hours"].iat[5] == "1.0"
    log = pd.read_csv(fresh / "import" / "replacements.csv", dtype=str)
    assert log[["row", "column", "old", "new"]].values.tolist() == [["7", "hours", "2.0", "1.0"]]
