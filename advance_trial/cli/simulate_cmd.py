"""``advance-trial simulate``: synthetic canonical data calibrated to published aggregates."""

from pathlib import Path

import typer

from advance_trial.cli._options import CONFIG_ARG, JSON, KEY_DIR, load_ring


def simulate(
    config: Path = CONFIG_ARG,
    out: Path = typer.Option(..., "--out", help="Data folder to write (holds calibration.yaml unless --targets)."),
    seed: int = typer.Option(
        ...,
        "--seed",
        help="Seed of the simulation (a plain seed; the arms derive from the key).",
        min=0,
        max=2**63 - 1,
    ),
    targets: Path | None = typer.Option(None, "--targets", help="Calibration targets (default: OUT/calibration.yaml)."),
    key_dir: Path | None = KEY_DIR,
    force: bool = typer.Option(False, "--force", help="Replace the data already in OUT (refused without it)."),
    json_out: bool = JSON,
) -> None:
    """Write synthetic canonical data whose aggregates equal the calibration targets exactly."""
    from rich.table import Table

    from advance_trial.cli._render import print_json, shown, stdout
    from advance_trial.config import load_config
    from advance_trial.simulate import simulate_to_dir

    cfg = load_config(config)
    ring = load_ring(cfg, key_dir, data=out) if cfg.randomisation.method != "none" else None
    data, report = simulate_to_dir(cfg, out, seed, targets, ring, force=force)
    rows = {name: len(df) for name, df in data.tables().items()}
    if json_out:
        print_json({"out": str(out), "rows": rows, "calibration": report.to_dict(orient="records")})
        return
    table = Table(title=f"{shown(cfg.trial.id)}: calibration (synthetic data)")
    for col in ("target", "wanted", "achieved", "met"):
        table.add_column(col, justify="left" if col == "target" else "right", overflow="fold")
    for r in report.itertuples():
        table.add_row(shown(r.target), f"{r.wanted:g}", f"{r.achieved:g}", "[green]yes[/]" if r.met else "[red]no[/]")
    stdout.print(table)
    stdout.print(f"wrote {shown(out)}: " + ", ".join(f"{k} {v}" for k, v in rows.items() if v))
