"""Screenshots of the sample report for docs/reports.md, made with the renderers the tests use.

    python scripts/screenshots.py

Runs the ADVANCE sample, turns report.docx into a PDF with LibreOffice and prints report.html to PDF
with headless Chromium, then writes the pages that hold the named text as PNG (poppler's pdftoppm)
into docs/screenshots/. Needs soffice, chromium, pdftotext and pdftoppm (Debian's
libreoffice-writer-nogui, chromium and poppler-utils).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
#: name -> (format, text on the page wanted)
PAGES = {
    "docx-baseline": ("docx", "Table 4. Baseline characteristics by arm"),
    "docx-flow": ("docx", "Figure 1. Participant flow"),
    "html-baseline": ("html", "Table 4. Baseline characteristics by arm"),
    "html-harms": ("html", "Adverse events and partner safety incidents"),
}


def _page_of(pdf: Path, text: str) -> int:
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    for number, page in enumerate(pages.stdout.split("\f"), 1):
        if text in " ".join(page.split()):
            return number
    raise SystemExit(f"{pdf.name}: no page holds {text!r}")


def main() -> None:
    from advance_trial.pipeline import run

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = work / "out"
        run(ROOT / "configs" / "advance-feasibility.yaml", ROOT / "data" / "sample" / "advance-feasibility", out)
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{work}/lo", "--convert-to", "pdf",
                        "--outdir", str(work), str(out / "report.docx")], check=True, capture_output=True)  # fmt: skip
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                        f"--print-to-pdf={work / 'html.pdf'}", (out / "report.html").as_uri()], check=True,
                       capture_output=True)  # fmt: skip
        pdfs = {"docx": work / "report.pdf", "html": work / "html.pdf"}
        SHOTS.mkdir(parents=True, exist_ok=True)
        for name, (fmt, text) in PAGES.items():
            page = _page_of(pdfs[fmt], text)
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile",
                            str(pdfs[fmt]), str(SHOTS / name)], check=True)  # fmt: skip
            print(f"{name}.png: page {page} of the {fmt} report")


if __name__ == "__main__":
    main()
