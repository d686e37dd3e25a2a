# ruff: noqa: E501  (a table of cases, one per line)
"""Write the import test corpus: bad site files (one fault each) and their manifest.

Every bad file is an attendance, follow-up, measures, partners, participants or screening export
from the ADVANCE sample's London site (the conftest copies the sample's canonical files into a
fresh folder). The manifest gives, per file, the kind, the row and column the message must name,
and a phrase of the message. Run from the repository root: ``python tests/import_corpus/make_corpus.py``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad"
ATT = ["participant_id", "session_type", "session_number", "group_id", "session_on", "attended", "hours"]
OK = ["AF024", "group", "1", "london-c1", "2018-08-06", "no", "0"]  # as in the sample: a London man, advance arm
FU = ["participant_id", "timepoint", "due_on", "status", "completed_on"]
FU_OK = ["AF024", "week16", "2018-11-14", "missed", ""]


def rows(header: list[str], *body: list[str], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    w.writerows(body)
    return out.getvalue().encode()


def att(**changes: str) -> list[str]:
    return [changes.get(c, v) for c, v in zip(ATT, OK, strict=True)]


CASES: list[tuple[str, str, bytes, str, str, str]] = [
    # name, kind, content, row, column phrase, message phrase
    ("unknown-column.csv", "attendance", rows(ATT + ["Colour"], OK + ["red"]), "1", "Colour", "not a column of"),
    ("identifying-name.csv", "attendance", rows(ATT + ["Client Name"], OK + ["Bob"]), "1", "Client Name", "identifying"),
    ("identifying-nhs.csv", "attendance", rows(ATT + ["NHS number"], OK + ["4857773456"]), "1", "NHS number", "identifying"),
    ("identifying-dob.csv", "attendance", rows(ATT + ["DOB"], OK + ["01/02/1980"]), "1", "DOB", "identifying"),
    ("identifying-phone.csv", "attendance", rows(ATT + ["Mobile"], OK + ["07700900123"]), "1", "Mobile", "identifying"),
    ("missing-column.csv", "attendance", rows(ATT[:-2] + ["hours"], OK[:-2] + ["2"]), "1", "attended", "required column missing"),
    ("header-twice.csv", "attendance", rows(ATT + ["Attended"], OK + ["yes"]), "1", "Attended", "as column"),
    ("empty.csv", "attendance", b"", "", "", "empty"),
    ("blank-lines-only.csv", "attendance", b"\n\n  \n", "", "", "empty"),
    ("binary.csv", "attendance", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "", "", "binary"),
    ("text-named-xlsx.xlsx", "attendance", rows(ATT, OK), "", "", "not a readable Excel workbook"),
    ("corrupt.xlsx", "attendance", b"PK\x03\x04" + b"\x00garbage" * 20, "", "", "not a readable Excel workbook"),
    ("not-text.csv", "attendance", rows(ATT, OK) + b"\x81\x8d\x8f\x90\x9d", "", "", "neither UTF-8 nor Windows-1252"),
    ("too-many-cells.csv", "attendance", rows(ATT, OK + ["extra"]), "2", "", "more cells"),
    ("unclosed-quote.csv", "attendance", rows(ATT, OK) + b'AF005,"group,2\n', "", "", "not a valid CSV"),
    ("impossible-date.csv", "attendance", rows(ATT, att(session_on="31/02/2018")), "2", "session_on", "no such date"),
    ("two-digit-year.csv", "attendance", rows(ATT, att(session_on="06/08/18")), "2", "session_on", "two-digit year"),
    ("words-for-date.csv", "attendance", rows(ATT, att(session_on="next tuesday")), "2", "session_on", "must be a date"),
    ("bad-boolean.csv", "attendance", rows(ATT, att(attended="maybe")), "2", "attended", "yes or no"),
    ("fractional-session.csv", "attendance", rows(ATT, att(session_number="1.5")), "2", "session_number", "whole number"),
    ("text-session.csv", "attendance", rows(ATT, att(session_number="one")), "2", "session_number", "whole number"),
    ("session-beyond-schedule.csv", "attendance", rows(ATT, att(session_number="13")), "2", "session_number", "not in the schedule"),
    ("unknown-session-type.csv", "attendance", rows(ATT, att(session_type="workshop")), "2", "session_type", "must be one of"),
    ("negative-hours.csv", "attendance", rows(ATT, att(hours="-1")), "2", "hours", "at least 0"),
    ("hours-over-length.csv", "attendance", rows(ATT, att(hours="2.5")), "2", "hours", "session's length"),
    ("text-hours.csv", "attendance", rows(ATT, att(hours="two")), "2", "hours", "must be a number"),
    ("unknown-participant.csv", "attendance", rows(ATT, att(participant_id="AF999")), "2", "participant_id", "not in participants.csv"),
    ("other-site-participant.csv", "attendance", rows(ATT, att(participant_id="AF001")), "2", "participant_id", "a participant of site"),
    ("control-arm-participant.csv", "attendance", rows(ATT, att(participant_id="AF010")), "2", "participant_id", "not offered sessions"),
    ("duplicate-key.csv", "attendance", rows(ATT, OK, att(hours="1")), "3", "participant_id/session_type/session_number", "duplicate key"),
    ("conflicting-value.csv", "attendance", rows(ATT, att(attended="yes", hours="2")), "2", "attended", "differs from the canonical data"),
    ("empty-required.csv", "attendance", rows(ATT, att(participant_id="")), "2", "participant_id", "must have a value"),
    ("bad-status.csv", "followup", rows(FU, FU_OK[:3] + ["gone", ""]), "2", "status", "must be one of"),
    ("bad-timepoint.csv", "followup", rows(FU, ["AF024", "week99"] + FU_OK[2:]), "2", "timepoint", "must be one of"),
    ("item-out-of-range.csv", "measures", rows(["participant_id", "timepoint", "abi_01"], ["AF024", "baseline", "7"]), "2", "abi_01", "item range"),
    ("item-fraction.csv", "measures", rows(["participant_id", "timepoint", "abi_01"], ["AF024", "baseline", "2.5"]), "2", "abi_01", "whole number"),
    ("item-unknown.csv", "measures", rows(["participant_id", "timepoint", "abi_31"], ["AF024", "baseline", "2"]), "1", "abi_31", "not a column of"),
    ("partner-unknown-man.csv", "partners", rows(["partner_id", "participant_id", "consented", "followup_status"], ["P900", "AF999", "yes", ""]), "2", "participant_id", "not in participants.csv"),
    ("participant-wrong-site.csv", "participants", rows(["participant_id", "site", "cycle", "randomised_on", "arm"], ["AF900", "bristol", "1", "2018-06-01", "tau"]), "2", "site", "imported for site"),
    ("participant-bad-id.csv", "participants", rows(["participant_id", "site", "cycle", "randomised_on", "arm"], ["AF 900", "london", "1", "2018-06-01", "tau"]), "2", "participant_id", "must match"),
    ("participant-unknown-arm.csv", "participants", rows(["participant_id", "site", "cycle", "randomised_on", "arm"], ["AF900", "london", "1", "2018-06-01", "placebo"]), "2", "arm", "must be one of"),
    ("screening-bad-boolean.csv", "screening", rows(["screen_id", "site", "cycle", "screened_on", "eligible", "consented", "participant_id"], ["S900", "london", "1", "2018-06-01", "perhaps", "", ""]), "2", "eligible", "yes or no"),
    ("screening-inconsistent.csv", "screening", rows(["screen_id", "site", "cycle", "screened_on", "eligible", "consented", "participant_id"], ["S900", "london", "1", "2018-06-01", "no", "no", "AF024"]), "", "participant_id", "after this import"),
]  # fmt: skip


def main() -> None:
    BAD.mkdir(parents=True, exist_ok=True)
    manifest = io.StringIO()
    w = csv.writer(manifest, lineterminator="\n")
    w.writerow(["file", "kind", "row", "column", "message"])
    for name, kind, content, row, column, message in CASES:
        (BAD / name).write_bytes(content)
        w.writerow([name, kind, row, column, message])
    (BAD / "manifest.csv").write_text(manifest.getvalue())
    print(f"wrote {len(CASES)} bad files to {BAD}")


if __name__ == "__main__":
    main()
