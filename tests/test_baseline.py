"""Table 1 and harms against values computed by hand from the sample's CSV files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advance_trial.analysis import analysis_data
from advance_trial.analysis.baseline import baseline_results, std_difference
from advance_trial.config import load_config
from advance_trial.data.canonical import read_canonical
from advance_trial.feasibility.harms import harms_results
from advance_trial.output.pivots import table_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "advance-feasibility"


@pytest.fixture(scope="module")
def built():
    cfg = load_config(ROOT / "configs" / "advance-feasibility.yaml")
    ads = analysis_data(cfg, read_canonical(cfg, SAMPLE))
    return (
        cfg,
        ads,
        table_of(cfg, "baseline", baseline_results(cfg, ads.men)).data,
        table_of(cfg, "harms", harms_results(cfg, ads)).data,
    )


def _row(df, **keys):
    m = np.ones(len(df), dtype=bool)
    for k, v in keys.items():
        m &= (df[k].astype(str) == v).to_numpy()
    assert m.sum() == 1, keys
    return df[m].iloc[0]


def test_continuous_rows_match_the_csv(built):
    _, _, t1, _ = built
    p = pd.read_csv(SAMPLE / "participants.csv")
    for arm in ("advance", "tau", "all"):
        x = p["audit"] if arm == "all" else p.loc[p["arm"] == arm, "audit"]
        x = x.dropna()
        r = _row(t1, variable="audit", level="", arm=arm)
        assert r["n"] == len(x)
        assert math.isclose(r["mean"], sum(x) / len(x), rel_tol=1e-12)
        assert math.isclose(r["sd"], math.sqrt(sum((v - x.mean()) ** 2 for v in x) / (len(x) - 1)), rel_tol=1e-12)
        s = sorted(x)
        h = (len(s) - 1) * 0.25  # R's quantile type 7
        q1 = s[int(h)] + (h - int(h)) * (s[int(h) + 1] - s[int(h)])
        assert math.isclose(r["q1"], q1, rel_tol=1e-12)
        assert math.isclose(r["median"], float(np.median(s)), rel_tol=1e-12)
    missing = _row(t1, variable="audit", level="missing", arm="all")
    assert missing["n_level"] == p["audit"].isna().sum() == 4


def test_categorical_rows_match_the_csv(built):
    _, _, t1, _ = built
    p = pd.read_csv(SAMPLE / "participants.csv")
    for arm in ("advance", "tau", "all"):
        x = p["housing"] if arm == "all" else p.loc[p["arm"] == arm, "housing"]
        for level in ("settled", "temporary", "homeless"):
            r = _row(t1, variable="housing", level=level, arm=arm)
            assert (r["n"], r["n_level"]) == (len(x), (x == level).sum())
            assert r["proportion"] == (x == level).sum() / len(x)
    assert not (t1["variable"].eq("housing") & t1["level"].eq("missing")).any()  # none missing: no row


def test_outcome_baseline_is_the_scored_measure(built):
    _, ads, t1, _ = built
    r = _row(t1, variable="base_abi_physical", level="", arm="all")
    assert math.isclose(r["mean"], float(ads.men["base_abi_physical"].mean()), rel_tol=1e-12)


def test_standardised_differences_closed_form():
    """Continuous: |m1 - m2| / sqrt((s1^2 + s2^2) / 2); binary: the same with p(1 - p); a categorical
    variable of two levels equals its binary form (Yang and Dalton)."""
    from advance_trial.config.models import BaselineVariable

    cont = BaselineVariable(id="x", label="x")
    a, b = pd.Series([1.0, 2.0, 3.0, 4.0]), pd.Series([2.0, 4.0, 6.0])
    assert math.isclose(std_difference(None, cont, a, b), abs(2.5 - 4.0) / math.sqrt((5 / 3 + 4.0) / 2))
    two = BaselineVariable(id="y", label="y", type="categorical", levels=["u", "v"])
    u, v = pd.Series(["u", "u", "v", "v", "v"]), pd.Series(["u", "v", "v", "v"])
    p, q = 2 / 5, 1 / 4
    expected = abs(p - q) / math.sqrt((p * (1 - p) + q * (1 - q)) / 2)
    assert math.isclose(std_difference(None, two, u, v), expected, rel_tol=1e-12)


def test_standardised_differences_of_the_sample_match_r(built):
    """Yang and Dalton's form for the sample's categorical variables, as R's tableone computes it
    (tableone:::StdDiff with MultinomialVar and MASS::ginv), typed in from R 4.2.2:

        p <- read.csv("data/sample/advance-feasibility/participants.csv")
        mv <- function(m) { s <- -outer(m, m); diag(s) <- m * (1 - m); s }
        smd <- function(x, arm, levels) {
          x <- factor(x, levels = levels); ok <- !is.na(x)
          m <- lapply(split(x[ok], arm[ok]), function(v) as.numeric(prop.table(table(v)))[-1])
          d <- m$advance - m$tau; S <- (mv(m$advance) + mv(m$tau)) / 2
          sqrt(drop(t(d) %*% MASS::ginv(S) %*% d)) }
        smd(p$ethnicity, p$arm, c("white", "black", "asian", "mixed", "other"))  # etc.
        a <- p$audit; abs(diff(tapply(a, p$arm, mean, na.rm = TRUE))) /
          sqrt(mean(tapply(a, p$arm, var, na.rm = TRUE)))
    """
    _, _, t1, _ = built
    got = t1[(t1["arm"] == "all") & t1["std_difference"].notna()].groupby("variable")["std_difference"].first()
    r = {"ethnicity": 0.189157223743083, "employment": 0.431428238988306, "housing": 0.247017894791297,
         "main_substance": 0.437360928320305, "audit": 0.15331684955992}  # fmt: skip
    for variable, value in r.items():
        assert math.isclose(got[variable], value, rel_tol=1e-12), variable


def test_harms_match_the_csv(built):
    _, _, _, harms = built
    ev = pd.read_csv(SAMPLE / "events.csv")
    p = pd.read_csv(SAMPLE / "participants.csv")
    arm = ev["participant_id"].map(p.set_index("participant_id")["arm"])
    for a in ("advance", "tau"):
        own = ev[arm == a]
        r = _row(harms, about="men", category="any", arm=a)
        assert (r["n"], r["n_with_event"], r["events"]) == ((p["arm"] == a).sum(), own["participant_id"].nunique(),
                                                            len(own))  # fmt: skip
        serious = own[own["serious"]]
        assert _row(harms, about="men", category="any_serious", arm=a)["n_with_event"] == serious[
            "participant_id"].nunique()  # fmt: skip
    partner_rows = harms[harms["about"] == "partners"]
    assert set(partner_rows.columns) == {"about", "category", "arm", "n", "n_with_event", "proportion", "events"}
    assert _row(harms, about="partners", category="any", arm="all")["events"] == ev["partner_id"].notna().sum()


def test_a_baseline_value_outside_its_levels_is_named(tmp_path):
    import shutil

    from advance_trial.errors import DataError

    cfg = load_config(ROOT / "configs" / "advance-feasibility.yaml")
    data = tmp_path / "d"
    shutil.copytree(SAMPLE, data)
    p = pd.read_csv(data / "participants.csv", dtype=str, keep_default_na=False)
    p.loc[3, "housing"], p.loc[5, "age"] = "castle", "forty"
    p.to_csv(data / "participants.csv", index=False, lineterminator="\n")
    with pytest.raises(DataError) as info:
        read_canonical(cfg, data)
    found = {(x.row, x.column, x.value) for x in info.value.problems}
    assert found == {(5, "housing", "castle"), (7, "age", "forty")}


def test_a_site_imports_its_events_and_a_free_text_reason_is_refused(tmp_path):
    """events.csv comes in through import like any canonical file; a reason that is not coded never enters."""
    import shutil

    from advance_trial.errors import DataError
    from advance_trial.importing import import_files

    cfg = load_config(ROOT / "configs" / "advance-feasibility.yaml")
    data = tmp_path / "data"
    data.mkdir()
    for name in ("screening", "participants", "attendance", "followup", "measures", "partners"):
        shutil.copy(SAMPLE / f"{name}.csv", data)
    london = pd.read_csv(SAMPLE / "participants.csv").query("site == 'london'")["participant_id"].tolist()
    site_file = tmp_path / "london-events.csv"
    site_file.write_text("event_id,participant_id,partner_id,event_on,category,serious,related\n"
                         f"EL001,{london[0]},,2019-02-01,arrest,false,false\n"
                         f"EL002,{london[1]},,2019-03-04,hospital_admission,true,false\n")  # fmt: skip
    import_files(cfg, data, "london", "events", [site_file], by="test")
    events = read_canonical(cfg, data).events
    assert events["event_id"].tolist() == ["EL001", "EL002"] and events["serious"].tolist() == [False, True]
    men = pd.read_csv(data / "participants.csv", dtype=str, keep_default_na=False)
    row = men.index[men["participant_id"] == london[2]][0]
    men.loc[row, "reason_not_received"] = "told me his name is John Smith"
    bad = tmp_path / "london-participants.csv"
    men[men["site"] == "london"].to_csv(bad, index=False)
    with pytest.raises(DataError) as err:
        import_files(cfg, data, "london", "participants", [bad], by="test", replace=True)
    assert any(p.column and "reason_not_received" in p.column and "not one of the coded reasons" in p.message
               for p in err.value.problems)  # fmt: skip
    written = [f.read_text(errors="replace") for f in data.rglob("*") if f.is_file()]
    assert written and not any("John Smith" in text for text in written)  # nor in the refusal report


def test_table_1_display_cells_are_the_tables_numbers_formatted(built):
    """The report's Table 1: n (%) with percent_digits, mean (SD) and median [Q1, Q3] with the digits, by
    hand from the CSV."""
    from advance_trial.output.display import display
    from advance_trial.output.tables import Table

    cfg, _, t1, _ = built
    shown = display(cfg, Table("baseline", t1, "Baseline")).data
    assert list(shown.columns) == [
        "Characteristic",
        "ADVANCE + treatment as usual (n=54)",
        "Treatment as usual (n=50)",
        "Overall (n=104)",
        "Standardised difference",
    ]
    p = pd.read_csv(SAMPLE / "participants.csv")
    row = shown[shown["Characteristic"] == "    Settled accommodation"].iloc[0]
    k = int((p.loc[p["arm"] == "tau", "housing"] == "settled").sum())
    assert row["Treatment as usual (n=50)"] == f"{k} ({100 * k / 50:.1f}%)"
    age = p.loc[p["arm"] == "advance", "age"]
    row = shown[shown["Characteristic"] == "Age (years), mean (SD)"].iloc[0]
    assert row["ADVANCE + treatment as usual (n=54)"] == f"{age.mean():.1f} ({age.std():.1f})"
    assert (shown["Characteristic"] == "    missing").sum() == 3  # audit and the two ABI baselines
