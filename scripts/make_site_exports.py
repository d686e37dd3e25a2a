"""Write Excel attendance exports as each ADVANCE sample site would send them (synthetic).

Each site has its own headers and ways of writing values; the config's ``import`` rules map them
back. Importing the three workbooks into a folder holding the sample's screening and participants
gives the sample's attendance rows exactly (a test checks it).

Run: ``python scripts/make_site_exports.py`` (writes data/sample/advance-feasibility/site-exports/).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from openpyxl import Workbook

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "advance-feasibility"
OUT = SAMPLE / "site-exports"
FIXED = dt.datetime(2021, 6, 1)


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _hours(text: str) -> float | str:
    return float(text) if text else ""


SITES = {
    "london": (
        ["Participant ID", "Session type", "Session no.", "Group", "Date", "Attended", "Hours"],
        lambda r: [r.participant_id, r.session_type.capitalize(), int(r.session_number), r.group_id,
                   _date(r.session_on), "Yes" if r.attended == "true" else "No", _hours(r.hours)],
    ),
    "wolverhampton": (
        ["Client ID", "Type", "Session", "Group ID", "Session date", "Present", "Duration (hrs)", "Facilitator"],
        lambda r: [r.participant_id, "1:1" if r.session_type == "individual" else "Group", int(r.session_number),
                   r.group_id, dt.date.fromisoformat(r.session_on).strftime("%d/%m/%Y") if r.session_on else "",
                   "Attended" if r.attended == "true" else "DNA", _hours(r.hours), "JS"],
    ),
    "bristol": (
        ["ID", "Session Type", "Session Number", "Group Code", "Date of session", "Did attend?", "Hrs", "Notes"],
        lambda r: [r.participant_id, r.session_type, int(r.session_number), r.group_id, _date(r.session_on),
                   "Y" if r.attended == "true" else "N", _hours(r.hours), ""],
    ),
}  # fmt: skip


def main() -> None:
    att = pd.read_csv(SAMPLE / "attendance.csv", dtype=str, keep_default_na=False)
    men = pd.read_csv(SAMPLE / "participants.csv", dtype=str)
    OUT.mkdir(exist_ok=True)
    for site, (header, row) in SITES.items():
        ids = set(men.loc[men["site"] == site, "participant_id"])
        wb = Workbook()
        ws = wb.active
        ws.title = "Attendance"
        ws.append(header)
        for r in att[att["participant_id"].isin(ids)].itertuples():
            ws.append(row(r))
        for cell in ws["E" if site != "wolverhampton" else "Z"][1:]:
            cell.number_format = "DD/MM/YYYY"
        wb.properties.created = wb.properties.modified = FIXED
        wb.save(OUT / f"{site}-attendance.xlsx")
        print(f"wrote {OUT / f'{site}-attendance.xlsx'}")


if __name__ == "__main__":
    main()
