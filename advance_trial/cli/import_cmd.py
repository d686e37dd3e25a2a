"""``advance-trial import``: bring a site's CSV or Excel export into the canonical data; ``import template``:
the workbook a site fills in.

``import template`` is a command of its own that the root group finds when ``template`` follows
``import`` (:class:`advance_trial.cli.main._ErrorMappingGroup`), so that ``import CONFIG FILE...`` stays
as it is."""

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


class TemplateKind(StrEnum):
    """The canonical file a template feeds (a REDCap project has its own forms)."""

    screening = "screening"
    participants = "participants"
    attendance = "attendance"
    followup = "followup"
    measures = "measures"
    partners = "partners"
    events = "events"


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
    maps: list[str] = typer.Option(
        [],
        "--map",
        metavar='"HEADER=column"',
        help="Read the site's column HEADER as the canonical column (repeatable; over the config's rules).",
    ),  # fmt: skip
    ignores: list[str] = typer.Option(
        [], "--ignore", metavar="HEADER", help="Leave the site's column HEADER out, on purpose (repeatable)."
    ),
    save_rule: bool = typer.Option(
        False, "--save-rule", help="Write the --map and --ignore options into the config, as the site's import rule."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Show what the import would do, row by row (new, changed, unchanged, refused); write nothing.",
    ),  # fmt: skip
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
    """Import site files: all or nothing by default, every problem named, every import audited.

    `--dry-run` shows what it would do, row by row, and writes nothing. `advance-trial import template
    CONFIG --kind KIND [--site SITE] --out FILE.xlsx` writes the workbook a site fills in.
    """
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
    columns = _parse_maps(maps)
    if save_rule and dry_run:
        raise UsageError("--dry-run writes nothing, the config included: run --save-rule without it")
    if save_rule and not columns and not ignores:
        raise UsageError("--save-rule keeps the --map and --ignore options: give at least one")
    if save_rule and (site is None or Kind.redcap in kind):
        raise UsageError("--save-rule: a site file's rule needs --site and its --kind (not redcap)")
    if dry_run:
        _dry_run(cfg, data, site, [k.value for k in kind], files, sheet=sheet, accept_valid=accept_valid,
                 replace=replace, header_row=header_row, columns=columns, ignore=ignores, log=log, key_dir=key_dir,
                 json_out=json_out)  # fmt: skip
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=stderr, transient=True, disable=json_out) as bar:  # fmt: skip
        task = bar.add_task("importing", total=len(files))

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done)

        outcomes = import_files(cfg, data, site, [k.value for k in kind], files, sheet=sheet, accept_valid=accept_valid,
                                replace=replace, by=user, report=report, progress=step, header_row=header_row,
                                log=log, key_dir=key_dir, columns=columns, ignore=ignores,
                                waiting=lambda what: stderr.print(f"[yellow]{what}[/]"))  # fmt: skip
    if save_rule:  # once the import has gone in: a guess that was wrong is not kept
        _save_rule(config, cfg, site, [k.value for k in kind], columns, ignores)
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


def _parse_maps(maps: list[str]) -> dict[str, str]:
    """``--map "HEADER=column"`` options as a dictionary (the last ``=`` splits: a header may hold one)."""
    from advance_trial.errors import UsageError

    out: dict[str, str] = {}
    for m in maps:
        header, eq, column = m.rpartition("=")
        if not eq or not header.strip() or not column.strip():
            raise UsageError(
                f'--map {m!r}: give it as "SITE HEADER=canonical column", e.g. --map "Screen ID=screen_id"'
            )
        out[header.strip()] = column.strip()
    return out


def _save_rule(config: Path, cfg: object, site: str | None, kinds: list[str], columns: dict[str, str],
               ignore: list[str]) -> None:  # fmt: skip
    """Check the options first (nothing is written for a wrong one), then add the rule to the config."""
    from advance_trial.cli._render import shown, stdout
    from advance_trial.config.edit import add_import_rule
    from advance_trial.config.models import Config
    from advance_trial.errors import UsageError
    from advance_trial.importing.core import HeaderOptions, check_options

    assert isinstance(cfg, Config) and site is not None
    check_options(cfg, kinds, HeaderOptions(None, columns, tuple(ignore)))
    rule: dict[str, object] = {"sites": [site], "kinds": list(dict.fromkeys(kinds))}
    if columns:
        rule["columns"] = columns
    if ignore:
        rule["ignore"] = list(ignore)
    try:
        line = add_import_rule(config, rule)
    except UsageError as exc:
        raise UsageError(f"the import went in, but the rule was not written: {exc}") from None
    stdout.print(f"added to {shown(config)}'s import rules: {shown(line)}")


def _dry_run(cfg: object, data: Path, site: str | None, kinds: list[str], files: list[Path], *, json_out: bool,
             **options: object) -> None:  # fmt: skip
    """Every row's fate, then the counts; refused as the import would be (exit 4), nothing written."""
    from rich.table import Table

    from advance_trial.cli._render import print_json, shown, stdout
    from advance_trial.config.models import Config
    from advance_trial.importing import import_files
    from advance_trial.importing.core import ImportRefused, RowPreview

    assert isinstance(cfg, Config)
    rows: list[RowPreview] = []
    refused: ImportRefused | None = None
    done = []
    try:
        done = import_files(cfg, data, site, kinds, files, preview=rows, **options)  # type: ignore[arg-type]
    except ImportRefused as exc:
        refused = exc
    same = [o.file for o in done if o.outcome == "already_imported"]
    if json_out:
        problems = refused.records() if refused is not None else []
        print_json({"dry_run": True, "would_import": refused is None, "already_imported": same, "problems": problems,
                    "rows": [{"file": r.file, "row": r.row, "kind": r.kind, "key": r.key, "status": r.status,
                              "changes": [{"column": c, "old": o, "new": n} for c, o, n in r.changes],
                              "why": r.why} for r in rows]})  # fmt: skip
        if refused is not None:  # one JSON document on standard output: the problems are in it
            from advance_trial.cli._render import print_error

            print_error(refused)
            raise typer.Exit(int(refused.exit_code))
        return
    else:
        table = Table(title="dry run: nothing written", title_justify="left")
        for name in ("file", "row", "into", "key", "would be", "values / why"):
            table.add_column(name)
        style = {"new": "green", "changed": "yellow", "unchanged": "dim", "refused": "bold red"}
        for r in rows:
            what = "; ".join(f"{c}: {o!r} -> {n!r}" for c, o, n in r.changes)
            detail = "; ".join(filter(None, [what, r.why]))
            table.add_row(shown(r.file), str(r.row), f"{r.kind}.csv", shown(r.key), f"[{style[r.status]}]{r.status}[/]",
                          shown(detail))  # fmt: skip
        if rows:
            stdout.print(table)
        for file in same:
            stdout.print(f"[dim]{shown(file)}: already imported (same content); nothing would change[/]")
        counts = {s: sum(r.status == s for r in rows) for s in ("new", "changed", "unchanged", "refused")}
        verdict = "the import would be refused" if refused is not None else "the import would succeed"
        stdout.print(", ".join(f"{n} {s}" for s, n in counts.items()) + f": {verdict}; nothing was written")
    if refused is not None:
        raise refused


def template(
    config: Path = CONFIG_ARG,
    kind: TemplateKind = typer.Option(..., "--kind", help="Which canonical file the workbook feeds."),
    out: Path = typer.Option(..., "--out", help="The workbook to write (.xlsx).", metavar="FILE"),
    site: str | None = typer.Option(
        None, "--site", help="The site it is for: its own headers (the config's rule) and only its site in the list."
    ),
) -> None:
    """Write the Excel workbook a site fills in: headers, drop-down lists, date cells, instructions.

    Filled in, it imports with `advance-trial import CONFIG FILE --data DATA --site SITE --kind KIND`,
    with no change to the config.
    """
    from advance_trial.cli._render import shown, stdout
    from advance_trial.config import load_config
    from advance_trial.importing.template import write_template

    cfg = load_config(config)
    path = write_template(cfg, kind.value, out, site)
    stdout.print(f"wrote {shown(path)}: the sheet {kind.value!r} to fill in, with its instructions; import it with "
                 f"advance-trial import {shown(config)} {shown(path)} --data DATA --site {site or 'SITE'} "
                 f"--kind {kind.value}")  # fmt: skip


template_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
template_app.command("template")(template)
