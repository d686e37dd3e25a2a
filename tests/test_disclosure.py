"""Shareable outputs protect small cells against subtraction; blinded outputs reveal no arm, not even by order.

Each failure measured in the issue on disclosure is a test here: suppressed cells recovered from totals
(20 of 24 were), a reason of one man printed, a seed that rebuilt the blinding key, the intervention's code
listed first, the retention_difference swap, a key accepted inside the output folder.
"""

from __future__ import annotations

import itertools
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.output.disclosure_cells import SUPPRESSED
from advance_trial.output.sdc import Cell, Structure, audit, protect, suppressed_cells
from advance_trial.pipeline import RunOptions, run
from tests.conftest import SAMPLES, config_path

ADV = config_path("advance-feasibility")


def load(trial: str):
    from advance_trial.config import load_config
    from advance_trial.data.canonical import read_canonical

    cfg = load_config(config_path(trial))
    return cfg, read_canonical(cfg, SAMPLES / trial)


DATA = SAMPLES / "advance-feasibility"


def grid(values: list[list[int]]) -> Structure:
    """A two-way table of counts with its row, column and grand totals, as cells."""
    cells = []
    rows, cols = len(values), len(values[0])
    r_lv, c_lv = tuple(f"r{i}" for i in range(rows)), tuple(f"c{j}" for j in range(cols))
    for i, j in itertools.product(range(rows + 1), range(cols + 1)):
        where = []
        if i < rows:
            where.append(("r", (r_lv[i],), False))
        if j < cols:
            where.append(("c", (c_lv[j],), False))
        v = sum(values[a][b] for a in range(rows) for b in range(cols)
                if (i == rows or a == i) and (j == cols or b == j))  # fmt: skip
        cells.append(Cell("t", i, f"c{j}", "men", tuple(where), v))
    return Structure(tuple(cells), levels={("men", "r"): r_lv, ("men", "c"): c_lv})


def test_primary_suppression_alone_is_undone_by_subtraction_and_the_audit_says_so():
    s = grid([[2, 9], [6, 7]])
    primary = Structure(suppressed_cells(s.cells, [("t", 0, "c0")]), levels=s.levels)
    a = audit(primary, 5)
    assert list(a["lower"]) == [2] and list(a["upper"]) == [2] and not a["protected"].any()


def test_complementary_suppression_hides_three_more_cells_and_then_the_audit_passes():
    s = grid([[2, 9], [6, 7]])
    p = protect(s, 5)
    assert p.primary == {("t", 0, "c0")}
    assert len(p.complementary) == 3  # the fewest that can protect one cell of a table with its margins
    a = audit(Structure(suppressed_cells(s.cells, p.primary | p.complementary), levels=s.levels), 5)
    assert a["protected"].all() and (a["possible_values"].astype(int) >= 5).all()


def _brute_force(values: list[list[int]], hidden: set[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int]]:
    """Every completion of the hidden inner cells (each at least 1) that fits the shown margins and cells."""
    rows, cols = len(values), len(values[0])
    row_t = [sum(r) for r in values]
    col_t = [sum(values[i][j] for i in range(rows)) for j in range(cols)]
    cells = sorted(hidden)
    top = sum(row_t)
    seen: dict[tuple[int, int], list[int]] = {c: [] for c in cells}
    for combo in itertools.product(range(1, top + 1), repeat=len(cells)):
        grid_ = [row[:] for row in values]
        for (i, j), v in zip(cells, combo, strict=True):
            grid_[i][j] = v
        if [sum(r) for r in grid_] == row_t and [sum(grid_[i][j] for i in range(rows)) for j in range(cols)] == col_t:
            for c, v in zip(cells, combo, strict=True):
                seen[c].append(v)
    return {c: (min(v), max(v)) for c, v in seen.items()}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=3), min_size=2, max_size=3)
       .filter(lambda v: len({len(r) for r in v}) == 1))  # fmt: skip
def test_random_tables_with_margins_are_protected_and_the_audit_matches_brute_force(values):
    s = grid(values)
    p = protect(s, 3)
    shown = Structure(suppressed_cells(s.cells, p.primary | p.complementary), levels=s.levels)
    a = audit(shown, 3)
    assert a["protected"].all()
    rows, cols = len(values), len(values[0])
    inner = {(r, int(c[1:])) for (_, r, c) in p.primary | p.complementary if r < rows and int(c[1:]) < cols}
    margins_hidden = any(r == rows or int(c[1:]) == cols for (_, r, c) in p.primary | p.complementary)
    if inner and not margins_hidden and len(inner) <= 4 and sum(map(sum, values)) <= 14:
        truth = _brute_force(values, inner)
        for (r, c), (lo, hi) in truth.items():
            got = a[(a["row"] == r + 1) & (a["column"] == f"c{c}")].iloc[0]
            assert (got["lower"], got["upper"]) == (lo, hi)  # the linear programme's bounds are attained


def _subtraction_attack(folder: Path) -> dict[tuple[str, int, str], int]:
    """An attacker independent of the toolkit's audit: sums a reader knows, solved one unknown at a time."""
    t = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in folder.glob("*.csv")}
    value: dict[tuple[str, int, str], int | None] = {}
    equations: list[tuple[tuple[str, int, str], list[tuple[str, int, str]]]] = []  # total = sum(parts)

    def cell(name: str, row: int, col: str) -> tuple[str, int, str]:
        v = t[name].iloc[row][col]
        value[(name, row, col)] = None if v == SUPPRESSED else int(float(v))
        return (name, row, col)

    def where(name: str, **kw: str) -> list[int]:
        df = t[name]
        m = pd.Series(True, index=df.index)
        for k, v in kw.items():
            m &= df[k] == v
        return list(df.index[m])

    al = t["allocation"]
    for key in ("site", "arm"):
        other = "arm" if key == "site" else "site"
        for lv in al[key].unique():
            total = where("allocation", **{key: lv, other: "all"})
            parts = [i for i in where("allocation", **{key: lv}) if al.iloc[i][other] != "all"]
            equations.append((cell("allocation", total[0], "n"), [cell("allocation", i, "n") for i in parts]))
    for name in ("retention", "partner_retention"):
        df = t.get(name)
        if df is None or df.empty:
            continue
        for col in ("n_randomised", "n_retained", "n_outside_window"):
            for within, across in (("arm", "site"), ("site", "arm")):  # sites add up to the arm, arms to the site
                for tp, level in df[["timepoint", within]].drop_duplicates().itertuples(index=False):
                    rows = where(name, timepoint=tp, **{within: level})
                    total = [i for i in rows if df.iloc[i][across] == "all"]
                    parts = [i for i in rows if df.iloc[i][across] != "all"]
                    if total and parts:
                        equations.append((cell(name, total[0], col), [cell(name, i, col) for i in parts]))
    rr = t["retention_reasons"]
    for tp, arm in rr[["timepoint", "arm"]].drop_duplicates().itertuples(index=False):
        rows = where("retention_reasons", timepoint=tp, arm=arm)
        equations.append((cell("retention_reasons", rows[0], "n_randomised"),
                          [cell("retention_reasons", i, "n") for i in rows]))  # fmt: skip
    co = t["consort"]
    for arm in co.loc[co["stage"] == "allocated", "arm"]:
        total = where("consort", stage="allocated", arm=arm)
        parts = [i for i in range(len(co)) if co.iloc[i]["arm"] == arm and co.iloc[i]["stage"] in
                 ("followed_up", "not_followed_up")]  # fmt: skip
        equations.append((cell("consort", total[0], "n"), [cell("consort", i, "n") for i in parts]))
    reasons = [i for i in where("consort", stage="excluded.not_eligible") if co.iloc[i]["detail"]]
    if reasons:
        total = [i for i in where("consort", stage="excluded.not_eligible") if not co.iloc[i]["detail"]]
        equations.append((cell("consort", total[0], "n"), [cell("consort", i, "n") for i in reasons]))
    recovered: dict[tuple[str, int, str], int] = {}
    changed = True
    while changed:
        changed = False
        for total, parts in equations:
            unknown = [c for c in [total, *parts] if value[c] is None]
            if len(unknown) == 1:
                known = sum(value[c] or 0 for c in parts if c != unknown[0])
                value[unknown[0]] = (value[total] or 0) - known if unknown[0] != total else known
                recovered[unknown[0]] = value[unknown[0]]  # type: ignore[assignment]
                changed = True
    return recovered


def test_the_subtraction_attack_recovers_the_cells_primary_suppression_left_open(
    tmp_path, sample_tables, sample_shareable_tables
):
    """The measured failure: with primary suppression alone, subtraction recovered suppressed cells."""
    from advance_trial.output.tables import write_tables

    cfg, _, tables = sample_tables("advance-feasibility")
    assert cfg.reporting.min_cell == 5
    shared, protection = sample_shareable_tables("advance-feasibility")  # shareable_tables(cfg, tables, 5), once
    from dataclasses import replace

    from advance_trial.output.disclosure_cells import count_value
    from advance_trial.output.displays import DISPLAYS

    coarse = {n: d.shareable.coarse for n, d in DISPLAYS.items() if d.shareable.coarse is not None}

    # put back every complementary cell's true value: what primary suppression alone published
    only_primary = {name: t.data.copy() for name, t in shared.items()}
    for name, row, col in protection.complementary:
        source = tables[name].data
        if name in coarse:
            source = source[coarse[name](source).to_numpy()].reset_index(drop=True)
        only_primary[name].iat[row, only_primary[name].columns.get_loc(col)] = count_value(source.iloc[row][col])
    write_tables([replace(shared[n], data=df) for n, df in only_primary.items()], tmp_path)
    recovered = _subtraction_attack(tmp_path)
    assert len(recovered) >= 3  # e.g. men retained in one arm at one site, from the arm's total and two sites
    for (name, row, col), v in recovered.items():
        source = tables[name].data
        if name in coarse:
            source = source[coarse[name](source).to_numpy()].reset_index(drop=True)
        if name != "consort":  # consort rows were regrouped by coded reasons
            assert count_value(source.iloc[row][col]) == v


@pytest.mark.parametrize("trial", ["advance-feasibility", "advance-digital", "cranstoun-dvip"])
@pytest.mark.parametrize("blinded", [False, True])
def test_shareable_runs_pass_their_own_audit_and_no_subtraction_recovers_a_cell(sample_run, trial, blinded):
    out = sample_run(trial, shareable=True, blinded=blinded).out
    a = pd.read_csv(out / "disclosure_audit.csv")
    assert len(a) and a["protected"].all()
    assert (a["kind"] == "suppressed").any()
    assert _subtraction_attack(out) == {}
    for p in out.glob("*.csv"):
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        for c in [c for c in df.columns if c == "n" or c.startswith("n_")]:
            assert not set(df[c]) & {"1", "2", "3", "4"}, (p.name, c)
    kinds = pd.read_csv(out.parent / "out.suppression.csv")  # kept apart: which are small is itself disclosive
    assert set(kinds["kind"]) <= {"primary", "complementary"} and not (out / "out.suppression.csv").exists()


def test_disclosure_audit_command_passes_a_shareable_folder_and_fails_one_with_a_small_count(
    invoke, tmp_path, sample_run
):
    out = sample_run(shareable=True, blinded=True).out
    res = invoke("disclosure-audit", out)
    assert res.exit_code == 0, res.output
    assert "protected" in res.output
    res = invoke("disclosure-audit", out, "--json")
    assert res.exit_code == 0 and '"protected": true' in res.output
    # a reader's copy with one suppressed count typed back in as a small number
    cons = pd.read_csv(out / "consort.csv", dtype=str, keep_default_na=False)
    row = int(cons.index[cons["n"] == SUPPRESSED][0])
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    cons.loc[row, "n"] = "2"
    cons.to_csv(tampered / "consort.csv", index=False)
    res = invoke("disclosure-audit", tampered)
    assert res.exit_code == 5, res.output


def test_a_reason_outside_the_codes_or_of_few_men_is_never_shown(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("site-exports"))
    text = (data / "screening.csv").read_text()
    # a name and a phone number typed into one man's reason
    (data / "screening.csv").write_text(text.replace("unable to take part in English", "John Smith 07700 900123", 1))
    out = tmp_path / "share"
    run(ADV, data, out, options=RunOptions(shareable=True))
    texts = (".csv", ".md", ".html", ".svg")
    shown = "".join(p.read_text(errors="replace") for p in out.iterdir() if p.suffix in texts)
    assert "John Smith" not in shown and "07700" not in shown
    consort = pd.read_csv(out / "consort.csv", dtype=str, keep_default_na=False)
    reasons = consort[(consort["stage"] == "excluded.not_eligible") & (consort["detail"] != "")]
    assert set(reasons["detail"]) <= {"no intimate partner abuse in the past year", "unable to take part in English",
                                      "not in structured substance use treatment",
                                      "currently in another perpetrator programme", "other"}  # fmt: skip


def test_coded_reasons_merge_small_categories_into_other():
    from advance_trial.output.display_rules import coded_reasons

    df = pd.DataFrame({"stage": ["assessed"] + ["excluded.not_eligible"] * 4 + ["randomised"],
                       "arm": "all", "detail": ["", "", "a", "b", "free text", ""],
                       "n": [30, 12, 8, 3, 1, 18]})  # fmt: skip
    got = coded_reasons(df, ("a", "b"), 5)
    assert list(got["detail"]) == ["", "", "a", "other", ""] and list(got["n"]) == [30, 12, 8, 4, 18]


# ---- blinding ----


def test_blinding_codes_come_from_secrets_not_the_seed(monkeypatch):
    import secrets

    from advance_trial.output.disclosure import blinding_codes

    cfg, _ = load("advance-feasibility")
    calls = []
    monkeypatch.setattr(secrets, "randbelow", lambda n: calls.append(n) or n - 1)
    assert blinding_codes(cfg) == {"advance": "B", "tau": "A"} and calls == [2, 1]


def test_a_blinded_run_records_no_seed_and_refuses_a_key_inside_the_outputs(tmp_path, sample_run):
    from advance_trial.errors import UsageError

    blinded = sample_run(blinded=True)
    assert blinded.result.provenance["seed"] is None and "seed" not in (blinded.out / "report.md").read_text()
    with pytest.raises(UsageError):
        run(ADV, DATA, tmp_path / "c", options=RunOptions(blinded=True, key=str(tmp_path / "c" / "sub" / "k.csv")))


def _normalised(folder: Path) -> dict[str, str]:
    """Every text output with its numbers (and suppression marks) replaced: what is left is the layout."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.suffix in (".csv", ".md", ".html", ".svg", ".json"):
            text = p.read_text(errors="replace")
        elif p.suffix == ".docx":
            with zipfile.ZipFile(p) as z:
                text = "".join(z.read(n).decode() for n in sorted(z.namelist()) if n.endswith(".xml"))
        else:
            continue
        if p.name == "provenance.json":
            continue  # hashes of the outputs
        if p.name == "scores.csv":  # one row per man: his code is his arm's data; read as "his code"
            text = re.sub(r",[AB],", ",code,", text)
        text = re.sub(r"<defs>.*?</defs>|<use [^>]*/>", "", text, flags=re.S)  # glyphs of the digits drawn
        text = re.sub(r"[-\u2212]?[0-9][0-9.e+-]*|\[c\]|inf|nan", "#", text)
        out[p.name] = "\n".join(line for line in text.splitlines() if line.strip())
    return out


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    """``coded(name)``: ADVANCE run blinded with the key ``ab`` (advance A, tau B) or ``ba``; read-only."""
    keys = {"ab": "arm,code\nadvance,A\ntau,B\n", "ba": "arm,code\nadvance,B\ntau,A\n"}
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            root = tmp_path_factory.mktemp(name)
            (root / "key.csv").write_text(keys[name])
            run(ADV, DATA, root / name, options=RunOptions(blinded=True, key=str(root / "key.csv")))
            done[name] = root / name
        return done[name]

    return get


def test_no_output_differs_between_advance_as_a_and_advance_as_b_but_by_the_arms_data(coded):
    outs = {name: _normalised(coded(name)) for name in ("ab", "ba")}
    assert outs["ab"].keys() == outs["ba"].keys()
    differ = [n for n in outs["ab"] if outs["ab"][n] != outs["ba"][n]]
    assert differ == []
    ab = pd.read_csv(coded("ab") / "allocation.csv")
    ba = pd.read_csv(coded("ba") / "allocation.csv")
    assert list(ab["arm"]) == list(ba["arm"])  # code order, A first, in both
    assert list(ab.loc[ab["arm"] == "A", "n"]) == list(ba.loc[ba["arm"] == "B", "n"])  # only the data swapped


def test_retention_difference_swap_keeps_each_arms_own_figures(coded):
    d = pd.read_csv(coded("ba") / "retention_difference.csv").iloc[0]  # advance B, tau A
    # tau (now A) 19 of 50 retained; advance (B) 32 of 54: the true figures, each in its own column
    assert (d["arm"], d["n_arm"], d["n_retained_arm"]) == ("A", 50, 19)
    assert (d["comparator"], d["n_comparator"], d["n_retained_comparator"]) == ("B", 54, 32)
    assert d["estimate"] == pytest.approx(19 / 50 - 32 / 54)


def test_verify_repeats_a_blinded_run_with_its_key_and_names_a_missing_key(invoke, tmp_path, sample_run):
    import json

    # the shared blinded shareable run as if written to tmp_path / "b": its folder and key copied there and the
    # key's new place recorded (the one field that says where the run wrote); verify repeats it for real
    shared = sample_run(blinded=True, shareable=True)
    out, key = tmp_path / "b", tmp_path / "b.blinding-key.csv"
    shutil.copytree(shared.out, out)
    shutil.copy(shared.key, key)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["run"]["key"] == str(shared.key.resolve())
    prov["run"]["key"] = str(key.resolve())
    (out / "provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
    res = invoke("verify", out)
    assert res.exit_code == 0, res.output
    (tmp_path / "b.blinding-key.csv").unlink()
    res = invoke("verify", out)
    assert res.exit_code == 5 and "blinding key" in res.output


# ---------------------------------------------------------------------------- Table 1 and harms


@pytest.fixture
def shared(sample_run):
    return sample_run(shareable=True).out


def test_shareable_table_1_and_harms_are_protected_and_audited(shared):
    from advance_trial.output.disclosure import audit_folder

    base = pd.read_csv(shared / "baseline.csv", dtype=str, keep_default_na=False)
    harms = pd.read_csv(shared / "harms.csv", dtype=str, keep_default_na=False)
    for df in (base, harms):
        counts = [c for c in df.columns if c == "n" or c.startswith("n_")]
        assert not set(df[counts].to_numpy().ravel()) & {"1", "2", "3", "4"}
        assert (df[counts] == SUPPRESSED).any().any()
    # a row whose count is hidden shows no figure computed from it: an unrounded mean or share is a fraction
    # whose denominator is the hidden count (16.134615384615383 = 839/52)
    hidden = (base[["n", "n_level"]] == SUPPRESSED).any(axis=1)
    assert (base.loc[hidden, ["proportion", "mean", "sd", "median", "q1", "q3"]] == "").all().all()
    assert (harms.loc[harms["n_with_event"] == SUPPRESSED, ["proportion", "events"]] == "").all().all()
    # a standardised difference is a function of the arms' shares: none where a count of it is hidden
    touched = set(base.loc[hidden, "variable"])
    assert (base.loc[base["variable"].isin(touched), "std_difference"] == "").all()
    assert (base.loc[(base["variable"] == "age") & (base["arm"] == "all"), "std_difference"] != "").all()
    # the flow's pilot boxes are cells too; a reason for never attending of fewer than min_cell men is merged
    # into "other", and "other" alone is dropped (the total says it)
    flow = pd.read_csv(shared / "consort.csv", dtype=str, keep_default_na=False)
    boxes = flow[flow["stage"].isin(["not_received", "discontinued"])]
    assert set(boxes["stage"]) == {"not_received", "discontinued"} and (boxes["detail"] == "").all()
    table = audit_folder(shared, 5)
    assert set(table["table"]) >= {"baseline", "harms", "consort"} and table["protected"].astype(bool).all()
    assert {"not_received", "discontinued"} <= {flow.iloc[r - 1]["stage"] for r in
                                                table.loc[table["table"] == "consort", "row"]}  # fmt: skip


def _harms_frame(any_value):
    rows = []
    for arm, n, a, b, anyv in (("x", 50, 7, 0, any_value), ("y", 50, 9, 6, 12), ("all", 100, 16, 6, 12 + 7)):
        rows += [{"about": "men", "category": "a", "arm": arm, "n": n, "n_with_event": a},
                 {"about": "men", "category": "b", "arm": arm, "n": n, "n_with_event": b},
                 {"about": "men", "category": "any", "arm": arm, "n": n, "n_with_event": anyv}]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_reader_knows_any_event_is_an_event_of_some_category():
    """Arm x: 7 men with an event of a, none of b; 'any' suppressed in x and in the margin. A man with an
    event had one of some category, so x's 'any' is 7, whatever the suppression: the audit must know."""
    from advance_trial.output.disclosure_cells import output_structure

    harms = _harms_frame(SUPPRESSED)
    harms.loc[(harms["arm"] == "all") & (harms["category"] == "any"), "n_with_event"] = SUPPRESSED
    table = audit(output_structure({"harms": harms}), 5)
    cell = table[(table["table"] == "harms") & (table["row"] == 3) & (table["column"] == "n_with_event")].iloc[0]
    assert (cell["lower"], cell["upper"]) == (7, 7) and not cell["protected"]
