"""Which arm is compared with which, read from the config alone (the analyses and the displays both ask)."""

from __future__ import annotations

from dataclasses import dataclass

from advance_trial.config.models import Config


@dataclass(frozen=True)
class Arms:
    """Which arm is compared with which: effects are intervention minus (or over) control."""

    intervention: str
    control: str | None


def intervention_arm(cfg: Config) -> str:
    """The arm compared against the others: the arm offered sessions, else the first arm."""
    return cfg.schedule.arm if cfg.schedule is not None else cfg.arm_ids[0]


def arms_of(cfg: Config) -> Arms:
    """The intervention arm and the (first) control arm."""
    first = intervention_arm(cfg)
    others = [a for a in cfg.arm_ids if a != first]
    return Arms(first, others[0] if others else None)
