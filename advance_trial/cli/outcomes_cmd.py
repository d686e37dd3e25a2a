"""``advance-trial outcomes``: score the questionnaires and run every configured outcome analysis."""

from pathlib import Path

import typer

from advance_trial.cli._options import CONFIG_ARG, DATA, JSON


def outcomes(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path | None = typer.Option(None, "--out", help="Also write outcomes, scores and the forest plot here."),
    json_out: bool = JSON,
) -> None:
    """Estimates with intervals for every outcome under every configured analysis (no p-values unless asked)."""
    from advance_trial.cli._render import print_display, print_tables_json, shown, stdout
    from advance_trial.output.tables import write_tables
    from advance_trial.pipeline import load_analysis, outcome_tables, write_figures

    cfg, ads = load_analysis(config, data)
    tables = outcome_tables(cfg, ads)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        written = write_tables(tables.values(), out) | write_figures(cfg, tables, out)
        if not json_out:
            stdout.print(f"wrote {len(written)} files to {shown(out)}")
    if json_out:
        print_tables_json({"outcomes": tables["outcomes"]} if tables else {})
        return
    if not tables:
        stdout.print(f"{shown(cfg.trial.id)} configures no outcomes")
        return
    print_display(cfg, tables["outcomes"])
