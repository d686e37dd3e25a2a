"""Shared fixtures and paths for the tests.

The suite runs in parallel (``pytest -n auto``, pytest-xdist): every test works in its own ``tmp_path``, binds
port 0 (or :func:`tests.pg.free_port`), sets environment variables through ``monkeypatch`` only, and never
writes under the repository. A fixture of session scope is built once per worker process, or once per run for
the ones below that say "shared by the workers".

Fixtures for new tests
----------------------
``sample_run(trial="advance-feasibility", **options)``
    One ``advance-trial run`` of a bundled sample, done once (shared by the workers) and returned as a
    :class:`SampleRun`: ``.out`` the output folder, ``.result`` the :class:`~advance_trial.pipeline.RunResult`,
    ``.key`` where a blinded run keeps its key (beside ``.out``). ``options`` are
    :class:`~advance_trial.pipeline.RunOptions` fields (``blinded=True``, ``shareable=True``, ``closed=True``,
    ``report=False``...). The folder is **read-only** for the tests: one that changes it (``verify`` after a
    tampering, a rerun into it) copies it first (``shutil.copytree(run.out, tmp_path / "out")``); a change is
    caught at the end of the session and reported as an error of the test session. A test about the run itself
    (a changed input, a failing step, the CLI's output) still runs its own.
``shared_build(name, build)``
    The same for any folder a test module builds once and then only reads (an edge data set run through the
    CLI, a large import): ``build(folder)`` is called once per test run, shared by the workers, and
    ``(folder, value)`` returned (the value pickled between them). Read-only like ``sample_run``.
``sample_tables(trial="advance-feasibility")``
    ``(cfg, analysis data, all_tables(...))`` of a bundled sample, computed once (shared by the workers); each
    call returns its own deep copy, which the test may change.
``sample_shareable_tables(trial="advance-feasibility")``
    ``shareable_tables(cfg, tables, cfg.reporting.min_cell)`` of ``sample_tables(trial)``: the shareable tables
    and their protection, computed once (shared by the workers); each call returns its own deep copy.
``shared_reruns``
    ``verify`` given the result of an identical earlier run (the shared sample run, or one the test made)
    instead of repeating it: for tests of what verify checks, not of whether a run repeats itself.
``pg_server``
    A PostgreSQL admin URL: ``ADVANCE_TRIAL_TEST_PG`` (CI), else one throwaway server started when a test
    first asks for it and shared by the workers (stopped at the end). ``tests.pg.fresh_database(pg_server)``
    gives a test its own empty database.
``log_location``
    Parametrised: a SQLite file in ``tmp_path``, then a fresh PostgreSQL database.
``invoke(*args)``
    ``advance-trial ARGS`` in-process through typer's CliRunner (the click Result). Use a subprocess only for a
    test about the process itself (exit on a signal, a pipe, what an import costs).
``fresh``
    A data folder with the ADVANCE sample's screening and participants only.
``advance_cfg`` / ``advance_text``
    The ADVANCE config, loaded, and its YAML text.

Passwords are hashed at Argon2id's lowest cost in the tests (an autouse fixture, once the service's modules are
imported; ``tests/test_password_cost.py`` checks the service's own cost).

``python benchmarks/bench_tests.py`` prints the wall time of the README's test command and the slowest tests;
the slowest that make their own runs, servers or processes are collected first (:data:`SLOW_FIRST`).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker gets a temporary folder of its own (``TMPDIR``, for it and its subprocesses): files the
    toolkit names by their content in the temporary folder (a problem list) are never written by two at once.
    Its runs draw their figures in-process (``ADVANCE_TRIAL_WORKERS=0`` unless set)."""
    import os
    import shutil
    import tempfile

    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker:
        # the workers already use every core: a run draws its figures in its own process (the same bytes,
        # tests/test_figure_workers.py) rather than forking two drawing processes of its own
        os.environ.setdefault("ADVANCE_TRIAL_WORKERS", "0")
        # multiprocessing's own folder (the socket of tests/cli_fork.py's fork server) made in the system's,
        # not in the worker's: multiprocessing removes it as the worker exits, after the worker's is gone
        import multiprocessing.util

        multiprocessing.util.get_temp_dir()
        folder = tempfile.mkdtemp(prefix=f"advance-tests-{worker}-")
        os.environ["TMPDIR"] = folder
        tempfile.tempdir = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


#: Tests of many seconds each that make their own runs, servers or processes (not a shared build), started first
#: so that the two workers do not end on one of them while the other waits (``benchmarks/bench_tests.py`` ranks
#: the tests by CPU; add a test here when it costs several seconds of its own).
SLOW_FIRST = (
    "test_report.py::test_cli_run_report_verify",
    "test_disclosure.py::test_a_reason_outside_the_codes_or_of_few_men_is_never_shown",
    "test_disclosure.py::test_verify_repeats_a_blinded_run_with_its_key_and_names_a_missing_key",
    "test_verify_log_changed.py::test_verify_names_the_log_when_a_man_was_allocated_after_the_run",
    "test_service_cli.py::test_three_sites_and_an_unblinder_through_the_command_line_then_the_statistician_verifies",
    "test_report.py::test_verify_catches_changed_inputs",
    "test_disclosure_random.py::test_the_audit_holds_on_random_linked_tables",
    "test_datafolder.py::test_two_sites_importing_at_once_both_arrive",
    "test_figure_workers.py::test_workers_draw_the_same_bytes",
    "test_redcap.py::test_the_same_data_in_another_row_order_give_the_same_outputs",
    "test_allocation_concurrency.py::test_processes_killed_at_random_moments_leave_a_log_that_verifies",
    "test_service_load.py::test_the_server_killed_during_the_load_loses_no_receipt",
    "test_service_team_browser.py::test_the_unblinder_the_statistician_and_the_administrator_in_a_browser",
    "test_output_payloads.py::test_a_reason_with_payloads_neither_stops_run_nor_reaches_the_outputs_raw",
    "test_checklist.py::test_open_science_items_filled_from_the_config_and_shown_in_the_report",
    "test_committee_report.py::test_cli_closed_report",
    "test_import_distinct.py::test_canonical_text_is_format_for_csv",
    "test_pipeline.py::test_rerun_is_byte_identical",
    "test_init_all_or_nothing.py::test_init_stopped_at_any_step_is_one_line_and_is_finished_by_running_it_again",
    "test_pipeline.py::test_run_cli",
    "test_datafolder.py::test_kill_9_at_random_moments_of_a_real_import_never_mixes_data_and_ledger",
    "test_analysis_fast.py::test_the_same_frames_on_data_with_every_corner",
    "test_csv_writing.py::test_format_for_csv_is_the_cell_by_cell_format",
    "test_chart.py::test_a_whole_run_imports_no_matplotlib_in_any_process",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of :data:`SLOW_FIRST` first, in its order; the others after them in their own order (every
    xdist worker collects the same order)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}

    def key(item: pytest.Item) -> int:
        name = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        return rank.get(name, len(rank))

    items.sort(key=key)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the test process holds once the tests are collected (every module imported: most of its objects)
    is set aside from the garbage collector (``gc.freeze``), as a run's process does before it forks its
    workers: each collection then looks only at what the tests make (about a twentieth of the suite's CPU)."""
    import gc

    gc.collect()
    gc.freeze()


def _shared_root(factory: pytest.TempPathFactory, config: pytest.Config) -> Path:
    """A folder common to every worker of this run (the run's own temporary folder without xdist)."""
    base = factory.getbasetemp()
    return base.parent if hasattr(config, "workerinput") else base


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory, pytestconfig):
    """A PostgreSQL server's admin URL: CI's (``ADVANCE_TRIAL_TEST_PG``) or one started for the run."""
    import os

    from tests.pg import ENV, shared_server

    if os.environ.get(ENV):
        return os.environ[ENV]
    try:
        return shared_server(_shared_root(tmp_path_factory, pytestconfig) / "pg.json")
    except (FileNotFoundError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a PostgreSQL server for these tests: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (or the only process) stops the PostgreSQL server a test started, once every worker is done.
    Each process stops the fork server of ``tests/cli_fork.py`` it started."""
    import sys

    if "tests.cli_fork" in sys.modules:
        sys.modules["tests.cli_fork"].stop()
    if hasattr(session.config, "workerinput"):
        return
    from tests.pg import stop_shared_server

    factory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    if factory._basetemp is not None:
        stop_shared_server(factory.getbasetemp() / "pg.json")


@pytest.fixture(params=["sqlite", "postgresql"])
def log_location(request, tmp_path):
    """Where a test's allocation log lives: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "log" / "log.sqlite")
    from tests.pg import fresh_database

    return fresh_database(request.getfixturevalue("pg_server"))


def _fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}  # fmt: skip


@pytest.fixture(scope="session")
def shared_build(tmp_path_factory, pytestconfig) -> Iterator[Callable[[str, Callable[[Path], Any]], tuple[Path, Any]]]:
    """``shared_build(name, build)``: ``build(folder)`` called once per test run (shared by the workers) in an
    empty folder of its own; returns ``(folder, value)``, the value pickled between workers. The folder is
    read-only for the tests, checked unchanged at the end of the session."""
    from filelock import FileLock

    root = _shared_root(tmp_path_factory, pytestconfig) / "shared-builds"
    root.mkdir(exist_ok=True)
    done: dict[str, tuple[Path, Any, dict[str, str]]] = {}

    def get(name: str, build: Callable[[Path], Any]) -> tuple[Path, Any]:
        if name not in done:
            folder, saved = root / name, root / f"{name}.pickle"
            with FileLock(f"{saved}.lock"):
                if not saved.exists():
                    folder.mkdir()
                    saved.write_bytes(pickle.dumps(build(folder)))
                done[name] = (folder, pickle.loads(saved.read_bytes()), _fingerprint(folder))
        return done[name][:2]

    yield get
    changed = [f"{name}: {sorted(set(before.items()) ^ set(_fingerprint(folder).items()))[:5]}"
               for name, (folder, _, before) in done.items() if _fingerprint(folder) != before]  # fmt: skip
    assert not changed, f"a test changed a shared folder (copy it first): {changed}"


@dataclass(frozen=True)
class SampleRun:
    """One run of a bundled sample (read-only): its output folder and its result."""

    out: Path
    result: Any  # advance_trial.pipeline.RunResult

    @property
    def key(self) -> Path:
        """Where a blinded run kept its blinding key: beside the folder."""
        return self.out.parent / f"{self.out.name}.blinding-key.csv"


@pytest.fixture(scope="session")
def sample_run(shared_build) -> Callable[..., SampleRun]:
    """``sample_run(trial="advance-feasibility", **options)``: the sample run once with these RunOptions
    (shared by the workers); read-only, checked unchanged at the end of the session."""

    def get(trial: str = "advance-feasibility", **options: Any) -> SampleRun:
        if {"key", "log", "key_dir"} & set(options):
            raise TypeError("sample_run: a run with a key, a log or a key folder of its own is the test's to make")

        def build(folder: Path) -> Any:
            from advance_trial.pipeline import RunOptions, run

            return run(config_path(trial), SAMPLES / trial, folder / "out", options=RunOptions(**options))

        # named by the options that differ from RunOptions' defaults: ``blinded=False`` is the same run as none
        from advance_trial.pipeline import RunOptions

        default = RunOptions()
        changed = sorted((k, v) for k, v in options.items() if getattr(default, k) != v)
        name = "-".join(["sample", trial, *(f"{k}_{v}" for k, v in changed)])
        folder, result = shared_build(name, build)
        return SampleRun(folder / "out", result)

    return get


@pytest.fixture(scope="session")
def sample_tables(shared_build) -> Callable[[str], tuple[Any, Any, dict[str, Any]]]:
    """``sample_tables(trial="advance-feasibility")``: ``(cfg, analysis data, all_tables(cfg, analysis data))``
    of a bundled sample, computed once (shared by the workers); each call returns its own deep copy."""
    import copy

    def get(trial: str = "advance-feasibility") -> tuple[Any, Any, dict[str, Any]]:
        def build(_: Path) -> Any:
            from advance_trial.pipeline import all_tables, load_analysis

            cfg, ads = load_analysis(config_path(trial), SAMPLES / trial)
            return cfg, ads, all_tables(cfg, ads)

        return copy.deepcopy(shared_build(f"tables-{trial}", build)[1])

    return get


@pytest.fixture(scope="session")
def sample_shareable_tables(shared_build, sample_tables) -> Callable[[str], tuple[dict[str, Any], Any]]:
    """``sample_shareable_tables(trial="advance-feasibility")``: ``shareable_tables(cfg, tables, min_cell)`` of
    :func:`sample_tables` (the tables and their protection, the config's ``reporting.min_cell``), computed once
    (shared by the workers: the complementary suppression's linear programs cost seconds); each call returns
    its own deep copy."""
    import copy

    def get(trial: str = "advance-feasibility") -> tuple[dict[str, Any], Any]:
        def build(_: Path) -> Any:
            from advance_trial.output.disclosure import shareable_tables

            cfg, _, tables = sample_tables(trial)
            return shareable_tables(cfg, tables, cfg.reporting.min_cell)

        return copy.deepcopy(shared_build(f"shareable-tables-{trial}", build)[1])

    return get


_RERUNS: dict[tuple[str, ...], Any] = {}  # verify's repeated runs, by what they read (one worker's)


def _rerun_key(config: Any, data_dir: Any, options: Any) -> tuple[str, ...] | None:
    """What a run's outputs and provenance depend on: its config and data (paths and bytes) and its options;
    None for a run with a key, a log or a pilot of its own (those are left to run)."""
    import dataclasses

    opts = dataclasses.asdict(options)
    if opts["blinded"] or opts["log"] or opts["key_dir"] or opts["pilot"]:
        return None
    opts.pop("key")  # an unblinded run's --key is verify's temporary folder, never used nor recorded
    digest = hashlib.sha256(Path(config).read_bytes())
    folder = Path(data_dir)
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            digest.update(f"\0{p.relative_to(folder)}\0".encode() + p.read_bytes())
    return (str(config), str(data_dir), digest.hexdigest(), repr(sorted(opts.items())))


@pytest.fixture
def shared_reruns(monkeypatch, sample_run) -> None:
    """``verify`` given the result of an identical earlier run instead of running again (for tests of what
    verify checks: a touched output, an edited provenance field, changed inputs; not of whether a run repeats
    itself, which ``test_pipeline.py::test_rerun_is_byte_identical`` and the real verifies in ``test_report.py``
    (``test_verify_passes_then_catches_a_touched_output``), ``test_disclosure.py`` (a blinded run) and
    ``test_verify_log_changed.py`` hold).

    ``advance_trial.pipeline.run`` remembers every run it makes in the worker, by its config and data (paths and
    bytes) and its options; a call from ``verify_outputs`` with the same ones gets that result (a bundled sample's
    with the options of a ``sample_run`` gets the shared run's). Options verify rebuilds wrongly still miss and
    run, and are caught as before."""
    import sys

    from advance_trial import pipeline
    from advance_trial.verify import verify_outputs

    real = pipeline.run

    def run(config, data_dir, out_dir, by="site", command=None, options=None, progress=None):
        key = _rerun_key(config, data_dir, options or pipeline.RunOptions()) if out_dir and by == "site" else None
        if key is not None and command is None and sys._getframe(1).f_code is verify_outputs.__code__:
            if key not in _RERUNS:
                trial = next(
                    (t for t in TRIALS if (config_path(t), SAMPLES / t) == (Path(config), Path(data_dir))), None
                )
                changed = {
                    k: v for k, v in vars(options).items() if k != "key" and v != getattr(pipeline.RunOptions(), k)
                }
                if trial is not None:
                    _RERUNS[key] = sample_run(trial, **changed).result
            if key in _RERUNS:
                return _RERUNS[key]
        result = real(config, data_dir, out_dir, by, command, options, progress)
        if key is not None and command is None:
            _RERUNS[key] = result
        return result

    monkeypatch.setattr(pipeline, "run", run)


def _close_pooled_connections() -> None:
    """Close the PostgreSQL connections the allocation log keeps idle for reuse
    (``advance_trial.randomisation.database._POOL``, one list per database URL)."""
    import sys

    pool = getattr(sys.modules.get("advance_trial.randomisation.database"), "_POOL", None)
    if pool is None or not pool.idle:
        return
    with pool.lock:
        idle, pool.idle = pool.idle, {}
    for connections in idle.values():
        for con in connections:
            con.close()


@pytest.fixture(autouse=True)
def _pooled_connections_closed() -> Iterator[None]:
    """After each test, the idle PostgreSQL connections it left in the log's pool are closed: each test's database
    is its own and never used again, and a connection left open is held by the server until the worker ends,
    then deleted while open (a psycopg ResourceWarning each at the end of the run)."""
    yield
    _close_pooled_connections()


def _cheap_hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Passwords hashed with Argon2id at its lowest cost in the tests (the service's code path and algorithm,
    a hundredth of the CPU: each account and login cost 0.3 s of CPU at the service's own cost).
    ``tests/test_password_cost.py`` checks the service's own cost; ``monkeypatch.undo()`` restores it."""
    import sys

    for name in ("advance_trial.service.accounts", "advance_trial.service.admin"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "_hasher"):
            monkeypatch.setattr(module, "_hasher", _cheap_hasher)
