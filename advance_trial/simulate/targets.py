"""Calibration targets: the aggregates a synthetic sample must reproduce exactly.

Kept in ``calibration.yaml`` beside the sample data. Checked like a config:
unknown keys and wrong types are refused with their line, and the targets
must agree with the trial config (known arms, sites, cycles, timepoints).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advance_trial.config import Config
from advance_trial.config.loader import line_for, problem_from_pydantic
from advance_trial.config.yamlsource import format_path, load_yaml
from advance_trial.errors import ConfigError, ConfigProblem

Count = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ScreeningTargets(_Model):
    ineligible: Count = 0
    eligible_not_randomised: Count = 0


class DoseTargets(_Model):
    compulsory_median: float | None = None
    compulsory_median_by_cycle: dict[int, float] = {}
    thresholds: dict[str, Count] = {}


class PartnerTargets(_Model):
    consented: Count | None = None
    followed_up: Count | None = None
    declined: Count = 0
    total: Count | None = None
    contacted: Count | None = None


class MeasureTargets(_Model):
    missing_item_rate: Annotated[float, Field(ge=0, lt=0.5)] = 0.0
    incomplete_subscales: Count = 0
    effect: float = 0.0


class InstrumentTargets(_Model):
    """A synthetic instrument besides the first (a substance-use measure, say): each item around a man's level,
    ``baseline`` (mean item response) with ``sd`` between men, moving by ``change`` at follow-up in every arm
    and by ``effect`` more in the arm offered sessions."""

    baseline: float
    sd: Annotated[float, Field(ge=0)] = 1.0
    change: float = 0.0
    effect: float = 0.0
    noise: Annotated[float, Field(ge=0)] = 1.0


class ContinuousTarget(_Model):
    """A synthetic continuous covariate: normal, rounded to whole numbers, clipped; ``missing`` men lack it."""

    mean: float
    sd: Annotated[float, Field(ge=0)]
    min: float
    max: float
    missing: Count = 0


class EventTargets(_Model):
    """Synthetic events per category: how many, how many serious, how many related to the intervention."""

    counts: dict[str, Count] = {}
    serious: dict[str, Count] = {}
    related: dict[str, Count] = {}


class Targets(_Model):
    """Everything the simulator is calibrated to."""

    trial: str
    id_prefix: Annotated[str, Field(pattern=r"^[A-Z]{1,4}$")]
    recruitment_start: dt.date
    cycle_weeks: Annotated[int, Field(gt=0)] = 26
    recruitment_weeks: Annotated[int, Field(gt=0)] = 10
    screening: ScreeningTargets = ScreeningTargets()
    arms: dict[str, Count]
    sites: dict[str, Count]
    cycles: dict[int, Count] = {}
    followup: dict[str, Count] = {}
    followup_outside_window: dict[str, Count] = {}
    dose: DoseTargets = DoseTargets()
    partners: PartnerTargets | None = None
    measures: MeasureTargets = MeasureTargets()
    instruments: dict[str, InstrumentTargets] = {}  # the men's instruments after the first (own stream)
    baseline: dict[str, ContinuousTarget | dict[str, Annotated[float, Field(ge=0)]]] = {}
    not_received: dict[str, Annotated[float, Field(ge=0)]] = {}  # shares of each coded reason
    discontinued: Count = 0  # men who started the sessions and stopped (with a coded reason)
    events: EventTargets = EventTargets()

    @property
    def n(self) -> int:
        """Number of men randomised (enrolled)."""
        return sum(self.arms.values())


def load_targets(path: str | Path, cfg: Config) -> Targets:
    """Read and check a calibration file against the trial config.

    Raises
    ------
    ConfigError
        Naming the key and line of every problem.
    """
    doc = load_yaml(path)
    try:
        targets = Targets.model_validate(doc.data, strict=False)
    except ValidationError as exc:
        raise ConfigError(doc.file, [problem_from_pydantic(e, doc.data, doc.lines) for e in exc.errors()]) from None
    problems = [ConfigProblem(format_path(p), line_for(doc.lines, p), m) for p, m in _check(targets, cfg)]
    if problems:
        raise ConfigError(doc.file, problems)
    return targets


def _check(t: Targets, cfg: Config) -> list[tuple[tuple[str | int, ...], str]]:
    out: list[tuple[tuple[str | int, ...], str]] = []
    if t.trial != cfg.trial.id:
        out.append((("trial",), f"targets are for {t.trial!r}, the config is {cfg.trial.id!r}"))
    if set(t.arms) != set(cfg.arm_ids):
        out.append((("arms",), f"give a count for each arm: {', '.join(cfg.arm_ids)}"))
    if set(t.sites) - set(cfg.site_ids):
        out.append((("sites",), f"unknown sites {sorted(set(t.sites) - set(cfg.site_ids))}"))
    if sum(t.sites.values()) != t.n:
        out.append((("sites",), f"site counts add to {sum(t.sites.values())}, arms to {t.n}"))
    if t.cycles:
        if set(t.cycles) != set(cfg.cycles):
            out.append((("cycles",), f"give a count for each cycle: {cfg.cycles}"))
        if sum(t.cycles.values()) != t.n:
            out.append((("cycles",), f"cycle counts add to {sum(t.cycles.values())}, arms to {t.n}"))
    elif cfg.cycles:
        out.append((("cycles",), "the config has recruitment cycles; give a count for each"))
    for tp, n in t.followup.items():
        if tp not in cfg.timepoint_ids:
            out.append((("followup", tp), f"unknown timepoint; known: {', '.join(cfg.timepoint_ids)}"))
        elif n > t.n:
            out.append((("followup", tp), f"{n} followed up of {t.n} men"))
    for tp, n in t.followup_outside_window.items():
        if tp not in t.followup:
            out.append((("followup_outside_window", tp), "give the in-window count under followup first"))
        elif n + t.followup[tp] > t.n:
            out.append((("followup_outside_window", tp), f"{n} late plus {t.followup[tp]} in time exceed {t.n} men"))
    thresholds = {th.id for th in cfg.thresholds}
    for th in t.dose.thresholds:
        if th not in thresholds:
            out.append((("dose", "thresholds", th), f"unknown threshold; known: {', '.join(sorted(thresholds))}"))
    for c in t.dose.compulsory_median_by_cycle:
        if c not in cfg.cycles:
            out.append((("dose", "compulsory_median_by_cycle", c), f"unknown cycle; known: {cfg.cycles}"))
    if t.dose.thresholds and (t.dose.compulsory_median is not None or t.dose.compulsory_median_by_cycle):
        out.append((("dose",), "calibrate to medians or to threshold counts, not both"))
    p = t.partners
    if p is not None:
        if p.followed_up is not None and (p.consented is None or p.followed_up > p.consented):
            out.append((("partners", "followed_up"), "cannot exceed the partners who consented"))
        if p.contacted is not None and (p.total is None or p.contacted > p.total):
            out.append((("partners", "contacted"), "cannot exceed the total number of partners"))
        if p.followed_up is not None and (cfg.partners is None or cfg.partners.timepoint is None):
            out.append((("partners", "followed_up"), "the config names no partner follow-up timepoint"))
    out.extend(_check_extras(t, cfg))
    return out


def _check_extras(t: Targets, cfg: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """Baseline covariates, reasons and events must be the config's."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    table = {v.id: v for v in (cfg.baseline_table.variables if cfg.baseline_table else [])}
    for name, target in t.baseline.items():
        v = table.get(name)
        if v is None or v.outcome is not None:
            out.append((("baseline", name), "not a participants.csv variable of the config's baseline block"))
        elif isinstance(target, ContinuousTarget) != (v.type == "continuous"):
            out.append((("baseline", name), f"{name!r} is {v.type} in the config"))
        elif isinstance(target, dict) and set(target) - set(v.levels or ["true", "false"]):
            out.append((("baseline", name), f"levels not in the config: {sorted(set(target) - set(v.levels))}"))
    for reason in t.not_received:
        if reason not in cfg.reasons.not_received:
            out.append((("not_received", reason), "not one of the config's reasons.not_received"))
    if t.discontinued and not cfg.reasons.discontinued:
        out.append((("discontinued",), "the config's reasons.discontinued is empty"))
    cats = {c.id for c in cfg.events.categories} if cfg.events else set()
    for part in ("counts", "serious", "related"):
        for cat, n in getattr(t.events, part).items():
            if cat not in cats:
                out.append((("events", part, cat), f"unknown category; the config's: {', '.join(sorted(cats))}"))
            elif part != "counts" and n > t.events.counts.get(cat, 0):
                out.append((("events", part, cat), "more than the category's count"))
    return out
