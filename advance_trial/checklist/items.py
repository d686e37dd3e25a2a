"""The reporting guidelines' items, each with what in a run's outputs or config can show it.

Two guidelines: CONSORT 2025 (Hopewell et al., BMJ 2025;389:e081123; 30 items, among them the new
open-science items 2-4) and the CONSORT 2010 extension to randomised pilot and feasibility trials (Eldridge
et al., BMJ 2016;355:i5239). Each item's topic is a short paraphrase; the guideline's own wording is in the
papers.

An item's evidence, checked in this order (:mod:`advance_trial.checklist`):

``config``
    a config fact the report states (registration, protocol, ...): missing when the config lacks it, with
    the key to add;
``tables`` / ``figures``
    the item is shown where any of these tables (non-empty) or figures is; missing otherwise, with what to
    add (``fill``);
``section``
    a part of the report always written from the config (Trial, Methods);
none of these
    the item needs the authors' text (``text``: what to write).
"""

from __future__ import annotations

from dataclasses import dataclass

CONSORT_2025 = "CONSORT 2025"
PILOT_2016 = "CONSORT pilot and feasibility extension"


@dataclass(frozen=True)
class Item:
    """One item of a reporting guideline and the evidence that can show it."""

    guideline: str
    item: str
    section: str
    topic: str
    tables: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    config: str | None = None
    section_shown: str | None = None
    fill: str = ""
    text: str = ""


def _c(item: str, section: str, topic: str, **kw: object) -> Item:
    return Item(CONSORT_2025, item, section, topic, **kw)  # type: ignore[arg-type]


def _p(item: str, section: str, topic: str, **kw: object) -> Item:
    return Item(PILOT_2016, item, section, topic, **kw)  # type: ignore[arg-type]


LOG = "implementation"
TEXT = "the manuscript"

CONSORT_2025_ITEMS: tuple[Item, ...] = (
    _c("1a", "Title and abstract", "Identified as a randomised trial in the title", text="the title"),
    _c("1b", "Title and abstract", "Structured summary of design, methods, results and conclusions",
       text="the abstract"),
    _c("2", "Open science", "Trial registry, registration number and date of registration", config="registration",
       fill="trial.registration (registry and number) and trial.registered_on (the date)"),
    _c("3", "Open science", "Where the protocol and the statistical analysis plan can be read", config="protocol",
       fill="trial.protocol and trial.analysis_plan (where each can be read: a DOI or address)"),
    _c("4", "Open science", "Where and how the de-identified data, code and other materials can be had",
       config="data_sharing", fill="trial.data_sharing (the data-sharing statement)"),
    _c("5a", "Open science", "Funding and other support, and the funders' role", config="funding",
       fill="trial.funding (the funder and its role)"),
    _c("5b", "Open science", "Authors' financial and other conflicts of interest", text="the declarations"),
    _c("6", "Introduction", "Scientific background and rationale", text="the introduction"),
    _c("7", "Introduction", "Specific objectives about benefits and harms", text="the objectives"),
    _c("8", "Methods", "Patient and public involvement in design, conduct and reporting", text="the methods"),
    _c("9", "Methods", "Trial design, allocation ratio and framework", section_shown="Trial"),
    _c("10", "Methods", "Important changes after the trial began, with reasons",
       text="the amendments (advance-trial config diff lists what each changed)"),
    _c("11", "Methods", "Settings and locations where the trial was conducted", section_shown="Trial"),
    _c("12a", "Methods", "Eligibility criteria for participants", config="eligibility",
       fill="an eligibility block (each criterion's question and eligible answer)"),
    _c("12b", "Methods", "Eligibility criteria for sites and for those delivering the interventions",
       text="the methods"),
    _c("13", "Methods", "Intervention and comparator in enough detail to replicate them", config="schedule",
       fill="a schedule block (the sessions each arm is offered)"),
    _c("14", "Methods", "Prespecified outcomes: measure, metric, aggregation and time point", tables=("outcomes",),
       fill="outcomes (each with its instrument, timepoint and analyses)"),
    _c("15", "Methods", "How harms were defined and assessed", config="events",
       fill="an events block (the coded categories of adverse events and incidents)"),
    _c("16a", "Methods", "How the sample size was determined, with its assumptions",
       text="the pilot's sample-size rationale (see the pilot extension's 7a)"),
    _c("16b", "Methods", "Interim analyses and stopping guidelines", text="the methods, or that there were none"),
    _c("17a", "Methods", "Who generated the allocation sequence and how", section_shown="Methods"),
    _c("17b", "Methods", "Type of randomisation and any restriction (strata, blocks)", section_shown="Methods"),
    _c("18", "Methods", "Allocation concealment mechanism", section_shown="Methods"),
    _c("19", "Methods", "Whether those enrolling and assigning could see the sequence", config=LOG,
       fill="the allocation log: run with --log PATH (the report then states who allocated, and when)"),
    _c("20a", "Methods", "Who was blinded after assignment", text="the methods"),
    _c("20b", "Methods", "How blinding was achieved and the interventions' similarity", text="the methods"),
    _c("21a", "Methods", "Statistical methods comparing groups for each outcome, harms included",
       tables=("outcomes",), fill="outcomes with their analyses"),
    _c("21b", "Methods", "Who is included in each analysis, and in which group", tables=("outcomes",),
       fill="outcomes with their analyses"),
    _c("21c", "Methods", "How missing data were handled", config="missing_data",
       fill="a multiple_imputation analysis of an outcome, or the authors' text on complete cases"),
    _c("21d", "Methods", "Additional analyses, prespecified or post hoc", text="the methods"),
    _c("22a", "Results", "Participant flow: randomised, receiving the intervention, analysed, by group",
       figures=("consort",), fill="screening and participants data"),
    _c("22b", "Results", "Losses and exclusions after randomisation, with reasons, by group",
       tables=("retention_reasons",), fill="followup.csv statuses and the reasons of men lost"),
    _c("23a", "Results", "Dates of recruitment and follow-up", tables=("recruitment_monthly",), figures=("accrual",),
       fill="randomisation dates in participants.csv"),
    _c("23b", "Results", "Why the trial ended or was stopped", text="the results"),
    _c("24a", "Results", "Intervention and comparator as delivered (adherence)", tables=("dose", "dose_summary"),
       figures=("attendance",), fill="a schedule and attendance.csv"),
    _c("24b", "Results", "Concomitant care received in each group", text="the results"),
    _c("25", "Results", "Baseline demographic and clinical characteristics by group", tables=("baseline",),
       fill="a baseline block (Table 1's variables)"),
    _c("26", "Results", "For each outcome: numbers analysed, results by group, effect and its precision",
       tables=("outcomes",), figures=("forest",), fill="outcomes with their analyses and measures.csv"),
    _c("27", "Results", "All harms or unintended events in each group", tables=("harms",),
       fill="an events block and events.csv"),
    _c("28", "Results", "Other analyses, prespecified or post hoc", tables=("change",),
       text="the results (subgroup and sensitivity analyses)"),
    _c("29", "Discussion", "Interpretation consistent with the results, benefits and harms balanced",
       text="the discussion"),
    _c("30", "Discussion", "Limitations: bias, imprecision, multiplicity", text="the discussion"),
)  # fmt: skip

PILOT_2016_ITEMS: tuple[Item, ...] = (
    _p("1a", "Title and abstract", "Identified as a pilot or feasibility randomised trial in the title",
       text="the title"),
    _p("1b", "Title and abstract", "Structured summary of the pilot trial (CONSORT for abstracts' pilot extension)",
       text="the abstract"),
    _p("2a", "Introduction", "Rationale for the future definitive trial and for a randomised pilot",
       text="the introduction"),
    _p("2b", "Introduction", "Specific objectives or research questions of the pilot", config="objectives",
       fill="progression criteria (each a feasibility objective with its rule)"),
    _p("3a", "Methods", "Pilot design, with the allocation ratio", section_shown="Trial"),
    _p("3b", "Methods", "Important changes to methods after the pilot began, with reasons",
       text="the amendments (advance-trial config diff lists what each changed)"),
    _p("4a", "Methods", "Eligibility criteria for participants", config="eligibility",
       fill="an eligibility block (each criterion's question and eligible answer)"),
    _p("4b", "Methods", "Settings and locations of data collection", section_shown="Trial"),
    _p("4c", "Methods", "How participants were identified and consented", figures=("consort",),
       fill="screening.csv (screened, eligible, consented)", text="the methods (how men were approached)"),
    _p("5", "Methods", "Interventions of each group in enough detail to replicate them", config="schedule",
       fill="a schedule block (the sessions each arm is offered)"),
    _p("6a", "Methods", "Prespecified assessments for each pilot objective, how and when", tables=("progression",),
       fill="progression criteria, each naming its metric"),
    _p("6b", "Methods", "Changes to pilot assessments after the pilot began, with reasons", text="the methods"),
    _p("6c", "Methods", "Prespecified criteria for deciding whether or how to proceed", config="progression_set",
       fill="progression criteria and trial.progression_set_on (the date they were set)"),
    _p("7a", "Methods", "Rationale for the numbers in the pilot", text="the pilot's sample-size rationale"),
    _p("7b", "Methods", "Interim analyses and stopping guidelines", text="the methods, or that there were none"),
    _p("8a", "Methods", "Method used to generate the allocation sequence", section_shown="Methods"),
    _p("8b", "Methods", "Type of randomisation and any restriction", section_shown="Methods"),
    _p("9", "Methods", "Allocation concealment mechanism", section_shown="Methods"),
    _p("10", "Methods", "Who generated the sequence, enrolled and assigned participants", config=LOG,
       fill="the allocation log: run with --log PATH (the report then states who allocated, and when)"),
    _p("11a", "Methods", "Who was blinded after assignment, and how", text="the methods"),
    _p("11b", "Methods", "Similarity of interventions", text="the methods"),
    _p("12", "Methods", "Methods to address each pilot objective, qualitative or quantitative",
       tables=("progression",), fill="progression criteria", text="the methods (qualitative objectives)"),
    _p("13a", "Results", "Numbers approached, assessed for eligibility, randomised, treated and assessed, by group",
       figures=("consort",), fill="screening and participants data"),
    _p("13b", "Results", "Losses and exclusions after randomisation, with reasons", tables=("retention_reasons",),
       fill="followup.csv statuses and the reasons of men lost"),
    _p("14a", "Results", "Dates of recruitment and follow-up", tables=("recruitment_monthly",), figures=("accrual",),
       fill="randomisation dates in participants.csv"),
    _p("14b", "Results", "Why the pilot ended or was stopped", text="the results"),
    _p("15", "Results", "Baseline characteristics by group", tables=("baseline",),
       fill="a baseline block (Table 1's variables)"),
    _p("16", "Results", "For each objective, the number of participants in each analysis",
       tables=("recruitment", "retention", "dose"), fill="screening, participants and follow-up data"),
    _p("17", "Results", "For each objective, results with their uncertainty (e.g. 95% interval)",
       tables=("recruitment", "retention", "dose", "progression"), fill="progression criteria"),
    _p("18", "Results", "Other analyses that could inform the definitive trial", tables=("plan",),
       fill="a planning block (the definitive trial's target difference)"),
    _p("19", "Results", "All important harms or unintended effects in each group", tables=("harms",),
       fill="an events block and events.csv"),
    _p("19a", "Results", "Other important unintended consequences", text="the results"),
    _p("20", "Discussion", "Limitations, sources of bias and remaining uncertainty about feasibility",
       text="the discussion"),
    _p("21", "Discussion", "Generalisability of the pilot's methods and findings to the definitive trial",
       text="the discussion"),
    _p("22", "Discussion", "Interpretation consistent with the pilot's objectives and findings",
       text="the discussion"),
    _p("22a", "Discussion", "Implications for progression to the definitive trial, with proposed changes",
       tables=("progression",), fill="progression criteria", text="the discussion (the changes proposed)"),
    _p("23", "Other information", "Registration number and name of the registry", config="registration",
       fill="trial.registration (registry and number) and trial.registered_on (the date)"),
    _p("24", "Other information", "Where the pilot's protocol can be read", config="protocol",
       fill="trial.protocol (where the protocol can be read)"),
    _p("25", "Other information", "Funding and other support, and the funders' role", config="funding",
       fill="trial.funding (the funder and its role)"),
    _p("26", "Other information", "Ethical approval, with its reference", config="ethics",
       fill="trial.ethics (the committee and its reference)"),
)  # fmt: skip

ITEMS: tuple[Item, ...] = CONSORT_2025_ITEMS + PILOT_2016_ITEMS
