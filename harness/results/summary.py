"""The row key and seed statistics: one definition, shared by the store, boards and the
regression gate.

Input is the long frame of ``Store.metrics_frame`` (experiment, dataset, split, axes, detections,
method, ablation, seed, sequence, metric, value). A row is one ``KEY``; its value of a metric is
the mean ± sample std (ddof 1) over seeds of the ``COMBINED`` value (``summarize``, which also
says where a ± spreads over sequences instead). ``mean_over_axes`` averages rows over the values
of experiment axes (e.g. KTH's leave-one-out folds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from pandas.api.typing import SeriesGroupBy

from harness.errors import FormatError
from harness.metrics.catalogue import CATALOGUE, MEAN_COMBINE, TIMING, names_of
from harness.registry import method_label

KEY = ["dataset", "split", "axes", "detections", "method", "ablation"]
COMBINED = "COMBINED"
CONDITION = ["dataset", "split", "axes", "detections"]
"""The key columns of the data a row ran on: rows are ranked against those of the same."""
SEEDS, SEQUENCES = "seeds", "sequences"  # what a cell's ± spreads over (``spread_of``)
TIMING_FIELDS = names_of([TIMING])


def summarize(frame: pd.DataFrame, timings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per report key: ``n_seeds``, ``n_sequences`` (the most sequences a seed's cell
    scored: its per-sequence rows), and ``<metric>_mean`` / ``<metric>_std`` of the ``COMBINED``
    values in raw units (fractions, counts), in catalogue order (undeclared metrics after, by
    name). Row order is the order of first appearance.

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
    summary.insert(
        1, "n_sequences", _sequences_per_cell(frame).reindex(summary.index).fillna(0).astype(int)
    )
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


def _sequences_per_cell(frame: pd.DataFrame) -> pd.Series:
    """Per report key, the most distinct sequences (not ``COMBINED``) a seed's cell scored."""
    rows = keyed(frame, ["seed", "sequence"], "results")
    rows = rows[rows["sequence"] != COMBINED]
    per_seed = rows.groupby(KEY + ["seed"], sort=False, dropna=False)["sequence"].nunique()
    return per_seed.groupby(level=KEY, sort=False, dropna=False).max().astype(int)


def mean_over_axes(summary: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """``summarize``'s rows averaged over the values of experiment ``axes`` (e.g. ``["fold"]``):
    one row per key with those axes left out of ``axes``, in order of first appearance; a row
    without them counts as one value.

    Per metric: ``<metric>_mean`` the mean of the rows' means, ``<metric>_std`` their sample std
    (ddof 1; NaN for one value), ``<metric>_n`` how many values have one and ``<metric>_spread``
    ``"<axes> values"`` (``spread_of``). ``n_values``: the rows averaged; ``n_seeds``: the fewest
    seeds of one of them; ``n_sequences``: the sequences they scored together.
    """
    names = [column[: -len("_mean")] for column in summary.columns if column.endswith("_mean")]
    dropped = set(axes)
    rest = [
        ", ".join(f"{k}={v}" for k, v in axis_values(label).items() if k not in dropped)
        for label in summary["axes"]
    ]
    groups = summary.assign(axes=rest).groupby(KEY, sort=False, dropna=False)
    spread = f"{', '.join(axes)} values"
    collapsed = pd.DataFrame(
        {
            "n_values": groups.size(),
            "n_seeds": groups["n_seeds"].min(),
            "n_sequences": groups["n_sequences"].sum(),
        }
    )
    for name in names:
        means = groups[f"{name}_mean"]
        collapsed[f"{name}_mean"] = means.mean()
        collapsed[f"{name}_std"] = means.std(ddof=1)
        collapsed[f"{name}_n"] = means.count()
        collapsed[f"{name}_spread"] = spread
    return collapsed.reset_index()


def spread_of(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per ``summarize`` row, what the ± of metric ``name`` spreads over: ``spread`` (``SEEDS``
    or ``SEQUENCES``; in ``mean_over_axes``'s rows, ``"<axes> values"``) and ``n`` (how many of
    them)."""
    if f"{name}_spread" in summary.columns:
        return pd.DataFrame({"spread": summary[f"{name}_spread"], "n": summary[f"{name}_n"]})
    return pd.DataFrame({"spread": SEEDS, "n": summary["n_seeds"]}, index=summary.index)


def keyed(frame: pd.DataFrame, needed: list[str], what: str) -> pd.DataFrame:
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
    frame = keyed(frame, ["seed", "sequence", "metric", "value"], "results")
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
    frame = keyed(frame, ["seed", *numeric, "device_name"], "timings")
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
    rows = keyed(frame, ["seed", "sequence", "metric", "value"], "results")
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


def row_label(record: dict[str, Any]) -> str:
    """``dataset/split[axes]/detections method[:ablation]`` of a report row."""
    split = str(record["split"]) + (f"[{record['axes']}]" if record.get("axes") else "")
    where = "/".join(str(x) for x in (record["dataset"], split, record["detections"]) if x)
    return f"{where} {method_label(record['method'], record['ablation'])}"


def axis_names(summary: pd.DataFrame) -> list[str]:
    """The axis names in the rows' ``axes`` labels (``name=value, ...``), in order."""
    names: dict[str, None] = {}
    for label in summary["axes"]:
        names.update(dict.fromkeys(axis_values(label)))
    return list(names)


def axis_values(label: str) -> dict[str, str]:
    """``{"length": "20"}`` of the label ``length=20`` (``harness.experiment.axes_label``)."""
    return dict(part.split("=", 1) for part in label.split(", ")) if label else {}
