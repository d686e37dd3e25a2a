"""Display declarations: a table is added by one builder and one declaration, and disclosure reads the
declarations (no table name in the disclosure modules)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advance_trial.config import Config, load_config
from advance_trial.output import ard
from advance_trial.output import displays as displays_module
from advance_trial.output.display import display, display_of
from advance_trial.output.display_rules import STATES, cond
from advance_trial.output.display_spec import Column, Counted, Display, Label, Proportion, Shape
from advance_trial.output.pivots import table_of
from advance_trial.output.tables import Table
from advance_trial.results import check_results_structure
from advance_trial.results.layout import Layout
from advance_trial.results.verbs import Target, ard_proportion

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "advance_trial" / "output"


def one_visit_results(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """The worked example's builder (docs/displays.md): men who completed the baseline in one visit, by arm."""
    to = Target("one_visit", "baseline", "men randomised", "Baseline in one visit")
    rep = cfg.reporting
    return ard_proportion(men, to, "one_visit", "one_visit", by=[("arm", cfg.arm_ids)], method=rep.proportion_ci,
                          ci_level=rep.ci_level, total="n", count="n_one_visit")  # fmt: skip


def _men(arms: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Men of each arm, ``(n, in one visit)``."""
    return pd.DataFrame([{"arm": a, "one_visit": i < k} for a, (n, k) in arms.items() for i in range(n)])


ONE_VISIT = Display(
    shape=Shape(
        "Baseline in one visit",
        ("arm", "n", "n_one_visit", "proportion", "ci_lower", "ci_upper", "ci_method"),
        Layout(("arm",), "=one_visit", method="ci_method"),
        ("Proportion = men who completed the baseline in one visit / men randomised.",),
    ),
    columns=(Column("Arm", Label("arm", "arm")),
             Column("Baseline in one visit, n/N (%; 95% CI)", Proportion("n_one_visit", "n"))),
    footnotes=lambda cfg, df: ("Men randomised who completed the baseline in one visit.",),
    counts=(Counted("n", lambda r, R: ("men", ())),
            Counted("n_one_visit", lambda r, R: ("men", cond("one_visit", "yes"))),
            Counted("n-n_one_visit", lambda r, R: ("men", cond("one_visit", "no")))),
)  # fmt: skip


@pytest.fixture
def one_visit_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(displays_module.DISPLAYS, "one_visit", ONE_VISIT)


def test_the_worked_example_adds_a_table_by_one_builder_and_one_declaration(one_visit_declared: None) -> None:
    from advance_trial.output.disclosure import shareable_tables
    from advance_trial.output.disclosure_cells import SUPPRESSED, output_structure
    from advance_trial.output.sdc import audit

    cfg = load_config(ROOT / "configs" / "advance-feasibility.yaml")
    rows = one_visit_results(cfg, _men({"advance": (54, 50), "tau": (50, 47)}))
    check_results_structure(rows)
    table = table_of(cfg, "one_visit", rows)  # the contract table: a pivot of the rows, by the declared shape
    frame = table.data
    assert list(frame["arm"]) == ["advance", "tau", "all"] and table.title == "Baseline in one visit"
    assert frame["n_one_visit"].tolist() == [50, 47, 97] and frame["ci_method"].eq("wilson").all()
    # the display: labelled, the proportion as n/N (%; interval), the declared footnote
    shown = display(cfg, table)
    arm_label = cfg.arm("advance").label
    assert list(shown.data.columns) == ["Arm", "Baseline in one visit, n/N (%; 95% CI)"]
    assert list(shown.data["Arm"]) == [arm_label, cfg.arm("tau").label, "Overall"]
    assert shown.data.iloc[0, 1].startswith("50/54 (92.6%; ")
    assert shown.footnotes == ("Men randomised who completed the baseline in one visit.",)
    # a pivot of the results data set gives the table back, and the same display
    results = ard.results_data({"one_visit": table})
    pd.testing.assert_frame_equal(ard.pivot(results, "one_visit"), frame)
    pd.testing.assert_frame_equal(display_of(cfg, results, "one_visit").data, shown.data)
    # its counts are cells of the men, by the row's arm, beside the allocation's
    alloc = pd.DataFrame({"site": ["all"] * 3, "arm": ["advance", "tau", "all"], "n": [54, 50, 104]})
    s = output_structure({"allocation": alloc, "one_visit": frame})
    mine = [c for c in s.cells if c.table == "one_visit"]
    assert {c.population for c in mine} == {"men"}
    assert [c.where for c in mine[:2]] == [(("arm", ("advance",), False),),
                                           (("arm", ("advance",), False), ("one_visit", ("yes",), False))]  # fmt: skip
    # a shareable run suppresses a small difference (4 men of advance not in one visit) and protects it
    shared, protection = shareable_tables(cfg, {"allocation": Table("allocation", alloc), "one_visit": table}, 5)
    assert ("one_visit", 0, "n_one_visit") in protection.complementary | protection.primary
    assert shared["one_visit"].data.iloc[0]["n_one_visit"] == SUPPRESSED
    report = audit(output_structure({n: t.data for n, t in shared.items()}), 5)
    assert len(report) and report["protected"].all()


def _table_names_in(path: Path, skip: tuple[str, ...] = ()) -> list[str]:
    tree = ast.parse(path.read_text())
    skipped = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name in skip
               for n in ast.walk(f)}  # fmt: skip
    tables = set(displays_module.DISPLAYS) | set(ard.layouts())
    return [f"{path.name}:{n.lineno} {n.value}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and n.value in tables and id(n) not in skipped]  # fmt: skip


def test_the_disclosure_and_blinding_modules_name_no_table() -> None:
    """What is withheld, coarsened and counted is declared beside each display; the arms' relabelling and the
    contrasts' turning round (output/blinding.py) read the results rows."""
    found = [name for module in ("disclosure.py", "disclosure_cells.py", "sdc.py", "blinding.py")
             for name in _table_names_in(OUTPUT / module)]  # fmt: skip
    assert found == []
    # the scan finds a name where there is one: the table-by-table reference the declarations replaced
    assert _table_names_in(Path(__file__).with_name("blinding_reference.py"))


def test_what_blinded_and_shareable_runs_withhold_is_read_from_the_declarations() -> None:
    from advance_trial.output.disclosure import PER_MAN, WITHHELD_BLINDED

    assert set(WITHHELD_BLINDED) == {"dose", "dose_summary", "engagement", "dose_distribution", "dose_participants",
                                     "plan", "plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast",
                                     "recruitment_forecast_bands"}  # fmt: skip
    assert set(PER_MAN) == {"scores", "dose_participants"}
    shareable = displays_module.names(lambda d: d.shareable.withheld)
    assert set(shareable) == {"scores", "dose_participants", "dose_distribution", "recruitment_monthly",
                              "recruitment_rate", "engagement", "change"}  # fmt: skip


def test_the_follow_up_states_of_the_displays_are_the_analysis_states() -> None:
    from advance_trial.analysis.subjects import STATES as ANALYSIS_STATES

    assert STATES == ANALYSIS_STATES


def test_every_table_with_counts_has_a_layout_in_the_results_data_set() -> None:
    counted = displays_module.names(lambda d: bool(d.counts))
    assert counted and set(counted) <= set(ard.layouts())


@pytest.mark.parametrize("trial", ["advance-feasibility", "advance-digital", "cranstoun-dvip"])
def test_the_blinded_declarations_keep_what_the_table_by_table_code_kept(trial: str, sample_tables) -> None:
    """The rows and columns a blinded run keeps, read from the declarations (``withhold_blinded``), are those
    the table-by-table code kept (before the arms are relabelled and the contrasts turned round)."""
    from advance_trial.output.disclosure import withhold_blinded
    from tests.blinding_reference import reference_withhold_blinded

    cfg, _, tables = sample_tables(trial)
    codes = {a.id: chr(ord("A") + i) for i, a in enumerate(cfg.arms)}
    old = reference_withhold_blinded(cfg, tables, codes)
    new = withhold_blinded(cfg, tables, codes)
    assert set(new) == set(old)
    for name, t in new.items():
        assert len(t.data) == len(old[name].data), name
        assert list(t.data.columns) == list(old[name].data.columns), name
        assert len(t.footnotes) == len(old[name].footnotes), name


@pytest.mark.parametrize(
    ("medians", "repeat"),
    [
        ([1.0, 1.0, 2.0, 2.0], True),  # each arm's medians the same for both thresholds
        ([1.0, 3.0, 2.0, 2.0], False),  # arm a's differ between thresholds
        ([np.nan, np.nan, 2.0, 2.0], True),  # missing in both: the same
        ([np.nan, 1.0, 2.0, 2.0], False),
    ],
)
def test_medians_repeat_when_every_row_s_medians_are_one_set_for_every_threshold(medians, repeat):
    from advance_trial.output.displays import medians_repeat

    df = pd.DataFrame({"threshold": ["t1", "t2", "t1", "t2"], "arm": ["a", "a", None, None]})
    for c in ("median_sessions", "q1_sessions", "q3_sessions", "median_hours", "q1_hours", "q3_hours"):
        df[c] = medians
    assert medians_repeat(df) is repeat
