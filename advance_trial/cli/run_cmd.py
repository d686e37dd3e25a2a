"""``advance-trial run``: every step, all tables and figures, and provenance."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from advance_trial.cli.feasibility_cmd import By


def run(
    config: Path = typer.Argument(..., help="The trial config (YAML).", show_default=False),
    data: Path = typer.Option(..., "--data", help="Folder of canonical data files."),
    out: Path = typer.Option(..., "--out", help="Folder for tables, figures and provenance.json."),
    by: By = typer.Option(By.site, "--by", help="Break retention down by site (default) or recruitment cycle."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Run every step the config asks for and write all outputs, byte-identical across runs."""
    from advance_trial.cli._render import print_json, print_table, stdout
    from advance_trial.pipeline import run as run_pipeline

    with stdout.status("running feasibility analyses ..."):
        result = run_pipeline(config, data, out, by.value, command=" ".join(["advance-trial", *sys.argv[1:]]))
    if json_out:
        print_json({"out": str(out), "outputs": result.outputs, "trial": result.provenance["config"]})
        return
    if "progression" in result.tables and len(result.tables["progression"].data):
        print_table(result.tables["progression"], ["criterion", "metric", "rule"], status="status")
    stdout.print(f"[green]done[/green]: {len(result.outputs)} files and provenance.json in {out}")
