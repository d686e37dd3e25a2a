"""The ``advance-trial`` command: the root app and its error handling.

Each command group lives in its own module and imports the library only inside
its commands, so that ``advance-trial --help`` does not pay for pandas,
scipy or pydantic. Library exceptions become the contract's exit codes
(:class:`advance_trial.errors.ExitCode`) and a rich panel on standard error; a
traceback appears only with ``--debug``.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from advance_trial.cli import (
    config_cmd,
    feasibility_cmd,
    import_cmd,
    outcomes_cmd,
    randomise_cmd,
    run_cmd,
    simulate_cmd,
)
from advance_trial.errors import AdvanceTrialError, ExitCode


class _ErrorMappingGroup(TyperGroup):
    """Root group that turns library exceptions into exit codes and readable messages."""

    def invoke(self, ctx: Any) -> Any:
        import warnings

        warnings.showwarning = _show_warning
        try:
            return super().invoke(ctx)
        except AdvanceTrialError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            from advance_trial.cli._render import print_error

            print_error(exc)
            ctx.exit(int(exc.exit_code))
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except OSError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            from advance_trial.cli._render import print_os_error

            print_os_error(exc)
            ctx.exit(int(ExitCode.ERROR))
        except Exception as exc:
            if (ctx.obj or {}).get("debug") or _is_click_exception(exc):
                raise
            from advance_trial.cli._render import print_unexpected

            print_unexpected(exc)
            ctx.exit(int(ExitCode.ERROR))


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """The toolkit's statistical caveats as one readable line on standard error; others as Python shows them."""
    from advance_trial.errors import AdvanceTrialWarning

    if issubclass(category, AdvanceTrialWarning):
        from rich.text import Text

        from advance_trial.cli._render import stderr

        stderr.print(Text(f"warning ({category.__name__}): {message}", style="yellow"))
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
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help renderer would triple the start-up cost
)


def _print_version(value: bool) -> None:
    if value:
        from advance_trial import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


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


app.add_typer(config_cmd.app, name="config")
app.add_typer(randomise_cmd.app, name="randomise")
app.command("import")(import_cmd.import_data)
app.command("recruitment")(feasibility_cmd.recruitment)
app.command("retention")(feasibility_cmd.retention)
app.command("dose")(feasibility_cmd.dose)
app.command("progression")(feasibility_cmd.progression)
app.command("outcomes")(outcomes_cmd.outcomes)
app.command("run")(run_cmd.run)
app.command("report")(run_cmd.report)
app.command("verify")(run_cmd.verify)
app.command("simulate")(simulate_cmd.simulate)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
