"""A step's own command: ``recruitment``, ``retention``, ``dose``, ``progression``, ``outcomes`` and ``plan``.

Each is :func:`advance_trial.pipeline.run` with the command's steps (:mod:`advance_trial.steps`): it prints
the steps' tables (``--json``: machine output instead) and, with ``--out``, writes them as a run does:
their CSV and Markdown tables, ``results.csv``, their figures, ``provenance.json`` (so ``verify`` repeats
them) and, with ``--shareable``, ``disclosure_audit.csv``.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from advance_trial.cli._options import BLINDED, BY, CONFIG_ARG, DATA, JSON, KEY, SHAREABLE, By

if TYPE_CHECKING:
    from advance_trial.pipeline import RunResult

OUT = typer.Option(
    None, "--out", help="Also write the tables, results.csv, figures and provenance.json into this folder."
)


def _computed(command: str, config: Path, data: Path, out: Path | None, json_out: bool, *, by: By = By.site,
              blinded: bool = False, shareable: bool = False, key: Path | None = None,
              pilot: Path | None = None) -> "RunResult":  # fmt: skip
    """The command's steps computed (and written with ``--out``)."""
    from advance_trial.pipeline import RunOptions, run

    opts = RunOptions(by=by.value, blinded=blinded, shareable=shareable, key=str(key) if key else None,
                      report=False, command=command, pilot=str(pilot) if pilot else None)  # fmt: skip
    return run(config, data, out, options=opts)


def _show(result: "RunResult", names: tuple[str, ...], json_out: bool, out: Path | None) -> None:
    """``--json``: every table of the command; else the named ones that have rows, as the report shows them,
    and where the files went."""
    from advance_trial.cli._render import print_display, print_tables_json, shown, stdout

    tables = {n: t for n, t in result.tables.items() if n != "results"}
    if json_out:
        print_tables_json(tables)
        return
    for name in names:
        if name in tables and (name in names[:1] or len(tables[name].data)):
            print_display(result.config, tables[name])
    if out is not None:
        stdout.print(f"wrote {len(result.outputs)} files and provenance.json to {shown(out)}")


def recruitment(config: Path = CONFIG_ARG, data: Path = DATA, out: Path | None = OUT, blinded: bool = BLINDED,
                shareable: bool = SHAREABLE, key: Path | None = KEY, json_out: bool = JSON) -> None:  # fmt: skip
    """Recruitment (randomised / eligible), allocation by site and arm, and the CONSORT flow."""
    result = _computed("recruitment", config, data, out, json_out, blinded=blinded, shareable=shareable, key=key)
    _show(result, ("recruitment", "allocation"), json_out, out)


def retention(config: Path = CONFIG_ARG, data: Path = DATA, out: Path | None = OUT, by: By = BY,
              blinded: bool = BLINDED, shareable: bool = SHAREABLE, key: Path | None = KEY,
              json_out: bool = JSON) -> None:  # fmt: skip
    """Men followed up within each timepoint's window, reasons for loss, arms compared, partners' aggregates."""
    result = _computed("retention", config, data, out, json_out, by=by, blinded=blinded, shareable=shareable,
                       key=key)  # fmt: skip
    _show(result, ("retention", "retention_difference", "partner_retention", "partner_contact"), json_out, out)


def dose(config: Path = CONFIG_ARG, data: Path = DATA, out: Path | None = OUT, blinded: bool = BLINDED,
         shareable: bool = SHAREABLE, key: Path | None = KEY, json_out: bool = JSON) -> None:  # fmt: skip
    """Sessions and hours attended, and men meeting each dose threshold (denominator: men randomised)."""
    result = _computed("dose", config, data, out, json_out, blinded=blinded, shareable=shareable, key=key)
    if not json_out and "dose" not in result.tables:
        from advance_trial.cli._render import stdout

        stdout.print("the config has no schedule of sessions: no dose to report")
    _show(result, ("dose",), json_out, out)


def progression(config: Path = CONFIG_ARG, data: Path = DATA, out: Path | None = OUT, blinded: bool = BLINDED,
                shareable: bool = SHAREABLE, key: Path | None = KEY, json_out: bool = JSON) -> None:  # fmt: skip
    """Each progression criterion: estimate, interval, rule and status (coloured)."""
    result = _computed("progression", config, data, out, json_out, blinded=blinded, shareable=shareable, key=key)
    _show(result, ("progression",), json_out, out)


def outcomes(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path | None = OUT,
    blinded: bool = BLINDED,
    shareable: bool = SHAREABLE,
    key: Path | None = KEY,
    json_out: bool = JSON,
) -> None:
    """Estimates with intervals for every outcome under every configured analysis (no p-values unless asked)."""
    result = _computed("outcomes", config, data, out, json_out, blinded=blinded, shareable=shareable, key=key)
    if json_out:
        from advance_trial.cli._render import print_tables_json

        print_tables_json({"outcomes": result.tables["outcomes"]} if "outcomes" in result.tables else {})
        return
    if "outcomes" not in result.tables:
        from advance_trial.cli._render import shown, stdout

        stdout.print(f"{shown(result.config.trial.id if result.config else config)} configures no outcomes")
    _show(result, ("outcomes",), json_out, out)


#: The tables beside the plan that ``plan`` prints (the forecast's bands go to --json and --out only).
PLAN_TABLES = ("plan", "plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast")


def plan(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path | None = OUT,
    pilot: Path | None = typer.Option(
        None,
        "--pilot",
        help="The feasibility trial's config: CONFIG is then the definitive trial's (its planning block and size), "
        "--data the pilot's data.",
    ),  # fmt: skip
    json_out: bool = JSON,
) -> None:
    """Men per arm for the definitive trial from the pilot's SD, correlation, ICC and retention, every step shown."""
    result = _computed("plan", config, data, out, json_out, pilot=pilot)
    if json_out:
        from advance_trial.cli._render import print_json

        print_json(plan_json(result))
        return
    _show(result, PLAN_TABLES, json_out, out)


def plan_json(result: "RunResult") -> dict[str, Any]:
    """What ``plan --json`` prints: the plan, the sizes per arm (configured and optimal allocation), the pilot's
    SD, the sensitivity grid with what moves the total most, the forecast, and the paragraphs."""
    from advance_trial.cli._render import records

    tables = result.tables

    def rows(name: str) -> list[dict[str, Any]]:
        return records(tables[name].data) if name in tables else []

    arms = tables["plan_arms"].data if "plan_arms" in tables else None
    return {
        "plan": rows("plan"),
        "per_arm": records(arms[arms["allocation"] == "configured"]) if arms is not None else [],
        "optimal": records(arms[arms["allocation"] == "optimal"]) if arms is not None else [],
        "pilot_sd": rows("plan_sd"),
        "sensitivity": {"grid": rows("plan_sensitivity"), "moves_most": result.definitive.most},
        "forecast": {"summary": rows("recruitment_forecast"), "bands": rows("recruitment_forecast_bands")},
        "paragraph": result.definitive.paragraphs,
    }
