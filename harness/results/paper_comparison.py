"""Ours beside a paper's table (``harness.papers``): the tidy comparison, cell by cell, in the
paper's units, whether the paper's claims hold on ours and on its own cells, and where ours were
not made on the paper's protocol."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from harness.errors import ConfigError, did_you_mean
from harness.metrics.catalogue import CATALOGUE
from harness.papers import (
    CATALOGUE_UNITS,
    PAPER_SCALES,
    PaperClaim,
    PaperTable,
    claimed_rows,
    paper_table,
)
from harness.results.summary import mean_over_axes, spread_of, summarize


def summary_and_papers(
    frame: pd.DataFrame,
    timings: pd.DataFrame | None,
    papers: Sequence[PaperTable | str] | None,
) -> tuple[pd.DataFrame, list[tuple[PaperTable, pd.DataFrame]]]:
    """``summarize`` and, per paper table (a table or its id), ``compare_with_paper``."""
    summary = summarize(frame, timings)
    tables = [paper_table(p) if isinstance(p, str) else p for p in papers or ()]
    return summary, [(table, compare_with_paper(summary, table)) for table in tables]


def compare_with_paper(summary: pd.DataFrame, table: PaperTable) -> pd.DataFrame:
    """Tidy ours-vs-paper rows: one per (paper row, detection level of our matching rows, paper
    column).

    Ours are converted to the paper's units (``PAPER_SCALES``); ``delta`` = ours − paper. Our rows
    match on the row's dataset, the table's split, the row's ``method:ablation`` and the column's
    axis values; a paper cell without a match keeps NaN for ours. A table with ``mean_over``
    compares ours averaged over those axes' values (``mean_over_axes``; ``ours_values`` says how
    many). A metric whose ± may spread over something other than seeds (sequences, axis values)
    also gets ``ours_n`` and ``spread`` (``spread_of``; the others spread over ``n_seeds``
    seeds). ``ours_sequences``: the sequences our cell scored (``n_sequences``).
    """
    _check_paper_units(table)
    if table.mean_over:
        summary = mean_over_axes(summary, list(table.mean_over))
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
                    "ours_sequences": int(ours["n_sequences"]) if ours is not None else 0,
                }
                if table.mean_over:
                    record["ours_values"] = int(ours["n_values"]) if ours is not None else 0
                if f"{column.metric}_spread" in mine.columns:
                    spread = spreads[column.metric].loc[found.index[0]] if len(found) else None
                    record["ours_n"] = 0 if spread is None else int(spread["n"])
                    record["spread"] = None if spread is None else spread["spread"]
                records.append(record)
    return pd.DataFrame.from_records(records)


def protocol_flags(table: PaperTable, tidy: pd.DataFrame) -> list[str]:
    """Where the compared cells of ours (those with a value) were not made on the paper's
    protocol as the table states it: another number of test sequences than its ``sequences``,
    or another number of values of a ``mean_over`` axis. One line per difference."""
    cells = tidy[tidy["n_seeds"] > 0].drop_duplicates(["ref", "dataset", "axes", "detections"])
    checks = [("ours_sequences", table.sequences, "scores {:,} sequences per cell")]
    checks += [
        ("ours_values", count, f"averages {{:,}} values of {axis}")
        for axis, count in table.mean_over.items()
    ]
    flags = []
    for field, expected, what in checks:
        if expected is None:
            continue
        differ = cells.loc[cells[field] != expected, field].astype(int)
        if differ.empty:
            continue
        ours = " to ".join(f"{n:,}" for n in sorted({differ.min(), differ.max()}))
        flags.append(
            f"Not the paper's protocol: the paper {what.format(expected)}, ours {ours} "
            f"({len(differ)} of {len(cells)} compared cells); the deltas compare numbers made "
            "on different samples."
        )
    return flags


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


def claim_lines(table: PaperTable, tidy: pd.DataFrame) -> list[str]:
    """One line per claim of ``table`` (``PaperClaim``), checked on ours and on the paper's cells
    (``compare_with_paper``'s ``tidy``): whether it holds in every cell, in how many, and where
    not. A cell ours lack is counted apart ("not run")."""
    records: dict[tuple[str | None, str, str], list[dict[str, Any]]] = {}
    for row in tidy.to_dict("records"):
        records.setdefault((row["ref"], row["dataset"], row["column"]), []).append(row)

    def record(ref: str | None, dataset: str, column: str, claim: PaperClaim) -> dict[str, Any]:
        """The tidy record of a cell at the claim's detection variant (default: the first)."""
        found = records[(ref, dataset, column)]
        if claim.detections is None:
            return found[0]
        chosen = [r for r in found if r["detections"] == claim.detections]
        return chosen[0] if chosen else {**found[0], "ours_mean": math.nan, "ours_std": math.nan}

    lines = []
    for claim in table.claims:
        refs = [  # each method's row's ref on each dataset
            {row.dataset: row.ref for row in claimed_rows(name, table.rows)}
            for name in claim.methods
        ]
        datasets = claim.datasets or [d for d in table.datasets if d in refs[0] and d in refs[1]]
        columns = claim.columns or [column.name for column in table.columns]
        pairs = {
            f"{d} {c}": (record(refs[0][d], d, c, claim), record(refs[1][d], d, c, claim))
            for d in datasets
            for c in columns
        }
        mean = claim.stat == "mean"
        verdicts = [
            _claim_verdict(claim, pairs, "ours", "ours_mean" if mean else "ours_std", "not run"),
            _claim_verdict(claim, pairs, "paper", "paper" if mean else "paper_std", "not printed"),
        ]
        on = f" ({claim.detections} detections)" if claim.detections else ""
        lines.append(f"{table.id}: {claim.text}{on}. {'; '.join(verdicts)}.")
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
    within = cast(float, claim.within)  # a number with the relation "within" (_parse_claim)
    spread_field = "ours_std" if who == "ours" else "paper_std"
    for where, (first, second) in pairs.items():
        a, b = first[field], second[field]
        margin = 0.0
        if claim.beyond_spread:
            spreads = [first.get(spread_field), second.get(spread_field)]
            margin = sum(s for s in spreads if s is not None and np.isfinite(s))
        if not (np.isfinite(a) and np.isfinite(b)):
            missing += 1
        elif (a - b > margin) if claim.relation == "above" else abs(a - b) <= within + 1e-9:
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
