"""``run``: every step the config asks for, from canonical data to tables, figures and provenance.

A run and each step's own command (``recruitment``, ``retention``, ``dose``, ``outcomes``,
``progression``, ``plan``) are one function, :func:`run`: the command names its steps in the registry
(:mod:`advance_trial.steps`) and its ``--out`` folder gets their tables, ``results.csv``, the
figures, ``provenance.json`` and, when shareable, the disclosure audit, exactly as a run's (a whole
run adds the report). The inputs (config and data files) are hashed when read; after the run they
are hashed again and, if any changed meanwhile, the run stops with an integrity error rather than
leave outputs that match no input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from advance_trial.analysis import AnalysisData, analysis_data
from advance_trial.config import Config, load_config
from advance_trial.data.canonical import CanonicalData, read_canonical
from advance_trial.errors import IntegrityError
from advance_trial.output.provenance import build_provenance, sha256_file, write_provenance
from advance_trial.output.tables import Table, write_tables

if TYPE_CHECKING:
    import pandas as pd

from advance_trial.steps import (
    COMMANDS,
    STEP_DRAWS,
    all_tables,
    dose_tables,
    feasibility_tables,
    isolated,
    outcome_tables,
    participant_tables,
    recruitment_tables,
    retention_tables,
    worded,
)

__all__ = ["COMMANDS", "RunOptions", "RunResult", "all_tables", "checklist", "dose_tables", "feasibility_tables",
           "isolated", "load_analysis", "outcome_tables", "participant_tables", "recruitment_tables", "report_only",
           "retention_tables", "run", "with_results", "worded"]  # fmt: skip


@dataclass(frozen=True)
class RunResult:
    """What a run produced.

    Attributes
    ----------
    tables : dict
        Table name -> :class:`~advance_trial.output.tables.Table`, in writing order.
    outputs : dict
        Output file name -> SHA-256.
    provenance : dict
        The record written to ``provenance.json``.
    """

    tables: dict[str, Table]
    outputs: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    config: Config | None = None  # the config the tables were computed with (for the terminal's labels)
    failures: tuple[str, ...] = ()
    definitive: Any = None  # plan: :class:`~advance_trial.planning.definitive.Definitive` (what --json carries)


def load_analysis(config: str | Path, data_dir: str | Path) -> tuple[Config, AnalysisData]:
    """The config and the analysis data sets of a data folder (read under the folder's lock)."""
    from advance_trial.data.folder import reading

    cfg = load_config(config)
    with reading(data_dir):
        data = read_canonical(cfg, data_dir)
    return cfg, analysis_data(cfg, data)


def with_results(tables: dict[str, Table], cfg: Config | None = None) -> dict[str, Table]:
    """The tables as pivots of their results data set, and that data set as the ``results`` table.

    Every statistic written is a row of ``results.csv`` first: the analyses' own results rows are bound
    (a table changed since, by disclosure, is read back into rows), each display table with a layout is
    replaced by its pivot (the same frame, which the tests hold to), so the two cannot disagree. ``cfg``
    (the config the outputs show) gives the variables' labels.
    """
    from advance_trial.output import long_frame, pivot, results_data
    from advance_trial.results.labels import variable_labels

    results = results_data(tables, variable_labels(cfg) if cfg is not None else None)
    out = {name: replace(t, data=pivot(results, name)) if name in results.columns and name not in results.pivots
           else t for name, t in tables.items()}  # fmt: skip
    out["results"] = Table(
        "results",
        long_frame(results),
        "Results data set",
        ("Every statistic of the run, one per row (the analysis results data of cards and gtsummary); each table "
         "is a pivot of it.",),
        markdown=False,
    )  # fmt: skip
    return out


def write_figures(cfg: Config, tables: dict[str, Table], out: Path, histogram: bool = True,
                  workers: Any = None) -> dict[str, str]:  # fmt: skip
    """CONSORT diagram, attendance histogram, retention by arm and forest plot, as SVG and PNG (drawn by
    ``workers`` from :func:`~advance_trial.output.render.workers.start_workers` when given)."""
    from advance_trial.output.render.workers import figure_jobs, start_drawing

    return start_drawing(cfg, figure_jobs(tables, histogram), out, workers)()


#: The allocation log among a run's inputs (provenance.json): its head tag, an HMAC-SHA256 over its whole chain.
LOG_INPUT = "allocation log"


def input_hashes(cfg: Config, data: CanonicalData, definitive: Config | None = None) -> dict[str, str]:
    """SHA-256 of the config (and of the definitive trial's, planning from a pilot) and of every data file."""
    hashes = {f"data/{name}": h for name, h in data.sha256.items()}
    for c in (cfg, definitive):
        if c is not None and c.source is not None:
            hashes[f"config/{Path(c.source.path).name}"] = c.source.sha256
    return hashes


@dataclass(frozen=True)
class RunOptions:
    """How a run is carried out and what may leave it (recorded in provenance for ``verify``)."""

    by: Literal["site", "cycle"] = "site"
    blinded: bool = False
    shareable: bool = False
    log: str | None = None
    key: str | None = None
    key_dir: str | None = None
    report: bool = True
    closed: bool = False  # the report for a data monitoring committee: open sections pooled, closed by arm
    data_cut_off: str | None = None  # ISO date; replaces the config's trial.data_cutoff
    command: str = "run"  # the command whose steps are built (:data:`~advance_trial.steps.COMMANDS`)
    pilot: str | None = None  # plan --pilot: the feasibility trial's config (CONFIG is the definitive trial's)

    @property
    def whole(self) -> bool:
        """A whole run (every step, the report), not one step's command."""
        return self.command == "run"


def _figure_bytes(out: Path, written: dict[str, str]) -> dict[str, dict[str, bytes]]:
    stems = sorted({name.rsplit(".", 1)[0] for name in written if name.endswith((".svg", ".png"))})
    return {s: {ext: (out / f"{s}.{ext}").read_bytes() for ext in ("svg", "png")} for s in stems}


def blinding_key_path(out: Path, opts: RunOptions) -> Path:
    """Where a blinded run keeps its key: ``--key``, else beside the output folder; never inside it.

    Raises
    ------
    UsageError
        If the key would be inside the output folder (at any depth).
    """
    key = Path(opts.key) if opts.key else out.parent / f"{out.name}.blinding-key.csv"
    if key.resolve().is_relative_to(out.resolve()):
        from advance_trial.errors import UsageError

        raise UsageError(f"--key {key}: the blinding key must be kept apart from the outputs, not in {out}")
    return key


def disclose(
    cfg: Config, tables: dict[str, Table], opts: RunOptions, out: Path | None
) -> tuple[Config, dict[str, Table], tuple[str, ...]]:
    """Apply blinded and shareable modes; returns the config figures see, the tables, and report notes.

    With no ``out`` (tables shown, not written) a blinded key is kept only where ``opts.key`` says; the
    codes are otherwise dealt for the terminal alone, and the shareable record of suppressed cells is not
    written.
    """
    notes: list[str] = []
    shown_cfg = cfg
    if opts.blinded:
        from advance_trial.output.blinding import blind_tables
        from advance_trial.output.disclosure import blinded_config, blinding_codes

        key = blinding_key_path(out, opts) if out is not None else (Path(opts.key) if opts.key else None)
        codes = blinding_codes(cfg, key if cfg.randomisation.blinding is None else None)
        tables = blind_tables(cfg, tables, codes)
        shown_cfg = blinded_config(cfg, codes)
        if cfg.randomisation.blinding is None and key is not None and not key.exists():
            from advance_trial.data.tablefile import write_bytes_atomic

            body = "arm,code\n" + "".join(f"{a},{c}\n" for a, c in codes.items())
            write_bytes_atomic(body.encode(), key, private=True)
        notes.append("Blinded report: arms appear only as codes; the key is held apart from these outputs.")
    if opts.shareable:
        from advance_trial.data.tablefile import write_bytes_atomic
        from advance_trial.output.disclosure import shareable_tables

        tables, protection = shareable_tables(cfg, tables, cfg.reporting.min_cell)
        # which suppressed cells are primary (small) would tell a reader they are small: kept apart
        record = "table,row,column,kind\n" + "".join(
            f"{t},{r + 1},{c},{kind}\n"
            for kind, keys in (("primary", protection.primary), ("complementary", protection.complementary))
            for t, r, c in sorted(keys)
        )
        if out is not None:
            write_bytes_atomic(record.encode(), out.parent / f"{out.name}.suppression.csv", private=True)
        notes.append(f"Shareable report: counts below {cfg.reporting.min_cell} are suppressed, and further counts "
                     "so that none can be worked out from the others (disclosure_audit.csv shows each one's "
                     "range); no table about individual men; partner data appear only as aggregates.")  # fmt: skip
    return shown_cfg, tables, tuple(notes)


def write_disclosure_audit(out: Path, min_cell: int) -> dict[str, str]:
    """Audit the written CSV files as a reader holds them; write ``disclosure_audit.csv``.

    Raises
    ------
    IntegrityError
        If a suppressed count (or one formed by subtraction) can be narrowed to fewer than ``min_cell``
        values: the outputs must not be shared (:func:`audit_verdict`).
    """
    from advance_trial.output.disclosure import audit_folder

    table = audit_folder(out, min_cell)
    written = write_tables([Table("disclosure_audit", table, "Disclosure audit")], out)
    audit_verdict(table, min_cell, out)
    return written


def audit_verdict(table: pd.DataFrame, min_cell: int, folder: str | Path) -> None:
    """The disclosure audit's verdict on a folder: every suppressed or derivable count must range over at
    least ``min_cell`` values.

    Raises
    ------
    IntegrityError
        Naming the counts (the first ten, and how many more) that can be narrowed further and their ranges:
        the outputs must not be shared.
    """
    exposed = table[~table["protected"].astype(bool)]
    if len(exposed):
        shown_rows = [f"{r.table} row {r.row} {r.column} ({r.lower}-{r.upper})" for r in exposed.itertuples()]
        where = "; ".join(shown_rows[:10]) + (f"; and {len(shown_rows) - 10} more" if len(shown_rows) > 10 else "")
        raise IntegrityError(f"{folder}: disclosure audit failed: {len(exposed)} count(s) can be narrowed to fewer "
                             f"than {min_cell} values: {where}; do not share these outputs")  # fmt: skip


def canonical_command(config: Path, data_dir: Path, opts: RunOptions) -> str:
    """The run (or the step's command) as one command line, from its recorded options (output folder and
    blinding key aside)."""
    import shlex

    parts = ["advance-trial", opts.command, str(config), "--data", str(data_dir)]
    parts += ["--pilot", opts.pilot] if opts.pilot else []
    parts += ["--by", opts.by] if opts.by != "site" else []
    parts += ["--blinded"] if opts.blinded else []
    parts += ["--shareable"] if opts.shareable else []
    parts += ["--log", opts.log] if opts.log else []
    parts += ["--key-dir", opts.key_dir] if opts.key_dir else []
    parts += [] if opts.report or not opts.whole else ["--no-report"]
    parts += ["--closed"] if opts.closed else []
    parts += ["--data-cut-off", opts.data_cut_off] if opts.data_cut_off else []
    return " ".join(shlex.quote(p) for p in parts)


def _resolved_log(log: str | None) -> str | None:
    """A log path resolved (so that ``verify OUTDIR`` works from any folder); a URL as it is."""
    if not log:
        return None
    from advance_trial.randomisation.database import location

    return str(Path(log).resolve()) if location(log).path is not None else log


def _log_facts(cfg: Config, data: CanonicalData, opts: RunOptions, data_dir: str | Path, out: Path) -> dict[str, Any]:
    """The allocation log verified, reconciled with participants.csv, and summarised for the methods."""
    from advance_trial.randomisation.allocation import log_summary, trial_key

    ring = trial_key(cfg, opts.key_dir, opts.log, data=data_dir, out=out)
    return log_summary(cfg, ring, opts.log, data.participants)


def with_cut_off(cfg: Config, cut_off: str | None) -> Config:
    """The config with ``--data-cut-off`` in place of ``trial.data_cutoff`` (the data are checked against it
    and the report is dated by it)."""
    if cut_off is None:
        return cfg
    import datetime as dt

    day = dt.date.fromisoformat(cut_off)
    if day > dt.date.today():
        from advance_trial.errors import UsageError

        raise UsageError(f"--data-cut-off {cut_off}: in the future; the cut-off is the last day the data may hold")
    trial = cfg.trial.model_copy(update={"data_cutoff": day})
    return cfg.model_copy(update={"trial": trial})


def run(
    config: str | Path,
    data_dir: str | Path,
    out_dir: str | Path | None,
    by: Literal["site", "cycle"] = "site",
    command: str | None = None,
    options: RunOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Build the steps of ``options.command`` (every step for ``run``) and write their tables, ``results.csv``,
    figures, the disclosure audit (shareable), the report (a whole run) and ``provenance.json`` into
    ``out_dir``; with no ``out_dir`` nothing is written (a step's command printing its tables).

    Raises
    ------
    ConfigError, DataError
        Before anything is written.
    UsageError
        ``plan`` with a config that has no planning block or is single-arm, or the definitive trial's config
        without ``pilot`` (:func:`read_inputs`).
    IntegrityError
        If an input file changed while the run read it, or the allocation log (``options.log``) does
        not verify.
    DataError
        Also when the allocation log and participants.csv disagree (men, arms, sites or dates).
    AdvanceTrialError
        A step's command whose step cannot compute on these data (a run writes the others and names it).
    """
    opts = options or RunOptions(by=by)
    if opts.command not in COMMANDS:
        from advance_trial.errors import UsageError

        raise UsageError(f"{opts.command!r} is not a command with steps; use one of {', '.join(COMMANDS)}")
    # paths are recorded resolved, so that `verify OUTDIR` works from any folder
    config, data_dir = Path(config).resolve(), Path(data_dir).resolve()
    opts = replace(opts, log=_resolved_log(opts.log), pilot=str(Path(opts.pilot).resolve()) if opts.pilot else None,
                   key_dir=str(Path(opts.key_dir).resolve()) if opts.key_dir else None)  # fmt: skip
    step = progress or (lambda _: None)
    step("reading the config and data")
    # scipy's models are imported where their use starts (the outcomes step): warming them in a thread while
    # the data are read was measured slower (benchmarks/bench_config_once.py, issue 38 part 3)
    from advance_trial.output.render.workers import start_workers, stop_workers
    from advance_trial.steps import apart_modules

    # forked before the data are read (so the workers hold no part of the folder's lock): the one kept for the
    # outcomes imports scipy's optimiser meanwhile, the other the figures' fonts; only a whole run draws and
    # analyses enough to pay for them
    workers = start_workers(prepare=apart_modules()) if opts.whole and out_dir is not None else None
    try:
        cfg, data, definitive = read_inputs(config, data_dir, opts)
        return _run(cfg, data, config, data_dir, out_dir, opts, command, step, workers, definitive)
    finally:
        stop_workers(workers)


def read_inputs(config: Path, data_dir: Path, opts: RunOptions) -> tuple[Config, CanonicalData, Config | None]:
    """The config and the canonical data (read under the folder's lock), each parsed once.

    For ``plan`` with ``opts.pilot``, ``config`` is the definitive trial's: the pilot's config plans as its
    ``planning`` block says (:func:`~advance_trial.planning.for_definitive`), over the pilot's data; the
    definitive config is returned third (None otherwise).

    Raises
    ------
    UsageError
        ``plan``: no planning block, a single-arm design, or (without ``pilot``) a config that does not list
        the data's sites, cycles or arms and has a planning block: a definitive trial's, which needs the
        pilot's.
    """
    from advance_trial.data.folder import reading
    from advance_trial.errors import DataError, UsageError

    definitive = None
    if opts.pilot is not None:
        from advance_trial.planning import for_definitive

        definitive = load_config(config)
        cfg = for_definitive(definitive, load_config(opts.pilot))
    else:
        cfg = load_config(config)
    cfg = with_cut_off(cfg, opts.data_cut_off)
    try:
        with reading(data_dir):
            data = read_canonical(cfg, data_dir)
    except DataError as exc:
        # a canonical folder was checked against its own config's sites, cycles and arms when imported
        structural = any(p.column in ("site", "cycle", "arm") and "must be one of" in p.message for p in exc.problems)
        if opts.command == "plan" and definitive is None and structural and cfg.planning is not None:
            raise UsageError(f"{config} does not list the sites, cycles or arms of the data in {data_dir}: a "
                             "definitive trial's config plans from the pilot's; give it with --pilot "
                             "PILOT_CONFIG") from None  # fmt: skip
        raise
    if opts.command == "plan" and cfg.planning is None:
        raise UsageError(f"{config}: no planning block: give the definitive trial's target difference there")
    if opts.command == "plan" and cfg.trial.design != "parallel":
        raise UsageError(f"{config}: plan sizes a two-arm trial; this config is single-arm")
    return cfg, data, definitive


def checklist(config: str | Path, data_dir: str | Path, log: str | None = None,
              key_dir: str | None = None) -> tuple[Config, Any]:  # fmt: skip
    """``checklist``: every reporting-guideline item marked from the config, the data and the tables and
    figures a plain run would write (and, with ``log``, the allocation log verified and reconciled).

    Returns the config and the checklist frame (:func:`advance_trial.checklist.assess`). Nothing is written.
    """
    from advance_trial.checklist import assess
    from advance_trial.data.folder import reading
    from advance_trial.output.render.workers import figure_jobs

    config, data_dir = Path(config).resolve(), Path(data_dir).resolve()
    cfg = load_config(config)
    with reading(data_dir):
        data = read_canonical(cfg, data_dir)
    opts = RunOptions(log=_resolved_log(log), key_dir=str(Path(key_dir).resolve()) if key_dir else None)
    facts = _log_facts(cfg, data, opts, data_dir, data_dir) if opts.log else None
    tables = all_tables(cfg, analysis_data(cfg, data))
    drawn = [stem for stem, _, _ in figure_jobs(tables)]
    return cfg, assess(cfg, tables, drawn, facts)


REPORT_FILES = ("report.html", "report.md", "report.docx")


def report_only(config: str | Path, data_dir: str | Path, out_dir: str | Path,
                options: RunOptions | None = None) -> list[str]:  # fmt: skip
    """``report``: the report (HTML, Markdown, Word) and the SVG figures the Markdown refers to, into
    ``out_dir``, without the other outputs (computed in a temporary folder beside nothing of theirs).
    A blinded report keeps its key beside ``out_dir``. Returns the names of the files written."""
    import shutil
    import tempfile

    out = Path(out_dir)
    opts = replace(options or RunOptions(), report=True)
    if opts.blinded and opts.key is None:
        opts = replace(opts, key=str(out.parent / f"{out.name}.blinding-key.csv"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / out.name
        result = run(config, data_dir, work, options=opts)
        out.mkdir(parents=True, exist_ok=True)
        copied = [n for n in result.outputs if n in REPORT_FILES or n.endswith(".svg")]
        for name in copied:
            shutil.copyfile(work / name, out / name)
    return copied


def _run(cfg: Config, data: CanonicalData, config: Path, data_dir: Path, out_dir: str | Path | None,
         opts: RunOptions, command: str | None, step: Callable[[str], None], workers: Any,
         definitive: Config | None) -> RunResult:  # fmt: skip
    from advance_trial.output.ard import melting_once
    from advance_trial.output.render.workers import figure_jobs, start_drawing
    from advance_trial.steps import compute

    inputs = input_hashes(cfg, data, definitive)
    out = Path(out_dir) if out_dir is not None else None
    log = _log_facts(cfg, data, opts, data_dir, out or data_dir) if opts.log else None  # before anything is written
    if log is not None:  # the log's head tag authenticates every row before it: the log's digest, for verify
        inputs[LOG_INPUT] = str(log["head_tag"])
    step("feasibility measures and outcome analyses")
    plain = not (opts.blinded or opts.shareable)
    early: list[tuple[str, str, Any]] = []
    figures: list[Callable[[], dict[str, str]]] = []

    def draw_ready(name: str, built: dict[str, Table]) -> None:
        # a plain run shows its tables as they are built: a figure is drawn as soon as its table is (the
        # feasibility figures from the dose step on, the forest plot once the outcomes are back), while the
        # rest is computed; the others wait for disclosure. Nothing is written before every check has passed
        if plain and workers is not None and out is not None and name in STEP_DRAWS:
            drawn_now = {stem for stem, _, _ in early}
            ready = [job for job in figure_jobs(built) if job[0] not in drawn_now]
            if ready:
                early.extend(ready)
                figures.append(start_drawing(cfg, ready, out, workers))

    from advance_trial.imputing import imputing_in  # the outcome analyses are imported by the steps

    # progression, the plan and results.csv melt each table once; large imputations go to the workers
    with melting_once(), imputing_in(workers):
        built = compute(cfg, analysis_data(cfg, data), COMMANDS[opts.command], opts.by, draw_ready,
                        definitive, workers)  # fmt: skip
        failed = [f for f in built.failures if f.split(":")[0] in _labels(opts.command)]
        if failed and not opts.whole:
            from advance_trial.errors import AdvanceTrialError

            raise AdvanceTrialError("; ".join(failed))
        tables = {name: built.tables[name] for name in built.shown}
        shown_cfg, tables, notes = disclose(cfg, tables, opts, out)
        notes = (*notes, *(f"Not computed: {f}" for f in built.failures))
        tables = with_results(tables, shown_cfg)
    if out is None:
        return RunResult(tables, config=shown_cfg, failures=built.failures, definitive=built.extras.get("definitive"))
    step("writing tables and figures")
    drawn = {stem for stem, _, _ in early}
    late = [j for j in figure_jobs(tables, histogram=plain) if j[0] not in drawn]
    figures.append(start_drawing(shown_cfg, late, out, workers))  # drawn while the tables are written
    out.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, str] = {}
    report: Callable[[], dict[str, str]] | None = None
    whole_report = opts.report and opts.whole
    if not late:  # every figure drawn while the tables were built: the workers make the report meanwhile
        for collect in figures:
            outputs |= collect()
        report = _start_report(shown_cfg, tables, out, outputs, log, notes, opts, workers) if whole_report else None
    outputs |= write_tables(tables.values(), out)
    if opts.shareable:
        outputs |= write_disclosure_audit(out, cfg.reporting.min_cell)
    if late:
        for collect in figures:
            outputs |= collect()
    if whole_report:
        step("writing the report")
        if report is None:
            report = _start_report(shown_cfg, tables, out, outputs, log, notes, opts, workers)
        outputs |= report()
    changed = [name for name, h in data.sha256.items() if sha256_file(Path(data_dir) / name) != h]
    for c in (cfg, definitive):
        if c is not None and c.source is not None and sha256_file(c.source.path) != c.source.sha256:
            changed.append(str(c.source.path))
    if changed:
        raise IntegrityError(f"inputs changed during the run: {', '.join(changed)}; run again")
    record = build_provenance(cfg, inputs, outputs, command=command or canonical_command(config, data_dir, opts))
    record["run"] = {"config": str(config), "data": str(data_dir), "by": opts.by, "blinded": opts.blinded,
                     "shareable": opts.shareable, "log": opts.log, "key_dir": opts.key_dir,
                     "report": opts.report, "closed": opts.closed, "data_cut_off": opts.data_cut_off}  # fmt: skip
    if not opts.whole:  # a step's command: verify repeats the same steps
        record["run"] |= {"command": opts.command, "report": False} | ({"pilot": opts.pilot} if opts.pilot else {})
    if opts.blinded:
        # nothing that bears on the codes: no seed; the key's place (not its content) so verify can reuse it
        record["seed"] = None
        if cfg.randomisation.blinding is None:
            record["run"]["key"] = str(blinding_key_path(out, opts).resolve())
    if opts.shareable:
        record["run"]["min_cell"] = cfg.reporting.min_cell
    write_provenance(record, out)
    return RunResult(tables, outputs, record, shown_cfg, built.failures, built.extras.get("definitive"))


def _start_report(cfg: Config, tables: dict[str, Table], out: Path, figures: dict[str, str], log: dict[str, Any] | None,
                  notes: tuple[str, ...], opts: RunOptions, workers: Any) -> Callable[[], dict[str, str]]:  # fmt: skip
    """The report built from the tables and the figures written (``figures``: their names), its Word file
    and HTML page handed to the workers; the returned function writes the three
    (:func:`advance_trial.output.render.files.start_report`)."""
    from advance_trial.checklist import assess, checklist_table
    from advance_trial.output.render.files import start_report
    from advance_trial.output.render.report import SequenceFacts, build_report
    from advance_trial.randomisation.key import DEMO_KEY, fingerprint_of
    from advance_trial.randomisation.methods import DERIVATION

    sequence = SequenceFacts(DERIVATION, cfg.randomisation.key_fingerprint == fingerprint_of(DEMO_KEY))
    drawn = {Path(name).stem for name in figures if name.endswith(".svg")}
    checklist = checklist_table(assess(cfg, tables, drawn, log))
    report = build_report(cfg, tables, _figure_bytes(out, figures), log, notes, blinded=opts.blinded,
                          closed=opts.closed, checklist=checklist, sequence=sequence)  # fmt: skip
    return start_report(report, out, workers=workers)


def _labels(command: str) -> set[str]:
    """How the failures of a command's own steps are named."""
    from advance_trial.steps import REGISTRY

    return {REGISTRY[name].label for name in COMMANDS[command]}
