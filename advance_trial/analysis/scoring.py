"""Questionnaire scoring: item responses to subscale scores and derived outcomes, per man and timepoint.

Rules, per instrument (config ``instruments``):

- reverse-scored items become ``min + max - value`` before anything else;
- a subscale's score is the mean of its items (``score: mean``) or their sum (``score: sum``);
  with up to ``max_missing_items`` items missing the score is prorated (the mean of the items
  answered; for sums, that mean times the number of items), with more it is missing;
- ``total`` is the score over every item;
- a derived outcome ``{subscale, any_above}`` gives, for binary outcomes, whether any item of the
  subscale is above the value (1 as soon as one answered item is; otherwise 0, or missing when
  more than ``max_missing_items`` items are missing), and for count outcomes the number of items
  above the value, prorated to the whole subscale and rounded when up to ``max_missing_items``
  items are missing.

Only instruments the men answer are scored here: partner data never enters a table about men.
"""

from __future__ import annotations

import pandas as pd

from advance_trial.config.models import Config, Instrument
from advance_trial.data.canonical import CanonicalData


def _items(ins: Instrument, ins_id: str, numbers: list[int]) -> list[str]:
    cols = ins.item_columns(ins_id)
    return [cols[n - 1] for n in numbers]


def _values(measures: pd.DataFrame, ins: Instrument, ins_id: str) -> pd.DataFrame:
    cols = ins.item_columns(ins_id)
    present = [c for c in cols if c in measures.columns]
    values = measures.reindex(columns=cols).astype("float64")
    if ins.reverse:
        rev = _items(ins, ins_id, ins.reverse)
        values[rev] = ins.min + ins.max - values[rev]
    values.attrs["present"] = present
    return values


def subscale_score(values: pd.DataFrame, ins: Instrument, columns: list[str]) -> pd.Series:
    """The prorated mean or sum score of ``columns`` (see the module docstring)."""
    block = values[columns]
    missing = block.isna().sum(axis=1)
    mean = block.mean(axis=1, skipna=True)
    score = mean * len(columns) if ins.score == "sum" else mean
    return score.where(missing <= ins.max_missing_items)


def derived_value(values: pd.DataFrame, ins: Instrument, columns: list[str], above: float, kind: str) -> pd.Series:
    """Binary (any item above) or count (items above, prorated) of ``columns``."""
    block = values[columns]
    missing = block.isna().sum(axis=1)
    hits = (block > above).sum(axis=1).astype(float)
    answered = len(columns) - missing
    if kind == "binary":
        out = (hits > 0).astype(float)
        return out.where((hits > 0) | (missing <= ins.max_missing_items))
    prorated = (hits * len(columns) / answered.where(answered > 0)).round()
    return prorated.where(missing <= ins.max_missing_items)


def score_measures(cfg: Config, data: CanonicalData) -> pd.DataFrame:
    """Every man's scores at every timepoint.

    Returns
    -------
    pandas.DataFrame
        ``participant_id, arm, site, timepoint``, then ``<instrument>_<subscale>`` for every subscale
        and ``total``, ``<instrument>_<derived>`` (binary) and ``<instrument>_<derived>_count``, and
        ``<instrument>_missing_items``; rows in the order of ``measures.csv``.
    """
    m = data.measures
    men = data.participants[["participant_id", "arm", "site"]]
    out = m[["participant_id", "timepoint"]].merge(men, on="participant_id", how="left")
    out = out[["participant_id", "arm", "site", "timepoint"]].copy()
    for ins_id, ins in cfg.instruments.items():
        if ins.respondent != "man":
            continue
        values = _values(m, ins, ins_id)
        all_cols = ins.item_columns(ins_id)
        for name, numbers in ins.subscales.items():
            out[f"{ins_id}_{name}"] = subscale_score(values, ins, _items(ins, ins_id, numbers)).to_numpy()
        out[f"{ins_id}_total"] = subscale_score(values, ins, all_cols).to_numpy()
        for name, d in ins.derived.items():
            cols = all_cols if d.subscale == "total" else _items(ins, ins_id, ins.subscales[d.subscale])
            out[f"{ins_id}_{name}"] = derived_value(values, ins, cols, d.any_above, "binary").to_numpy()
            out[f"{ins_id}_{name}_count"] = derived_value(values, ins, cols, d.any_above, "count").to_numpy()
        out[f"{ins_id}_missing_items"] = values[all_cols].isna().sum(axis=1).to_numpy()
    return out.reset_index(drop=True)


def score_column(cfg: Config, outcome_id: str) -> str:
    """The column of :func:`score_measures` an outcome uses."""
    o = next(x for x in cfg.outcomes if x.id == outcome_id)
    if o.type == "binary":
        return f"{o.instrument}_{o.derived}"
    if o.type == "count":
        return f"{o.instrument}_{o.derived}_count"
    return f"{o.instrument}_{o.subscale}"
