"""A board's plots, read through their figure objects: one bar per axis value (never averaged),
legends beside the plot when long, no "none" detections for single-object results, no
overlapping labels, and neither test doubles nor the floor on the speed axis."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from harness import registry
from harness.results.plots import (
    LEGEND_INSIDE,
    accuracy_figure,
    by_axis_figure,
    speed_accuracy_figure,
)
from harness.results.summary import summarize

KEY = {"experiment": "e", "split": "test", "detections": "none", "seed": 0}
LONG_NAMES = ["rectracker-att-1", "rectracker-att-3", "kcf", "convtracker", "constant-box"]


def single_object(values: dict[tuple[str, str, str, str], list[float]]) -> pd.DataFrame:
    """One-seed single-object results {(dataset, method, ablation, axes): IoU per sequence},
    the COMBINED row their mean, as the single-object task stores them."""
    rows = []
    for (dataset, method, ablation, axes), ious in values.items():
        base = {**KEY, "dataset": dataset, "axes": axes, "method": method, "ablation": ablation}
        base["metric"] = "IoU"
        rows += [{**base, "sequence": f"s{i}", "value": v} for i, v in enumerate(ious)]
        rows.append({**base, "sequence": "COMBINED", "value": float(np.mean(ious))})
    return pd.DataFrame(rows)


def lengths_frame(datasets=("mnist-single-same",), methods=LONG_NAMES) -> pd.DataFrame:
    """Each method on each dataset at lengths 20 and 40, the IoU falling with the length."""
    return single_object(
        {
            (dataset, method, "default", f"length={length}"): [0.5 / (i + 1) * 20 / length] * 2
            for dataset in datasets
            for i, method in enumerate(methods)
            for length in (20, 40)
        }
    )


def texts(figure: Figure) -> list[str]:
    """Every text drawn in ``figure``: titles, labels, tick labels, legend entries."""
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]


def bars(ax) -> dict[tuple[float, str], float]:
    """(y centre, colour) -> length of each bar of a horizontal bar panel."""
    return {
        (round(p.get_y() + p.get_height() / 2, 6), str(p.get_facecolor())): p.get_width()
        for p in ax.patches
    }


def test_every_axis_value_is_a_bar_of_its_own_colour_never_averaged():
    figure, plotted = accuracy_figure(lengths_frame(), ["IoU"])
    assert plotted == ["IoU"]
    [ax] = figure.axes
    heights = sorted(bars(ax).values(), reverse=True)
    # 5 methods x 2 lengths: each bar is one (method, length) cell's IoU, in percent
    expected = [100 * 0.5 / (i + 1) * 20 / n for i in range(5) for n in (20, 40)]
    np.testing.assert_allclose(heights, sorted(expected, reverse=True))
    assert len({colour for _, colour in bars(ax)}) == 2  # a colour per length
    [legend] = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["length=20", "length=40"]
    assert legend.get_title().get_text() == "length"
    assert [label.get_text() for label in ax.get_yticklabels()] == LONG_NAMES
    plt.close(figure)


def test_single_object_plots_never_say_detections_none(tmp_path):
    frame = lengths_frame(datasets=("mnist-single-same", "mnist-single-diff"))
    figure, _ = accuracy_figure(frame, ["IoU"])
    by_length = by_axis_figure(summarize(frame), "IoU", "length")
    for drawn in (figure, by_length):
        words = " ".join(texts(drawn)).lower()
        assert "none" not in words and "detections" not in words
        assert "mnist-single-same/test" in words and "mnist-single-diff/test" in words
        plt.close(drawn)


def test_several_detection_levels_are_colours_named_in_the_legend():
    clean = single_object({("sprites-mot", "sort", "default", ""): [0.8, 0.6]})
    frame = pd.concat([clean.assign(detections="clean"), clean.assign(detections="heavy")])
    frame.loc[frame["detections"] == "heavy", "value"] -= 0.5
    figure, _ = accuracy_figure(frame, ["IoU"])
    [legend] = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["clean", "heavy"]
    assert sorted(np.round(list(bars(figure.axes[0]).values()), 6)) == [20.0, 70.0]
    plt.close(figure)


def extents(figure: Figure) -> list[tuple[str, object]]:
    """(text, window extent) of every visible, non-empty text of ``figure`` outside legends."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = []
    for ax in figure.axes:
        labelled = [*ax.get_yticklabels(), *ax.get_xticklabels(), ax.title, ax.xaxis.label]
        found += [(t.get_text(), t.get_window_extent(renderer)) for t in labelled]
    return [(text, box) for text, box in found if text]


def test_labels_do_not_overlap_even_with_long_names_and_many_panels():
    frame = lengths_frame(datasets=("mnist-single-same", "mnist-multi-same"))
    frame = pd.concat([frame, frame.assign(metric="TimeIoU")])
    figure, plotted = accuracy_figure(frame, ["IoU", "TimeIoU"])
    assert plotted == ["IoU", "TimeIoU"] and len(figure.axes) == 4
    drawn = extents(figure)
    overlapping = [
        (a, b)
        for (a, box_a), (b, box_b) in itertools.combinations(drawn, 2)
        if box_a.overlaps(box_b)
    ]
    assert overlapping == []
    legend = figure.legends[0].get_window_extent(figure.canvas.get_renderer())
    assert all(legend.x0 >= ax.get_window_extent().x1 for ax in figure.axes)  # beside the panels
    plt.close(figure)


@pytest.mark.parametrize("count", [LEGEND_INSIDE, LEGEND_INSIDE + 1])
def test_a_line_plot_legend_goes_beside_the_plot_past_its_limit(count):
    names = [f"method-{i}" for i in range(count)]
    figure = by_axis_figure(summarize(lengths_frame(methods=names)), "IoU", "length")
    figure.canvas.draw()
    ax = figure.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == names
    beside = legend.get_window_extent().x0 >= ax.get_window_extent().x1
    assert beside == (count > LEGEND_INSIDE)
    plt.close(figure)


def test_the_floor_is_marked_in_the_registry_and_off_the_speed_axis():
    every = registry.methods()
    assert every["constant-box"].floor and not every["kcf"].floor
    assert registry.unranked_on_speed() == registry.test_doubles() | {"constant-box"}
    frame = single_object(
        {
            ("mnist-single-same", name, "default", ""): [0.5]
            for name in ("kcf", "convtracker", "constant-box", "ground-truth-box")
        }
    )
    cells = frame[["experiment", "dataset", "split", "detections", "method", "ablation", "seed"]]
    fps = {"kcf": 1300.0, "convtracker": 1800.0, "constant-box": 4e6, "ground-truth-box": 5e6}
    timings = cells.drop_duplicates().assign(
        sequence="s0",
        frames=200,
        total_seconds=lambda t: [200 / fps[m] for m in t["method"]],
        latency_p50_ms=1.0,
        latency_p95_ms=1.0,
        peak_memory_bytes=1,
        device_name="cpu",
    )
    figure = speed_accuracy_figure(summarize(frame, timings), "IoU")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["kcf", "convtracker"]
    assert ax.get_xlim()[1] < 1e5  # 4 million fps of not moving is not on the axis
    assert "none" not in " ".join(texts(figure))
    plt.close(figure)
