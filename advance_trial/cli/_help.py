"""Help that says everything: command lists with their whole first paragraph, readable metavars.

Click cuts a command's description to fit one line of the command list and typer names an option's
value by its Python type (``<list[str]>``). :class:`FullHelpGroup` lists each command with its whole
first paragraph, wrapped, and gives every parameter that has no metavar of its own a readable one:
``ID``, ``SITE``, ``N``, ``PATH``, ``site|cycle``, and for arguments their upper-cased name.
"""

from __future__ import annotations

from typing import Any

from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

#: Metavars by option name, where the type alone says too little.
NAMED = {
    "--participant": "ID", "--site": "SITE", "--factor": "NAME=VALUE", "--split": "A/B", "--seed": "N",
    "--reason": "TEXT", "--note": "TEXT", "--by": "NAME", "--sheet": "NAME", "--n": "N", "--position": "N",
    "--randomised-on": "YYYY-MM-DD", "--data": "DIR", "--key-dir": "DIR", "--targets": "FILE", "--log": "FILE|URL",
    "--receipt": "FILE", "--receipt-out": "FILE", "--public-key": "FILE", "--key": "FILE", "--report": "FILE",
    "--db": "URL", "--server": "URL", "--host": "ADDRESS", "--port": "N", "--certfile": "FILE", "--keyfile": "FILE",
}  # fmt: skip
TYPES = {"int": "N", "str": "TEXT", "float": "X", "path": "PATH", "file": "PATH", "dir": "DIR", "directory": "DIR"}


def readable_metavar(param: Any, ctx: _click.Context) -> str | None:
    """A metavar for a parameter that has none (None for flags)."""
    if isinstance(param, TyperArgument):
        name = (param.name or "value").upper()
        return name + ("..." if param.nargs == -1 else "")
    if not isinstance(param, TyperOption) or param.is_flag:
        return None
    long = max(param.opts, key=len) if param.opts else ""
    if long in NAMED:
        return NAMED[long]
    label = param.display_type(ctx).strip("<>")
    many = label.startswith("list[")
    label = label.removeprefix("list[").removesuffix("]").removesuffix(" range")
    return TYPES.get(label, label) + ("..." if many else "")


def plain_bool_flags(command: _click.Command, ctx: _click.Context) -> None:
    """Let ``command``'s boolean flags pass their value through without typer building a pydantic
    adapter for them: typer coerces a flag that was not given (``--help``, the completion flags) on
    every call, and its first adapter imports pydantic, which doubled the cost of ``CMD --help``.
    A flag's value is ``True``, ``False`` or ``None``, which the pass-through keeps as it is."""
    from typer._coercion import PassThroughRuntimeParam

    for param in command.get_params(ctx):
        desc = getattr(param, "type_descriptor", None)
        if desc is not None and desc.annotation is bool and getattr(param, "_runtime_param", 1) is None:
            param._runtime_param = PassThroughRuntimeParam(  # type: ignore[attr-defined]
                annotation=bool, parameter_info=desc.parameter_info
            )


#: Parameters that name something already there, by name: a file, or a folder. A path that does not exist is a
#: usage error (exit 2) in every command, found while the command line is read (docs/cli.md, "Exit codes").
MUST_EXIST = {
    "config": "file", "old": "file", "new": "file", "files": "file", "dictionary": "file", "events": "file",
    "base": "file", "receipt": "file", "public_key": "file", "table": "file", "targets": "file", "pilot": "file",
    "certfile": "file", "keyfile": "file", "data": "data folder", "outdir": "folder",
}  # fmt: skip


def must_exist(command: _click.Command) -> None:
    """Make ``command`` refuse a path named in :data:`MUST_EXIST` that does not exist, before it runs: one line
    naming the option and the path, exit 2 (:class:`advance_trial.errors.UsageError`)."""
    names = {p.name: (max(p.opts, key=len) if isinstance(p, TyperOption) else (p.name or "").upper())
             for p in command.params if p.name in MUST_EXIST}  # fmt: skip
    run = command.callback
    if not names or run is None:
        return

    def checked(*args: Any, **kwargs: Any) -> Any:
        from pathlib import Path

        from advance_trial.errors import UsageError

        for name, label in names.items():
            given = kwargs.get(name)
            for path in given if isinstance(given, list | tuple) else [given]:
                if not isinstance(path, str | Path):
                    continue
                what = MUST_EXIST[name]
                if not Path(path).exists():
                    raise UsageError(f"{label} {path}: no such {what}")
                if what.endswith("folder") and not Path(path).is_dir():
                    raise UsageError(f"{label} {path}: a file, not a folder")
                if what == "file" and Path(path).is_dir():
                    raise UsageError(f"{label} {path}: a folder, not a file")
        return run(*args, **kwargs)

    command.callback = checked


def set_metavars(command: _click.Command, ctx: _click.Context) -> _click.Command:
    """Give every parameter of ``command`` (and of its subcommands) a readable metavar, once; and make the
    paths that must exist say so when they do not (:func:`must_exist`)."""
    if getattr(command, "_advance_metavars", False):
        return command
    for param in command.params:
        if param.metavar is None:
            param.metavar = readable_metavar(param, ctx)
    must_exist(command)
    for sub in getattr(command, "commands", {}).values():
        set_metavars(sub, ctx)
    setattr(command, "_advance_metavars", True)  # noqa: B010
    return command


#: Command groups the root loads only when they are used: ``advance-trial --help`` lists them from here,
#: without importing or building them (typer builds every command of a group it loads).
LAZY_GROUPS = {
    "config": ("advance_trial.cli.config_cmd", "Validate, show and compare trial configs."),
    "randomise": (
        "advance_trial.cli.randomise_cmd",
        "Allocate men from a secret key into an authenticated log; verify, export, unblind; assess a design.",
    ),
    "users": ("advance_trial.cli.users_cmd", "The allocation service's accounts: add, list, disable, token, password."),
}


class FullHelpGroup(TyperGroup):
    """A command group whose help lists each command's whole first paragraph and readable metavars."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        plain_bool_flags(self, ctx)
        return super().parse_args(ctx, args)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return set_metavars(command, ctx) if command is not None else None

    def format_help(self, ctx: _click.Context, formatter: Any) -> None:
        set_metavars(self, ctx)
        super().format_help(ctx, formatter)

    def format_commands(self, ctx: _click.Context, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_GROUPS and name not in self.commands:
                rows.append((name, LAZY_GROUPS[name][1]))
                continue
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            text = (command.short_help or command.help or "").strip()
            rows.append((name, " ".join(text.split("\n\n")[0].split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
