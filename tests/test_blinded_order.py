"""Issue 32, attack 5: blinded outputs must not say which code is the intervention by order or position.

The codes are chosen so that the intervention's (``B``) sorts last, and the site files list the intervention's
men first: a listing of men is ordered by participant, and in every other blinded CSV, Markdown and HTML output
the control's code comes first, as the codes sort."""

from __future__ import annotations

import re
import shutil

import pandas as pd

from advance_trial.output.tables import Table
from tests.conftest import SAMPLES, config_path

ADV = config_path("advance-feasibility")
KEY = "arm,code\nadvance,B\ntau,A\n"  # the intervention's code sorts last


def test_a_blinded_listing_of_men_is_ordered_by_participant_not_by_arm(advance_cfg):
    from advance_trial.output.blinding import blind_tables

    grouped = pd.DataFrame({"participant_id": ["AF002", "AF004", "AF004", "AF001", "AF003"],
                            "arm": ["advance", "advance", "advance", "tau", "tau"],
                            "timepoint": ["baseline", "baseline", "week16", "baseline", "baseline"],
                            "abi_physical": [1.0, 2.0, 3.0, 4.0, 5.0]})  # fmt: skip
    out = blind_tables(advance_cfg, {"scores": Table("scores", grouped, "Scores")}, {"advance": "B", "tau": "A"})
    listed = out["scores"].data
    assert listed["participant_id"].tolist() == ["AF001", "AF002", "AF003", "AF004", "AF004"]
    assert listed["arm"].tolist() == ["A", "B", "A", "B", "B"]
    assert listed["timepoint"].tolist()[-2:] == ["baseline", "week16"]  # a man's rows keep their order


def test_no_blinded_output_lists_the_intervention_first(tmp_path):
    from advance_trial.pipeline import RunOptions, run

    data = tmp_path / "data"
    shutil.copytree(SAMPLES / "advance-feasibility", data)
    men = pd.read_csv(data / "participants.csv", dtype=str, keep_default_na=False)
    first = men.sort_values("arm", key=lambda s: s.ne("advance"), kind="stable")  # the intervention's men first
    first.to_csv(data / "participants.csv", index=False)
    rank = {p: i for i, p in enumerate(first["participant_id"])}
    for name in ("measures", "followup", "attendance"):
        t = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
        t.sort_values("participant_id", key=lambda s: s.map(rank), kind="stable").to_csv(data / f"{name}.csv",
                                                                                         index=False)  # fmt: skip
    (tmp_path / "key.csv").write_text(KEY)
    out = tmp_path / "blinded"
    run(ADV, data, out, options=RunOptions(blinded=True, key=str(tmp_path / "key.csv")))
    code = {c: re.compile(rf"(?<![\w-]){c}(?![\w-])") for c in "AB"}
    checked = 0
    for p in sorted(out.iterdir()):
        if p.suffix not in (".csv", ".md", ".html"):
            continue
        text = p.read_text(encoding="utf-8")
        if p.name == "scores.csv":
            ids = pd.read_csv(p, dtype=str)["participant_id"].tolist()
            assert ids == sorted(ids)
            continue
        a, b = code["A"].search(text), code["B"].search(text)
        if b is not None:
            assert a is not None and a.start() < b.start(), (p.name, text[max(0, b.start() - 80) : b.start() + 20])
            checked += 1
    assert checked >= 15
