"""The report in real renderers: LibreOffice lays out report.docx, headless Chromium report.html.

.ci/run installs both (Debian's libreoffice-writer-nogui, chromium and poppler-utils); on a machine
without them these tests are skipped, never passed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOFFICE = shutil.which("soffice")
CHROMIUM = shutil.which("chromium")
PDFTOTEXT = shutil.which("pdftotext")
A4 = (595.3, 841.9)  # points


@pytest.fixture
def report(sample_run) -> Path:
    return sample_run().out


def _page_sizes(pdf: Path) -> list[tuple[float, float]]:
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(pdf)], capture_output=True, text=True, check=True)
    return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", out.stdout)]


@pytest.mark.skipif(not (SOFFICE and PDFTOTEXT), reason="LibreOffice and poppler-utils are installed by .ci/run")
def test_word_report_is_a4_with_landscape_wide_tables_and_unsplit_words(report, tmp_path):
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(report / "report.docx")], check=True, capture_output=True,
                   timeout=300)  # fmt: skip
    pdf = tmp_path / "report.pdf"
    sizes = _page_sizes(pdf)
    assert sizes and all(abs(min(w, h) - A4[0]) < 1 and abs(max(w, h) - A4[1]) < 1 for w, h in sizes)
    assert any(w > h for w, h in sizes), "the wide tables sit on landscape pages"
    assert any(w < h for w, h in sizes)
    text = subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = set(text.split())
    # every word of every column heading is on the page whole (none wrapped inside a word)
    md = (report / "report.md").read_text()
    headers = [line for k, line in enumerate(md.splitlines()) if line.startswith("| ") and
               md.splitlines()[k + 1].startswith("| ---")]  # fmt: skip
    heading_words = {w.strip("()[],;") for h in headers for w in h.replace("|", " ").split() if len(w) >= 6}
    assert {"Standardised", "Characteristic", "Randomised"} <= heading_words
    missing = {w for w in heading_words if not any(w in x for x in words)}
    assert not missing, missing
    # and no word lies outside its page: every table fits between the page's edges (less 10 mm)
    boxes = subprocess.run([PDFTOTEXT, "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for page in re.finditer(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', boxes, flags=re.S):
        width = float(page.group(1))
        right = [float(x) for x in re.findall(r'xMax="([\d.]+)"', page.group(2))]
        assert all(x <= width - 28.3 for x in right), (width, max(right))


@pytest.mark.skipif(not CHROMIUM, reason="Chromium is installed by .ci/run")
def test_html_tables_fit_an_a4_page_measured_in_chromium(report, tmp_path):
    """In a page as wide as A4 landscape's text (273 mm) no table is wider than its box."""
    page = (report / "report.html").read_text()
    probe = ("<script>window.onload=function(){document.body.style.maxWidth='273mm';"
             "document.body.style.margin='0';var out=[];"
             "document.querySelectorAll('table').forEach(function(t,i){var b=document.body.clientWidth;"
             "out.push(i+':'+t.scrollWidth+':'+b);});"
             "var p=document.createElement('pre');p.id='probe';p.textContent=out.join(' ');"
             "document.body.appendChild(p);};</script>")  # fmt: skip
    probed = tmp_path / "probe.html"
    probed.write_text(page.replace("</body>", probe + "</body>"))
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
            f"--user-data-dir={tmp_path / 'profile'}",  # its own profile: browsers run side by side under xdist
            "--window-size=1200,900", "--dump-dom", probed.as_uri()]  # fmt: skip
    dom = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="probe">([^<]*)</pre>', dom)
    assert found, dom[-500:]
    widths = [tuple(map(int, x.split(":"))) for x in found.group(1).split()]
    assert len(widths) >= 10
    assert all(w <= body for _, w, body in widths), widths
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "inlined SVG ids are unique"
