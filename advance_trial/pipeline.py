"""``run``: every step the config asks for, from canonical data to tables, figures and provenance.

The inputs (config and data files) are hashed when read; after the run they are
hashed again and, if any changed meanwhile, the run stops with an integrity
error rather than leave outputs that match no input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from advance_trial.analysis import AnalysisData, analysis_data
from advance_trial.config import Config, load_config
from advance_trial.data.canonical import CanonicalData, read_canonical
from advance_trial.errors import IntegrityError
from advance_trial.output.provenance import build_provenance, sha256_file, write_provenance
from advance_trial.output.tables import Table, write_tables


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


def load_analysis(config: str | Path, data_dir: str | Path) -> tuple[Config, AnalysisData]:
    """The config and the analysis data sets of a data folder (read under the folder's lock)."""
    from advance_trial.data.folder import reading

    cfg = load_config(config)
    with reading(data_dir):
        data = read_canonical(cfg, data_dir)
    return cfg, analysis_data(cfg, data)


def recruitment_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Recruitment, allocation and the CONSORT flow."""
    from advance_trial.feasibility.accrual import monthly_table
    from advance_trial.feasibility.consort import consort_table
    from advance_trial.feasibility.recruitment import allocation_table, recruitment_table

    tables = (recruitment_table(cfg, ads), allocation_table(cfg, ads), consort_table(cfg, ads), monthly_table(cfg, ads))
    return {t.name: t for t in tables}


def retention_tables(cfg: Config, ads: AnalysisData, by: Literal["site", "cycle"] = "site") -> dict[str, Table]:
    """Retention, reasons for loss, the difference between arms, and partners' aggregates."""
    from advance_trial import retention as r

    tables = [r.retention_table(cfg, ads, by), r.reasons_table(cfg, ads), r.difference_table(cfg, ads),
              r.partner_retention_table(cfg, ads)]  # fmt: skip
    if "contacted" in ads.partners.columns:
        tables.append(r.partner_contact_table(cfg, ads))
    return {t.name: t for t in tables}


def dose_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Dose thresholds, dose summaries, engagement by component, the attendance distribution and per-man dose."""
    from advance_trial.feasibility import dose
    from advance_trial.feasibility.engagement import engagement_table

    if cfg.schedule is None:
        return {}
    tables = (dose.dose_table(cfg, ads), dose.dose_summary_table(cfg, ads), engagement_table(cfg, ads),
              dose.distribution_table(cfg, ads), dose.dose_participants_table(cfg, ads))  # fmt: skip
    return {t.name: t for t in tables}


def outcome_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Outcome analyses and the scored questionnaires (nothing when the config has no outcomes)."""
    if not cfg.outcomes:
        return {}
    from advance_trial.outcomes import outcome_tables as compute
    from advance_trial.outcomes.within import change_table

    tables = compute(cfg, ads)
    change = change_table(cfg, ads)
    return tables | ({"change": change} if len(change.data) else {})


def feasibility_tables(cfg: Config, ads: AnalysisData, by: Literal["site", "cycle"] = "site") -> dict[str, Table]:
    """Every feasibility table, progression last (it reads the others); outcomes too when a criterion
    names one."""
    from advance_trial.feasibility.progression import progression_table

    tables = isolated("recruitment", lambda: recruitment_tables(cfg, ads))
    tables |= isolated("retention", lambda: retention_tables(cfg, ads, by))
    tables |= isolated("dose", lambda: dose_tables(cfg, ads))
    if any(c.metric.startswith(("outcome.", "change.")) for c in cfg.progression):
        tables |= isolated("outcomes", lambda: outcome_tables(cfg, ads))
    from advance_trial.feasibility.accrual import rate_table

    tables |= isolated("recruitment rate", lambda: {"recruitment_rate": rate_table(cfg, ads)})
    tables |= isolated("progression", lambda: {"progression": progression_table(cfg, tables)})
    return worded(cfg, tables)


def worded(cfg: Config, tables: dict[str, Table]) -> dict[str, Table]:
    """A single-arm study's tables: men are enrolled, not randomised, in every title and footnote (the CSV
    columns keep their contract names)."""
    if cfg.trial.design != "single_arm":
        return tables
    from advance_trial.output.display import enrolled

    return {n: replace(t, title=enrolled(t.title), footnotes=tuple(map(enrolled, t.footnotes)))
            for n, t in tables.items()}  # fmt: skip


def plan_tables(cfg: Config, ads: AnalysisData, tables: dict[str, Table],
                failures: list[str] | None = None) -> dict[str, Table]:  # fmt: skip
    """The definitive trial's size from the tables' estimates (with a ``planning`` block), and the
    recruitment rate with the months that size would take."""
    from advance_trial.feasibility.accrual import rate_table

    out: dict[str, Table] = {}
    total = None
    if cfg.planning is not None and cfg.trial.design == "parallel":
        from advance_trial.planning import plan_table

        out |= isolated("plan", lambda: {"plan": plan_table(cfg, ads, tables)}, failures)
        if "plan" in out:
            alls = out["plan"].data[out["plan"].data["quantity"] == "men to randomise in all"]["estimate"]
            total = int(alls.iloc[0]) if len(alls) and alls.iloc[0] == alls.iloc[0] else None  # nan: not computed
            from advance_trial.planning.definitive import definitive_tables

            plan = out["plan"]
            out |= isolated("plan for the definitive trial", lambda: definitive_tables(cfg, ads, plan).tables,
                            failures)  # fmt: skip
    out["recruitment_rate"] = rate_table(cfg, ads, total)
    return out


def isolated(step: str, build: Callable[[], dict[str, Table]], failures: list[str] | None = None) -> dict[str, Table]:
    """One step of a run on its own: a step that cannot compute on these data gives no table, warns with its
    reason (and adds it to ``failures``, which the report lists), and the other steps carry on. A user's
    mistake (an :class:`~advance_trial.errors.AdvanceTrialError`) still stops the run with its exit code."""
    import warnings

    from advance_trial.errors import EstimationWarning

    try:
        return build()
    except (ArithmeticError, ValueError, KeyError, IndexError) as exc:  # numpy's LinAlgError is a ValueError
        reason = f"{step}: not computed on these data ({type(exc).__name__}: {exc}); the other tables are written"
        warnings.warn(reason, EstimationWarning, stacklevel=2)
        if failures is not None:
            failures.append(reason)
        return {}


def all_tables(cfg: Config, ads: AnalysisData, by: Literal["site", "cycle"] = "site",
               feasibility_done: Callable[[dict[str, Table]], None] | None = None,
               failures: list[str] | None = None) -> dict[str, Table]:  # fmt: skip
    """Every table of a run: feasibility, outcomes, the plan and recruitment rate, and progression judged
    on all of them. ``feasibility_done`` sees the feasibility tables before the outcomes are analysed.
    Each step is :func:`isolated`: one that cannot compute is named in ``failures`` and the others carry on."""
    from advance_trial.feasibility.progression import progression_table

    tables = isolated("recruitment", lambda: recruitment_tables(cfg, ads), failures)
    tables |= isolated("retention", lambda: retention_tables(cfg, ads, by), failures)
    tables |= isolated("dose", lambda: dose_tables(cfg, ads), failures)
    if feasibility_done is not None:
        feasibility_done(tables)
    tables |= isolated("baseline and harms", lambda: participant_tables(cfg, ads), failures)
    tables |= isolated("outcomes", lambda: outcome_tables(cfg, ads), failures)
    tables |= isolated("recruitment rate", lambda: plan_tables(cfg, ads, tables, failures), failures)
    tables |= isolated("progression", lambda: {"progression": progression_table(cfg, tables)}, failures)
    return worded(cfg, tables)


def participant_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Table 1 (with a ``baseline`` block) and harms (with an ``events`` block)."""
    from advance_trial.analysis.baseline import baseline_table
    from advance_trial.feasibility.harms import harms_table

    out: dict[str, Table] = {}
    if cfg.baseline_table is not None:
        out["baseline"] = baseline_table(cfg, ads.men)
    if cfg.events is not None:
        out["harms"] = harms_table(cfg, ads)
    return out


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
    out = {name: replace(t, data=pivot(results, name)) if name in results.columns else t
           for name, t in tables.items()}  # fmt: skip
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


def input_hashes(cfg: Config, data: CanonicalData) -> dict[str, str]:
    """SHA-256 of the config and of every data file read."""
    hashes = {f"data/{name}": h for name, h in data.sha256.items()}
    if cfg.source is not None:
        hashes[f"config/{Path(cfg.source.path).name}"] = cfg.source.sha256
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
    cfg: Config, tables: dict[str, Table], opts: RunOptions, out: Path
) -> tuple[Config, dict[str, Table], tuple[str, ...]]:
    """Apply blinded and shareable modes; returns the config figures see, the tables, and report notes."""
    notes: list[str] = []
    shown_cfg = cfg
    if opts.blinded:
        from advance_trial.output.blinding import blind_tables
        from advance_trial.output.disclosure import blinded_config, blinding_codes

        key = blinding_key_path(out, opts)
        codes = blinding_codes(cfg, key if cfg.randomisation.blinding is None else None)
        tables = blind_tables(cfg, tables, codes)
        shown_cfg = blinded_config(cfg, codes)
        if cfg.randomisation.blinding is None and not key.exists():
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
        values: the outputs must not be shared.
    """
    from advance_trial.output.disclosure import audit_folder

    table = audit_folder(out, min_cell)
    written = write_tables([Table("disclosure_audit", table, "Disclosure audit")], out)
    exposed = table[~table["protected"].astype(bool)]
    if len(exposed):
        where = "; ".join(f"{r.table} row {r.row} {r.column}" for r in exposed.head(10).itertuples())
        raise IntegrityError(f"{out}: disclosure audit failed: {where} can be narrowed to fewer than {min_cell} "
                             "values; do not share these outputs")  # fmt: skip
    return written


def canonical_command(config: Path, data_dir: Path, opts: RunOptions) -> str:
    """The run as one command line, from its recorded options (output folder and blinding key aside)."""
    import shlex

    parts = ["advance-trial", "run", str(config), "--data", str(data_dir)]
    parts += ["--by", opts.by] if opts.by != "site" else []
    parts += ["--blinded"] if opts.blinded else []
    parts += ["--shareable"] if opts.shareable else []
    parts += ["--log", opts.log] if opts.log else []
    parts += ["--key-dir", opts.key_dir] if opts.key_dir else []
    parts += [] if opts.report else ["--no-report"]
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
    out_dir: str | Path,
    by: Literal["site", "cycle"] = "site",
    command: str | None = None,
    options: RunOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Run every step and write tables, figures, the report and ``provenance.json`` into ``out_dir``.

    Raises
    ------
    ConfigError, DataError
        Before anything is written.
    IntegrityError
        If an input file changed while the run read it, or the allocation log (``options.log``) does
        not verify.
    DataError
        Also when the allocation log and participants.csv disagree (men, arms, sites or dates).
    """
    opts = options or RunOptions(by=by)
    # paths are recorded resolved, so that `verify OUTDIR` works from any folder
    config, data_dir = Path(config).resolve(), Path(data_dir).resolve()
    opts = replace(opts, log=_resolved_log(opts.log),
                   key_dir=str(Path(opts.key_dir).resolve()) if opts.key_dir else None)  # fmt: skip
    step = progress or (lambda _: None)
    step("reading the config and data")
    cfg = with_cut_off(load_config(config), opts.data_cut_off)
    from advance_trial.data.folder import reading

    with reading(data_dir):
        data = read_canonical(cfg, data_dir)
    from advance_trial.output.render.workers import start_workers, stop_workers

    workers = start_workers()  # after the folder's lock is let go: the workers hold no part of it
    try:
        return _run(cfg, data, config, data_dir, out_dir, opts, command, step, workers)
    finally:
        stop_workers(workers)


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


def _run(cfg: Config, data: CanonicalData, config: Path, data_dir: Path, out_dir: str | Path, opts: RunOptions,
         command: str | None, step: Callable[[str], None], workers: Any) -> RunResult:  # fmt: skip
    from advance_trial.output.render.workers import figure_jobs, start_drawing

    inputs = input_hashes(cfg, data)
    out = Path(out_dir)
    log = _log_facts(cfg, data, opts, data_dir, out) if opts.log else None  # before anything is written
    if log is not None:  # the log's head tag authenticates every row before it: the log's digest, for verify
        inputs[LOG_INPUT] = str(log["head_tag"])
    step("feasibility measures and outcome analyses")
    plain = not (opts.blinded or opts.shareable)
    early: list[tuple[str, str, Any]] = []
    figures: list[Callable[[], dict[str, str]]] = []

    def draw_feasibility(feasibility: dict[str, Table]) -> None:
        # a plain run shows the feasibility tables as they are: their figures are drawn while the outcomes
        # are analysed (the others wait for disclosure); nothing is written before every check has passed
        if plain and workers is not None:
            early.extend(figure_jobs(feasibility))
            figures.append(start_drawing(cfg, early, out, workers))

    failures: list[str] = []
    tables = all_tables(cfg, analysis_data(cfg, data), opts.by, feasibility_done=draw_feasibility,
                        failures=failures)  # fmt: skip
    shown_cfg, tables, notes = disclose(cfg, tables, opts, out)
    notes = (*notes, *(f"Not computed: {f}" for f in failures))
    tables = with_results(tables, shown_cfg)
    step("writing tables and figures")
    drawn = {stem for stem, _, _ in early}
    late = [j for j in figure_jobs(tables, histogram=plain) if j[0] not in drawn]
    figures.append(start_drawing(shown_cfg, late, out, workers))  # drawn while the tables are written
    out.mkdir(parents=True, exist_ok=True)
    outputs = write_tables(tables.values(), out)
    if opts.shareable:
        outputs |= write_disclosure_audit(out, cfg.reporting.min_cell)
    for collect in figures:
        outputs |= collect()
    if opts.report:
        step("writing the report")
        from advance_trial.checklist import assess, checklist_table
        from advance_trial.output.render.files import write_report
        from advance_trial.output.render.report import build_report

        drawn = {Path(name).stem for name in outputs if name.endswith(".svg")}
        checklist = checklist_table(assess(shown_cfg, tables, drawn, log))
        report = build_report(shown_cfg, tables, _figure_bytes(out, outputs), log, notes, blinded=opts.blinded,
                              closed=opts.closed, checklist=checklist)  # fmt: skip
        outputs |= write_report(report, out)
    changed = [name for name, h in data.sha256.items() if sha256_file(Path(data_dir) / name) != h]
    if cfg.source is not None and sha256_file(cfg.source.path) != cfg.source.sha256:
        changed.append(str(cfg.source.path))
    if changed:
        raise IntegrityError(f"inputs changed during the run: {', '.join(changed)}; run again")
    record = build_provenance(cfg, inputs, outputs, command=command or canonical_command(config, data_dir, opts))
    record["run"] = {"config": str(config), "data": str(data_dir), "by": opts.by, "blinded": opts.blinded,
                     "shareable": opts.shareable, "log": opts.log, "key_dir": opts.key_dir,
                     "report": opts.report, "closed": opts.closed, "data_cut_off": opts.data_cut_off}  # fmt: skip
    if opts.blinded:
        # nothing that bears on the codes: no seed; the key's place (not its content) so verify can reuse it
        record["seed"] = None
        if cfg.randomisation.blinding is None:
            record["run"]["key"] = str(blinding_key_path(out, opts).resolve())
    if opts.shareable:
        record["run"]["min_cell"] = cfg.reporting.min_cell
    write_provenance(record, out)
    return RunResult(tables, outputs, record)
