"""Pydantic models of the trial config (schema version 2, contract section 1).

The models check each key's type and range. Rules that relate one part of the
config to another (an outcome naming a known timepoint, block sizes fitting the
allocation ratio, ...) live in :mod:`advance_trial.config.rules`, so that every
problem is reported with its own key path and line.

All models are frozen and refuse unknown keys; numbers are strict (``"1"`` is not
an integer), because a config is written by hand and a quoted number is a typo.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
TRIAL_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
IDENT = r"^[a-z][a-z0-9_]*$"

Ident = Annotated[str, Field(pattern=IDENT, description="lower-case letters, digits and '_', starting with a letter")]
SiteId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="lower-case letters, digits, '-', '_'")]
Proportion = Annotated[float, Field(ge=0, le=1)]

PROPORTION_CI_METHODS = ("wilson", "clopper_pearson", "jeffreys", "agresti_coull")
RANDOMISATION_METHODS = ("none", "simple", "blocks", "stratified_blocks", "minimisation")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class Trial(_Model):
    """Identity of the trial and its amendment history."""

    id: Annotated[str, Field(pattern=TRIAL_ID, description="lower-case letters, digits and '-'; used in file names")]
    version: Annotated[str, Field(pattern=SEMVER, description='semantic version, quoted: "1.0.0"')]
    title: str
    design: Literal["parallel", "single_arm"]
    registration: str | None = None
    target_sample_size: Annotated[int, Field(gt=0, le=1_000_000)] | None = None
    description: str | None = None
    data_cutoff: dt.date | None = None  # no session, completion or screening may be dated after it
    # what CONSORT 2025's open-science items and the pilot extension ask a report to state (``checklist``)
    registered_on: dt.date | None = None  # the date of registration
    protocol: Annotated[str, Field(min_length=1, max_length=500)] | None = None  # where the protocol can be read
    analysis_plan: Annotated[str, Field(min_length=1, max_length=500)] | None = None  # ... and the analysis plan
    data_sharing: Annotated[str, Field(min_length=1, max_length=2000)] | None = None  # the data-sharing statement
    funding: Annotated[str, Field(min_length=1, max_length=2000)] | None = None  # funders and their role
    ethics: Annotated[str, Field(min_length=1, max_length=500)] | None = None  # approving committee, reference
    progression_set_on: dt.date | None = None  # the date the progression criteria were set


class Arm(_Model):
    """One arm; ``ratio`` is its share of the allocation ratio."""

    id: Ident
    label: str
    ratio: Annotated[int, Field(gt=0, le=100)] = 1


class Site(_Model):
    """A recruiting site (service, area)."""

    id: SiteId
    label: str


class Factor(_Model):
    """A categorical participant characteristic usable as a stratum or minimisation factor."""

    id: Ident
    label: str | None = None
    levels: Annotated[list[str], Field(min_length=2, max_length=200)]


class Minimisation(_Model):
    """Pocock-Simon minimisation settings."""

    factors: Annotated[dict[str, Annotated[float, Field(gt=0, le=1000)]], Field(min_length=1, max_length=20)]
    probability: Annotated[float, Field(gt=0, le=1)] = 0.8


class Blinding(_Model):
    """Codes shown instead of arm ids to those who must stay blind."""

    codes: Annotated[dict[str, Annotated[str, Field(min_length=1, max_length=20)]], Field(min_length=1)]


class Randomisation(_Model):
    """How participants are allocated to arms.

    The allocation itself derives from the secret key in the key folder; the config names the key
    only by its fingerprint. ``assess_seed`` feeds ``randomise assess`` and conceals nothing.
    """

    method: Literal["none", "simple", "blocks", "stratified_blocks", "minimisation"]
    strata: Annotated[list[str], Field(max_length=10)] = []
    block_sizes: Annotated[list[Annotated[int, Field(gt=0, le=1000)]], Field(max_length=20)] = []
    minimisation: Minimisation | None = None
    key_fingerprint: (
        Annotated[
            str, Field(pattern=r"^[0-9a-f]{64}$", description="the SHA-256 (64 hex digits) of the allocation key")
        ]
        | None
    ) = None
    assess_seed: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    log: str | None = None
    participant_id_pattern: Annotated[str, Field(max_length=200)] = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?$"
    require_eligible: bool = False
    blinding: Blinding | None = None


class SessionEntry(_Model):
    """``count`` sessions of one type, each ``hours`` long."""

    type: Ident
    count: Annotated[int, Field(gt=0, le=1000)]
    hours: Annotated[float, Field(gt=0, le=1000)]
    compulsory: bool = True
    label: str | None = None


class Schedule(_Model):
    """The sessions the intervention arm is offered, in order."""

    arm: str
    sessions: Annotated[list[SessionEntry], Field(min_length=1, max_length=100)]


class Threshold(_Model):
    """A dose definition: ``measure`` at least (or more than) a value."""

    id: Ident
    label: str | None = None
    measure: Literal["sessions", "compulsory_sessions", "hours", "compulsory_hours"]
    at_least: Annotated[float, Field(ge=0, le=1_000_000)] | None = None
    more_than: Annotated[float, Field(ge=0, le=1_000_000)] | None = None

    @property
    def bound(self) -> float:
        """The threshold's number, whichever of ``at_least``/``more_than`` holds it."""
        return self.at_least if self.at_least is not None else float(self.more_than or 0)

    @property
    def rule(self) -> str:
        """Human-readable rule, e.g. ``hours > 30``."""
        op = ">=" if self.at_least is not None else ">"
        return f"{self.measure} {op} {self.bound:g}"


class Timepoint(_Model):
    """An assessment time, in weeks from randomisation, with its acceptance window."""

    id: Ident
    label: str | None = None
    week: Annotated[float, Field(ge=0, le=1000)]
    window_weeks: (
        Annotated[list[Annotated[float, Field(ge=-1000, le=1000)]], Field(min_length=2, max_length=2)] | None
    ) = None


def _expand_items(value: Any) -> Any:
    """Accept item numbers and ranges written as ``"1-5"``."""
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for v in value:
        if isinstance(v, str) and (m := re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", v)):
            lo, hi = int(m.group(1)), int(m.group(2))
            out.extend(range(lo, hi + 1) if lo <= hi else [v])
        else:
            out.append(v)
    return out


class DerivedBinary(_Model):
    """A binary outcome derived from items: any item of ``subscale`` above ``any_above``."""

    subscale: str
    any_above: float


class Instrument(_Model):
    """An item-level questionnaire and how it is scored."""

    label: str | None = None
    respondent: Literal["man", "partner"] = "man"
    items: Annotated[int, Field(gt=0, le=1000)]
    min: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
    max: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
    subscales: dict[Annotated[str, Field(pattern=IDENT)], Annotated[list[int], Field(min_length=1)]] = {}
    reverse: list[int] = []
    score: Literal["mean", "sum"] = "mean"
    max_missing_items: Annotated[int, Field(ge=0, le=1000)] = 0
    derived: dict[Annotated[str, Field(pattern=IDENT)], DerivedBinary] = {}

    @field_validator("subscales", mode="before")
    @classmethod
    def _ranges_in_subscales(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _expand_items(v) for k, v in value.items()}
        return value

    @field_validator("reverse", mode="before")
    @classmethod
    def _ranges_in_reverse(cls, value: Any) -> Any:
        return _expand_items(value)

    def item_columns(self, instrument_id: str) -> list[str]:
        """Canonical item column names, ``<instrument>_<nn>``."""
        width = max(2, len(str(self.items)))
        return [f"{instrument_id}_{i:0{width}d}" for i in range(1, self.items + 1)]

    def subscale_items(self, name: str) -> list[int]:
        """Item numbers of a subscale, or of every item for ``total``."""
        if name == "total":
            return list(range(1, self.items + 1))
        return list(self.subscales[name])


AnalysisName = Literal[
    "ancova", "partially_nested", "partially_nested_equal_var", "multiple_imputation", "cace", "logistic",
    "negative_binomial", "change", "firth",
]  # fmt: skip


class Outcome(_Model):
    """An outcome: a subscale score (or derived binary or count) at a timepoint, and how it is analysed."""

    id: Ident
    label: str | None = None
    instrument: str
    subscale: str = "total"
    timepoint: str
    type: Literal["continuous", "binary", "count"] = "continuous"
    derived: str | None = None
    adjust_for: list[str] = ["baseline"]
    clustering: Literal["none", "partially_nested"] = "none"
    analyses: list[AnalysisName] | None = None

    def analyses_for(self, design: str) -> list[str]:
        """The analyses to run: as listed, or the defaults for the outcome's type and the design."""
        if self.analyses is not None:
            return list(self.analyses)
        if design == "single_arm":
            return ["change"]
        if self.type == "binary":
            return ["logistic"]
        if self.type == "count":
            return ["negative_binomial"]
        return ["ancova"] + (["partially_nested"] if self.clustering == "partially_nested" else [])


class AnalysisSettings(_Model):
    """How outcome models are fitted and reported."""

    df: Literal["containment", "residual", "normal"] = "containment"
    mi_m: Annotated[int, Field(ge=2, le=1000)] = 20
    mi_iterations: Annotated[int, Field(ge=1, le=1000)] = 10
    mi_seed: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    p_values: bool = False


class Partners(_Model):
    """Partner (victim-survivor) data collection: aggregates only, never about individual men."""

    label: str | None = None
    instrument: str | None = None
    timepoint: str | None = None


class Judgement(_Model):
    """The recorded judgement of a qualitative criterion (acceptability, say): its status, the evidence
    it rests on, who judged and when."""

    status: Literal["met", "not_met", "green", "amber", "red", "not_evaluated"]
    evidence: Annotated[str, Field(min_length=1, max_length=2000)]
    judged_by: Annotated[str, Field(min_length=1, max_length=200)]
    judged_on: dt.date | None = None


class BetaPriorSpec(_Model):
    """A Beta(a, b) prior on a proportion: ``a`` prior successes and ``b`` prior failures."""

    a: Annotated[float, Field(gt=0, le=1e6)] = 1.0
    b: Annotated[float, Field(gt=0, le=1e6)] = 1.0


class Criterion(_Model):
    """A progression criterion: a go threshold or a traffic light on a metric, a direction on an effect
    or a within-arm change, or a recorded judgement (``metric: qualitative``)."""

    id: Ident
    label: str | None = None
    metric: str
    # proportions for every metric but the rates (recruitment.per_site_month), checked with the metric
    go: Annotated[float, Field(ge=0, le=1e6)] | None = None
    green: Annotated[float, Field(ge=0, le=1e6)] | None = None
    amber: Annotated[float, Field(ge=0, le=1e6)] | None = None
    judge_on: Literal["estimate", "lower_bound"] = "estimate"
    direction: Literal["decrease", "increase", "no_increase", "no_decrease"] | None = None
    judgement: Judgement | None = None
    # the Beta prior of the probability that a proportion criterion is met (Beta(1, 1) when absent)
    prior: BetaPriorSpec | None = None


IMPORT_KINDS = ("screening", "participants", "attendance", "followup", "measures", "partners", "events")
DATE_FORMATS = ("dd/mm/yyyy", "dd-mm-yyyy", "dd.mm.yyyy", "mm/dd/yyyy", "yyyy-mm-dd", "yyyy/mm/dd")


class ImportRule(_Model):
    """How sites' exports map onto the canonical files; the rules matching a site and kind apply in order."""

    sites: list[str] = []
    kinds: list[Literal["screening", "participants", "attendance", "followup", "measures", "partners", "events"]] = []
    date_format: Literal["dd/mm/yyyy", "dd-mm-yyyy", "dd.mm.yyyy", "mm/dd/yyyy", "yyyy-mm-dd", "yyyy/mm/dd"] | None = (
        None
    )
    columns: dict[str, str] = {}
    values: dict[str, dict[str, str | bool | int | float]] = {}
    ignore: list[str] = []


class Reasons(_Model):
    """Coded categories for free-text reasons: shareable outputs show only these (anything else is "other")."""

    ineligible: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    not_received: list[Annotated[str, Field(min_length=1, max_length=200)]] = []  # allocated, never attended
    discontinued: list[Annotated[str, Field(min_length=1, max_length=200)]] = []  # started, then stopped


class Reporting(_Model):
    """How figures are reported."""

    ci_level: Annotated[float, Field(gt=0, lt=1)] = 0.95
    proportion_ci: Literal["wilson", "clopper_pearson", "jeffreys", "agresti_coull"] = "wilson"
    min_cell: Annotated[int, Field(ge=1, le=1000)] = 5
    digits: Annotated[int, Field(ge=0, le=6)] = 2  # estimates and intervals in rendered tables
    percent_digits: Annotated[int, Field(ge=0, le=4)] = 1  # percentages in rendered tables


#: The report's sections, in their default order (``report.sections``): the summary page, the trial and its
#: methods, the results in CONSORT order, and the reporting checklist as an appendix.
REPORT_SECTIONS = ("summary", "trial", "methods", "flow", "recruitment", "baseline", "retention", "dose", "outcomes",
                   "harms", "progression", "planning", "checklist")  # fmt: skip
#: The report's figures (``report.figures``).
REPORT_FIGURES = ("consort", "accrual", "retention", "attendance", "engagement", "forest", "plan_sensitivity",
                  "recruitment_forecast")  # fmt: skip
ReportSection = Literal["summary", "trial", "methods", "flow", "recruitment", "baseline", "retention", "dose",
                        "outcomes", "harms", "progression", "planning", "checklist"]  # fmt: skip
ReportFigure = Literal["consort", "accrual", "retention", "attendance", "engagement", "forest", "plan_sensitivity",
                       "recruitment_forecast"]  # fmt: skip


class ReportSettings(_Model):
    """How the report is laid out: its title, confidentiality line, sections and their order, figures, and
    whether it is a data monitoring committee's closed report."""

    title: Annotated[str, Field(min_length=1, max_length=300)] | None = None  # default: the trial's title
    confidentiality: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    sections: Annotated[list[ReportSection], Field(min_length=1, max_length=len(REPORT_SECTIONS))] | None = None
    figures: Annotated[list[ReportFigure], Field(max_length=len(REPORT_FIGURES))] | None = None
    closed: bool = False  # as ``run --closed``: an open part pooled over the arms, then a closed part by arm


class Planning(_Model):
    """The definitive trial's assumptions, for ``plan``: what difference it must detect, and how.

    ``outcomes`` are the primary outcomes (default: the first outcome); ``target_difference`` is on each
    outcome's own scale (a mean difference), one number for all or one per outcome id.
    """

    outcomes: list[str] = []
    target_difference: Annotated[float, Field(gt=0, le=1e6)] | dict[str, Annotated[float, Field(gt=0, le=1e6)]]
    power: Annotated[float, Field(gt=0.5, lt=1)] = 0.9
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    sd_confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.8
    group_size: Annotated[int, Field(ge=1, le=1000)] | None = None
    sites: Annotated[int, Field(ge=1, le=10_000)] | None = None
    # more ICC values for the sensitivity grid (beside 0, the estimate and its upper limit)
    icc_values: Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(max_length=20)] = []
    # the recruitment forecast: each definitive site's opening date, and the funder's deadline
    site_opening: dict[SiteId, dt.date] = {}
    forecast_deadline: dt.date | None = None


class BaselineVariable(_Model):
    """One row group of Table 1: a participants.csv column, or an outcome's baseline score.

    ``continuous`` shows mean (SD) and median [IQR]; ``categorical`` and ``binary`` show n (%) per
    level (a binary one only its ``true`` level). ``outcome`` names an outcome whose baseline score
    this is (read from the measures, not from participants.csv).
    """

    id: Ident
    label: str
    type: Literal["continuous", "categorical", "binary"] = "continuous"
    levels: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=200)] = []
    level_labels: dict[str, str] = {}
    outcome: str | None = None
    digits: Annotated[int, Field(ge=0, le=6)] | None = None


class BaselineTable(_Model):
    """Table 1: the baseline characteristics by arm and overall (CONSORT pilot item 15)."""

    variables: Annotated[list[BaselineVariable], Field(min_length=1, max_length=200)]
    standardised_differences: bool = False
    digits: Annotated[int, Field(ge=0, le=6)] = 1


class EventCategory(_Model):
    """A coded category of adverse event or safety incident; ``about`` says whose (a man's or a partner's)."""

    id: Ident
    label: str
    about: Literal["man", "partner"] = "man"


class Events(_Model):
    """The coded categories of ``events.csv`` (harms, CONSORT pilot item 19)."""

    categories: Annotated[list[EventCategory], Field(min_length=1, max_length=200)]


class RedcapField(_Model):
    """One field of the REDCap data dictionary, as ``config from-redcap`` read it.

    ``choices`` maps each raw code to its label (radio, dropdown, checkbox; yes/no and true/false
    have their implied choices), so that a label export reads back to raw values.
    """

    form: str
    label: str = ""
    type: str = "text"
    choices: dict[str, str] = {}
    identifier: bool = False  # the dictionary's Identifier?: never imported


class RedcapForm(_Model):
    """A REDCap instrument (form) and the canonical file its rows feed."""

    kind: Literal["screening", "participants", "attendance", "followup", "measures", "partners", "events"]
    instance: str | None = None  # the canonical column a repeating form's redcap_repeat_instance fills


class RedcapEvent(_Model):
    """A longitudinal event: the timepoint its rows are at (none: rows without a timepoint)."""

    timepoint: str | None = None
    label: str = ""


class RedcapStratum(_Model):
    """How a stratification factor is written in REDCap's allocation table: a field and its raw codes."""

    field: str
    codes: dict[str, str] = {}  # raw code -> factor level; empty: the level itself


class RedcapRandomisation(_Model):
    """REDCap's randomisation module: the randomisation field, its codes and the strata fields."""

    field: str
    groups: Annotated[dict[str, str], Field(min_length=1)]  # raw code -> arm id
    strata: dict[str, RedcapStratum] = {}  # factor -> field


class Redcap(_Model):
    """A REDCap project the trial's data come from (written by ``config from-redcap``)."""

    dictionary_sha256: str | None = None
    record_id: str
    participant_id: str | None = None  # the field holding the participant id, when it is not the record id
    forms: dict[str, RedcapForm]
    events: dict[str, RedcapEvent] = {}
    data_access_groups: dict[str, str] = {}  # unique group name -> site id
    randomisation: RedcapRandomisation | None = None
    fields: dict[str, RedcapField]


@dataclass(frozen=True)
class ConfigSource:
    """Where a config came from.

    Attributes
    ----------
    path : str
        The file as given.
    sha256 : str
        SHA-256 of the file's bytes.
    schema_version : int
        The schema version written in the file (before migration).
    migrations : tuple of str
        What each migration changed, oldest first; empty when none ran.
    """

    path: str
    sha256: str
    schema_version: int
    migrations: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedSession:
    """One session of the schedule, numbered within its type."""

    type: str
    number: int
    hours: float
    compulsory: bool


class Contact(_Model):
    """Someone told of every emergency unblinding (the chief investigator, the trial manager, ...)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class Smtp(_Model):
    """The mail server unblinding notices are sent through (the outbox keeps every notice whatever it does)."""

    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    sender: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)] = Field(alias="from")
    starttls: bool = True
    username: str | None = None
    password_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None  # the password's variable
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 20.0


Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class AllocationNotices(_Model):
    """An e-mail on each allocation made through the service: to the site's addresses and, with
    ``copy_contacts``, to the trial's contacts (the chief investigator). No arm when the trial is blinded."""

    sites: dict[str, Annotated[list[Email], Field(max_length=20)]] = {}
    copy_contacts: bool = False


class Notify(_Model):
    """Who is told of an emergency unblinding, and how: every notice goes to the outbox folder, and by SMTP
    when ``smtp`` is set. ``outbox`` is relative to the config file's folder. ``allocations``: an e-mail on
    each allocation too."""

    contacts: Annotated[list[Contact], Field(min_length=1, max_length=50)]
    outbox: str = "../notices"
    smtp: Smtp | None = None
    allocations: AllocationNotices | None = None


class Service(_Model):
    """The allocation service's account rules (``advance-trial serve``)."""

    max_failed_logins: Annotated[int, Field(ge=1, le=100)] = 5  # then the account is locked
    lockout_minutes: Annotated[int, Field(ge=1, le=100_000)] = 30
    session_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60  # a login lasts this long
    min_password_length: Annotated[int, Field(ge=8, le=200)] = 12
    # roles that must give a one-time code from an authenticator app (TOTP) as well as the password
    totp_roles: Annotated[list[Literal["site_ra", "unblinder", "statistician", "admin"]], Field(max_length=4)] = []
    setup_code_hours: Annotated[int, Field(ge=1, le=24 * 14)] = 72  # a one-time setup or reset code lasts this long


class EligibilityCriterion(_Model):
    """One question asked before a man is allocated; ``eligible`` is the answer that makes him eligible."""

    id: Ident
    question: Annotated[str, Field(min_length=1, max_length=300)]
    eligible: bool = True


class Eligibility(_Model):
    """The criteria a research assistant answers, in this order, before the service allocates a man."""

    criteria: Annotated[list[EligibilityCriterion], Field(min_length=1, max_length=40)]

    @model_validator(mode="after")
    def _unique(self) -> Eligibility:
        ids = [c.id for c in self.criteria]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"criterion id {repeated[0]!r} is given twice")
        return self


class Config(_Model):
    """A whole trial config (schema version 2)."""

    schema_version: Literal[2]
    trial: Trial
    arms: Annotated[list[Arm], Field(min_length=1, max_length=20)]
    sites: Annotated[list[Site], Field(min_length=1, max_length=1000)]
    cycles: Annotated[list[Annotated[int, Field(ge=0, le=1_000_000)]], Field(max_length=100)] = []
    factors: Annotated[list[Factor], Field(max_length=20)] = []
    randomisation: Randomisation
    schedule: Schedule | None = None
    thresholds: list[Threshold] = []
    timepoints: list[Timepoint] = []
    instruments: dict[Annotated[str, Field(pattern=IDENT)], Instrument] = {}
    outcomes: list[Outcome] = []
    partners: Partners | None = None
    progression: list[Criterion] = []
    reporting: Reporting = Reporting()
    report: ReportSettings = ReportSettings()
    reasons: Reasons = Reasons()
    analysis: AnalysisSettings = AnalysisSettings()
    planning: Planning | None = None
    baseline_table: BaselineTable | None = Field(default=None, alias="baseline")
    events: Events | None = None
    import_: list[ImportRule] = Field(default=[], alias="import")
    redcap: Redcap | None = None
    notify: Notify | None = None
    service: Service = Service()
    eligibility: Eligibility | None = None

    _source: ConfigSource | None = PrivateAttr(default=None)

    @property
    def source(self) -> ConfigSource | None:
        """Where the config was read from (``None`` when built in code)."""
        return self._source

    @property
    def arm_ids(self) -> list[str]:
        """Arm ids in config order."""
        return [a.id for a in self.arms]

    @property
    def site_ids(self) -> list[str]:
        """Site ids in config order."""
        return [s.id for s in self.sites]

    @property
    def timepoint_ids(self) -> list[str]:
        """Timepoint ids in config order."""
        return [t.id for t in self.timepoints]

    def arm(self, arm_id: str) -> Arm:
        """The arm with this id."""
        return next(a for a in self.arms if a.id == arm_id)

    def timepoint(self, timepoint_id: str) -> Timepoint:
        """The timepoint with this id."""
        return next(t for t in self.timepoints if t.id == timepoint_id)

    @property
    def entered(self) -> str:
        """How the men came into the study: ``randomised``, or ``enrolled`` in a single-arm study."""
        return "enrolled" if self.trial.design == "single_arm" else "randomised"

    @property
    def baseline(self) -> Timepoint | None:
        """The timepoint at week 0, if any."""
        return next((t for t in self.timepoints if t.week == 0), None)

    def factor_levels(self) -> dict[str, list[str]]:
        """Levels of every stratification factor: ``site``, ``cycle`` and declared factors."""
        levels: dict[str, list[str]] = {"site": self.site_ids}
        if self.cycles:
            levels["cycle"] = [str(c) for c in self.cycles]
        for f in self.factors:
            levels[f.id] = list(f.levels)
        return levels

    def session_plan(self) -> list[PlannedSession]:
        """Every session offered, in schedule order, numbered within its type.

        Numbering continues across schedule entries of the same type (contract section 2).
        """
        if self.schedule is None:
            return []
        counters: dict[str, int] = {}
        plan: list[PlannedSession] = []
        for entry in self.schedule.sessions:
            for _ in range(entry.count):
                counters[entry.type] = counters.get(entry.type, 0) + 1
                plan.append(PlannedSession(entry.type, counters[entry.type], entry.hours, entry.compulsory))
        return plan
