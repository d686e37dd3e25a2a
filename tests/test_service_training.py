"""Training mode (issue 36): a training key and log apart from the live ones; every page says TRAINING; nothing
moves between a training and a live log."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from advance_trial.errors import IntegrityError, UsageError
from advance_trial.randomisation import allocation as al
from tests.allocation_helpers import make_trial
from tests.service_helpers import ELIGIBLE, PASSWORD, csrf_of, web_login


@pytest.fixture
def trial(tmp_path):
    return make_trial(tmp_path)  # the live key and log


def _training(runner, trial):
    from advance_trial.cli.main import app

    r = runner.invoke(app, ["randomise", "init", str(trial.config), "--key-dir", str(trial.keys), "--training",
                            "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_init_training_makes_a_key_and_log_apart_from_the_live_ones(runner, trial):
    live_text = trial.config.read_text()
    facts = _training(runner, trial)
    assert facts["training"] is True and facts["trial"] == "advance-feasibility-training"
    assert facts["log"].endswith("log.training.sqlite") and facts["key"].endswith("advance-feasibility-training.key")
    assert facts["fingerprint"] != trial.ring.fingerprint
    assert trial.config.read_text() == live_text  # the config records only the live key
    assert (trial.keys / "advance-feasibility-training.checkpoint.json").exists()
    # the live log is untouched and still verifies under the live key
    assert al.verify_log(trial.cfg, trial.ring, trial.log).rows == 1
    # a second init is refused: a training log, like a live one, is created once
    from advance_trial.cli.main import app

    again = runner.invoke(app, ["randomise", "init", str(trial.config), "--key-dir", str(trial.keys), "--training"])
    assert again.exit_code == 2 and "created already" in again.output


def test_the_training_service_says_training_everywhere_and_its_allocations_stay_in_it(runner, trial):
    from advance_trial.cli.main import app
    from advance_trial.randomisation.training import training_key
    from advance_trial.service.app import create_app

    _training(runner, trial)
    added = runner.invoke(app, ["users", "add", str(trial.config), "trainee", "--role", "site_ra", "--site", "london",
                                "--key-dir", str(trial.keys), "--training", "--password-stdin", "--json"],
                          input=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    token = json.loads(added.stdout)["token"]
    tcfg, ring, where = training_key(trial.cfg, trial.keys)
    client = TestClient(create_app(tcfg, ring, where, login_delay=0.001, training=True))
    who = client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).json()
    assert who["training"] is True and who["trial"] == "advance-feasibility-training"
    login = client.get("/login")
    assert 'id="training"' in login.text and "<title>TRAINING" in login.text
    web_login(client, "trainee")
    home = client.get("/")
    assert 'id="training"' in home.text
    form = {"csrf": csrf_of(home.text), "participant_id": "AF001", "site": "london",
            **{f"eligible_{k}": "yes" if v else "no" for k, v in ELIGIBLE.items()}}  # fmt: skip
    confirm = client.post("/allocate/confirm", data=form)
    assert 'id="training"' in confirm.text
    done = client.post("/allocate", data={**form, "csrf": csrf_of(confirm.text)})
    assert done.status_code == 200 and 'id="receipt"' in done.text and 'id="training"' in done.text
    assert client.get("/nothing").text.count('id="training"') == 1  # the error page too
    # the allocation is in the training log only; the live log has none, and its account is not live
    assert al.verify_log(tcfg, ring, where).allocations == 1
    assert al.verify_log(trial.cfg, trial.ring, trial.log).allocations == 0
    from advance_trial.service.accounts import Accounts

    assert Accounts(trial.cfg, trial.ring, trial.log).list() == []


def test_nothing_moves_between_a_training_and_a_live_log(runner, trial):
    from advance_trial.randomisation.training import training_key
    from advance_trial.service.app import create_app

    _training(runner, trial)
    tcfg, ring, where = training_key(trial.cfg, trial.keys)
    # the live log given as the training one
    with pytest.raises(UsageError, match="live log"):
        training_key(trial.cfg, trial.keys, trial.log)
    # the training key on the live log, and the live key on the training log: neither opens the other
    with pytest.raises(IntegrityError):
        al.verify_log(tcfg, ring, trial.log)
    with pytest.raises((IntegrityError, UsageError)):
        al.verify_log(trial.cfg, trial.ring, where)
    # the service refuses the live key in training mode and the training key in live mode
    with pytest.raises(UsageError, match="training"):
        create_app(trial.cfg, trial.ring, al.log_path(trial.cfg, trial.log), training=True)
    with pytest.raises(UsageError, match="training"):
        create_app(tcfg, ring, where)
    # a training allocation's receipt is not a receipt of the live log
    made = al.allocate(tcfg, ring, "AF001", "london", log=where)
    assert made.receipt["trial_id"] == "advance-feasibility-training"
    from advance_trial.cli.main import app

    receipt = trial.root / "training-receipt.json"
    receipt.write_text(json.dumps(made.receipt))
    checked = runner.invoke(app, ["randomise", "verify", str(trial.config), "--key-dir", str(trial.keys),
                                  "--receipt", str(receipt)])  # fmt: skip
    assert checked.exit_code != 0
    # and the command-line client refuses a training server for the live config
    from advance_trial.cli import randomise_cmd
    from advance_trial.randomisation.request import AllocationRequest

    class Client:
        @staticmethod
        def whoami(server):
            return {"trial": "advance-feasibility-training", "training": True}

    import advance_trial.randomisation.client as real

    saved = real.whoami
    real.whoami = Client.whoami
    try:
        with pytest.raises(UsageError, match="TRAINING"):
            wanted = AllocationRequest.of("AF002", "london")
            randomise_cmd._allocate_remotely(trial.cfg, "http://x", wanted, ELIGIBLE, None, False)
    finally:
        real.whoami = saved


def test_serve_training_without_a_training_key_says_how_to_make_one(runner, trial):
    from advance_trial.cli.main import app

    r = runner.invoke(app, ["serve", str(trial.config), "--key-dir", str(trial.keys), "--training"])
    assert r.exit_code == 2 and "randomise init --training" in r.output
