"""One exit code for the same mistake in every command (issue 37, docs/cli.md "Exit codes").

A path that does not exist, or an option value that is not one of its choices (an unknown site, kind, arm,
factor level or breakdown), is a usage error: exit 2, one message naming the option and the value, never a
traceback. Every command is in the table below; a command added without a row fails
:func:`test_every_command_is_in_the_table`.
"""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES, config_path

CONFIG = str(config_path("advance-feasibility"))
DATA = str(SAMPLES / "advance-feasibility")
SITE_FILE = str(SAMPLES / "advance-feasibility" / "site-exports" / "london-attendance.xlsx")
MISSING = "/nonexistent/advance-trial-37"

#: Every command, called with everything it needs; {CONFIG}, {DATA}, {OUT}, {FILE} are filled in per case.
COMMANDS: dict[str, list[str]] = {
    "import": ["import", "{CONFIG}", "{FILE}", "--data", "{DATA}", "--site", "london", "--kind", "attendance",
               "--dry-run"],
    "import template": ["import", "template", "{CONFIG}", "--kind", "screening", "--out", "{OUT}/t.xlsx"],
    "recruitment": ["recruitment", "{CONFIG}", "--data", "{DATA}"],
    "retention": ["retention", "{CONFIG}", "--data", "{DATA}"],
    "dose": ["dose", "{CONFIG}", "--data", "{DATA}"],
    "progression": ["progression", "{CONFIG}", "--data", "{DATA}"],
    "outcomes": ["outcomes", "{CONFIG}", "--data", "{DATA}"],
    "plan": ["plan", "{CONFIG}", "--data", "{DATA}"],
    "checklist": ["checklist", "{CONFIG}", "--data", "{DATA}"],
    "run": ["run", "{CONFIG}", "--data", "{DATA}", "--out", "{OUT}/run"],
    "report": ["report", "{CONFIG}", "--data", "{DATA}", "--out", "{OUT}/report"],
    "verify": ["verify", "{OUTDIR}"],
    "disclosure-audit": ["disclosure-audit", "{OUTDIR}"],
    "simulate": ["simulate", "{CONFIG}", "--out", "{OUT}/sim", "--seed", "1"],
    "serve": ["serve", "{CONFIG}", "--data", "{DATA}", "--port", "1"],
    "config validate": ["config", "validate", "{CONFIG}", "--data", "{DATA}"],
    "config from-redcap": ["config", "from-redcap", "{DICTIONARY}"],
    "config show": ["config", "show", "{CONFIG}"],
    "config schema": ["config", "schema"],
    "config diff": ["config", "diff", "{CONFIG}", "{CONFIG}"],
    "randomise init": ["randomise", "init", "{CONFIG}", "--log", "{OUT}/log.sqlite"],
    "randomise allocate": ["randomise", "allocate", "{CONFIG}", "--participant", "AF900", "--site", "london",
                           "--data", "{DATA}", "--log", "{OUT}/log.sqlite"],
    "randomise verify": ["randomise", "verify", "{CONFIG}", "--log", "{OUT}/log.sqlite"],
    "randomise copy-log": ["randomise", "copy-log", "{CONFIG}", "--to", "{OUT}/copy.sqlite"],
    "randomise check-receipt": ["randomise", "check-receipt", "{RECEIPT}", "--public-key", "{RECEIPT}"],
    "randomise export": ["randomise", "export", "{CONFIG}", "--out", "{OUT}", "--reason", "steering committee"],
    "randomise list": ["randomise", "list", "{CONFIG}", "--n", "10", "--out", "{OUT}", "--reason", "envelopes"],
    "randomise unblind": ["randomise", "unblind", "{CONFIG}", "--participant", "AF001", "--reason", "a b c"],
    "randomise correct": ["randomise", "correct", "{CONFIG}", "--participant", "AF001", "--reason", "a b c"],
    "randomise amend": ["randomise", "amend", "{CONFIG}", "--reason", "a b c"],
    "randomise backup": ["randomise", "backup", "{CONFIG}", "--participant", "AF900", "--site", "london",
                         "--position", "1", "--arm", "tau", "--randomised-on", "2019-01-01"],
    "randomise assess": ["randomise", "assess", "{CONFIG}", "--n-trials", "1"],
    "users add": ["users", "add", "{CONFIG}", "ra.x", "--role", "site_ra", "--site", "london"],
    "users list": ["users", "list", "{CONFIG}"],
    "users disable": ["users", "disable", "{CONFIG}", "ra.x"],
    "users token": ["users", "token", "{CONFIG}", "ra.x"],
    "users password": ["users", "password", "{CONFIG}", "ra.x"],
}  # fmt: skip

#: Commands with no config argument, and what each names instead.
NO_CONFIG = {"verify", "disclosure-audit", "config from-redcap", "config schema", "randomise check-receipt"}


def _command_names() -> set[str]:
    import click
    import typer

    from advance_trial.cli.main import app

    root = typer.main.get_command(app)
    ctx = click.Context(root)
    names = set()

    def walk(group, prefix):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if hasattr(command, "commands"):
                walk(command, [*prefix, name])
            elif not command.hidden:
                names.add(" ".join([*prefix, name]))

    walk(root, [])
    return names | {"import template"}


def test_every_command_is_in_the_table():
    assert _command_names() == set(COMMANDS)


def _fill(args: list[str], tmp_path, **paths: str) -> list[str]:
    values = {"CONFIG": CONFIG, "DATA": DATA, "OUT": str(tmp_path), "FILE": SITE_FILE, "OUTDIR": str(tmp_path),
              "DICTIONARY": str(tmp_path / "dictionary.csv"), "RECEIPT": str(tmp_path / "receipt.json")}  # fmt: skip
    values.update(paths)
    out = []
    for a in args:
        for k, v in values.items():
            a = a.replace("{" + k + "}", v)
        out.append(a)
    return out


def _usage(done, *words: str) -> None:
    text = " ".join(done.output.split())
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output
    for w in words:
        assert w in text, text


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - NO_CONFIG))
def test_a_config_that_does_not_exist_is_a_usage_error(invoke, tmp_path, command):
    done = invoke(*_fill(COMMANDS[command], tmp_path, CONFIG=MISSING + ".yaml"))
    label = "OLD" if command == "config diff" else "CONFIG"
    _usage(done, f"{label} {MISSING}.yaml: no such file")


@pytest.mark.parametrize("command", sorted(c for c, args in COMMANDS.items() if "{DATA}" in args))
def test_a_data_folder_that_does_not_exist_is_a_usage_error(invoke, tmp_path, command):
    done = invoke(*_fill(COMMANDS[command], tmp_path, DATA=MISSING))
    _usage(done, "--data", MISSING, "no such")


@pytest.mark.parametrize(
    ("command", "placeholder", "label"),
    [
        ("verify", "OUTDIR", "OUTDIR"),
        ("disclosure-audit", "OUTDIR", "OUTDIR"),
        ("config from-redcap", "DICTIONARY", "DICTIONARY"),
        ("config diff", "CONFIG", "OLD"),
        ("randomise check-receipt", "RECEIPT", "RECEIPT"),
        ("import", "FILE", "FILES"),
    ],
)
def test_any_other_path_that_does_not_exist_is_a_usage_error(invoke, tmp_path, command, placeholder, label):
    done = invoke(*_fill(COMMANDS[command], tmp_path, **{placeholder: MISSING}))
    _usage(done, f"{label} {MISSING}: no such")


def test_a_config_that_is_a_folder_is_a_usage_error(invoke, tmp_path):
    _usage(invoke("recruitment", tmp_path, "--data", DATA), "a folder, not a file")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["import", CONFIG, SITE_FILE, "--data", DATA, "--site", "leeds", "--kind", "attendance"], ["--site 'leeds'"]),
        (["import", CONFIG, SITE_FILE, "--data", DATA, "--site", "london", "--kind", "visits"], ["--kind"]),
        (["import", "template", CONFIG, "--kind", "screening", "--site", "leeds", "--out", "{OUT}/t.xlsx"],
         ["--site 'leeds'"]),
        (["import", "template", CONFIG, "--kind", "visits", "--out", "{OUT}/t.xlsx"], ["--kind"]),
        (["randomise", "allocate", CONFIG, "--participant", "AF900", "--site", "leeds"], ["--site 'leeds'"]),
        (["randomise", "allocate", CONFIG, "--participant", "AF900", "--site", "london", "--factor", "cycle=9"],
         ["--factor cycle '9'"]),
        (["randomise", "allocate", CONFIG, "--participant", "AF900", "--site", "london", "--factor", "site=bristol"],
         ["--factor 'site'"]),
        (["randomise", "backup", CONFIG, "--participant", "AF900", "--site", "leeds", "--position", "1", "--arm",
          "tau", "--randomised-on", "2019-01-01"], ["--site 'leeds'"]),
        (["randomise", "backup", CONFIG, "--participant", "AF900", "--site", "london", "--position", "1", "--arm",
          "placebo", "--randomised-on", "2019-01-01"], ["--arm 'placebo'"]),
        (["retention", CONFIG, "--data", DATA, "--by", "arm"], ["--by"]),
        (["users", "add", CONFIG, "ra.x", "--role", "king"], ["--role"]),
    ],
    ids=["import-site", "import-kind", "template-site", "template-kind", "allocate-site", "allocate-level",
         "allocate-site-as-factor", "backup-site", "backup-arm", "retention-by", "users-role"],
)  # fmt: skip
def test_an_option_value_not_one_of_its_choices_is_a_usage_error(invoke, tmp_path, args, words):
    done = invoke(*_fill(args, tmp_path))
    _usage(done, *words)
    assert not (tmp_path / "t.xlsx").exists()
