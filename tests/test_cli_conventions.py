"""Configs that cannot hang or crash the toolkit, a terminal that shows exactly what it means, CLI conventions."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.allocation_helpers import make_trial
from tests.conftest import ROOT, SAMPLES, config_path

ADV = config_path("advance-feasibility")
CLI = [sys.executable, "-m", "advance_trial"]


def cli(*args: object, timeout: float = 60, **kw):
    """Run the real command in a process of its own (not a terminal), returning the completed process: forked
    from one that imported the third-party libraries once (``tests/cli_fork.py``)."""
    from tests.cli_fork import run

    return run(*args, timeout=timeout, cwd=ROOT, **kw)


def interpreter(*args: object, timeout: float = 60, **kw):
    """``python -m advance_trial ARGS`` in a subprocess: for a test about the interpreter itself (a traceback)."""
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=timeout, **kw)


def _billion_laughs() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


CONFIG_ATTACKS = {
    "alias-bomb": (lambda text: _billion_laughs(), "", "YAML aliases"),
    "deep-list": (lambda text: "x: " + "[" * 20_000 + "]" * 20_000 + "\n", "", "nested more than"),
    "huge-schedule": (lambda text: text.replace("{type: group, count: 12,", "{type: group, count: 1000000000,"),
                      "schedule.sessions[1].count", "less than or equal to 1000"),
    "5000-digit-seed": (lambda text: text.replace("assess_seed: 2018052395", "assess_seed: " + "9" * 5000),
                        "randomisation.assess_seed", "cannot read this value"),
    "huge-block": (lambda text: text.replace("block_sizes: [2, 4]", "block_sizes: [4000000000]"),
                   "randomisation.block_sizes[0]", "less than or equal to 1000"),
    "huge-mi": (lambda text: text.replace("mi_m: 20", "mi_m: 1000000000"), "analysis.mi_m",
                "less than or equal to 1000"),
    "backtracking-pattern": (lambda text: text.replace('"^AF[0-9]{3,5}$"', '"^(a+)+$"'),
                             "randomisation.participant_id_pattern", "exponential time"),
    "formula-pattern": (lambda text: text.replace('"^AF[0-9]{3,5}$"', '"(?s).*"'),
                        "randomisation.participant_id_pattern", "may not begin with"),
    "long-pattern": (lambda text: text.replace('"^AF[0-9]{3,5}$"', '"' + "A" * 300 + '"'),
                     "randomisation.participant_id_pattern", "at most 200 characters"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CONFIG_ATTACKS))
def test_a_config_that_would_hang_or_crash_is_exit_3_naming_the_key(tmp_path, case):
    make, key, words = CONFIG_ATTACKS[case]
    path = tmp_path / "attack.yaml"
    path.write_text(make(ADV.read_text()))
    started = time.monotonic()
    out = cli("config", "validate", path, timeout=30)
    assert out.returncode == 3, out.stderr
    assert key in out.stderr and words in out.stderr and "Traceback" not in out.stderr
    assert time.monotonic() - started < 20  # refused at once (the timeout above catches a hang)


def test_ids_that_a_spreadsheet_would_run_are_refused_whatever_the_pattern(tmp_path):
    from advance_trial.errors import DataError
    from advance_trial.randomisation import allocation as al

    t = make_trial(tmp_path)
    for raw in ("=HYPERLINK(1)", "+cmd", "-1", "@SUM", "AF\x1b1"):
        with pytest.raises(DataError, match="may not begin|control character|must match"):
            al.allocate(t.cfg, t.ring, raw, "london")


def test_site_and_arm_names_match_alike(tmp_path):
    from datetime import date

    from advance_trial.randomisation import allocation as al

    t = make_trial(tmp_path)
    assert al.allocate(t.cfg, t.ring, "AF001", "London").site == "london"
    lst = al.concealed_list(t.cfg, t.ring, 2, "back-up envelopes for bristol", backup=True)
    first = lst[lst["site"] == "bristol"]["arm"].iat[0]
    a = al.enter_backup(t.cfg, t.ring, "AF002", "BRISTOL", {}, 1, first.upper(), date(2020, 1, 1))
    assert a.arm == first


# ---------------------------------------------------------------------------- the terminal shows what it means


MARKUP = "[bold]x[/bold] [any_session] \x1b[2J"
SHOWN = "[bold]x[/bold] [any_session] \\x1b[2J"


WIDE = {**os.environ, "COLUMNS": "300"}


def test_config_diff_shows_brackets_markup_and_control_characters_intact(tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text(ADV.read_text().replace("label: Treatment as usual,", f'label: "{SHOWN}",', 1))  # YAML escape
    out = cli("config", "diff", ADV, new, env=WIDE)
    assert out.returncode == 0, out.stderr
    assert SHOWN in out.stdout and "arms[tau].label" in out.stdout and "\x1b" not in out.stdout


def test_outcomes_show_the_threshold_by_its_label_with_brackets_intact(tmp_path):
    """The terminal shows the report's display table; a label holding rich markup is shown as it is."""
    new = tmp_path / "new.yaml"
    new.write_text(ADV.read_text().replace("label: Attended at least one session,", 'label: "[b]any[/b] session",'))
    out = cli("outcomes", new, "--data", SAMPLES / "advance-feasibility", env=WIDE)
    assert out.returncode == 0, out.stderr
    assert "Complier average causal effect ([b]any[/b] session)" in out.stdout
    assert "Complier average causal effect (Attended at least 7 of the 14 compulsory sessions)" in out.stdout


def test_import_shows_a_file_name_with_markup_intact(tmp_path):
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    for name in ("screening", "participants"):
        shutil.copy(SAMPLES / "advance-feasibility" / f"{name}.csv", data)
    site_file = tmp_path / "[red]london[x].csv"
    site_file.write_text("Participant ID,Session type,Session no.,Group,Date,Attended,Hours\n"
                         "AF024,group,1,london-c1,06/08/2018,no,0\n")  # fmt: skip
    out = cli("import", ADV, site_file, "--data", data, "--site", "london", "--kind", "attendance", env=WIDE)
    assert out.returncode == 0, out.stderr
    assert "[red]london[x].csv" in out.stdout


def test_a_raw_control_character_in_a_config_is_exit_3(tmp_path, invoke):
    path = tmp_path / "c.yaml"
    path.write_text(ADV.read_text().replace("title: ADVANCE", "title: \x1bADVANCE", 1))
    out = invoke("config", "validate", path)
    assert out.exit_code == 3 and "not valid YAML" in out.output and "\x1b" not in out.output


def test_an_error_shows_a_control_character_written_out(tmp_path, invoke):
    path = tmp_path / "c.yaml"
    path.write_text(
        ADV.read_text().replace(
            "title: ADVANCE feasibility", 'title: "ADV\\x1b[31mANCE"\n  bogus: "\\x07"\n  x_title: x', 1
        )
    )
    out = invoke("config", "validate", path)
    assert out.exit_code == 3 and "\x1b" not in out.output and "\x07" not in out.output


@pytest.mark.parametrize(
    "args",
    [("recruitment",), ("retention",), ("dose",), ("progression",), ("outcomes",)],
    ids=lambda a: a[0],
)
def test_tables_wrap_rather_than_cut_when_not_on_a_terminal(args):
    out = cli(*args, ADV, "--data", SAMPLES / "advance-feasibility")
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout  # nothing cut with an ellipsis at 80 columns


# ---------------------------------------------------------------------------- conventions


def test_shell_completion_is_offered(invoke):
    out = invoke("--help")
    assert "--install-completion" in out.stdout and "--show-completion" in out.stdout


def test_help_gives_whole_descriptions_and_readable_metavars(invoke):
    top = invoke("--help").stdout
    assert "..." not in top.split("Commands:")[1]
    sub = invoke("randomise", "allocate", "--help").stdout
    assert "--factor NAME=VALUE" in sub and "--participant ID" in sub and "<list[" not in sub
    assert "[env: ADVANCE_TRIAL_KEY_DIR]" in sub


def test_debug_is_accepted_after_the_command(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 2\n")
    out = interpreter("config", "validate", bad, "--debug")
    assert out.returncode == 1 and "Traceback" in out.stderr and "ConfigError" in out.stderr


def test_out_of_range_option_values_are_usage_errors(invoke, tmp_path):
    assert invoke("simulate", config_path("cranstoun-dvip"), "--out", tmp_path, "--seed", "-1").exit_code == 2
    assert invoke("randomise", "assess", ADV, "--participants", "0").exit_code == 2
    assert invoke("randomise", "assess", ADV, "--participants", "10", "--n-trials", "100000000").exit_code == 2


def _sigint_as_a_terminal_sends_it() -> None:
    """In the child: Ctrl-C's default action, whatever pytest inherited (a job started in the background of a
    shell ignores SIGINT, and so would the command, which then never stops)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_with_one_line_saying_what_was_left(tmp_path):
    # on a loaded machine the signal can come while the command is still importing (its own one line, also
    # exit 130): then ask again, waiting longer, until it comes while the command runs
    for wait in (3, 8, 20):
        command = [*CLI, "randomise", "assess", str(ADV), "--participants", "104", "--n-trials", "10000000"]
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_sigint_as_a_terminal_sends_it)  # fmt: skip
        try:
            time.sleep(wait)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:  # never left running (it would simulate ten million trials)
                proc.kill()
                proc.wait()
        assert proc.returncode == 130
        lines = [line for line in err.splitlines() if line.strip() and "simulating" not in line]
        assert len(lines) == 1, lines
        if lines[0] != "interrupted: advance-trial stopped before it started anything":
            break
    assert lines[0].startswith("interrupted: advance-trial randomise assess stopped"), lines


@pytest.mark.parametrize(
    "command, status",
    [("config validate tests/import_corpus/make_corpus.py", 3), ("config schema", 0), ("config show " + str(ADV), 0)],
)
def test_a_closed_pipe_never_changes_the_exit_status(command, status):
    cmd = f"{sys.executable} -m advance_trial {command} 2>&1 | head -c 20 > /dev/null; echo ${{PIPESTATUS[0]}}"
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == str(status), out.stderr


def test_the_exit_code_enum_names_interruption():
    from advance_trial.errors import ExitCode

    assert ExitCode.INTERRUPTED == 130 and re.fullmatch(r"[A-Z_]+", ExitCode(130).name)
    assert os.path.exists(ROOT / "docs" / "cli.md")
