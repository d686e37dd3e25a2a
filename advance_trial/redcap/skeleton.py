"""A trial config from a REDCap data dictionary: ``advance-trial config from-redcap``.

Every field of the dictionary is placed or listed. A field is placed when its form feeds a
canonical file (by the form's name: screening, randomisation, attendance or sessions, follow-up,
partner, adverse events; a form of numbered items is a questionnaire) and its name or label is one
of the canonical column's usual names (:data:`SYNONYMS`), or when it is an item of a questionnaire
(``abi_01`` ... ``abi_30``, or ``abi1`` ...: three or more numbered fields of whole-number choices
or an integer range). Identifying fields (the dictionary's ``Identifier?``) are never mapped.

With a base config the trial, arms, sites, schedule and timepoints come from it and the choices
are matched to them by label; without one they come from the dictionary and events, and every
assumption is listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advance_trial.config.models import IMPORT_KINDS, Config
from advance_trial.data.schema import SPECS, allowed_columns, baseline_columns
from advance_trial.redcap.dictionary import Dictionary, DictionaryField, Event

#: Usual names of each canonical column (letters and digits only, lower case).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "screened_on": ("screeningdate", "datescreened", "dateofscreening", "screendate", "screened"),
    "eligible": ("eligibility", "iseligible"),
    "consented": ("consent", "consentgiven", "consentobtained"),
    "reason_ineligible": ("ineligiblereason", "whyineligible", "reasonnoteligible"),
    "participant_id": ("participantid", "studyid", "trialid", "ppid"),
    "site": ("centre", "center", "service", "sitename"),
    "cycle": ("cohort", "recruitmentcycle"),
    "randomised_on": (
        "randomizedon",
        "randomisationdate",
        "randomizationdate",
        "dateofrandomisation",
        "dateofrandomization",
        "randdate",
        "daterandomised",
        "daterandomized",
    ),  # fmt: skip
    "arm": (
        "allocation",
        "allocatedarm",
        "allocatedgroup",
        "randgroup",
        "randomisationgroup",
        "randomizationgroup",
        "treatmentgroup",
        "trialarm",
    ),  # fmt: skip
    "reason_not_received": ("reasonnotreceived", "whynotreceived"),
    "reason_discontinued": ("reasondiscontinued", "whydiscontinued", "discontinuationreason"),
    "session_type": ("typeofsession",),
    "session_number": ("sessionno", "sessionnum"),
    "group_id": ("groupcode", "group"),
    "session_on": ("sessiondate", "dateofsession"),
    "attended": ("attendance", "didattend", "present"),
    "hours": ("sessionhours", "durationhours", "hrs", "duration"),
    "due_on": ("duedate", "datedue", "followupdue"),
    "status": ("followupstatus", "fustatus"),
    "completed_on": ("datecompleted", "completiondate", "followupdate", "fudate"),
    "partner_id": ("partnerid",),
    "followup_status": ("partnerstatus", "partnerfollowupstatus", "status", "fustatus"),
    "contacted": ("partnercontacted",),
    "event_id": ("aeid", "incidentid", "eventnumber"),
    "event_on": ("eventdate", "dateofevent", "aedate", "onsetdate", "incidentdate"),
    "category": ("eventcategory", "aecategory", "eventtype"),
    "serious": ("isserious", "sae"),
    "related": ("relatedness", "isrelated", "relatedtointervention"),
}
#: Which canonical file a form feeds, by words in its name (first match wins).
FORM_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("partners", ("partner",)),
    ("events", ("adverse", "safety", "incident", "harm")),
    ("attendance", ("attend", "session")),
    ("followup", ("follow", "retention")),
    ("screening", ("screen", "eligib")),
    ("participants", ("random", "enrol", "allocation", "demograph", "particip")),
)
#: Columns the export's structure supplies (the record, the event, the data access group).
STRUCTURAL = ("participant_id", "screen_id", "timepoint", "site")
STATUS_WORDS = (("complet", "completed"), ("miss", "missed"), ("withdr", "withdrawn"), ("lost", "lost"),
                ("died", "died"), ("death", "died"), ("deceas", "died"))  # fmt: skip
_ITEM = re.compile(r"^([a-z][a-z0-9_]*?)_?(\d+)$")


def key(text: str) -> str:
    """Letters and digits only, lower case: how names are compared."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def slug(text: str, sep: str = "_") -> str:
    """An id from a label: lower case, words joined by ``sep``, starting with a letter."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = sep.join(words) or "x"
    return out if out[0].isalpha() else f"x{sep}{out}"


@dataclass(frozen=True)
class Placement:
    """What became of one field: ``mapped`` (to kind.column), ``item``, ``identifying``, ``structural``
    or ``not placed``, with why."""

    field: str
    form: str
    placed: str
    target: str
    why: str


@dataclass
class _Build:
    dictionary: Dictionary
    base: Config | None
    events: list[Event]
    placements: list[Placement] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    form_kinds: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> field -> canonical
    values: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # kind -> column -> code -> value
    ignore: dict[str, list[str]] = field(default_factory=dict)
    instruments: dict[str, dict[str, Any]] = field(default_factory=dict)
    baseline: list[dict[str, Any]] = field(default_factory=list)  # Table 1's variables (a skeleton's)
    scoring: list[Scoring] = field(default_factory=list)


@dataclass(frozen=True)
class Scoring:
    """How an instrument is scored, and what said so (the command states it for every instrument)."""

    instrument: str
    label: str
    score: str  # sum | mean
    items: int
    lowest: float | None
    highest: float | None
    source: str

    def __str__(self) -> str:
        span = (f", {self.lowest:g} to {self.highest:g}" if self.lowest is not None and self.highest is not None
                else "")  # fmt: skip
        items = f"{self.items} item{'s' if self.items != 1 else ''}"
        return f"{self.instrument} ({self.label}): the {self.score} of its {items}{span}; {self.source}"


@dataclass(frozen=True)
class Skeleton:
    """The config's text and what became of every field."""

    text: str
    placements: tuple[Placement, ...]
    assumptions: tuple[str, ...]
    scoring: tuple[Scoring, ...] = ()

    @property
    def not_placed(self) -> list[Placement]:
        """Fields the statistician must place by hand (they are ignored by the import until then)."""
        return [p for p in self.placements if p.placed == "not placed"]


def _form_kind(form: str, fields: list[DictionaryField]) -> str | None:
    words = form.lower()
    for kind, stems in FORM_WORDS:
        if any(s in words for s in stems):
            return kind
    return None


def _instrument_groups(
    fields: list[DictionaryField], known: dict[str, int] | None = None
) -> dict[str, list[tuple[int, DictionaryField]]]:
    """Numbered fields of whole-number answers: three or more, or as many as a known instrument has."""
    groups: dict[str, list[tuple[int, DictionaryField]]] = {}
    for f in fields:
        m = _ITEM.match(f.name)
        numeric = (f.type in ("radio", "dropdown") and f.integer_codes) or (
            f.type in ("text", "slider") and f.validation in ("integer", "number", "") and f.min and f.max
        )
        if m and numeric and not f.identifier:
            groups.setdefault(m.group(1).rstrip("_"), []).append((int(m.group(2)), f))
    known = known or {}
    return {p: g for p, g in groups.items() if (len(g) >= 3 or known.get(slug(p)) == len(g))
            and sorted(n for n, _ in g) == list(range(1, len(g) + 1))}  # fmt: skip


def _range(items: list[DictionaryField]) -> tuple[int, int] | None:
    lows, highs = [], []
    for f in items:
        codes = f.integer_codes if f.choices else None
        try:
            lo, hi = (min(codes), max(codes)) if codes else (int(float(f.min)), int(float(f.max)))
        except ValueError:
            return None
        lows.append(lo)
        highs.append(hi)
    return min(lows), max(highs)


def _matches(f: DictionaryField, column: str) -> bool:
    names = {key(f.name), key(f.label)}
    if "_" in f.name:
        names.add(key(f.name.split("_", 1)[1]))
    return bool(names & ({key(column)} | set(SYNONYMS.get(column, ()))))


def _match_label(label: str, code: str, options: dict[str, str]) -> str | None:
    """The option (id -> label) a choice means: same id or label, or one containing the other."""
    want = {key(label), key(code)}
    for oid, olabel in options.items():
        if want & {key(oid), key(olabel)}:
            return oid
    from difflib import SequenceMatcher

    near = [(max(SequenceMatcher(None, w, key(olabel)).ratio() for w in want), oid) for oid, olabel in options.items()
            if any(len(w) > 2 and (w in key(olabel) or key(olabel) in w or key(oid) in w) for w in want)]  # fmt: skip
    return max(near)[1] if near else None


def build(dictionary: Dictionary, events: list[Event], base: Config | None,
          trial_id: str | None) -> tuple[dict[str, Any], _Build]:  # fmt: skip
    """The config as data (``redcap``, ``instruments`` and ``import`` always; the rest without a base)."""
    b = _Build(dictionary, base, events)
    by_form: dict[str, list[DictionaryField]] = {}
    for f in dictionary.fields:
        by_form.setdefault(f.form, []).append(f)
    record = dictionary.record_id
    participant_field = next((f for f in dictionary.fields[1:] if _matches(f, "participant_id")
                              and not f.identifier), None)  # fmt: skip
    known = {i: ins.items for i, ins in base.instruments.items()} if base is not None else {}
    for form, fields in by_form.items():
        kind = _form_kind(form, fields)
        groups = _instrument_groups(fields, known)
        if groups and kind in (None, "partners"):
            kind = kind or "measures"
        if kind is not None:
            b.form_kinds[form] = kind
    cfg_like = base
    sites, arms = _sites_and_arms(b, cfg_like, trial_id)
    for form, fields in by_form.items():
        kind = b.form_kinds.get(form)
        groups = _instrument_groups(fields, known) if kind in ("measures", "partners") else {}
        item_of = {f.name: (p, n) for p, g in groups.items() for n, f in g}
        taken: dict[str, str] = {}
        for f in fields:
            if f is record or f is participant_field:
                b.placements.append(Placement(f.name, form, "structural", "participant_id" if f is participant_field
                                              or not _has_screening(b) else "screen_id",
                                              "the record" if f is record else "the participant id"))  # fmt: skip
                continue
            if f.type in ("descriptive",):
                continue
            if f.identifier:
                b.placements.append(Placement(f.name, form, "identifying", "", "Identifier? = y: never mapped"))
                continue
            if kind is None:
                b.placements.append(Placement(f.name, form, "not placed", "", f"form {form!r} feeds no canonical file"))
                continue
            if f.name in item_of:
                prefix, n = item_of[f.name]
                _item(b, kind, prefix, n, f, groups[prefix])
                continue
            if f.type == "calc" and kind in ("measures", "partners"):
                b.placements.append(
                    Placement(
                        f.name,
                        form,
                        "not placed",
                        "",
                        "a score REDCap calculates: advance-trial scores the items itself (the instrument's score)",
                    )
                )
                b.ignore.setdefault(kind, []).append(f.name)
                continue
            column = _column_for(b, kind, f, taken)
            if column is None and kind == "participants" and b.base is None:
                column = _baseline_variable(b, f)
            if column is None:
                b.placements.append(Placement(f.name, form, "not placed", "",
                                              f"no column of {kind}.csv is called this"))  # fmt: skip
                b.ignore.setdefault(kind, []).append(f.name)
                continue
            taken[column] = f.name
            if f.name != column:
                b.columns.setdefault(kind, {})[f.name] = column
            b.placements.append(Placement(f.name, form, "mapped", f"{kind}.{column}", ""))
            _recode(b, kind, column, f, sites, arms)
    _missing(b)
    return _document(b, record, participant_field, sites, arms, trial_id), b


def _missing(b: _Build) -> None:
    """Say which columns of each file the forms feed no field provides (the export's structure aside)."""
    provided = {p.target for p in b.placements}
    for kind in dict.fromkeys(b.form_kinds.values()):
        for c in SPECS[kind].columns:
            if c.name in STRUCTURAL or f"{kind}.{c.name}" in provided:
                continue
            if kind == "attendance" and c.name == "session_number":
                continue  # the repeat instance numbers the sessions
            b.assumptions.append(
                f"{kind}.{c.name}: no field of the dictionary; "
                + ("left empty" if c.nullable else "`import` refuses the form's rows until a field is mapped onto it")
            )


def _has_screening(b: _Build) -> bool:
    return "screening" in b.form_kinds.values()


def _column_for(b: _Build, kind: str, f: DictionaryField, taken: dict[str, str]) -> str | None:
    cfg = b.base
    columns = allowed_columns(cfg, kind) if cfg is not None else [
        c.name for c in (*SPECS[kind].columns, *SPECS[kind].optional_columns)]  # fmt: skip
    for column in columns:
        if column in taken or (column in STRUCTURAL and column != "site"):
            continue
        if _matches(f, column):
            return column
    return None


def _baseline_variable(b: _Build, f: DictionaryField) -> str | None:
    """A skeleton's baseline characteristic from a participants form's field: a choice field is
    categorical (yes/no binary), a number field continuous; its id is the field's name."""
    vid = slug(f.name)
    if vid in ("site", "cycle") or any(v["id"] == vid for v in b.baseline):
        return None
    if f.type in ("radio", "dropdown") and f.choices:
        levels = {code: slug(lab) for code, lab in f.choices.items()}
        if len(set(levels.values())) < len(levels):
            return None
        var = {"id": vid, "label": f.label or f.name, "type": "categorical", "levels": list(levels.values()),
               "level_labels": {levels[c]: lab for c, lab in f.choices.items()}}  # fmt: skip
        b.values.setdefault("participants", {})[vid] = levels
    elif f.type in ("yesno", "truefalse"):
        var = {"id": vid, "label": f.label or f.name, "type": "binary"}
        b.values.setdefault("participants", {})[vid] = {"1": "true", "0": "false"}
    elif f.type == "text" and f.validation in ("integer", "number"):
        var = {"id": vid, "label": f.label or f.name, "type": "continuous"}
    else:
        return None
    b.baseline.append(var)
    return vid


def _item(
    b: _Build, kind: str, prefix: str, n: int, f: DictionaryField, group: list[tuple[int, DictionaryField]]
) -> None:
    ins_id = slug(prefix)
    existing = b.base.instruments.get(ins_id) if b.base is not None else None
    lo_hi = _range([g for _, g in group])
    if ins_id not in b.instruments:
        label = _section(b, f.form, [g for _, g in group]) or f"{prefix} (REDCap form {f.form})"
        spec: dict[str, Any] = {"label": label, "items": len(group)}
        if kind == "partners":
            spec["respondent"] = "partner"
        if lo_hi is not None:
            spec["min"], spec["max"] = lo_hi
        score, source = _score(b, f.form, [g.name for _, g in group])
        if existing is not None:
            score, source, label = existing.score, "as the base config says", existing.label or label
        spec["score"] = score
        b.instruments[ins_id] = spec
        k = len(group)
        lo, hi = (existing.min, existing.max) if existing is not None else (lo_hi or (None, None))
        factor = k if score == "sum" else 1
        b.scoring.append(Scoring(ins_id, label, score, k, None if lo is None else lo * factor,
                                 None if hi is None else hi * factor, source))  # fmt: skip
        if existing is not None and (existing.items, existing.min, existing.max) != (len(group), *(lo_hi or (0, 0))):
            b.assumptions.append(f"instrument {ins_id}: the base config has {existing.items} items "
                                 f"{existing.min}..{existing.max}, the dictionary {len(group)} items "
                                 f"{lo_hi[0] if lo_hi else '?'}..{lo_hi[1] if lo_hi else '?'}; "
                                 "the base's is kept")  # fmt: skip
    width = max(2, len(str(len(group))))
    column = f"{ins_id}_{n:0{width}d}"
    if f.name != column:
        b.columns.setdefault(kind, {})[f.name] = column
    if f.choices and lo_hi is not None:
        codes = f.integer_codes or []
        if any(str(c) != code for c, code in zip(codes, f.choices, strict=True)):
            b.values.setdefault(kind, {})[column] = {code: int(code) for code in f.choices}
    b.placements.append(Placement(f.name, f.form, "item", f"{kind}.{column}", f"item {n} of {ins_id}"))


_SCORE_TAG = re.compile(r"@SCORE\s*=\s*['\"]?(sum|mean)\b", re.IGNORECASE)


def _section(b: _Build, form: str, items: list[DictionaryField]) -> str | None:
    """The instrument's name as the form shows it: the section header over its items (or over the form)."""
    on_form = [f for f in b.dictionary.fields if f.form == form]
    first = min((f.row for f in items), default=0)
    over_items = [f.section for f in items if f.section]
    before = [f.section for f in on_form if f.section and f.row <= first]
    found = over_items or before[-1:]
    return found[0] if found else None


def _score(b: _Build, form: str, items: list[str]) -> tuple[str, str]:
    """Sum or mean, and what says so: an ``@SCORE=sum`` (or ``mean``) in a field annotation of the form, else
    a calculated field of the form over the items (``sum(...)``, ``[a]+[b]...``, ``mean(...)``), else the
    default, mean, said to be assumed."""
    on_form = [f for f in b.dictionary.fields if f.form == form]
    for f in on_form:
        m = _SCORE_TAG.search(f.annotation)
        if m:
            return m.group(1).lower(), f"from the field annotation {m.group(0)!r} of {f.name}"
    names = set(items)
    for f in on_form:
        calc = f.calculation.replace(" ", "").lower()
        used = set(re.findall(r"\[([a-z0-9_]+)\]", calc))
        if f.type != "calc" or not used or not used <= names:
            continue
        if "mean(" in calc or "/" in calc:
            return "mean", f"from the calculated field {f.name} (the mean of the items)"
        if "sum(" in calc or "+" in calc:
            return "sum", f"from the calculated field {f.name} (the sum of the items)"
    return "mean", (
        "assumed: nothing in the dictionary says (add @SCORE=sum or @SCORE=mean to an item's field "
        "annotation, or set the instrument's score in the config)"
    )


def _sites_and_arms(b: _Build, base: Config | None, trial_id: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Site and arm ids with labels: the base's, or those the dictionary's site and arm fields name."""
    if base is not None:
        return {s.id: s.label for s in base.sites}, {a.id: a.label for a in base.arms}
    site_f = next((f for f in b.dictionary.fields if f.choices and _matches(f, "site")), None)
    arm_f = next((f for f in b.dictionary.fields if f.choices and _matches(f, "arm")), None)
    sites = {slug(lab, "-"): lab for lab in (site_f.choices.values() if site_f else [])}
    arms = {slug(lab): lab for lab in (arm_f.choices.values() if arm_f else [])}
    if not sites:
        sites = {"site-1": "Site 1"}
        b.assumptions.append("no site field with choices: one site 'site-1'; set the sites")
    if not arms:
        arms = {"intervention": "Intervention"}
        b.assumptions.append("no randomisation field with choices: a single-arm study; set the arms")
    return sites, arms


def _recode(b: _Build, kind: str, column: str, f: DictionaryField, sites: dict[str, str], arms: dict[str, str]) -> None:
    """A ``values`` recode from the field's raw codes to the canonical values, where they differ."""
    if not f.choices or f.type in ("yesno", "truefalse"):
        return
    spec = next((c for c in (*SPECS[kind].columns, *SPECS[kind].optional_columns) if c.name == column), None)
    if spec is not None and spec.kind == "bool":
        if f.type == "checkbox" and len(f.choices) == 1:
            return  # one box: ticked or not, read as 1 or 0
        words = {"yes": True, "no": False, "true": True, "false": False, "y": True, "n": False}
        recode: dict[str, Any] = {c: words[key(lab)] for c, lab in f.choices.items() if key(lab) in words}
        if len(recode) < len(f.choices):
            b.assumptions.append(f"{f.name}: choices are not yes and no; recode them to true and false for {column}")
        b.values.setdefault(kind, {})[column] = recode
        return
    options: dict[str, str] | None = None
    if column == "site":
        options = sites
    elif column == "arm":
        options = arms
    elif column in ("status", "followup_status"):
        recode = {}
        for code, label in f.choices.items():
            hit = next((s for w, s in STATUS_WORDS if w in label.lower()), None)
            if hit is None:
                b.assumptions.append(f"{f.name}: choice {code} ({label!r}) is no follow-up status; recode it")
            else:
                recode[code] = hit
        b.values.setdefault(kind, {})[column] = recode
        return
    elif column == "session_type" and b.base is not None and b.base.schedule is not None:
        options = {}
        for e in b.base.schedule.sessions:
            options.setdefault(e.type, e.label or e.type)
    elif column == "session_type":
        options = {slug(lab): lab for lab in f.choices.values()}
    elif column == "category" and b.base is not None and b.base.events is not None:
        options = {c.id: c.label for c in b.base.events.categories}
    elif column == "cycle":
        b.values.setdefault(kind, {})[column] = {
            c: int(lab) if lab.isdigit() else int(c) for c, lab in f.choices.items()
        }
        return
    elif b.base is not None and any(v.id == column and v.levels for v in baseline_columns(b.base)):
        var = next(v for v in baseline_columns(b.base) if v.id == column)
        options = {lvl: var.level_labels.get(lvl, lvl) for lvl in var.levels}
    elif b.base is not None and any(f.id == column for f in b.base.factors):
        options = {lvl: lvl for lvl in next(f for f in b.base.factors if f.id == column).levels}
    elif column.startswith("reason_") and b.base is not None:
        listed = getattr(b.base.reasons, column.removeprefix("reason_"), [])
        options = {r: r for r in listed}
    if options is None:
        options = {lab: lab for lab in f.choices.values()}
    recode = {}
    for code, label in f.choices.items():
        hit = _match_label(label, code, options)
        if hit is None:
            b.assumptions.append(f"{f.name}: choice {code} ({label!r}) matches no {column} of the config; recode it")
        else:
            recode[code] = hit
    b.values.setdefault(kind, {})[column] = recode


def _timepoints(b: _Build) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Timepoints (without a base) and each event's timepoint."""
    mapping: dict[str, dict[str, Any]] = {}
    made: list[dict[str, Any]] = []
    timed = {f for f, k in b.form_kinds.items() if k in ("followup", "measures", "partners")}
    for ev in b.events:
        stem = re.sub(r"_arm_\d+$", "", ev.unique_name)
        week = None if ev.day_offset is None else ev.day_offset / 7
        tp: str | None = None
        if b.base is not None:
            tp = next((t.id for t in b.base.timepoints if week is not None and abs(t.week - week) < 1 / 7), None)
            tp = tp or next((t.id for t in b.base.timepoints if key(t.id) == key(stem)), None)
            if tp is None:
                b.assumptions.append(f"event {ev.unique_name}: no timepoint of the base config at its day offset; "
                                     "its rows have no timepoint")  # fmt: skip
        elif ev.forms and not set(ev.forms) & timed:
            tp = None
        else:
            tp = slug(stem)
            if tp not in [t["id"] for t in made]:
                made.append({"id": tp, "label": ev.label or stem, "week": week if week is not None else 0})
                if week is None:
                    b.assumptions.append(f"event {ev.unique_name}: no day offset; timepoint {tp} set at week 0")
        mapping[ev.unique_name] = {"timepoint": tp, "label": ev.label} if tp else {"label": ev.label}
    return made, mapping


def _document(b: _Build, record: DictionaryField, participant_field: DictionaryField | None, sites: dict[str, str],
              arms: dict[str, str], trial_id: str | None) -> dict[str, Any]:  # fmt: skip
    made, events = _timepoints(b)
    forms: dict[str, Any] = {}
    for form, kind in b.form_kinds.items():
        entry: dict[str, Any] = {"kind": kind}
        if kind == "attendance" and "session_number" not in b.columns.get(kind, {}).values() and not any(
                p.target == "attendance.session_number" for p in b.placements):  # fmt: skip
            entry["instance"] = "session_number"
        forms[form] = entry
    fields: dict[str, Any] = {}
    for f in b.dictionary.fields:
        if f.type in ("descriptive",):
            continue
        spec: dict[str, Any] = {"form": f.form, "label": f.label, "type": f.type}
        if f.choices:
            spec["choices"] = dict(f.choices)
        if f.identifier:
            spec["identifier"] = True
        fields[f.name] = spec
    redcap: dict[str, Any] = {"dictionary_sha256": b.dictionary.sha256, "record_id": record.name}
    if participant_field is not None:
        redcap["participant_id"] = participant_field.name
    redcap["forms"] = forms
    if events:
        redcap["events"] = events
    redcap["data_access_groups"] = {slug(s): s for s in sites}
    rand = _randomisation(b, arms, sites)
    if rand:
        redcap["randomisation"] = rand
    redcap["fields"] = fields
    rules = []
    for kind in IMPORT_KINDS:
        rule: dict[str, Any] = {"kinds": [kind]}
        if b.columns.get(kind):
            rule["columns"] = b.columns[kind]
        if b.values.get(kind):
            rule["values"] = b.values[kind]
        if b.ignore.get(kind):
            rule["ignore"] = b.ignore[kind]
        if len(rule) > 1:
            rules.append(rule)
    doc: dict[str, Any] = {}
    if b.base is None:
        doc = _skeleton(b, trial_id, sites, arms, made)
    new_instruments = {k: v for k, v in b.instruments.items() if b.base is None or k not in b.base.instruments}
    for spec in new_instruments.values():
        if "min" not in spec:
            spec["min"], spec["max"] = 0, 1
            b.assumptions.append(f"{spec['label']}: no item range in the dictionary; set min and max")
    doc["instruments"] = new_instruments
    doc["import"] = rules
    doc["redcap"] = redcap
    return doc


def _randomisation(b: _Build, arms: dict[str, str], sites: dict[str, str]) -> dict[str, Any] | None:
    arm = next((p for p in b.placements if p.target == "participants.arm"), None)
    if arm is None:
        return None
    groups = b.values.get("participants", {}).get("arm", {})
    strata: dict[str, Any] = {}
    site = next((p for p in b.placements if p.target == "participants.site"), None)
    wanted = list(b.base.randomisation.strata) if b.base is not None else ["site"]
    if "site" in wanted:
        if site is not None:
            strata["site"] = {"field": site.field, "codes": dict(b.values.get("participants", {}).get("site", {}))}
        else:
            strata["site"] = {"field": "redcap_data_access_group", "codes": {slug(s): s for s in sites}}
    for factor in wanted:
        hit = next((p for p in b.placements if p.target == f"participants.{factor}" and factor != "site"), None)
        if hit is not None:
            strata[factor] = {"field": hit.field, "codes": dict(b.values.get("participants", {}).get(factor, {}))}
    return {"field": arm.field, "groups": dict(groups), **({"strata": strata} if strata else {})}


def _skeleton(b: _Build, trial_id: str | None, sites: dict[str, str], arms: dict[str, str],
              timepoints: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    tid = trial_id or slug(Path(b.dictionary.file).stem.removesuffix("_DataDictionary"), "-")
    single = len(arms) < 2
    doc: dict[str, Any] = {
        "schema_version": 2,
        "trial": {
            "id": tid,
            "version": "0.1.0",
            "title": f"{tid} (from the REDCap data dictionary {b.dictionary.file})",
            "design": "single_arm" if single else "parallel",
        },  # fmt: skip
        "arms": [{"id": a, "label": lab} for a, lab in arms.items()],
        "sites": [{"id": s, "label": lab} for s, lab in sites.items()],
        "randomisation": {"method": "none"}
        if single
        else {
            "method": "stratified_blocks",
            "strata": ["site"],
            "block_sizes": [2 * len(arms), 4 * len(arms)],
        },  # fmt: skip
    }
    if not single:
        b.assumptions.append(f"randomisation: stratified by site in blocks of {2 * len(arms)} and {4 * len(arms)}; "
                             "set the trial's design")  # fmt: skip
    st = next((p for p in b.placements if p.target == "attendance.session_type"), None)
    if "attendance" in b.form_kinds.values():
        types = list(b.values.get("attendance", {}).get("session_type", {}).values()) or ["session"]
        doc["schedule"] = {
            "arm": next(iter(arms)),
            "sessions": [{"type": t, "count": 1, "hours": 1.0} for t in dict.fromkeys(types)],
        }
        b.assumptions.append("schedule: one 1-hour session of each type" + (f" ({st.field}'s choices)" if st else "")
                             + "; set the counts and hours")  # fmt: skip
    if timepoints:
        doc["timepoints"] = timepoints
    if b.baseline:
        doc["baseline"] = {"variables": b.baseline}
    return doc


def placements_table(placements: Iterable[Placement]) -> list[dict[str, str]]:
    """Rows for printing or ``--json``."""
    return [
        {"field": p.field, "form": p.form, "placed": p.placed, "target": p.target, "why": p.why} for p in placements
    ]


def to_yaml(value: Any) -> str:
    """Block style for the structure, flow style for the leaves (one line per field)."""
    import yaml

    return str(yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None))


def _indent(text: str, pad: str) -> list[str]:
    return [f"{pad}{line}\n" if line.strip() else "\n" for line in text.splitlines()]


def _block(lines: list[str], name: str) -> tuple[int, int] | None:
    """The lines of a top-level key's block: its header line and the line after its last child."""
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{name}:\s*(#.*)?$", line)), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end


def render(doc: dict[str, Any], base_text: str | None, dictionary_file: str) -> str:
    """The config's text: the skeleton alone, or the base config's text (comments kept) with the new
    instruments and import rules added to its blocks and the ``redcap`` section at the end."""
    header = (
        f"# REDCap project: made by `advance-trial config from-redcap {dictionary_file}`.\n"
        "# Fields it could not place are listed by the command; `import` ignores them until placed.\n"
    )
    if base_text is None:
        body = {k: v for k, v in doc.items() if v or k in ("import",)}
        return header + to_yaml(body)
    lines = base_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    old = _block(lines, "redcap")
    if old is not None:  # made again: the section and the comment above it go
        start = old[0]
        while start > 0 and (lines[start - 1].startswith("# REDCap project:") or lines[start - 1].startswith(
                "# Fields it could not place") or not lines[start - 1].strip()):  # fmt: skip
            start -= 1
        del lines[start : old[1]]
    for name in ("instruments", "import"):
        value = doc[name]
        if not value:
            continue
        found = _block(lines, name)
        if found is None:
            lines += ["\n", f"{name}:\n", *_indent(to_yaml(value), "  ")]
            continue
        start, end = found
        child = next((ln for ln in lines[start + 1 : end] if ln.strip() and not ln.lstrip().startswith("#")), "  ")
        pad = child[: len(child) - len(child.lstrip())] or "  "
        lines[end:end] = _indent(to_yaml(value), pad)
    return "".join(lines) + "\n" + header + to_yaml({"redcap": doc["redcap"]})


def from_redcap(dictionary: Dictionary, events: list[Event], base: Config | None = None,
                base_text: str | None = None, trial_id: str | None = None) -> Skeleton:  # fmt: skip
    """A config (text) from the data dictionary, and what became of each field.

    Import rules already in the base (from an earlier run) are not added twice.
    """
    doc, b = build(dictionary, events, base, trial_id)
    if base is not None:
        have = [r.model_dump(exclude_defaults=True) for r in base.import_]
        doc["import"] = [r for r in doc["import"] if r not in have]
    text = render(doc, base_text, dictionary.file)
    return Skeleton(text, tuple(b.placements), tuple(b.assumptions), tuple(b.scoring))


def config_from_redcap(dictionary: str | Path, events: list[Path] | None = None, base: str | Path | None = None,
                       trial_id: str | None = None) -> tuple[Skeleton, Config]:  # fmt: skip
    """Read the dictionary (and events, and the base config), build the config and validate it.

    Raises
    ------
    DataError
        The dictionary or an events file cannot be read (naming file, row and column).
    ConfigError
        The config made does not validate (its problems name the keys); nothing is written by the caller.
    """
    from advance_trial.config.loader import load_config, parse_config
    from advance_trial.redcap.dictionary import read_dictionary, read_events

    d = read_dictionary(dictionary)
    evs = read_events(list(events or []))
    base_cfg = load_config(base) if base is not None else None
    base_text = Path(base).read_text(encoding="utf-8") if base is not None else None
    skeleton = from_redcap(d, evs, base_cfg, base_text, trial_id)
    return skeleton, parse_config(skeleton.text, f"config from {d.file}")
