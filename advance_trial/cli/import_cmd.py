"""``advance-trial import``: bring a site's CSV or Excel export into the canonical data."""

from enum import StrEnum
from pathlib import Path

import typer

from advance_trial.cli._options import CONFIG_ARG, JSON, KEY_DIR


class Kind(StrEnum):
    """The canonical file a site file feeds."""

    screening = "screening"
    participants = "participants"
    attendance = "attendance"
    followup = "followup"
    measures = "measures"
    partners = "partners"
    events = "events"
    redcap = "redcap"


def import_data(
    config: Path = CONFIG_ARG,
    files: list[Path] = typer.Argument(..., help="Site files (.csv or .xlsx).", show_default=False),
    data: Path = typer.Option(..., "--data", help="Folder of canonical data files to import into."),
    site: str | None = typer.Option(
        None, "--site", help="The site the files come from (a REDCap export's data access groups say it)."
    ),
    kind: list[Kind] = typer.Option(
        [],
        "--kind",
        help="Which canonical file the rows belong to (once, or once per file); redcap: a REDCap "
        "export (the default when the config has a redcap section).",
    ),
    sheet: str | None = typer.Option(
        None, "--sheet", help="Excel sheet, any case (default: the one visible sheet whose header fits)."
    ),
    header_row: int | None = typer.Option(
        None, "--header-row", min=1, help="The header's row number (default: the first row the mapping reads)."
    ),
    accept_valid: bool = typer.Option(
        False, "--accept-valid", help="Write the good rows; set the bad ones aside in DATA/rejected/."
    ),
    replace: bool = typer.Option(False, "--replace", help="Let differing values replace canonical ones (recorded)."),
    log: Path | None = typer.Option(None, "--log", help="The allocation log: an arm replaced must agree with it."),
    key_dir: Path | None = KEY_DIR,
    user: str | None = typer.Option(None, "--user", help="Who is importing (default: the OS user)."),
    old_by: str | None = typer.Option(None, "--by", hidden=True, help="The old name of --user."),
    report: Path | None = typer.Option(None, "--report", help="Where to write the problem report (CSV)."),
    json_out: bool = JSON,
) -> None:
    """Import site files: all or nothing by default, every problem named, every import audited."""
    from dataclasses import replace as with_changes

    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from advance_trial.cli._render import print_json, shown, stderr, stdout
    from advance_trial.config import load_config
    from advance_trial.errors import UsageError
    from advance_trial.importing import import_files

    if old_by is not None:  # --by names a breakdown everywhere else
        stderr.print("[yellow]--by NAME is now --user NAME[/] (--by names a breakdown in every other command)")
        user = user or old_by
    cfg = load_config(config)
    if not kind:
        if cfg.redcap is None:
            raise UsageError("give --kind: which canonical file the rows belong to")
        kind = [Kind.redcap]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=stderr, transient=True, disable=json_out) as bar:  # fmt: skip
        task = bar.add_task("importing", total=len(files))

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done)

        outcomes = import_files(cfg, data, site, [k.value for k in kind], files, sheet=sheet, accept_valid=accept_valid,
                                replace=replace, by=user, report=report, progress=step, header_row=header_row,
                                log=log, key_dir=key_dir,
                                waiting=lambda what: stderr.print(f"[yellow]{what}[/]"))  # fmt: skip
    if json_out:
        print_json([{**o.counts(), "kind": o.kind, "site": o.site, "rejected_file": o.rejected_file} for o in outcomes])
        return
    for o in outcomes:
        if kind == [Kind.redcap]:  # one export feeds several files and sites
            o = with_changes(o, file=f"{o.file} -> {o.kind}.csv, {o.site}")
        if o.outcome == "already_imported":
            stdout.print(f"[dim]{shown(o.file)}: already imported (same content); nothing changed[/]")
            continue
        counts = f"{o.rows_read} rows read: {o.new} new, {o.unchanged} unchanged, {o.replaced} replaced"
        if o.rejected:
            stdout.print(
                f"[yellow]{shown(o.file)}[/]: {counts}, [bold yellow]{o.rejected} rejected[/] -> "
                f"{shown(o.rejected_file)}"
            )
            for p in o.problems[:10]:
                stdout.print(f"  {shown(p)}")
            if len(o.problems) > 10:
                stdout.print(f"  ... and {len(o.problems) - 10} more (all in {shown(o.rejected_file)})")
        else:
            stdout.print(f"[green]{shown(o.file)}[/]: {counts} [dim]({shown(o.source)})[/]")
    audit = data / "import" / "audit.csv"
    kinds = [o.kind for o in outcomes] if kind == [Kind.redcap] else [k.value for k in kind]
    written = ", ".join(f"{k}.csv" for k in dict.fromkeys(kinds))
    stdout.print(f"{written} in {shown(data)} up to date; the import is recorded in {shown(audit)}")
