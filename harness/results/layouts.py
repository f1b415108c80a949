"""Table layouts: what a board's tables show, before any renderer draws them.

The leaderboard has one row per report row (``summary.KEY``) and one column per metric in a
named paper order (the catalogue's ``COLUMN_SETS``) with ↑/↓ arrows; a cell is ``format_cell`` of
the row's statistics, ratios shown as percentages with one decimal, as papers print them; the best
shown value of each directed column is marked (test doubles, as the registry marks them,
excluded; on speed columns the floors too). The same table of rows averaged over experiment axes
(``summary.mean_over_axes``) is the "mean over" layout. Per experiment axis, a pivot table puts
the axis values in columns (Gan et al.'s layout); per paper table, a comparison puts ours beside
the paper's numbers with the delta ours − paper in the paper's units, flagged where ours were
not made on the paper's protocol. The board's notes say what each ± is.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.errors import ConfigError, did_you_mean
from harness.metrics.catalogue import (
    COLUMN_SETS,
    DEFAULT_COLUMN_SET,
    FRACTION,
    TIMING,
    VALUE,
    Metric,
    metric_named,
)
from harness.papers import PaperColumn, PaperTable
from harness.registry import test_doubles, unranked_on_speed
from harness.results.summary import (
    CONDITION,
    KEY,
    SEEDS,
    SEQUENCES,
    axis_values,
    spread_of,
)

HEADERS = {"dataset": "Dataset", "split": "Split", "axes": "Axes", "detections": "Detections"}
HEADERS |= {"method": "Method", "ablation": "Ablation"}
TIMING_SHOWN = ("fps", "batched_fps", "latency_p50_ms")


def default_columns(frame: pd.DataFrame) -> str | list[str]:
    """The columns of results without chosen ones: for single-object results only, the ``sot``
    metrics they have (results stored before TimeIoU existed lack it), for re-identification
    results only the ``reid`` set, else the ``mot`` set."""
    metrics = set(frame["metric"])
    if "IoU" in metrics and not metrics & set(COLUMN_SETS[DEFAULT_COLUMN_SET]):
        return [name for name in COLUMN_SETS["sot"] if name in metrics]
    if "R1" in metrics and not metrics & set(COLUMN_SETS[DEFAULT_COLUMN_SET]):
        return "reid"
    return DEFAULT_COLUMN_SET


def resolve_columns(columns: str | Sequence[str] | None = None) -> list[str]:
    """A named column set (``None`` = the default) or an explicit list of metric names."""
    if columns is None or isinstance(columns, str):
        name = columns or DEFAULT_COLUMN_SET
        if name not in COLUMN_SETS:
            raise ConfigError(
                f"unknown column set {name!r}" + did_you_mean(name, list(COLUMN_SETS))
            )
        return list(COLUMN_SETS[name])
    if not columns:
        raise ConfigError("no report columns given")
    for name in columns:
        metric_named(name)
    return list(columns)


def format_cell(info: Metric, mean: float, std: float, n: int) -> str:
    """``mean ± std`` as papers print it (std only when ``n > 1``); ``—`` when missing."""
    if not np.isfinite(mean):
        return "—"
    text = info.format(mean)
    if n > 1 and np.isfinite(std):
        text += " ± " + info.format(std, spread=True)
    return text


def format_delta(info: Metric, delta: float) -> str:
    """A signed delta already in shown units (percentage points for fractions)."""
    if info.integral and float(delta).is_integer():
        return f"{delta:+,.0f}"
    return f"{delta:+,.{info.decimals}f}"


@dataclass(frozen=True)
class Cell:
    """A table cell: its text and its mark, "best" (the best shown value of its column),
    "better" or "worse" (ours against the paper, by the column's direction) or ""."""

    text: str
    mark: str = ""


@dataclass(frozen=True)
class Layout:
    """A table ready to render: caption, header, cells, and which columns are numeric (those
    before the first numeric one label the rows); ``flags``, warnings shown beside it (a paper
    comparison not made on the paper's protocol); ``collapsed``: folded away in HTML until
    opened (the long leaderboard below a board's paper tables)."""

    heading: str
    caption: str
    header: list[str]
    rows: list[list[Cell]]
    numeric: list[bool]
    flags: tuple[str, ...] = ()
    collapsed: bool = False

    @property
    def labels(self) -> int:
        return self.numeric.index(True)


def shown_metrics(summary: pd.DataFrame, metrics: list[str]) -> list[str]:
    """The leaderboard's metric columns: ``metrics``, then the timed ``TIMING_SHOWN`` that have a
    value."""
    timed = [
        t
        for t in TIMING_SHOWN
        if t not in metrics and summary.get(f"{t}_mean", pd.Series(dtype=float)).notna().any()
    ]
    return metrics + timed


def leaderboard_layout(
    summary: pd.DataFrame,
    metrics: list[str],
    title: str,
    spreads: dict[str, Spread],
    collapsed: bool = False,
) -> Layout:
    """One row per ``summarize`` row: its key, ``n`` (seeds) and a cell per shown metric, the
    best of each directed column marked among the rows of the same ``CONDITION``."""
    over = "seeds or sequences (see the notes)" if SEQUENCES in spreads else "seeds"
    caption = f"{title}: combined over each split's sequences; mean ± std over {over}."
    header, rows, numeric = _metric_table(summary, metrics, ("n", summary["n_seeds"]))
    return Layout("Leaderboard", caption, header, rows, numeric, collapsed=collapsed)


def axis_mean_layout(means: pd.DataFrame, metrics: list[str], axes: list[str]) -> Layout:
    """The leaderboard's rows averaged over the values of ``axes`` (``mean_over_axes``'s
    ``means``): a row per key without those axes, how many values it averages, and a cell per
    shown metric, mean ± sample std over the values."""
    named = ", ".join(axes)
    caption = (
        f"Mean over {named}: each row the mean of the leaderboard's rows over the values of "
        f"{named} (a row of the leaderboard is one value), ± their sample std (ddof 1)."
    )
    count = (f"{named} values", means["n_values"])
    header, rows, numeric = _metric_table(means, metrics, count)
    return Layout(f"Mean over {named}", caption, header, rows, numeric)


def _metric_table(
    summary: pd.DataFrame, metrics: list[str], count: tuple[str, pd.Series]
) -> tuple[list[str], list[list[Cell]], list[bool]]:
    """Header, rows and numeric flags of a table of ``summary``'s rows: the key columns, the
    ``count`` column (header, values) and a cell per shown metric, the best of each directed
    column marked among the rows of the same ``CONDITION`` (test doubles never; on timing
    columns, the floors neither)."""
    shown = [(name, metric_named(name)) for name in shown_metrics(summary, metrics)]
    labels = _label_keys(summary)
    columns = [[Cell(text or "—") for text in summary[k]] for k in labels]
    columns.append([Cell(str(int(n))) for n in count[1]])
    # the best of a column among the trackers that ran on the same data and detections
    accuracy_ranked = ~summary["method"].isin(test_doubles())
    speed_ranked = ~summary["method"].isin(unranked_on_speed())
    condition = summary.groupby(CONDITION, sort=False).ngroup()
    missing = pd.Series(math.nan, index=summary.index)
    for name, info in shown:
        ranked = speed_ranked if info.family == TIMING else accuracy_ranked
        means = summary.get(f"{name}_mean", missing).astype(float)
        stds = summary.get(f"{name}_std", missing).astype(float)
        counts = spread_of(summary, name)["n"].astype(int)
        best = {c: _best_shown(info, means[ranked & (condition == c)]) for c in set(condition)}
        columns.append(
            [
                Cell(
                    format_cell(info, mean, std, n),
                    "best" if rank and _shown(info, mean) == best[c] else "",
                )
                for mean, std, n, rank, c in zip(means, stds, counts, ranked, condition)
            ]
        )
    header = [HEADERS[k] for k in labels] + [count[0]] + [i.header for _, i in shown]
    rows = [list(row) for row in zip(*columns)]
    numeric = [False] * len(labels) + [True] * (len(header) - len(labels))
    return header, rows, numeric


def _label_keys(summary: pd.DataFrame) -> list[str]:
    """The key columns a table shows: ``axes`` only where some row has axis values."""
    return [k for k in KEY if k != "axes" or summary["axes"].astype(bool).any()]


def pivot_layout(summary: pd.DataFrame, axis: str, name: str) -> Layout:
    """Gan et al.'s table layout: one row per dataset variant and method, one column per value of
    ``axis``, cells = metric ``name``'s mean ± its spread."""
    info = metric_named(name)
    axes = [axis_values(label) for label in summary["axes"]]
    values = list(dict.fromkeys(a[axis] for a in axes if axis in a))
    others = [", ".join(f"{k}={v}" for k, v in a.items() if k != axis) for a in axes]
    keys = ["dataset", "split", "detections", "method", "ablation"]
    rows: dict[tuple, dict[str, Cell]] = {}
    counts = spread_of(summary, name)["n"].astype(int)
    for i, record in summary.iterrows():
        if axis not in axes[i]:
            continue
        row = (*(record[k] for k in keys[:2]), others[i], *(record[k] for k in keys[2:]))
        rows.setdefault(row, {})[axes[i][axis]] = Cell(
            format_cell(info, record[f"{name}_mean"], record[f"{name}_std"], counts[i])
        )
    with_others = any(row[2] for row in rows)
    header = ["Dataset", "Split", *(["Other axes"] if with_others else [])]
    header += ["Detections", "Method", "Ablation", *(f"{axis}={value}" for value in values)]
    cells = [
        [
            *(Cell(str(text) or "—") for j, text in enumerate(row) if j != 2 or with_others),
            *(found.get(value, Cell("—")) for value in values),
        ]
        for row, found in rows.items()
    ]
    labels = len(header) - len(values)
    over = " or ".join(dict.fromkeys(spread_of(summary, name)["spread"]))
    caption = f"{info.label} by {axis}: mean ± std over {over} (see the notes)."
    heading = f"{info.label} by {axis}"
    return Layout(heading, caption, header, cells, [False] * labels + [True] * len(values))


@dataclass
class Spread:
    """The cells of a board whose ± spreads one way: how many each spreads over, and the labels
    of their metrics (both in order of appearance)."""

    counts: dict[int, None]
    labels: dict[str, None]


def spreads_shown(tables: Sequence[tuple[pd.DataFrame, list[str]]]) -> dict[str, Spread]:
    """Per spread (``SEEDS``, ``SEQUENCES``, an axis's values), the cells that show a ± among
    those of metrics ``names`` in each (summary, names) of ``tables``."""
    spreads: dict[str, Spread] = {}
    for summary, names in tables:
        for name in (n for n in names if f"{n}_mean" in summary.columns):
            of_name = spread_of(summary, name)
            shown = (
                np.isfinite(summary[f"{name}_mean"].astype(float))
                & np.isfinite(summary[f"{name}_std"].astype(float))
                & (of_name["n"] > 1)
            )
            for spread, count in zip(of_name["spread"][shown], of_name["n"][shown]):
                found = spreads.setdefault(spread, Spread({}, {}))
                found.counts[int(count)] = None
                found.labels[metric_named(name).label] = None
    return spreads


def _spread_notes(spreads: dict[str, Spread]) -> list[str]:
    """What each ± of a board is: "± : sample std over 3 seeds (ddof 1) ..."; for metrics
    averaged over sequences in one-seed rows, "... std over 500 sequences (ddof 0) ..."; for rows
    averaged over an axis (``mean_over_axes``), "... std over 25 fold values (ddof 1) ..."."""

    def over(found: Spread, things: str) -> str:
        counts = list(found.counts)
        return f"{counts[0]:,} {things}" if len(counts) == 1 else f"each row's {things}"

    notes = []
    if SEEDS in spreads:
        notes.append(
            f"± : sample std over {over(spreads[SEEDS], SEEDS)} (ddof 1) of the COMBINED values."
        )
    if SEQUENCES in spreads:
        found = spreads[SEQUENCES]
        notes.append(
            f"± of {', '.join(found.labels)} in one-seed rows: std over "
            f"{over(found, SEQUENCES)} (ddof 0) of the per-sequence values (one sample each), "
            "whose mean is the COMBINED value."
        )
    for spread, found in spreads.items():
        if spread not in (SEEDS, SEQUENCES):
            notes.append(
                f"± of {', '.join(found.labels)} in rows averaged over {spread}: sample std over "
                f"{over(found, spread)} (ddof 1) of the rows' means, one per value."
            )
    return notes + ["n is the number of seeds (no ± over seeds when n = 1)."]


def _number(text: str) -> float:
    """The number a formatted value shows ("1,234.5" -> 1234.5)."""
    return float(text.replace(",", ""))


def _shown(info: Metric, x: float) -> float:
    """``x`` rounded as a cell shows it (NaN stays NaN)."""
    return _number(info.format(x)) if np.isfinite(x) else math.nan


def _best_shown(info: Metric, means: pd.Series) -> float | None:
    """The best shown value among ``means`` by the metric's direction; None when the metric has
    no direction or the shown values do not differ (nothing to single out)."""
    values = {_shown(info, x) for x in means if np.isfinite(x)}
    if info.higher_is_better is None or len(values) < 2:
        return None
    return max(values) if info.higher_is_better else min(values)


def _in_paper_units(info: Metric, column: PaperColumn) -> Metric:
    """``info`` formatting values already in ``column``'s units: a fraction printed as 0..1
    with the paper's decimals, a percentage with the catalogue's."""
    if info.unit != FRACTION:
        return info
    decimals = column.decimals if column.unit == "fraction" else info.decimals
    return dataclasses.replace(info, unit=VALUE, decimals=decimals)


def comparison_layout(table: PaperTable, tidy: pd.DataFrame, flags: Sequence[str] = ()) -> Layout:
    """Ours / paper (Δ) per paper row and column, from ``compare_with_paper``'s ``tidy``; a Δ
    marked better or worse by the column's direction; ``flags`` beside the table
    (``protocol_flags``)."""
    header = ["Paper row", "Ours", "Detections", "n"]
    header += [f"{c.name} {'↑' if c.direction == 'up' else '↓'}" for c in table.columns]
    rows = []
    for (paper_row, ref, detections), cells in tidy.groupby(
        ["paper_row", "ref", "detections"], sort=False, dropna=False
    ):
        n = int(cells["n_seeds"].max())
        ours = ref if isinstance(ref, str) else "—"  # a row trackbench does not run: no ref
        row = [Cell(paper_row), Cell(ours), Cell(detections or "—"), Cell(str(n))]
        for column, cell in zip(table.columns, cells.to_dict("records")):
            info = _in_paper_units(metric_named(cell["metric"]), column)
            count = int(cell["ours_n"]) if isinstance(cell.get("spread"), str) else n
            ours = format_cell(info, cell["ours_mean"], cell["ours_std"], count)
            paper = cell["paper_printed"]
            if info.integral and np.isfinite(cell["paper"]):
                paper = info.format(cell["paper"])  # counts read alike on both sides
            text, mark = f"{ours} / {paper}", ""
            if np.isfinite(cell["delta"]):
                delta = format_delta(info, cell["delta"])
                text += f" ({delta})"
                if _number(delta):  # a delta shown as zero is neither
                    up = _number(delta) > 0
                    mark = "better" if up == (cell["direction"] == "up") else "worse"
            row.append(Cell(text, mark))
        rows.append(row)
    page = f", page {table.page}" if table.page is not None else ""
    datasets = table.datasets
    caption = (
        f"{table.caption} Source: {table.paper} {table.table}{page} ({table.source}). "
        f"Dataset{'s' if len(datasets) > 1 else ''} {', '.join(datasets)}, split {table.split}. "
        f"Protocol: {table.protocol} "
        "Cells: ours / paper (Δ = ours − paper, in the paper's units)."
    )
    numeric = [False] * 3 + [True] * (len(header) - 3)
    return Layout(f"Paper: {table.id}", caption, header, rows, numeric, tuple(flags))


def board_notes(
    spreads: dict[str, Spread], methods: pd.Series, with_timings: bool, with_papers: bool
) -> list[str]:
    """The board's notes; test doubles and floors are named where the board has them
    (``methods``)."""
    doubles = ", ".join(sorted(test_doubles() & set(methods))) or "none here"
    floors = ", ".join(sorted((unranked_on_speed() - test_doubles()) & set(methods)))
    notes = [
        *_spread_notes(spreads),
        "Ratios are percentages; counts are totals (one decimal when a mean is fractional).",
        "↑ higher is better, ↓ lower is better.",
        (
            "Bold: the best value of a column among the trackers run on the same data (dataset, "
            f"split, axis values, detections); test doubles ({doubles}) are not ranked."
        ),
    ]
    if with_papers:
        notes.append("HTML board: a Δ is green where ours beats the paper, red where it trails.")
    if with_timings:
        unranked = f"test doubles and floors ({floors})" if floors else "test doubles"
        notes.append(
            "fps and p50 ms time the tracker only (warm-up excluded); the speed columns' bold "
            f"and the speed plot leave out {unranked}, whose fps is no tracker's speed."
        )
    return notes
