"""A hypothesis strategy the import's tests share: small frames of text columns."""

from __future__ import annotations

import pandas as pd
from hypothesis import strategies as st


@st.composite
def text_frames(draw: st.DrawFn, names: st.SearchStrategy[str], cells: st.SearchStrategy[object]) -> pd.DataFrame:
    """A frame of 0 to 4 rows and 1 to 4 uniquely named columns (``names``), its cells drawn from ``cells``,
    kept as objects."""
    n, width = draw(st.integers(0, 4)), draw(st.integers(1, 4))
    columns = draw(st.lists(names, min_size=width, max_size=width, unique=True))
    return pd.DataFrame({c: draw(st.lists(cells, min_size=n, max_size=n)) for c in columns}, columns=columns,
                        dtype=object)  # fmt: skip
