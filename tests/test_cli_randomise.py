"""``advance-trial randomise`` through the CLI: output, exit codes, nothing concealed printed."""

from __future__ import annotations

import hashlib
import json

from tests.allocation_helpers import BLINDED
from tests.conftest import config_path

ADV = config_path("advance-feasibility")


def test_allocate_json_and_repeat(invoke, tmp_path):
    log = tmp_path / "log.sqlite"
    first = invoke("randomise", "allocate", ADV, "--log", log, "--participant", "AF001", "--site", "wolverhampton",
                   "--json")  # fmt: skip
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"participant_id": "AF001", "arm": "advance", "sequence": 1}
    again = invoke("randomise", "allocate", ADV, "--log", log, "--participant", "AF001", "--site", "wolverhampton")
    assert again.exit_code == 0 and "nothing written" in again.stdout


def test_allocate_errors_map_to_exit_codes(invoke, tmp_path):
    log = tmp_path / "log.sqlite"
    bad = invoke("randomise", "allocate", ADV, "--log", log, "--participant", "AF 1", "--site", "leeds")
    assert bad.exit_code == 4 and "value 'leeds'" in bad.output and "Traceback" not in bad.output
    factor = invoke("randomise", "allocate", ADV, "--log", log, "--participant", "A1", "--site", "london",
                    "--factor", "cycle")  # fmt: skip
    assert factor.exit_code == 2 and "NAME=VALUE" in factor.output
    single = invoke("randomise", "allocate", config_path("advance-digital"), "--log", log, "--participant", "D1",
                    "--site", "london")  # fmt: skip
    assert single.exit_code == 2 and "single-arm" in single.output


def test_blinded_config_prints_the_code(invoke, tmp_path):
    import re

    cfg = tmp_path / "blinded.yaml"
    text = ADV.read_text()
    cfg.write_text(re.sub(r"^randomisation:\n(?:  .*\n)+", BLINDED, text, flags=re.M))
    out = invoke("randomise", "allocate", cfg, "--log", tmp_path / "l.sqlite", "--participant", "B1", "--site",
                 "london", "--json")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["arm"] in {"K", "Q"}
    plain = invoke("randomise", "allocate", cfg, "--log", tmp_path / "l.sqlite", "--participant", "B1", "--site",
                   "london")  # fmt: skip
    assert "advance" not in plain.stdout and "tau" not in plain.stdout.replace("(", " ")


def test_verify_exit_5_on_a_touched_log(invoke, tmp_path):
    import sqlite3

    log = tmp_path / "log.sqlite"
    for i, site in enumerate(["london", "bristol", "london"]):
        invoke("randomise", "allocate", ADV, "--log", log, "--participant", f"V{i}", "--site", site)
    ok = invoke("randomise", "verify", ADV, "--log", log, "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["allocations"] == 3
    con = sqlite3.connect(log, isolation_level=None)
    con.execute("DROP TRIGGER events_no_update")
    con.execute("UPDATE events SET site = 'bristol' WHERE participant_id = 'V2'")
    con.close()
    bad = invoke("randomise", "verify", ADV, "--log", log)
    assert bad.exit_code == 5 and "row" in bad.output and "edited" in bad.output


def test_list_writes_the_file_and_prints_only_the_commitment(invoke, tmp_path):
    out = tmp_path / "list.csv"
    res = invoke("randomise", "list", ADV, "--n", "8", "--out", out)
    assert res.exit_code == 0
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest in res.stdout and (tmp_path / "list.csv.sha256").read_text().startswith(digest)
    assert "advance" not in res.stdout.replace("advance-feasibility", "") and "tau" not in res.stdout


def test_unblind_and_export(invoke, tmp_path):
    log = tmp_path / "log.sqlite"
    invoke("randomise", "allocate", ADV, "--log", log, "--participant", "U1", "--site", "london")
    res = invoke("randomise", "unblind", ADV, "--log", log, "--participant", "U1", "--reason", "harm", "--by", "dsmb")
    assert res.exit_code == 0 and "unblinding recorded" in res.stdout
    exp = invoke("randomise", "export", ADV, "--log", log, "--out", tmp_path / "alloc.csv")
    assert exp.exit_code == 0
    assert (tmp_path / "alloc.csv").read_text().splitlines()[0].startswith("participant_id,site,arm,sequence")


def test_assess_json(invoke, tmp_path):
    res = invoke("randomise", "assess", ADV, "--n-trials", "500", "--participants", "104", "--split", "54/50",
                 "--json", "--out", tmp_path)  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = {(r["statistic"], r["scope"]): r["value"] for r in json.loads(res.stdout)["summary"]}
    assert 0 <= rows[("p_split_at_least_as_uneven", "54/50")] <= 1
    assert (tmp_path / "assessment.csv").exists()
    bad = invoke("randomise", "assess", ADV, "--participants", "104", "--split", "54-50")
    assert bad.exit_code == 2
