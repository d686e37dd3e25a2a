"""Rules that relate one part of a trial config to another.

Each rule returns problems as ``(key path, message)`` pairs; the loader turns
the path into a YAML line. Rules run only on a config whose keys and types are
already valid.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from advance_trial.config.models import IMPORT_KINDS, Config, Outcome
from advance_trial.data.schema import allowed_columns, is_identifying, item_column_owner

Problem = tuple[tuple[str | int, ...], str]

PROPORTION_METRICS = ("recruitment_rate", "partner_contact")
#: Metrics that are rates, not proportions: their thresholds may exceed 1.
RATE_METRICS = ("recruitment.per_site_month",)
PREFIXED_METRICS = ("retention", "partner_retention", "dose", "outcome", "change")
QUALITATIVE = "qualitative"
#: Metrics judged on a direction: an effect between arms, a change within the intervention arm.
DIRECTED = ("outcome.", "change.")


def check(cfg: Config) -> list[Problem]:
    """Every cross-field problem of ``cfg``, in the order of the file's sections."""
    problems: list[Problem] = []
    for rule in (
        _unique_ids,
        _design,
        _randomisation,
        _schedule_and_thresholds,
        _timepoints,
        _instruments,
        _outcomes,
        _partners,
        _progression,
        _import_rules,
        _planning,
        _baseline,
        _events,
        _redcap,
        _report,
        _notify,
    ):
        problems.extend(rule(cfg))
    return problems


def _unique_ids(cfg: Config) -> Iterator[Problem]:
    for section in ("arms", "sites", "factors", "thresholds", "timepoints", "outcomes", "progression"):
        seen: dict[str, int] = {}
        for i, item in enumerate(getattr(cfg, section)):
            if item.id in seen:
                yield (section, i, "id"), f"id {item.id!r} is used twice (also {section}[{seen[item.id]}])"
            else:
                seen[item.id] = i
    for value, n in Counter(cfg.cycles).items():
        if n > 1:
            yield ("cycles",), f"cycle {value} is listed {n} times"
    reserved = {"site", "cycle", "baseline"}
    for i, f in enumerate(cfg.factors):
        if f.id in reserved:
            yield ("factors", i, "id"), f"{f.id!r} is reserved; choose another factor id"
        if len(set(f.levels)) != len(f.levels):
            yield ("factors", i, "levels"), "levels must be distinct"
    for i, s in enumerate(cfg.sites):
        if s.id == "all":
            yield ("sites", i, "id"), "'all' is reserved for totals in output tables"


def _design(cfg: Config) -> Iterator[Problem]:
    method = cfg.randomisation.method
    if cfg.trial.design == "single_arm":
        if len(cfg.arms) != 1:
            yield ("arms",), f"a single_arm design has exactly one arm (found {len(cfg.arms)})"
        if method != "none":
            yield ("randomisation", "method"), f"a single_arm design uses method 'none' (found {method!r})"
    else:
        if len(cfg.arms) < 2:
            yield ("arms",), "a parallel design needs at least two arms"
        if method == "none":
            yield (
                ("randomisation", "method"),
                ("a parallel design must be randomised: simple, blocks, stratified_blocks or minimisation"),
            )


#: Ids a pattern must not accept: a leading = + - @ makes a spreadsheet run the cell as a formula.
FORMULA_PROBES = tuple(c + body for c in "=+-@" for body in ("1", "A1", "AF001", "SUM(A1)", "cmd|' /C calc'!A0"))
MAX_PATTERN = 200
MAX_SESSIONS = 1000


def id_pattern_problem(pattern: str) -> str | None:
    """Why an id pattern is refused (not a regular expression, too long, backtracks, admits formulas), or None.

    A repeat with more than :data:`_BOUND` repetitions whose body holds another repeat or an
    alternation can backtrack exponentially (``^(a+)+$`` on ``aaaa...!``), so it is refused outright
    rather than run under a time limit.
    """
    if len(pattern) > MAX_PATTERN:
        return f"longer than {MAX_PATTERN} characters"
    try:
        compiled = re.compile(pattern)
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except (re.error, RecursionError) as exc:
        return f"not a valid regular expression: {exc}"
    if _backtracks(parsed, inside_unbounded=False):
        return ("a repeat inside a repeat (as in (a+)+) can take exponential time on a long id; "
                "write the pattern without nested quantifiers")  # fmt: skip
    admitted = [p for p in FORMULA_PROBES if compiled.fullmatch(p)]
    if admitted:
        return (f"admits {admitted[0]!r}: an id may not begin with = + - or @ "
                "(a spreadsheet would run it as a formula)")  # fmt: skip
    return None


_BOUND = 50


def _backtracks(items: Any, inside_unbounded: bool) -> bool:
    """Whether a parsed pattern holds a repeat or an alternation inside an unbounded repeat."""
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT", "BRANCH") and inside_unbounded:
            return True
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            children, unbounded = [av[2]], av[1] > _BOUND
        elif name == "BRANCH":
            children, unbounded = list(av[1]), False
        elif name == "SUBPATTERN":
            children, unbounded = [av[-1]], inside_unbounded
        elif name in ("ASSERT", "ASSERT_NOT"):
            children, unbounded = [av[1]], inside_unbounded
        else:
            continue
        if any(_backtracks(child, unbounded) for child in children):
            return True
    return False


def _randomisation(cfg: Config) -> Iterator[Problem]:
    r = cfg.randomisation
    levels = cfg.factor_levels()
    known = ", ".join(levels)
    ratio_sum = sum(a.ratio for a in cfg.arms)
    for i, s in enumerate(r.strata):
        if s not in levels:
            yield ("randomisation", "strata", i), f"unknown stratification factor {s!r}; known: {known}"
    if r.method in ("blocks", "stratified_blocks"):
        if not r.block_sizes:
            yield ("randomisation", "block_sizes"), f"method {r.method!r} needs block_sizes"
        for i, b in enumerate(r.block_sizes):
            if b % ratio_sum:
                yield (
                    ("randomisation", "block_sizes", i),
                    (f"block size {b} is not a multiple of the sum of the arms' ratios ({ratio_sum})"),
                )
    elif r.block_sizes:
        yield ("randomisation", "block_sizes"), f"block_sizes only apply to blocks methods, not {r.method!r}"
    if r.method == "stratified_blocks" and not r.strata:
        yield ("randomisation", "strata"), "stratified_blocks needs at least one stratum (e.g. [site])"
    if r.method in ("none", "simple", "blocks") and r.strata:
        yield ("randomisation", "strata"), f"strata do not apply to method {r.method!r}; use stratified_blocks"
    if r.method == "minimisation":
        if r.minimisation is None:
            yield ("randomisation", "minimisation"), "method 'minimisation' needs a minimisation block"
        else:
            for name in r.minimisation.factors:
                if name not in levels:
                    yield (
                        ("randomisation", "minimisation", "factors", name),
                        (f"unknown minimisation factor {name!r}; known: {known}"),
                    )
            floor = 1 / len(cfg.arms)
            if r.minimisation.probability < floor:
                yield (
                    ("randomisation", "minimisation", "probability"),
                    (
                        f"must be at least 1/{len(cfg.arms)} = {floor:.3g}, "
                        "or the preferred arm is less likely than chance"
                    ),
                )
    elif r.minimisation is not None:
        yield ("randomisation", "minimisation"), f"a minimisation block does not apply to method {r.method!r}"
    if r.log and re.search(r"^postgres(?:ql)?://[^/@:]+:[^@]*@|[?&]password=", r.log, re.IGNORECASE):
        yield (
            ("randomisation", "log"),
            (
                "the URL holds a password, which everyone who reads the config would see; give it to the server's "
                "account in ~/.pgpass, PGPASSFILE or PGPASSWORD instead"
            ),
        )
    pattern_problem = id_pattern_problem(r.participant_id_pattern)
    if pattern_problem:
        yield ("randomisation", "participant_id_pattern"), pattern_problem
    if r.blinding is not None:
        codes = r.blinding.codes
        if sorted(codes) != sorted(cfg.arm_ids):
            yield ("randomisation", "blinding", "codes"), f"give one code for each arm: {', '.join(cfg.arm_ids)}"
        if len(set(codes.values())) != len(codes):
            yield ("randomisation", "blinding", "codes"), "codes must differ from each other"
        revealing = {a.id.lower() for a in cfg.arms} | {a.label.lower() for a in cfg.arms if a.label}
        for arm, code in codes.items():
            if code.lower() in revealing:
                yield ("randomisation", "blinding", "codes", arm), f"code {code!r} reveals an arm; use a neutral code"


def _schedule_and_thresholds(cfg: Config) -> Iterator[Problem]:
    sched = cfg.schedule
    if sched is not None and sched.arm not in cfg.arm_ids:
        yield ("schedule", "arm"), f"unknown arm {sched.arm!r}; arms: {', '.join(cfg.arm_ids)}"
    if sched is not None and sum(e.count for e in sched.sessions) > MAX_SESSIONS:
        yield ("schedule", "sessions"), f"more than {MAX_SESSIONS} sessions in all; a programme offers fewer"
        return
    plan = cfg.session_plan()
    available = {
        "sessions": len(plan),
        "compulsory_sessions": sum(p.compulsory for p in plan),
        "hours": sum(p.hours for p in plan),
        "compulsory_hours": sum(p.hours for p in plan if p.compulsory),
    }
    for i, t in enumerate(cfg.thresholds):
        path = ("thresholds", i)
        if (t.at_least is None) == (t.more_than is None):
            yield path, "give exactly one of at_least or more_than"
            continue
        if sched is None:
            yield path, "thresholds need a schedule of sessions to measure dose against"
            continue
        top = available[t.measure]
        if top == 0:
            yield (*path, "measure"), f"the schedule offers no {t.measure.replace('_', ' ')}"
        elif (t.at_least is not None and t.at_least > top) or (t.more_than is not None and t.more_than >= top):
            key = "at_least" if t.at_least is not None else "more_than"
            yield (*path, key), f"cannot be met: the schedule offers {top:g} {t.measure.replace('_', ' ')}"


def _timepoints(cfg: Config) -> Iterator[Problem]:
    previous = None
    for i, tp in enumerate(cfg.timepoints):
        if previous is not None and tp.week <= previous.week:
            yield (
                ("timepoints", i, "week"),
                (
                    f"timepoints must be in time order: week {tp.week:g} "
                    f"is not after {previous.id} (week {previous.week:g})"
                ),
            )
        if tp.window_weeks is not None:
            lo, hi = tp.window_weeks
            if not lo <= 0 <= hi:
                yield (
                    ("timepoints", i, "window_weeks"),
                    (f"[{lo:g}, {hi:g}] must contain 0: [weeks before, weeks after] the due date, e.g. [-2, 8]"),
                )
            elif tp.week + lo < 0:
                yield ("timepoints", i, "window_weeks"), "the window opens before randomisation (week 0)"
            elif (
                previous is not None
                and previous.window_weeks is not None
                and previous.week + previous.window_weeks[1] >= tp.week + lo
            ):
                yield ("timepoints", i, "window_weeks"), f"the window overlaps the window of {previous.id}"
        previous = tp


def _instruments(cfg: Config) -> Iterator[Problem]:
    for name, ins in cfg.instruments.items():
        path = ("instruments", name)
        if ins.min >= ins.max:
            yield (*path, "max"), f"max ({ins.max}) must be above min ({ins.min})"
        for sub, items in ins.subscales.items():
            if sub == "total":
                yield (*path, "subscales", sub), "'total' is reserved for the score over all items"
            bad = [i for i in items if not 1 <= i <= ins.items]
            if bad:
                yield (*path, "subscales", sub), f"items {bad} are outside 1..{ins.items}"
            dup = sorted(i for i, n in Counter(items).items() if n > 1)
            if dup:
                yield (*path, "subscales", sub), f"items {dup} are listed twice"
            if ins.max_missing_items >= len(items):
                yield (
                    (*path, "max_missing_items"),
                    (
                        f"{ins.max_missing_items} missing items would allow an empty score "
                        f"on '{sub}' ({len(items)} items)"
                    ),
                )
        bad_rev = [i for i in ins.reverse if not 1 <= i <= ins.items]
        if bad_rev:
            yield (*path, "reverse"), f"items {bad_rev} are outside 1..{ins.items}"
        for dname, d in ins.derived.items():
            if d.subscale != "total" and d.subscale not in ins.subscales:
                yield (
                    (*path, "derived", dname, "subscale"),
                    (f"unknown subscale {d.subscale!r}; known: {', '.join([*ins.subscales, 'total'])}"),
                )
            if not ins.min <= d.any_above < ins.max:
                yield (*path, "derived", dname, "any_above"), f"must lie in [{ins.min}, {ins.max})"


def _outcomes(cfg: Config) -> Iterator[Problem]:
    tps = cfg.timepoint_ids
    covariates = {"baseline", *cfg.factor_levels()}
    for i, o in enumerate(cfg.outcomes):
        path = ("outcomes", i)
        ins = cfg.instruments.get(o.instrument)
        if ins is None:
            yield (*path, "instrument"), f"unknown instrument {o.instrument!r}; known: {', '.join(cfg.instruments)}"
        else:
            if ins.respondent != "man":
                yield (*path, "instrument"), "outcomes about men use instruments the men answer (respondent: man)"
            if o.subscale != "total" and o.subscale not in ins.subscales:
                yield (
                    (*path, "subscale"),
                    (f"unknown subscale {o.subscale!r}; known: {', '.join([*ins.subscales, 'total'])}"),
                )
            if o.type == "binary" and (o.derived is None or o.derived not in ins.derived):
                yield (
                    (*path, "derived"),
                    (
                        f"a binary outcome names a derived binary of {o.instrument}; "
                        f"known: {', '.join(ins.derived) or 'none'}"
                    ),
                )
            if o.type == "count" and (o.derived is None or o.derived not in ins.derived):
                yield (
                    (*path, "derived"),
                    f"a count outcome names a derived definition of {o.instrument} (items above a value are counted)",
                )
        if o.type == "continuous" and o.derived is not None:
            yield (*path, "derived"), "derived applies to binary and count outcomes only"
        yield from _analyses(cfg, o, path)
        if o.timepoint not in tps:
            yield (*path, "timepoint"), f"unknown timepoint {o.timepoint!r}; known: {', '.join(tps)}"
        elif cfg.timepoint(o.timepoint).week == 0:
            yield (*path, "timepoint"), "an outcome is measured after baseline"
        for j, cov in enumerate(o.adjust_for):
            if cov not in covariates:
                yield (*path, "adjust_for", j), f"unknown covariate {cov!r}; known: {', '.join(sorted(covariates))}"
        if "baseline" in o.adjust_for and cfg.baseline is None:
            yield (*path, "adjust_for"), "adjusting for baseline needs a timepoint at week 0"
        if o.clustering == "partially_nested" and (cfg.trial.design != "parallel" or cfg.schedule is None):
            yield (*path, "clustering"), "partially_nested needs a parallel design with a schedule of group sessions"


def _partners(cfg: Config) -> Iterator[Problem]:
    p = cfg.partners
    if p is None:
        return
    if p.instrument is not None:
        ins = cfg.instruments.get(p.instrument)
        if ins is None:
            yield ("partners", "instrument"), f"unknown instrument {p.instrument!r}"
        elif ins.respondent != "partner":
            yield ("partners", "instrument"), "partners answer an instrument with respondent: partner"
    if p.timepoint is not None and p.timepoint not in cfg.timepoint_ids:
        yield ("partners", "timepoint"), f"unknown timepoint {p.timepoint!r}; known: {', '.join(cfg.timepoint_ids)}"


def _metric_problem(cfg: Config, metric: str) -> str | None:
    if metric in PROPORTION_METRICS or metric in RATE_METRICS or metric == QUALITATIVE:
        return None
    prefix, _, ref = metric.partition(".")
    known = {
        "retention": cfg.timepoint_ids,
        "partner_retention": cfg.timepoint_ids,
        "dose": [t.id for t in cfg.thresholds],
        "outcome": [o.id for o in cfg.outcomes],
        "change": [o.id for o in cfg.outcomes],
    }
    if prefix not in known or not ref:
        forms = ", ".join([*PROPORTION_METRICS, *RATE_METRICS, QUALITATIVE, *(f"{p}.<id>" for p in PREFIXED_METRICS)])
        return f"unknown metric {metric!r}; metrics: {forms}"
    if ref not in known[prefix]:
        return f"{prefix} {ref!r} is not defined; known: {', '.join(known[prefix]) or 'none'}"
    if prefix == "change" and next(o for o in cfg.outcomes if o.id == ref).type == "binary":
        return f"change.{ref}: a within-arm change is a mean change; {ref} is binary"
    return None


def _progression(cfg: Config) -> Iterator[Problem]:
    for i, c in enumerate(cfg.progression):
        path = ("progression", i)
        problem = _metric_problem(cfg, c.metric)
        if problem:
            yield (*path, "metric"), problem
            continue
        if c.prior is not None and (c.metric == QUALITATIVE or c.metric.startswith(DIRECTED)
                                    or c.metric in RATE_METRICS):  # fmt: skip
            yield (*path, "prior"), f"a prior applies to a proportion criterion; {c.metric} is not a proportion"
        if c.metric == QUALITATIVE:
            if c.judgement is None:
                yield (*path, "judgement"), "a qualitative criterion records its judgement: status, evidence, judged_by"
            if any(v is not None for v in (c.go, c.green, c.amber, c.direction)):
                yield path, "a qualitative criterion is judged by people, not on go/green/amber or a direction"
            continue
        if c.judgement is not None:
            yield (*path, "judgement"), "a judgement is recorded for metric: qualitative only"
        if c.metric.startswith(DIRECTED):
            if c.direction is None:
                yield (*path, "direction"), ("an outcome or change criterion names the hoped-for direction: "
                                             "decrease, increase, no_increase or no_decrease")  # fmt: skip
            if any(v is not None for v in (c.go, c.green, c.amber)):
                yield path, "an outcome or change criterion is judged on direction, not on go/green/amber"
            continue
        if c.direction is not None:
            yield (*path, "direction"), "direction applies to outcome and change metrics only"
        if c.metric not in RATE_METRICS:
            for key in ("go", "green", "amber"):
                value = getattr(c, key)
                if value is not None and value > 1:
                    yield (*path, key), f"{value:g} is above 1: {c.metric} is a proportion (0 to 1)"
        if c.go is not None and (c.green is not None or c.amber is not None):
            yield path, "give either go, or green and amber (a traffic light), not both"
        elif c.go is None and (c.green is None or c.amber is None):
            yield path, "give a go threshold, or both green and amber"
        elif c.green is not None and c.amber is not None and c.amber >= c.green:
            yield (*path, "amber"), f"amber ({c.amber}) must be below green ({c.green})"


def _import_rules(cfg: Config) -> Iterator[Problem]:
    for i, rule in enumerate(cfg.import_):
        for j, site in enumerate(rule.sites):
            if site not in cfg.site_ids:
                yield ("import", i, "sites", j), f"unknown site {site!r}; sites: {', '.join(cfg.site_ids)}"

        for header, target in rule.columns.items():
            if is_identifying(header):
                why = (f"the site column {header!r} looks identifying (a name, a date of birth, a contact); "
                       f"it may not be mapped onto {target!r}: nothing identifying enters the data")  # fmt: skip
                yield ("import", i, "columns", header), why
        targets = list(rule.columns.values())
        for target in {t for t in targets if targets.count(t) > 1}:
            yield ("import", i, "columns"), f"two site columns map onto {target!r}"
        kinds: list[str] = list(rule.kinds) or list(IMPORT_KINDS)
        yield from _import_targets(cfg, i, kinds, rule.columns, rule.values)
        overlap = set(rule.columns) & set(rule.ignore)
        for name in sorted(overlap):
            yield ("import", i, "ignore"), f"{name!r} is both mapped (columns) and ignored"


def _import_targets(
    cfg: Config, i: int, kinds: list[str], columns: dict[str, str], values: dict[str, dict[str, Any]]
) -> Iterator[Problem]:
    """Mapped and recoded columns must be canonical columns of at least one of the rule's kinds."""

    allowed = {c for k in kinds for c in allowed_columns(cfg, k)}

    def known(col: str) -> bool:
        return col in allowed or any(item_column_owner(cfg, col, r) for r in ("man", "partner"))

    for header, target in columns.items():
        if not known(target):
            yield ("import", i, "columns", header), f"{target!r} is not a canonical column of {', '.join(kinds)}"
    for column in values:
        if not known(column):
            yield ("import", i, "values", column), f"{column!r} is not a canonical column of {', '.join(kinds)}"


_FOR_TYPE = {
    "continuous": {"ancova", "partially_nested", "partially_nested_equal_var", "multiple_imputation", "cace"},
    "binary": {"logistic", "firth", "cace"},
    "count": {"negative_binomial"},
}


def _analyses(cfg: Config, o: Outcome, path: tuple[Any, ...]) -> Iterator[Problem]:
    names = o.analyses_for(cfg.trial.design)
    for j, name in enumerate(names):
        where = (*path, "analyses", j)
        if cfg.trial.design == "single_arm":
            if name != "change":
                yield where, f"a single-arm design analyses change from baseline ('change'), not {name!r}"
            continue
        if name == "change":
            yield where, "'change' is for single-arm designs; a parallel design compares arms"
        elif name not in _FOR_TYPE[o.type]:
            yield where, f"{name!r} does not apply to a {o.type} outcome; use one of {sorted(_FOR_TYPE[o.type])}"
        elif name.startswith("partially_nested") and cfg.schedule is None:
            yield where, f"{name!r} needs a schedule (its therapy groups)"
        elif name == "cace" and not cfg.thresholds:
            yield where, "'cace' needs at least one dose threshold"
    if len(set(names)) != len(names):
        yield (*path, "analyses"), "an analysis is listed twice"
    if cfg.trial.design == "parallel" and len(cfg.arms) != 2:
        yield (*path,), "outcome analyses compare two arms"


def _planning(cfg: Config) -> Iterator[Problem]:
    """``plan`` sizes a two-arm trial on continuous outcomes the config analyses."""
    p = cfg.planning
    if p is None:
        return
    known = {o.id: o for o in cfg.outcomes}
    if not known:
        yield ("planning",), "planning needs an outcome to size the trial on; the config has none"
        return
    for i, oid in enumerate(p.outcomes):
        if oid not in known:
            yield ("planning", "outcomes", i), f"unknown outcome {oid!r}; outcomes: {', '.join(known)}"
        elif known[oid].type != "continuous":
            yield ("planning", "outcomes", i), f"{oid!r} is {known[oid].type}; plan sizes continuous outcomes"
    if isinstance(p.target_difference, dict):
        for oid in p.target_difference:
            if oid not in known:
                yield ("planning", "target_difference", oid), f"unknown outcome {oid!r}"
        for oid in p.outcomes or [cfg.outcomes[0].id]:
            if oid in known and oid not in p.target_difference:
                yield ("planning", "target_difference"), f"no target difference for {oid!r}"
    if p.forecast_deadline is not None:
        if not p.site_opening:
            yield ("planning", "forecast_deadline"), ("a deadline needs the sites' opening dates "
                                                      "(planning.site_opening: site: date)")  # fmt: skip
        elif p.forecast_deadline <= min(p.site_opening.values()):
            first = min(p.site_opening.values()).isoformat()
            yield ("planning", "forecast_deadline"), (f"{p.forecast_deadline.isoformat()} is not after the first "
                                                      f"site opens ({first}, planning.site_opening)")  # fmt: skip


def _baseline(cfg: Config) -> Iterator[Problem]:
    """Table 1's variables: unique, each a participants column or an outcome's baseline, levels that fit."""
    b = cfg.baseline_table
    if b is None:
        return
    seen: set[str] = set()
    outcomes = {o.id for o in cfg.outcomes}
    reserved = {"participant_id", "site", "cycle", "randomised_on", "arm"}
    for i, v in enumerate(b.variables):
        where: tuple[str | int, ...] = ("baseline", "variables", i)
        if v.id in seen:
            yield (*where, "id"), f"{v.id!r} is listed twice"
        seen.add(v.id)
        if is_identifying(v.id):
            yield (*where, "id"), f"{v.id!r} looks like identifying information, which never enters canonical data"
        if v.outcome is not None:
            if v.outcome not in outcomes:
                yield (*where, "outcome"), f"unknown outcome {v.outcome!r}; outcomes: {', '.join(outcomes) or 'none'}"
            elif cfg.baseline is None:
                yield (*where, "outcome"), "an outcome's baseline needs a timepoint at week 0"
            if v.type != "continuous":
                yield (*where, "type"), "an outcome's baseline score is continuous"
        elif v.id in reserved - {"site", "cycle"}:
            yield (*where, "id"), f"{v.id!r} is not a baseline characteristic"
        if v.type == "categorical" and not v.levels and v.id not in ("site", "cycle"):
            yield (*where, "levels"), "a categorical variable lists its levels, in the order Table 1 shows them"
        if v.type != "categorical" and v.levels:
            yield (*where, "levels"), f"levels are for categorical variables, not {v.type}"
        if len(set(v.levels)) != len(v.levels):
            yield (*where, "levels"), "a level is listed twice"
        for level in v.level_labels:
            if level not in v.levels:
                yield (*where, "level_labels", level), f"not one of the levels {v.levels}"


def _events(cfg: Config) -> Iterator[Problem]:
    """Event categories: unique ids; partner incidents need partners in the config."""
    e = cfg.events
    if e is None:
        return
    ids = [c.id for c in e.categories]
    for i, c in enumerate(e.categories):
        if ids.index(c.id) != i:
            yield ("events", "categories", i, "id"), f"{c.id!r} is listed twice"


def _redcap(cfg: Config) -> Iterator[Problem]:
    """The redcap section names forms, fields, timepoints, sites and arms that exist."""
    rc = cfg.redcap
    if rc is None:
        return
    forms = {f.form for f in rc.fields.values()}
    if rc.record_id not in rc.fields:
        yield ("redcap", "record_id"), f"{rc.record_id!r} is not one of redcap.fields"
    if rc.participant_id is not None and rc.participant_id not in rc.fields:
        yield ("redcap", "participant_id"), f"{rc.participant_id!r} is not one of redcap.fields"
    for form, spec in rc.forms.items():
        if form not in forms:
            yield ("redcap", "forms", form), "no field of redcap.fields is on this form"
        if spec.instance is not None and spec.instance not in allowed_columns(cfg, spec.kind):
            yield ("redcap", "forms", form, "instance"), f"{spec.instance!r} is not a column of {spec.kind}.csv"
    for name, ev in rc.events.items():
        if ev.timepoint is not None and ev.timepoint not in cfg.timepoint_ids:
            yield ("redcap", "events", name, "timepoint"), (f"unknown timepoint {ev.timepoint!r}; timepoints: "
                                                            f"{', '.join(cfg.timepoint_ids)}")  # fmt: skip
    for group, site in rc.data_access_groups.items():
        if site not in cfg.site_ids:
            yield ("redcap", "data_access_groups", group), f"unknown site {site!r}; sites: {', '.join(cfg.site_ids)}"
    if rc.randomisation is not None:
        r = rc.randomisation
        if r.field not in rc.fields:
            yield ("redcap", "randomisation", "field"), f"{r.field!r} is not one of redcap.fields"
        for code, arm in r.groups.items():
            if arm not in cfg.arm_ids:
                yield (
                    ("redcap", "randomisation", "groups", code),
                    f"unknown arm {arm!r}; arms: {', '.join(cfg.arm_ids)}",
                )
        levels = cfg.factor_levels()
        for factor, stratum in r.strata.items():
            if factor not in levels:
                yield ("redcap", "randomisation", "strata", factor), "not a stratification factor of the config"
                continue
            for code, level in stratum.codes.items():
                if level not in levels[factor]:
                    yield (("redcap", "randomisation", "strata", factor, "codes", code),
                           f"{level!r} is not a level of {factor} ({', '.join(levels[factor])})")  # fmt: skip


def _report(cfg: Config) -> Iterator[Problem]:
    """The report block: no section or figure named twice, and the sections it keeps can show something."""
    r = cfg.report
    for key in ("sections", "figures"):
        seen: dict[str, int] = {}
        for i, name in enumerate(getattr(r, key) or []):
            if name in seen:
                yield ("report", key, i), f"{name!r} is listed twice (also report.{key}[{seen[name]}])"
            else:
                seen[name] = i
    if r.sections is not None and not set(r.sections) - {"summary", "trial", "methods", "checklist"}:
        yield (
            ("report", "sections"),
            "lists no results section (flow, recruitment, ..., planning): the report would show no table",
        )
    if r.closed and cfg.trial.design == "single_arm":
        yield ("report", "closed"), "a closed report splits the results by arm; a single-arm study has one arm"


def _notify(cfg: Config) -> Iterator[Problem]:
    allocations = cfg.notify.allocations if cfg.notify is not None else None
    for site in allocations.sites if allocations is not None else {}:
        if site not in cfg.site_ids:
            yield ("notify", "allocations", "sites", site), f"not a site of the trial; sites: {', '.join(cfg.site_ids)}"
