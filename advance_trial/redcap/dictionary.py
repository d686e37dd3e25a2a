"""Reading a REDCap data dictionary and its events, as REDCap writes them.

The data dictionary is the CSV of Project Setup > Data Dictionary (or the API's metadata export);
its columns are REDCap's own (``Variable / Field Name``, ``Form Name``, ``Field Type``,
``Field Label``, ``Choices, Calculations, OR Slider Labels``, ``Text Validation Type OR Show
Slider Number``, ``Text Validation Min``, ``Text Validation Max``, ``Identifier?`` ...). The events
file is the CSV of Define My Events (``event_name, arm_num, day_offset, ..., unique_event_name``)
or the instrument designations (``arm_num, unique_event_name, form``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from advance_trial.errors import DataError, DataProblem
from advance_trial.importing.mapping import fold
from advance_trial.importing.readers import RawTable, read_site_file

#: The dictionary's columns: the download's header, the API metadata's name.
COLUMNS = {
    "name": ("Variable / Field Name", "field_name"),
    "form": ("Form Name", "form_name"),
    "type": ("Field Type", "field_type"),
    "label": ("Field Label", "field_label"),
    "choices": ("Choices, Calculations, OR Slider Labels", "select_choices_or_calculations"),
    "validation": ("Text Validation Type OR Show Slider Number", "text_validation_type_or_show_slider_number"),
    "min": ("Text Validation Min", "text_validation_min"),
    "max": ("Text Validation Max", "text_validation_max"),
    "identifier": ("Identifier?", "identifier"),
    "section": ("Section Header", "section_header"),
    "annotation": ("Field Annotation", "field_annotation"),
}
#: Field types whose values are one of their choices' codes.
CHOICE_TYPES = ("radio", "dropdown", "checkbox", "yesno", "truefalse")
IMPLIED_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}
#: Field types that hold no data in an export.
NO_DATA = ("descriptive",)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class DictionaryField:
    """One row of the data dictionary."""

    name: str
    form: str
    type: str
    label: str
    choices: dict[str, str]
    validation: str
    min: str
    max: str
    identifier: bool
    row: int
    section: str = ""  # the Section Header above the field (plain text)
    annotation: str = ""  # the Field Annotation (action tags, notes)
    calculation: str = ""  # a calc field's calculation (the choices column holds it)

    @property
    def integer_codes(self) -> list[int] | None:
        """The choices' codes as whole numbers, when every one is."""
        try:
            return [int(c) for c in self.choices]
        except ValueError:
            return None


@dataclass(frozen=True)
class Dictionary:
    """A data dictionary: its fields in order, the file's name and SHA-256."""

    file: str
    sha256: str
    fields: tuple[DictionaryField, ...]

    @property
    def record_id(self) -> DictionaryField:
        """The record id: REDCap's first field."""
        return self.fields[0]

    @property
    def forms(self) -> list[str]:
        """Form names in order."""
        return list(dict.fromkeys(f.form for f in self.fields))


@dataclass(frozen=True)
class Event:
    """One longitudinal event (and the forms designated to it, when the file says)."""

    unique_name: str
    label: str
    arm: str
    day_offset: float | None
    forms: tuple[str, ...]


def plain_label(text: str) -> str:
    """A field label without HTML tags and with inner spaces collapsed."""
    return " ".join(_TAG.sub("", text).split())


def parse_choices(text: str, file: str, row: int, name: str) -> dict[str, str]:
    """``1, Never | 2, Sometimes`` as ``{"1": "Never", "2": "Sometimes"}``."""
    choices: dict[str, str] = {}
    for part in text.split("|"):
        if not part.strip():
            continue
        code, sep, label = part.partition(",")
        if not sep or not code.strip():
            raise DataError([DataProblem(file, row, COLUMNS["choices"][0], part.strip(),
                                         f"field {name!r}: a choice is written 'code, label'")])  # fmt: skip
        choices[code.strip()] = plain_label(label)
    return choices


def _column(raw: RawTable, key: str, required: bool = True) -> int | None:
    names = {fold(h): i for i, h in enumerate(raw.header)}
    for option in COLUMNS[key]:
        if fold(option) in names:
            return names[fold(option)]
    if required:
        raise DataError([DataProblem(raw.file, 1, COLUMNS[key][0], None,
                                     "not a REDCap data dictionary: this column is missing")])  # fmt: skip
    return None


def _is_dictionary(header: list[str]) -> bool:
    folded = {fold(h) for h in header}
    return any(fold(n) in folded for n in COLUMNS["name"]) and any(fold(n) in folded for n in COLUMNS["form"])


def read_dictionary(path: str | Path) -> Dictionary:
    """The data dictionary at ``path`` (CSV as REDCap downloads it).

    Raises
    ------
    DataError
        Not a data dictionary, a field without a name or form, a choice not written ``code, label``,
        a field named twice; every problem names the row.
    """
    raw, data = read_site_file(path, None, _is_dictionary)
    at = {k: _column(raw, k, k in ("name", "form", "type")) for k in COLUMNS}

    def cell(i: int, key: str) -> str:
        pos = at[key]
        return "" if pos is None else str(raw.cells.iat[i, pos]).strip()

    fields: list[DictionaryField] = []
    problems: list[DataProblem] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(raw.rows.tolist()):
        name, form, kind = cell(i, "name"), cell(i, "form"), cell(i, "type").lower()
        if not name or not form:
            problems.append(DataProblem(raw.file, row, COLUMNS["name" if not name else "form"][0], None,
                                        "every field needs a variable name and a form name"))  # fmt: skip
            continue
        if name in seen:
            problems.append(DataProblem(raw.file, row, COLUMNS["name"][0], name, f"named again (row {seen[name]})"))
            continue
        seen[name] = row
        try:
            choices = IMPLIED_CHOICES.get(kind) or (
                parse_choices(cell(i, "choices"), raw.file, row, name) if kind in CHOICE_TYPES else {}
            )
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        fields.append(DictionaryField(name, form, kind, plain_label(cell(i, "label")), choices,
                                      cell(i, "validation").lower(), cell(i, "min"), cell(i, "max"),
                                      cell(i, "identifier").lower() in ("y", "yes", "1"), row,
                                      plain_label(cell(i, "section")), cell(i, "annotation"),
                                      cell(i, "choices") if kind == "calc" else ""))  # fmt: skip
    if problems:
        raise DataError(problems)
    if not fields:
        raise DataError([DataProblem(raw.file, None, None, None, "the data dictionary has no fields")])
    return Dictionary(raw.file, hashlib.sha256(data).hexdigest(), tuple(fields))


def read_events(paths: list[Path]) -> list[Event]:
    """Events from Define My Events' CSV and forms from the instrument designations (either or both)."""
    events: dict[str, dict[str, object]] = {}
    designations: dict[str, list[str]] = {}
    for path in paths:
        raw, _ = read_site_file(path, None, lambda h: "unique_event_name" in {fold(x) for x in h})
        names = {fold(h): i for i, h in enumerate(raw.header)}
        if "unique_event_name" not in names:
            raise DataError([DataProblem(raw.file, 1, "unique_event_name", None,
                                         "not a REDCap events or instrument designation file")])  # fmt: skip

        def get(i: int, col: str, names: dict[str, int] = names, raw: RawTable = raw) -> str:
            return str(raw.cells.iat[i, names[col]]).strip() if col in names else ""

        for i, row in enumerate(raw.rows.tolist()):
            unique = get(i, "unique_event_name")
            if not unique:
                raise DataError([DataProblem(raw.file, row, "unique_event_name", None, "empty")])
            if "form" in names:
                designations.setdefault(unique, []).append(get(i, "form"))
                events.setdefault(unique, {"label": "", "arm": get(i, "arm_num"), "day": None})
                continue
            offset = get(i, "day_offset") or get(i, "days_offset")
            try:
                day = float(offset) if offset else None
            except ValueError:
                raise DataError([DataProblem(raw.file, row, "day_offset", offset, "must be a number")]) from None
            label = get(i, "event_name") or get(i, "custom_event_label")
            events[unique] = {"label": label, "arm": get(i, "arm_num"), "day": day}
    return [Event(u, str(e["label"]), str(e["arm"]), e["day"] if isinstance(e["day"], float) else None,
                  tuple(designations.get(u, ()))) for u, e in events.items()]  # fmt: skip
