"""The cross-file checks that match each file's ids against participants.csv once (issue 38, scale) find
the same problems, in the same order and words, as the checks they replaced (``tests/canonical_reference.py``):
unknown and empty ids, men not screened or screened twice, sites, arms, sessions and dates that disagree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.data.canonical import cross_checks, read_canonical
from tests import canonical_reference as reference
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def sample_tables(advance_cfg) -> dict[str, pd.DataFrame]:
    return read_canonical(advance_cfg, SAMPLES / "advance-feasibility").tables()


def _spoiled(tables: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """The sample's tables, rows shuffled (an index out of order, as an import's are) and a few cells of
    every kind the cross-file checks look at set wrong."""
    rng = np.random.default_rng(seed)
    t = {name: df.sample(frac=1.0, random_state=seed).copy() if len(df) else df.copy() for name, df in tables.items()}

    def some(df: pd.DataFrame, k: int = 3) -> np.ndarray:
        return rng.choice(len(df), size=min(k, len(df)), replace=False)

    def put(name: str, column: str, rows: np.ndarray, values: list[object]) -> None:
        col = t[name].columns.get_loc(column)
        for i, v in zip(rows, values, strict=False):
            t[name].iloc[int(i), col] = v

    part = t["participants"]
    ids = part["participant_id"].tolist()
    for name in ("attendance", "followup", "measures", "partners", "events"):
        rows = some(t[name], int(rng.integers(0, 3)))
        put(name, "participant_id", rows, [str(rng.choice(["ZZ1", "ZZ2", ids[0].lower()])) for _ in rows])
    scr = t["screening"]
    with_man = np.flatnonzero(scr["participant_id"].notna().to_numpy())
    rows = rng.choice(with_man, size=4, replace=False)
    put("screening", "participant_id", rows[:1], [pd.NA])  # a man not screened
    put("screening", "participant_id", rows[1:2], [scr["participant_id"].iat[int(rows[2])]])  # screened twice
    put("screening", "site", rows[3:], [str(rng.choice(["bristol", "wolverhampton", "london"]))])
    put("screening", "participant_id", some(scr, 1), ["ZZ3"])
    put("screening", "eligible", some(scr, 2), [False, False])
    put("participants", "site", some(part, 2), ["bristol", "wolverhampton"])
    put("participants", "randomised_on", some(part, 3), [pd.Timestamp(f"2018-0{m}-01") for m in (3, 7, 9)])
    att = t["attendance"]
    put("attendance", "session_number", some(att, 2), [99, 0])
    put("attendance", "session_type", some(att, 1), ["yoga"])
    put("attendance", "hours", some(att, 3), [9.5, 0.5, np.nan])
    put("attendance", "attended", some(att, 2), [False, pd.NA])
    tau = part.loc[part["arm"] == "tau", "participant_id"].tolist()
    put("attendance", "participant_id", some(att, 2), [str(rng.choice(tau)), pd.NA])
    put("followup", "completed_on", some(t["followup"], 2), [pd.NaT, pd.Timestamp("2031-01-01")])
    put("events", "event_on", some(t["events"], 1), [pd.Timestamp("2017-01-01")])
    return t


def test_the_sample_has_no_cross_file_problem(advance_cfg, sample_tables):
    assert cross_checks(advance_cfg, sample_tables) == reference.cross_checks(advance_cfg, sample_tables) == []


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31))
def test_the_same_problems_as_the_checks_they_replaced(advance_cfg, sample_tables, seed):
    t = _spoiled(sample_tables, seed)
    found = cross_checks(advance_cfg, t)
    assert found == reference.cross_checks(advance_cfg, t)
    assert {p.message for p in found if "not in participants.csv" in p.message}  # the spoiling does spoil


def test_no_screening_file_and_no_events(advance_cfg, sample_tables):
    t = _spoiled(sample_tables, 7)
    t["screening"] = t["screening"].iloc[:0]
    t["events"] = t["events"].iloc[:0]
    assert cross_checks(advance_cfg, t) == reference.cross_checks(advance_cfg, t)


_KEY_TEXT = st.sampled_from(["AF001", "AF002", " AF001", "", "1", "01", "2", "group", "individual"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_KEY_TEXT, _KEY_TEXT, _KEY_TEXT), min_size=1, max_size=30))
def test_duplicate_keys_found_from_codes_as_from_the_text(rows):
    """Keys told apart by their columns' codes (as the cells' conversion numbers them) are duplicates exactly
    when their text is: spaced or zero-padded text is another key, an empty cell one like any other."""
    from advance_trial.data.canonical import _duplicate_keys
    from advance_trial.data.schema import SPECS

    spec = SPECS["attendance"]
    raw = pd.DataFrame(rows, columns=list(spec.key), dtype=str)
    numbered = {k: pd.factorize(raw[k].to_numpy(dtype=object))[0] for k in spec.key}
    by_codes = _duplicate_keys(raw, raw, spec, "attendance.csv", numbered)
    assert by_codes == _duplicate_keys(raw, raw, spec, "attendance.csv")
    assert len(by_codes) == len(raw) - len(set(rows))


_TEXT = st.sampled_from(["AF001", "AF002", "AF010", "af001", "Ä", "", " AF001", "group", "individual", "10", "9"])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(_TEXT, _TEXT, st.one_of(st.none(), st.integers(-3, 2**40))), min_size=1, max_size=25),
    st.sampled_from([2**62, 2]),
)
def test_rows_in_key_order_as_pandas_sorts_them(rows, one_number):
    """Ranked keys sort the rows as ``sort_values(keys, kind="stable")`` does: text by code point, numbers
    as numbers, ties in file order; a missing number left to pandas; keys too many to make one number of
    sorted column by column."""
    from unittest import mock

    from advance_trial.data import canonical
    from advance_trial.data.canonical import in_key_order

    with mock.patch.object(canonical, "_ONE_NUMBER", one_number):
        _in_key_order_as_pandas(rows, in_key_order)


def _in_key_order_as_pandas(rows, in_key_order) -> None:
    table = pd.DataFrame(rows, columns=["participant_id", "session_type", "session_number"])
    table = table.astype({"participant_id": "string", "session_type": "string", "session_number": "Int64"})
    table.index = np.arange(len(table))[::-1] * 3  # an index of its own, carried along
    expected = table.sort_values(["participant_id", "session_type", "session_number"], kind="stable")
    pd.testing.assert_frame_equal(in_key_order("attendance", table), expected, check_exact=True)
    two = table.rename(columns={"session_type": "timepoint"})[["participant_id", "timepoint"]]
    pd.testing.assert_frame_equal(in_key_order("followup", two),
                                  two.sort_values(["participant_id", "timepoint"], kind="stable"))  # fmt: skip


_TEXTS = st.sampled_from(["", "0", "7", "-3", "+4", "007", "-0", "1.0", "2.5", "1e3", "x", "\u0661", "NaN", "inf",
                          "999999999999999", "9999999999999999999", "1_000", " 5"])  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(_TEXTS, st.integers(-(10**16), 10**16).map(str)), max_size=70), st.sampled_from(["int", "float"])
)
def test_few_whole_numbers_read_text_by_text_are_what_pandas_reads(texts, kind):
    """A column of few texts, all whole numbers written plainly, is read without pandas' conversion
    (``canonical.FEW``): the same values, types and unparseable cells as pandas' conversion gives."""
    from advance_trial.data import canonical

    s = pd.Series(texts, dtype="string")
    empty = s == ""
    fast = canonical.parse_numbers(s, empty, kind)
    few, canonical.FEW = canonical.FEW, -1
    try:
        slow = canonical.parse_numbers(s, empty, kind)
    finally:
        canonical.FEW = few
    assert fast[0].dtype == slow[0].dtype
    assert fast[0].array.equals(slow[0].array) or (len(texts) == 0 and len(fast[0]) == len(slow[0]) == 0)
    assert (fast[1].to_numpy(dtype=bool, na_value=False) == slow[1].to_numpy(dtype=bool, na_value=False)).all()


def test_the_sample_s_whole_numbers_are_read_text_by_text(advance_cfg, monkeypatch):
    """The fast reading is the one the sample takes (every whole-number column of its files), and gives the
    frames pandas' conversion gives."""
    from advance_trial.data import canonical

    calls = []
    plain = canonical.pd.to_numeric

    def counted(*args, **kwargs):
        calls.append(1)
        return plain(*args, **kwargs)

    monkeypatch.setattr(canonical.pd, "to_numeric", counted)
    fast = read_canonical(advance_cfg, SAMPLES / "advance-feasibility")
    # by pandas: the one column of decimals (hours) and two of men's ages and scores (more than FEW distinct
    # texts); every other whole-number column (the items' scores, sessions, counts) text by text
    assert len(calls) == 3
    monkeypatch.setattr(canonical, "FEW", -1)
    slow = read_canonical(advance_cfg, SAMPLES / "advance-feasibility")
    for name, df in fast.tables().items():
        pd.testing.assert_frame_equal(df, slow.tables()[name], check_exact=True)
