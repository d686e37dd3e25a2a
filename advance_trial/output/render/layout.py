"""The report's page layout, shared by its Word and HTML renderers: which tables go on landscape pages, and
how a table too wide even for one is split by column groups. Nothing here computes a statistic."""

from __future__ import annotations

import struct
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import pandas as pd

from advance_trial.output.render.report import Block
from advance_trial.output.tables import format_number

#: A table of more columns than this is laid out on a landscape page (Word) or a landscape print page (HTML).
WIDE_COLUMNS = 8
#: The text width of an A4 portrait page between 20 mm margins, in twips.
PORTRAIT_TWIPS = 9638
#: ... and a table whose cells, each on one line, would need this many portrait widths goes landscape too
#: (below it, cells wrap onto a second line in portrait, as a journal's tables do).
LANDSCAPE_FROM = 1.4


def is_wide(b: Block) -> bool:
    """Whether a table block is laid out on a landscape page."""
    if b.kind != "table" or b.table is None:
        return False
    df = b.table.data
    natural = sum(max([len(c), *(len(cell_text(v)) for v in df[c])]) * CHAR_TWIPS + CELL_PADDING_TWIPS
                  for c in b.columns)  # fmt: skip
    return len(b.columns) > WIDE_COLUMNS or natural > LANDSCAPE_FROM * PORTRAIT_TWIPS


# ---------------------------------------------------------------------------- rendering


def cell_text(v: Any) -> str:
    """A cell as the renderers write it."""
    return format_number(v)


#: The text width of an A4 landscape page between 20 mm margins, in twips (Word's unit: 1/1440 inch).
LANDSCAPE_TWIPS = 14570


def _needs(df: pd.DataFrame, columns: tuple[str, ...]) -> list[int]:
    """Each column's least width in twips: its longest word (heading or cell) in the tables' 8-point text."""
    out = []
    for c in columns:
        texts = [c, *(cell_text(v) for v in df[c])]
        out.append(max((len(w) for t in texts for w in t.split()), default=1) * CHAR_TWIPS + CELL_PADDING_TWIPS)
    return out


def fit_to_page(blocks: list[Block], width: int = LANDSCAPE_TWIPS) -> list[Block]:
    """Tables too wide for a landscape page split by column groups: each part repeats the table's leading
    text columns (what identifies a row) and takes as many of the others as fit; the parts are titled
    "(part i of k)". Nothing is computed: the same cells, laid out in pieces."""
    out: list[Block] = []
    for b in blocks:
        if b.kind != "table" or b.table is None or not b.columns:
            out.append(b)
            continue
        df = b.table.data
        needs = _needs(df, b.columns)
        if sum(needs) <= width:
            out.append(b)
            continue
        keys = b.table.keys
        while not b.table.keys and keys < min(3, len(b.columns) - 1) and df[b.columns[keys]].dtype.kind not in "iufb":
            keys += 1
        room = width - sum(needs[:keys])
        groups: list[list[int]] = [[]]
        used = 0
        for j in range(keys, len(b.columns)):
            if groups[-1] and used + needs[j] > room:
                groups.append([])
                used = 0
            groups[-1].append(j)
            used += needs[j]
        for i, g in enumerate(groups, 1):
            cols = tuple(b.columns[j] for j in (*range(keys), *g))
            out.append(replace(b, text=f"{b.text} (part {i} of {len(groups)})", columns=cols))
    return out


#: Twips per character of the tables' 8-point text (a generous average width, so that a word never splits).
CHAR_TWIPS = 130
CELL_PADDING_TWIPS = 230


#: A figure taller than this (inches, at the width it is printed) does not fit a landscape page's text height
#: (170 mm) with its heading and caption: it stays on a portrait page.
TALL_INCHES = 5.6
#: The width figures are printed at, in inches (the portrait text width; figures are drawn at 6.3).
PRINT_INCHES = 6.5


def png_size(png: bytes) -> tuple[float, float]:
    """A PNG's width and height in inches at the 150 dots per inch the figures are saved at."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        return PRINT_INCHES, PRINT_INCHES
    width, height = struct.unpack(">II", png[16:24])
    return width / 150, height / 150


def tall_figures(figures: dict[str, dict[str, bytes]]) -> set[str]:
    """The figures too tall for a landscape page at the width they are printed."""
    out = set()
    for stem, images in figures.items():
        width, height = png_size(images.get("png", b""))
        if height * min(1.0, PRINT_INCHES / width) > TALL_INCHES:
            out.add(stem)
    return out


def landscape(blocks: list[Block], tall: Collection[str] = ()) -> list[bool]:
    """Which blocks go on landscape pages, so that the orientation changes only where it must (each change
    starts a page, and leaves the page before it part empty).

    A wide table needs a landscape page, a tall figure (``tall``) a portrait one; the rest fit either.
    A section (a heading and the blocks up to the next) with a wide table goes landscape whole but for its
    tall figures (which the report puts before its tables); any other block keeps the orientation of the
    block before it (the report, and a page after a page break, start portrait); a heading goes with the
    block after it."""
    need: list[bool | None] = []
    for b in blocks:
        need.append(True if is_wide(b) else False if b.kind == "figure" and b.figure in tall else None)
    start = 0
    for k in range(len(blocks) + 1):
        if k == len(blocks) or (blocks[k].kind == "heading" and k > start):
            if any(need[j] for j in range(start, k)):
                for j in range(start, k):
                    need[j] = need[j] if need[j] is not None or blocks[j].kind == "heading" else True
            start = k
    flags: list[bool] = []
    for k in range(len(blocks)):
        wanted = need[k]
        fresh = not flags or blocks[k - 1].kind == "pagebreak"  # a new page anyway: portrait unless needed
        flags.append(wanted if wanted is not None else (False if fresh else flags[-1]))
    for k in range(len(blocks) - 2, -1, -1):
        if blocks[k].kind == "heading" and need[k] is None:
            flags[k] = flags[k + 1]
    return flags
