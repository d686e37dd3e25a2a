"""``advance-trial config``: validate, show, schema and diff trial configs."""

from pathlib import Path

import typer

from advance_trial.cli._help import LAZY_GROUPS, FullHelpGroup
from advance_trial.cli._options import CONFIG_ARG, JSON

app = typer.Typer(
    cls=FullHelpGroup, help=LAZY_GROUPS["config"][1], no_args_is_help=True, rich_markup_mode=None, add_completion=False
)


@app.command("validate")
def validate(
    config: Path = CONFIG_ARG,
    data: Path | None = typer.Option(None, "--data", help="Also validate this folder of canonical data files."),
    json_out: bool = JSON,
) -> None:
    """Check a config (and optionally its canonical data); exit 3 or 4 naming every problem."""
    from advance_trial.cli._render import print_json, shown, stdout
    from advance_trial.config import load_config

    cfg = load_config(config)
    summary: dict[str, object] = {
        "config": str(config),
        "trial_id": cfg.trial.id,
        "trial_version": cfg.trial.version,
        "schema_version": cfg.schema_version,
        "sha256": cfg.source.sha256 if cfg.source else None,
        "migrations": list(cfg.source.migrations) if cfg.source else [],
        "valid": True,
    }
    counts: dict[str, int] = {}
    if data is not None:
        from advance_trial.data.canonical import read_canonical
        from advance_trial.errors import ConfigError
        from advance_trial.redcap.readiness import import_gaps

        gaps = import_gaps(cfg, data)  # a REDCap config that could import nothing is no config for the data
        if gaps:
            raise ConfigError(str(config), gaps)

        counts = {name: len(df) for name, df in read_canonical(cfg, data).tables().items()}
        summary["data"] = counts
    if json_out:
        print_json(summary)
        return
    stdout.print(
        f"[green]valid[/green] {shown(config)}: {shown(cfg.trial.id)} v{shown(cfg.trial.version)} "
        f"(schema {cfg.schema_version})"
    )
    for note in cfg.source.migrations if cfg.source else ():
        stdout.print(f"  migrated on load: {shown(note)} (the file is unchanged; update it when convenient)")
    if data is not None:
        rows = ", ".join(f"{k} {v}" for k, v in counts.items())
        stdout.print(f"[green]valid[/green] {shown(data)}: {shown(rows)} rows")


@app.command("from-redcap")
def from_redcap(
    dictionary: Path = typer.Argument(..., help="The REDCap data dictionary (CSV).", show_default=False),
    events: list[Path] = typer.Option(
        [], "--events", help="REDCap's events CSV or instrument designations (repeatable)."
    ),
    base: Path | None = typer.Option(None, "--base", help="A config to add the REDCap project to (comments kept)."),
    trial_id: str | None = typer.Option(None, "--trial-id", help="The skeleton's trial id (without --base)."),
    out: Path | None = typer.Option(None, "--out", help="Write the config to this file (default: print it)."),
    json_out: bool = JSON,
) -> None:
    """A config from a REDCap data dictionary: instruments, import rules and the project's structure."""
    from advance_trial.cli._render import print_json, shown, stderr, stdout
    from advance_trial.redcap.skeleton import config_from_redcap, placements_table

    skeleton, cfg = config_from_redcap(dictionary, events, base, trial_id)
    if out is not None:
        from advance_trial.data.tablefile import write_bytes_atomic

        if out.is_dir():
            raise typer.BadParameter(f"{out} is a folder; give the config's file name", param_hint="--out")
        write_bytes_atomic(skeleton.text.encode("utf-8"), out)
    from advance_trial.redcap.readiness import import_gaps

    gaps = import_gaps(cfg)
    if json_out:
        print_json({"config": str(out) if out else None, "trial_id": cfg.trial.id,
                    "fields": placements_table(skeleton.placements), "assumptions": list(skeleton.assumptions),
                    "instruments": [{"id": s.instrument, "label": s.label, "score": s.score, "items": s.items,
                                     "lowest": s.lowest, "highest": s.highest, "source": s.source}
                                    for s in skeleton.scoring],
                    "cannot_import": [{"key": g.path, "problem": g.message} for g in gaps],
                    **({} if out else {"text": skeleton.text})})  # fmt: skip
        return
    if out is None:
        stdout.out(skeleton.text, end="", highlight=False)
    counts: dict[str, int] = {}
    for p in skeleton.placements:
        counts[p.placed] = counts.get(p.placed, 0) + 1
    where = shown(out) if out else "the config above"
    stderr.print(f"[green]valid[/] {where}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + " fields")
    for p in skeleton.placements:
        if p.placed in ("not placed", "identifying"):
            stderr.print(f"  [yellow]{p.placed}[/]: {shown(p.field)} (form {shown(p.form)}): {shown(p.why)}")
    for a in skeleton.assumptions:
        stderr.print(f"  [yellow]check[/]: {shown(a)}")
    for sc in skeleton.scoring:  # every instrument's scoring, and what says so
        stderr.print(f"  [cyan]score[/]: {shown(str(sc))}")
    if gaps:
        stderr.print(
            f"[bold yellow]warning[/]: {where} is valid but cannot import the project's forms yet "
            "(`config validate --data` refuses it until then):"
        )
        for g in gaps:
            stderr.print(f"  [yellow]missing[/]: {shown(g.path)}: {shown(g.message)}")


@app.command("show")
def show(
    config: Path = CONFIG_ARG,
    json_out: bool = typer.Option(False, "--json", help="JSON instead of YAML."),
) -> None:
    """Print the resolved config, with every default filled in."""
    import yaml

    from advance_trial.cli._render import print_json
    from advance_trial.config import load_config
    from advance_trial.config.diff import resolved

    data = resolved(load_config(config))
    if json_out:
        print_json(data)
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the config format (for editors and validators)."""
    from advance_trial.cli._render import print_json
    from advance_trial.config import Config

    print_json(Config.model_json_schema())


@app.command("diff")
def diff(
    old: Path = typer.Argument(..., help="The config before the amendment."),
    new: Path = typer.Argument(..., help="The config after the amendment."),
    json_out: bool = JSON,
) -> None:
    """Show what an amendment changed, key by key (exit 0 whether or not anything changed)."""
    from rich.table import Table

    from advance_trial.cli._render import print_json, shown, stdout
    from advance_trial.config import load_config
    from advance_trial.config.diff import diff_configs, version_warning

    a, b = load_config(old), load_config(new)
    changes = diff_configs(a, b)
    warning = version_warning(a, b, changes)
    if json_out:
        print_json(
            {
                "old": {"path": str(old), "version": a.trial.version},
                "new": {"path": str(new), "version": b.trial.version},
                "changes": [c.__dict__ for c in changes],
                "warning": warning,
            }
        )
        return
    if not changes:
        stdout.print("no differences")
        return
    table = Table(title=shown(f"{a.trial.id}: {a.trial.version} -> {b.trial.version}"))
    for col in ("key", "change", "old", "new"):
        table.add_column(col, overflow="fold")
    style = {"added": "green", "removed": "red", "changed": "yellow"}
    for c in changes:
        table.add_row(shown(c.path), f"[{style[c.kind]}]{c.kind}[/]", shown(_fmt(c.old)), shown(_fmt(c.new)))
    stdout.print(table)
    if warning:
        stdout.print(f"[yellow]warning:[/yellow] {shown(warning)}")


def _fmt(value: object) -> str:
    return "" if value is None else str(value)
