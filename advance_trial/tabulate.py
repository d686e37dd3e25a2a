"""Breakdowns with totals: every combination of levels, each dimension also as ``all``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

ALL = "all"


def margins(dims: Sequence[tuple[str, Sequence[str]]]) -> Iterator[dict[str, str]]:
    """Each combination of levels, with ``all`` added last to every dimension.

    >>> list(margins([("arm", ["a", "b"])]))
    [{'arm': 'a'}, {'arm': 'b'}, {'arm': 'all'}]
    """
    names = [name for name, _ in dims]
    for combo in itertools.product(*[[*map(str, levels), ALL] for _, levels in dims]):
        yield dict(zip(names, combo, strict=True))


def mask_for(df: pd.DataFrame, combo: dict[str, str]) -> np.ndarray:
    """Rows of ``df`` in the cell ``combo`` (``all`` matches every row); columns compared as text."""
    keep = np.ones(len(df), dtype=bool)
    for col, level in combo.items():
        if level != ALL:
            keep &= (df[col].astype("string") == level).fillna(False).to_numpy(dtype=bool)
    return keep
