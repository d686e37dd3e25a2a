"""Real exports and identifying text: US dates, mixed encodings, names in a mapping or in a reason.

Measured before: a month-first file had 119 rows accepted with day and month swapped; 13/08/2018 was
called ambiguous; a file mixing UTF-8 and cp1252 was stored as "cafÃ©"; a config mapping Client Name to
group_id validated; a name and phone number typed into a screening reason reached consort.csv.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from advance_trial.config import load_config
from advance_trial.errors import ConfigError, DataError
from advance_trial.importing import ImportRefused, import_files
from advance_trial.importing.convert import file_date_order
from tests.conftest import SAMPLES, config_path

SAMPLE = SAMPLES / "advance-feasibility"
EXPORT = SAMPLE / "site-exports" / "london-attendance.xlsx"


def _as_csv(tmp_path, order: str):
    df = pd.read_excel(EXPORT, dtype=object, engine="calamine")
    fmt = "%m/%d/%Y" if order == "month" else "%d/%m/%Y"
    df["Date"] = pd.to_datetime(df["Date"]).dt.strftime(fmt)
    path = tmp_path / f"london-{order}.csv"
    df.to_csv(path, index=False)
    return path, df


def test_a_month_first_file_is_read_month_first_whatever_the_sites_format(advance_cfg, fresh, tmp_path):
    us, df = _as_csv(tmp_path, "month")
    assert file_date_order([df["Date"]])[0] == "month"
    (out,) = import_files(advance_cfg, fresh, "london", "attendance", [us], by="t")
    got = pd.read_csv(fresh / "attendance.csv", dtype=str)
    other = tmp_path / "other"
    shutil.copytree(fresh, other)
    shutil.rmtree(other / "import")
    (other / "attendance.csv").unlink()
    import_files(advance_cfg, other, "london", "attendance", [EXPORT], by="t")
    assert got.equals(pd.read_csv(other / "attendance.csv", dtype=str))  # the same sessions, same dates
    assert out.rejected == 0


def test_a_file_whose_dates_contradict_each_other_is_refused_naming_rows(advance_cfg, fresh, tmp_path):
    us, df = _as_csv(tmp_path, "month")
    df.loc[3, "Date"] = "25/06/2018"  # one day-first date in a month-first file
    df.to_csv(us, index=False)
    with pytest.raises(DataError) as err:
        import_files(advance_cfg, fresh, "london", "attendance", [us], by="t", accept_valid=True)
    msg = " ".join(p.message for p in err.value.problems)
    assert "contradict each other" in msg and "day first on rows 5" in msg
    assert not (fresh / "attendance.csv").exists()


def test_a_date_with_a_part_above_12_is_never_called_ambiguous():
    order, day, month = file_date_order([pd.Series(["13/08/2018", "01/02/2018", ""])])
    assert (order, day, month) == ("day", [0], [])


def test_a_file_mixing_utf8_and_cp1252_is_refused(advance_cfg, fresh, tmp_path):
    path = tmp_path / "mixed.csv"
    text = "Participant ID,Session type,Session no.,Group,Date,Attended,Hours\n"
    path.write_bytes(text.encode() + "AF001,Group,1,caf\u00e9,04/06/2018,Yes,2\n".encode("utf-8")
                     + "AF001,Group,2,caf\u00e9,11/06/2018,Yes,2\n".encode("cp1252"))  # fmt: skip
    with pytest.raises(DataError) as err:
        import_files(advance_cfg, fresh, "london", "attendance", [path], by="t")
    assert any("mixes UTF-8 and Windows-1252" in p.message and p.row == 3 for p in err.value.problems)


def test_a_mapping_from_an_identifying_column_is_a_config_error(tmp_path):
    text = config_path("advance-feasibility").read_text()
    text = text.replace("import:\n", "import:\n  - {columns: {Client Name: group_id}}\n", 1)
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.exit_code == 3 and "looks identifying" in str(err.value)


@pytest.mark.parametrize("header", ["E-mail", "Tel", "D.O.B."])
def test_identifying_headers_are_named_as_identifying(header):
    from advance_trial.data.schema import is_identifying

    assert is_identifying(header)


def test_a_free_text_reason_is_refused_and_never_written(advance_cfg, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    men = pd.read_csv(SAMPLE / "participants.csv", dtype=str, keep_default_na=False)
    men[men["site"] == "london"].to_csv(data / "participants.csv", index=False)
    scr = pd.read_csv(SAMPLE / "screening.csv", dtype=str, keep_default_na=False)
    scr = scr[scr["site"] == "london"].copy()
    first = scr.index[scr["reason_ineligible"] != ""][0]
    scr.loc[first, "reason_ineligible"] = "John Smith 07700 900123"
    path = tmp_path / "screening.csv"
    scr.to_csv(path, index=False)
    with pytest.raises(ImportRefused) as err:
        import_files(advance_cfg, data, "london", "screening", [path], by="t")
    hits = [p for p in err.value.problems if "not one of the coded reasons" in p.message]
    assert len(hits) == 1 and hits[0].value == "John Smith 07700 900123"  # shown on the terminal
    written = "".join(p.read_text() for p in data.rglob("*.csv"))
    assert "John Smith" not in written and "07700" not in written  # never in the report or the ledger
    import_files(advance_cfg, data, "london", "screening", [path], by="t", accept_valid=True)
    written = "".join(p.read_text() for p in data.rglob("*.csv"))
    assert "John Smith" not in written and "07700" not in written  # nor in the rejected rows


def _copy_sample(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("site-exports"))
    return data


def test_validate_finds_sessions_dated_before_randomisation_a_day_month_swap(invoke, tmp_path):
    data = _copy_sample(tmp_path)
    att = pd.read_csv(data / "attendance.csv", dtype=str, keep_default_na=False)
    swapped = pd.to_datetime(att["session_on"], errors="coerce")
    ok = swapped.notna() & (swapped.dt.day <= 12)
    # what a month-first file read day-first does: 2018-06-04 becomes 2018-04-06
    att.loc[ok, "session_on"] = swapped[ok].dt.strftime("%Y-%d-%m").where(swapped[ok].dt.day != swapped[ok].dt.month,
                                                                         att.loc[ok, "session_on"])  # fmt: skip
    att.to_csv(data / "attendance.csv", index=False)
    res = invoke("config", "validate", config_path("advance-feasibility"), "--data", data)
    assert res.exit_code == 4 and "a session before the man's randomisation" in res.output


def test_dates_in_the_future_or_after_the_cutoff_are_refused(tmp_path):
    from advance_trial.data.canonical import read_canonical

    data = _copy_sample(tmp_path)
    fu = pd.read_csv(data / "followup.csv", dtype=str, keep_default_na=False)
    row = fu.index[fu["completed_on"] != ""][0]
    fu.loc[row, "completed_on"] = "2099-01-01"
    fu.to_csv(data / "followup.csv", index=False)
    cfg = load_config(config_path("advance-feasibility"))
    with pytest.raises(DataError) as err:
        read_canonical(cfg, data)
    assert any(p.message == "a completed follow-up in the future" and p.row == row + 2 for p in err.value.problems)
    fu.loc[row, "completed_on"] = "2019-12-31"
    fu.to_csv(data / "followup.csv", index=False)
    late = cfg.model_copy(
        update={"trial": cfg.trial.model_copy(update={"data_cutoff": pd.Timestamp("2019-06-30").date()})}
    )
    with pytest.raises(DataError) as err:
        read_canonical(late, data)
    assert any("after the data cut-off 2019-06-30" in p.message for p in err.value.problems)


def test_replace_never_moves_a_man_to_another_arm_without_the_log(advance_cfg, tmp_path, monkeypatch):
    # measured before: --replace moved AF002 from tau to advance, exit 0 (AF003 is a tau man here)
    data = _copy_sample(tmp_path)
    men = pd.read_csv(data / "participants.csv", dtype=str, keep_default_na=False)
    row = men[men["participant_id"] == "AF003"].copy()
    assert row["arm"].iat[0] == "tau"
    row["arm"] = "advance"
    path = tmp_path / "fix.csv"
    row.to_csv(path, index=False)
    site = row["site"].iat[0]
    with pytest.raises(ImportRefused) as err:
        import_files(advance_cfg, data, site, "participants", [path], replace=True, by="t")
    assert any("--replace refused: an arm changes only with the allocation log" in p.message
               for p in err.value.problems)  # fmt: skip
    assert "AF003" in (data / "participants.csv").read_text() and men.equals(
        pd.read_csv(data / "participants.csv", dtype=str, keep_default_na=False))  # fmt: skip
    import advance_trial.randomisation.allocation as allocation

    monkeypatch.setattr(allocation, "trial_key", lambda *a, **k: None)
    for logged, accepted in (("tau", False), ("advance", True)):
        frame = pd.DataFrame({"participant_id": ["AF003"], "arm": [logged]})
        monkeypatch.setattr(allocation, "allocations", lambda *a, frame=frame, **k: frame)
        if accepted:
            (out,) = import_files(advance_cfg, data, site, "participants", [path], replace=True, by="t",
                                  log=tmp_path / "log.sqlite")  # fmt: skip
            assert out.replaced == 1
        else:
            with pytest.raises(ImportRefused, match="the allocation log has arm 'tau'"):
                import_files(advance_cfg, data, site, "participants", [path], replace=True, by="t",
                             log=tmp_path / "log.sqlite")  # fmt: skip


def test_a_new_man_arrives_with_his_screening_and_participant_rows_in_one_command(invoke, tmp_path):
    # measured before: screening needed him in participants.csv and participants needed him in screening.csv
    data = _copy_sample(tmp_path)
    scr = tmp_path / "new-screening.csv"
    scr.write_text("screen_id,site,cycle,screened_on,eligible,consented,participant_id,reason_ineligible\n"
                   "SAF9001,london,3,2019-05-01,true,true,AF901,\n")  # fmt: skip
    men = tmp_path / "new-man.csv"
    men.write_text("participant_id,site,cycle,randomised_on,arm\nAF901,london,3,2019-05-02,tau\n")
    for kinds in (["participants"], ["screening"]):  # alone, each is refused
        one = men if kinds == ["participants"] else scr
        res = invoke("import", config_path("advance-feasibility"), one, "--data", data, "--site", "london",
                     "--kind", kinds[0])  # fmt: skip
        assert res.exit_code == 4, res.output
    res = invoke("import", config_path("advance-feasibility"), men, scr, "--data", data, "--site", "london",
                 "--kind", "participants", "--kind", "screening")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "AF901" in (data / "participants.csv").read_text() and "SAF9001" in (data / "screening.csv").read_text()
    audit = pd.read_csv(data / "import" / "audit.csv", dtype=str)
    assert list(audit.loc[audit["outcome"] == "imported", "kind"]) == ["screening", "participants"]


def test_more_than_40_problems_are_all_in_a_file_and_json_errors_are_on_stdout(invoke, tmp_path):
    import json

    data = _copy_sample(tmp_path)
    fu = pd.read_csv(data / "followup.csv", dtype=str, keep_default_na=False)
    done = fu["completed_on"] != ""
    fu.loc[done, "completed_on"] = "2099-01-01"  # every completion in the future
    fu.to_csv(data / "followup.csv", index=False)
    res = invoke("config", "validate", config_path("advance-feasibility"), "--data", data)
    assert res.exit_code == 4 and "... and" in res.output
    path = res.output.split("Every problem: ")[1].split()[0]
    assert len(pd.read_csv(path)) == int(done.sum())
    cfg = config_path("advance-feasibility")
    for args in (["config", "validate", cfg, "--data", data, "--json"],
                 ["run", cfg, "--data", data, "--out", tmp_path / "o", "--json"]):  # fmt: skip
        res = invoke(*args)
        assert res.exit_code == 4
        machine = json.loads(res.stdout)
        assert machine["exit_code"] == 4 and len(machine["problems"]) == int(done.sum())
        assert machine["problems"][0]["problem"] == "a completed follow-up in the future"
