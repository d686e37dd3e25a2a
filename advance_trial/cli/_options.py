"""Options shared by several commands, defined once, and the key folder's loading."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from advance_trial.config.models import Config
    from advance_trial.randomisation.key import KeyRing

CONFIG_ARG = typer.Argument(..., help="The trial config (YAML).", show_default=False)
DATA = typer.Option(..., "--data", help="Folder of canonical data files.")
JSON = typer.Option(False, "--json", help="Machine-readable output.")
LOG = typer.Option(
    None,
    "--log",
    help="The allocation log: a SQLite file (or sqlite:///PATH) or a postgresql:// URL; default: randomisation.log, "
    "relative to the config's folder.",
)
DB = typer.Option(
    None,
    "--db",
    "--log",
    help="The trial's database (its allocation log): a SQLite file (or sqlite:///PATH) or a postgresql:// URL; "
    "default: randomisation.log.",
)
KEY_DIR = typer.Option(
    None,
    "--key-dir",
    envvar="ADVANCE_TRIAL_KEY_DIR",
    help="The key folder holding the trial's allocation key and checkpoint [env: ADVANCE_TRIAL_KEY_DIR].",
    show_envvar=False,
)
BLINDED = typer.Option(False, "--blinded", help="Arms only as codes; tables that reveal the arms withheld.")
SHAREABLE = typer.Option(False, "--shareable", help="Suppress counts below reporting.min_cell; no per-man tables.")
KEY = typer.Option(
    None, "--key", help="Where to keep the blinding key (default: beside the output folder, never inside it)."
)
NOTE = typer.Option(None, "--note", help="A note recorded with the event (who acted is the OS user).")
REASON = typer.Option(..., "--reason", help="Why, in a few words (recorded in the log).")


class By(StrEnum):
    """The second breakdown of retention besides arm (``--by`` is only ever a breakdown)."""

    site = "site"
    cycle = "cycle"


BY = typer.Option(By.site, "--by", help="Break retention down by site (default) or recruitment cycle.")


def load_ring(cfg: Config, key_dir: Path | None, log: str | Path | None = None, *, data: Path | None = None,
              out: Path | None = None) -> KeyRing:  # fmt: skip
    """The trial's key (see :func:`advance_trial.randomisation.allocation.trial_key`)."""
    from advance_trial.randomisation.allocation import trial_key

    return trial_key(cfg, key_dir, log, data=data, out=out)


def check_choices(cfg: Config, *, site: str | None = None, factors: dict[str, str] | None = None,
                  arm: str | None = None) -> None:  # fmt: skip
    """An option value that is not one of its choices (a site, a factor's level, an arm or its code) is a usage
    error, exit 2, in every command (without regard to case, as the commands read them).

    Raises
    ------
    UsageError
        Naming the option, the value and the choices.
    """
    from advance_trial.errors import UsageError

    def one_of(option: str, value: str, choices: list[str]) -> None:
        if value.strip().casefold() not in {c.casefold() for c in choices}:
            raise UsageError(f"{option} {value!r}: not one of {', '.join(choices)}")

    if site is not None:
        one_of("--site", site, cfg.site_ids)
    levels = cfg.factor_levels()
    for name, value in (factors or {}).items():
        one_of("--factor", name, [n for n in levels if n != "site"])
        one_of(f"--factor {name}", value, levels[name])
    if arm is not None:
        codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else {}
        one_of("--arm", arm, [*cfg.arm_ids, *codes.values()])
