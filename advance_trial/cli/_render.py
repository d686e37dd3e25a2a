"""Rendering shared by the command modules: errors, tables and JSON (imported lazily)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from advance_trial.errors import AdvanceTrialError

MAX_LINES_ON_SCREEN = 40

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


def print_error(exc: AdvanceTrialError) -> None:
    """Show a library error as a red panel on standard error, one problem a line."""
    lines = exc.details() or [str(exc)]
    shown = lines[:MAX_LINES_ON_SCREEN]
    body = Text("\n".join(shown))
    if len(lines) > len(shown):
        body.append(f"\n... and {len(lines) - len(shown)} more")
    stderr.print(Panel(body, title=f"{exc.title} (exit {int(exc.exit_code)})", title_align="left", border_style="red"))


def print_unexpected(exc: BaseException) -> None:
    """Show an unexpected failure without a traceback, and how to get one."""
    msg = Text(f"{type(exc).__name__}: {exc}\n\nRun again with --debug for the full traceback.")
    stderr.print(Panel(msg, title="Unexpected error (exit 1)", title_align="left", border_style="red"))


def print_json(data: Any) -> None:
    """Write machine output: sorted keys, two-space indent, a trailing newline."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
