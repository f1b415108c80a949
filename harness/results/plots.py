"""Plots of a board as matplotlib figures (seaborn's palette): accuracy bars, curves (IoU over
time, success), a metric by an experiment axis, and speed against accuracy.

No plot averages over axis values: each value is a bar, a panel or an x position of its own.
Single-object results take no detections, so their "none" is never shown. A legend of more than
``LEGEND_INSIDE`` entries goes outside the plot, beside it.
"""

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
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from harness.errors import FormatError
from harness.experiment import NO_DETECTIONS
from harness.metrics.catalogue import FRACTION, metric_named
from harness.registry import DEFAULT_ABLATION, method_label, unranked_on_speed
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
LEGEND_INSIDE = 4
"""The most entries a legend has inside its plot; a longer one goes beside it."""
# A "$" in a method name is text, never mathtext.
_PLOT_STYLE: dict[RcKeyType, Any] = {"text.parse_math": False}
_BAR_INCHES = 0.18  # the height of a bar
_PANEL_INCHES = (4.8, 3.4)  # a line plot's panel


def where_label(record: dict[str, Any]) -> str:
    """``dataset/split[axes]/detections`` of a row, its detections left out when they are
    "none" (a single-object row's)."""
    detections = "" if record["detections"] == NO_DETECTIONS else record["detections"]
    blank = {"detections": detections, "method": "", "ablation": DEFAULT_ABLATION}
    return row_label({**record, **blank}).strip()


def place_legend(ax: Axes) -> None:
    """The legend of ``ax``'s lines: inside at the best place, or beside the plot when it has
    more than ``LEGEND_INSIDE`` entries."""
    if len(ax.get_legend_handles_labels()[1]) > LEGEND_INSIDE:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    else:
        ax.legend(fontsize="small")


@matplotlib.rc_context(_PLOT_STYLE)
def accuracy_figure(frame: pd.DataFrame, metrics: list[str]) -> tuple[Figure, list[str]]:
    """Horizontal bars of ``PLOT_METRICS`` (else the first two report columns), and the metrics
    plotted: a panel per metric and dataset split, in it a bar per method and condition (axis
    values, and the detection level where the results have several: a colour each, named by a
    legend beside the panels), its length the mean over seeds, its error bar their sample std."""
    combined = combined_rows(frame)
    available = set(combined["metric"])
    fallback = [m for m in metrics if m in available][:2]
    plotted = [m for m in PLOT_METRICS if m in available] or fallback
    if not plotted:
        raise FormatError(f"results hold none of the metrics {list(PLOT_METRICS) + metrics}")
    data = combined[combined["metric"].isin(plotted)].copy()
    data["method"] = [method_label(m, a) for m, a in zip(data["method"], data["ablation"])]
    axis_names = list(dict.fromkeys(name for label in data["axes"] for name in axis_values(label)))
    levels = data["detections"].nunique() > 1
    data["panel"] = [
        where_label({**record, "axes": "", "detections": "" if levels else record["detections"]})
        for record in data[CONDITION].to_dict("records")
    ]
    named = ["axes"] * bool(axis_names) + ["detections"] * levels
    data["bar"] = data[named].agg(", ".join, axis=1) if named else ""
    bars = (
        data.groupby(["panel", "metric", "method", "bar"], sort=False)["value"]
        .agg(["mean", "std"])
        .reset_index()
    )
    panels = list(dict.fromkeys(bars["panel"]))
    conditions = list(dict.fromkeys(bars["bar"]))
    methods = {p: list(dict.fromkeys(bars.loc[bars["panel"] == p, "method"])) for p in panels}
    heights = [1.2 + _BAR_INCHES * len(methods[p]) * len(conditions) for p in panels]
    figure, axes = plt.subplots(
        len(panels),
        len(plotted),
        figsize=(4.6 * len(plotted) + 1.5, sum(heights)),
        squeeze=False,
        sharex="col",
        layout="constrained",
        gridspec_kw={"height_ratios": heights},
    )
    colours = dict(zip(conditions, sns.color_palette(n_colors=len(conditions))))
    percent = all(metric_named(m).unit == FRACTION for m in plotted)
    scale = 100.0 if percent else 1.0
    thickness = 0.8 / len(conditions)
    for panel, row in zip(panels, axes):
        position = {method: i for i, method in enumerate(methods[panel])}
        for metric, ax in zip(plotted, row):
            mine = bars[(bars["panel"] == panel) & (bars["metric"] == metric)]
            for j, condition in enumerate(conditions):
                shown = mine[mine["bar"] == condition]
                offset = (j - (len(conditions) - 1) / 2) * thickness
                ax.barh(
                    [position[m] + offset for m in shown["method"]],
                    shown["mean"] * scale,
                    height=thickness,
                    xerr=shown["std"] * scale,  # NaN (one seed): no error bar
                    color=colours[condition],
                    label=condition,
                    error_kw={"ecolor": "0.25", "capsize": 2, "elinewidth": 1},
                )
            ax.set_yticks(range(len(methods[panel])), methods[panel])
            ax.set_ylim(len(methods[panel]) - 0.5, -0.5)  # the first method on top
            label = metric_named(metric).label
            ax.set_xlabel(f"{label} (%)" if percent else label)
            ax.tick_params(labelbottom=True)  # on every panel, though they share the scale
            ax.set_title(f"{panel}: {label}" if panel else label, fontsize="medium")
    if len(conditions) > 1:
        handles = [Patch(color=colours[c], label=c) for c in conditions]
        title = ", ".join(axis_names + ["detections"] * levels)
        figure.legend(handles=handles, title=title, loc="outside right upper")
    return figure, plotted


CURVE_PLOTS = {  # curve name -> file, x label, y label
    "iou_over_time": ("iou_over_time.png", "time step t", "mean IoU"),
    "success": ("success.png", "IoU threshold", "success rate"),
}


def _panel_grid(count: int, sharey: bool = False) -> tuple[Figure, np.ndarray]:
    """A figure of ``count`` panels, three to a row, the unused ones hidden."""
    columns = min(3, count)
    rows = math.ceil(count / columns)
    width, height = _PANEL_INCHES
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(width * columns + 1.5, height * rows),
        squeeze=False,
        sharey=sharey,
        layout="constrained",
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return figure, axes


@matplotlib.rc_context(_PLOT_STYLE)
def plot_curves(curves: pd.DataFrame, out: Path) -> list[Path]:
    """Each stored curve kind (``CURVE_PLOTS``) as lines per method (mean over seeds), one panel
    per dataset variant with its own legend; a success plot's legend gives each method's AUC
    (the curve's mean)."""
    data = keyed(curves, ["seed", "sequence", "curve", "x", "y"], "curves")
    data = data[data["sequence"] == COMBINED]
    data["method"] = [method_label(m, a) for m, a in zip(data["method"], data["ablation"])]
    data["panel"] = [where_label(record) for record in data[CONDITION].to_dict("records")]
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
        figure, axes = _panel_grid(len(panels), sharey=True)
        for ax, panel in zip(axes.flat, panels):
            for method, line in mean[mean["panel"] == panel].groupby("method", sort=False):
                label = f"{method} (AUC {line['y'].mean():.3f})" if name == "success" else method
                ax.plot(line["x"], line["y"], color=colours[method], label=label)
            ax.set_title(panel, fontsize="medium")
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            place_legend(ax)
        written.append(save_figure(figure, out / file))
    return written


@matplotlib.rc_context(_PLOT_STYLE)
def by_axis_figure(summary: pd.DataFrame, name: str, axis: str) -> Figure:
    """Metric ``name`` (mean over seeds) against the values of ``axis``: a panel per dataset
    variant (its other axis values included), a line per method; e.g. IoU against test length
    (Gan et al.)."""
    info = metric_named(name)
    rows = []
    for record in summary.to_dict("records"):
        values = axis_values(record["axes"])
        if axis in values:
            others = ", ".join(f"{k}={v}" for k, v in values.items() if k != axis)
            rows.append(
                {
                    "value": values[axis],
                    "score": record[f"{name}_mean"] * info.scale,
                    "panel": where_label({**record, "axes": others}),
                    "method": method_label(record["method"], record["ablation"]),
                }
            )
    data = pd.DataFrame(rows)
    panels = list(dict.fromkeys(data["panel"]))
    figure, axes = _panel_grid(len(panels), sharey=True)
    colours = dict(
        zip(data["method"].unique(), sns.color_palette(n_colors=data["method"].nunique()))
    )
    for ax, panel in zip(axes.flat, panels):
        for method, line in data[data["panel"] == panel].groupby("method", sort=False):
            ax.plot(line["value"], line["score"], marker="o", color=colours[method], label=method)
        ax.set_title(panel, fontsize="medium")
        ax.set_xlabel(axis)
        ax.set_ylabel(info.label + (" (%)" if info.unit == FRACTION else ""))
        place_legend(ax)
    return figure


class _PlainLogFormatter(ticker.LogFormatter):
    """Log-axis tick labels as plain numbers (0.5, 10, 1,000): no mathtext, which the plots
    turn off so that a "$" in a method name stays text."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not super().__call__(x, pos):  # the ticks LogFormatter leaves unlabelled
            return ""
        return f"{x:,.{max(0, -math.floor(math.log10(x)))}f}"


@matplotlib.rc_context(_PLOT_STYLE)
def speed_accuracy_figure(summary: pd.DataFrame, metric: str) -> Figure | None:
    """Mean fps (log x) against mean ``metric`` of ``summarize``'s rows (a point each), error
    bars = std over seeds, a colour per method and, where the rows have several detection
    levels, a marker per level; test doubles, floors and untimed rows left out (None when no row
    is left)."""
    if "fps_mean" not in summary.columns:
        return None
    ranked = ~summary["method"].isin(unranked_on_speed())
    timed = summary[ranked & np.isfinite(summary["fps_mean"])]
    if timed.empty:
        return None
    info = metric_named(metric)
    scale = info.scale
    data = timed.assign(
        method=[method_label(m, a) for m, a in zip(timed["method"], timed["ablation"])],
        score=timed[f"{metric}_mean"] * scale,
    )
    levels = data["detections"].nunique() > 1
    entries = data["method"].nunique() + (1 + data["detections"].nunique()) * levels
    fig, ax = plt.subplots(figsize=(7, max(4.2, 0.25 * entries)), layout="constrained")
    ax.errorbar(
        data["fps_mean"],
        data["score"],
        xerr=data["fps_std"].fillna(0),
        yerr=(data[f"{metric}_std"] * scale).fillna(0),
        fmt="none",
        ecolor="0.6",
        zorder=1,
    )
    style = "detections" if levels else None
    sns.scatterplot(
        data=data, x="fps_mean", y="score", hue="method", style=style, s=60, ax=ax, zorder=2
    )
    ax.set(
        xscale="log",
        xlabel="frames per second (tracker only)",
        ylabel=f"{info.label} (%)" if scale > 1 else info.label,
    )
    ax.xaxis.set_major_formatter(_PlainLogFormatter())
    ax.xaxis.set_minor_formatter(_PlainLogFormatter())
    ax.tick_params(axis="x", which="minor", labelsize="small")
    ax.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")  # points fill the plot
    return fig


@matplotlib.rc_context(_PLOT_STYLE)
def save_figure(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
