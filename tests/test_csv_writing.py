"""The canonical CSV writer formats each distinct value once and joins the rows itself (issue 38, scale):
the same bytes as formatting cell by cell and writing through pandas (tests/csv_reference.py)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.data import tablefile
from advance_trial.data.tablefile import csv_text, format_for_csv
from advance_trial.output.tables import to_csv_bytes
from tests import csv_reference
from tests.text_frames import text_frames

_TEXT = st.text(alphabet=st.sampled_from(list("ab ,\"\n\r\t'é;=-@")), max_size=5)
_N = 7
_OBJECTS = st.one_of(st.none(), st.just(float("nan")), st.sampled_from([0.0, -0.0, 1.0, 1, True, False, "1", "x,y",
                                                                        "=1", "a\r\nb", 2.5e-7, 1e16]))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(text_frames(_TEXT, _TEXT))
def test_csv_text_is_pandas_text(frame):
    assert csv_text(frame) == frame.to_csv(index=False, lineterminator="\n")


def test_csv_text_of_a_cell_that_is_not_text_or_a_lone_column_is_pandas_text():
    for frame in (
        pd.DataFrame({"a": ["x", 1.5], "b": ["", None]}, dtype=object),
        pd.DataFrame({"a": ["", "x", ""]}, dtype=object),  # a lone empty field is quoted
        pd.DataFrame({1: ["x"], "b": ["y"]}, dtype=object),
        pd.DataFrame({"a": [], "b": []}, dtype=object),
    ):
        assert csv_text(frame) == frame.to_csv(index=False, lineterminator="\n")


def _column(draw: st.DrawFn, cells: st.SearchStrategy[object]) -> list[object]:
    return draw(st.lists(cells, min_size=_N, max_size=_N))


@st.composite
def typed_frames(draw: st.DrawFn) -> pd.DataFrame:
    floats = st.one_of(st.none(), st.floats(), st.sampled_from([0.0, -0.0, 0.1, 1e16, 1e-5, 1.0]))
    dates = st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1)))
    return pd.DataFrame({
        "f": pd.Series(_column(draw, floats), dtype="float64"),
        "f32": pd.Series(_column(draw, st.one_of(st.none(), st.floats(width=32))), dtype="float32"),
        "F": pd.Series(_column(draw, floats), dtype="Float64"),
        "i": pd.Series(_column(draw, st.integers(-(2**63), 2**63 - 1)), dtype="int64"),
        "I": pd.Series(_column(draw, st.one_of(st.none(), st.integers(-3, 3))), dtype="Int64"),
        "b": pd.Series(_column(draw, st.booleans()), dtype=bool),
        "B": pd.Series(_column(draw, st.one_of(st.none(), st.booleans())), dtype="boolean"),
        "s": pd.Series(_column(draw, st.one_of(st.none(), _TEXT)), dtype="string"),
        "t": pd.Series(_column(draw, _TEXT), dtype=str),
        "d": pd.to_datetime(pd.Series(_column(draw, dates), dtype=object)).astype("datetime64[s]"),
        "o": pd.Series(_column(draw, _OBJECTS), dtype=object),
    })  # fmt: skip


#: Short columns are formatted value by value, longer ones by their distinct values
#: (``tablefile.SMALL``): each test below checks every frame it draws both ways (0: every column by its
#: distinct values). One frame checked both ways, rather than a test per way drawing frames of its own: drawing
#: the frames is most of these tests' cost, and each way still meets every example.
BOTH_WAYS = (0, tablefile.SMALL)


@settings(max_examples=150, deadline=None)
@given(typed_frames())
def test_format_for_csv_is_the_cell_by_cell_format(typed):
    slow = csv_reference.format_for_csv(typed)
    for small in BOTH_WAYS:
        with mock.patch.object(tablefile, "SMALL", small):
            fast = format_for_csv(typed)
        assert list(fast.columns) == list(slow.columns), small
        for name in typed.columns:
            assert fast[name].tolist() == slow[name].tolist(), (small, name)
            assert all(type(v) is str for v in fast[name]), (small, name)


@settings(max_examples=100, deadline=None)
@given(typed_frames())
def test_the_written_bytes_are_the_reference_writers(typed):
    reference = csv_reference.csv_bytes(typed)
    for small in BOTH_WAYS:
        with mock.patch.object(tablefile, "SMALL", small):
            assert csv_text(format_for_csv(typed)).encode() == reference, small


def test_a_per_man_table_is_written_as_before():
    """Many rows, values repeated (each formatted once), 0.0 and -0.0 apart, a text cell starting a formula."""
    r = np.random.default_rng(5)
    n = 5000
    table = pd.DataFrame({
        "participant_id": pd.Series([f"S{i:05d}" for i in range(n)], dtype="string"),
        "score": np.round(r.normal(1.5, 0.5, n), 1) * np.where(r.random(n) < 0.1, -0.0, 1.0),
        "missing": pd.Series(np.where(r.random(n) < 0.2, None, r.integers(0, 3, n)), dtype="Int64"),
        "on": pd.Timestamp("2019-01-01") + pd.to_timedelta(r.integers(0, 40, n), unit="D"),
        "note": pd.Series(np.where(r.random(n) < 0.01, "=SUM(A1)", "ok"), dtype=object),
    })  # fmt: skip
    table.loc[r.random(n) < 0.1, "score"] = np.nan
    old = csv_reference.format_for_csv(table)
    old["note"] = old["note"].map(lambda v: "'" + v if v.startswith("=") else v)
    assert to_csv_bytes(table) == old.to_csv(index=False, lineterminator="\n").encode()
    assert b"-0.0," in to_csv_bytes(table)
