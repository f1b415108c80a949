"""The regression gate: compare a change's results with a baseline's (``trackbench compare``).

Usage in CI: run the same experiment on the baseline commit and on the change, then::

    trackbench compare new.sqlite --baseline old.sqlite [--experiment NAME]
        [--metrics MOTA,IDF1,HOTA | --metrics tba] [--tolerance MOTA=0.01 --tolerance FP=5%]
        [--z 2.0] [--alpha 0.05] [--speed [--speed-tolerance 0.2]] [--markdown comment.md]
        [--json | --summary]

Exit code 0: no regression; 1: a regression or a baseline row missing from NEW; 2: bad usage or
input (unknown metric, metric absent from a database, bad ``--tolerance``). The last line printed
(``--summary``: the only one) counts the regressions by metric, e.g. ``FAILED: 2 regressions
(MOTA on 1 row, IDS on 1 row); ...`` or ``PASSED: no regressions; ...``.

Rules:

- A row is one (dataset, split, detections, method, ablation); rows match on these fields, not on
  the config hash (the change may alter a method's config). Values are the ``COMBINED`` ones,
  pooled over seeds per side (``harness.results.summary.summarize``): mean, sample std, n.
- Metrics default to the leaderboard's default column set (``mot``); ``--metrics`` takes metric
  names or a column-set name. Directions, labels and units come from the metric catalogue
  (``harness.metrics.catalogue``); a metric without a direction (PT, GT_IDs) cannot be gated.
- A metric regresses when it moves in its bad direction by more than
  ``allowed = tolerance + z * SE`` with ``SE = sqrt(s_b²/n_b + s_n²/n_n)`` (Welch). A side with one
  seed has no std of its own; it borrows the other side's (the same method, the same noise), so
  SE is 0 only when both sides have one seed. An improvement beyond the same ``allowed`` is
  reported (↑) and never fails.
- Seed noise only: a side's std counts when it has several seeds. (A one-seed row's ± on a board
  may spread over sequences, ``summary.summarize``; both sides score the same sequences, so that
  spread is no noise between them.)
- One seed a side over the same sequences (a single-object row's samples, a multi-object row's
  sequences; ``PAIRED_TEST``): a metric with per-sequence values is judged by the Wilcoxon
  signed-rank test of the per-sequence differences (NEW − baseline, zero differences dropped),
  one-sided in the direction the ``COMBINED`` value moved. It regresses (improves) when it moves
  in its bad (good) direction by more than its tolerance and the test's p < ``alpha``. Rows with
  too few sequences for the test ever to reach ``alpha`` (0.5^n >= alpha), metrics stored
  ``COMBINED`` only, and fps keep the tolerance rule.
- Default tolerances (``DEFAULT_TOLERANCES``, by catalogue unit): fractions 0.005 absolute
  (0.5 points); counts and bytes 2% of the baseline mean but at least 1; other values (FAF, ms,
  fps, px) 2% but at least 0.01. ``--tolerance METRIC=X`` sets an absolute tolerance in the
  stored units (fractions for ratios), ``METRIC=X%`` a relative one; either replaces the default
  for that metric.
- Speed (fps of the tracker, each cell's sequences combined by ``summary.cell_timings``) is
  compared only with ``--speed``: timings differ between machines. Default tolerance 20% relative.
- A baseline row absent from NEW, or lacking some of the baseline's seeds (cells not done: failed
  or never run), fails. Rows only in NEW are listed as new and never fail.
- Weights: when a row's cells on both sides carry provenance (``MultiObjectTracker.provenance``)
  and their sha256 differ, one note per method says the weights changed (informational: a
  retrained model is a reason for a change in numbers, never a failure).
- Curves (single-object IoU over time, success): each row's curve that moved is listed with its
  largest change: the point (x), both sides' y and Δ (informational).
- Outputs: the table (terminal, ``--markdown``) has an Axes column when a row has axis values;
  JSON records carry ``axes`` as a key column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import ConfigError, FormatError, TrackbenchError, did_you_mean
from harness.metrics.catalogue import (
    BYTES,
    COLUMN_SETS,
    COUNT_UNIT,
    DEFAULT_COLUMN_SET,
    FPS,
    FRACTION,
    MS,
    PIXELS,
    VALUE,
    Metric,
    metric_named,
)
from harness.registry import method_label
from harness.results.layouts import (
    default_columns,
    format_cell,
    format_delta,
    resolve_columns,
)
from harness.results.render import counted, json_value, markdown_escape
from harness.results.summary import (
    COMBINED,
    KEY,
    SEEDS,
    combined_rows,
    keyed,
    row_label,
    spread_of,
    summarize,
)
from harness.store import Store

SPEED_METRIC = "fps"
PAIRED_TEST = "Wilcoxon signed-rank"
TOLERANCE_RULE = "tolerance"
DEFAULT_ALPHA = 0.05
VERDICT_MARKS = {"ok": "✓", "regressed": "✗", "improved": "↑", "missing": "✗ missing", "new": "new"}


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move in its bad direction: the larger of ``absolute`` and
    ``relative`` × |baseline mean| (before the z · SE allowance for seed noise)."""

    absolute: float = 0.0
    relative: float = 0.0

    def amount(self, baseline: np.ndarray) -> np.ndarray:
        return np.maximum(self.absolute, self.relative * np.abs(baseline))

    def describe(self, info: Metric) -> str:
        """The tolerance in shown units: points for fractions, else the metric's units."""
        scale, unit = (100.0, " pt") if info.unit == FRACTION else (1.0, "")
        absolute = f"{self.absolute * scale:g}{unit}"
        relative = f"{100 * self.relative:g}%"
        if self.absolute and self.relative:
            return f"max({absolute}, {relative})"
        return relative if self.relative else absolute


_WHOLE_THINGS = Tolerance(absolute=1.0, relative=0.02)
_REAL_VALUES = Tolerance(absolute=0.01, relative=0.02)
DEFAULT_TOLERANCES: dict[str, Tolerance] = {  # by catalogue unit
    FRACTION: Tolerance(absolute=0.005),
    COUNT_UNIT: _WHOLE_THINGS,
    BYTES: _WHOLE_THINGS,
    VALUE: _REAL_VALUES,
    MS: _REAL_VALUES,
    FPS: _REAL_VALUES,
    PIXELS: _REAL_VALUES,
}
DEFAULT_SPEED_TOLERANCE = 0.2
_TOLERANCE_SPEC = re.compile(r"^\s*([^=\s]+)\s*=\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class ComparisonResult:
    """What ``compare`` found.

    ``comparisons``: one row per (report row, metric) present on both sides: the key columns,
    ``metric``, ``baseline_mean/std/n``, ``new_mean/std/n``, ``delta`` (new − baseline, stored
    units), ``tolerance``, ``standard_error``, ``allowed`` (tolerance + z · SE), ``test``
    (``PAIRED_TEST`` or ``TOLERANCE_RULE``), ``sequences`` and ``p_value`` (the paired test's
    sequences and one-sided p; 0 and NaN without it) and ``verdict`` ("ok", "regressed",
    "improved"). ``tolerances``: the tolerance used per metric. ``missing``: baseline rows NEW
    lacks: their ``baseline_seeds``, those not done in NEW (``missing_seeds``) and whether the
    whole row is absent (``row_absent``). ``new_rows``: the key columns of rows only in NEW.
    ``moved_curves``: one row per (report row, curve) that moved, at its largest change
    (``curves_changed``).
    """

    comparisons: pd.DataFrame
    missing: pd.DataFrame
    new_rows: pd.DataFrame
    tolerances: dict[str, Tolerance]
    z: float
    weights_changed: tuple[str, ...] = ()
    """One line per method whose weights (sha256) differ between the sides (``weights_changed``)."""
    moved_curves: pd.DataFrame = field(default_factory=lambda: _no_moved_curves())
    alpha: float = DEFAULT_ALPHA
    """The paired test's significance level."""

    @property
    def curves_changed(self) -> tuple[str, ...]:
        """One line per row and curve that moved: where it moved most, and by how much."""
        return tuple(_moved_curve_line(record) for record in self.moved_curves.to_dict("records"))

    @property
    def regressions(self) -> pd.DataFrame:
        return self.comparisons[self.comparisons["verdict"] == "regressed"]

    @property
    def improvements(self) -> pd.DataFrame:
        return self.comparisons[self.comparisons["verdict"] == "improved"]

    @property
    def passed(self) -> bool:
        return self.regressions.empty and self.missing.empty

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def summary_line(self) -> str:
        """The verdict in one line, what failed first: e.g. "FAILED: 2 regressions (MOTA on 1
        row, IDS on 1 row); 20 comparisons in 2 rows, 0 improved"."""
        per_metric = self.regressions["metric"].value_counts()
        found = "no regressions"
        if len(per_metric):
            metrics = ", ".join(
                f"{metric_named(name).label} on {counted(int(per_metric[name]), 'row')}"
                for name in self.tolerances
                if name in per_metric
            )
            found = f"{counted(len(self.regressions), 'regression')} ({metrics})"
        parts = [found]
        if len(self.missing):
            parts.append(f"{counted(len(self.missing), 'baseline row')} not done in NEW")
        rows = self.comparisons.groupby(KEY, sort=False).ngroups
        parts.append(
            f"{counted(len(self.comparisons), 'comparison')} in {counted(rows, 'row')}, "
            f"{len(self.improvements)} improved"
        )
        if len(self.new_rows):
            parts.append(counted(len(self.new_rows), "new row"))
        return f"{'PASSED' if self.passed else 'FAILED'}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready results (NaN as null)."""
        return {
            "passed": self.passed,
            "z": self.z,
            "alpha": self.alpha,
            "tolerances": {
                name: {"absolute": t.absolute, "relative": t.relative}
                for name, t in self.tolerances.items()
            },
            "regressed": len(self.regressions),
            "improved": len(self.improvements),
            "comparisons": _records(self.comparisons),
            "missing": _records(self.missing),
            "new": _records(self.new_rows),
            "weights_changed": list(self.weights_changed),
            "curves_changed": _records(self.moved_curves),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def compare(
    new: pd.DataFrame,
    baseline: pd.DataFrame,
    metrics: str | Sequence[str] | None = None,
    tolerances: dict[str, Tolerance] | None = None,
    z: float = 2.0,
    alpha: float = DEFAULT_ALPHA,
    new_timings: pd.DataFrame | None = None,
    baseline_timings: pd.DataFrame | None = None,
    speed_tolerance: float = DEFAULT_SPEED_TOLERANCE,
    new_models: pd.DataFrame | None = None,
    baseline_models: pd.DataFrame | None = None,
    new_curves: pd.DataFrame | None = None,
    baseline_curves: pd.DataFrame | None = None,
) -> ComparisonResult:
    """Compare two ``Store.metrics_frame`` results (one experiment each) metric by metric.

    Speed is compared when both ``*_timings`` (``Store.timings_frame``) are given; changed
    weights are noted when both ``*_models`` (``Store.provenance_frame``) are, moved curves when
    both ``*_curves`` (``Store.curves_frame``) are. ``tolerances``
    overrides ``DEFAULT_TOLERANCES`` per metric name; ``alpha`` is the paired test's level. NEW
    may be empty (all its cells failed): every baseline row is then missing. Raises
    ``TrackbenchError`` when a metric is unknown, undirected, or absent from a side, or when the
    baseline is empty.
    """
    if z < 0:
        raise ConfigError(f"z must be >= 0, got {z}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
    names = resolve_metrics(metrics, baseline)
    speed = new_timings is not None and baseline_timings is not None
    if speed:
        names.append(SPEED_METRIC)
    tolerance_of = _tolerances(names, tolerances or {}, speed_tolerance)

    base_summary, base_seeds = _side_summary("baseline", baseline, baseline_timings, names)
    if combined_rows(new).empty:  # every cell failed or none ran: every baseline row is missing
        new_summary, new_seeds = base_summary.iloc[:0], base_seeds.iloc[:0]
    else:
        new_summary, new_seeds = _side_summary("NEW", new, new_timings, names)

    missing = _missing_rows(base_seeds, new_seeds)
    new_only = new_seeds.index.difference(base_seeds.index, sort=False)
    new_rows = pd.DataFrame(list(new_only), columns=KEY)

    paired = _long(base_summary, names).merge(
        _long(new_summary, names), on=KEY + ["metric"], suffixes=("_baseline", "_new")
    )
    paired = paired.sort_values(["row_baseline", "order_baseline"], kind="stable")
    paired = paired.drop(columns=["row_baseline", "order_baseline", "row_new", "order_new"])
    paired = paired.merge(
        _paired_tests(paired, new, baseline, alpha), on=KEY + ["metric"], how="left"
    )
    comparisons = _judge(paired, tolerance_of, z, alpha)
    changed: tuple[str, ...] = ()
    if new_models is not None and baseline_models is not None:
        changed = tuple(weights_changed(new_models, baseline_models))
    moved = _no_moved_curves()
    if new_curves is not None and baseline_curves is not None:
        moved = curves_changed(new_curves, baseline_curves)
    return ComparisonResult(comparisons, missing, new_rows, tolerance_of, z, changed, moved, alpha)


MOVED_CURVE_COLUMNS = [*KEY, "curve", "x", "baseline", "new", "delta"]


def curves_changed(new_curves: pd.DataFrame, baseline_curves: pd.DataFrame) -> pd.DataFrame:
    """One row per (row, curve) on both sides whose mean over seeds moved, at the point of its
    largest |Δ|: ``MOVED_CURVE_COLUMNS`` (x, both sides' y and Δ = new − baseline).
    Informational: the gate judges the scalar a curve summarises, e.g. AUC."""

    def means(curves: pd.DataFrame) -> pd.Series:
        combined = keyed(curves, ["sequence", "curve", "x", "y"], "curves")
        combined = combined[combined["sequence"] == COMBINED]
        return combined.groupby([*KEY, "curve", "x"], sort=False)["y"].mean()

    points = pd.concat({"baseline": means(baseline_curves), "new": means(new_curves)}, axis=1)
    points = points.dropna().reset_index()
    points["delta"] = points["new"] - points["baseline"]
    points = points[points["delta"] != 0]
    size = points["delta"].abs()
    largest = size.groupby([points[c] for c in [*KEY, "curve"]], sort=False).idxmax()
    return points.loc[largest.to_numpy(), MOVED_CURVE_COLUMNS].reset_index(drop=True)


def _no_moved_curves() -> pd.DataFrame:
    return pd.DataFrame(columns=MOVED_CURVE_COLUMNS)


def _moved_curve_line(record: dict[str, Any]) -> str:
    return (
        f"Curve {record['curve']} of {row_label(record)} moved most at x = {record['x']:g}:"
        f" {record['baseline']:.3g} → {record['new']:.3g} (Δ {record['delta']:+.3g};"
        " informational)."
    )


def weights_changed(new_models: pd.DataFrame, baseline_models: pd.DataFrame) -> list[str]:
    """One line per method:ablation with a row (on both sides, each with provenance) whose
    cells' sha256 sets differ, naming the sha256 (first 8 hex digits) of each side."""
    base, new = _digests(baseline_models), _digests(new_models)
    changed: dict[str, tuple[set[str], set[str]]] = {}
    for key in base.keys() & new.keys():
        if base[key] != new[key]:
            record = dict(zip(KEY, key))
            label = method_label(record["method"], record["ablation"])
            old, now = changed.setdefault(label, (set(), set()))
            old.update(base[key])
            now.update(new[key])
    return [
        f"Weights changed for {label}: baseline sha256 {_short(old)}, new {_short(now)}"
        " (informational)."
        for label, (old, now) in sorted(changed.items())
    ]


def _digests(models: pd.DataFrame) -> dict[tuple, set[str]]:
    """Per report row whose cells carry provenance: the set of their weights' sha256."""
    frame = keyed(models, ["provenance"], "models")
    digests: dict[tuple, set[str]] = {}
    for key, provenance in zip(frame[KEY].itertuples(index=False, name=None), frame["provenance"]):
        if isinstance(provenance, dict):
            row = digests.setdefault(key, set())
            row.update([provenance["sha256"]] if "sha256" in provenance else [])
    return digests


def _short(digests: set[str]) -> str:
    return ", ".join(sorted(d[:8] for d in digests)) or "none (untrained)"


def resolve_metrics(
    metrics: str | Sequence[str] | None, baseline: pd.DataFrame | None = None
) -> list[str]:
    """Metric names to gate: a column-set name, comma-separated names, a list, or None (the
    column set a board of ``baseline`` shows: ``layouts.default_columns``, else the default set).
    Every one must have a direction in the catalogue."""
    if isinstance(metrics, str):
        items = [m.strip() for m in metrics.split(",") if m.strip()]
        metrics = items[0] if len(items) == 1 and items[0] in COLUMN_SETS else items
    default = DEFAULT_COLUMN_SET if baseline is None else default_columns(baseline)
    names = resolve_columns(metrics or default)
    undirected = [m for m in names if metric_named(m).higher_is_better is None]
    if undirected:
        raise ConfigError(f"metrics {undirected} have no better direction and cannot be gated")
    return names


def parse_tolerances(specs: Sequence[str]) -> dict[str, Tolerance]:
    """``["MOTA=0.01", "FP=5%,IDSW=2"]`` -> tolerances: ``X`` absolute (stored units, fractions
    for ratios), ``X%`` relative to the baseline mean."""
    tolerances = {}
    for spec in (s for text in specs for s in text.split(",") if s.strip()):
        match = _TOLERANCE_SPEC.match(spec)
        if match is None:
            raise ConfigError(
                f"bad --tolerance {spec.strip()!r}: expected METRIC=VALUE (absolute, e.g. "
                "MOTA=0.01) or METRIC=PERCENT% (relative, e.g. FP=5%)"
            )
        name, number, percent = match.groups()
        value = float(number)
        tolerances[name] = Tolerance(relative=value / 100) if percent else Tolerance(value)
    return tolerances


@dataclass(frozen=True)
class Results:
    """One side read from a results database."""

    path: Path
    experiment: str
    metrics: pd.DataFrame
    timings: pd.DataFrame | None
    models: pd.DataFrame
    curves: pd.DataFrame


def load_results(path: str | Path, experiment: str | None, with_timings: bool) -> Results:
    """The done cells of ``experiment`` (the only one when None) in the database at ``path``."""
    with Store(path, create=False) as store:
        experiment = store.resolve_experiment(experiment)
        metrics = store.metrics_frame(experiment)
        timings = store.timings_frame(experiment) if with_timings else None
        models = store.provenance_frame(experiment)
        curves = store.curves_frame(experiment)
    return Results(Path(path), experiment, metrics, timings, models, curves)


def compare_databases(
    new: str | Path,
    baseline: str | Path,
    experiment: str | None = None,
    speed: bool = False,
    **options: Any,
) -> tuple[ComparisonResult, Results, Results]:
    """``compare`` on two results databases; ``options`` go to ``compare``."""
    new_side = load_results(new, experiment, speed)
    base_side = load_results(baseline, experiment, speed)
    if base_side.metrics.empty:
        raise TrackbenchError(
            f"baseline experiment {base_side.experiment!r} has no finished cells", baseline
        )
    result = compare(
        new_side.metrics,
        base_side.metrics,
        new_timings=new_side.timings,
        baseline_timings=base_side.timings,
        new_models=new_side.models,
        baseline_models=base_side.models,
        new_curves=new_side.curves,
        baseline_curves=base_side.curves,
        **options,
    )
    return result, new_side, base_side


# ----------------------------------------------------------------------------- computation


def _tolerances(
    names: list[str], overrides: dict[str, Tolerance], speed_tolerance: float
) -> dict[str, Tolerance]:
    unknown = [name for name in overrides if name not in names]
    if unknown:
        raise ConfigError(
            f"--tolerance for {unknown}, which are not compared" + did_you_mean(unknown[0], names)
        )
    defaults = {name: DEFAULT_TOLERANCES[metric_named(name).unit] for name in names}
    if SPEED_METRIC in names:
        defaults[SPEED_METRIC] = Tolerance(relative=speed_tolerance)
    return defaults | overrides


def _side_summary(
    side: str, frame: pd.DataFrame, timings: pd.DataFrame | None, names: list[str]
) -> tuple[pd.DataFrame, pd.Series]:
    """``summarize`` of one side (with timings when gating speed), checked to hold every
    metric, and its seeds per row."""
    if SPEED_METRIC not in names:
        timings = None
    elif timings is None or timings.empty:
        raise FormatError(f"{side} results hold no timings; compare without --speed")
    try:
        summary = summarize(frame, timings)
    except TrackbenchError as exc:
        raise FormatError(f"{side} results: {exc}") from None
    absent = [name for name in names if f"{name}_mean" not in summary.columns]
    if absent:
        raise FormatError(f"{side} results lack metrics {absent}")
    seeds = combined_rows(frame).groupby(KEY, sort=False)["seed"].agg(lambda s: sorted(set(s)))
    return summary, seeds


def _missing_rows(base_seeds: pd.Series, new_seeds: pd.Series) -> pd.DataFrame:
    records = []
    for key, seeds in base_seeds.items():
        done = set(new_seeds.get(key, []))
        lacking = [int(s) for s in seeds if s not in done]
        if lacking:
            records.append(
                {
                    **dict(zip(KEY, key)),
                    "baseline_seeds": [int(s) for s in seeds],
                    "missing_seeds": lacking,
                    "row_absent": not done,
                }
            )
    columns = KEY + ["baseline_seeds", "missing_seeds", "row_absent"]
    return pd.DataFrame.from_records(records, columns=columns)


def _long(summary: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per (report row, metric): mean, std over seeds (NaN where a one-seed row's spreads
    over sequences), n seeds, and the row's and metric's order."""
    return pd.concat(
        [
            summary[KEY].assign(
                metric=name,
                mean=summary[f"{name}_mean"].astype(float),
                std=summary[f"{name}_std"]
                .astype(float)
                .where(spread_of(summary, name)["spread"] == SEEDS),
                n=summary["n_seeds"].astype(int),
                row=np.arange(len(summary)),
                order=position,
            )
            for position, name in enumerate(names)
        ],
        ignore_index=True,
    )


def _paired_tests(
    paired: pd.DataFrame, new: pd.DataFrame, baseline: pd.DataFrame, alpha: float
) -> pd.DataFrame:
    """Per comparison with one seed a side whose per-sequence values cover the same sequences,
    enough of them to reach ``alpha``: ``sequences`` and ``p_value`` (``paired_p_value``, in the
    direction the combined value moved). Key columns and metric identify the comparison."""
    one_seed = paired[(paired["n_baseline"] == 1) & (paired["n_new"] == 1)]
    one_seed = one_seed.assign(moved=one_seed["mean_new"] - one_seed["mean_baseline"])
    on = KEY + ["metric"]
    base, now = (one_seed[on].merge(_sequence_values(side), on=on) for side in (baseline, new))
    values = base.merge(now, on=on + ["sequence"], how="outer", suffixes=("_baseline", "_new"))
    values = values.merge(one_seed[on + ["moved"]], on=on)
    records = []
    for key, group in values.groupby(on, sort=False):
        sides = group[["value_baseline", "value_new"]].to_numpy(dtype=float)
        if np.isnan(sides).any() or 0.5 ** len(sides) >= alpha:
            continue  # not the same sequences on both sides, or too few to reach alpha
        moved = float(group["moved"].iloc[0])
        p = paired_p_value(sides[:, 1] - sides[:, 0], "greater" if moved > 0 else "less")
        records.append([*key, len(sides), p])
    return pd.DataFrame(records, columns=on + ["sequences", "p_value"])


def _sequence_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-sequence rows of a results frame: key columns, metric, sequence, value."""
    rows = keyed(frame, ["sequence", "metric", "value"], "results")
    return rows.loc[rows["sequence"] != COMBINED, [*KEY, "metric", "sequence", "value"]]


def paired_p_value(differences: np.ndarray, alternative: str) -> float:
    """One-sided p of the Wilcoxon signed-rank test that ``differences`` (NEW − baseline per
    sequence) lean ``alternative`` ("greater" or "less") of zero; zero differences carry no sign
    and are dropped (Wilcoxon's rule); 1 when none is left."""
    from scipy.stats import wilcoxon

    nonzero = differences[differences != 0]
    if len(nonzero) == 0:
        return 1.0
    return float(wilcoxon(nonzero, alternative=alternative).pvalue)


def _judge(
    paired: pd.DataFrame, tolerance_of: dict[str, Tolerance], z: float, alpha: float
) -> pd.DataFrame:
    """Add delta, tolerance, SE, allowed, the test and verdict (vectorised over all
    comparisons): beyond allowed is a move; with a paired test it also needs p < ``alpha``."""
    base, new = paired["mean_baseline"].to_numpy(), paired["mean_new"].to_numpy()
    n_base, n_new = paired["n_baseline"].to_numpy(), paired["n_new"].to_numpy()
    own_base = np.where(n_base > 1, paired["std_baseline"].to_numpy() ** 2, np.nan)
    own_new = np.where(n_new > 1, paired["std_new"].to_numpy() ** 2, np.nan)
    # a one-seed side borrows the other side's variance; both one seed -> SE 0
    var_base = np.where(np.isnan(own_base), own_new, own_base)
    var_new = np.where(np.isnan(own_new), own_base, own_new)
    se = np.nan_to_num(np.sqrt(var_base / n_base + var_new / n_new), nan=0.0)
    tolerance = np.array(
        [float(tolerance_of[m].amount(b)) for m, b in zip(paired["metric"], base)], dtype=float
    )
    sign = np.array([1.0 if metric_named(m).higher_is_better else -1.0 for m in paired["metric"]])
    delta = new - base
    worse = -sign * delta  # > 0: moved in the bad direction
    allowed = tolerance + z * se
    p_value = paired["p_value"].to_numpy(dtype=float)
    tested = ~np.isnan(p_value)
    significant = ~tested | (p_value < alpha)
    lost = np.isnan(new) & ~np.isnan(base)
    verdict = np.select(
        [lost | ((worse > allowed) & significant), (-worse > allowed) & significant],
        ["regressed", "improved"],
        "ok",
    )
    columns = {
        "baseline_mean": base,
        "baseline_std": paired["std_baseline"].to_numpy(),
        "baseline_n": n_base,
        "new_mean": new,
        "new_std": paired["std_new"].to_numpy(),
        "new_n": n_new,
        "delta": delta,
        "tolerance": tolerance,
        "standard_error": se,
        "allowed": allowed,
        "test": np.where(tested, PAIRED_TEST, TOLERANCE_RULE),
        "sequences": paired["sequences"].fillna(0).to_numpy(dtype=int),
        "p_value": p_value,
        "verdict": verdict,
    }
    return pd.concat([paired[KEY + ["metric"]], pd.DataFrame(columns)], axis=1)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in record.items()} for record in frame.to_dict("records")]


# ----------------------------------------------------------------------------- rendering

COLUMNS = ["Row", "Axes", "Metric", "Baseline", "New", "Δ", "Allowed", "Verdict"]
NUMERIC_COLUMNS = frozenset({"Baseline", "New", "Δ", "Allowed"})


def display_table(result: ComparisonResult) -> tuple[list[str], list[list[str]]]:
    """The diff table as text: its header (``COLUMNS``; Axes only when a row has axis values)
    and cells: ratios in %, deltas and allowances in the shown units (points for ratios), a
    paired test's p in the verdict; a row's label and axes only on its first line."""
    lines, previous = [], None
    for record in result.comparisons.to_dict("records"):
        info = metric_named(record["metric"])
        scale = info.scale
        where = _row_cells(record)
        verdict = VERDICT_MARKS[record["verdict"]]
        if record["test"] == PAIRED_TEST:
            verdict += f" Wilcoxon p={record['p_value']:.2g}"
        lines.append(
            [
                *(where if where != previous else ["", ""]),
                info.header,
                _side_cell(info, record, "baseline"),
                _side_cell(info, record, "new"),
                format_delta(info, record["delta"] * scale)
                if np.isfinite(record["delta"])
                else "—",
                format_delta(info, record["allowed"] * scale).lstrip("+")
                if np.isfinite(record["allowed"])
                else "—",
                verdict,
            ]
        )
        previous = where
    for record in result.missing.to_dict("records"):
        seeds = ", ".join(map(str, record["missing_seeds"]))
        what = "not done" if record["row_absent"] else f"seeds {seeds} not done"
        base = f"seeds {', '.join(map(str, record['baseline_seeds']))}"
        lines.append([*_row_cells(record), "—", base, what, "", "", VERDICT_MARKS["missing"]])
    for record in result.new_rows.to_dict("records"):
        lines.append([*_row_cells(record), "—", "", "", "", "", VERDICT_MARKS["new"]])
    axes = COLUMNS.index("Axes")
    if any(line[axes] for line in lines):
        return COLUMNS, lines
    return COLUMNS[:axes] + COLUMNS[axes + 1 :], [line[:axes] + line[axes + 1 :] for line in lines]


def _row_cells(record: dict[str, Any]) -> list[str]:
    """The Row and Axes cells of a report row: its label without the axes, and the axes."""
    return [row_label({**record, "axes": ""}), str(record.get("axes") or "")]


def _side_cell(info: Metric, record: dict[str, Any], side: str) -> str:
    n = int(record[f"{side}_n"])
    return f"{format_cell(info, record[f'{side}_mean'], record[f'{side}_std'], n)} ({n})"


def table_notes(result: ComparisonResult) -> list[str]:
    tolerances = ", ".join(
        f"{metric_named(name).label} {tolerance.describe(metric_named(name))}"
        for name, tolerance in result.tolerances.items()
    )
    paired = (result.comparisons["test"] == PAIRED_TEST).any()
    return [
        "Cells: mean ± sample std (n seeds) of the COMBINED value; ratios in %, Δ in points.",
        (
            f"Regression: a move in the bad direction beyond allowed = tolerance + {result.z:g}"
            " · SE (Welch standard error of the difference of means over seeds)."
        ),
        *(
            [
                "Wilcoxon p: one seed a side over the same sequences; a move beyond the"
                " tolerance counts only when the Wilcoxon signed-rank test of the per-sequence"
                f" differences, one-sided in the direction of the move, gives p < {result.alpha:g}."
            ]
            if paired
            else []
        ),
        f"Tolerances: {tolerances}.",
        "✓ within allowance, ✗ regression or baseline row not done in NEW, ↑ improvement.",
        *result.weights_changed,
        *result.curves_changed,
    ]


def to_markdown(result: ComparisonResult, title: str) -> str:
    """The diff table as a Markdown document (a CI comment)."""
    header, rows = display_table(result)
    lines = [
        f"## {markdown_escape(title)}",
        "",
        f"**{markdown_escape(result.summary_line())}**",
        "",
    ]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---:" if c in NUMERIC_COLUMNS else "---" for c in header) + "|")
    lines += ["| " + " | ".join(markdown_escape(c) for c in row) + " |" for row in rows]
    lines += [""] + [f"- {markdown_escape(note)}" for note in table_notes(result)]
    return "\n".join(lines) + "\n"
