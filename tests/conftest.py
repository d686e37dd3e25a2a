"""Shared fixtures: paths to the bundled configs and samples, and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SAMPLES = ROOT / "data" / "sample"
TRIALS = ("advance-feasibility", "advance-digital", "cranstoun-dvip")
SEEDS = {"advance-feasibility": 20210601, "advance-digital": 20220801, "cranstoun-dvip": 20150301}
DEMO_KEYS = ROOT / "demo-keys"


def demo_ring(cfg):
    """The sample's public demonstration key (its warning silenced), or None for a single-arm trial."""
    import warnings

    from advance_trial.randomisation.key import DemonstrationKeyWarning, load_key

    if cfg.randomisation.method == "none":
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemonstrationKeyWarning)
        return load_key(DEMO_KEYS, cfg.trial.id, cfg.randomisation.key_fingerprint)


def config_path(trial: str) -> Path:
    return CONFIGS / f"{trial}.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner):
    """Run ``advance-trial ARGS`` in-process; returns the click Result."""
    from advance_trial.cli.main import app

    def _invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return _invoke


@pytest.fixture(scope="session")
def advance_cfg():
    from advance_trial.config import load_config

    return load_config(config_path("advance-feasibility"))


@pytest.fixture(scope="session")
def advance_text() -> str:
    return config_path("advance-feasibility").read_text()


@pytest.fixture
def fresh(tmp_path):
    """A data folder with the ADVANCE sample's screening and participants only: the rest arrives by import."""
    import shutil

    out = tmp_path / "fresh"
    out.mkdir()
    for name in ("screening", "participants"):
        shutil.copy(SAMPLES / "advance-feasibility" / f"{name}.csv", out)
    return out


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server's admin URL: CI's (``ADVANCE_TRIAL_TEST_PG``) or one started for the session."""
    import os

    from tests.pg import ENV, throwaway_server

    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    try:
        server = throwaway_server()
        url = server.__enter__()
    except (FileNotFoundError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a PostgreSQL server for these tests: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield url
    server.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def log_location(request, tmp_path):
    """Where a test's allocation log lives: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "log" / "log.sqlite")
    from tests.pg import fresh_database

    return fresh_database(request.getfixturevalue("pg_server"))
