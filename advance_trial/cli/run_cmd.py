"""``advance-trial run``, ``report`` and ``verify``: the whole pipeline, the report alone, and re-checking outputs."""

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from advance_trial.pipeline import RunOptions

from advance_trial.cli._options import BLINDED, BY, CONFIG_ARG, DATA, JSON, KEY, KEY_DIR, SHAREABLE, By

LOG = typer.Option(
    None, "--log", help="The allocation log: verified, reconciled with participants.csv, summarised in the methods."
)
CLOSED = typer.Option(
    False, "--closed", help="A data monitoring committee's report: open sections pooled over arms, closed ones by arm."
)
CUT_OFF = typer.Option(
    None, "--data-cut-off", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
    help="The data cut-off (default: the config's trial.data_cutoff): no data may be dated after it; the "
    "report's date.",
)  # fmt: skip


def _options(by: By, blinded: bool, shareable: bool, log: str | None, key: Path | None, key_dir: Path | None,
             report: bool = True, closed: bool = False,
             cut_off: "dt.datetime | None" = None) -> "RunOptions":  # fmt: skip
    from advance_trial.pipeline import RunOptions

    return RunOptions(by=by.value, blinded=blinded, shareable=shareable, log=str(log) if log else None,
                      key=str(key) if key else None, key_dir=str(key_dir) if key_dir else None,
                      report=report, closed=closed,
                      data_cut_off=cut_off.date().isoformat() if cut_off else None)  # fmt: skip


def run(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path = typer.Option(..., "--out", help="Folder for tables, figures, the report and provenance.json."),
    by: By = BY,
    blinded: bool = BLINDED,
    shareable: bool = SHAREABLE,
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    key: Path | None = KEY,
    no_report: bool = typer.Option(False, "--no-report", help="Tables and figures only."),
    closed: bool = CLOSED,
    data_cut_off: dt.datetime | None = CUT_OFF,
    json_out: bool = JSON,
) -> None:
    """Run every step the config asks for and write all outputs, byte-identical across runs."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from advance_trial.cli._render import print_display, print_json, shown, stderr, stdout
    from advance_trial.pipeline import run as run_pipeline

    opts = _options(by, blinded, shareable, log, key, key_dir, not no_report, closed, data_cut_off)
    # refreshed at each step, never by a thread of its own: the run forks its figure workers
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=stderr,
                  transient=True, disable=json_out, auto_refresh=False) as bar:  # fmt: skip
        task = bar.add_task("starting", total=None)
        result = run_pipeline(config, data, out, options=opts,
                              progress=lambda what: bar.update(task, description=what, refresh=True))  # fmt: skip
    if json_out:
        print_json({"out": str(out), "outputs": result.outputs, "trial": result.provenance["config"]})
        return
    if "progression" in result.tables and len(result.tables["progression"].data):
        print_display(result.config, result.tables["progression"])  # the config the run read: parsed once
    stdout.print(f"[green]done[/green]: {len(result.outputs)} files and provenance.json in {shown(out)}")


def report(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path = typer.Option(..., "--out", help="Folder for report.html, report.md and report.docx."),
    blinded: bool = BLINDED,
    shareable: bool = SHAREABLE,
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    key: Path | None = KEY,
    closed: bool = CLOSED,
    data_cut_off: dt.datetime | None = CUT_OFF,
    json_out: bool = JSON,
) -> None:
    """Write the report (HTML, Markdown, Word) from the data, without the other outputs."""
    from advance_trial.cli._render import print_json, shown, stderr, stdout
    from advance_trial.pipeline import report_only

    if not json_out:
        stderr.print("[dim]computing the report ...[/]")
    opts = _options(By.site, blinded, shareable, log, key, key_dir, True, closed, data_cut_off)
    written = report_only(config, data, out, opts)
    if json_out:
        print_json({"out": str(out), "files": written})
        return
    figures = sum(n.endswith(".svg") for n in written)
    stdout.print(f"[green]wrote[/green] report.html, report.md, report.docx (and {figures} figures) in {shown(out)}")


def verify(
    outdir: Path = typer.Argument(..., help="A folder written by run (it holds provenance.json).", show_default=False),
    json_out: bool = JSON,
) -> None:
    """Re-run from provenance.json and compare every output's SHA-256; exit 5 naming what differs."""
    from advance_trial.cli._render import print_json, shown, stdout
    from advance_trial.verify import verify_outputs

    result = verify_outputs(outdir)
    if json_out:
        print_json({"outdir": str(outdir), "verified": True, "files": result.files})
        return
    stdout.print(f"[green]verified[/green] {shown(outdir)}: {result.files} outputs reproduce byte for byte "
                 f"from the recorded inputs")  # fmt: skip


def disclosure_audit(
    outdir: Path = typer.Argument(..., help="A folder of outputs (a run's, or any copy).", show_default=False),
    min_cell: int | None = typer.Option(
        None, "--min-cell", min=1, help="Smallest count that may be shown (default: the run's)."
    ),  # fmt: skip
    json_out: bool = JSON,
) -> None:
    """Solve, for every suppressed count, the range a reader can narrow it to; exit 5 if any is too narrow."""
    from advance_trial.cli._render import print_json, records, shown, stdout
    from advance_trial.output.disclosure import audit_outputs
    from advance_trial.pipeline import audit_verdict

    table, used = audit_outputs(outdir, min_cell)
    if json_out:
        protected = bool(table["protected"].astype(bool).all())
        print_json({"outdir": str(outdir), "min_cell": used, "protected": protected, "cells": records(table)})
    else:
        stdout.print(f"{len(table)} suppressed or derivable counts in {shown(outdir)} audited against min_cell {used}")
    audit_verdict(table, used, outdir)
    if not json_out:
        stdout.print("[green]protected[/green]: no suppressed count can be narrowed to fewer than "
                     f"{used} values from what is published")  # fmt: skip
