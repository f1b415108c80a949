"""Leaderboard reports: Markdown, CSV, HTML, LaTeX and seaborn plots from a results frame.

Input is the long frame of ``metrics_frame()`` (experiment, dataset, split, detections, method,
ablation, seed, sequence, metric, value). A report row is one (dataset, split, detections,
method, ablation); a cell is the mean ± sample std (ddof=1) over seeds of the ``COMBINED``
value, with the std left out when there is one seed (the ``n`` column always says how many).
Ratios are stored as fractions and shown as percentages with one decimal, as papers print them.
Columns follow a named paper order (``COLUMN_SETS``) with ↑/↓ arrows; the best value of each
directed column is marked (test doubles excluded). Paper tables (``harness.papers``) are put
beside ours with the delta ours − paper in the paper's units. A "Models" section names the
weights behind each row whose cells carry a tracker's provenance (``Store.provenance_frame``):
checkpoint, sha256, training iterations, batch, seed, device. A provenance footer
(``board_provenance``) says which code, packages, hardware and runs produced the numbers.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.figure import Figure
from pandas.api.typing import SeriesGroupBy

from harness.errors import ConfigError, FormatError, did_you_mean
from harness.metrics.catalogue import (
    CATALOGUE,
    FRACTION,
    MEAN_COMBINE,
    TIMING,
    VALUE,
    Metric,
    metric_named,
    names_of,
)
from harness.papers import (
    CATALOGUE_UNITS,
    PAPER_SCALES,
    PaperClaim,
    PaperColumn,
    PaperTable,
    claimed_rows,
    paper_table,
)
from harness.registry import DEFAULT_ABLATION

KEY = ["dataset", "split", "axes", "detections", "method", "ablation"]
HEADERS = {"dataset": "Dataset", "split": "Split", "axes": "Axes", "detections": "Detections"}
HEADERS |= {"method": "Method", "ablation": "Ablation"}
COMBINED = "COMBINED"


TIMING_FIELDS = names_of([TIMING])
TIMING_SHOWN = ("fps", "batched_fps", "latency_p50_ms")
# Methods that replay the ground truth: never a column's best, and off the speed axis (their fps
# is not a tracker's speed).
TEST_DOUBLES = frozenset({"ground-truth", "ground-truth-box"})

COLUMN_SETS: dict[str, tuple[str, ...]] = {
    # He et al. 2019, Tables 1 and 2.
    "tba": ("IDF1", "IDP", "IDR", "MOTA", "MOTP", "FAF", "MT", "ML", "FP", "FN", "IDSW", "Frag"),
    # MOTChallenge leaderboard order (HOTA era).
    "mot": ("MOTA", "IDF1", "HOTA", "MOTP", "MT", "ML", "FP", "FN", "IDSW", "Frag"),
    # Luiten et al. 2021; Bastani et al. 2021, Table 3.
    "hota": ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA"),
    # Bastani et al. 2021, Table 2.
    "cis": ("IDF1", "MOTA", "MT", "ML", "FP", "FN", "IDSW", "Frag"),
    # Single-object: Gan et al. 2015 (IoU), Kosiorek et al. 2017 (TimeIoU), OTB / got10k (AUC,
    # precision at 20 px).
    "sot": ("IoU", "TimeIoU", "AUC", "Precision20", "CenterError"),
}
DEFAULT_COLUMN_SET = "mot"
CONDITION = ["dataset", "split", "axes", "detections"]
"""The key columns of the data a row ran on: rows are ranked against those of the same."""
PLOT_METRICS = ("MOTA", "IDF1")
SEEDS, SEQUENCES = "seeds", "sequences"  # what a cell's ± spreads over (``spread_of``)


def default_columns(frame: pd.DataFrame) -> str | list[str]:
    """The columns of results without chosen ones: for single-object results only, the ``sot``
    metrics they have (results stored before TimeIoU existed lack it), else the ``mot`` set."""
    metrics = set(frame["metric"])
    if "IoU" in metrics and not metrics & set(COLUMN_SETS[DEFAULT_COLUMN_SET]):
        return [name for name in COLUMN_SETS["sot"] if name in metrics]
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


def summarize(frame: pd.DataFrame, timings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per report key: ``n_seeds``, and ``<metric>_mean`` / ``<metric>_std`` of the
    ``COMBINED`` values in raw units (fractions, counts), in catalogue order (undeclared metrics
    after, by name). Row order is the order of first appearance.

    The spread rule, here only: ``<metric>_std`` is the sample std (ddof 1) over seeds, except
    for a metric the catalogue combines by ``mean`` in a row with one seed, where it is the
    population std (ddof 0) over the row's per-sequence values (one sequence = one sample), as
    Gan et al. print single-object IoU. Such a metric also gets ``<metric>_n`` (seeds or
    sequences) and ``<metric>_spread`` (``SEEDS`` or ``SEQUENCES``); for every other metric the
    spread is over the row's ``n_seeds`` seeds (``spread_of`` reads either).

    With ``timings`` (the per-sequence rows of ``Store.timings_frame``), the timing fields are
    added the same way from each cell's combined timing (``cell_timings``), and ``device_name``.
    """
    combined = combined_rows(frame)
    if combined.empty:
        raise FormatError(f"results hold no {COMBINED} rows")
    duplicated = combined.duplicated(KEY + ["seed", "metric"], keep=False)
    if duplicated.any():
        first = combined[duplicated].iloc[0]
        raise FormatError(
            f"results hold {int(duplicated.sum())} duplicate COMBINED values, e.g. "
            f"{first['method']}:{first['ablation']} seed {first['seed']} {first['metric']}; "
            "select one experiment first"
        )
    stats = _seed_stats(combined, "metric", "value")
    present = set(stats.columns.get_level_values(1))
    names = [m for m in CATALOGUE if m in present] + sorted(present - set(CATALOGUE))
    summary = _flatten(stats, names)
    summary.insert(0, "n_seeds", combined.groupby(KEY, sort=False, dropna=False)["seed"].nunique())
    averaged = [m for m in names if m in CATALOGUE and CATALOGUE[m].combine == MEAN_COMBINE]
    if averaged:
        summary = _spread_over_sequences(summary, frame, averaged)
    if timings is not None:
        timed = cell_timings(timings)
        long = timed.melt(
            id_vars=KEY + ["seed"], value_vars=TIMING_FIELDS, var_name="metric", value_name="value"
        )
        summary = summary.join(_flatten(_seed_stats(long, "metric", "value"), TIMING_FIELDS))
        summary = summary.join(
            _distinct(timed.groupby(KEY, sort=False, dropna=False)["device_name"])
        )
    return summary.reset_index()


def spread_of(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per ``summarize`` row, what the ± of metric ``name`` spreads over: ``spread`` (``SEEDS``
    or ``SEQUENCES``) and ``n`` (how many of them)."""
    if f"{name}_spread" in summary.columns:
        return pd.DataFrame({"spread": summary[f"{name}_spread"], "n": summary[f"{name}_n"]})
    return pd.DataFrame({"spread": SEEDS, "n": summary["n_seeds"]}, index=summary.index)


def format_cell(info: Metric, mean: float, std: float, n: int) -> str:
    """``mean ± std`` as papers print it (std only when ``n > 1``); ``—`` when missing."""
    if not np.isfinite(mean):
        return "—"
    text = info.format(mean)
    if n > 1 and np.isfinite(std):
        text += " ± " + info.format(std, spread=True)
    return text


def compare_with_paper(summary: pd.DataFrame, table: PaperTable) -> pd.DataFrame:
    """Tidy ours-vs-paper rows: one per (paper row, detection level of our matching rows, paper
    column).

    Ours are converted to the paper's units (``PAPER_SCALES``); ``delta`` = ours − paper. Our rows
    match on the row's dataset, the table's split, the row's ``method:ablation`` and the column's
    axis values; a paper cell without a match keeps NaN for ours. A metric the catalogue combines
    by mean also gets ``ours_n`` and ``spread`` (``spread_of``; the others spread over
    ``n_seeds`` seeds).
    """
    _check_paper_units(table)
    mine = summary[summary["split"] == table.split]
    spreads = {c.metric: spread_of(mine, c.metric) for c in table.columns}
    records = []
    for row in table.rows:
        paper_stds = dict(zip(table.columns, row.spreads))
        matches = mine[
            (mine["dataset"] == row.dataset)
            & (mine["method"] == row.method)
            & (mine["ablation"] == row.ablation)
        ]
        # one record set per detection level of the matching rows, or one with ours = NaN
        for detections in matches["detections"].unique() if len(matches) else [""]:
            for column, paper_value, printed in zip(table.columns, row.values, row.printed):
                found = matches[
                    (matches["detections"] == detections) & (matches["axes"] == column.axes)
                ]
                ours = found.iloc[0] if len(found) else None
                scale = PAPER_SCALES[column.unit]
                mean = ours.get(f"{column.metric}_mean", math.nan) if ours is not None else math.nan
                std = ours.get(f"{column.metric}_std", math.nan) if ours is not None else math.nan
                record = {
                    "table": table.id,
                    "paper_row": row.name,
                    "method": row.method,
                    "ref": row.ref,
                    "dataset": row.dataset,
                    "split": table.split,
                    "axes": column.axes,
                    "detections": detections,
                    "n_seeds": int(ours["n_seeds"]) if ours is not None else 0,
                    "column": column.name,
                    "metric": column.metric,
                    "unit": column.unit,
                    "direction": column.direction,
                    "ours_mean": mean * scale,
                    "ours_std": std * scale,
                    "paper": paper_value,
                    "paper_std": paper_stds[column],
                    "paper_printed": printed,
                    "delta": mean * scale - paper_value,
                }
                if CATALOGUE[column.metric].combine == MEAN_COMBINE:
                    spread = spreads[column.metric].loc[found.index[0]] if len(found) else None
                    record["ours_n"] = 0 if spread is None else int(spread["n"])
                    record["spread"] = None if spread is None else spread["spread"]
                records.append(record)
    return pd.DataFrame.from_records(records)


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
    summary, comparisons = _summary_and_papers(frame, timings, papers)
    papers_shown = [column.metric for table, _ in comparisons for column in table.columns]
    spreads = _spreads_shown(summary, _shown_metrics(summary, metrics) + papers_shown)
    layouts = [_leaderboard_layout(summary, metrics, title, spreads)]
    pivoted = next((m for m in metrics if f"{m}_mean" in summary.columns), None)
    if pivoted is not None:
        layouts += [_pivot_layout(summary, axis, pivoted) for axis in axis_names(summary)]
    layouts += [_comparison_layout(table, tidy) for table, tidy in comparisons]

    written = [out / "leaderboard.csv"]
    summary.to_csv(written[0], index=False)
    for table, tidy in comparisons:
        written.append(out / f"paper_{table.id}.csv")
        tidy.to_csv(written[-1], index=False)
    plotted = _plot_accuracy(frame, metrics, out / "leaderboard.png")
    plots = [out / "leaderboard.png"]
    if curves is not None and not curves.empty:
        plots += _plot_curves(curves, out)
    plots += [_plot_by_axis(summary, plotted[0], axis, out) for axis in axis_names(summary)]
    speed = speed_accuracy_figure(summary, plotted[0]) if timings is not None else None
    if speed is not None:
        plots.append(_save(speed, out / "speed_accuracy.png"))
    sections = {
        CLAIMS_HEADING: [line for table, tidy in comparisons for line in claim_lines(table, tidy)],
        MODELS_HEADING: model_lines(models) if models is not None else [],
        FAILURES_HEADING: failure_lines(failures) if failures is not None else [],
    }
    board = _Board(
        title,
        layouts,
        {heading: lines for heading, lines in sections.items() if lines},
        _notes(spreads, summary["method"], timings is not None, bool(comparisons)),
        plots,
        list(provenance),
    )
    for suffix, render in ((".md", _markdown), (".html", _html), (".tex", _latex)):
        path = out / f"leaderboard{suffix}"
        path.write_text(render(board), encoding="utf-8")
        written.append(path)
    return written + plots


def board_rows(
    frame: pd.DataFrame,
    timings: pd.DataFrame | None = None,
    papers: Sequence[PaperTable | str] | None = None,
) -> list[dict[str, Any]]:
    """The board as JSON-ready rows (``trackbench report --format json``): per report row the
    key columns, ``n`` (seeds) and ``metrics``: per metric with a value, in stored units,
    ``{"mean", "std", "spread", "n"}`` (``summarize``'s spread rule), plus ``"paper"``: {table id:
    {"value", "delta", "unit"}} in the paper's units where a paper table has the metric for the
    row. NaN is None."""
    summary, comparisons = _summary_and_papers(frame, timings, papers)
    paper_cells: dict[tuple, dict[str, dict[str, Any]]] = {}
    for table, tidy in comparisons:
        for cell in tidy[tidy["n_seeds"] > 0].to_dict("records"):
            keys = ("dataset", "split", "axes", "detections", "ref", "metric")
            where = tuple(cell[k] for k in keys)
            paper_cells.setdefault(where, {})[table.id] = {
                "value": json_value(cell["paper"]),
                "delta": json_value(cell["delta"]),
                "unit": cell["unit"],
            }
    names = [column[: -len("_mean")] for column in summary.columns if column.endswith("_mean")]
    spreads = {name: spread_of(summary, name) for name in names}
    rows = []
    for index, record in summary.iterrows():
        metrics = {}
        for name in names:
            if not np.isfinite(record[f"{name}_mean"]):
                continue
            metrics[name] = {
                "mean": json_value(record[f"{name}_mean"]),
                "std": json_value(record[f"{name}_std"]),
                "spread": spreads[name].loc[index, "spread"],
                "n": int(spreads[name].loc[index, "n"]),
            }
            ref = method_label(record["method"], record["ablation"])
            where = (
                record["dataset"],
                record["split"],
                record["axes"],
                record["detections"],
                ref,
                name,
            )
            if where in paper_cells:
                metrics[name]["paper"] = paper_cells[where]
        keys = {k: record[k] for k in KEY}
        rows.append({**keys, "n": int(record["n_seeds"]), "metrics": metrics})
    return rows


def _summary_and_papers(
    frame: pd.DataFrame,
    timings: pd.DataFrame | None,
    papers: Sequence[PaperTable | str] | None,
) -> tuple[pd.DataFrame, list[tuple[PaperTable, pd.DataFrame]]]:
    """``summarize`` and, per paper table (a table or its id), ``compare_with_paper``."""
    summary = summarize(frame, timings)
    tables = [paper_table(p) if isinstance(p, str) else p for p in papers or ()]
    return summary, [(table, compare_with_paper(summary, table)) for table in tables]


def json_value(value: Any) -> Any:
    """A numpy number as a Python one, NaN as None (JSON has no NaN)."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and math.isnan(value) else value


def claim_lines(table: PaperTable, tidy: pd.DataFrame) -> list[str]:
    """One line per claim of ``table`` (``PaperClaim``), checked on ours and on the paper's cells
    (``compare_with_paper``'s ``tidy``): whether it holds in every cell, in how many, and where
    not. A cell ours lack is counted apart ("not run")."""
    records: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in tidy.to_dict("records"):
        records.setdefault((record["ref"], record["dataset"], record["column"]), record)
    lines = []
    for claim in table.claims:
        refs = [  # each method's row's ref on each dataset
            {row.dataset: row.ref for row in claimed_rows(name, table.rows)}
            for name in claim.methods
        ]
        datasets = claim.datasets or [d for d in table.datasets if d in refs[0] and d in refs[1]]
        columns = claim.columns or [column.name for column in table.columns]
        pairs = {
            f"{d} {c}": (records[(refs[0][d], d, c)], records[(refs[1][d], d, c)])
            for d in datasets
            for c in columns
        }
        mean = claim.stat == "mean"
        verdicts = [
            _claim_verdict(claim, pairs, "ours", "ours_mean" if mean else "ours_std", "not run"),
            _claim_verdict(claim, pairs, "paper", "paper" if mean else "paper_std", "not printed"),
        ]
        lines.append(f"{table.id}: {claim.text}. {'; '.join(verdicts)}.")
    return lines


def _claim_verdict(
    claim: PaperClaim,
    pairs: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    who: str,
    field: str,
    absent: str,
) -> str:
    """Whether ``claim`` holds on the ``field`` values of each named pair of tidy records."""
    held, failed, missing = 0, [], 0
    for where, (first, second) in pairs.items():
        a, b = first[field], second[field]
        if not (np.isfinite(a) and np.isfinite(b)):
            missing += 1
        elif (a > b) if claim.relation == "above" else abs(a - b) <= claim.within + 1e-9:
            held += 1
        else:
            failed.append(where)
    judged = len(pairs) - missing
    if not judged:
        return f"{who}: {absent}"
    details = [f"{held} of {judged} cells hold"]
    if failed:
        details.append(f"not at {', '.join(failed)}")
    if missing:
        details.append(f"{missing} {absent}")
    return f"{who}: {'does not hold' if failed else 'holds'} ({'; '.join(details)})"


def model_lines(models: pd.DataFrame) -> list[str]:
    """One line per model and method: ``row_label: describe_model(...)``, or for rows that ran
    the same weights (a model over datasets and axis values) ``method (N rows: dataset/split,
    ...): ...``; a row whose cells ran different weights (several sha256) says it mixes models."""
    frame = _keyed(models, ["seed", "provenance"], "models")
    frame = frame[[isinstance(p, dict) for p in frame["provenance"]]]
    served: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for key, cells in frame.groupby(KEY, sort=False):
        distinct = {json.dumps(p, sort_keys=True, default=str): p for p in cells["provenance"]}
        described = "; ".join(describe_model(p) for p in distinct.values())
        digests = sorted({p["sha256"] for p in distinct.values() if "sha256" in p})
        if len(digests) > 1:
            described = f"mixes {len(digests)} models: {described}"
        row = dict(zip(KEY, key))
        served.setdefault((row["method"], row["ablation"], described), []).append(row)
    lines = []
    for (method, ablation, described), rows in served.items():
        if len(rows) == 1:
            lines.append(f"{row_label(rows[0])}: {described}")
            continue
        places = ", ".join(dict.fromkeys(f"{r['dataset']}/{r['split']}" for r in rows))
        lines.append(f"{method_label(method, ablation)} ({len(rows)} rows: {places}): {described}")
    return lines


def failure_lines(cells: pd.DataFrame) -> list[str]:
    """One line per report row and error among the ``cells`` not done: ``row_label (seeds ...):
    error``, in the stored order; a cell a stopped run left (interrupted, or still pending or
    running) says so instead of an error."""
    failed = _keyed(cells, ["seed", "status", "error"], "cells")
    failed = failed[failed["status"] != "done"].copy()
    unfinished = failed["status"] != "failed"
    failed.loc[unfinished, "error"] = failed.loc[unfinished, "status"] + " (run again to resume)"
    lines = []
    for (*key, error), group in failed.groupby([*KEY, "error"], sort=False):
        seeds = ", ".join(str(seed) for seed in sorted(group["seed"]))
        label = "seed" if len(group) == 1 else "seeds"
        lines.append(f"{row_label(dict(zip(KEY, key)))} ({label} {seeds}): {relative_paths(error)}")
    return lines


def relative_paths(text: str) -> str:
    """``text`` with the paths below the working directory made relative to it (a board made in
    a checkout names ``checkpoints/...``, not one machine's absolute path)."""
    return text.replace(os.path.join(Path.cwd(), ""), "")


def describe_model(provenance: dict[str, Any]) -> str:
    """A provenance dict as one phrase, e.g. "checkpoints/tba/sprites-mot/TBA/last, sha256
    1a2b3c4d, 1,800 iterations (batch 8, seed 0, trained on cpu for 2.5 h, weights stored as
    float16)"; the training time is the sum of the card's hardware segments."""
    if provenance.get("trained") is False:
        return "untrained (no checkpoint)"
    checkpoint = provenance.get("checkpoint")
    parts = [] if checkpoint is None else [relative_paths(str(checkpoint))]
    if "sha256" in provenance:
        parts.append(f"sha256 {provenance['sha256'][:8]}")
    if provenance.get("iterations") is not None:
        parts.append(f"{provenance['iterations']:,} iterations")
    details = [
        f"{label}{provenance[k]}"
        for k, label in (("batch", "batch "), ("seed", "seed "))
        if provenance.get(k) is not None
    ]
    trained = [] if provenance.get("trained_on") is None else [f"on {provenance['trained_on']}"]
    seconds = [segment.get("seconds") for segment in provenance.get("hardware") or []]
    if seconds and None not in seconds:
        hours = sum(seconds) / 3600
        trained.append(f"for {hours:.1f} h" if hours >= 1 else f"for {hours * 60:.0f} min")
    if trained:
        details.append(" ".join(["trained", *trained]))
    if provenance.get("stored_dtype") is not None:
        details.append(f"weights stored as {provenance['stored_dtype']}")
    text = ", ".join(parts) or "model"
    return f"{text} ({', '.join(details)})" if details else text


NOT_RECORDED = "not recorded"


def board_provenance(
    runs: pd.DataFrame, cells: pd.DataFrame, timings: pd.DataFrame | None = None
) -> list[tuple[str, str]]:
    """The footer of a board as (label, text) pairs: the experiment and its description; the
    dates, git commits, package versions and device of the runs (``Store.runs``) that computed
    its done ``cells`` (``Store.cells``); the CPU/GPU names, torch threads and worker processes
    of its ``timings`` (``Store.timings_frame``). What an older database lacks is "not recorded"."""
    done = cells[cells["status"] == "done"]
    runs = runs[runs["id"].isin(done["run"])]
    timed = timings if timings is not None else pd.DataFrame()
    return [
        ("Experiment", _listed(done, "experiment")),
        ("Description", _listed(runs, "description")),
        ("Runs", _run_dates(runs)),
        ("Git commit", _listed(runs, "git_commit")),
        ("Packages", _package_versions(runs)),
        ("Device", _listed(runs, "device")),
        ("CPU/GPU", _listed(timed, "device_name")),
        ("Threads", _listed(timed, "threads")),
        ("Jobs", _listed(timed, "jobs")),
    ]


def _listed(frame: pd.DataFrame, column: str) -> str:
    """The distinct values of a column in order of appearance, whitespace collapsed, joined with
    "; " (``NOT_RECORDED`` when there are none)."""
    values = frame[column].dropna() if column in frame.columns else []
    texts = [
        str(int(v)) if isinstance(v, float) and v.is_integer() else " ".join(str(v).split())
        for v in values
    ]
    return "; ".join(dict.fromkeys(t for t in texts if t)) or NOT_RECORDED


def _run_dates(runs: pd.DataFrame) -> str:
    """How many runs, from the first start to the last finish, in UTC."""
    if runs.empty:
        return NOT_RECORDED
    started = pd.to_datetime(runs["started"], utc=True, format="ISO8601").min()
    finished = pd.to_datetime(runs["finished"], utc=True, format="ISO8601").max()
    end = "unfinished" if pd.isna(finished) else f"{finished:%Y-%m-%d %H:%M}"
    return f"{counted(len(runs), 'run')}, {started:%Y-%m-%d %H:%M} to {end} UTC"


def _package_versions(runs: pd.DataFrame) -> str:
    """Each package with its version over the runs' ``versions`` JSON ("torch 2.13.0, ..."); a
    version that differs between runs lists each, joined with " / "."""
    versions: dict[str, dict[str, None]] = {}
    for text in runs["versions"].dropna():
        for package, version in json.loads(text).items():
            if version is not None:
                versions.setdefault(package, {})[version] = None
    listed = [f"{package} {' / '.join(seen)}" for package, seen in versions.items()]
    return ", ".join(listed) or NOT_RECORDED


# ----------------------------------------------------------------------------- aggregation


def _keyed(frame: pd.DataFrame, needed: list[str], what: str) -> pd.DataFrame:
    """A copy of ``frame`` with its key columns as text ("" for missing), after checking columns.
    ``axes`` may be absent (results without axes): it is then empty."""
    missing = [c for c in KEY + needed if c not in frame.columns and c != "axes"]
    if missing:
        raise FormatError(f"{what} frame lacks columns {missing}")
    frame = frame.copy()
    if "axes" not in frame.columns:
        frame.insert(frame.columns.get_loc("split") + 1, "axes", "")
    frame[KEY] = frame[KEY].fillna("").astype(str)
    return frame


def combined_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``COMBINED`` rows of a results frame, keyed."""
    frame = _keyed(frame, ["seed", "sequence", "metric", "value"], "results")
    return frame[frame["sequence"] == COMBINED]


def cell_timings(timings: pd.DataFrame) -> pd.DataFrame:
    """One timing row per cell (key + seed) from per-sequence ``TimingRecord`` rows, as
    ``Store.timings_frame`` gives them.

    fps = Σ frames / Σ total_seconds; peak memory = the maximum; ``device_name`` = the distinct
    names joined. Latency percentiles and ``batched_fps`` (a single-object cell's one record) are
    kept for one-record cells only (percentiles of several sequences cannot be combined from
    theirs) and are NaN otherwise.
    """
    whole = ["latency_p50_ms", "latency_p95_ms", "batched_fps"]
    numeric = ["frames", "total_seconds", *whole, "peak_memory_bytes"]
    frame = timings if "batched_fps" in timings else timings.assign(batched_fps=math.nan)
    frame = _keyed(frame, ["seed", *numeric, "device_name"], "timings")
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce")
    groups = frame.groupby(KEY + ["seed"], sort=False, dropna=False)
    cells = groups[whole].first()
    cells.loc[groups.size() > 1, whole] = math.nan
    cells["fps"] = groups["frames"].sum() / groups["total_seconds"].sum()
    cells["peak_memory_bytes"] = groups["peak_memory_bytes"].max()
    cells["device_name"] = _distinct(groups["device_name"])
    return cells.reset_index()


def _distinct(grouped: SeriesGroupBy) -> pd.Series:
    """The distinct values of each group, sorted and joined with "; "."""
    return grouped.agg(lambda values: "; ".join(sorted(set(map(str, values)))))


def _seed_stats(long: pd.DataFrame, name: str, value: str) -> pd.DataFrame:
    """Mean and sample std over seeds, columns (stat, name)."""
    grouped = long.groupby(KEY + [name], sort=False, dropna=False)[value]
    stats = pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=1)})
    return stats.unstack(name)


def _flatten(stats: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {f"{n}_{stat}": stats[(stat, n)] for n in names for stat in ("mean", "std")},
        index=stats.index,
    )


def _spread_over_sequences(
    summary: pd.DataFrame, frame: pd.DataFrame, names: list[str]
) -> pd.DataFrame:
    """``summary`` (indexed by ``KEY``) with ``<name>_n`` and ``<name>_spread`` after each
    ``<name>_std``: in a one-seed row holding per-sequence values of ``name``, the std becomes
    their population std (ddof 0) and ``n`` their count; elsewhere the seeds' (``summarize``)."""
    rows = _keyed(frame, ["seed", "sequence", "metric", "value"], "results")
    rows = rows[(rows["sequence"] != COMBINED) & rows["metric"].isin(names)]
    grouped = rows.groupby(KEY + ["metric"], sort=False, dropna=False)["value"]
    per_sequence = pd.DataFrame({"std": grouped.std(ddof=0), "n": grouped.count()})
    summary = summary.copy()
    for name in names:
        mine = per_sequence[per_sequence.index.get_level_values("metric") == name]
        mine = mine.droplevel("metric").reindex(summary.index)
        by_sequence = (summary["n_seeds"] == 1) & (mine["n"].fillna(0) > 0)
        summary[f"{name}_std"] = summary[f"{name}_std"].where(~by_sequence, mine["std"])
        position = summary.columns.get_loc(f"{name}_std") + 1
        n = summary["n_seeds"].where(~by_sequence, mine["n"]).astype(int)
        spread = pd.Series(SEEDS, index=summary.index).where(~by_sequence, SEQUENCES)
        summary.insert(position, f"{name}_n", n)
        summary.insert(position + 1, f"{name}_spread", spread)
    return summary


# ----------------------------------------------------------------------------- formatting


def format_delta(info: Metric, delta: float) -> str:
    """A signed delta already in shown units (percentage points for fractions)."""
    if info.integral and float(delta).is_integer():
        return f"{delta:+,.0f}"
    return f"{delta:+,.{info.decimals}f}"


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless one: "1 row", "2 rows"."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def method_label(method: str, ablation: str) -> str:
    return method if ablation == DEFAULT_ABLATION else f"{method}:{ablation}"


def row_label(record: dict[str, Any]) -> str:
    """``dataset/split[axes]/detections method[:ablation]`` of a report row."""
    split = str(record["split"]) + (f"[{record['axes']}]" if record.get("axes") else "")
    where = "/".join(str(x) for x in (record["dataset"], split, record["detections"]) if x)
    return f"{where} {method_label(record['method'], record['ablation'])}"


def _check_paper_units(table: PaperTable) -> None:
    for column in table.columns:
        info = CATALOGUE.get(column.metric)
        if info is None:
            raise ConfigError(
                f"table {table.id}: column {column.name!r} names unknown metric {column.metric!r}"
                + did_you_mean(column.metric, list(CATALOGUE)),
                table.path,
                table.line,
            )
        if CATALOGUE_UNITS[column.unit] != info.unit:
            raise ConfigError(
                f"table {table.id}: column {column.name!r} has unit {column.unit!r} "
                f"but {column.metric} is a {info.unit}",
                table.path,
                table.line,
            )


@dataclass(frozen=True)
class _Cell:
    """A table cell: its text and its mark, "best" (the best shown value of its column),
    "better" or "worse" (ours against the paper, by the column's direction) or ""."""

    text: str
    mark: str = ""


@dataclass(frozen=True)
class _Layout:
    """A table ready to render: caption, header, cells, and which columns are numeric (those
    before the first numeric one label the rows)."""

    heading: str
    caption: str
    header: list[str]
    rows: list[list[_Cell]]
    numeric: list[bool]

    @property
    def labels(self) -> int:
        return self.numeric.index(True)


def _shown_metrics(summary: pd.DataFrame, metrics: list[str]) -> list[str]:
    """The leaderboard's metric columns: ``metrics``, then the timed ``TIMING_SHOWN`` that have a
    value."""
    timed = [
        t
        for t in TIMING_SHOWN
        if t not in metrics and summary.get(f"{t}_mean", pd.Series(dtype=float)).notna().any()
    ]
    return metrics + timed


def _leaderboard_layout(
    summary: pd.DataFrame, metrics: list[str], title: str, spreads: dict[str, _Spread]
) -> _Layout:
    shown = [(name, metric_named(name)) for name in _shown_metrics(summary, metrics)]
    n = summary["n_seeds"].astype(int)
    labels = _label_keys(summary)
    columns = [[_Cell(text or "—") for text in summary[k]] for k in labels]
    columns.append([_Cell(str(count)) for count in n])
    # the best of a column among the trackers that ran on the same data and detections
    ranked = ~summary["method"].isin(TEST_DOUBLES)
    condition = summary.groupby(CONDITION, sort=False).ngroup()
    missing = pd.Series(math.nan, index=summary.index)
    for name, info in shown:
        means = summary.get(f"{name}_mean", missing).astype(float)
        stds = summary.get(f"{name}_std", missing).astype(float)
        counts = spread_of(summary, name)["n"].astype(int)
        best = {c: _best_shown(info, means[ranked & (condition == c)]) for c in set(condition)}
        columns.append(
            [
                _Cell(
                    format_cell(info, mean, std, count),
                    "best" if rank and _shown(info, mean) == best[c] else "",
                )
                for mean, std, count, rank, c in zip(means, stds, counts, ranked, condition)
            ]
        )
    header = [HEADERS[k] for k in labels] + ["n"] + [i.header for _, i in shown]
    over = "seeds or sequences (see the notes)" if SEQUENCES in spreads else "seeds"
    caption = f"{title}: combined over each split's sequences; mean ± std over {over}."
    rows = [list(row) for row in zip(*columns)]
    numeric = [False] * len(labels) + [True] * (len(header) - len(labels))
    return _Layout("Leaderboard", caption, header, rows, numeric)


def _label_keys(summary: pd.DataFrame) -> list[str]:
    """The key columns a table shows: ``axes`` only where some row has axis values."""
    return [k for k in KEY if k != "axes" or summary["axes"].astype(bool).any()]


def axis_names(summary: pd.DataFrame) -> list[str]:
    """The axis names in the rows' ``axes`` labels (``name=value, ...``), in order."""
    names: dict[str, None] = {}
    for label in summary["axes"]:
        names.update(dict.fromkeys(_axis_values(label)))
    return list(names)


def _axis_values(label: str) -> dict[str, str]:
    """``{"length": "20"}`` of the label ``length=20`` (``harness.experiment.axes_label``)."""
    return dict(part.split("=", 1) for part in label.split(", ")) if label else {}


def _pivot_layout(summary: pd.DataFrame, axis: str, name: str) -> _Layout:
    """Gan et al.'s table layout: one row per dataset variant and method, one column per value of
    ``axis``, cells = metric ``name``'s mean ± its spread."""
    info = metric_named(name)
    axes = [_axis_values(label) for label in summary["axes"]]
    values = list(dict.fromkeys(a[axis] for a in axes if axis in a))
    others = [", ".join(f"{k}={v}" for k, v in a.items() if k != axis) for a in axes]
    keys = ["dataset", "split", "detections", "method", "ablation"]
    rows: dict[tuple, dict[str, _Cell]] = {}
    counts = spread_of(summary, name)["n"].astype(int)
    for i, record in summary.iterrows():
        if axis not in axes[i]:
            continue
        row = (*(record[k] for k in keys[:2]), others[i], *(record[k] for k in keys[2:]))
        rows.setdefault(row, {})[axes[i][axis]] = _Cell(
            format_cell(info, record[f"{name}_mean"], record[f"{name}_std"], counts[i])
        )
    with_others = any(row[2] for row in rows)
    header = ["Dataset", "Split", *(["Other axes"] if with_others else [])]
    header += ["Detections", "Method", "Ablation", *(f"{axis}={value}" for value in values)]
    cells = [
        [
            *(_Cell(str(text) or "—") for j, text in enumerate(row) if j != 2 or with_others),
            *(found.get(value, _Cell("—")) for value in values),
        ]
        for row, found in rows.items()
    ]
    labels = len(header) - len(values)
    over = " or ".join(dict.fromkeys(spread_of(summary, name)["spread"]))
    caption = f"{info.label} by {axis}: mean ± std over {over} (see the notes)."
    heading = f"{info.label} by {axis}"
    return _Layout(heading, caption, header, cells, [False] * labels + [True] * len(values))


@dataclass
class _Spread:
    """The cells of a board whose ± spreads one way: how many each spreads over, and the labels
    of their metrics (both in order of appearance)."""

    counts: dict[int, None]
    labels: dict[str, None]


def _spreads_shown(summary: pd.DataFrame, names: list[str]) -> dict[str, _Spread]:
    """Per spread (``SEEDS``, ``SEQUENCES``), the cells of metrics ``names`` that show a ±."""
    spreads: dict[str, _Spread] = {}
    for name in (n for n in names if f"{n}_mean" in summary.columns):
        of_name = spread_of(summary, name)
        shown = (
            np.isfinite(summary[f"{name}_mean"].astype(float))
            & np.isfinite(summary[f"{name}_std"].astype(float))
            & (of_name["n"] > 1)
        )
        for spread, count in zip(of_name["spread"][shown], of_name["n"][shown]):
            found = spreads.setdefault(spread, _Spread({}, {}))
            found.counts[int(count)] = None
            found.labels[metric_named(name).label] = None
    return spreads


def _spread_notes(spreads: dict[str, _Spread]) -> list[str]:
    """What each ± of a board is: "± : sample std over 3 seeds (ddof 1) ..." and, for metrics
    averaged over sequences in one-seed rows, "... std over 500 sequences (ddof 0) ..."."""

    def over(found: _Spread, things: str) -> str:
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


def _comparison_layout(table: PaperTable, tidy: pd.DataFrame) -> _Layout:
    header = ["Paper row", "Ours", "Detections", "n"]
    header += [f"{c.name} {'↑' if c.direction == 'up' else '↓'}" for c in table.columns]
    rows = []
    for (paper_row, ref, detections), cells in tidy.groupby(
        ["paper_row", "ref", "detections"], sort=False, dropna=False
    ):
        n = int(cells["n_seeds"].max())
        row = [_Cell(paper_row), _Cell(ref), _Cell(detections or "—"), _Cell(str(n))]
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
            row.append(_Cell(text, mark))
        rows.append(row)
    page = f", page {table.page}" if table.page is not None else ""
    datasets = table.datasets
    caption = (
        f"{table.caption} Source: {table.paper} {table.table}{page} ({table.source}). "
        f"Dataset{'s' if len(datasets) > 1 else ''} {', '.join(datasets)}, split {table.split}. "
        f"Protocol: {table.protocol} "
        "Cells: ours / paper (Δ = ours − paper, in the paper's units)."
    )
    return _Layout(
        f"Paper: {table.id}", caption, header, rows, [False] * 3 + [True] * (len(header) - 3)
    )


def _notes(
    spreads: dict[str, _Spread], methods: pd.Series, with_timings: bool, with_papers: bool
) -> list[str]:
    """The board's notes; test doubles are named where the board has them (``methods``)."""
    present = sorted(TEST_DOUBLES & set(methods))
    doubles = ", ".join(present) or "none here"
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
        notes.append(
            "fps and p50 ms time the tracker only (warm-up excluded); the speed plot leaves out "
            "test doubles, whose fps is no tracker's speed."
        )
    return notes


# ----------------------------------------------------------------------------- renderers


@dataclass(frozen=True)
class _Board:
    """What a renderer draws: title, tables, sections, notes, plots and the provenance footer."""

    title: str
    layouts: list[_Layout]
    sections: dict[str, list[str]]
    notes: list[str]
    plots: list[Path]
    provenance: list[tuple[str, str]]


# Only what Markdown would read as markup: a table's pipe, emphasis (an underscore only at a word
# boundary), a backslash that would escape what follows, a tag / comment / autolink, a link or
# image, an entity reference. Plain "<", ">", "&" and inline `code` stay as written.
_MARKDOWN_MARKUP = re.compile(
    r"[|*]|\\(?=[!-/:-@\[-`{-~])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])"
    r"|<(?=[A-Za-z/!?])|\](?=[(\[])|&(?=#?[0-9A-Za-z]+;)"
)
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "Δ": r"$\Delta$",
    "−": r"$-$",
    "—": "--",
    "–": "--",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\n": " ",
}


def markdown_escape(text: str) -> str:
    """Text safe in a Markdown table cell, on one line: a backslash before each character that
    Markdown would read as markup there (a tag included), every other character as written."""
    return _MARKDOWN_MARKUP.sub(lambda match: "\\" + match.group(), str(text).replace("\n", " "))


def latex_escape(text: str) -> str:
    """Text safe in LaTeX (special characters escaped, arrows and ± as math)."""
    return "".join(_LATEX_ESCAPES.get(c, c) for c in str(text))


CLAIMS_HEADING = "Paper claims"
MODELS_HEADING = "Models"
FAILURES_HEADING = "Failed or unfinished cells"
PROVENANCE_HEADING = "Provenance"


def _markdown(board: _Board) -> str:
    def cell(item: _Cell) -> str:
        text = markdown_escape(item.text)
        return f"**{text}**" if item.mark == "best" else text

    lines = [f"# {markdown_escape(board.title)}", ""]
    for layout in board.layouts:
        lines += [f"## {markdown_escape(layout.heading)}", "", markdown_escape(layout.caption), ""]
        lines.append("| " + " | ".join(markdown_escape(h) for h in layout.header) + " |")
        lines.append("|" + "|".join("---:" if num else "---" for num in layout.numeric) + "|")
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in layout.rows]
        lines.append("")
    for heading, items in board.sections.items():
        lines += [f"## {markdown_escape(heading)}", ""]
        lines += [f"- {markdown_escape(line)}" for line in items] + [""]
    lines += [f"- {markdown_escape(note)}" for note in board.notes] + [""]
    lines += [f"![{p.stem}]({p.name})" for p in board.plots]
    if board.provenance:
        lines += ["", f"## {PROVENANCE_HEADING}", ""]
        lines += [f"- {markdown_escape(f'{label}: {text}')}" for label, text in board.provenance]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; margin: 1em 0; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ccc; padding: 0.3em 0.6em; white-space: nowrap;
         background: #fff; }
th { background: #f3f3f3; }
.label { position: sticky; z-index: 1; box-sizing: border-box; overflow: hidden;
         text-overflow: ellipsis; }
.label.edge { border-right: 1px solid #bbb; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; }
td.better { background: #e3f4e8; color: #105c2b; }
td.worse { background: #fbe5e3; color: #8c1d13; }
caption { caption-side: top; text-align: left; padding: 0.4em 0; max-width: 60em;
          white-space: normal; }
img { max-width: 100%; }
footer { margin-top: 2em; border-top: 1px solid #ccc; font-size: 0.85em; color: #444; }
footer dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
footer dt { font-weight: bold; }
footer dd { margin: 0; }
"""
_LABEL_CH_PER_CHAR = 1.1  # proportional type: a label's letters run up to ~10 % wider than "0"
_CELL_PADDING = "1.2em"  # left + right padding of a cell (th, td above)


_CSP = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
)


def _pinned_css(table_id: str, layout: _Layout) -> str:
    """CSS pinning a table's label columns while the rest scrolls: each as wide as its longest
    text, each one's left offset the widths of those before it."""
    rules, offset = [], 0.0
    for column in range(layout.labels):
        texts = [layout.header[column], *(row[column].text for row in layout.rows)]
        chars = _LABEL_CH_PER_CHAR * max(len(text) for text in texts)
        width = f"calc({chars:.1f}ch + {_CELL_PADDING})"
        rules.append(
            f"#{table_id} tr > :nth-child({column + 1}) {{ left: calc({offset:.1f}ch + "
            f"{column} * {_CELL_PADDING}); width: {width}; min-width: {width}; "
            f"max-width: {width}; }}"
        )
        offset += chars
    return "\n".join(rules) + "\n"


def _html_classes(layout: _Layout, column: int, mark: str = "") -> str:
    """The class attribute of a cell: pinned label, numeric, and its mark."""
    classes = ["label"] if column < layout.labels else []
    classes += ["edge"] if column == layout.labels - 1 else []
    classes += ["num"] if layout.numeric[column] else []
    classes += [mark] if mark else []
    return f' class="{" ".join(classes)}"' if classes else ""


def _html(board: _Board) -> str:
    esc = html.escape
    ids = [f"table-{i}" for i in range(1, len(board.layouts) + 1)]
    pinned = "".join(_pinned_css(i, layout) for i, layout in zip(ids, board.layouts))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        _CSP,
        f"<title>{esc(board.title)}</title>",
        f"<style>{_CSS}{pinned}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(board.title)}</h1>",
    ]
    for table_id, layout in zip(ids, board.layouts):
        parts += [
            f"<h2>{esc(layout.heading)}</h2>",
            '<div class="scroll">',
            f'<table id="{table_id}">',
            f"<caption>{esc(layout.caption)}</caption>",
        ]
        header = (
            f"<th{_html_classes(layout, j)}>{esc(h)}</th>" for j, h in enumerate(layout.header)
        )
        parts += ["<thead><tr>" + "".join(header) + "</tr></thead>", "<tbody>"]
        for row in layout.rows:
            cells = (
                f"<td{_html_classes(layout, j, c.mark)}>{esc(c.text)}</td>"
                for j, c in enumerate(row)
            )
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts += ["</tbody>", "</table>", "</div>"]
    for heading, items in board.sections.items():
        parts += [f"<h2>{esc(heading)}</h2>", "<ul>"]
        parts += [f"<li>{esc(line)}</li>" for line in items] + ["</ul>"]
    parts += ["<ul>"] + [f"<li>{esc(note)}</li>" for note in board.notes] + ["</ul>"]
    for plot in board.plots:
        data = base64.b64encode(plot.read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img alt="{esc(plot.stem)}" src="data:image/png;base64,{data}"></figure>'
        )
    if board.provenance:
        parts += ["<footer>", f"<h2>{PROVENANCE_HEADING}</h2>", "<dl>"]
        parts += [f"<dt>{esc(label)}</dt><dd>{esc(text)}</dd>" for label, text in board.provenance]
        parts += ["</dl>", "</footer>"]
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _latex(board: _Board) -> str:
    def cell(item: _Cell) -> str:
        text = latex_escape(item.text)
        return rf"\textbf{{{text}}}" if item.mark == "best" else text

    lines = [
        f"% {latex_escape(board.title)}: generated by trackbench; needs \\usepackage{{booktabs}}"
    ]
    for layout in board.layouts:
        spec = "".join("r" if num else "l" for num in layout.numeric)
        lines += [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\caption{{{latex_escape(layout.caption)}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in layout.header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(cell(c) for c in row) + r" \\" for row in layout.rows]
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    for heading, items in board.sections.items():
        lines += [rf"\paragraph{{{latex_escape(heading)}}}", r"\begin{itemize}"]
        lines += [rf"\item {latex_escape(line)}" for line in items]
        lines += [r"\end{itemize}", ""]
    lines += [f"% {latex_escape(note)}" for note in board.notes]
    lines += [f"% {latex_escape(f'{label}: {text}')}" for label, text in board.provenance]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- plots


_PLOT_STYLE = {"text.parse_math": False}  # a "$" in a method name is text, never mathtext


@plt.rc_context(_PLOT_STYLE)
def _plot_accuracy(frame: pd.DataFrame, metrics: list[str], path: Path) -> list[str]:
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


@plt.rc_context(_PLOT_STYLE)
def _plot_curves(curves: pd.DataFrame, out: Path) -> list[Path]:
    """Each stored curve kind (``CURVE_PLOTS``) as lines per method (mean over seeds), one panel
    per dataset variant with its own legend; a success plot's legend gives each method's AUC
    (the curve's mean)."""
    data = _keyed(curves, ["seed", "sequence", "curve", "x", "y"], "curves")
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
        written.append(_save(figure, out / file))
    return written


@plt.rc_context(_PLOT_STYLE)
def _plot_by_axis(summary: pd.DataFrame, name: str, axis: str, out: Path) -> Path:
    """Metric ``name`` (mean over seeds) against the values of ``axis``, a line per method and
    dataset variant: e.g. IoU against test length (Gan et al.)."""
    info = metric_named(name)
    rows = []
    for record in summary.to_dict("records"):
        values = _axis_values(record["axes"])
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
    return _save(figure, out / f"by_{axis}.png")


class _PlainLogFormatter(ticker.LogFormatter):
    """Log-axis tick labels as plain numbers (0.5, 10, 1,000): no mathtext, which the plots
    turn off so that a "$" in a method name stays text."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not super().__call__(x, pos):  # the ticks LogFormatter leaves unlabelled
            return ""
        return f"{x:,.{max(0, -math.floor(math.log10(x)))}f}"


@plt.rc_context(_PLOT_STYLE)
def speed_accuracy_figure(summary: pd.DataFrame, metric: str) -> Figure | None:
    """Mean fps (log x) against mean ``metric`` of ``summarize``'s rows, error bars = std over
    seeds; test doubles and untimed rows left out (None when no row is left)."""
    if "fps_mean" not in summary.columns:
        return None
    timed = summary[~summary["method"].isin(TEST_DOUBLES) & np.isfinite(summary["fps_mean"])]
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


@plt.rc_context(_PLOT_STYLE)
def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
