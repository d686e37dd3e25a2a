"""The ``advance-trial`` command: the root app and its error handling.

Each command group lives in its own module and imports the library only inside
its commands, so that ``advance-trial --help`` does not pay for pandas,
scipy or pydantic. Library exceptions become the contract's exit codes
(:class:`advance_trial.errors.ExitCode`) and a rich panel on standard error; a
traceback appears only with ``--debug``.
"""

import contextlib
import gc
import sys
from typing import Any

import typer

from advance_trial.cli import (
    checklist_cmd,
    import_cmd,
    run_cmd,
    serve_cmd,
    simulate_cmd,
    steps_cmd,
)
from advance_trial.cli._help import LAZY_GROUPS, FullHelpGroup
from advance_trial.errors import AdvanceTrialError, ExitCode


class _ErrorMappingGroup(FullHelpGroup):
    """Root group that turns library exceptions into exit codes and readable messages.

    ``--debug`` is accepted anywhere on the line; Ctrl-C exits 130 (:attr:`ExitCode.INTERRUPTED`) with
    one line saying what was left unfinished; a closed pipe (``advance-trial ... | head``) never
    changes the exit status.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in LAZY_GROUPS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_GROUPS and cmd_name not in self.commands:
            import importlib

            module = importlib.import_module(LAZY_GROUPS[cmd_name][0])
            group = typer.main.get_command(module.app)
            group.name = cmd_name
            self.commands[cmd_name] = group
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """``import template ...`` is the template command; ``import CONFIG FILE...`` the import itself."""
        if len(args) > 1 and args[0] == "import" and args[1] == "template":
            from advance_trial.cli._help import set_metavars

            command = set_metavars(typer.main.get_command(import_cmd.template_app), ctx)
            return "import template", command, args[2:]
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug"] + [a for a in args[:end] if a != "--debug"] + args[end:]
        ctx.meta["advance_command"] = _command_words(self, ctx, args)
        ctx.meta["advance_json"] = "--json" in args[:end]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        import warnings

        warnings.showwarning = _show_warning

        def debug() -> bool:
            return bool((ctx.obj or {}).get("debug"))

        try:
            return super().invoke(ctx)
        except AdvanceTrialError as exc:
            if debug():
                raise
            from advance_trial.cli._render import error_json, print_error, print_json

            if ctx.meta.get("advance_json"):  # machine-readable errors on stdout, the human ones on stderr
                _quietly(print_json, error_json(exc))
            _quietly(print_error, exc)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            what = ctx.meta.get("advance_command") or "the command"
            _quietly(_say, f"interrupted: advance-trial {what} stopped before it finished; every file "
                           "it wrote is whole (each replaced in one step), the rest were not written")  # fmt: skip
            ctx.exit(int(ExitCode.INTERRUPTED))
        except BrokenPipeError:
            _silence_closed_pipes()
            ctx.exit(int(ExitCode.OK))
        except (typer.Exit, typer.Abort):
            raise
        except OSError as exc:
            if debug():
                raise
            from advance_trial.cli._render import print_os_error

            _quietly(print_os_error, exc)
            ctx.exit(int(ExitCode.ERROR))
        except Exception as exc:
            if debug() or _is_click_exception(exc):
                raise
            from advance_trial.cli._render import print_unexpected

            _quietly(print_unexpected, exc)
            ctx.exit(int(ExitCode.ERROR))


def _command_words(root: Any, ctx: Any, args: list[str]) -> str:
    """The command named on the line (``randomise assess``), for messages."""
    words: list[str] = []
    group = root
    for arg in args:
        if arg.startswith("-"):
            continue
        command = root.get_command(ctx, arg) if group is root else getattr(group, "commands", {}).get(arg)
        if command is None:
            break
        words.append(arg)
        group = command
    return " ".join(words)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _quietly(show: Any, what: Any) -> None:
    """Show a message; if the reader has closed the pipe, say nothing more and keep the exit status."""
    try:
        show(what)
        sys.stderr.flush()
    except BrokenPipeError:
        _silence_closed_pipes()


def _silence_closed_pipes() -> None:
    """Point standard output and error at /dev/null, so that Python's own flush at exit cannot fail."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """The toolkit's statistical caveats as one readable line on standard error; others as Python shows them."""
    from advance_trial.errors import AdvanceTrialWarning

    if issubclass(category, AdvanceTrialWarning):
        from rich.text import Text

        from advance_trial.cli._render import stderr, visible

        stderr.print(Text(visible(f"warning ({category.__name__}): {message}"), style="yellow"))
        return
    import warnings

    warnings._showwarnmsg_impl(warnings.WarningMessage(message, category, *args, **kwargs))  # type: ignore[attr-defined]


def _is_click_exception(exc: Exception) -> bool:
    return type(exc).__module__.startswith(("click", "typer"))


app = typer.Typer(
    cls=_ErrorMappingGroup,
    name="advance-trial",
    help="Run and analyse randomised feasibility trials, from a versioned YAML trial config.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help renderer costs 2.5 times the start-up (benchmarks/bench_help.py)
)


def _print_version(value: bool) -> None:
    if value:
        from advance_trial import __version__

        typer.echo(__version__)
        raise typer.Exit(int(ExitCode.OK))


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks (for reporting bugs)."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the toolkit's version and exit."
    ),
) -> None:
    """Run and analyse randomised feasibility trials, from a versioned YAML trial config.

    Exit codes: 0 done, 1 other error, 2 usage error, 3 invalid config, 4 invalid data,
    5 integrity check failed.
    """
    ctx.obj = {"debug": debug}


app.command("import")(import_cmd.import_data)
app.command("recruitment")(steps_cmd.recruitment)
app.command("retention")(steps_cmd.retention)
app.command("dose")(steps_cmd.dose)
app.command("progression")(steps_cmd.progression)
app.command("outcomes")(steps_cmd.outcomes)
app.command("plan")(steps_cmd.plan)
app.command("checklist")(checklist_cmd.checklist)
app.command("run")(run_cmd.run)
app.command("report")(run_cmd.report)
app.command("verify")(run_cmd.verify)
app.command("disclosure-audit")(run_cmd.disclosure_audit)
app.command("simulate")(simulate_cmd.simulate)
app.command("serve")(serve_cmd.serve)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # before a command started (while importing)
        _quietly(_say, "interrupted: advance-trial stopped before it started anything")
        sys.exit(int(ExitCode.INTERRUPTED))
    finally:
        # the process ends: its last collection would look at every object it made (a third of a second
        # after a run) to free memory the system takes back anyway; set aside, they are only let go
        gc.freeze()
