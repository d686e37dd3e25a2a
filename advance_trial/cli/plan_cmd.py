"""``advance-trial plan``: the definitive trial's size from the feasibility trial's estimates."""

from pathlib import Path

import typer

from advance_trial.cli._options import CONFIG_ARG, DATA, JSON


def plan(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path | None = typer.Option(None, "--out", help="Also write plan.csv and plan.md into this folder."),
    pilot: Path | None = typer.Option(
        None,
        "--pilot",
        help="The feasibility trial's config: CONFIG is then the definitive trial's (its planning block and size), "
        "--data the pilot's data.",
    ),  # fmt: skip
    json_out: bool = JSON,
) -> None:
    """Men per arm for the definitive trial from the pilot's SD, correlation, ICC and retention, every step shown."""
    from advance_trial.cli._render import print_display, print_tables_json
    from advance_trial.errors import UsageError
    from advance_trial.output.tables import write_tables
    from advance_trial.pipeline import all_tables, load_analysis

    definitive = None
    if pilot is not None:
        from advance_trial.config import load_config
        from advance_trial.planning import for_definitive

        definitive = load_config(config)
        cfg, ads = load_analysis(pilot, data)
        cfg = for_definitive(definitive, cfg)
    else:
        cfg, ads = load_analysis(config, data)
    if cfg.planning is None:
        raise UsageError(f"{config}: no planning block: give the definitive trial's target difference there")
    if cfg.trial.design != "parallel":
        raise UsageError(f"{config}: plan sizes a two-arm trial; this config is single-arm")
    failures: list[str] = []
    tables = all_tables(cfg, ads, failures=failures)
    if "plan" not in tables:
        from advance_trial.errors import AdvanceTrialError

        raise AdvanceTrialError("; ".join(f for f in failures if f.startswith("plan")) or "the plan was not computed")
    table = tables["plan"]
    if definitive is not None:
        from dataclasses import replace

        from advance_trial.planning import registered_rows

        table = replace(table, data=registered_rows(definitive, table.data),
                        title=f"Planning {definitive.trial.title}")  # fmt: skip
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_tables([table], out)
    if json_out:
        print_tables_json({"plan": table})
        return
    print_display(cfg, table)
