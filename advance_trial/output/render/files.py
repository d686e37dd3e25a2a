"""The report's three files: HTML, Markdown and Word, each from the one report model (``render.report``).

Apart from the model so that the renderers (``htmlpage``, ``wordfile``) may read the model without the model
reaching back to them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from advance_trial.data.tablefile import write_bytes_atomic
from advance_trial.output.render.htmlpage import to_html
from advance_trial.output.render.report import Report, to_markdown
from advance_trial.output.render.wordfile import to_docx


def write_report(report: Report, out_dir: str | Path, stem: str = "report") -> dict[str, str]:
    """Write ``report.html``, ``report.md`` and ``report.docx``; returns file name -> SHA-256."""
    written = {}
    for ext, data in (("html", to_html(report).encode("utf-8")), ("md", to_markdown(report).encode("utf-8")),
                      ("docx", to_docx(report))):  # fmt: skip
        write_bytes_atomic(data, Path(out_dir) / f"{stem}.{ext}")
        written[f"{stem}.{ext}"] = hashlib.sha256(data).hexdigest()
    return written
