"""The :class:`Table` an analysis hands on: a named display with its title and notes, and the results rows
it is a pivot of. Neutral: the analyses and the output both use it (the output writes and renders it,
:mod:`advance_trial.output.tables`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Table:
    """A named output table with the notes a rendered version must carry.

    Attributes
    ----------
    name : str
        File stem, e.g. ``recruitment`` for ``recruitment.csv``.
    data : DataFrame
        Unrounded values in their final row and column order.
    title : str
        Heading for rendered versions.
    footnotes : tuple of str
        Interval method, denominators and other caveats.
    markdown : bool
        Whether a Markdown version is written (per-man tables are for checking by hand in CSV).
    keys : int
        Display tables: how many leading columns identify a row (0: not said).
    results : DataFrame, optional
        The results rows (:mod:`advance_trial.results.structure`) ``data`` is a pivot of, as the analysis
        made them; ``None`` for a table built otherwise (its rows are then read off ``data``).
    """

    name: str
    data: pd.DataFrame
    title: str = ""
    footnotes: tuple[str, ...] = field(default_factory=tuple)
    markdown: bool = True
    keys: int = 0
    results: pd.DataFrame | None = field(default=None, compare=False, repr=False)
