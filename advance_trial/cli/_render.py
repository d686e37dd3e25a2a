"""Rendering shared by the command modules: errors, tables and JSON (imported lazily)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from advance_trial.errors import AdvanceTrialError

MAX_LINES_ON_SCREEN = 40

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(exc: AdvanceTrialError) -> None:
    """Show a library error on standard error: a red heading, then one problem a line.

    Problems are printed unwrapped, so that each stays on one line for copying and grepping.
    """
    lines = exc.details() or [str(exc)]
    n = len(lines)
    heading = f"{exc.title} (exit {int(exc.exit_code)})" + (f": {n} problems" if n > 1 else "")
    stderr.print(Text(heading, style="bold red"))
    for line in lines[:MAX_LINES_ON_SCREEN]:
        stderr.print(Text("  " + line))
    if n > MAX_LINES_ON_SCREEN:
        stderr.print(Text(f"  ... and {n - MAX_LINES_ON_SCREEN} more", style="dim"))


def print_unexpected(exc: BaseException) -> None:
    """Show an unexpected failure without a traceback, and how to get one."""
    stderr.print(Text("Unexpected error (exit 1)", style="bold red"))
    stderr.print(Text(f"  {type(exc).__name__}: {exc}"))
    stderr.print(Text("  Run again with --debug for the full traceback, and report it.", style="dim"))


def print_json(data: Any) -> None:
    """Write machine output: sorted keys, two-space indent, a trailing newline."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
