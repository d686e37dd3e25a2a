"""The report's three files: HTML, Markdown and Word, each from the one report model (``render.report``).

Apart from the model so that the renderers (``htmlpage``, ``wordfile``) may read the model without the model
reaching back to them.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Executor, Future
from pathlib import Path

from advance_trial.data.tablefile import write_bytes_atomic
from advance_trial.output.render.htmlpage import to_html
from advance_trial.output.render.report import Report, to_markdown
from advance_trial.output.render.wordfile import to_docx


def write_report(report: Report, out_dir: str | Path, stem: str = "report",
                 workers: Executor | None = None) -> dict[str, str]:  # fmt: skip
    """Write ``report.html``, ``report.md`` and ``report.docx``; returns file name -> SHA-256.

    With ``workers`` (a run's, idle once its figures are drawn), the Word file is made by one of them while
    this process makes the other two (the same bytes: a worker that fails leaves it to this process).
    """
    word = workers.submit(to_docx, report) if workers is not None else None
    html, markdown = to_html(report).encode("utf-8"), to_markdown(report).encode("utf-8")
    written = {}
    for ext, data in (("html", html), ("md", markdown), ("docx", _word(report, word))):
        write_bytes_atomic(data, Path(out_dir) / f"{stem}.{ext}")
        written[f"{stem}.{ext}"] = hashlib.sha256(data).hexdigest()
    return written


def _word(report: Report, made: Future[bytes] | None) -> bytes:
    if made is not None:
        try:
            return made.result()
        except Exception:  # made here instead: the same bytes, or the error where a run expects it
            pass
    return to_docx(report)
