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


def allocation_ratio(cfg: Config) -> float:
    """The config's allocation ratio, intervention : control (the arms' ``ratio``)."""
    arms = arms_of(cfg)
    ratios = {a.id: a.ratio for a in cfg.arms}
    return float(ratios[arms.intervention]) / float(ratios[arms.control]) if arms.control else 1.0


def ratio_text(k: float) -> str:
    """A ratio ``k`` as ``k:1`` (two decimals unless whole)."""
    return f"{k:.2f}:1" if not float(k).is_integer() else f"{k:.0f}:1"
