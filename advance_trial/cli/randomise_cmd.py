"""``advance-trial randomise``: init, allocate, verify, receipts, export, list, unblind, correct, amend, assess.

What enrolling staff see is the arm (or its blinded code) of the man they ask about, and a
receipt; nothing here prints a future allocation or a block size to the terminal.
"""

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from advance_trial.cli._help import LAZY_GROUPS, FullHelpGroup
from advance_trial.cli._options import CONFIG_ARG, JSON, KEY_DIR, LOG, NOTE, REASON, check_choices, load_ring

app = typer.Typer(
    cls=FullHelpGroup,
    add_completion=False,
    help=LAZY_GROUPS["randomise"][1],
    no_args_is_help=True,
    rich_markup_mode=None,
)


SERVER = typer.Option(
    None, "--server", help="The allocation service's address (https://HOST:PORT); the token in ADVANCE_TRIAL_TOKEN."
)


class ListFormat(StrEnum):
    """How ``randomise list`` writes the list."""

    csv = "csv"
    redcap = "redcap"


def _parse_factors(pairs: list[str]) -> dict[str, str]:
    from advance_trial.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--factor {pair!r}: write it as NAME=VALUE, e.g. --factor cycle=2")
        out[name.strip()] = value.strip()
    return out


def _answers(cfg: Any, pairs: list[str]) -> dict[str, bool] | None:
    """``--answer ID=yes|no`` as eligibility answers; at a terminal, the criteria left unanswered are asked."""
    import sys

    from advance_trial.errors import UsageError
    from advance_trial.randomisation.eligibility import criteria

    said = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}
    out: dict[str, bool] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or value.strip().lower() not in said:
            raise UsageError(f"--answer {pair!r}: write it as CRITERION=yes or CRITERION=no, e.g. --answer adult=yes")
        out[name.strip()] = said[value.strip().lower()]
    asked = criteria(cfg)
    if asked and sys.stdin.isatty():
        for c in asked:
            if c.id not in out:
                out[c.id] = typer.confirm(c.question)
    return out if (out or asked) else None


def _shown(cfg: Any, arm: str) -> tuple[str, str]:
    """What the terminal may show of an arm: its code under blinding, else the arm and its label."""
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else None
    return (codes[arm], f"code {codes[arm]}") if codes else (arm, f"{arm} ({cfg.arm(arm).label})")


def _text(value: object) -> str:
    from advance_trial.cli._render import shown

    return shown(value)


@app.command("init")
def init(
    config: Path = CONFIG_ARG,
    key_dir: Path | None = KEY_DIR,
    log: str | None = LOG,
    note: str | None = NOTE,
    training: bool = typer.Option(
        False,
        "--training",
        help="A training key and log, apart from the live ones (for practising; serve them with serve --training).",
    ),
    json_out: bool = JSON,
) -> None:
    """Create the trial's secret key (if it has none), record its fingerprint in the config, create the log.

    All or nothing: everything is written under temporary names and moved into place last; a run that was
    interrupted (a full disk, a crash) is finished by running init again.
    """
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.randomisation.initialise import initialise

    if training:
        from advance_trial.config import load_config
        from advance_trial.errors import UsageError

        cfg = load_config(config)
        if cfg.randomisation.method == "none":
            raise UsageError(f"{cfg.trial.id} is a single-arm design: there is nothing to allocate")
        _init_training(cfg, key_dir, log, json_out)
        return
    done = initialise(config, key_dir, log, note)
    ring, path = done.ring, done.log
    if done.fingerprint_line is not None:
        stdout.print(f"add this line under randomisation: in {_text(config)}, then run init again:")
        stdout.print(f"  {done.fingerprint_line}")
        from advance_trial.errors import ExitCode

        raise typer.Exit(int(ExitCode.ERROR))
    assert done.report is not None
    report = done.report
    facts = {"log": str(path), "key": str(ring.key_path), "key_created": done.key_created,
             "fingerprint": ring.fingerprint, "public_key": str(ring.public_path), "head_row": report.head_row,
             "head_tag": report.head_tag, "finished": list(done.finished)}  # fmt: skip
    if json_out:
        print_json(facts)
        return
    if done.finished:
        stdout.print(f"finished an interrupted init (it had left: {', '.join(done.finished)})")
    stdout.print(f"[green]created[/] the allocation log {_text(path)} (0600)")
    if done.key_created:
        stdout.print(
            f"new key {_text(ring.key_path)} (0600): keep it, and a back-up, where enrolling staff cannot read"
        )
    if done.key_created or "key" in done.finished:  # the config had no fingerprint: init wrote it
        stdout.print(f"its fingerprint is now randomisation.key_fingerprint in {_text(config)}")
    stdout.print(f"fingerprint {ring.fingerprint}")
    stdout.print(f"public key for checking signed receipts: {_text(ring.public_path)}")


def _init_training(cfg: Any, key_dir: Path | None, log: str | None, json_out: bool) -> None:
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.randomisation.training import create_training

    tcfg, ring, where, created = create_training(cfg, key_dir, log)
    if json_out:
        print_json({"training": True, "trial": tcfg.trial.id, "log": str(where), "key": str(ring.key_path),
                    "key_created": created, "fingerprint": ring.fingerprint})  # fmt: skip
        return
    stdout.print(f"[green]created[/] the TRAINING log {_text(where)} and key {_text(ring.key_path)}")
    stdout.print("practice there with `serve --training`; nothing in it counts, and nothing moves to the live log")


@app.command("allocate")
def allocate(
    config: Path = CONFIG_ARG,
    participant: str = typer.Option(..., "--participant", help="The man's participant id."),
    site: str = typer.Option(..., "--site", help="His site id."),
    factor: list[str] = typer.Option([], "--factor", help="NAME=VALUE of a stratification or minimisation factor."),
    answer: list[str] = typer.Option(
        [], "--answer", help="CRITERION=yes|no: an eligibility answer; repeatable (at a terminal the others are asked)."
    ),
    data: Path | None = typer.Option(None, "--data", help="Canonical data folder (checks his screening row)."),
    receipt_out: Path | None = typer.Option(None, "--receipt-out", help="Also write the receipt (JSON) to this file."),
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    note: str | None = NOTE,
    server: str | None = SERVER,
    json_out: bool = JSON,
) -> None:
    """Allocate one man and print his receipt (asking again shows the same allocation and writes nothing).

    With --server, the allocation service allocates him (the token in ADVANCE_TRIAL_TOKEN says who asks) and
    every eligibility criterion of the config must be answered. Locally, answers given are checked and recorded.
    """
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import allocate as do_allocate
    from advance_trial.randomisation.request import AllocationRequest

    cfg = load_config(config)
    check_choices(cfg, site=site, factors=_parse_factors(factor))  # an unknown site or level: exit 2
    request = AllocationRequest.of(participant, site, _parse_factors(factor))
    if server is not None:
        _allocate_remotely(cfg, server, request, _answers(cfg, answer), receipt_out, json_out)
        return
    ring = load_ring(cfg, key_dir, log, data=data)
    answers = _answers(cfg, answer) if answer else None
    a = do_allocate(cfg, ring, request, log=log, note=note, data_dir=data, eligibility=answers)
    shown, label = _shown(cfg, a.arm)
    if receipt_out is not None and a.receipt:
        from advance_trial.data.tablefile import write_bytes_atomic

        write_bytes_atomic((json.dumps(a.receipt, indent=2, sort_keys=True) + "\n").encode(), receipt_out)
    if json_out:
        print_json({"participant_id": a.participant_id, "arm": shown, "sequence": a.sequence, "new": a.new,
                    "receipt": a.receipt})  # fmt: skip
        return
    if a.new:
        stdout.print(f"[bold green]{_text(a.participant_id)}[/]: {_text(label)}  [dim](allocation {a.sequence})[/]")
        r = a.receipt
        stdout.print(f"receipt: sequence {r['sequence']}, row {r['row']}, tag {r['tag']}")
        stdout.print(f"         log {r['log_id']}{', signed' if 'signature' in r else ''}")
    else:
        stdout.print(f"[bold]{_text(a.participant_id)}[/]: {_text(label)}  [dim](already allocated: allocation "
                     f"{a.sequence} on {a.randomised_on}; nothing written)[/]")  # fmt: skip


def _allocate_remotely(cfg: Any, server: str, request: Any, answers: dict[str, bool] | None, receipt_out: Path | None,
                       json_out: bool) -> None:  # fmt: skip
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.errors import UsageError
    from advance_trial.randomisation import client

    who = client.whoami(server)
    if who.get("training"):
        raise UsageError(f"{server} is a TRAINING service: allocate there from its pages, never with the live config")
    if who.get("trial") != cfg.trial.id:
        raise UsageError(f"{server} serves trial {who.get('trial')!r}, the config is {cfg.trial.id!r}")
    try:
        a, new = client.allocate(server, request.participant_id, request.site, dict(request.factors), answers), True
    except client.AlreadyAllocated as exc:
        a, new = exc.body, False
    shown = a.get("arm") or a.get("code")
    label = f"{a['arm']} ({a['arm_label']})" if a.get("arm") else f"code {a.get('code')}"
    if not new:
        label = "his arm is not shown again (it was shown once, with his allocation)"
    receipt = a.get("receipt") or {}
    if receipt_out is not None and receipt:
        from advance_trial.data.tablefile import write_bytes_atomic

        write_bytes_atomic((json.dumps(receipt, indent=2, sort_keys=True) + "\n").encode(), receipt_out)
    if json_out:
        print_json({"participant_id": a["participant_id"], "arm": shown, "sequence": a["sequence"], "new": new,
                    "receipt": receipt})  # fmt: skip
        return
    if new:
        stdout.print(f"[bold green]{_text(a['participant_id'])}[/]: {_text(label)}  [dim](allocation {a['sequence']}, "
                     f"by {_text(server)})[/]")  # fmt: skip
        stdout.print(f"receipt: sequence {receipt['sequence']}, row {receipt['row']}, tag {receipt['tag']}")
        stdout.print(f"         log {receipt['log_id']}{', signed' if 'signature' in receipt else ''}")
    else:
        stdout.print(f"[bold]{_text(a['participant_id'])}[/]: {_text(label)}  [dim](already allocated: allocation "
                     f"{a['sequence']} on {a['randomised_on']}; nothing written)[/]")  # fmt: skip


@app.command("verify")
def verify(
    config: Path = CONFIG_ARG,
    receipt: list[Path] = typer.Option([], "--receipt", help="A receipt (JSON) the log must contain; repeatable."),
    table: Path | None = typer.Option(
        None, "--table", help="A REDCap allocation table: is it exactly the list the key derives?"
    ),
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    json_out: bool = JSON,
) -> None:
    """Authenticate and replay every row, check the head against the checkpoint; exit 5 at the first fault."""
    from dataclasses import asdict

    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import log_path, verify_log

    cfg = load_config(config)
    ring = load_ring(cfg, key_dir, log)
    report = verify_log(cfg, ring, log, [_read_receipt(p) for p in receipt])
    checked = None
    if table is not None:
        from advance_trial.redcap.allocation import check_table, read_table

        checked = check_table(cfg, ring, read_table(cfg, table), log)
    if json_out:
        extra = {"table": {"file": str(table), **asdict(checked)}} if checked is not None else {}
        print_json({"log": str(log_path(cfg, log)), "valid": True, **asdict(report), **extra})
        return
    if checked is not None:
        stdout.print(f"[green]verified[/] {_text(table)}: its {checked.rows} positions in {checked.strata} strata are "
                     "the lists the trial's key derives")  # fmt: skip
    service = f", {report.logins} logins, {report.account_changes} account changes" \
        if report.logins or report.account_changes else ""  # fmt: skip
    stdout.print(
        f"[green]verified[/] {_text(log_path(cfg, log))}: {report.rows} rows, {report.allocations} allocations, "
        f"{report.unblindings} unblindings, {report.exports} exports, {report.corrections} corrections, "
        f"{report.amendments} amendments{service}; every row authenticates and replays; the head is the checkpoint's"
    )
    stdout.print(f"head: row {report.head_row}, tag {report.head_tag}")
    if receipt:
        stdout.print(f"{len(receipt)} receipt(s) found in the log")


def _read_receipt(path: Path) -> dict[str, Any]:
    from advance_trial.errors import UsageError

    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the receipt ({exc.strerror})") from None
    except ValueError:
        raise UsageError(f"{path}: not a receipt (not JSON)") from None
    if not isinstance(body, dict):
        raise UsageError(f"{path}: not a receipt")
    return body


@app.command("copy-log")
def copy_log(
    config: Path = CONFIG_ARG,
    to: str = typer.Option(..., "--to", help="The new, empty database: a SQLite path or a postgresql:// URL."),
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    json_out: bool = JSON,
) -> None:
    """Copy the trial's log, verified, row for row into a new database (e.g. from SQLite to PostgreSQL).

    The copy is the same chain (same log id, rows and tags), so the checkpoint holds for it; it is verified
    before anything is said. Point randomisation.log (or --log, --db) at the copy afterwards and keep the
    old file as a back-up; never write to both.
    """
    from dataclasses import asdict

    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import copy_log as do_copy
    from advance_trial.randomisation.allocation import log_path

    cfg = load_config(config)
    report = do_copy(cfg, load_ring(cfg, key_dir, log), log, to)
    target = log_path(cfg, to)
    if json_out:
        print_json({"from": str(log_path(cfg, log)), "to": target.shown, **asdict(report)})
        return
    stdout.print(f"[green]copied[/] {report.rows} rows to {_text(target.shown)}; the copy verifies (head row "
                 f"{report.head_row}); point randomisation.log at it and keep the old log as a back-up")  # fmt: skip


@app.command("check-receipt")
def check_receipt(
    receipt: Path = typer.Argument(..., help="The receipt (JSON).", show_default=False),
    public_key: Path = typer.Option(..., "--public-key", help="The trial's public signing key (PEM)."),
    json_out: bool = JSON,
) -> None:
    """Check a receipt's Ed25519 signature with the public key alone (no log, no secret needed)."""
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.errors import UsageError
    from advance_trial.randomisation.key import check_receipt_signature

    body = _read_receipt(receipt)
    try:
        pem = public_key.read_bytes()
    except OSError as exc:
        raise UsageError(f"{public_key}: cannot read the public key ({exc.strerror})") from None
    check_receipt_signature(body, pem)
    if json_out:
        print_json({"receipt": str(receipt), "valid": True, "row": body.get("row"), "sequence": body.get("sequence")})
        return
    stdout.print(f"[green]signature valid[/]: {_text(body.get('trial_id'))} allocation {body.get('sequence')} "
                 f"(row {body.get('row')}, {_text(body.get('participant_id'))})")  # fmt: skip


@app.command("export")
def export(
    config: Path = CONFIG_ARG,
    out: Path = typer.Option(..., "--out", help="Folder to write allocations.csv into."),
    reason: str = REASON,
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    note: str | None = NOTE,
    json_out: bool = JSON,
) -> None:
    """Write every allocation with its arm as CSV; the export is recorded in the log (who, when, why, how many)."""
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import write_export

    cfg = load_config(config)
    w = write_export(cfg, load_ring(cfg, key_dir, log), reason, out, log=log, note=note)
    if json_out:
        print_json({"file": str(w.path), "allocations": w.rows, "sha256": w.sha256})
        return
    stdout.print(f"wrote {_text(w.path)}: {w.rows} allocations (the export is recorded in the log)")


@app.command("list")
def concealed_list(
    config: Path = CONFIG_ARG,
    n: int = typer.Option(..., "--n", help="Positions per stratum (1 to 100000).", min=1, max=100_000),
    out: Path = typer.Option(..., "--out", help="Folder for the list and its .sha256 commitment (never printed)."),
    reason: str = REASON,
    backup: bool = typer.Option(False, "--backup", help="The sealed back-up lists for allocating offline."),
    fmt: ListFormat = typer.Option(ListFormat.csv, "--format", help="csv, or redcap (REDCap's allocation table)."),
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    json_out: bool = JSON,
) -> None:
    """Write the concealed allocation list (or the back-up lists) and print only its SHA-256 commitment."""
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import write_list
    from advance_trial.redcap.allocation import write_table

    cfg = load_config(config)
    write = write_table if fmt is ListFormat.redcap else write_list
    w = write(cfg, load_ring(cfg, key_dir, log), n, reason, out, backup=backup, log=log)
    if json_out:
        print_json({"file": str(w.path), "positions": w.rows, "sha256": w.sha256})
        return
    stdout.print(f"wrote the {'back-up' if backup else 'concealed'} list to {_text(w.path)} ({w.rows} positions); "
                 "keep it from enrolling staff")  # fmt: skip
    stdout.print(f"SHA-256 commitment (publish it): {w.sha256}")


@app.command("unblind")
def unblind(
    config: Path = CONFIG_ARG,
    participant: str = typer.Option(..., "--participant", help="The one man to unblind."),
    reason: str = REASON,
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    note: str | None = NOTE,
    server: str | None = SERVER,
    json_out: bool = JSON,
) -> None:
    """Reveal one man's arm, recording who, when and why in the log (with --server, through the service)."""
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import unblind as do_unblind

    cfg = load_config(config)
    if server is not None:
        from advance_trial.randomisation import client

        body = client.unblind(server, participant, reason)
        pid, arm, sequence = body["participant_id"], body["arm"], body["sequence"]
    else:
        a = do_unblind(cfg, load_ring(cfg, key_dir, log), participant, reason, log=log, note=note)
        pid, arm, sequence = a.participant_id, a.arm, a.sequence
    if json_out:
        print_json({"participant_id": pid, "arm": arm, "sequence": sequence})
        return
    stdout.print(f"[bold]{_text(pid)}[/]: {_text(arm)} ({_text(cfg.arm(arm).label)})  [dim](unblinding recorded)[/]")


@app.command("correct")
def correct(
    config: Path = CONFIG_ARG,
    participant: str = typer.Option(..., "--participant", help="The man randomised in error."),
    reason: str = REASON,
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    note: str | None = NOTE,
    json_out: bool = JSON,
) -> None:
    """Record that a man was randomised in error (his allocation stays; outputs can flag it)."""
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import correct as do_correct

    cfg = load_config(config)
    a = do_correct(cfg, load_ring(cfg, key_dir, log), participant, reason, log=log, note=note)
    if json_out:
        print_json({"participant_id": a.participant_id, "sequence": a.sequence, "randomised_in_error": True})
        return
    stdout.print(f"{_text(a.participant_id)}: recorded as randomised in error (allocation {a.sequence} stays)")


@app.command("amend")
def amend(
    config: Path = CONFIG_ARG,
    reason: str = REASON,
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    json_out: bool = JSON,
) -> None:
    """Record a config amendment (higher trial.version) in the log; later allocations follow its design."""
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import amend as do_amend

    cfg = load_config(config)
    detail = do_amend(cfg, load_ring(cfg, key_dir, log), reason, log=log)
    if json_out:
        print_json({"from_version": detail["from_version"], "to_version": cfg.trial.version,
                    "changed": list(detail["changed"])})  # fmt: skip
        return
    changed = ", ".join(detail["changed"]) or "nothing that allocates"
    stdout.print(f"recorded amendment {_text(detail['from_version'])} -> {_text(cfg.trial.version)}; "
                 f"design changes: {_text(changed)}")  # fmt: skip


@app.command("backup")
def backup(
    config: Path = CONFIG_ARG,
    participant: str = typer.Option(..., "--participant", help="The man allocated offline."),
    site: str = typer.Option(..., "--site", help="His site id."),
    position: int = typer.Option(..., "--position", help="The back-up list position (envelope number) opened.", min=1),
    arm: str = typer.Option(..., "--arm", help="The arm (or code) the envelope held."),
    randomised_on: str = typer.Option(..., "--randomised-on", help="The date he was allocated (YYYY-MM-DD)."),
    factor: list[str] = typer.Option([], "--factor", help="NAME=VALUE of a stratification factor."),
    log: str | None = LOG,
    key_dir: Path | None = KEY_DIR,
    note: str | None = NOTE,
    json_out: bool = JSON,
) -> None:
    """Enter an allocation made offline from a sealed back-up list; its position and arm are checked."""
    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.errors import UsageError
    from advance_trial.randomisation.allocation import enter_backup

    try:
        on = date.fromisoformat(randomised_on)
    except ValueError:
        raise UsageError(f"--randomised-on {randomised_on!r}: write the date as YYYY-MM-DD") from None
    cfg = load_config(config)
    check_choices(cfg, site=site, factors=_parse_factors(factor), arm=arm)  # not one of its choices: exit 2
    ring = load_ring(cfg, key_dir, log)
    a = enter_backup(cfg, ring, participant, site, _parse_factors(factor), position, arm, on, log=log, note=note)
    if json_out:
        print_json({"participant_id": a.participant_id, "sequence": a.sequence, "receipt": a.receipt})
        return
    stdout.print(f"{_text(a.participant_id)}: back-up allocation entered as allocation {a.sequence}; "
                 f"receipt tag {a.receipt['tag']}")  # fmt: skip


@app.command("assess")
def assess(
    config: Path = CONFIG_ARG,
    n_trials: int = typer.Option(10_000, "--n-trials", help="Simulated trials (1 to 10^7).", min=1, max=10_000_000),
    participants: int | None = typer.Option(
        None,
        "--participants",
        min=1,
        max=100_000,
        help="Participants per trial (1 to 100000; default: the config's trial.target_sample_size).",
    ),  # fmt: skip
    split: str | None = typer.Option(None, "--split", help="Arm totals to compare against, e.g. 54/50."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the simulation (default: randomisation.assess_seed).", min=0, max=2**63 - 1
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the tables into this folder."),
    table: Path | None = typer.Option(
        None, "--table", help="Assess this REDCap allocation table instead of simulating the design."
    ),
    json_out: bool = JSON,
) -> None:
    """Simulate the configured design: imbalance, an observed split's probability, predictability.

    The simulation uses a plain seed, which conceals nothing: it studies the design, not the trial's lists.
    With --table, the given allocation table is described the same way, stratum by stratum.
    """
    if table is not None:
        _assess_table(config, table, out, json_out)
        return
    from rich.progress import Progress
    from rich.table import Table as RichTable

    from advance_trial.cli._render import print_json, stderr, stdout
    from advance_trial.config import load_config
    from advance_trial.errors import UsageError
    from advance_trial.randomisation.assess import assess as do_assess

    cfg = load_config(config)
    participants = participants or cfg.trial.target_sample_size
    if participants is None:
        raise UsageError(f"{config}: give --participants (the config sets no trial.target_sample_size)")
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
        from advance_trial.output.tables import write_tables
        from advance_trial.randomisation.assess import assessment_tables

        write_tables(assessment_tables(result, n_trials, participants), out)
    if json_out:
        print_json({"summary": [dict(zip(("statistic", "scope", "value"), r, strict=True)) for r in result.rows],
                    "distribution": [dict(zip(("imbalance", "final", "maximum"), r, strict=True))
                                     for r in result.imbalance]})  # fmt: skip
        return
    shown = RichTable(title=f"{_text(cfg.trial.id)}: {cfg.randomisation.method}, {n_trials} trials of {participants}")
    for col in ("statistic", "scope", "value"):
        shown.add_column(col, justify="right" if col == "value" else "left")
    for statistic, scope, value in result.rows:
        shown.add_row(_text(statistic), _text(scope), f"{value:.4g}")
    stdout.print(shown)
    stdout.print("Imbalance: largest minus smallest ratio-adjusted arm count. Correct guesses: an enroller")
    stdout.print("guessing the arm that is behind in the allocation's own stream (Blackwell and Hodges 1957).")


def _assess_table(config: Path, table: Path, out: Path | None, json_out: bool) -> None:
    """``assess --table``: a REDCap allocation table's balance, blocks and predictability."""
    from rich.table import Table as RichTable

    from advance_trial.cli._render import print_json, stdout
    from advance_trial.config import load_config
    from advance_trial.redcap.allocation import read_table, table_assessment

    cfg = load_config(config)
    rows = table_assessment(cfg, read_table(cfg, table))
    if out is not None:
        from advance_trial.output.tables import write_tables
        from advance_trial.randomisation.assess import table_assessment_tables

        write_tables(table_assessment_tables(rows, table.name), out)
    if json_out:
        print_json({"table": str(table), "summary": [dict(zip(("statistic", "scope", "value"), r, strict=True))
                                                     for r in rows]})  # fmt: skip
        return
    rich = RichTable(title=f"{_text(cfg.trial.id)}: allocation table {_text(table.name)}")
    for col in ("statistic", "scope", "value"):
        rich.add_column(col, justify="right" if col == "value" else "left")
    for statistic, scope, value in rows:
        rich.add_row(_text(statistic), _text(scope), f"{value:.4g}")
    stdout.print(rich)
    stdout.print("made_of_design_blocks: 1 when the stratum's list is whole blocks of the design's sizes (the last may")
    stdout.print("be cut short), each balanced to the ratios. Correct guesses: guessing the arm behind in the list.")
