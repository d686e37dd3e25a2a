"""Questionnaire scoring against hand-worked examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from advance_trial.analysis.scoring import derived_value, score_measures, subscale_score
from advance_trial.config.models import Instrument


def _ins(**kw) -> Instrument:
    return Instrument(**{"items": 4, "min": 1, "max": 5, "max_missing_items": 1, **kw})


def _frame(rows):
    return pd.DataFrame(rows, columns=["q_1", "q_2", "q_3", "q_4"], dtype="float64")


def test_mean_score_prorates_up_to_the_allowed_missing_items():
    v = _frame([[1, 2, 3, 4], [2, np.nan, 4, 3], [np.nan, np.nan, 5, 5]])
    got = subscale_score(v, _ins(), list(v.columns))
    assert got.iloc[0] == 2.5 and got.iloc[1] == 3.0 and np.isnan(got.iloc[2])


def test_sum_score_prorates_to_the_whole_subscale():
    v = _frame([[1, 2, 3, 4], [2, np.nan, 4, 3]])
    got = subscale_score(v, _ins(score="sum"), list(v.columns))
    assert list(got) == [10.0, 12.0]  # (2 + 4 + 3) / 3 * 4


def test_derived_binary_and_count():
    v = _frame([[1, 1, 1, 1], [1, 3, 1, 2], [np.nan, 1, 1, 1], [np.nan, np.nan, 4, 1], [np.nan, np.nan, 1, 1]])
    ins = _ins()
    binary = derived_value(v, ins, list(v.columns), 1, "binary")
    count = derived_value(v, ins, list(v.columns), 1, "count")
    # any item above 1: known as soon as one answered item is, even with too many missing
    assert list(binary.iloc[:4]) == [0.0, 1.0, 0.0, 1.0] and np.isnan(binary.iloc[4])
    # count: 0, 2; one missing prorated 0 * 4/3 = 0; two missing -> missing
    assert list(count.iloc[:3]) == [0.0, 2.0, 0.0] and np.isnan(count.iloc[3]) and np.isnan(count.iloc[4])


def test_count_is_prorated_and_rounded():
    v = _frame([[np.nan, 3, 3, 1]])
    assert derived_value(v, _ins(), list(v.columns), 1, "count").iloc[0] == 3.0  # 2 of 3 answered -> 2.67 -> 3


def test_reverse_items_and_the_sample(advance_cfg):
    from advance_trial.data.canonical import read_canonical
    from tests.conftest import SAMPLES

    data = read_canonical(advance_cfg, SAMPLES / "advance-feasibility")
    scores = score_measures(advance_cfg, data)
    assert len(scores) == len(data.measures)
    assert {"abi_physical", "abi_psychological", "abi_total", "abi_any_physical", "abi_any_physical_count"} <= set(
        scores.columns
    )
    row = data.measures.iloc[0]
    items = [f"abi_{i:02d}" for i in advance_cfg.instruments["abi"].subscales["physical"]]
    answered = row[items].dropna().astype(float)
    expected = answered.mean() if len(items) - len(answered) <= 2 else np.nan
    assert scores["abi_physical"].iloc[0] == pytest.approx(expected)
    assert "abi_r_total" not in scores.columns  # partners' instrument never in the men's table


def test_reverse_scoring():
    from advance_trial.analysis.scoring import _values

    ins = _ins(reverse=[2])
    m = pd.DataFrame({"q_01": [1], "q_02": [1], "q_03": [5], "q_04": [2]})
    v = _values(m, ins, "q")
    assert list(v.iloc[0]) == [1, 5, 5, 2]
