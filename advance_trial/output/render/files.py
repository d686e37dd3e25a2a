"""The report's three files: HTML, Markdown and Word, each from the one report model (``render.report``).

Apart from the model so that the renderers (``htmlpage``, ``wordfile``) may read the model without the model
reaching back to them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path

from advance_trial.data.tablefile import write_bytes_atomic
from advance_trial.output.render.htmlpage import to_html
from advance_trial.output.render.report import Report, to_markdown
from advance_trial.output.render.wordfile import to_docx


def write_report(report: Report, out_dir: str | Path, stem: str = "report",
                 workers: Executor | None = None) -> dict[str, str]:  # fmt: skip
    """Write ``report.html``, ``report.md`` and ``report.docx``; returns file name -> SHA-256.

    With ``workers`` (a run's two, idle once its figures are drawn), the Word file and the HTML page are
    made by them while this process makes the Markdown (the same bytes: a worker that fails leaves its file
    to this process).
    """
    return start_report(report, out_dir, stem, workers)()


def start_report(report: Report, out_dir: str | Path, stem: str = "report",
                 workers: Executor | None = None) -> Callable[[], dict[str, str]]:  # fmt: skip
    """Hand the Word file and the HTML page to ``workers`` now; the returned function makes the Markdown,
    waits for the other two (making here any a worker failed to make) and writes the three
    (:func:`write_report`), so that a run writes its tables while the workers make the report."""
    makers: dict[str, Callable[[Report], bytes]] = {"html": _html, "md": _markdown, "docx": to_docx}
    made = {ext: workers.submit(makers[ext], report) for ext in ("docx", "html")} if workers is not None else {}

    def written() -> dict[str, str]:
        out: dict[str, str] = {}
        for ext, make in makers.items():
            data = _made(made.get(ext)) or make(report)
            write_bytes_atomic(data, Path(out_dir) / f"{stem}.{ext}")
            out[f"{stem}.{ext}"] = hashlib.sha256(data).hexdigest()
        return out

    return written


def _html(report: Report) -> bytes:
    return to_html(report).encode("utf-8")


def _markdown(report: Report) -> bytes:
    return to_markdown(report).encode("utf-8")


def _made(made: Future[bytes] | None) -> bytes | None:
    """A file a worker made, or ``None`` (made here instead: the same bytes, or the error where a run expects it)."""
    if made is None:
        return None
    try:
        return made.result()
    except Exception:
        return None
