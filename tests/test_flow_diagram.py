"""The CONSORT diagram laid out as boxes and arrows (render/flow.py), and the figures' reproducible bytes."""

from __future__ import annotations

import itertools
import math
import re
import struct
import zlib

import pandas as pd
import pytest

from advance_trial.config import load_config
from advance_trial.output.render import flow
from tests.conftest import config_path

ROWS = [
    ("assessed", "all", "", 188), ("excluded", "all", "", 84), ("excluded.not_eligible", "all", "", 41),
    ("excluded.not_eligible", "all", "no intimate partner abuse in the past year", 14),
    ("excluded.not_eligible", "all", "unable to take part in English", 12),
    ("excluded.declined", "all", "", 43), ("excluded.other", "all", "eligible and consented, not randomised", 0),
    ("randomised", "all", "", 104), ("allocated", "advance", "", 54), ("allocated", "tau", "", 50),
    ("received_any_session", "advance", "", 52), ("not_received", "advance", "", 2),
    ("not_received", "advance", "could not be contacted", 1), ("discontinued", "advance", "", 8),
    ("met_threshold", "advance", "any_session: sessions >= 1", 52),
    ("followed_up", "advance", "week16", 32), ("not_followed_up", "advance", "week16: missed", 14),
    ("followed_up", "tau", "week16", 19), ("not_followed_up", "tau", "week16: outside window", 2),
    ("analysed", "advance", "week16: abi_physical", 31), ("analysed", "tau", "week16: abi_physical", 20),
]  # fmt: skip


def _consort(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["stage", "arm", "detail", "n"])


def _chunks(png: bytes) -> list[bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert zlib.crc32(png[at + 4 : at + 8 + length]) == crc
        out.append(kind)
        if kind == b"pHYs":
            assert struct.unpack(">IIB", png[at + 8 : at + 17]) == (5906, 5906, 1)  # 150 dots per inch
        at += 12 + length
    return out


def test_consort_svg_keeps_every_word_as_text_with_no_id_or_date() -> None:
    cfg = load_config(config_path("advance-feasibility"))
    d = flow.layout(cfg, _consort())
    svg = flow.svg(d).decode("utf-8")
    texts = [re.sub(r"&lt;", "<", t).replace("&amp;", "&") for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    words = [w for b in d.boxes for _, w in b.lines]
    assert set(words) <= set(texts)
    advance = cfg.arm("advance").label
    assert any(t.startswith(f"Allocated to {advance}") for t in texts)
    assert "Assessed for eligibility (n=188)" in texts and "Randomised (n=104)" in texts
    assert "Excluded (n=84)" in texts and "- no intimate partner abuse in the past" in texts  # wrapped at 44
    assert "Dose (annotation):" in texts and "- Outside window (n=2)" in texts
    assert {"Enrolment", "Allocation", "Follow-up", "Analysis"} <= set(texts)
    assert "id=" not in svg and "date" not in svg.lower() and "matplotlib" not in svg.lower()
    assert "advance_trial" not in svg and "any_session" not in svg  # labels, never ids


def test_consort_boxes_do_not_overlap_and_fit_the_canvas() -> None:
    for trial in ("advance-feasibility", "advance-digital"):
        cfg = load_config(config_path(trial))
        rows = ROWS if trial == "advance-feasibility" else [r for r in ROWS if r[1] in ("all", "advance")]
        d = flow.layout(cfg, _consort(rows))
        for b in d.boxes:
            assert b.x > 0 and b.x + b.w < d.width and b.y > 0 and b.y + b.h < d.height
        for a, b in itertools.combinations(d.boxes, 2):
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a.lines[0], b.lines[0])
        for path in d.arrows:  # every arrow ends on a box's top edge, or (the excluded men's) on its left edge
            x, y = path[-1]
            on_top = any(b.x <= x <= b.x + b.w and y == pytest.approx(b.y) for b in d.boxes)
            on_left = any(b.y <= y <= b.y + b.h and x == pytest.approx(b.x) for b in d.boxes)
            assert on_top or on_left, path


def test_consort_bytes_are_the_same_on_every_run_and_the_png_says_only_its_resolution() -> None:
    cfg = load_config(config_path("advance-feasibility"))
    first, second = flow.consort_images(cfg, _consort()), flow.consort_images(cfg, _consort())
    assert first == second
    assert _chunks(first["png"]) == [b"IHDR", b"PLTE", b"pHYs", b"IDAT", b"IEND"]
    d = flow.layout(cfg, _consort())
    assert struct.unpack(">II", first["png"][16:24]) == (math.ceil(d.width * 150 / 72), math.ceil(d.height * 150 / 72))


def test_withheld_counts_are_shown_as_their_words() -> None:
    cfg = load_config(config_path("advance-feasibility"))
    rows = [(s, a, d, "<5" if (s, a) == ("not_received", "advance") else n) for s, a, d, n in ROWS]
    frame = _consort(rows).astype({"n": object})
    svg = flow.consort_images(cfg, frame)["svg"].decode("utf-8")
    assert ">(n=&lt;5)</text>" in svg  # "- Did not receive allocated intervention", wrapped
