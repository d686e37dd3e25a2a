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
  nested models' ICC of the outcomes it plans);
- ``apart``: whether the step is built in the worker process a run keeps for it while the other
  steps are built in the run's own (the outcome analyses: a third of the run's computing, on the
  machine's other core; then the plans that read them, there, with what they read of the steps built
  here sent along: the run's own process never imports scipy's optimiser). Not when the outcomes'
  imputations are large enough to be shared among the workers themselves;
- ``modules``: what its builder imports (scipy's optimiser, for the outcomes and the plan): imported
  by the worker kept for the steps built apart as soon as it is forked, or else while the run waits
  for a step built apart.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    import pandas as pd

    from advance_trial.analysis import AnalysisData
    from advance_trial.config import Config
    from advance_trial.output.tables import Table

By = Literal["site", "cycle"]
#: What a step hands on, by table name: results rows, a listing of men, or a table it made itself.
Built = dict[str, "pd.DataFrame | Table"]


@dataclass
class Context:
    """What a step's builder reads: the config, the analysis data sets, the results rows and tables built so far.

    Attributes
    ----------
    results : dict
        Table name -> the results rows a step handed on (what later analyses read).
    definitive : Config, optional
        ``plan --pilot``: the definitive trial's config (its registered size is set beside the plan).
    extras : dict
        What a step gives besides tables (``definitive``: the plan's paragraphs and what moves it most).
    """

    cfg: Config
    ads: AnalysisData
    by: By = "site"
    tables: dict[str, Table] = field(default_factory=dict)
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    definitive: Config | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One step of a run (see the module docstring)."""

    name: str
    label: str
    build: Callable[[Context], Built]
    needs: Callable[[Config], tuple[str, ...]] = lambda _: ()
    blocks: tuple[str, ...] = ()
    applies: Callable[[Config], bool] = lambda _: True
    narrows: Mapping[str, Callable[[Config], Config]] = field(default_factory=dict)
    apart: Callable[[Config, AnalysisData], bool] = lambda *_: False
    modules: tuple[str, ...] = ()

    @property
    def may_be_apart(self) -> bool:
        """Whether the step declares when it is built apart (its :attr:`modules` are then imported by the
        worker kept for it, as soon as the run forks it: :func:`apart_modules`)."""
        return self.apart is not Step.apart

    def runs(self, cfg: Config) -> bool:
        """Whether the config gives the step anything to compute."""
        return (not self.blocks or any(_has(cfg, b) for b in self.blocks)) and self.applies(cfg)


def _has(cfg: Config, block: str) -> bool:
    value = getattr(cfg, block)
    return bool(value) if isinstance(value, list | tuple) else value is not None


# --- the builders -------------------------------------------------------------------------------
# Each hands on results rows (or a listing of men) by table name; the output makes the tables
# (:func:`advance_trial.output.pivots.table_of`).


def recruitment_step(cfg: Config, ads: AnalysisData) -> Built:
    """Recruitment, allocation, the CONSORT flow and recruitment by month."""
    from advance_trial.feasibility.accrual import monthly_results
    from advance_trial.feasibility.consort import consort_results
    from advance_trial.feasibility.recruitment import allocation_results, recruitment_results

    return {"recruitment": recruitment_results(cfg, ads), "allocation": allocation_results(cfg, ads),
            "consort": consort_results(cfg, ads), "recruitment_monthly": monthly_results(cfg, ads)}  # fmt: skip


def retention_step(cfg: Config, ads: AnalysisData, by: By = "site") -> Built:
    """Retention, reasons for loss, the difference between arms, and partners' aggregates."""
    from advance_trial import retention as r

    out: Built = {"retention": r.retention_results(cfg, ads, by), "retention_reasons": r.reasons_results(cfg, ads),
                  "retention_difference": r.difference_results(cfg, ads),
                  "partner_retention": r.partner_retention_results(cfg, ads)}  # fmt: skip
    if "contacted" in ads.partners.columns:
        out["partner_contact"] = r.partner_contact_results(cfg, ads)
    return out


def dose_step(cfg: Config, ads: AnalysisData) -> Built:
    """Dose thresholds, dose summaries, engagement by component, the attendance distribution and per-man dose."""
    from advance_trial.feasibility import dose
    from advance_trial.feasibility.engagement import engagement_results

    if cfg.schedule is None:
        return {}
    return {"dose": dose.dose_results(cfg, ads), "dose_summary": dose.dose_summary_results(cfg, ads),
            "engagement": engagement_results(cfg, ads), "dose_distribution": dose.distribution_results(cfg, ads),
            "dose_participants": dose.dose_per_man(cfg, ads)}  # fmt: skip


def participant_step(cfg: Config, ads: AnalysisData) -> Built:
    """Table 1 (with a ``baseline`` block) and harms (with an ``events`` block)."""
    from advance_trial.analysis.baseline import baseline_results
    from advance_trial.feasibility.harms import harms_results

    out: Built = {}
    if cfg.baseline_table is not None:
        out["baseline"] = baseline_results(cfg, ads.men)
    if cfg.events is not None:
        out["harms"] = harms_results(cfg, ads)
    return out


def outcome_step(cfg: Config, ads: AnalysisData) -> Built:
    """Outcome analyses, the scored questionnaires and the change within each arm (nothing when the config
    has no outcomes)."""
    if not cfg.outcomes:
        return {}
    from advance_trial.outcomes import analyse_outcomes
    from advance_trial.outcomes.within import change_results

    res = analyse_outcomes(cfg, ads)
    change = change_results(cfg, ads)
    out: Built = {"outcomes": res.results, "scores": res.scores}
    return out | ({"change": change} if len(change) else {})


def _tabled(cfg: Config, built: Built) -> dict[str, Table]:
    """The tables of what a step handed on (:func:`advance_trial.output.pivots.tables_of`)."""
    from advance_trial.output.pivots import tables_of

    return tables_of(cfg, built)


def recruitment_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """The tables of :func:`recruitment_step`."""
    return _tabled(cfg, recruitment_step(cfg, ads))


def retention_tables(cfg: Config, ads: AnalysisData, by: By = "site") -> dict[str, Table]:
    """The tables of :func:`retention_step`."""
    return _tabled(cfg, retention_step(cfg, ads, by))


def dose_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """The tables of :func:`dose_step`."""
    return _tabled(cfg, dose_step(cfg, ads))


def participant_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """The tables of :func:`participant_step`."""
    return _tabled(cfg, participant_step(cfg, ads))


def outcome_tables(cfg: Config, ads: AnalysisData) -> dict[str, Table]:
    """The tables of :func:`outcome_step`."""
    return _tabled(cfg, outcome_step(cfg, ads))


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


def _outcomes_apart(cfg: Config, ads: AnalysisData) -> bool:
    """The outcome analyses (and the plans, which read them) are built apart unless their imputations are large
    (the workers share those)."""
    from advance_trial.imputing import imputes_ahead

    imputed = any("multiple_imputation" in o.analyses_for(cfg.trial.design) for o in cfg.outcomes)
    return not (imputed and imputes_ahead(len(ads.men), cfg.analysis.mi_m, cfg.analysis.mi_iterations))


def _plan(ctx: Context) -> Built:
    from advance_trial.planning import plan_results

    return {"plan": plan_results(ctx.cfg, ctx.ads, ctx.results)}


def _definitive(ctx: Context) -> Built:
    from advance_trial.output.pivots import table_of
    from advance_trial.planning.definitive import definitive_results

    result = definitive_results(ctx.cfg, ctx.ads, ctx.results["plan"])
    ctx.extras["definitive"] = result
    rows = ctx.results["plan"]
    title = None
    if ctx.definitive is not None:  # plan --pilot: the definitive trial's registered size beside the plan's
        from advance_trial.planning import registered_rows

        rows, title = registered_rows(ctx.definitive, rows), f"Planning {ctx.definitive.trial.title}"
    plan = table_of(ctx.cfg, "plan", rows)  # the paragraphs as its last footnotes (plan.md, the report)
    plan = replace(plan, title=title or plan.title, footnotes=(*plan.footnotes, *result.notes(ctx.cfg)))
    return {"plan": plan, **result.results}


def _rate(ctx: Context) -> Built:
    from advance_trial.feasibility.accrual import rate_results
    from advance_trial.planning import planned_total

    plan = ctx.results.get("plan")
    return {"recruitment_rate": rate_results(ctx.cfg, ctx.ads, planned_total(plan) if plan is not None else None)}


def _progression(ctx: Context) -> Built:
    from advance_trial.feasibility.progression import progression_results

    return {"progression": progression_results(ctx.cfg, ctx.results)}


def progression_needs(cfg: Config) -> tuple[str, ...]:
    """What progression reads: the feasibility measures, the recruitment rate, and the outcomes when a
    criterion names one (``outcome.*``, ``change.*``)."""
    outcomes = any(c.metric.startswith(("outcome.", "change.")) for c in cfg.progression)
    return ("recruitment", "retention", "dose", *(("outcomes",) if outcomes else ()), "recruitment_rate")


def _parallel(cfg: Config) -> bool:
    return cfg.trial.design == "parallel"


#: Every step, in the order a run builds them (each after the steps it needs).
STEPS: tuple[Step, ...] = (
    Step("recruitment", "recruitment", lambda c: recruitment_step(c.cfg, c.ads)),
    Step("retention", "retention", lambda c: retention_step(c.cfg, c.ads, c.by)),
    Step("dose", "dose", lambda c: dose_step(c.cfg, c.ads), blocks=("schedule",)),
    Step(
        "participants",
        "baseline and harms",
        lambda c: participant_step(c.cfg, c.ads),
        blocks=("baseline_table", "events"),
    ),
    Step(
        "outcomes",
        "outcomes",
        lambda c: outcome_step(c.cfg, c.ads),
        blocks=("outcomes",),
        apart=_outcomes_apart,
        modules=("advance_trial.outcomes", "advance_trial.outcomes.nested", "advance_trial.outcomes.within"),
    ),
    Step(
        "plan",
        "plan",
        _plan,
        needs=lambda _: ("retention", "outcomes"),
        blocks=("planning",),
        applies=_parallel,
        narrows={"outcomes": planning_outcomes},
        apart=_outcomes_apart,
        modules=("advance_trial.planning", "advance_trial.planning.sample_size"),
    ),
    Step(
        "definitive",
        "plan for the definitive trial",
        _definitive,
        needs=lambda _: ("plan",),
        blocks=("planning",),
        applies=_parallel,
        apart=_outcomes_apart,
        modules=("advance_trial.planning.definitive",),
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
#: The steps after which a plain run draws the figures whose tables are built by then (the feasibility
#: figures, the forest plot, the planning figures), while the rest is computed.
STEP_DRAWS = (FEASIBILITY_DONE, "outcomes", "definitive")


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
            definitive: Config | None = None, workers: Executor | None = None) -> Computed:  # fmt: skip
    """Build the targets and what they need (:func:`select`), each step :func:`isolated`.

    ``done(step, tables)`` is called after each step of the registry (built or skipped) with the tables so far.
    With ``workers``, the steps declared ``apart`` are handed to them (:func:`built_apart`) as soon as the
    steps they need that are built here are built, and taken back in their turn: the tables, failures and
    warnings are those of building them here.
    """
    from advance_trial.output.render.workers import submit_apart

    selection = select(cfg, targets)
    ctx = Context(cfg, ads, by, definitive=definitive)
    shown: list[str] = []

    def config_of(step: Step) -> Config:
        narrow = selection.narrowed.get(step.name)
        return narrow(cfg) if narrow is not None else cfg

    apart = [s for s in STEPS if workers is not None and s.name in selection.steps and s.apart(cfg, ads)]
    away: dict[str, Future[Apart]] = {}
    made: dict[str, list[str]] = {}  # step built here -> its tables
    sent: list[str] = []  # the steps sent apart, in turn (the kept worker builds them in this order)
    run = secrets.token_hex(8)  # the worker keeps what it built for this call's later steps apart

    def send_ready() -> None:  # each in registry order, once the steps it needs are built here or sent
        for s in apart:
            if s.name in sent:
                continue
            needs = [n for n in s.needs(cfg) if n in selection.steps]
            if any(n not in made and n not in sent for n in needs):
                return
            given = {t: ctx.results[t] for n in needs if n in made for t in made[n] if t in ctx.results}
            kept = tuple(n for n in needs if n not in made)  # built by the worker before it: read there
            assert workers is not None  # a step is apart only with workers
            try:  # the analysis data go with the first step sent
                away[s.name] = submit_apart(workers, built_apart, s.name, config_of(s), None if sent else ads,
                                            by, run, given, kept, definitive)  # fmt: skip
            except Exception:  # the workers are gone (one was killed): this step and those after are built here
                apart.clear()
                return
            sent.append(s.name)

    send_ready()
    for step in STEPS:
        if step.name in selection.steps:
            if step.name in away and not away[step.name].done():
                _import_ahead(selection, step, away)
            back = _taken_back(away.pop(step.name), ctx.failures) if step.name in away else None
            if back is None:
                here = replace(ctx, cfg=config_of(step))
                built = isolated(step.label, lambda: _tabled(here.cfg, step.build(here)), ctx.failures)  # noqa: B023
                made[step.name] = list(built)
            else:
                built, extras = back
                ctx.extras |= extras
            ctx.tables |= built
            ctx.results |= {n: t.results for n, t in built.items() if t.results is not None}
            send_ready()
            if step.name in selection.targets:
                shown += [n for n in built if n not in shown]
        if done is not None:
            done(step.name, ctx.tables)
    return Computed(worded(cfg, ctx.tables), tuple(shown), tuple(ctx.failures), ctx.extras)


def apart_modules() -> tuple[str, ...]:
    """The modules of every step that may be built apart (:attr:`Step.may_be_apart`), for the worker kept
    for them to import while the run reads its data."""
    return tuple(m for s in STEPS if s.may_be_apart for m in s.modules)


def _import_ahead(selection: Selection, waiting: Step, away: Mapping[str, Any]) -> None:
    """Import what the steps after ``waiting`` (built apart and not back yet) will need, meanwhile."""
    import importlib

    for step in STEPS[STEPS.index(waiting) + 1 :]:
        if step.name in selection.steps and step.name not in away:
            for module in step.modules:
                importlib.import_module(module)


#: What a step built apart hands back: its tables, its failure if any, the warnings it gave, its extras.
Apart = tuple[dict[str, "Table"], list[str], list[tuple[type[Warning], str]], dict[str, Any]]
#: In a worker, what it built apart for the latest call of :func:`compute` (its token): the context its
#: later steps read, and the steps built there.
_KEPT: dict[str, tuple[Context, set[str]]] = {}


class NotKept(RuntimeError):
    """A step sent apart whose needs were built by no step of this worker (another worker took them, or
    they failed there): it is built in the run's own process."""


def built_apart(name: str, cfg: Config, ads: AnalysisData | None, by: By, run: str = "",
                given: Mapping[str, pd.DataFrame] | None = None, kept: tuple[str, ...] = (),
                definitive: Config | None = None) -> Apart:  # fmt: skip
    """Build the step ``name`` in a worker process (:func:`compute`): its tables, its failure if any, the
    warnings it gave (for the run's own process to give: a worker shows nothing) and the extras it set.

    ``given``: the results rows of the needs built in the run's process; ``kept``: the needs this worker
    built for the same ``run`` (a step sent before it), whose results it reads from what it kept. The
    analysis data come with the first step of a run (``ads``), and are kept for the others."""
    import warnings

    known, done = _KEPT.get(run, (None, set[str]()))
    if ads is not None:
        known, done = Context(cfg, ads, by, definitive=definitive), set()
        _KEPT.clear()  # a worker serves one run: what an earlier call kept is let go
        _KEPT[run] = (known, done)
    if known is None or any(n not in done for n in kept):
        raise NotKept(name)
    step, failures = REGISTRY[name], list[str]()
    known.results |= dict(given or {})
    ctx = replace(known, cfg=cfg, extras={})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = isolated(step.label, lambda: _tabled(cfg, step.build(ctx)), failures)
    known.results |= {n: t.results for n, t in built.items() if t.results is not None}
    done.add(name)
    return built, failures, [(w.category, str(w.message)) for w in caught], ctx.extras


def _taken_back(future: Future[Apart], failures: list[str]) -> tuple[dict[str, Table], dict[str, Any]] | None:
    """A step built apart (its tables and extras), its warnings given here (once each) and its failure
    added; ``None`` when it raised (a user's mistake), its worker died or did not have what it needed: the
    step is then built here, and raises here as it would."""
    import warnings

    try:
        built, failed, caught, extras = future.result()
    except Exception:  # built again here: the same error, raised where the run expects it
        return None
    for category, message in dict.fromkeys(caught):
        warnings.warn(message, category, stacklevel=3)
    failures.extend(failed)
    return built, extras


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
