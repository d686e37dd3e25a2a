"""``advance-trial checklist``: CONSORT 2025 and the pilot and feasibility extension, item by item, marked from
the trial's own config, data and allocation log."""

from pathlib import Path

import typer

from advance_trial.cli._options import CONFIG_ARG, DATA, JSON, KEY_DIR

LOG_OPTION = typer.Option(
    None, "--log", help="The allocation log (a SQLite file or a postgresql:// URL): verified, and the date the "
    "progression criteria were set checked against its first allocation.",
)  # fmt: skip


def checklist(config: Path = CONFIG_ARG, data: Path = DATA, log: str | None = LOG_OPTION,
              key_dir: Path | None = KEY_DIR, json_out: bool = JSON) -> None:  # fmt: skip
    """Every item of CONSORT 2025 and of its pilot and feasibility extension: shown in the report (and where),
    needing the authors' text, or missing data (and what to add)."""
    from rich.table import Table as RichTable
    from rich.text import Text

    from advance_trial.checklist import STATUS_LABELS, summary
    from advance_trial.cli._render import print_json, records, shown, stdout
    from advance_trial.pipeline import checklist as build

    _, frame = build(config, data, log=log, key_dir=str(key_dir) if key_dir else None)
    if json_out:
        print_json(records(frame))
        return
    styles = {"shown": "green", "authors_text": "yellow", "missing": "red"}
    for guideline, counts in summary(frame).items():
        t = RichTable(title=shown(guideline), title_justify="left")
        for col in ("Item", "Topic", "Status", "Where, or what is needed"):
            t.add_column(col, overflow="fold")
        for row in frame[frame["guideline"] == guideline].itertuples(index=False):
            detail = row.where if row.status == "shown" and not row.action else \
                "; ".join(x for x in (row.where, row.action) if x)  # fmt: skip
            t.add_row(shown(row.item), shown(row.topic),
                      f"[{styles[row.status]}]{STATUS_LABELS[row.status]}[/]", shown(detail))  # fmt: skip
        stdout.print(t)
        stdout.print(Text(f"{counts['shown']} shown, {counts['authors_text']} for the authors' text, "
                          f"{counts['missing']} missing data", style="bold"))  # fmt: skip
