"""Seaborn plots of a board: accuracy bars, curves (IoU over time, success), a metric by an
experiment axis, and speed against accuracy."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.figure import Figure

from harness.errors import FormatError
from harness.metrics.catalogue import FRACTION, metric_named
from harness.registry import DEFAULT_ABLATION, method_label, test_doubles
from harness.results.summary import (
    COMBINED,
    CONDITION,
    axis_values,
    combined_rows,
    keyed,
    row_label,
)

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

PLOT_METRICS = ("MOTA", "IDF1")
# A "$" in a method name is text, never mathtext.
_PLOT_STYLE: dict[RcKeyType, Any] = {"text.parse_math": False}


@matplotlib.rc_context(_PLOT_STYLE)
def plot_accuracy(frame: pd.DataFrame, metrics: list[str], path: Path) -> list[str]:
    """Bars of ``PLOT_METRICS`` (else the first two report columns) per method and detection
    level, error bars = sample std over seeds; returns the metrics plotted."""
    combined = combined_rows(frame)
    available = set(combined["metric"])
    fallback = [m for m in metrics if m in available][:2]
    plotted = [m for m in PLOT_METRICS if m in available] or fallback
    if not plotted:
        raise FormatError(f"results hold none of the metrics {list(PLOT_METRICS) + metrics}")
    data = combined[combined["metric"].isin(plotted)].copy()
    data["method"] = [method_label(m, a) for m, a in zip(data["method"], data["ablation"])]
    percent = all(metric_named(m).unit == FRACTION for m in plotted)
    data["score"] = data["value"] * (100.0 if percent else 1.0)
    data["detections"] = data["detections"].replace("", "—")
    several = data["dataset"].nunique() > 1
    grid = sns.catplot(
        data=data,
        kind="bar",
        x="method",
        y="score",
        hue="detections",
        col="metric",
        row="dataset" if several else None,
        errorbar=("sd", 1),
        capsize=0.1,
        sharey=percent,
        height=3.5,
        aspect=1.3,
        col_order=plotted,
    )
    grid.set_axis_labels("", "%" if percent else "value")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", labelrotation=30)
    grid.savefig(path, dpi=100)
    plt.close(grid.figure)
    return plotted


CURVE_PLOTS = {  # curve name -> file, x label, y label
    "iou_over_time": ("iou_over_time.png", "time step t", "mean IoU"),
    "success": ("success.png", "IoU threshold", "success rate"),
}


@matplotlib.rc_context(_PLOT_STYLE)
def plot_curves(curves: pd.DataFrame, out: Path) -> list[Path]:
    """Each stored curve kind (``CURVE_PLOTS``) as lines per method (mean over seeds), one panel
    per dataset variant with its own legend; a success plot's legend gives each method's AUC
    (the curve's mean)."""
    data = keyed(curves, ["seed", "sequence", "curve", "x", "y"], "curves")
    data = data[data["sequence"] == COMBINED]
    data["method"] = [method_label(m, a) for m, a in zip(data["method"], data["ablation"])]
    data["panel"] = [
        row_label({**record, "method": "", "ablation": DEFAULT_ABLATION}).strip()
        for record in data[CONDITION].to_dict("records")
    ]
    colours = dict(
        zip(data["method"].unique(), sns.color_palette(n_colors=data["method"].nunique()))
    )
    written = []
    for name, (file, x_label, y_label) in CURVE_PLOTS.items():
        curve = data[data["curve"] == name]
        if curve.empty:
            continue
        mean = curve.groupby(["panel", "method", "x"], sort=False)["y"].mean().reset_index()
        panels = list(mean["panel"].unique())
        columns = min(3, len(panels))
        rows = math.ceil(len(panels) / columns)
        figure, axes = plt.subplots(
            rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False, sharey=True
        )
        for ax, panel in zip(axes.flat, panels):
            for method, line in mean[mean["panel"] == panel].groupby("method", sort=False):
                label = f"{method} (AUC {line['y'].mean():.3f})" if name == "success" else method
                ax.plot(line["x"], line["y"], color=colours[method], label=label)
            ax.set_title(panel, fontsize="medium")
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            ax.legend(fontsize="small")
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        figure.tight_layout()
        written.append(save_figure(figure, out / file))
    return written


@matplotlib.rc_context(_PLOT_STYLE)
def plot_by_axis(summary: pd.DataFrame, name: str, axis: str, out: Path) -> Path:
    """Metric ``name`` (mean over seeds) against the values of ``axis``, a line per method and
    dataset variant: e.g. IoU against test length (Gan et al.)."""
    info = metric_named(name)
    rows = []
    for record in summary.to_dict("records"):
        values = axis_values(record["axes"])
        if axis in values:
            others = {"axes": ", ".join(f"{k}={v}" for k, v in values.items() if k != axis)}
            rows.append(
                {
                    "value": values[axis],
                    "score": record[f"{name}_mean"] * (100 if info.unit == FRACTION else 1),
                    "line": row_label({**record, **others}),
                }
            )
    data = pd.DataFrame(rows)
    figure, ax = plt.subplots(figsize=(6.4, 4.0))
    sns.lineplot(data=data, x="value", y="score", hue="line", marker="o", sort=False, ax=ax)
    ax.set_xlabel(axis)
    ax.set_ylabel(info.label + (" (%)" if info.unit == FRACTION else ""))
    ax.legend(fontsize="small")
    return save_figure(figure, out / f"by_{axis}.png")


class _PlainLogFormatter(ticker.LogFormatter):
    """Log-axis tick labels as plain numbers (0.5, 10, 1,000): no mathtext, which the plots
    turn off so that a "$" in a method name stays text."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not super().__call__(x, pos):  # the ticks LogFormatter leaves unlabelled
            return ""
        return f"{x:,.{max(0, -math.floor(math.log10(x)))}f}"


@matplotlib.rc_context(_PLOT_STYLE)
def speed_accuracy_figure(summary: pd.DataFrame, metric: str) -> Figure | None:
    """Mean fps (log x) against mean ``metric`` of ``summarize``'s rows, error bars = std over
    seeds; test doubles and untimed rows left out (None when no row is left)."""
    if "fps_mean" not in summary.columns:
        return None
    timed = summary[~summary["method"].isin(test_doubles()) & np.isfinite(summary["fps_mean"])]
    if timed.empty:
        return None
    info = metric_named(metric)
    scale = info.scale
    data = timed.assign(
        method=[method_label(m, a) for m, a in zip(timed["method"], timed["ablation"])],
        score=timed[f"{metric}_mean"] * scale,
        detections=timed["detections"].replace("", "—"),
    )
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.errorbar(
        data["fps_mean"],
        data["score"],
        xerr=data["fps_std"].fillna(0),
        yerr=(data[f"{metric}_std"] * scale).fillna(0),
        fmt="none",
        ecolor="0.6",
        zorder=1,
    )
    sns.scatterplot(
        data=data, x="fps_mean", y="score", hue="method", style="detections", s=60, ax=ax, zorder=2
    )
    ax.set(
        xscale="log",
        xlabel="frames per second (tracker only)",
        ylabel=f"{info.label} (%)" if scale > 1 else info.label,
    )
    ax.xaxis.set_major_formatter(_PlainLogFormatter())
    ax.xaxis.set_minor_formatter(_PlainLogFormatter())
    ax.tick_params(axis="x", which="minor", labelsize="small")
    ax.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


@matplotlib.rc_context(_PLOT_STYLE)
def save_figure(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
