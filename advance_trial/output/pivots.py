"""The contract tables, made from the analyses' results rows.

An analysis hands on its results rows (:mod:`advance_trial.results.verbs`), or a listing of men as it
is; :func:`table_of` makes the table its declaration's shape says
(:data:`advance_trial.output.displays.DISPLAYS`, :class:`~advance_trial.output.display_spec.Shape`):
the pivot of the rows by its layout, its CSV columns in order, its title and notes. The output computes
nothing here: the pivot only arranges the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.displays import declared
from advance_trial.results.layout import pivoted
from advance_trial.results.table import Table


def table_of(cfg: Config, name: str, rows: pd.DataFrame) -> Table:
    """The contract table ``name`` from what its analysis handed on: its results ``rows`` pivoted by its
    layout (carried on as the table's ``results``), or a listing of men kept as it is.

    Raises
    ------
    KeyError
        If no shape declares the table.
    """
    shape = declared(name).shape
    if shape is None:
        raise KeyError(f"{name}: no display declares its shape (advance_trial/output/displays.py)")
    if shape.layout is None:
        return Table(name, rows, shape.heading(cfg), shape.notes_for(cfg, rows), shape.markdown)
    data = pivoted(shape.layout, rows, shape.columns_for(cfg), shape.dtypes)
    return Table(name, data, shape.heading(cfg), shape.notes_for(cfg, data), shape.markdown, results=rows)


def tables_of(cfg: Config, built: Mapping[str, pd.DataFrame | Table]) -> dict[str, Table]:
    """:func:`table_of` of each of a step's results (a table a step made itself is kept); a table whose
    shape says so carries the notes of another of them (``notes_from``)."""
    out = {name: v if isinstance(v, Table) else table_of(cfg, name, v) for name, v in built.items()}
    for name, t in out.items():
        shape = declared(name).shape
        source = out.get(shape.notes_from) if shape is not None and shape.notes_from else None
        if source is not None:
            out[name] = replace(t, footnotes=source.footnotes)
    return out
