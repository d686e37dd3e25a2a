"""Rendering shared by the command modules: errors, tables and JSON (imported lazily)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from advance_trial.errors import AdvanceTrialError, DataError

MAX_LINES_ON_SCREEN = 40


class _Console(Console):
    """A console that leaves a closed pipe to the caller (rich would exit 1, changing the exit status)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


stdout = _Console(highlight=False, soft_wrap=True)
stderr = _Console(stderr=True, highlight=False, soft_wrap=True)


def visible(value: object) -> str:
    """A value as text with every control character written out (``\\n``, ``\\x1b``), so none acts on the terminal."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def shown(value: object) -> str:
    """A value from a config or a data file, safe to put inside rich markup: control characters written
    out and square brackets escaped, so that it appears exactly as it is."""
    from rich.markup import escape

    return escape(visible(value))


def print_error(exc: AdvanceTrialError) -> None:
    """Show a library error on standard error: a red heading, then one problem a line.

    Problems are printed unwrapped, so that each stays on one line for copying and grepping.
    """
    lines = exc.details() or [str(exc)]
    n = len(getattr(exc, "problems", lines))
    heading = f"{exc.title} (exit {int(exc.exit_code)})" + (f": {n} problems" if n > 1 else "")
    stderr.print(Text(heading, style="bold red"))
    for line in lines[:MAX_LINES_ON_SCREEN]:
        stderr.print(Text("  " + visible(line)))
    if len(lines) > MAX_LINES_ON_SCREEN:
        stderr.print(Text(f"  ... and {len(lines) - MAX_LINES_ON_SCREEN} more", style="dim"))
        footer = exc.footer()
        if not footer and isinstance(exc, DataError):  # the full list is always somewhere to read
            footer = [f"Every problem: {exc.write_problem_file()}"]
    else:
        footer = exc.footer()
    for line in footer:
        stderr.print(Text(visible(line), style="bold"))


def error_json(exc: AdvanceTrialError) -> dict[str, Any]:
    """A library error as machine output (``--json``): what failed, the exit code, every problem."""
    out: dict[str, Any] = {"error": exc.title, "exit_code": int(exc.exit_code), "message": str(exc)}
    if isinstance(exc, DataError):
        out["problems"] = exc.records()
    elif exc.details():
        out["problems"] = [{"problem": line} for line in exc.details()]
    return out


def print_os_error(exc: OSError) -> None:
    """An operating-system error as one line naming the path: ``PATH: what went wrong``."""
    where = exc.filename if exc.filename is not None else "error"
    stderr.print(Text(visible(f"{where}: {exc.strerror or exc} (exit 1)"), style="bold red"))


def print_unexpected(exc: BaseException) -> None:
    """Show an unexpected failure without a traceback, and how to get one."""
    stderr.print(Text("Unexpected error (exit 1)", style="bold red"))
    stderr.print(Text(visible(f"  {type(exc).__name__}: {exc}")))
    stderr.print(Text("  Run again with --debug for the full traceback, and report it.", style="dim"))


def print_json(data: Any) -> None:
    """Write machine output: sorted keys, two-space indent, a trailing newline."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


STATUS_STYLE = {"met": "green", "green": "green", "amber": "yellow", "not_met": "red", "red": "red",
                "not_evaluated": "dim"}  # fmt: skip


def records(df: Any) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records: NaN and NA become null."""
    import math

    out = []
    for row in df.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                clean[k] = None
            elif hasattr(v, "item"):
                clean[k] = v.item()
            else:
                try:
                    import pandas as pd

                    clean[k] = None if pd.isna(v) else v
                except (TypeError, ValueError):
                    clean[k] = v
        out.append(clean)
    return out


def print_tables_json(tables: dict[str, Any]) -> None:
    """Machine output: ``{table name: [records]}``."""
    print_json({name: records(t.data) for name, t in tables.items()})


def print_display(cfg: Any, table: Any) -> None:
    """Print a table as the report shows it (:func:`advance_trial.output.display.display`): labelled rows
    and columns, cells such as ``38/54 (70.4%; 57.2 to 80.9)``, the Status column coloured."""
    from rich.table import Table as RichTable

    from advance_trial.output.display import STATUS_LABELS, display

    shown_table = display(cfg, table)
    df = shown_table.data
    styles = {label: STATUS_STYLE[k] for k, label in STATUS_LABELS.items()}
    t = RichTable(title=shown(shown_table.title), title_justify="left", show_lines=False)
    for col in df.columns:
        t.add_column(shown(str(col)), overflow="fold")
    for row in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, row, strict=True):
            text = shown(str(v))
            cells.append(f"[{styles.get(str(v), 'white')}]{text}[/]" if col == "Status" else text)
        t.add_row(*cells)
    stdout.print(t)
    for note in shown_table.footnotes:
        stdout.print(Text(visible(note), style="dim"))
