"""The allocation log: allocation, ids, replay, concealment, every tampering attack, amendments, operations."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import warnings
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.errors import ConfigError, DataError, IntegrityError, UsageError
from advance_trial.randomisation import allocation as al
from advance_trial.randomisation.key import DemonstrationKeyWarning, create_key, load_key, read_checkpoint
from advance_trial.randomisation.log import open_log
from advance_trial.redcap.allocation import redcap_table
from tests.allocation_helpers import BLINDED, BLOCKS, MINIMISATION, SIMPLE, make_trial, retag_all, tamper
from tests.conftest import DEMO_KEYS, ROOT, SAMPLES, config_path

SITES = ("london", "wolverhampton", "bristol")


def fill(t, n, start=0, prefix="AF"):
    cfg = t.cfg
    out = []
    for i in range(start, start + n):
        factors = {"cycle": str(1 + i % 3)} if cfg.randomisation.method == "minimisation" else {}
        out.append(al.allocate(cfg, t.ring, f"{prefix}{i:03d}", SITES[i % 3], factors))
    return out


def rows(t):
    con = sqlite3.connect(t.log)
    try:
        return con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def trial(tmp_path):
    return make_trial(tmp_path)


@pytest.fixture
def filled(trial):
    fill(trial, 12)
    al.unblind(trial.cfg, trial.ring, "AF004", "serious adverse event needs the arm")
    return trial


# ---------------------------------------------------------------------------- the sample and the basics


def test_replaying_the_sample_through_allocate_reproduces_its_arm_column(tmp_path, advance_cfg):
    """The sample's men, in randomisation order, through allocate with the demonstration key: 54/50."""
    keys = tmp_path / "keys"
    shutil.copytree(DEMO_KEYS, keys)
    for p in keys.glob("*.checkpoint.json"):
        p.unlink()
    with pytest.warns(DemonstrationKeyWarning, match="DEMONSTRATION"):
        ring = load_key(keys, advance_cfg.trial.id, advance_cfg.randomisation.key_fingerprint)
    log = tmp_path / "log" / "log.sqlite"
    al.init_log(advance_cfg, ring, log)
    men = pd.read_csv(SAMPLES / "advance-feasibility" / "participants.csv").sort_values("participant_id")
    arms = [al.allocate(advance_cfg, ring, r.participant_id, r.site, log=log).arm for r in men.itertuples()]
    assert arms == list(men["arm"])
    assert (arms.count("advance"), arms.count("tau")) == (54, 50)
    assert al.verify_log(advance_cfg, ring, log).allocations == 104


def test_asking_again_returns_the_same_arm_and_writes_nothing(trial):
    first = al.allocate(trial.cfg, trial.ring, "AF001", "london")
    n = rows(trial)
    again = al.allocate(trial.cfg, trial.ring, " AF001 ", "London")
    assert (again.arm, again.sequence, again.new, first.new) == (first.arm, 1, False, True)
    assert rows(trial) == n and not again.receipt
    with pytest.raises(DataError, match="was allocated with site=london"):
        al.allocate(trial.cfg, trial.ring, "AF001", "bristol")


def test_bad_requests_exit_4_naming_every_problem(trial):
    with pytest.raises(DataError) as err:
        al.allocate(trial.cfg, trial.ring, "AF001", "leeds", {"colour": "red", "cycle": "9"})
    text = "\n".join(err.value.details())
    assert err.value.exit_code == 4 and len(err.value.problems) == 3
    for words in ("'--site', value 'leeds'", "'--factor colour'", "value '9'"):
        assert words in text
    with pytest.raises(DataError, match="must match"):
        al.allocate(trial.cfg, trial.ring, "AF 001", "london")
    assert rows(trial) == 1


@pytest.mark.parametrize("variant_id", ["AF-001", "af001", "AF_001", "AF.001"])
def test_variants_of_an_allocated_id_are_refused_as_the_same_man(tmp_path, variant_id):
    t = make_trial(
        tmp_path,
        BLOCKS.replace(
            "  block_sizes", '  participant_id_pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]$"\n  block_sizes'
        ),
    )
    al.allocate(t.cfg, t.ring, "AF001", "london")
    with pytest.raises(DataError, match="the same man as AF001"):
        al.allocate(t.cfg, t.ring, variant_id, "london")


@pytest.mark.parametrize("raw", ["P001.", "P001_", "-P001", "P 001"])
def test_the_default_pattern_refuses_trailing_or_leading_punctuation(tmp_path, raw):
    t = make_trial(tmp_path, BLOCKS)
    with pytest.raises(DataError, match="must match|may not begin"):
        al.allocate(t.cfg, t.ring, raw, "london")


def test_a_case_insensitive_pattern_folds_ids_to_upper_case(tmp_path):
    t = make_trial(
        tmp_path, BLOCKS.replace("  block_sizes", '  participant_id_pattern: "(?i)^af[0-9]{3}$"\n  block_sizes')
    )
    a = al.allocate(t.cfg, t.ring, "af007", "london")
    assert a.participant_id == "AF007"
    assert al.allocate(t.cfg, t.ring, "Af007", "london").new is False


def test_single_arm_design_refuses(trial):
    from advance_trial.config import load_config

    with pytest.raises(UsageError, match="single-arm"):
        al.allocate(load_config(config_path("advance-digital")), trial.ring, "D1", "london")


@pytest.mark.parametrize("block", [SIMPLE, MINIMISATION, BLINDED], ids=["simple", "minimisation", "blinded"])
def test_other_methods_allocate_and_replay(tmp_path, block):
    t = make_trial(tmp_path, block, key=bytes(range(32)))  # a fixed key: the imbalance check below is exact
    got = fill(t, 60)
    assert al.verify_log(t.cfg, t.ring).allocations == 60
    assert [a.sequence for a in got] == list(range(1, 61))
    counts = pd.Series([a.arm for a in got]).value_counts()
    assert set(counts.index) == {"advance", "tau"}
    if block is MINIMISATION:
        assert abs(counts["advance"] - counts["tau"]) <= 4


def test_missing_minimisation_factor(tmp_path):
    t = make_trial(tmp_path, MINIMISATION)
    with pytest.raises(DataError, match="missing: give cycle=VALUE"):
        al.allocate(t.cfg, t.ring, "AF001", "london")


@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from(SITES), min_size=1, max_size=20))
def test_same_key_and_order_give_the_same_arms_in_any_log(sites):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        t = make_trial(Path(tmp), MINIMISATION)
        first = [al.allocate(t.cfg, t.ring, f"AF{i:03d}", s, {"cycle": "2"}).arm for i, s in enumerate(sites)]
        second_log = Path(tmp) / "log2" / "log.sqlite"
        t.ring.checkpoint_path.unlink()
        al.init_log(t.cfg, t.ring, second_log)
        again = [al.allocate(t.cfg, t.ring, f"AF{i:03d}", s, {"cycle": "2"}, log=second_log).arm
                 for i, s in enumerate(sites)]  # fmt: skip
        assert first == again


# ---------------------------------------------------------------------------- concealment


def test_nothing_in_the_config_or_the_log_names_an_arm_or_a_list(filled):
    assert "seed" not in filled.config.read_text().split("randomisation:")[1].split("schedule:")[0]
    con = sqlite3.connect(filled.log)
    for row in con.execute("SELECT * FROM events WHERE kind != 'init'"):  # init records the design: arm ids, ratios
        text = json.dumps(row)
        assert '"advance"' not in text and '"tau"' not in text and "advance," not in text
    lengths = {len(s) for (s,) in con.execute("SELECT sealed FROM events WHERE sealed IS NOT NULL")}
    assert len(lengths) == 1  # a ciphertext's length does not tell 'tau' from 'advance'
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"meta", "events"}  # no stored list of future allocations
    for (draw,) in con.execute("SELECT sealed FROM events WHERE kind = 'allocation'"):
        assert "position" not in draw and "block" not in draw
    con.close()


def test_another_key_predicts_nothing_the_log_allocates(tmp_path):
    a, b = make_trial(tmp_path / "a"), make_trial(tmp_path / "b")
    arms_a = [x.arm for x in fill(a, 40)]
    arms_b = [x.arm for x in fill(b, 40)]
    assert arms_a != arms_b


def test_log_key_and_checkpoint_are_private(filled):
    for path in (filled.log, filled.ring.key_path, filled.ring.checkpoint_path, filled.ring.signing_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (filled.log.parent, filled.keys):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as a second local user")
def test_a_second_local_user_cannot_read_the_log_or_the_key(filled):
    for path in (filled.log, filled.ring.key_path):
        pid = os.fork()
        if pid == 0:  # the child becomes 'nobody' and tries to read
            try:
                os.setgid(65534)
                os.setuid(65534)
                path.read_bytes()
                os._exit(0)
            except PermissionError:
                os._exit(13)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 13, path


def test_a_readable_key_or_log_is_refused(filled):
    os.chmod(filled.ring.key_path, 0o644)
    with pytest.raises(UsageError, match="can be read by other users"):
        load_key(filled.keys, "advance-feasibility", filled.ring.fingerprint)
    os.chmod(filled.ring.key_path, 0o600)
    os.chmod(filled.log, 0o644)
    with pytest.raises(UsageError, match="open to other users"):
        fill(filled, 1, 50)


def test_the_key_is_created_once(trial):
    with pytest.raises(UsageError, match="already exists"):
        create_key(trial.keys, "advance-feasibility")


def test_the_config_must_carry_the_keys_fingerprint(trial):
    with pytest.raises(ConfigError, match="not the fingerprint"):
        load_key(trial.keys, "advance-feasibility", "0" * 64)
    with pytest.raises(ConfigError, match="missing"):
        load_key(trial.keys, "advance-feasibility", None)


@pytest.mark.parametrize("inside", ["configs", "data", "out", "log"])
def test_a_key_folder_beside_what_others_read_is_refused(trial, inside):
    folder = {"configs": trial.config.parent, "data": trial.root / "data", "out": trial.root / "out",
              "log": trial.log.parent}[inside] / "keys"  # fmt: skip
    with pytest.raises(UsageError, match="kept apart"):
        al.trial_key(trial.cfg, folder, data=trial.root / "data", out=trial.root / "out")


def test_the_demonstration_key_is_named_whenever_it_is_used(advance_cfg):
    with pytest.warns(DemonstrationKeyWarning):
        ring = load_key(DEMO_KEYS, advance_cfg.trial.id, advance_cfg.randomisation.key_fingerprint)
    assert ring.demo


def test_the_derivation_is_pinned():
    """Known answers: a change to the derivation (or to a library under it) changes these and fails."""
    from advance_trial import randomise as rz

    stream = rz.Stream(bytes(32), "t", "list", 0, "[]")
    # hmac.new(bytes(32), b'["advance-trial/hmac-sha256/1","t","list",0,"[]",1,0]', hashlib.sha256).hexdigest()[:16]
    assert stream.block(1).hex()[:16] == __import__("hmac").new(
        bytes(32), b'["advance-trial/hmac-sha256/1","t","list",0,"[]",1,0]', "sha256").hexdigest()[:16]  # fmt: skip
    blocks = rz.BlockList(stream, ("a", "b"), (1, 1), (2, 4))
    assert "".join(blocks.at(i).arm for i in range(1, 21)) == "abbaabaabbabbaababab"


# ---------------------------------------------------------------------------- tampering


TAMPERING = {
    "edit-sealed-arm": (
        ["UPDATE events SET sealed = (SELECT sealed FROM events WHERE row = 3) WHERE row = 6"],
        "row 6",
    ),
    "edit-actor": (["UPDATE events SET actor = 'someone else' WHERE row = 4"], "row 4"),
    "edit-factors": (["UPDATE events SET site = 'bristol' WHERE row = 5"], "row 5"),
    "delete": (["DELETE FROM events WHERE row = 7"], "row 8"),
    "delete-and-renumber": (
        ["DELETE FROM events WHERE row = 7", "UPDATE events SET row = row - 1 WHERE row > 7"],
        "row 7",
    ),  # fmt: skip
    "insert": (
        [
            "INSERT INTO events SELECT 100, kind, 99, 'AF999', 'af999', site, stratum, factors, sealed, actor, "
            "note, at_utc, on_date, config_version, config_sha256, detail, prev_tag, tag FROM events WHERE row = 5"
        ],
        "row 100",
    ),  # fmt: skip
    "reorder": (
        [
            "UPDATE events SET row = -1 WHERE row = 5",
            "UPDATE events SET row = 5 WHERE row = 6",
            "UPDATE events SET row = 6 WHERE row = -1",
        ],
        "row 5",
    ),  # fmt: skip
    "cut-the-end": (["DELETE FROM events WHERE row = (SELECT MAX(row) FROM events)"], "cut off the end"),
    "delete-the-unblinding": (["DELETE FROM events WHERE kind = 'unblinding'"], "cut off the end"),
    "claim-another-derivation": (
        ["UPDATE events SET detail = replace(detail, 'hmac-sha256/1', 'hmac-sha256/0') WHERE row = 1"],
        "row 1",
    ),
    "swap-log-id": (["UPDATE meta SET value = 'ffff' WHERE key = 'log_id'"], "row 1"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_caught_naming_the_first_bad_row(filled, case):
    sql, where = TAMPERING[case]
    al.verify_log(filled.cfg, filled.ring)
    tamper(filled.log, *sql)
    with pytest.raises(IntegrityError, match=where) as err:
        al.verify_log(filled.cfg, filled.ring)
    assert err.value.exit_code == 5


def test_a_whole_chain_rewrite_with_the_projects_own_code_is_caught(filled, tmp_path):
    """Two men's arms swapped and every tag recomputed with the project's tagging code, under a guessed key."""
    tamper(filled.log, "UPDATE events SET sealed = (SELECT sealed FROM events WHERE row = 3) WHERE row = 2")
    guess = create_key(tmp_path / "attacker", "advance-feasibility")
    retag_all(filled.log, guess)
    with pytest.raises(IntegrityError, match="row 1: "):
        al.verify_log(filled.cfg, filled.ring)


def test_the_file_replaced_by_an_older_copy_is_caught(filled, tmp_path):
    old = tmp_path / "old.sqlite"
    con = sqlite3.connect(filled.log)
    con.execute(f"VACUUM INTO '{old}'")
    con.close()
    fill(filled, 3, 20)
    shutil.copyfile(old, filled.log)
    for suffix in ("-wal", "-shm"):
        (filled.log.parent / (filled.log.name + suffix)).unlink(missing_ok=True)
    with pytest.raises(IntegrityError, match="older copy"):
        al.verify_log(filled.cfg, filled.ring)


def test_an_edited_or_missing_checkpoint_is_caught(filled):
    cp = filled.ring.checkpoint_path
    body = json.loads(cp.read_text())
    body["row"] -= 1
    cp.write_text(json.dumps(body))
    with pytest.raises(IntegrityError, match="does not authenticate"):
        al.verify_log(filled.cfg, filled.ring)
    cp.unlink()
    with pytest.raises(IntegrityError, match="no checkpoint"):
        al.verify_log(filled.cfg, filled.ring)


def test_a_step_killed_between_commit_and_checkpoint_is_whole_and_a_rolled_back_checkpoint_is_not(filled):
    cp = filled.ring.checkpoint_path
    before = cp.read_bytes()
    fill(filled, 1, 30)
    cp.write_bytes(before)  # as if killed after the commit, before the checkpoint moved
    assert al.verify_log(filled.cfg, filled.ring).allocations == 13
    fill(filled, 1, 31)  # the next step moves it on
    assert read_checkpoint(filled.ring).row == rows(filled)
    fill(filled, 1, 32)
    cp.write_bytes(before)  # two steps back: the checkpoint was put back
    with pytest.raises(IntegrityError, match="goes on past the checkpoint"):
        al.verify_log(filled.cfg, filled.ring)


def test_receipts_the_log_does_not_contain_are_caught(filled):
    a = al.allocate(filled.cfg, filled.ring, "AF050", "london")
    assert al.verify_log(filled.cfg, filled.ring, receipts=[a.receipt]).receipts == 1
    forged = {**a.receipt, "tag": "0" * 64}
    with pytest.raises(IntegrityError, match="does not contain it"):
        al.verify_log(filled.cfg, filled.ring, receipts=[forged])
    other = {**a.receipt, "log_id": "beef"}
    with pytest.raises(IntegrityError, match="another log"):
        al.verify_log(filled.cfg, filled.ring, receipts=[other])


def test_signed_receipts_check_with_the_public_key_alone(filled):
    from advance_trial.randomisation.key import check_receipt_signature

    a = al.allocate(filled.cfg, filled.ring, "AF051", "london")
    public = filled.ring.public_path.read_bytes()
    check_receipt_signature(a.receipt, public)
    assert "arm" not in a.receipt
    with pytest.raises(IntegrityError, match="does not verify"):
        check_receipt_signature({**a.receipt, "sequence": a.receipt["sequence"] + 1}, public)


@pytest.mark.parametrize("act", ["allocate", "unblind", "export", "correct", "list"])
def test_nothing_acts_on_a_log_that_fails_verify(filled, act):
    tamper(filled.log, "UPDATE events SET actor = 'x' WHERE row = 3")
    before, checkpoint = rows(filled), filled.ring.checkpoint_path.read_bytes()
    reason = "steering committee asked for it"
    with pytest.raises(IntegrityError):
        {
            "allocate": lambda: fill(filled, 1, 40),
            "unblind": lambda: al.unblind(filled.cfg, filled.ring, "AF001", reason),
            "export": lambda: al.export(filled.cfg, filled.ring, reason),
            "correct": lambda: al.correct(filled.cfg, filled.ring, "AF001", reason),
            "list": lambda: al.concealed_list(filled.cfg, filled.ring, 5, reason),
        }[act]()
    assert rows(filled) == before and filled.ring.checkpoint_path.read_bytes() == checkpoint


# ---------------------------------------------------------------------------- the log's design and place


@pytest.mark.parametrize(
    "old, new, key",
    [("label: Treatment as usual, ratio: 1}", "label: Treatment as usual, ratio: 2}", "arms[tau].ratio"),
     ("block_sizes: [2, 4]", "block_sizes: [2, 6]", "randomisation.block_sizes"),
     ("strata: [site]", "strata: [site, cycle]", "randomisation.strata")],
)  # fmt: skip
def test_a_design_change_is_refused_until_amended(trial, old, new, key):
    fill(trial, 4)
    text = trial.config.read_text()
    trial.config.write_text(text.replace(old, new).replace("block_sizes: [2, 4]", "block_sizes: [3, 6]")
                            if "ratio: 2" in new else text.replace(old, new))  # fmt: skip
    factors = {"cycle": "1"} if "cycle" in new else {}
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")) as err:
        al.allocate(trial.cfg, trial.ring, "AF100", "london", factors)
    assert err.value.exit_code == 3
    with pytest.raises(ConfigError, match="must be higher"):
        al.amend(trial.cfg, trial.ring, "protocol amendment two approved")
    trial.config.write_text(trial.config.read_text().replace('version: "1.0.0"', 'version: "1.1.0"'))
    detail = al.amend(trial.cfg, trial.ring, "protocol amendment two approved")
    assert key in detail["changed"] and detail["epoch"] == 1
    a = al.allocate(trial.cfg, trial.ring, "AF100", "london", factors)
    assert a.sequence == 5
    assert al.verify_log(trial.cfg, trial.ring).amendments == 1


def test_an_amended_ratio_is_followed(trial):
    fill(trial, 2)  # under the first design
    trial.config.write_text(
        trial.config.read_text()
        .replace("{id: tau, label: Treatment as usual, ratio: 1}", "{id: tau, label: Treatment as usual, ratio: 2}")
        .replace("block_sizes: [2, 4]", "block_sizes: [3]")
        .replace('version: "1.0.0"', 'version: "2.0.0"')
    )
    al.amend(trial.cfg, trial.ring, "two to one from now on")
    arms = [a.arm for a in fill(trial, 27, start=2)]
    assert arms.count("tau") == 18 and arms.count("advance") == 9  # 9 a site: three whole blocks of 3


def test_the_log_lives_where_the_config_says_and_is_never_created_by_allocate(tmp_path, monkeypatch):
    t = make_trial(tmp_path, init=False)
    monkeypatch.chdir(tmp_path / "configs")
    with pytest.raises(UsageError, match="randomise init"):
        al.allocate(t.cfg, t.ring, "AF001", "london")
    assert not t.log.exists() and not t.log.parent.exists()
    t.init()
    monkeypatch.chdir(ROOT)
    assert al.log_path(t.cfg).path == t.log and al.allocate(t.cfg, t.ring, "AF001", "london").new


def test_a_second_init_is_refused(trial):
    with pytest.raises(UsageError, match="created already"):
        al.init_log(trial.cfg, trial.ring, trial.root / "elsewhere" / "log.sqlite")


# ---------------------------------------------------------------------------- operations


def test_the_actor_is_the_os_user_and_a_note_is_only_a_note(trial):
    import pwd

    al.allocate(trial.cfg, trial.ring, "AF001", "london", note="Chief Investigator")
    frame = al.allocations(trial.cfg, trial.ring)
    assert frame["allocated_by"].iat[0] == pwd.getpwuid(os.geteuid()).pw_name


def test_unblinding_needs_a_reason_in_words_and_reveals_one_man(filled):
    with pytest.raises(UsageError, match="at least 3 different words"):
        al.unblind(filled.cfg, filled.ring, "AF001", ".")
    with pytest.raises(DataError, match="not allocated"):
        al.unblind(filled.cfg, filled.ring, "AF999", "safeguarding concern raised today")
    a = al.unblind(filled.cfg, filled.ring, "AF001", "safeguarding concern raised today")
    assert a.arm == al.allocations(filled.cfg, filled.ring).set_index("participant_id").at["AF001", "arm"]
    assert al.verify_log(filled.cfg, filled.ring).unblindings == 2


def test_export_is_an_event_with_who_why_and_how_many(filled):
    with pytest.raises(UsageError, match="reason"):
        al.export(filled.cfg, filled.ring, "x")
    frame = al.export(filled.cfg, filled.ring, "data manager builds participants.csv")
    assert list(frame.columns[:9]) == ["participant_id", "site", "arm", "sequence", "allocated_at", "randomised_on",
                                       "allocated_by", "source", "randomised_in_error"]  # fmt: skip
    assert list(frame["sequence"]) == list(range(1, 13))
    store = open_log(filled.log, filled.ring)
    last = store.events()[-1]
    store.close()
    assert last["kind"] == "export" and json.loads(last["detail"]) == {
        "reason": "data manager builds participants.csv", "men": 12, "with": "arms"}  # fmt: skip
    assert al.verify_log(filled.cfg, filled.ring).exports == 1


def test_correction_flags_a_man_randomised_in_error(filled):
    al.correct(filled.cfg, filled.ring, "AF003", "he was not eligible after all")
    frame = al.allocations(filled.cfg, filled.ring).set_index("participant_id")
    assert bool(frame.at["AF003", "randomised_in_error"]) and not frame.drop("AF003")["randomised_in_error"].any()
    with pytest.raises(DataError, match="already recorded"):
        al.correct(filled.cfg, filled.ring, "AF003", "he was not eligible after all")
    assert al.verify_log(filled.cfg, filled.ring).corrections == 1


def test_require_eligible_checks_the_screening_row(tmp_path):
    t = make_trial(tmp_path, BLOCKS.replace("  block_sizes", "  require_eligible: true\n  block_sizes"))
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SAMPLES / "advance-feasibility" / "screening.csv", data)
    with pytest.raises(UsageError, match="--data"):
        al.allocate(t.cfg, t.ring, "AF001", "wolverhampton")
    assert al.allocate(t.cfg, t.ring, "AF001", "wolverhampton", data_dir=data).new
    with pytest.raises(DataError, match="no screening row"):
        al.allocate(t.cfg, t.ring, "AF900", "london", data_dir=data)
    text = (data / "screening.csv").read_text().splitlines()
    i = next(i for i, line in enumerate(text) if ",AF002" in line)
    text[i] = text[i].replace("true,true,AF002", "true,false,AF002")
    (data / "screening.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match="not both eligible and consented"):
        al.allocate(t.cfg, t.ring, "AF002", "london", data_dir=data)


def test_the_concealed_list_is_the_list_allocate_uses(trial):
    lst = al.concealed_list(trial.cfg, trial.ring, 20, "sealed envelopes for the TMF")
    assert list(lst.columns) == ["site", "position", "block", "block_size", "arm"]
    got = [al.allocate(trial.cfg, trial.ring, f"AF{i:03d}", "bristol").arm for i in range(20)]
    assert got == list(lst.loc[lst["site"] == "bristol", "arm"])[:20]
    redcap = redcap_table(trial.cfg, lst)
    assert list(redcap.columns) == ["redcap_randomization_group", "site"]
    assert set(redcap["redcap_randomization_group"]) == {"1", "2"}


def test_a_backup_allocation_is_checked_against_its_list_position(trial):
    sealed = al.concealed_list(trial.cfg, trial.ring, 4, "back-up envelopes for london", backup=True)
    london = sealed[sealed["site"] == "london"].reset_index(drop=True)
    first, second = london.at[0, "arm"], london.at[1, "arm"]
    wrong = "tau" if first == "advance" else "advance"
    today = datetime.now(UTC).date()
    with pytest.raises(DataError, match="does not hold this arm"):
        al.enter_backup(trial.cfg, trial.ring, "AF001", "london", {}, 1, wrong, today)
    with pytest.raises(DataError, match="next unopened position .* is 1"):
        al.enter_backup(trial.cfg, trial.ring, "AF001", "london", {}, 2, second, today)
    with pytest.raises(DataError, match="in the future"):
        al.enter_backup(trial.cfg, trial.ring, "AF001", "london", {}, 1, first, today + timedelta(days=2))
    a = al.enter_backup(trial.cfg, trial.ring, "AF001", "london", {}, 1, first, date(2020, 1, 2))
    assert a.arm == first and a.randomised_on == "2020-01-02"
    assert al.enter_backup(trial.cfg, trial.ring, "AF002", "london", {}, 2, second, today).arm == second
    frame = al.allocations(trial.cfg, trial.ring)
    assert list(frame["source"]) == ["backup", "backup"]
    assert al.verify_log(trial.cfg, trial.ring).allocations == 2


def test_reconciling_the_log_with_participants(trial):
    fill(trial, 6)
    frame = al.allocations(trial.cfg, trial.ring)
    participants = frame[["participant_id", "site", "arm"]].assign(randomised_on=pd.to_datetime(frame["randomised_on"]))
    assert al.reconcile(trial.cfg, trial.ring, participants).allocations == 6
    changed = participants.copy()
    changed.loc[0, "arm"] = "tau" if changed.loc[0, "arm"] == "advance" else "advance"
    extra = pd.concat([changed.iloc[1:], pd.DataFrame([{"participant_id": "AF900", "site": "london", "arm": "tau",
                                                        "randomised_on": pd.Timestamp("2020-01-01")}])])  # fmt: skip
    with pytest.raises(DataError) as err:
        al.reconcile(trial.cfg, trial.ring, pd.concat([changed.iloc[:1], extra]))
    text = "\n".join(err.value.details())
    assert "arm differs" in text and "AF900" in text and "in the data but not in the allocation log" in text
    with pytest.raises(DataError, match="allocated in the log but not in participants.csv"):
        al.reconcile(trial.cfg, trial.ring, participants.iloc[1:])


def test_run_with_a_log_of_six_men_beside_104_randomised_exits_4(trial, tmp_path):
    from advance_trial.pipeline import RunOptions, run

    fill(trial, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemonstrationKeyWarning)
        with pytest.raises(DataError) as err:
            run(trial.config, SAMPLES / "advance-feasibility", tmp_path / "out",
                options=RunOptions(log=str(trial.log), key_dir=str(trial.keys)))  # fmt: skip
    assert len(err.value.problems) >= 98 and not (tmp_path / "out").exists()


def test_the_report_shows_the_logs_full_head(tmp_path, advance_cfg):
    """The sample replayed with its dates, then run --log: reconciled, and the methods show the head."""
    from advance_trial.pipeline import RunOptions, run
    from tests.allocation_helpers import sample_log

    ring, keys, log = sample_log(tmp_path, advance_cfg)
    head = al.verify_log(advance_cfg, ring, log)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemonstrationKeyWarning)
        run(config_path("advance-feasibility"), SAMPLES / "advance-feasibility", tmp_path / "out",
            options=RunOptions(log=str(log), key_dir=str(keys)))  # fmt: skip
    page = (tmp_path / "out" / "report.md").read_text()
    assert "104 men allocated between 2018-06-04 and" in page and "agrees with participants.csv" in page
    assert f"row {head.head_row}, tag {head.head_tag}" in page
    # and the checkpoint it was checked against, which a rollback of the log would leave behind
    assert f"the checkpoint kept beside the key records row {head.head_row} of log {head.log_id}" in page
