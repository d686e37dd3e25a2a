"""The steps of a run, each declared once: its name, what it needs and its builder.

``run``, each step's own command (``recruitment``, ``retention``, ``dose``, ``outcomes``,
``progression``, ``plan``) and ``verify`` walk this one registry. A command names the steps whose
tables it shows (:data:`COMMANDS`); :func:`select` adds the steps those need, and :func:`compute`
builds the selection in registry order, each step :func:`isolated` (one that cannot compute on these
data gives no table, and the others carry on). So ``progression`` builds what its criteria read,
``plan`` only the retention and the partially nested models of the outcomes it plans, and a run
everything, the same way.

A step is declared with:

- ``needs``: the steps whose tables it reads (a function of the config where that depends on it:
  progression reads the outcomes only when a criterion names one);
- ``blocks``: the config blocks without which it has nothing to compute (``dose`` without a
  ``schedule``); such a step is skipped;
- ``narrows``: of a needed step, the part this step reads: when no other selected step needs the
  whole of it, the needed step is built on the narrowed config (``plan`` reads only the partially
  nested models' ICC of the outcomes it plans).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from advance_trial.analysis import AnalysisData
    from advance_trial.config import Config
    from advance_trial.output.tables import Table

By = Literal["site", "cycle"]


@dataclass
class Context:
    """What a step's builder reads: the config, the analysis data sets, the tables built so far.

    Attributes
    ----------
    definitive : Config, optional
        ``plan --pilot``: the definitive trial's config (its registered size is set beside the plan).
    extras : dict
        What a step gives besides tables (``definitive``: the plan's paragraphs and what moves it most).
    """

    cfg: Config
    ads: AnalysisData
    by: By = "site"
    tables: dict[str, Table] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    definitive: Config | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One step of a run (see the module docstring)."""

    name: str
    label: str
    build: Callable[[Context], dict[str, Table]]
    needs: Callable[[Config], tuple[str, ...]] = lambda _: ()
    blocks: tuple[str, ...] = ()
    applies: Callable[[Config], bool] = lambda _: True
    narrows: Mapping[str, Callable[[Config], Config]] = field(default_factory=dict)

    def runs(self, cfg: Config) -> bool:
        """Whether the config gives the step anything to compute."""
        return (not self.blocks or any(_has(cfg, b) for b in self.blocks)) and self.applies(cfg)


def _has(cfg: Config, block: str) -> bool:
    value = getattr(cfg, block)
    return bool(value) if isinstance(value, list | tuple) else value is not None


# --- the builders -------------------------------------------------------------------------------


def recruitment_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Recruitment, allocation and the CONSORT flow."""
    from advance_trial.feasibility.accrual import monthly_table
    from advance_trial.feasibility.consort import consort_table
    from advance_trial.feasibility.recruitment import allocation_table, recruitment_table

    tables = (recruitment_table(cfg, ads), allocation_table(cfg, ads), consort_table(cfg, ads), monthly_table(cfg, ads))
    return {t.name: t for t in tables}


def retention_tables(cfg: Config, ads: AnalysisData, by: By = "site") -> dict[str, Table]:
    """Retention, reasons for loss, the difference between arms, and partners' aggregates."""
    from advance_trial import retention as r

    tables = [r.retention_table(cfg, ads, by), r.reasons_table(cfg, ads), r.difference_table(cfg, ads),
              r.partner_retention_table(cfg, ads)]  # fmt: skip
    if "contacted" in ads.partners.columns:
        tables.append(r.partner_contact_table(cfg, ads))
    return {t.name: t for t in tables}


def dose_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Dose thresholds, dose summaries, engagement by component, the attendance distribution and per-man dose."""
    from advance_trial.feasibility import dose
    from advance_trial.feasibility.engagement import engagement_table

    if cfg.schedule is None:
        return {}
    tables = (dose.dose_table(cfg, ads), dose.dose_summary_table(cfg, ads), engagement_table(cfg, ads),
              dose.distribution_table(cfg, ads), dose.dose_participants_table(cfg, ads))  # fmt: skip
    return {t.name: t for t in tables}


def participant_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Table 1 (with a ``baseline`` block) and harms (with an ``events`` block)."""
    from advance_trial.analysis.baseline import baseline_table
    from advance_trial.feasibility.harms import harms_table

    out: dict[str, Table] = {}
    if cfg.baseline_table is not None:
        out["baseline"] = baseline_table(cfg, ads.men)
    if cfg.events is not None:
        out["harms"] = harms_table(cfg, ads)
    return out


def outcome_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """Outcome analyses and the scored questionnaires (nothing when the config has no outcomes)."""
    if not cfg.outcomes:
        return {}
    from advance_trial.outcomes import outcome_tables as compute
    from advance_trial.outcomes.within import change_table

    tables = compute(cfg, ads)
    change = change_table(cfg, ads)
    return tables | ({"change": change} if len(change.data) else {})


#: The analyses whose rows the plan reads (the ICC of the therapy groups).
PLAN_ANALYSES = ("partially_nested", "partially_nested_equal_var")


def planning_outcomes(cfg: Config) -> Config:
    """The config narrowed to what the plan reads of the outcome analyses: the planned outcomes (the first
    outcome by default) under their partially nested models only."""
    p = cfg.planning
    wanted = (p.outcomes if p is not None else []) or [cfg.outcomes[0].id]
    design = cfg.trial.design
    kept = [o.model_copy(update={"analyses": [a for a in o.analyses_for(design) if a in PLAN_ANALYSES]})
            for o in cfg.outcomes if o.id in wanted]  # fmt: skip
    return cfg.model_copy(update={"outcomes": kept})


def _plan(ctx: Context) -> dict[str, Table]:
    from advance_trial.planning import plan_table

    return {"plan": plan_table(ctx.cfg, ctx.ads, ctx.tables)}


def _definitive(ctx: Context) -> dict[str, Table]:
    from advance_trial.planning.definitive import definitive_tables

    result = definitive_tables(ctx.cfg, ctx.ads, ctx.tables["plan"])
    ctx.extras["definitive"] = result
    tables = dict(result.tables)
    if ctx.definitive is not None:  # plan --pilot: the definitive trial's registered size beside the plan's
        from advance_trial.planning import registered_rows

        plan = tables["plan"]
        tables["plan"] = replace(plan, data=registered_rows(ctx.definitive, plan.data),
                                 title=f"Planning {ctx.definitive.trial.title}")  # fmt: skip
    return tables


def planned_total(tables: Mapping[str, Table]) -> int | None:
    """The plan's men to randomise in all (the first planned outcome's), or None when not computed."""
    if "plan" not in tables:
        return None
    plan = tables["plan"].data
    alls = plan[plan["quantity"] == "men to randomise in all"]["estimate"]
    return int(alls.iloc[0]) if len(alls) and alls.iloc[0] == alls.iloc[0] else None  # nan: not computed


def _rate(ctx: Context) -> dict[str, Table]:
    from advance_trial.feasibility.accrual import rate_table

    return {"recruitment_rate": rate_table(ctx.cfg, ctx.ads, planned_total(ctx.tables))}


def _progression(ctx: Context) -> dict[str, Table]:
    from advance_trial.feasibility.progression import progression_table

    return {"progression": progression_table(ctx.cfg, ctx.tables)}


def progression_needs(cfg: Config) -> tuple[str, ...]:
    """What progression reads: the feasibility measures, the recruitment rate, and the outcomes when a
    criterion names one (``outcome.*``, ``change.*``)."""
    outcomes = any(c.metric.startswith(("outcome.", "change.")) for c in cfg.progression)
    return ("recruitment", "retention", "dose", *(("outcomes",) if outcomes else ()), "recruitment_rate")


def _parallel(cfg: Config) -> bool:
    return cfg.trial.design == "parallel"


#: Every step, in the order a run builds them (each after the steps it needs).
STEPS: tuple[Step, ...] = (
    Step("recruitment", "recruitment", lambda c: recruitment_tables(c.cfg, c.ads)),
    Step("retention", "retention", lambda c: retention_tables(c.cfg, c.ads, c.by)),
    Step("dose", "dose", lambda c: dose_tables(c.cfg, c.ads), blocks=("schedule",)),
    Step(
        "participants",
        "baseline and harms",
        lambda c: participant_tables(c.cfg, c.ads),
        blocks=("baseline_table", "events"),
    ),
    Step("outcomes", "outcomes", lambda c: outcome_tables(c.cfg, c.ads), blocks=("outcomes",)),
    Step(
        "plan",
        "plan",
        _plan,
        needs=lambda _: ("retention", "outcomes"),
        blocks=("planning",),
        applies=_parallel,
        narrows={"outcomes": planning_outcomes},
    ),
    Step(
        "definitive",
        "plan for the definitive trial",
        _definitive,
        needs=lambda _: ("plan",),
        blocks=("planning",),
        applies=_parallel,
    ),
    Step("recruitment_rate", "recruitment rate", _rate),
    Step("progression", "progression", _progression, needs=progression_needs),
)
REGISTRY: dict[str, Step] = {s.name: s for s in STEPS}

#: Each command's steps: the tables it shows and writes are theirs.
COMMANDS: dict[str, tuple[str, ...]] = {
    "run": tuple(REGISTRY),
    "recruitment": ("recruitment",),
    "retention": ("retention",),
    "dose": ("dose",),
    "outcomes": ("outcomes",),
    "progression": ("progression",),
    "plan": ("plan", "definitive"),
}

#: A plain run draws the feasibility tables' figures once this step is done, while the rest is computed.
FEASIBILITY_DONE = "dose"


@dataclass(frozen=True)
class Selection:
    """The steps a command builds, in registry order, and the narrowed config some are built on."""

    steps: tuple[str, ...]
    targets: tuple[str, ...]
    narrowed: Mapping[str, Callable[[Config], Config]] = field(default_factory=dict)


def select(cfg: Config, targets: tuple[str, ...]) -> Selection:
    """The targets and every step they need (transitively), skipping steps the config gives nothing to.

    A needed step that every step needing it reads only in part (``narrows``) is built on the narrowed
    config; a target is always built whole.

    Raises
    ------
    KeyError
        If a target names no step.
    """
    wanted: dict[str, set[str]] = {}  # step -> the steps that need it ("" for a target)
    todo = [(t, "") for t in targets]
    while todo:
        name, by = todo.pop()
        step = REGISTRY[name]
        if name in wanted:
            wanted[name].add(by)
            continue
        wanted[name] = {by}
        todo += [(n, name) for n in step.needs(cfg)]
    chosen = tuple(s.name for s in STEPS if s.name in wanted and s.runs(cfg))
    narrowed: dict[str, Callable[[Config], Config]] = {}
    for name in chosen:
        users = wanted[name]
        if "" in users or not users:
            continue
        narrows = [REGISTRY[u].narrows.get(name) for u in users]
        if all(n is not None for n in narrows) and len(set(narrows)) == 1:
            narrowed[name] = narrows[0]  # type: ignore[assignment]
    return Selection(chosen, tuple(t for t in targets if t in chosen), narrowed)


def isolated(step: str, build: Callable[[], dict[str, Table]], failures: list[str] | None = None) -> dict[str, Table]:
    """One step of a run on its own: a step that cannot compute on these data gives no table, warns with its
    reason (and adds it to ``failures``, which the report lists), and the other steps carry on. A user's
    mistake (an :class:`~advance_trial.errors.AdvanceTrialError`) still stops the run with its exit code."""
    import warnings

    from advance_trial.errors import EstimationWarning

    try:
        return build()
    except (ArithmeticError, ValueError, KeyError, IndexError) as exc:  # numpy's LinAlgError is a ValueError
        reason = f"{step}: not computed on these data ({type(exc).__name__}: {exc}); the other tables are written"
        warnings.warn(reason, EstimationWarning, stacklevel=2)
        if failures is not None:
            failures.append(reason)
        return {}


@dataclass(frozen=True)
class Computed:
    """What :func:`compute` built.

    Attributes
    ----------
    tables : dict
        Every table built, in registry order.
    shown : tuple
        The names of the tables of the targets (what the command shows and writes).
    failures : tuple
        Each step that could not compute, with its reason.
    extras : dict
        What steps gave besides tables (:attr:`Context.extras`).
    """

    tables: dict[str, Table]
    shown: tuple[str, ...]
    failures: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)


def compute(cfg: Config, ads: AnalysisData, targets: tuple[str, ...] = COMMANDS["run"], by: By = "site",
            done: Callable[[str, dict[str, Table]], None] | None = None,
            definitive: Config | None = None) -> Computed:  # fmt: skip
    """Build the targets and what they need (:func:`select`), each step :func:`isolated`.

    ``done(step, tables)`` is called after each step of the registry (built or skipped) with the tables so far.
    """
    selection = select(cfg, targets)
    ctx = Context(cfg, ads, by, definitive=definitive)
    shown: list[str] = []
    for step in STEPS:
        if step.name in selection.steps:
            narrow = selection.narrowed.get(step.name)
            here = replace(ctx, cfg=narrow(cfg)) if narrow is not None else ctx
            built = isolated(step.label, lambda: step.build(here), ctx.failures)  # noqa: B023 (called at once)
            ctx.tables |= built
            if step.name in selection.targets:
                shown += [n for n in built if n not in shown]
        if done is not None:
            done(step.name, ctx.tables)
    return Computed(worded(cfg, ctx.tables), tuple(shown), tuple(ctx.failures), ctx.extras)


def worded(cfg: Config, tables: dict[str, Table]) -> dict[str, Table]:
    """A single-arm study's tables: men are enrolled, not randomised, in every title and footnote (the CSV
    columns keep their contract names)."""
    if cfg.trial.design != "single_arm":
        return tables
    from advance_trial.output.display import enrolled

    return {n: replace(t, title=enrolled(t.title), footnotes=tuple(map(enrolled, t.footnotes)))
            for n, t in tables.items()}  # fmt: skip


def feasibility_tables(cfg: Config, ads: AnalysisData, by: By = "site") -> dict[str, Table]:
    """Every table ``progression`` builds: the feasibility measures, the recruitment rate, progression last
    (it reads the others); the outcomes too when a criterion names one."""
    return compute(cfg, ads, COMMANDS["progression"], by).tables


def all_tables(cfg: Config, ads: AnalysisData, by: By = "site",
               feasibility_done: Callable[[dict[str, Table]], None] | None = None,
               failures: list[str] | None = None) -> dict[str, Table]:  # fmt: skip
    """Every table of a run (:data:`STEPS`); ``feasibility_done`` sees the feasibility tables before the
    outcomes are analysed; a step that cannot compute is named in ``failures`` and the others carry on."""

    def done(step: str, tables: dict[str, Table]) -> None:
        if step == FEASIBILITY_DONE and feasibility_done is not None:
            feasibility_done(dict(tables))

    result = compute(cfg, ads, COMMANDS["run"], by, done)
    if failures is not None:
        failures += result.failures
    return result.tables
