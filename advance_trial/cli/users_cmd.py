"""``advance-trial users``: the allocation service's accounts (add, list, disable, token, password).

Run on the server by whoever holds the key folder; each change is an event in the allocation log's chain,
recorded as the operating-system user who made it.
"""

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from advance_trial.cli._help import LAZY_GROUPS, FullHelpGroup
from advance_trial.cli._options import CONFIG_ARG, DB, JSON, KEY_DIR

if TYPE_CHECKING:
    from advance_trial.service.accounts import Accounts

app = typer.Typer(
    cls=FullHelpGroup,
    add_completion=False,
    help=LAZY_GROUPS["users"][1],
    no_args_is_help=True,
    rich_markup_mode=None,
)


class Role(StrEnum):
    """The service's roles."""

    site_ra = "site_ra"
    unblinder = "unblinder"
    statistician = "statistician"
    admin = "admin"


NAME_ARG = typer.Argument(..., help="The account's name (lower-case letters, digits, '.', '_', '-').", metavar="NAME")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from standard input (one line).")


TRAINING = typer.Option(False, "--training", help="The training log's accounts (randomise init --training).")


def _accounts(config: Path, db: str | None, key_dir: Path | None, training: bool = False) -> "Accounts":
    from advance_trial.cli._options import load_ring
    from advance_trial.config import load_config
    from advance_trial.service.accounts import Accounts

    cfg = load_config(config)
    if training:
        from advance_trial.randomisation.training import training_key

        tcfg, ring, where = training_key(cfg, key_dir, db)
        return Accounts(tcfg, ring, where)
    return Accounts(cfg, load_ring(cfg, key_dir, db), db)


def _password(from_stdin: bool) -> str:
    from advance_trial.errors import UsageError

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: pipe it in with --password-stdin")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


@app.command("add")
def add(
    config: Path = CONFIG_ARG,
    name: str = NAME_ARG,
    role: Role = typer.Option(..., "--role", help="site_ra, unblinder, statistician or admin."),
    site: list[str] = typer.Option([], "--site", help="A site the research assistant allocates at; repeatable."),
    password_stdin: bool = PASSWORD_STDIN,
    db: str | None = DB,
    key_dir: Path | None = KEY_DIR,
    training: bool = TRAINING,
    with_totp: bool = typer.Option(
        False,
        "--totp",
        help="Give the account a second factor (an authenticator app's "
        "one-time codes); prints its otpauth URI once. Always so for service.totp_roles.",
    ),
    json_out: bool = JSON,
) -> None:
    """Add an account with a password; prints its API token once (it is stored hashed)."""
    from advance_trial.cli._render import print_json, shown, stdout
    from advance_trial.service import totp

    accounts = _accounts(config, db, key_dir, training)
    password = _password(password_stdin)
    account, token = accounts.add(name, role.value, site, password)
    uri = None
    if with_totp or totp.required(accounts.cfg, account.role):
        secret: list[str] = []
        accounts._change({"action": "totp", "account": account.name}, None,
                         lambda db: secret.append(totp.new_secret(db, accounts.ring, account.name)))  # fmt: skip
        uri = totp.uri(accounts.cfg, account.name, secret[0])
    if json_out:
        print_json({"name": account.name, "role": account.role, "sites": list(account.sites), "token": token,
                    **({"otpauth_uri": uri} if uri else {})})  # fmt: skip
        return
    if uri:
        stdout.print(f"second factor: add this to the holder's authenticator app (shown once): {uri}")
    where = f" at {', '.join(account.sites)}" if account.sites else ""
    stdout.print(f"[green]added[/] {shown(account.name)} ({account.role}{shown(where)}); recorded in the log")
    stdout.print(f"API token (shown once; give it to the account's holder as ADVANCE_TRIAL_TOKEN): {token}")


@app.command("list")
def list_users(config: Path = CONFIG_ARG, db: str | None = DB, key_dir: Path | None = KEY_DIR,
               training: bool = TRAINING, json_out: bool = JSON) -> None:  # fmt: skip
    """List the accounts: name, role, sites, whether disabled (every row checked against the key)."""
    from rich.table import Table

    from advance_trial.cli._render import print_json, shown, stdout

    accounts = _accounts(config, db, key_dir, training).list()
    if json_out:
        print_json([{"name": a.name, "role": a.role, "sites": list(a.sites), "disabled": a.disabled,
                     "changed_at": a.changed_at} for a in accounts])  # fmt: skip
        return
    table = Table(title="accounts")
    for col in ("name", "role", "sites", "state", "changed"):
        table.add_column(col)
    for a in accounts:
        table.add_row(shown(a.name), a.role, shown(", ".join(a.sites)), "disabled" if a.disabled else "active",
                      a.changed_at)  # fmt: skip
    stdout.print(table)


@app.command("disable")
def disable(config: Path = CONFIG_ARG, name: str = NAME_ARG, db: str | None = DB, key_dir: Path | None = KEY_DIR,
            training: bool = TRAINING, json_out: bool = JSON) -> None:  # fmt: skip
    """Disable an account: its sessions end, its password and token stop working."""
    from advance_trial.cli._render import print_json, shown, stdout

    account = _accounts(config, db, key_dir, training).disable(name)
    if json_out:
        print_json({"name": account.name, "disabled": True})
        return
    stdout.print(f"disabled {shown(account.name)}; recorded in the log")


@app.command("token")
def token(config: Path = CONFIG_ARG, name: str = NAME_ARG, db: str | None = DB, key_dir: Path | None = KEY_DIR,
          training: bool = TRAINING, json_out: bool = JSON) -> None:  # fmt: skip
    """Give an account a new API token (the old one stops working); prints it once."""
    from advance_trial.cli._render import print_json, stdout

    new = _accounts(config, db, key_dir, training).new_token(name)
    if json_out:
        print_json({"name": name, "token": new})
        return
    stdout.print(f"new API token for {name} (shown once): {new}")


@app.command("password")
def password(config: Path = CONFIG_ARG, name: str = NAME_ARG, password_stdin: bool = PASSWORD_STDIN,
             db: str | None = DB, key_dir: Path | None = KEY_DIR, training: bool = TRAINING) -> None:  # fmt: skip
    """Set an account's password (and lift a lock-out after failed logins)."""
    from advance_trial.cli._render import stdout

    accounts = _accounts(config, db, key_dir, training)
    accounts.set_password(name, _password(password_stdin))
    stdout.print(f"password of {name} replaced; recorded in the log")
