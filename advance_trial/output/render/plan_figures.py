"""The planning figures: the sensitivity heat map and the recruitment forecast's bands.

Each drawing function takes the config and its table and returns the figure's SVG and PNG bytes, written
reproducibly as :func:`advance_trial.output.render.figures.figure_bytes` writes the others, in their style
(:data:`~advance_trial.output.render.figures.STYLE`: the SVG's text kept as text, so that a reader can search,
copy and translate it) and at their width. Every
word drawn is a label (the outcome's label, the words of the grid), never an id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from advance_trial.config import Config

ICC_WORDS = {"zero": "ICC 0", "estimate": "ICC estimate", "upper_limit": "ICC upper limit", "config": "ICC",
             "no_groups": "no groups"}  # fmt: skip
SD_WORDS = {"estimate": "SD estimate", "upper_limit": "SD upper limit"}
RETENTION_WORDS = {"estimate": "retention estimate", "lower_limit": "retention lower limit"}


def _drawn(draw: Any, *args: Any) -> dict[str, bytes]:
    import matplotlib

    from advance_trial.output.render.figures import STYLE, figure_bytes  # the other figures' fonts, sizes, bytes

    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        return figure_bytes(draw(*args))


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Figure, Any]:
    from advance_trial.output.render.figures import _subplots

    return _subplots(rows, cols, figsize=size, squeeze=False)


def _width() -> float:
    from advance_trial.output.render.figures import WIDTH

    return WIDTH


def _outcome_label(cfg: Config, oid: str) -> str:
    o = next((x for x in cfg.outcomes if x.id == oid), None)
    return o.label if o is not None and o.label else oid.replace("_", " ")


def sensitivity_heatmap(cfg: Config, grid: pd.DataFrame) -> dict[str, bytes]:
    """Men in all at the configured ratio: a row per ICC, a column per SD and retention, one panel per outcome."""
    return _drawn(_sensitivity, cfg, grid)


def _sensitivity(cfg: Config, grid: pd.DataFrame) -> Figure:
    import numpy as np

    outcomes = list(dict.fromkeys(grid["outcome"].astype(str)))
    fig, axes = _figure(len(outcomes), 1, (_width(), 0.6 + 2.4 * len(outcomes)))
    for ax, oid in zip(axes[:, 0], outcomes, strict=True):
        g = grid[grid["outcome"].astype(str) == oid]
        iccs = list(dict.fromkeys(zip(g["icc_source"].astype(str), g["icc"].astype(float), strict=True)))
        cols = list(dict.fromkeys(zip(g["sd_source"].astype(str), g["retention_source"].astype(str), strict=True)))
        values = np.full((len(iccs), len(cols)), np.nan)
        cells = zip(g["icc_source"].astype(str), g["icc"].astype(float), g["sd_source"].astype(str),
                    g["retention_source"].astype(str), g["n_total"].astype(float), strict=True)  # fmt: skip
        for icc_source, icc, sd_source, retention_source, n_total in cells:
            values[iccs.index((icc_source, icc)), cols.index((sd_source, retention_source))] = n_total
        ax.imshow(values, cmap="YlOrRd", aspect="auto")
        top = np.nanmax(values) if np.isfinite(values).any() else 0.0
        for i in range(len(iccs)):
            for j in range(len(cols)):
                v = values[i, j]
                ax.text(j, i, "" if not np.isfinite(v) else f"{v:,.0f}", ha="center", va="center", fontsize=8,
                        color="white" if np.isfinite(v) and v > 0.6 * top else "black")  # fmt: skip
        ax.set_yticks(range(len(iccs)))
        ax.set_yticklabels([f"{ICC_WORDS.get(w, w)} {v:.3f}" if w not in ("no_groups", "zero") else ICC_WORDS[w]
                            for w, v in iccs], fontsize=8)  # fmt: skip
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels([f"{SD_WORDS.get(s, s)},\n{RETENTION_WORDS.get(r, r)}" for s, r in cols], fontsize=8)
        ax.set_title(f"{_outcome_label(cfg, oid)}: men to randomise in all", fontsize=9)
    from advance_trial.output.render.figures import tight

    tight(fig)
    return fig


def forecast_bands(cfg: Config, bands: pd.DataFrame) -> dict[str, bytes]:
    """Predicted cumulative men by month: the median with its 80% and 95% bands, against the target and the
    deadline."""
    return _drawn(_forecast, cfg, bands)


def _forecast(cfg: Config, bands: pd.DataFrame) -> Figure:
    fig, axes = _figure(1, 1, (_width(), 3.4))
    ax = axes[0, 0]
    x = bands["month"].astype(float)
    ax.fill_between(x, bands["lower95"].astype(float), bands["upper95"].astype(float), color="#c6dbef",
                    label="95% predictive band")  # fmt: skip
    ax.fill_between(x, bands["lower80"].astype(float), bands["upper80"].astype(float), color="#6baed6",
                    label="80% predictive band")  # fmt: skip
    ax.plot(x, bands["median"].astype(float), color="black", lw=1.5, label="Median")
    target = float(bands["target"].iloc[0])
    ax.axhline(target, color="#b42318", ls="--", lw=0.9)
    ax.text(float(x.iloc[-1]), target, f"target {target:,.0f} ", va="bottom", ha="right", fontsize=8, color="#b42318")
    deadline = float(bands["deadline_months"].iloc[0]) if "deadline_months" in bands else float("nan")
    if deadline == deadline:
        ax.axvline(deadline, color="#444444", ls=":", lw=0.9)
        ax.text(deadline, 0, " deadline", rotation=90, va="bottom", ha="right", fontsize=8, color="#444444")
    ax.set_xlim(0, float(x.iloc[-1]))
    ax.set_ylim(0, target * 1.08)
    ax.set_xlabel("Months from the first site's opening")
    ax.set_ylabel("Men randomised (cumulative)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    from advance_trial.output.render.figures import tight

    tight(fig)
    return fig


__all__ = ["forecast_bands", "sensitivity_heatmap"]
