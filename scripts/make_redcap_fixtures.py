"""Write the REDCap fixtures in tests/fixtures/redcap/ from the ADVANCE sample data.

A REDCap project for the ADVANCE feasibility trial, written in REDCap's documented formats: the
data dictionary (Project Setup > Data Dictionary, its 18 columns), Define My Events' CSV, the
instrument designations, and record exports (flat CSV, raw and labels; a row per record and event,
repeating instruments by instance, checkboxes as ``field___code``, ``<form>_complete`` after each
form, ``redcap_data_access_group``). The record is the screened man (``record_id`` = screen id); his
participant id is a field of the randomisation form.

Run: ``python scripts/make_redcap_fixtures.py`` (the files are committed; tests read them).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data/sample/advance-feasibility"
OUT = ROOT / "tests/fixtures/redcap"
HEADER = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
          "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
          "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
          "Matrix Ranking?", "Field Annotation"]  # fmt: skip
ABI = {"1": "Never", "2": "Rarely", "3": "Occasionally", "4": "Frequently", "5": "Very frequently"}
SITES = {"1": "London", "2": "Wolverhampton", "3": "Bristol"}
EVENTS = [("Screening", "screening_arm_1", -7), ("Baseline", "baseline_arm_1", 0), ("Week 16", "week_16_arm_1", 112)]


def _cfg() -> dict:
    return yaml.safe_load((ROOT / "configs/advance-feasibility.yaml").read_text())


def _levels(cfg: dict, var: str) -> dict[str, str]:
    v = next(x for x in cfg["baseline"]["variables"] if x["id"] == var)
    return {str(i): v["level_labels"][lvl] for i, lvl in enumerate(v["levels"], 1)}


def fields(cfg: dict) -> list[dict[str, object]]:
    """The dictionary's rows: (name, form, type, label, choices, validation, min, max, identifier)."""
    reasons = cfg["reasons"]
    cats = {str(i): c["label"] for i, c in enumerate(cfg["events"]["categories"], 1)}

    def f(name: str, form: str, kind: str, label: str, choices: dict[str, str] | None = None, validation: str = "",
          lo: str = "", hi: str = "", identifier: bool = False) -> dict[str, object]:  # fmt: skip
        return {"name": name, "form": form, "type": kind, "label": label, "choices": choices or {},
                "validation": validation, "min": lo, "max": hi, "identifier": identifier}  # fmt: skip

    rows = [
        f("record_id", "screening", "text", "Record ID"),
        f("scr_date", "screening", "text", "Date screened", validation="date_ymd"),
        f("scr_cycle", "screening", "dropdown", "Recruitment cycle", {"1": "Cycle 1", "2": "Cycle 2", "3": "Cycle 3"}),
        f("first_name", "screening", "text", "First name", identifier=True),
        f("phone", "screening", "text", "Telephone", validation="phone", identifier=True),
        f("scr_eligible", "screening", "yesno", "Eligible?"),
        f("scr_reason", "screening", "checkbox", "Reason not eligible",
          {str(i): r for i, r in enumerate(reasons["ineligible"], 1)}),
        f("scr_consent", "screening", "yesno", "Consented?"),
        f("scr_notes", "screening", "notes", "Notes"),
        f("rand_info", "randomisation", "descriptive", "<b>Randomise in the allocation service first</b>"),
        f("participant_id", "randomisation", "text", "Participant ID"),
        f("rand_date", "randomisation", "text", "Date of randomisation", validation="date_ymd"),
        f("site", "randomisation", "dropdown", "Site", SITES),
        f("rand_cycle", "randomisation", "dropdown", "Recruitment cycle", {"1": "1", "2": "2", "3": "3"}),
        f("rand_group", "randomisation", "radio", "Allocated group", {"1": "ADVANCE", "2": "Treatment as usual"}),
        f("reason_not_received", "randomisation", "dropdown", "Reason ADVANCE not received",
          {str(i): r for i, r in enumerate(reasons["not_received"], 1)}),
        f("reason_discontinued", "randomisation", "dropdown", "Reason ADVANCE discontinued",
          {str(i): r for i, r in enumerate(reasons["discontinued"], 1)}),
        f("age", "demographics", "text", "Age (years)", validation="integer", lo="18", hi="99"),
        f("ethnicity", "demographics", "dropdown", "Ethnicity", _levels(cfg, "ethnicity")),
        f("employment", "demographics", "dropdown", "Employment", _levels(cfg, "employment")),
        f("housing", "demographics", "dropdown", "Housing", _levels(cfg, "housing")),
        f("main_substance", "demographics", "dropdown", "Main substance", _levels(cfg, "main_substance")),
        f("audit", "demographics", "text", "AUDIT score", validation="integer", lo="0", hi="40"),
        f("ses_type", "session_log", "dropdown", "Session type", {"1": "Individual session", "2": "Group"}),
        f("ses_number", "session_log", "text", "Session number", validation="integer", lo="1", hi="14"),
        f("ses_group", "session_log", "text", "Group ID"),
        f("ses_date", "session_log", "text", "Date of session", validation="date_ymd"),
        f("ses_attended", "session_log", "yesno", "Attended?"),
        f("ses_hours", "session_log", "text", "Hours attended", validation="number", lo="0", hi="2"),
        f("fu_due", "follow_up", "text", "Date due", validation="date_ymd"),
        f("fu_status", "follow_up", "dropdown", "Follow-up status",
          {"1": "Completed", "2": "Missed", "3": "Withdrawn", "4": "Lost to follow-up", "5": "Died"}),
        f("fu_date", "follow_up", "text", "Date completed", validation="date_ymd"),
        *[f(f"abi_{i:02d}", "abi", "radio", f"ABI item {i}", ABI) for i in range(1, 31)],
        f("substance_01", "substance_use", "text", "Days of alcohol or drug use, past 28 days",
          validation="integer", lo="0", hi="28"),
        f("partner_id", "partner", "text", "Partner ID"),
        f("partner_name", "partner", "text", "Partner's name", identifier=True),
        f("partner_consent", "partner", "yesno", "Partner consented?"),
        f("partner_fu_status", "partner", "dropdown", "Partner follow-up status",
          {"1": "Completed", "2": "Missed", "3": "Withdrawn", "4": "Lost to follow-up", "5": "Died"}),
        *[f(f"abi_r_{i:02d}", "partner", "radio", f"ABI-R item {i}", ABI) for i in range(1, 31)],
        f("ae_id", "adverse_event", "text", "Event ID"),
        f("ae_partner_id", "adverse_event", "text", "Partner ID (about a partner)"),
        f("ae_date", "adverse_event", "text", "Date of event", validation="date_ymd"),
        f("ae_category", "adverse_event", "dropdown", "Category", cats),
        f("ae_serious", "adverse_event", "yesno", "Serious?"),
        f("ae_related", "adverse_event", "yesno", "Related to the intervention?"),
    ]
    return rows


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def dictionary_csv(fs: list[dict[str, object]]) -> str:
    rows = [HEADER]
    for f in fs:
        choices = " | ".join(f"{c}, {lab}" for c, lab in f["choices"].items()) if f["type"] not in ("yesno",) else ""
        rows.append([f["name"], f["form"], "", f["type"], f["label"], choices, "", f["validation"], f["min"], f["max"],
                     "y" if f["identifier"] else "", "", "", "", "", "", "", ""])  # fmt: skip
    return _csv(rows)


DESIGNATIONS = {"screening_arm_1": ["screening"],
                "baseline_arm_1": ["randomisation", "demographics", "session_log", "follow_up", "abi", "substance_use",
                                   "partner", "adverse_event"],
                "week_16_arm_1": ["follow_up", "abi", "substance_use"]}  # fmt: skip
REPEATING = ("session_log", "partner", "adverse_event")


def _code(choices: dict[str, str], text: str, labels: dict[str, str] | None = None) -> str:
    """The raw code whose label means the canonical value ``text``."""
    if not text:
        return ""
    if labels:
        text = labels.get(text, text)
    for code, lab in choices.items():
        if lab.casefold() == text.casefold() or code == text:
            return code
    raise ValueError(text)


def export(fs: list[dict[str, object]], cfg: dict, label: bool, sites: set[str] | None = None) -> str:
    """The record export (raw, or labels) of the sample's men."""
    d = {n: pd.read_csv(SAMPLE / f"{n}.csv", dtype=str, keep_default_na=False)
         for n in ("screening", "participants", "attendance", "followup", "measures", "partners", "events")}
    byname = {f["name"]: f for f in fs}
    forms = list(dict.fromkeys(f["form"] for f in fs))
    columns: list[str] = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                          "redcap_data_access_group"]  # fmt: skip
    for form in forms:
        for f in fs:
            if f["form"] != form or f["name"] == "record_id" or f["type"] == "descriptive":
                continue
            if f["type"] == "checkbox":
                columns += [f"{f['name']}___{c}" for c in f["choices"]]
            else:
                columns.append(f["name"])
        columns.append(f"{form}_complete")
    site_code = {lab.lower(): c for c, lab in SITES.items()}
    bl = {v["id"]: {lvl: v["level_labels"][lvl] for lvl in v["levels"]} for v in cfg["baseline"]["variables"]
          if v.get("levels")}  # fmt: skip
    cats = {c["id"]: c["label"] for c in cfg["events"]["categories"]}
    status = {"completed": "Completed", "missed": "Missed", "withdrawn": "Withdrawn", "lost": "Lost to follow-up",
              "died": "Died"}  # fmt: skip
    arms = {"advance": "ADVANCE", "tau": "Treatment as usual"}
    yes = {"true": "1", "false": "0", "": ""}
    out: list[dict[str, str]] = []
    part = d["participants"].set_index("participant_id")
    screen_of = {r.participant_id: r.screen_id for r in d["screening"].itertuples() if r.participant_id}

    def row(record: str, event: str, site: str, instrument: str = "", instance: str = "") -> dict[str, str]:
        r = dict.fromkeys(columns, "")
        r.update(record_id=record, redcap_event_name=event, redcap_repeat_instrument=instrument,
                 redcap_repeat_instance=instance, redcap_data_access_group=site)  # fmt: skip
        return r

    for s in d["screening"].itertuples():
        if sites and s.site not in sites:
            continue
        r = row(s.screen_id, "screening_arm_1", s.site)
        r.update(scr_date=s.screened_on, scr_cycle=s.cycle, scr_eligible=yes[s.eligible], scr_consent=yes[s.consented],
                 first_name="Testname", phone="07700900123", screening_complete="2")  # fmt: skip
        for c, lab in byname["scr_reason"]["choices"].items():
            r[f"scr_reason___{c}"] = "1" if s.reason_ineligible == lab else "0"
        out.append(r)
        pid = s.participant_id
        if not pid:
            continue
        p = part.loc[pid]
        r = row(s.screen_id, "baseline_arm_1", s.site)
        r.update(participant_id=pid, rand_date=p.randomised_on, site=site_code[p.site], rand_cycle=p.cycle,
                 rand_group=_code(byname["rand_group"]["choices"], p.arm, arms),
                 reason_not_received=_code(byname["reason_not_received"]["choices"], p.reason_not_received),
                 reason_discontinued=_code(byname["reason_discontinued"]["choices"], p.reason_discontinued),
                 randomisation_complete="2", age=p.age, audit=p.audit, demographics_complete="2")  # fmt: skip
        for v in ("ethnicity", "employment", "housing", "main_substance"):
            r[v] = _code(byname[v]["choices"], getattr(p, v), bl[v])
        for ev, tp in (("baseline_arm_1", "baseline"), ("week_16_arm_1", "week16")):
            if ev != "baseline_arm_1":
                r = row(s.screen_id, ev, s.site)
            fu = d["followup"][(d["followup"].participant_id == pid) & (d["followup"].timepoint == tp)]
            for f in fu.itertuples():
                r.update(fu_due=f.due_on, fu_status=_code(byname["fu_status"]["choices"], f.status, status),
                         fu_date=f.completed_on, follow_up_complete="2")  # fmt: skip
            m = d["measures"][(d["measures"].participant_id == pid) & (d["measures"].timepoint == tp)]
            for x in m.itertuples():
                for i in range(1, 31):
                    r[f"abi_{i:02d}"] = getattr(x, f"abi_{i:02d}")
                r["substance_01"] = x.substance_01
                r["abi_complete"] = r["substance_use_complete"] = "2"
            out.append(r)
        for n, a in enumerate(d["attendance"][d["attendance"].participant_id == pid].itertuples(), 1):
            r = row(s.screen_id, "baseline_arm_1", s.site, "session_log", str(n))
            r.update(ses_type="1" if a.session_type == "individual" else "2", ses_number=a.session_number,
                     ses_group=a.group_id, ses_date=a.session_on, ses_attended=yes[a.attended], ses_hours=a.hours,
                     session_log_complete="2")  # fmt: skip
            out.append(r)
        for n, q in enumerate(d["partners"][d["partners"].participant_id == pid].itertuples(), 1):
            r = row(s.screen_id, "baseline_arm_1", s.site, "partner", str(n))
            r.update(partner_id=q.partner_id, partner_name="Testpartner", partner_consent=yes[q.consented],
                     partner_fu_status=_code(byname["partner_fu_status"]["choices"], q.followup_status, status),
                     partner_complete="2")  # fmt: skip
            for i in range(1, 31):
                r[f"abi_r_{i:02d}"] = getattr(q, f"abi_r_{i:02d}")
            out.append(r)
        partner_ids = set(d["partners"][d["partners"].participant_id == pid].partner_id)
        mine = d["events"][(d["events"].participant_id == pid) | d["events"].partner_id.isin(partner_ids)]
        for n, e in enumerate(mine.itertuples(), 1):
            r = row(s.screen_id, "baseline_arm_1", s.site, "adverse_event", str(n))
            r.update(ae_id=e.event_id, ae_partner_id=e.partner_id, ae_date=e.event_on,
                     ae_category=_code(byname["ae_category"]["choices"], e.category, cats),
                     ae_serious=yes[e.serious], ae_related=yes[e.related], adverse_event_complete="2")  # fmt: skip
            out.append(r)
    del screen_of
    frame = pd.DataFrame(out, columns=columns)
    if not label:
        return frame.to_csv(index=False, lineterminator="\n")
    return _labels(frame, fs)


def _labels(frame: pd.DataFrame, fs: list[dict[str, object]]) -> str:
    """A label export: field labels as headers, choice labels as values."""
    byname = {f["name"]: f for f in fs}
    events = {u: lab for lab, u, _ in EVENTS}
    system = {"redcap_event_name": "Event Name", "redcap_repeat_instrument": "Repeat Instrument",
              "redcap_repeat_instance": "Repeat Instance", "redcap_data_access_group": "Data Access Group"}  # fmt: skip
    header, out = [], pd.DataFrame(index=frame.index)
    for j, c in enumerate(frame.columns):
        s = frame[c]
        if c in system:
            h = system[c]
            if c == "redcap_event_name":
                s = s.map(lambda u: f"{events[u]} (Arm 1: Arm 1)")
            elif c == "redcap_repeat_instrument":
                s = s.map(lambda v: v.replace("_", " ").title() if v else "")
            elif c == "redcap_data_access_group":
                s = s.map(lambda v: v.title())
        elif c.endswith("_complete"):
            h, s = "Complete?", s.map({"2": "Complete", "0": "Incomplete", "": ""})
        elif "___" in c:
            name, code = c.split("___")
            h = f"{byname[name]['label']} (choice={byname[name]['choices'][code]})"
            s = s.map({"1": "Checked", "0": "Unchecked", "": ""})
        else:
            f = byname[c]
            h = f["label"]
            choices = {"1": "Yes", "0": "No"} if f["type"] == "yesno" else f["choices"]
            if choices:
                s = s.map(lambda v, ch=choices: ch.get(v, v))
        header.append(h)
        out[j] = s
    return _csv([header, *out.astype(str).values.tolist()])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cfg = _cfg()
    fs = fields(cfg)
    (OUT / "ADVANCE_DataDictionary.csv").write_text(dictionary_csv(fs), encoding="utf-8")
    (OUT / "ADVANCE_events.csv").write_text(_csv(
        [["event_name", "arm_num", "day_offset", "offset_min", "offset_max", "unique_event_name", "custom_event_label"]]
        + [[lab, "1", str(day), "0", "0", u, ""] for lab, u, day in EVENTS]), encoding="utf-8")  # fmt: skip
    (OUT / "ADVANCE_InstrumentDesignations.csv").write_text(_csv(
        [["arm_num", "unique_event_name", "form"]]
        + [["1", u, f] for u, forms in DESIGNATIONS.items() for f in forms]), encoding="utf-8")  # fmt: skip
    (OUT / "ADVANCE_export_raw.csv").write_text(export(fs, cfg, label=False), encoding="utf-8")
    (OUT / "ADVANCE_export_labels_bristol.csv").write_text(export(fs, cfg, label=True, sites={"bristol"}),
                                                           encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()
