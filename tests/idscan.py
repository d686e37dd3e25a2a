"""Scan a report's rendered outputs (HTML, Markdown, Word, SVG) for what a reader must never see: the
config's ids and snake_case names. Used by tests/test_report_words.py."""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.vocabulary import ANALYSES, EFFECTS, PROPORTION_METHODS

#: A snake_case name (two or more lower-case parts joined by underscores).
#: A file the reader is pointed to (``disclosure_audit.csv``) is named as it is on disk.
SNAKE = re.compile(r"(?<![\w-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w-])(?!\.(?:csv|json|svg|png|md|html|docx)\b)")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: Ids that are also the English words the report writes ("change from baseline", "recruitment and
#: follow-up", "qualitative or quantitative"): as words they are no leak.
ENGLISH = {"baseline", "change", "recruitment", "qualitative", "retention", "dose", "outcomes", "harms"}


def ids_of(cfg: Config, data: Path | None = None) -> set[str]:
    """Every id a config (and its data's therapy groups) names."""
    out: set[str] = {a.id for a in cfg.arms} | {s.id for s in cfg.sites} | {t.id for t in cfg.timepoints}
    out |= {o.id for o in cfg.outcomes} | {t.id for t in cfg.thresholds} | {c.id for c in cfg.progression}
    out |= {c.metric for c in cfg.progression} | set(cfg.instruments) | set(ANALYSES) | set(EFFECTS)
    out |= set(PROPORTION_METHODS)
    if cfg.baseline_table is not None:
        out |= {v.id for v in cfg.baseline_table.variables}
    if cfg.events is not None:
        out |= {c.id for c in cfg.events.categories}
    if data is not None and (data / "attendance.csv").exists():
        groups = pd.read_csv(data / "attendance.csv", dtype=str).get("group_id")
        if groups is not None:
            out |= set(groups.dropna())
    return out


def words_of(cfg: Config) -> set[str]:
    """The words the config's labels use: an id that is also one of these (as written) is a word."""
    texts = [a.label for a in cfg.arms] + [s.label for s in cfg.sites] + [t.label or "" for t in cfg.timepoints]
    texts += [o.label or "" for o in cfg.outcomes] + [t.label or "" for t in cfg.thresholds]
    texts += [c.label or "" for c in cfg.progression] + [cfg.trial.title, cfg.trial.description or ""]
    texts += [i.label or "" for i in cfg.instruments.values()]
    texts += [c.label for c in cfg.events.categories] if cfg.events is not None else []
    texts += [v.label for v in cfg.baseline_table.variables] if cfg.baseline_table is not None else []
    return {w for t in texts for w in _TOKEN.findall(t)} | ENGLISH


def visible_texts(path: Path) -> list[str]:
    """The text a reader sees in one rendered file."""
    if path.suffix == ".docx":
        with zipfile.ZipFile(path) as z:
            parts = [n for n in z.namelist() if re.match(r"word/(document|header\d*|footer\d*)\.xml$", n)]
            return [
                html.unescape(t)
                for n in parts
                for t in re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", z.read(n).decode("utf-8"))
            ]
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        text = re.sub(r"\]\([^)]*\)", "]", text)  # a figure's file name is a link, not text
        return [text]
    text = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return [html.unescape(t) for t in re.split(r"<[^>]*>", text)]


def leaks(path: Path, ids: set[str], words: set[str]) -> list[str]:
    """Each id or snake_case name in a rendered file, with its context."""
    found = []
    for text in visible_texts(path):
        for m in SNAKE.finditer(text):
            found.append(f"{path.name}: {m.group()!r} in {text[max(0, m.start() - 40) : m.end() + 40]!r}")
        for m in _TOKEN.finditer(text):
            token = m.group()
            if token in ids and token not in words and not SNAKE.fullmatch(token):
                found.append(f"{path.name}: id {token!r} in {text[max(0, m.start() - 40) : m.end() + 40]!r}")
    return found
