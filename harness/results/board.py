"""A board: ``write_report`` writes a results frame's leaderboard as Markdown, CSV, HTML, LaTeX
and plots, with its paper comparisons, sections and provenance footer.

Input is the long frame of ``Store.metrics_frame``; a row is one ``summary.KEY``, a cell the mean
± sample std over seeds of the ``COMBINED`` value, with the std left out when there is one seed
(the ``n`` column always says how many).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.papers import PaperTable
from harness.results.layouts import (
    board_notes,
    comparison_layout,
    default_columns,
    leaderboard_layout,
    pivot_layout,
    resolve_columns,
    shown_metrics,
    spreads_shown,
)
from harness.results.paper_comparison import claim_lines, summary_and_papers
from harness.results.plots import (
    plot_accuracy,
    plot_by_axis,
    plot_curves,
    save_figure,
    speed_accuracy_figure,
)
from harness.results.render import RENDERERS, Board
from harness.results.sections import failure_lines, model_lines
from harness.results.summary import axis_names

CLAIMS_HEADING = "Paper claims"
MODELS_HEADING = "Models"
FAILURES_HEADING = "Failed or unfinished cells"


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
) -> list[Path]:
    """Write ``leaderboard.{md,csv,html,tex,png}`` (+ ``speed_accuracy.png`` with timings and
    ``paper_<table>.csv`` per paper table) to ``out_dir``; returns the paths written.

    ``models`` (``Store.provenance_frame``) adds the "Models" section (``model_lines``),
    ``failures`` (``Store.cells``) the "Failed or unfinished cells" section
    (``failure_lines``): a board never hides that some of its cells produced no result.
    ``provenance`` (``board_provenance``) is the footer. ``curves`` (``Store.curves_frame``)
    adds ``iou_over_time.png`` and ``success.png``; each experiment axis gets a table of the
    first report metric by that axis (rows = dataset variants and methods, a column per value:
    Gan et al.'s layout) and a plot, ``by_<axis>.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = resolve_columns(columns if columns is not None else default_columns(frame))
    summary, comparisons = summary_and_papers(frame, timings, papers)
    papers_shown = [column.metric for table, _ in comparisons for column in table.columns]
    spreads = spreads_shown(summary, shown_metrics(summary, metrics) + papers_shown)
    layouts = [leaderboard_layout(summary, metrics, title, spreads)]
    pivoted = next((m for m in metrics if f"{m}_mean" in summary.columns), None)
    if pivoted is not None:
        layouts += [pivot_layout(summary, axis, pivoted) for axis in axis_names(summary)]
    layouts += [comparison_layout(table, tidy) for table, tidy in comparisons]

    written = [out / "leaderboard.csv"]
    summary.to_csv(written[0], index=False)
    for table, tidy in comparisons:
        written.append(out / f"paper_{table.id}.csv")
        tidy.to_csv(written[-1], index=False)
    plotted = plot_accuracy(frame, metrics, out / "leaderboard.png")
    plots = [out / "leaderboard.png"]
    if curves is not None and not curves.empty:
        plots += plot_curves(curves, out)
    plots += [plot_by_axis(summary, plotted[0], axis, out) for axis in axis_names(summary)]
    speed = speed_accuracy_figure(summary, plotted[0]) if timings is not None else None
    if speed is not None:
        plots.append(save_figure(speed, out / "speed_accuracy.png"))
    sections = {
        CLAIMS_HEADING: [line for table, tidy in comparisons for line in claim_lines(table, tidy)],
        MODELS_HEADING: model_lines(models) if models is not None else [],
        FAILURES_HEADING: failure_lines(failures) if failures is not None else [],
    }
    board = Board(
        title,
        layouts,
        {heading: lines for heading, lines in sections.items() if lines},
        board_notes(spreads, summary["method"], timings is not None, bool(comparisons)),
        plots,
        list(provenance),
    )
    for suffix, render in RENDERERS.items():
        path = out / f"leaderboard{suffix}"
        path.write_text(render(board), encoding="utf-8")
        written.append(path)
    return written + plots
