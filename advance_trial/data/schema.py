"""The canonical data files' schemas (contract section 2): a leaf module.

File names, columns, keys, follow-up statuses and the words that mark a column as identifying:
what the config's rules, the readers, the importer and the simulator all check against. It
imports nothing heavier than the standard library, so loading a config never loads pandas.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from advance_trial.vocabulary import FILE_KINDS

if TYPE_CHECKING:
    from advance_trial.config import Config
    from advance_trial.config.models import BaselineVariable

FOLLOWUP_STATUSES = ("completed", "missed", "withdrawn", "lost", "died")
FILE_NAMES = FILE_KINDS
REQUIRED_FILES = ("participants",)

#: Words that mark a column as identifying; such a column never enters the canonical data.
IDENTIFYING_WORDS = frozenset(
    {
        "name",
        "names",
        "forename",
        "surname",
        "firstname",
        "lastname",
        "dob",
        "birth",
        "birthdate",
        "nhs",
        "chi",
        "phone",
        "tel",
        "telephone",
        "mobile",
        "email",
        "address",
        "postcode",
        "zip",
        "ni",
        "nino",
        "passport",
    }
)


@dataclass(frozen=True)
class Column:
    """A canonical column: its type, whether it may be empty, and allowed values."""

    name: str
    kind: str  # str | int | float | bool | date
    nullable: bool = False
    choices: Callable[[Config], list[str]] | None = None
    minimum: float | None = None


@dataclass(frozen=True)
class FileSpec:
    """A canonical file: its required columns, key, and whether extra columns are items or covariates."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    items: bool = False  # item columns <instrument>_<nn> allowed
    covariates: bool = False  # other extra columns allowed (stratification and baseline covariates)
    optional_columns: tuple[Column, ...] = ()


def _sites(cfg: Config) -> list[str]:
    return cfg.site_ids


def _cycles(cfg: Config) -> list[str]:
    return [str(c) for c in cfg.cycles]


def _arms(cfg: Config) -> list[str]:
    return cfg.arm_ids


def _timepoints(cfg: Config) -> list[str]:
    return cfg.timepoint_ids


def _session_types(cfg: Config) -> list[str]:
    return list(dict.fromkeys(p.type for p in cfg.session_plan()))


def _statuses(cfg: Config) -> list[str]:
    return list(FOLLOWUP_STATUSES)


def _event_categories(cfg: Config) -> list[str]:
    return [c.id for c in cfg.events.categories] if cfg.events else []


SPECS: dict[str, FileSpec] = {
    "screening": FileSpec(
        "screening",
        (
            Column("screen_id", "str"),
            Column("site", "str", choices=_sites),
            Column("cycle", "int", nullable=True, choices=_cycles),
            Column("screened_on", "date"),
            Column("eligible", "bool"),
            Column("consented", "bool", nullable=True),
            Column("participant_id", "str", nullable=True),
        ),
        key=("screen_id",),
        optional_columns=(Column("reason_ineligible", "str", nullable=True),),
    ),
    "participants": FileSpec(
        "participants",
        (
            Column("participant_id", "str"),
            Column("site", "str", choices=_sites),
            Column("cycle", "int", nullable=True, choices=_cycles),
            Column("randomised_on", "date"),
            Column("arm", "str", choices=_arms),
        ),
        key=("participant_id",),
        covariates=True,
        optional_columns=(
            Column("reason_not_received", "str", nullable=True),
            Column("reason_discontinued", "str", nullable=True),
        ),
    ),
    "attendance": FileSpec(
        "attendance",
        (
            Column("participant_id", "str"),
            Column("session_type", "str", choices=_session_types),
            Column("session_number", "int", minimum=1),
            Column("group_id", "str", nullable=True),
            Column("session_on", "date", nullable=True),
            Column("attended", "bool"),
            Column("hours", "float", nullable=True, minimum=0),
        ),
        key=("participant_id", "session_type", "session_number"),
    ),
    "followup": FileSpec(
        "followup",
        (
            Column("participant_id", "str"),
            Column("timepoint", "str", choices=_timepoints),
            Column("due_on", "date"),
            Column("status", "str", nullable=True, choices=_statuses),
            Column("completed_on", "date", nullable=True),
        ),
        key=("participant_id", "timepoint"),
    ),
    "measures": FileSpec(
        "measures",
        (Column("participant_id", "str"), Column("timepoint", "str", choices=_timepoints)),
        key=("participant_id", "timepoint"),
        items=True,
    ),
    "partners": FileSpec(
        "partners",
        (
            Column("partner_id", "str"),
            Column("participant_id", "str"),
            Column("consented", "bool"),
            Column("followup_status", "str", nullable=True, choices=_statuses),
        ),
        key=("partner_id",),
        items=True,
        optional_columns=(Column("contacted", "bool", nullable=True),),
    ),
    "events": FileSpec(
        "events",
        (
            Column("event_id", "str"),
            Column("participant_id", "str", nullable=True),
            Column("partner_id", "str", nullable=True),
            Column("event_on", "date"),
            Column("category", "str", choices=_event_categories),
            Column("serious", "bool"),
            Column("related", "bool", nullable=True),
        ),
        key=("event_id",),
    ),
}


def is_identifying(column: str) -> bool:
    """Whether a column name looks like it holds identifying information."""
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", column).lower())
    joined = "".join(words)
    # joined as well as word by word: "E-mail", "D.O.B." and "First-name" are one word to the reader
    return bool(IDENTIFYING_WORDS.intersection(words)) or joined in IDENTIFYING_WORDS | {"dateofbirth"}


def item_column_owner(cfg: Config, column: str, respondent: str) -> str | None:
    """The instrument whose item column this is (for the given respondent), else ``None``."""
    prefix, _, number = column.rpartition("_")
    ins = cfg.instruments.get(prefix)
    if ins is None or ins.respondent != respondent or not number.isdigit():
        return None
    return prefix if column in ins.item_columns(prefix) else None


def allowed_columns(cfg: Config, kind: str) -> list[str]:
    """Canonical columns a site file of this kind may bring (items are checked separately)."""
    spec = SPECS[kind]
    names = [c.name for c in (*spec.columns, *spec.optional_columns)]
    if kind == "participants":
        names += [f.id for f in cfg.factors]
        names += [v.id for v in baseline_columns(cfg) if v.id not in names]
    return names


def baseline_columns(cfg: Config) -> list[BaselineVariable]:
    """Table 1's variables read from participants.csv (not site or cycle, not an outcome's baseline)."""
    if cfg.baseline_table is None:
        return []
    return [v for v in cfg.baseline_table.variables if v.outcome is None and v.id not in ("site", "cycle")]
