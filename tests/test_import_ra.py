"""Issue 37: an import a research assistant can do alone.

A template to fill, a dry run, headers explained and mapped from the command line, every row numbered as
the spreadsheet shows it; and (issue 32, item 7) a refusal that needs the partner file says which and how.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from advance_trial.config import load_config
from advance_trial.importing import ImportRefused, import_files
from tests.conftest import SAMPLES, config_path

CONFIG = config_path("advance-feasibility")
SITE_HEADERS = ["Screen ID", "Site", "Cycle", "Date screened", "Eligible", "Consented", "Participant ID", "Notes"]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".lock" not in p.name}  # fmt: skip


def _messy(path: Path, rows: int = 5) -> Path:
    """The workbook of the issue: a title row, a blank row, the site's own headers on row 3, a Notes column."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Screening"
    ws.append(["ADVANCE screening log - London"])
    ws.append([])
    ws.append(SITE_HEADERS)
    for i in range(rows):
        ws.append([f"SLN9{i:03d}", "London", 3, dt.date(2019, 3, 4 + i), "No", None, None, "rang twice"])
    wb.save(path)
    return path


def _fill(template: Path, rows: list[dict[str, object]]) -> Path:
    """Fill the template's data sheet as a research assistant would in a spreadsheet program."""
    wb = load_workbook(template)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    for r, values in enumerate(rows, 2):
        for header, value in values.items():
            ws.cell(row=r, column=headers.index(header) + 1, value=value)
    out = template.with_name(template.stem + "-filled.xlsx")
    wb.save(out)
    return out


# -- the research assistant's round trip -------------------------------------------------------------------


def test_round_trip_template_fill_dry_run_import(invoke, fresh, tmp_path):
    """Template -> fill (openpyxl) -> dry run (nothing written) -> import: a new man, his screening and his
    participants rows, with no change to the config."""
    before = CONFIG.read_bytes()
    files = {}
    for kind in ("screening", "participants"):
        out = tmp_path / f"{kind}.xlsx"
        done = invoke("import", "template", CONFIG, "--kind", kind, "--site", "london", "--out", out)
        assert done.exit_code == 0, done.output
        files[kind] = out
    wb = load_workbook(files["participants"])
    assert wb.sheetnames[:2] == ["participants", "Instructions"] and wb["Lists"].sheet_state == "hidden"
    validations = wb["participants"].data_validations.dataValidation
    rules = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv for dv in validations}
    headers = [c.value for c in wb["participants"][1]]
    arm_col = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[headers.index("arm")]
    arm_list = rules[arm_col].formula1.split("!")[1].replace("$", "")
    listed = [row[0].value for row in wb["Lists"][arm_list]]
    assert listed == ["advance", "tau"]  # the arms, from the config
    date_col = headers.index("randomised_on") + 1
    assert wb["participants"].cell(row=2, column=date_col).number_format == "yyyy-mm-dd"

    screening = _fill(files["screening"], [{"screen_id": "SLN0999", "site": "london", "cycle": 3,
                                            "screened_on": dt.date(2019, 5, 2), "eligible": "yes",
                                            "consented": "yes", "participant_id": "AF999"}])  # fmt: skip
    participant = _fill(files["participants"], [{"participant_id": "AF999", "site": "london", "cycle": 3,
                                                 "randomised_on": dt.date(2019, 5, 9), "arm": "tau",
                                                 "age": 41, "ethnicity": "white", "employment": "employed",
                                                 "housing": "settled", "main_substance": "alcohol",
                                                 "audit": 14}])  # fmt: skip
    args = ["import", CONFIG, screening, participant, "--data", fresh, "--site", "london",
            "--kind", "screening", "--kind", "participants"]  # fmt: skip
    state = _hashes(fresh)
    preview = invoke(*args, "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "2 new, 0 changed, 0 unchanged, 0 refused: the import would succeed" in " ".join(preview.output.split())
    assert _hashes(fresh) == state  # the dry run wrote nothing, not even the ledger
    done = invoke(*args)
    assert done.exit_code == 0, done.output
    part = pd.read_csv(fresh / "participants.csv", dtype=str, keep_default_na=False)
    row = part[part["participant_id"] == "AF999"].iloc[0]
    assert (row["site"], row["arm"], row["randomised_on"], row["age"]) == ("london", "tau", "2019-05-09", "41")
    scr = pd.read_csv(fresh / "screening.csv", dtype=str, keep_default_na=False)
    assert scr[scr["screen_id"] == "SLN0999"].iloc[0]["screened_on"] == "2019-05-02"
    assert CONFIG.read_bytes() == before


def test_template_uses_the_sites_own_headers_and_words(invoke, fresh, tmp_path):
    """Wolverhampton's rule maps "Client ID" and recodes "DNA": its template says so, and imports as it is."""
    out = tmp_path / "wolverhampton.xlsx"
    assert invoke("import", "template", CONFIG, "--kind", "attendance", "--site", "wolverhampton", "--out",
                  out).exit_code == 0  # fmt: skip
    wb = load_workbook(out)
    headers = [c.value for c in wb["attendance"][1]]
    assert headers[:2] == ["Client ID", "Type"] and "Present" in headers
    listed = {c.value for col in wb["Lists"].iter_cols(min_row=2) for c in col if c.value is not None}
    assert {"1:1", "Group", "Attended", "DNA"} <= listed
    part = pd.read_csv(fresh / "participants.csv", dtype=str)
    man = part[(part["site"] == "wolverhampton") & (part["arm"] == "advance")]["participant_id"].iloc[0]
    filled = _fill(out, [{"Client ID": man, "Type": "1:1", "Session": 1, "Present": "DNA",
                          "Session date": dt.date(2018, 9, 3)}])  # fmt: skip
    cfg = load_config(CONFIG)
    rand = part[part["participant_id"] == man]["randomised_on"].iloc[0]
    wb = load_workbook(filled)
    wb.worksheets[0].cell(row=2, column=headers.index("Session date") + 1, value=dt.date.fromisoformat(rand))
    wb.save(filled)
    (o,) = import_files(cfg, fresh, "wolverhampton", "attendance", [filled], by="ra")
    assert (o.new, o.rejected) == (1, 0)
    att = pd.read_csv(fresh / "attendance.csv", dtype=str)
    assert att.iloc[0][["session_type", "attended"]].tolist() == ["individual", "false"]


def test_template_refuses_an_unknown_site_or_kind_or_folder(invoke, tmp_path):
    for args in (["--kind", "screening", "--site", "nowhere"], ["--kind", "nothing"], ["--kind", "redcap"]):
        done = invoke("import", "template", CONFIG, *args, "--out", tmp_path / "t.xlsx")
        assert done.exit_code == 2, done.output
    done = invoke("import", "template", CONFIG, "--kind", "screening", "--out", tmp_path / "no" / "t.xlsx")
    assert done.exit_code == 2 and "no such folder" in done.output
    assert not list(tmp_path.iterdir())


# -- the messy workbook ------------------------------------------------------------------------------------


def test_messy_workbook_imports_with_map_after_one_message(invoke, fresh, tmp_path):
    """The first answer names row 3 as the header, the columns to map with a guess at each, the options to
    type and the config rule; typing those options imports every row, and the ledger records them."""
    path = _messy(tmp_path / "messy.xlsx")
    args = ["import", CONFIG, path, "--data", fresh, "--site", "london", "--kind", "screening"]
    first = invoke(*args)
    assert first.exit_code == 4
    text = " ".join(first.output.split())
    assert "row 3: row 3 looks like the header" in text and "beyond the header" not in text
    assert "row 1" not in text  # every row numbered as the spreadsheet shows it
    assert "'Screen ID' (likely screen_id)" in text and "'Date screened' (likely screened_on)" in text
    assert "{sites: [london], kinds: [screening], columns: {Screen ID: screen_id" in text
    typed = shlex.split(re.search(r"add to the command: (.*?) \(check each guess", text).group(1))
    assert typed == ["--map", "Screen ID=screen_id", "--map", "Date screened=screened_on",
                     "--map", "Participant ID=participant_id", "--ignore", "Notes"]  # fmt: skip
    second = invoke(*args, *typed)
    assert second.exit_code == 0, second.output
    assert "header on row 3" in second.output
    scr = pd.read_csv(fresh / "screening.csv", dtype=str, keep_default_na=False)
    new = scr[scr["screen_id"].str.startswith("SLN9")]
    assert len(new) == 5 and set(new["screened_on"]) == {f"2019-03-0{d}" for d in range(4, 9)}
    assert "rang twice" not in (fresh / "screening.csv").read_text()
    audit = pd.read_csv(fresh / "import" / "audit.csv", dtype=str, keep_default_na=False)
    assert audit["outcome"].tolist() == ["refused", "imported"]
    assert shlex.split(audit["options"].iloc[-1]) == typed


def test_header_problems_name_the_header_row(advance_cfg, fresh, tmp_path):
    """With the header on row 3, the unknown Notes column is reported at row 3, not row 1."""
    path = _messy(tmp_path / "messy.xlsx")
    with pytest.raises(ImportRefused) as err:
        import_files(advance_cfg, fresh, "london", "screening", [path], by="t",
                     columns={"Screen ID": "screen_id", "Date screened": "screened_on",
                              "Participant ID": "participant_id"})  # fmt: skip
    notes = [p for p in err.value.problems if p.column == "Notes"]
    assert notes and all(p.row == 3 for p in err.value.problems)
    assert '--ignore "Notes"' in notes[0].message


def test_a_title_row_csv_also_finds_and_explains_its_header(advance_cfg, fresh, tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text("ADVANCE screening log\n\n" + ",".join(SITE_HEADERS) + "\nSLN9001,London,3,04/03/2019,No,,,x\n")
    with pytest.raises(ImportRefused) as err:
        import_files(advance_cfg, fresh, "london", "screening", [path], by="t")
    assert err.value.problems[0].row == 3 and "row 3 looks like the header" in err.value.problems[0].message


def test_save_rule_keeps_the_mapping_in_the_config(invoke, fresh, tmp_path):
    config = tmp_path / "trial.yaml"
    shutil.copy(CONFIG, config)
    path = _messy(tmp_path / "messy.xlsx")
    maps = ["--map", "Screen ID=screen_id", "--map", "Date screened=screened_on", "--map",
            "Participant ID=participant_id", "--ignore", "Notes"]  # fmt: skip
    done = invoke("import", config, path, "--data", fresh, "--site", "london", "--kind", "screening", *maps,
                  "--save-rule")  # fmt: skip
    assert done.exit_code == 0, done.output
    cfg = load_config(config)
    rule = cfg.import_[-1]
    assert rule.sites == ["london"] and rule.kinds == ["screening"] and rule.ignore == ["Notes"]
    assert rule.columns["Date screened"] == "screened_on"
    assert config.read_text().startswith(CONFIG.read_text().split("\nimport:")[0])  # the rest kept as it was
    again = _messy(tmp_path / "again.xlsx", rows=6)  # one more row: new bytes
    (o,) = import_files(cfg, fresh, "london", "screening", [again], by="t")
    assert (o.new, o.unchanged) == (1, 5)


@pytest.mark.parametrize(
    ("option", "why"),
    [
        (["--map", "Screen ID=screen_number"], "not a column of screening.csv"),
        (["--map", "Screen ID"], "SITE HEADER=canonical column"),
        (["--map", "Client name=screen_id"], "identifying"),
        (["--save-rule", "--dry-run", "--map", "Screen ID=screen_id"], "writes nothing"),
        (["--save-rule"], "give at least one"),
    ],
)
def test_wrong_map_options_are_usage_errors(invoke, fresh, tmp_path, option, why):
    path = _messy(tmp_path / "messy.xlsx")
    before = _hashes(fresh)
    done = invoke("import", CONFIG, path, "--data", fresh, "--site", "london", "--kind", "screening", *option)
    assert done.exit_code == 2 and why in " ".join(done.output.split()), done.output
    assert _hashes(fresh) == before


# -- the dry run -------------------------------------------------------------------------------------------


def test_dry_run_says_each_rows_fate_and_writes_nothing(invoke, fresh, tmp_path):
    maps = ["--map", "Screen ID=screen_id", "--map", "Date screened=screened_on", "--map",
            "Participant ID=participant_id", "--ignore", "Notes"]  # fmt: skip
    base = ["import", CONFIG, "--data", fresh, "--site", "london", "--kind", "screening", *maps]
    assert invoke(*base[:2], _messy(tmp_path / "messy.xlsx"), *base[2:]).exit_code == 0
    wb = load_workbook(tmp_path / "messy.xlsx")
    ws = wb.active
    ws["D5"] = dt.date(2019, 3, 20)  # row 5 changes its date
    ws["E6"] = "maybe"  # row 6 cannot be read
    ws.append(["SLN9100", "London", 3, dt.date(2019, 3, 25), "yes", "yes", None, None])  # row 9 is new
    wb.save(tmp_path / "second.xlsx")
    before = _hashes(fresh)
    import json

    done = invoke(*base[:2], tmp_path / "second.xlsx", *base[2:], "--dry-run", "--replace", "--json")
    assert done.exit_code == 4
    out = json.loads(done.stdout)
    fates = {r["row"]: (r["status"], r["changes"], r["why"]) for r in out["rows"]}
    assert fates[4][0] == fates[7][0] == fates[8][0] == "unchanged"
    assert fates[5][:2] == ("changed", [{"column": "Date screened (screened_on)", "old": "2019-03-05",
                                         "new": "2019-03-20"}])  # fmt: skip
    assert fates[6][0] == "refused" and "yes or no" in fates[6][2]
    assert fates[9][0] == "new"
    assert out["would_import"] is False and out["problems"][0]["row"] == 6
    assert _hashes(fresh) == before
    shown = invoke(*base[:2], tmp_path / "second.xlsx", *base[2:], "--dry-run", "--replace")
    text = " ".join(shown.output.split())
    assert "1 new, 1 changed, 3 unchanged, 1 refused: the import would be refused; nothing was written" in text
    assert _hashes(fresh) == before


def test_import_config_files_still_imports(invoke, fresh):
    """``import template`` is a command of its own: ``import CONFIG FILE`` works as before."""
    site_file = SAMPLES / "advance-feasibility" / "site-exports" / "london-attendance.xlsx"
    done = invoke("import", CONFIG, site_file, "--data", fresh, "--site", "london", "--kind", "attendance")
    assert done.exit_code == 0, done.output


# -- issue 32, item 7: a refusal that needs the partner file says so -----------------------------------------


@pytest.mark.parametrize(("alone", "partner"), [("screening", "participants"), ("participants", "screening")])
def test_a_new_mans_single_file_refusal_names_the_partner_file_and_the_command(invoke, fresh, tmp_path, alone,
                                                                               partner):  # fmt: skip
    files = {
        "screening": "screen_id,site,cycle,screened_on,eligible,consented,participant_id\n"
                     "SLN0999,london,3,2019-05-02,yes,yes,AF999\n",
        "participants": "participant_id,site,cycle,randomised_on,arm\nAF999,london,3,2019-05-09,tau\n",
    }  # fmt: skip
    paths = {k: tmp_path / f"new-{k}.csv" for k in files}
    for k, text in files.items():
        paths[k].write_text(text)
    done = invoke("import", CONFIG, paths[alone], "--data", fresh, "--site", "london", "--kind", alone)
    assert done.exit_code == 4
    text = " ".join(done.output.split())
    # the row as the research assistant sees it in her file, not the canonical file's row
    assert f"new-{alone}.csv, row 2, column 'participant_id', value 'AF999'" in text
    assert f"give the {partner} file too" in text
    command = re.search(r"in one command: (advance-trial import .*? --kind \w+ --kind \w+)", text).group(1)
    words = shlex.split(command)
    assert words[2:4] == [str(CONFIG), str(paths[alone])] and words[-4:] == ["--kind", alone, "--kind", partner]
    words[words.index(f"{partner.upper()}-FILE")] = str(paths[partner])
    both = invoke(*words[1:])  # the command shown, with the partner file named, brings both
    assert both.exit_code == 0, both.output
    assert "AF999" in (fresh / "participants.csv").read_text() and "SLN0999" in (fresh / "screening.csv").read_text()


def test_a_problem_found_after_the_merge_is_placed_in_the_site_file(advance_cfg, fresh, tmp_path):
    """The final check reads the merged canonical file; its problem is told on the row of the site's file the
    research assistant will look at (it said screening.csv, row 190)."""
    path = tmp_path / "inconsistent.csv"
    path.write_text("screen_id,site,cycle,screened_on,eligible,consented,participant_id\n"
                    "SLN0998,london,3,2019-05-01,yes,yes,\nSLN0999,london,3,2019-05-02,no,yes,\n")  # fmt: skip
    with pytest.raises(ImportRefused) as err:
        import_files(advance_cfg, fresh, "london", "screening", [path], by="t")
    (p,) = err.value.problems
    assert (p.file, p.row, p.column) == ("inconsistent.csv", 3, "consented")
    assert "consent recorded for an ineligible man" in p.message


@pytest.mark.parametrize("trial", ["advance-feasibility", "cranstoun-dvip", "advance-digital"])
def test_a_rule_is_added_to_the_configs_import_rules_keeping_every_other_line(tmp_path, trial):
    from advance_trial.config.edit import add_import_rule

    config = tmp_path / "trial.yaml"
    shutil.copy(config_path(trial), config)
    before = config.read_text().splitlines()
    site = load_config(config).site_ids[0]
    line = add_import_rule(config, {"sites": [site], "kinds": ["screening"], "columns": {"Screen ID": "screen_id"},
                                    "ignore": ["Notes"]})  # fmt: skip
    after = config.read_text().splitlines()
    added = [a for a in after if a not in before]
    assert len(after) == len(before) + (1 if any(b.startswith("import:") for b in before) else 2)
    assert (
        added[-1].strip() == line == f"- {{sites: [{site}], kinds: [screening], columns: {{Screen ID: screen_id}}, "
        "ignore: [Notes]}"
    )
    assert [b for b in after if b in before] == before  # every other line kept, in order
    assert load_config(config).import_[-1].columns == {"Screen ID": "screen_id"}


def test_a_rule_that_would_make_the_config_invalid_is_not_written(tmp_path):
    from advance_trial.config.edit import add_import_rule
    from advance_trial.errors import ConfigError

    config = tmp_path / "trial.yaml"
    shutil.copy(CONFIG, config)
    before = config.read_bytes()
    with pytest.raises(ConfigError):
        add_import_rule(config, {"sites": ["london"], "kinds": ["screening"], "columns": {"Name": "screen_id"}})
    assert config.read_bytes() == before


def test_a_mapped_header_below_a_title_is_found_on_its_sheet_among_others(advance_cfg, fresh, tmp_path):
    """A "Read me" sheet first and the log's header on row 3: the sheet whose first rows hold the mapped header
    is the one read (only row 1 was looked at)."""
    path = _messy(tmp_path / "messy.xlsx")
    wb = load_workbook(path)
    wb.create_sheet("Read me", 0)["A1"] = "How to fill this log"
    wb.save(path)
    (o,) = import_files(advance_cfg, fresh, "london", "screening", [path], by="t", ignore=["Notes"],
                        columns={"Screen ID": "screen_id", "Date screened": "screened_on",
                                 "Participant ID": "participant_id"})  # fmt: skip
    assert (o.new, o.source) == (5, "xlsx sheet 'Screening'; header on row 3")
