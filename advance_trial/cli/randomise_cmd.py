"""``advance-trial randomise``: allocate, verify, export, list, unblind and assess.

What enrolling staff see is the arm (or its blinded code) of the participant they ask about;
nothing here prints a future allocation or a block size to the terminal.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Allocate participants with a tamper-evident log; verify, export, unblind; assess a design.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

CONFIG_ARG = typer.Argument(..., help="The trial config (YAML).", show_default=False)
LOG = typer.Option(None, "--log", help="The allocation log (SQLite); default: randomisation.log in the config.")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _load(config: Path, log: Path | None):
    from advance_trial.allocation_log import default_log_path
    from advance_trial.config import load_config

    cfg = load_config(config)
    return cfg, (log if log is not None else default_log_path(cfg))


def _parse_factors(pairs: list[str]) -> dict[str, str]:
    from advance_trial.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--factor {pair!r}: write it as NAME=VALUE, e.g. --factor cycle=2")
        out[name.strip()] = value.strip()
    return out


@app.command("allocate")
def allocate(
    config: Path = CONFIG_ARG,
    log: Path | None = LOG,
    participant: str = typer.Option(..., "--participant", help="The participant's id."),
    site: str = typer.Option(..., "--site", help="The participant's site id."),
    factor: list[str] = typer.Option([], "--factor", help="NAME=VALUE of a stratification or minimisation factor."),
    by: str | None = typer.Option(None, "--by", help="Who is allocating (default: the OS user)."),
    json_out: bool = JSON,
) -> None:
    """Allocate one participant (asking again returns the same arm and writes nothing)."""
    from advance_trial.allocation_log import allocate as do_allocate
    from advance_trial.cli._render import print_json, stdout

    cfg, path = _load(config, log)
    a = do_allocate(path, cfg, participant, site, _parse_factors(factor), by)
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else None
    shown = codes[a.arm] if codes else a.arm
    if json_out:
        print_json({"participant_id": a.participant_id, "arm": shown, "sequence": a.sequence})
        return
    label = f"code {shown}" if codes else f"{shown} ({cfg.arm(a.arm).label})"
    if a.new:
        stdout.print(f"[bold green]{a.participant_id}[/]: {label}  [dim](allocation {a.sequence}, {a.allocated_at})[/]")
    else:
        stdout.print(
            f"[bold]{a.participant_id}[/]: {label}  [dim](already allocated: allocation {a.sequence}, "
            f"{a.allocated_at}; nothing written)[/]"
        )


@app.command("verify")
def verify(
    config: Path = CONFIG_ARG,
    log: Path | None = LOG,
    expect_head: str | None = typer.Option(None, "--expect-head", help="The head hash recorded earlier."),
    json_out: bool = JSON,
) -> None:
    """Re-check the hash chain and replay every allocation from the seed; exit 5 at the first bad row."""
    from dataclasses import asdict

    from advance_trial.allocation_replay import verify_log
    from advance_trial.cli._render import print_json, stdout

    cfg, path = _load(config, log)
    report = verify_log(path, cfg, expect_head)
    if json_out:
        print_json({"log": str(path), "valid": True, **asdict(report)})
        return
    stdout.print(
        f"[green]verified[/] {path}: {report.rows} rows, {report.allocations} allocations, "
        f"{report.unblindings} unblindings; every allocation replays from the seed"
    )
    stdout.print(f"head hash {report.head_hash}  [dim](record it to detect later rewrites or cuts)[/]")
    for note in report.notes:
        stdout.print(f"[yellow]note[/]: {note}")


@app.command("export")
def export(
    config: Path = CONFIG_ARG,
    log: Path | None = LOG,
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
) -> None:
    """Write every allocation (participant_id, site, arm, sequence, allocated_at, ...) as CSV."""
    from advance_trial.allocation_replay import export_frame
    from advance_trial.cli._render import stdout
    from advance_trial.tablefile import write_table_atomic

    cfg, path = _load(config, log)
    frame = export_frame(path, cfg)
    write_table_atomic(frame, out)
    stdout.print(f"wrote {out}: {len(frame)} allocations")


@app.command("list")
def concealed_list(
    config: Path = CONFIG_ARG,
    n: int = typer.Option(..., "--n", help="Positions per stratum."),
    out: Path = typer.Option(..., "--out", help="CSV file for the concealed list (never printed)."),
) -> None:
    """Write the concealed allocation list and print only its SHA-256 commitment."""
    from advance_trial.allocation_replay import commitment, concealed_list
    from advance_trial.cli._render import stdout
    from advance_trial.config import load_config
    from advance_trial.results import to_csv_bytes
    from advance_trial.tablefile import write_bytes_atomic

    cfg = load_config(config)
    frame = concealed_list(cfg, n)
    data = to_csv_bytes(frame)
    digest = commitment(data)
    write_bytes_atomic(data, out)
    write_bytes_atomic(f"{digest}  {out.name}\n".encode(), out.with_name(out.name + ".sha256"))
    stdout.print(f"wrote the concealed list to {out} ({len(frame)} positions); keep it from enrolling staff")
    stdout.print(f"SHA-256 commitment (publish before recruitment): {digest}")


@app.command("unblind")
def unblind(
    config: Path = CONFIG_ARG,
    log: Path | None = LOG,
    participant: str = typer.Option(..., "--participant", help="The participant to unblind."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the log)."),
    by: str = typer.Option(..., "--by", help="Who is unblinding (recorded in the log)."),
    json_out: bool = JSON,
) -> None:
    """Reveal one participant's arm, recording who, when and why in the log."""
    from advance_trial.allocation_log import unblind as do_unblind
    from advance_trial.cli._render import print_json, stdout

    cfg, path = _load(config, log)
    a = do_unblind(path, cfg, participant, reason, by)
    if json_out:
        print_json({"participant_id": a.participant_id, "arm": a.arm, "sequence": a.sequence})
        return
    stdout.print(f"[bold]{a.participant_id}[/]: {a.arm} ({cfg.arm(a.arm).label})  [dim](unblinding recorded)[/]")


@app.command("assess")
def assess(
    config: Path = CONFIG_ARG,
    n_trials: int = typer.Option(10_000, "--n-trials", help="Simulated trials."),
    participants: int = typer.Option(..., "--participants", help="Participants per trial."),
    split: str | None = typer.Option(None, "--split", help="Arm totals to compare against, e.g. 54/50."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the simulation (default: the config's)."),
    out: Path | None = typer.Option(None, "--out", help="Also write the tables into this folder."),
    json_out: bool = JSON,
) -> None:
    """Simulate the configured design: imbalance, an observed split's probability, predictability."""
    from rich.progress import Progress
    from rich.table import Table as RichTable

    from advance_trial.assess import assess as do_assess
    from advance_trial.cli._render import print_json, records, stderr, stdout
    from advance_trial.config import load_config
    from advance_trial.errors import UsageError

    cfg = load_config(config)
    counts = None
    if split:
        try:
            counts = tuple(int(x) for x in split.split("/"))
        except ValueError:
            raise UsageError(f"--split {split!r}: write arm totals as A/B, e.g. 54/50") from None
    with Progress(console=stderr, transient=True, disable=json_out) as bar:
        task = bar.add_task("simulating", total=n_trials)
        result = do_assess(cfg, n_trials, participants, seed, counts, lambda d, t: bar.update(task, completed=d))
    if out is not None:
        from advance_trial.results import Table, write_tables

        notes = (f"{n_trials} simulated trials of {participants} participants; factor levels uniform.",)
        write_tables(
            [
                Table("assessment", result.summary, "Design assessment", notes),
                Table("assessment_imbalance", result.distribution, "Overall imbalance distribution", notes),
            ],
            out,
        )
    if json_out:
        print_json({"summary": records(result.summary), "distribution": records(result.distribution)})
        return
    table = RichTable(title=f"{cfg.trial.id}: {cfg.randomisation.method}, {n_trials} trials of {participants}")
    for col in ("statistic", "scope", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for r in result.summary.itertuples():
        table.add_row(r.statistic, r.scope, f"{r.value:.4g}")
    stdout.print(table)
    stdout.print("Imbalance: largest minus smallest ratio-adjusted arm count. Correct guesses: an enroller")
    stdout.print("guessing the arm that is behind in the allocation's own stream (Blackwell and Hodges 1957).")
