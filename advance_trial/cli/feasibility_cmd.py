"""Feasibility steps: ``recruitment``, ``retention``, ``dose`` and ``progression``.

Each prints its tables; with ``--out`` it also writes them (CSV and Markdown) and, where it has
one, the figure; ``--json`` prints machine output instead.
"""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from advance_trial.cli._options import BY, CONFIG_ARG, DATA, JSON, By

if TYPE_CHECKING:
    from advance_trial.analysis import AnalysisData
    from advance_trial.config.models import Config
    from advance_trial.output.tables import Table

OUT = typer.Option(None, "--out", help="Also write the tables (and figures) into this folder.")


def _load(config: Path, data: Path) -> "tuple[Config, AnalysisData]":
    from advance_trial.pipeline import load_analysis

    return load_analysis(config, data)


def _write(cfg: "Config", tables: "dict[str, Table]", out: Path | None, figures: bool = False) -> None:
    if out is None:
        return
    from advance_trial.cli._render import shown, stdout
    from advance_trial.output.tables import write_tables
    from advance_trial.pipeline import write_figures

    out.mkdir(parents=True, exist_ok=True)
    written = write_tables(tables.values(), out)
    if figures:
        written |= write_figures(cfg, tables, out)
    stdout.print(f"wrote {len(written)} files to {shown(out)}")


def recruitment(config: Path = CONFIG_ARG, data: Path = DATA, out: Path | None = OUT, json_out: bool = JSON) -> None:
    """Recruitment (randomised / eligible), allocation by site and arm, and the CONSORT flow."""
    from advance_trial.cli._render import print_display, print_tables_json
    from advance_trial.pipeline import recruitment_tables

    cfg, d = _load(config, data)
    tables = recruitment_tables(cfg, d)
    if json_out:
        print_tables_json(tables)
    else:
        print_display(cfg, tables["recruitment"])
        print_display(cfg, tables["allocation"])
    _write(cfg, tables, out, figures=True)


def retention(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path | None = OUT,
    by: By = BY,
    json_out: bool = JSON,
) -> None:
    """Men followed up within each timepoint's window, reasons for loss, arms compared, partners' aggregates."""
    from advance_trial.cli._render import print_display, print_tables_json
    from advance_trial.pipeline import retention_tables

    cfg, d = _load(config, data)
    tables = retention_tables(cfg, d, by.value)
    if json_out:
        print_tables_json(tables)
    else:
        print_display(cfg, tables["retention"])
        if len(tables["retention_difference"].data):
            print_display(cfg, tables["retention_difference"])
        if len(tables["partner_retention"].data):
            print_display(cfg, tables["partner_retention"])
        if "partner_contact" in tables:
            print_display(cfg, tables["partner_contact"])
    _write(cfg, tables, out)


def dose(config: Path = CONFIG_ARG, data: Path = DATA, out: Path | None = OUT, json_out: bool = JSON) -> None:
    """Sessions and hours attended, and men meeting each dose threshold (denominator: men randomised)."""
    from advance_trial.cli._render import print_display, print_tables_json
    from advance_trial.pipeline import dose_tables

    cfg, d = _load(config, data)
    tables = dose_tables(cfg, d)
    if json_out:
        print_tables_json(tables)
    elif tables:
        print_display(cfg, tables["dose"])
    else:
        from advance_trial.cli._render import stdout

        stdout.print("the config has no schedule of sessions: no dose to report")
    _write(cfg, tables, out, figures=True)


def progression(config: Path = CONFIG_ARG, data: Path = DATA, out: Path | None = OUT, json_out: bool = JSON) -> None:
    """Each progression criterion: estimate, interval, rule and status (coloured)."""
    from advance_trial.cli._render import print_display, print_tables_json
    from advance_trial.pipeline import feasibility_tables

    cfg, d = _load(config, data)
    tables = {"progression": feasibility_tables(cfg, d)["progression"]}
    if json_out:
        print_tables_json(tables)
    else:
        print_display(cfg, tables["progression"])
    _write(cfg, tables, out)
