"""``advance-trial outcomes``: score the questionnaires and run every configured outcome analysis."""

from pathlib import Path

import typer

from advance_trial.cli._options import CONFIG_ARG, DATA, JSON


def outcomes(
    config: Path = CONFIG_ARG,
    data: Path = DATA,
    out: Path | None = typer.Option(None, "--out", help="Also write outcomes, scores and the forest plot here."),
    json_out: bool = JSON,
) -> None:
    """Estimates with intervals for every outcome under every configured analysis (no p-values unless asked)."""
    from rich.table import Table as RichTable
    from rich.text import Text

    from advance_trial.cli._render import print_tables_json, shown, stdout, visible
    from advance_trial.output.tables import format_number, write_tables
    from advance_trial.pipeline import load_analysis, outcome_tables, write_figures

    cfg, ads = load_analysis(config, data)
    tables = outcome_tables(cfg, ads)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        written = write_tables(tables.values(), out) | write_figures(cfg, tables, out)
        if not json_out:
            stdout.print(f"wrote {len(written)} files to {shown(out)}")
    if json_out:
        print_tables_json({"outcomes": tables["outcomes"]} if tables else {})
        return
    if not tables:
        stdout.print(f"{shown(cfg.trial.id)} configures no outcomes")
        return
    t = tables["outcomes"]
    view = RichTable(title=shown(t.title), title_justify="left")
    for col in ("outcome", "analysis", "effect", "estimate", "interval", "n"):
        view.add_column(col, justify="right" if col in ("estimate", "n") else "left", overflow="fold")
    for r in t.data.itertuples():
        analysis = f"{r.analysis} [{r.threshold}]" if r.threshold else r.analysis
        interval = f"{format_number(r.ci_lower)} to {format_number(r.ci_upper)}"
        if r.status != "estimated":
            interval = f"not estimable: {r.reason}"
        cells = (r.outcome, analysis, r.effect, format_number(r.estimate), interval, str(r.n_analysed))
        view.add_row(*(shown(c) for c in cells))
    stdout.print(view)
    for note in t.footnotes:
        stdout.print(Text(visible(note), style="dim"))
