"""A small classic (non-longitudinal) REDCap project, written in REDCap's formats, for tests."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
          "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
          "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
          "Matrix Ranking?", "Field Annotation"]  # fmt: skip


def write_small_project(folder: Path) -> tuple[Path, Path]:
    """The dictionary and a raw export: two screened men (AF001 randomised, AF002 not), a one-box consent."""
    rows = [
        ["record_id", "screening", "", "text", "Record ID", "", "", "", "", "", "", ""],
        ["scr_date", "screening", "", "text", "Date screened", "", "", "date_ymd", "", "", "", ""],
        ["scr_eligible", "screening", "", "yesno", "Eligible?", "", "", "", "", "", "", ""],
        ["scr_consent", "screening", "", "checkbox", "Consent", "1, Consent given", "", "", "", "", "", ""],
        ["rand_date", "randomisation", "", "text", "Date of randomisation", "", "", "date_ymd", "", "", "", ""],
        ["rand_group", "randomisation", "", "radio", "Allocated group", "1, ADVANCE | 2, Treatment as usual", "", "",
         "", "", "", ""],
    ]  # fmt: skip
    dictionary = folder / "Small_DataDictionary.csv"
    with dictionary.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows([r + [""] * (len(HEADER) - len(r)) for r in rows])
    export = folder / "Small_export.csv"
    with export.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "scr_date", "scr_eligible", "scr_consent___1", "screening_complete", "rand_date",
                    "rand_group", "randomisation_complete"])  # fmt: skip
        w.writerow(["AF001", "2018-05-29", "1", "1", "2", "2018-06-04", "2", "2"])
        w.writerow(["AF002", "2018-05-30", "1", "0", "2", "", "", "0"])
    return dictionary, export
