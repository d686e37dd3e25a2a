"""``advance-trial plan``: the definitive trial's size from the feasibility trial's estimates."""

from pathlib import Path
from typing import Any

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
    from advance_trial.cli._render import print_display
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
        cfg, ads = _own_data(config, data)
    if cfg.planning is None:
        raise UsageError(f"{config}: no planning block: give the definitive trial's target difference there")
    if cfg.trial.design != "parallel":
        raise UsageError(f"{config}: plan sizes a two-arm trial; this config is single-arm")
    failures: list[str] = []
    tables = all_tables(cfg, ads, failures=failures)
    if "plan" not in tables:
        from advance_trial.errors import AdvanceTrialError

        raise AdvanceTrialError("; ".join(f for f in failures if f.startswith("plan")) or "the plan was not computed")
    from advance_trial.planning.definitive import definitive_tables

    plan_ = definitive_tables(cfg, ads, tables["plan"])  # what plan --json carries besides the tables
    table = tables["plan"]
    if definitive is not None:
        from dataclasses import replace

        from advance_trial.planning import registered_rows

        table = replace(table, data=registered_rows(definitive, table.data),
                        title=f"Planning {definitive.trial.title}")  # fmt: skip
    extra = [tables[n] for n in EXTRA if n in tables]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_tables([table, *extra], out)
    if json_out:
        from advance_trial.cli._render import print_json, records

        arms = tables["plan_arms"].data if "plan_arms" in tables else None
        print_json({
            "plan": records(table.data),
            "per_arm": records(arms[arms["allocation"] == "configured"]) if arms is not None else [],
            "optimal": records(arms[arms["allocation"] == "optimal"]) if arms is not None else [],
            "pilot_sd": records(tables["plan_sd"].data) if "plan_sd" in tables else [],
            "sensitivity": {
                "grid": records(tables["plan_sensitivity"].data) if "plan_sensitivity" in tables else [],
                "moves_most": plan_.most,
            },
            "forecast": {
                "summary": records(tables["recruitment_forecast"].data) if "recruitment_forecast" in tables else [],
                "bands": records(tables["recruitment_forecast_bands"].data)
                if "recruitment_forecast_bands" in tables else [],
            },
            "paragraph": plan_.paragraphs,
        })  # fmt: skip
        return
    print_display(cfg, table)
    for t in extra:
        if t.name != "recruitment_forecast_bands":
            print_display(cfg, t)


#: The tables beside the plan that ``plan`` prints and writes.
EXTRA = ("plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast", "recruitment_forecast_bands")


def _own_data(config: Path, data: Path) -> tuple[Any, Any]:
    """The config and its data; a config that does not list the data's sites, cycles or arms, with a planning
    block, is a definitive trial's: one line saying that it needs the pilot's config (exit 2)."""
    from advance_trial.errors import DataError, UsageError
    from advance_trial.pipeline import load_analysis

    try:
        return load_analysis(config, data)
    except DataError as exc:
        from advance_trial.config import load_config

        # a canonical folder was checked against its own config's sites, cycles and arms when imported
        structural = any(p.column in ("site", "cycle", "arm") and "must be one of" in p.message for p in exc.problems)
        if structural and load_config(config).planning is not None:
            raise UsageError(f"{config} does not list the sites, cycles or arms of the data in {data}: a "
                             "definitive trial's config plans from the pilot's; give it with --pilot "
                             "PILOT_CONFIG") from None  # fmt: skip
        raise
