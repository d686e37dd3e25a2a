"""The disclosure audit on random tables: complementary suppression leaves every suppressed count with at least
``min_cell`` possible values, and the audit's ranges are the true ones (checked by enumerating every table a
reader could hold)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advance_trial.output.disclosure_cells import output_structure
from advance_trial.output.sdc import Structure, audit, protect, suppressed_cells

ARMS = ("A", "B")


def _allocation(counts: list[list[int]]) -> pd.DataFrame:
    """Men randomised by site and arm with both margins, laid out as ``allocation.csv``."""
    sites = [f"s{k}" for k in range(len(counts))]
    rows = []
    for s, row in zip(sites, counts, strict=True):
        rows += [{"site": s, "arm": a, "n": n} for a, n in zip(ARMS, row, strict=True)]
        rows.append({"site": s, "arm": "all", "n": sum(row)})
    for j, a in enumerate(ARMS):
        rows.append({"site": "all", "arm": a, "n": sum(r[j] for r in counts)})
    rows.append({"site": "all", "arm": "all", "n": sum(map(sum, counts))})
    return pd.DataFrame(rows)


def _published(s: Structure, min_cell: int) -> Structure:
    p = protect(s, min_cell)
    return Structure(suppressed_cells(s.cells, p.primary | p.complementary), s.links, s.levels, s.impossible)


def _brute_force(frame: pd.DataFrame, shown: Structure) -> dict[int, tuple[int, int]]:
    """Row -> (least, most) of every suppressed count over every table of whole numbers that agrees with what
    is shown (suppressed counts at least 1): an enumeration, independent of the linear programme."""
    value = {c.row: c.value for c in shown.cells}
    inner = [i for i, r in frame.iterrows() if r["site"] != "all" and r["arm"] != "all"]
    unknown = [i for i in inner if value[i] is None]
    top = int(frame["n"].max())
    grids = itertools.product(range(top + 1), repeat=len(unknown))
    cand = np.array(list(grids), dtype=int).reshape(-1, len(unknown))
    table = np.zeros((len(cand), len(frame)), dtype=int)
    for i in inner:
        table[:, i] = cand[:, unknown.index(i)] if i in unknown else value[i]
    for i, r in frame.iterrows():  # the margins are sums of the inner counts
        if r["site"] == "all" or r["arm"] == "all":
            parts = [
                j
                for j in inner
                if r["site"] in ("all", frame.at[j, "site"]) and r["arm"] in ("all", frame.at[j, "arm"])
            ]
            table[:, i] = table[:, parts].sum(axis=1)
    ok = np.ones(len(cand), dtype=bool)
    for i in range(len(frame)):
        ok &= table[:, i] == value[i] if value[i] is not None else table[:, i] >= 1
    seen = table[ok]
    return {i: (int(seen[:, i].min()), int(seen[:, i].max())) for i in range(len(frame)) if value[i] is None}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=2), min_size=2, max_size=3),
    min_cell=st.integers(3, 5),
)
def test_suppression_on_random_tables_is_complementary_and_its_audit_is_exact(
    counts: list[list[int]], min_cell: int
) -> None:
    frame = _allocation(counts)
    shown = _published(output_structure({"allocation": frame}), min_cell)
    report = audit(shown, min_cell)
    # nothing small is published, and every suppressed count keeps min_cell possible values
    assert not (report["kind"] == "published").any()
    assert report["protected"].all(), report
    hidden = report[report["kind"] == "suppressed"]
    assert set(hidden["row"] - 1) == {c.row for c in shown.cells if c.value is None}
    grand_total_shown = shown.cells[-1].value is not None
    few = sum(c.value is None for c in shown.cells if c.row in _inner(frame)) <= 3
    if len(hidden) and few and grand_total_shown:  # every table a reader could hold is inside the enumeration
        truth = _brute_force(frame, shown)
        for r in hidden.itertuples():
            upper = int(r.upper) if r.upper != "" else None
            assert truth[r.row - 1][0] == r.lower, (r, truth)
            if upper is not None:
                assert truth[r.row - 1][1] == upper, (r, truth)


def _inner(frame: pd.DataFrame) -> set[int]:
    return {i for i, r in frame.iterrows() if r["site"] != "all" and r["arm"] != "all"}


# each example is an audit of two linked tables (about 1 s of CPU): 12 examples, every shape of 2 or 3 sites
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=2), min_size=2, max_size=3),
    retained=st.lists(st.floats(0, 1), min_size=6, max_size=6),
)
def test_the_audit_holds_on_random_linked_tables(counts: list[list[int]], retained: list[float]) -> None:
    """Allocation and retention (men retained and outside the window, by arm and site, with the differences a
    reader forms): after suppression, every suppressed and implied count is protected."""
    alloc = _allocation(counts)
    rows = []
    k = 0
    for r in alloc.itertuples():
        if r.site != "all" and r.arm != "all":
            kept = int(round(retained[k % len(retained)] * r.n))
            rows.append({"timepoint": "t1", "arm": r.arm, "site": r.site, "cycle": "all", "n_randomised": r.n,
                         "n_retained": kept, "n_outside_window": 0})  # fmt: skip
            k += 1
    inner = pd.DataFrame(rows)
    for by in (("arm",), ("site",), ()):
        sums = inner.groupby(list(by), sort=False)[["n_randomised", "n_retained", "n_outside_window"]].sum() \
            if by else inner[["n_randomised", "n_retained", "n_outside_window"]].sum().to_frame().T  # fmt: skip
        for key, s in sums.iterrows():
            row = {"timepoint": "t1", "arm": "all", "site": "all", "cycle": "all", **s.to_dict()}
            if by:
                row[by[0]] = key
            rows.append(row)
    retention = pd.DataFrame(rows)
    shown = _published(output_structure({"allocation": alloc, "retention": retention}), 5)
    report = audit(shown, 5)
    assert report["protected"].all(), report[~report["protected"].astype(bool)]
