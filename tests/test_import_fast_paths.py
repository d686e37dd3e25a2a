"""The import's shortcuts (issue 38 part 5) give what the long way gives: the merged file checked from the
cells it was written from, not tokenised again; a plain ASCII export parsed from its bytes; the space test
that skips rows without a space; duplicate keys found from codes; keys spelt out only when needed."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.data.canonical import parse_table
from advance_trial.data.schema import SPECS
from advance_trial.errors import DataError
from advance_trial.importing import import_files
from advance_trial.importing.checks import _repeated, key_text
from advance_trial.importing.csvtext import read_back, text_file
from advance_trial.importing.readers import DELIMITERS, HeaderRule, _fast_csv, _read_csv, _spaced
from tests.conftest import SAMPLES
from tests.text_frames import text_frames

_PLAIN = st.text(alphabet=st.sampled_from(list("ab1 .-é")), max_size=4)
_ANY = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t\x00\ufeffé')), max_size=4)
_CELL = st.one_of(_PLAIN, _PLAIN, _ANY, st.none(), st.just(float("nan")))
_NAME = st.text(alphabet=st.sampled_from(list("ab .1_")), min_size=1, max_size=4)


def _read_csv_cells(body: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_filter=False)


@settings(max_examples=400, deadline=None)
@given(text_frames(_NAME, _CELL))
def test_the_cells_read_back_are_what_read_csv_gives(frame):
    written = text_file(frame)
    assert written.body == frame.fillna("").to_csv(index=False, lineterminator="\n").encode()
    assert written.frame.equals(frame.fillna(""))
    if written.cells is not None:
        pd.testing.assert_frame_equal(written.cells, _read_csv_cells(written.body))
        assert read_back(written.frame, written.body) is not None


def test_plain_text_is_read_back_and_anything_else_is_read_from_the_bytes():
    plain = pd.DataFrame({"a": ["x", "", "é"], "b": [" y ", "z", ""]}, dtype=object)
    assert text_file(plain).cells is not None
    for cell in ('say "hi"', "a,b", "two\nlines", "carriage\rreturn", "nul\x00"):
        odd = plain.copy()
        odd.loc[1, "b"] = cell
        written = text_file(odd)
        assert written.cells is None, cell  # parse_table reads these bytes as before
    assert text_file(plain.iloc[:0]).cells is None  # no rows: the bytes say what the empty table is
    assert text_file(plain[["a"]]).cells is None  # one column: its empty cells are quoted


_ATTENDANCE = {
    "participant_id": ["AF001", "AF001", "AF002", " AF003", "AF001", ""],
    "session_type": ["group", "group", "individual", "group", "group", "group"],
    "session_number": ["1", "2", "1", "x", "1", "3"],
    "group_id": ["g1", "g1", "", "g1", "g1", "g1"],
    "session_on": ["2018-06-04", "2018-06-11", "2018-02-31", "2018-06-04", "2018-06-04", "4/6/2018"],
    "attended": ["true", "false", "yes", "true", "true", "true"],
    "hours": ["2.0", "0.0", "1.0", "lots", "2.0", ""],
}


def test_the_merged_file_checked_from_its_cells_is_checked_as_from_its_bytes(advance_cfg):
    frame = pd.DataFrame(_ATTENDANCE, dtype=object)
    written = text_file(frame)
    assert written.cells is not None
    spec = SPECS["attendance"]
    typed, problems = parse_table(advance_cfg, spec, written.body, "attendance.csv", written.cells)
    expected_typed, expected_problems = parse_table(advance_cfg, spec, written.body, "attendance.csv")
    assert problems == expected_problems and len(problems) >= 6  # a bad number, date, word; a duplicate key ...
    pd.testing.assert_frame_equal(typed, expected_typed)
    valid = frame.iloc[[0, 1]]
    again = text_file(valid)
    typed, problems = parse_table(advance_cfg, spec, again.body, "attendance.csv", again.cells)
    expected_typed, expected_problems = parse_table(advance_cfg, spec, again.body, "attendance.csv")
    assert problems == expected_problems == []
    pd.testing.assert_frame_equal(typed, expected_typed)


_CSV = st.text(alphabet=st.sampled_from(list('ab1 ,;\t\n"')), min_size=1, max_size=40)


@settings(max_examples=400, deadline=None)
@given(_CSV, st.sampled_from(DELIMITERS))
def test_the_space_test_is_the_substring_tests_over_the_whole_text(text, delim):
    whole = (text.startswith(" ") or text.rstrip("\n").endswith(" ")
             or any(p in text for p in (f"{delim} ", f" {delim}", "\n ", " \n")))  # fmt: skip
    assert _spaced(text, delim) == whole


@settings(max_examples=300, deadline=None)
@given(_CSV.map(lambda t: "h1,h2\n" + t), st.sampled_from(DELIMITERS))
def test_a_plain_export_parsed_from_its_bytes_is_parsed_as_from_its_text(text, delim):
    raw = text.encode("ascii")
    from_text = _fast_csv(text, "f.csv", delim, "csv", HeaderRule())
    from_bytes = _fast_csv(text, "f.csv", delim, "csv", HeaderRule(), raw)
    assert (from_text is None) == (from_bytes is None)
    if from_text is not None and from_bytes is not None:
        assert from_bytes.header == from_text.header and from_bytes.rows.tolist() == from_text.rows.tolist()
        pd.testing.assert_frame_equal(from_bytes.cells, from_text.cells)


def test_only_plain_ascii_without_a_carriage_return_is_parsed_from_its_bytes(monkeypatch):
    seen: list[bool] = []
    real = _fast_csv

    def spy(text, file, delim, source, rule, plain=None):
        seen.append(plain is not None)
        return real(text, file, delim, source, rule, plain)

    monkeypatch.setattr("advance_trial.importing.readers._fast_csv", spy)
    for raw, plain in ((b"a,b\n1,2\n", True), (b"a,b\r\n1,2\r\n", False), ("a,b\né,2\n".encode(), False),
                       (b"\xef\xbb\xbfa,b\n1,2\n", False), ("a,b\né,2\n".encode("cp1252"), False)):  # fmt: skip
        table = _read_csv(raw, "f.csv")
        assert table.header == ["a", "b"] and len(table.cells) == 1
        assert seen.pop() is plain, raw


_KEY = st.one_of(st.none(), st.sampled_from(["a", "b", "a\x1fb", ""]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_KEY, _KEY, st.one_of(st.none(), st.integers(0, 2))), max_size=12))
def test_repeated_keys_from_codes_are_repeated_key_texts(rows):
    frame = pd.DataFrame(
        {
            "participant_id": pd.Series([r[0] for r in rows], dtype="string"),
            "session_type": pd.Series([r[1] for r in rows], dtype="string"),
            "session_number": pd.Series([r[2] for r in rows], dtype="Int64"),
        }
    )
    keys = ["participant_id", "session_type", "session_number"]
    texts = key_text(frame, keys)
    # key_text spells a missing value as empty text and joins with \x1f: only where neither can confuse
    clear = [all("\x1f" not in (v or "") and v != "" for v in r[:2]) for r in rows]
    got = _repeated(frame, keys)
    codes, _ = pd.factorize(texts)
    expected = np.bincount(codes)[codes] > 1 if len(codes) else np.zeros(0, dtype=bool)
    if all(clear):
        assert got.tolist() == expected.tolist()
    assert not (got & ~expected).any()  # never a repeat the texts do not show


def test_a_file_imported_in_one_go_or_after_another_writes_the_same_bytes(advance_cfg, tmp_path):
    """The keys are spelt out only when an earlier file or rows already there need them: the same files
    either way, and a key repeated across files is still found."""
    export = pd.read_excel(SAMPLES / "advance-feasibility" / "site-exports" / "london-attendance.xlsx", dtype=object,
                           engine="calamine")  # fmt: skip
    export["Date"] = pd.to_datetime(export["Date"]).dt.strftime("%Y-%m-%d")
    whole, first, second = tmp_path / "whole.csv", tmp_path / "first.csv", tmp_path / "second.csv"
    export.to_csv(whole, index=False)
    export.iloc[:120].to_csv(first, index=False)
    export.iloc[120:].to_csv(second, index=False)
    folders = []
    for name, files in (("one", [whole]), ("two", [first, second]), ("after", [first])):
        data = tmp_path / name
        data.mkdir()
        for table in ("screening", "participants"):
            shutil.copy(SAMPLES / "advance-feasibility" / f"{table}.csv", data)
        import_files(advance_cfg, data, "london", "attendance", files, by="t")
        folders.append(data)
    import_files(advance_cfg, folders[2], "london", "attendance", [second], by="t")
    body = (folders[0] / "attendance.csv").read_bytes()
    assert (folders[1] / "attendance.csv").read_bytes() == body == (folders[2] / "attendance.csv").read_bytes()
    overlap = tmp_path / "overlap.csv"
    export.iloc[110:130].to_csv(overlap, index=False)
    data = tmp_path / "overlap"
    shutil.copytree(folders[0], data)
    shutil.rmtree(data / "import")
    (data / "attendance.csv").unlink()
    with pytest.raises(DataError) as err:
        import_files(advance_cfg, data, "london", "attendance", [first, overlap], by="t")
    assert sum("the same key is in an earlier file" in p.message for p in err.value.problems) == 10
