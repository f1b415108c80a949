"""A board: ``write_report`` writes a results frame's leaderboard as Markdown, CSV, HTML, LaTeX
and plots, with its paper comparisons, sections and provenance footer.

Input is the long frame of ``Store.metrics_frame``; a row is one ``summary.KEY``, a cell the mean
± sample std over seeds of the ``COMBINED`` value, with the std left out when there is one seed
(the ``n`` column always says how many).

A board leads with what a reader came for: where it has paper tables, those tables (each flagged
where ours were not made on the paper's protocol) and their claims come first, then the rows
averaged over the axes the papers average over (``mean_over``), then the long per-cell
leaderboard (collapsed in HTML), the axis tables and the sections.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.errors import ConfigError
from harness.papers import PaperTable
from harness.results.layouts import (
    Layout,
    axis_mean_layout,
    board_notes,
    comparison_layout,
    default_columns,
    leaderboard_layout,
    pivot_layout,
    resolve_columns,
    shown_metrics,
    spreads_shown,
)
from harness.results.paper_comparison import claim_lines, protocol_flags, summary_and_papers
from harness.results.plots import (
    accuracy_figure,
    by_axis_figure,
    plot_curves,
    save_figure,
    speed_accuracy_figure,
)
from harness.results.render import RENDERERS, Board, Section
from harness.results.sections import failure_lines, model_lines, rerun_lines, submission_lines
from harness.results.summary import axis_names, mean_over_axes

CLAIMS_HEADING = "Paper claims"
MODELS_HEADING = "Models"
FAILURES_HEADING = "Failed or unfinished cells"
SUBMISSIONS_HEADING = "Submissions (test splits, not scored here)"
RERUNS_HEADING = "Re-run cells"


def write_report(
    frame: pd.DataFrame,
    out_dir: str | Path,
    title: str,
    columns: str | Sequence[str] | None = None,
    timings: pd.DataFrame | None = None,
    papers: Sequence[PaperTable | str] | None = None,
    models: pd.DataFrame | None = None,
    failures: pd.DataFrame | None = None,
    provenance: Sequence[tuple[str, str]] = (),
    curves: pd.DataFrame | None = None,
    pivot_metric: str | None = None,
) -> list[Path]:
    """Write ``leaderboard.{md,csv,html,tex,png}`` (+ ``speed_accuracy.png`` with timings and
    ``paper_<table>.csv`` per paper table) to ``out_dir``; returns the paths written.

    ``models`` (``Store.provenance_frame``) adds the "Models" section (``model_lines``),
    ``failures`` (``Store.cells``) the "Failed or unfinished cells" section
    (``failure_lines``): a board never hides that some of its cells produced no result; the
    "Submissions" section (``submission_lines``): the zips of test splits' cells; and the
    "Re-run cells" section (``rerun_lines``): which results replaced stale ones, and why.
    ``provenance`` (``board_provenance``) is the footer. ``curves`` (``Store.curves_frame``)
    adds ``iou_over_time.png`` and ``success.png``; each experiment axis gets a table of
    ``pivot_metric`` (default: the first report metric the results have) by that axis (rows =
    dataset variants and methods, a column per value: Gan et al.'s layout) and a plot,
    ``by_<axis>.png``. A ``pivot_metric`` the results lack, or one given for results without
    axes, is a ConfigError."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = resolve_columns(columns if columns is not None else default_columns(frame))
    summary, comparisons = summary_and_papers(frame, timings, papers)
    axes = axis_names(summary)
    pivoted = _pivoted(summary, metrics, axes, pivot_metric)
    mean_axes = list(dict.fromkeys(a for table, _ in comparisons for a in table.mean_over))
    means = mean_over_axes(summary, mean_axes) if mean_axes else None
    papers_shown = [column.metric for table, _ in comparisons for column in table.columns]
    spreads = spreads_shown(
        [(summary, shown_metrics(summary, metrics) + papers_shown)]
        + ([(means, shown_metrics(means, metrics))] if means is not None else [])
    )

    written = [out / "leaderboard.csv"]
    summary.to_csv(written[0], index=False)
    for table, tidy in comparisons:
        written.append(out / f"paper_{table.id}.csv")
        tidy.to_csv(written[-1], index=False)
    figure, plotted = accuracy_figure(frame, metrics)
    plots = [save_figure(figure, out / "leaderboard.png")]
    if curves is not None and not curves.empty:
        plots += plot_curves(curves, out)
    if pivoted is not None:
        plots += [
            save_figure(by_axis_figure(summary, pivoted, axis), out / f"by_{axis}.png")
            for axis in axes
        ]
    speed = speed_accuracy_figure(summary, plotted[0]) if timings is not None else None
    if speed is not None:
        plots.append(save_figure(speed, out / "speed_accuracy.png"))

    blocks: list[Layout | Section] = [
        comparison_layout(table, tidy, protocol_flags(table, tidy)) for table, tidy in comparisons
    ]
    claims = [line for table, tidy in comparisons for line in claim_lines(table, tidy)]
    blocks += [Section(CLAIMS_HEADING, claims)] if claims else []
    if means is not None:
        blocks.append(axis_mean_layout(means, metrics, mean_axes))
    blocks.append(leaderboard_layout(summary, metrics, title, spreads, bool(comparisons)))
    if pivoted is not None:
        blocks += [pivot_layout(summary, axis, pivoted) for axis in axes]
    sections = {
        MODELS_HEADING: model_lines(models) if models is not None else [],
        FAILURES_HEADING: failure_lines(failures) if failures is not None else [],
        SUBMISSIONS_HEADING: submission_lines(failures) if failures is not None else [],
        RERUNS_HEADING: rerun_lines(failures) if failures is not None else [],
    }
    blocks += [Section(heading, lines) for heading, lines in sections.items() if lines]
    board = Board(
        title,
        blocks,
        board_notes(spreads, summary["method"], timings is not None, bool(comparisons)),
        plots,
        list(provenance),
    )
    for suffix, render in RENDERERS.items():
        path = out / f"leaderboard{suffix}"
        path.write_text(render(board), encoding="utf-8")
        written.append(path)
    return written + plots


def _pivoted(
    summary: pd.DataFrame, metrics: list[str], axes: list[str], name: str | None
) -> str | None:
    """The metric of the axis tables: ``name``, checked to be one the results have and to have
    axes to pivot on, else the first of ``metrics`` the results have (None without axes)."""
    having = [c[: -len("_mean")] for c in summary.columns if c.endswith("_mean")]
    if name is None:
        return next((m for m in metrics if m in having), None) if axes else None
    if name not in having:
        raise ConfigError(
            f"pivot metric {name!r} is not a metric of these results; they have: "
            + ", ".join(having)
        )
    if not axes:
        raise ConfigError(f"pivot metric {name!r}: these results have no experiment axes")
    return name
