"""The metric catalogue: every metric in use is declared, with TrackEval's units and directions;
unknown names; the spread rule of ``report.summarize`` and how boards name it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness.compare import DEFAULT_TOLERANCES, resolve_metrics
from harness.errors import ConfigError
from harness.metrics import evaluate_files
from harness.metrics.catalogue import (
    CATALOGUE,
    COLUMN_SETS,
    COMBINES,
    COUNT_UNIT,
    FAMILIES,
    FRACTION,
    MEAN_COMBINE,
    POOLED_COMBINE,
    SINGLE_OBJECT,
    TIMING,
    UNITS,
    VALUE,
    in_catalogue_order,
    metric_named,
    names_of,
)
from harness.metrics.mot import TRACKEVAL_METRICS, metric_classes
from harness.papers import paper_tables
from harness.results.board import write_report
from harness.results.layouts import TIMING_SHOWN
from harness.results.plots import PLOT_METRICS
from harness.results.render import board_rows
from harness.results.summary import SEEDS, SEQUENCES, spread_of, summarize
from harness.timing import TimingRecord


def test_every_metric_in_use_is_declared():
    used = {name for columns in COLUMN_SETS.values() for name in columns}
    used |= set(PLOT_METRICS) | set(TIMING_SHOWN)
    used |= {column.metric for table in paper_tables().values() for column in table.columns}
    used |= {"IoU", "AUC", "Precision20", "CenterError", "TimeIoU"}  # the single-object task's
    used |= {"fps", "latency_p50_ms", "latency_p95_ms", "peak_memory_bytes"}
    assert used <= set(CATALOGUE), sorted(used - set(CATALOGUE))
    assert set(TimingRecord.__dataclass_fields__) >= set(names_of([TIMING]))
    for name in resolve_metrics(None):  # compare's default metrics
        assert metric_named(name).unit in DEFAULT_TOLERANCES
    for info in CATALOGUE.values():
        assert info.family in FAMILIES and info.unit in UNITS and info.combine in COMBINES


def test_trackeval_fields_keep_trackevals_family_unit_and_combine():
    """Each TrackEval metric of the catalogue names a field of its family's class; TrackEval's
    integer fields are counts, its other fields fractions (FAF a plain value)."""
    classes = metric_classes()
    for info in TRACKEVAL_METRICS:
        family, field = info.source
        assert field in classes[family].fields, info.name
        integer = field in classes[family].integer_fields
        expected = COUNT_UNIT if integer else VALUE if info.name == "FAF" else FRACTION
        assert info.unit == expected, info.name
    of_trackeval = {name for name, info in CATALOGUE.items() if info.family in classes}
    assert of_trackeval == {info.name for info in TRACKEVAL_METRICS}
    with pytest.raises(ValueError, match="not one of TrackEval's fields"):
        _ = CATALOGUE["IoU"].source


def test_directions_agree_with_trackeval_perfect_tracking_scores_best(motmetrics_data):
    """Ground truth tracked perfectly is strictly better than a real tracker's output on every
    directed metric, by that metric's direction; undirected ones describe the data."""
    folder = motmetrics_data / "TUD-Stadtmitte"
    perfect = evaluate_files(folder / "gt.txt", folder / "gt.txt")["combined"]
    tracked = evaluate_files(folder / "gt.txt", folder / "test.txt")["combined"]
    for name in perfect:
        better = metric_named(name).higher_is_better
        if better is not None:
            assert (perfect[name] > tracked[name]) == better, name
            assert perfect[name] != tracked[name], name
    undirected = {name for name in perfect if metric_named(name).higher_is_better is None}
    assert undirected == {"PT", "PTR", "Frames", "GT_Dets", "GT_IDs", "Dets", "IDs"}


def test_single_object_and_timing_declarations():
    for name in ("IoU", "AUC", "Precision20"):
        info = metric_named(name)
        assert (info.family, info.unit, info.higher_is_better) == (SINGLE_OBJECT, FRACTION, True)
    center = metric_named("CenterError")
    assert (center.unit, center.higher_is_better, center.combine) == ("px", False, MEAN_COMBINE)
    time = metric_named("TimeIoU")  # HART's mean of the IoU-over-time curve: per cell only
    assert (time.family, time.unit, time.higher_is_better) == (SINGLE_OBJECT, FRACTION, True)
    assert time.combine == POOLED_COMBINE
    assert names_of([SINGLE_OBJECT]) == ["IoU", "AUC", "Precision20", "CenterError", "TimeIoU"]
    assert names_of([TIMING]) == [
        "fps",
        "batched_fps",
        "latency_p50_ms",
        "latency_p95_ms",
        "peak_memory_bytes",
    ]
    assert (
        metric_named("fps").higher_is_better and not metric_named("latency_p95_ms").higher_is_better
    )
    assert metric_named("IDSW").header == "IDS ↓" and metric_named("PT").header == "PT"


def test_values_are_written_in_their_units():
    assert metric_named("MOTA").format(0.2391) == "23.9"
    assert metric_named("FN").format(16170.0) == "16,170"
    assert metric_named("FN").format(16170.0, spread=True) == "16,170.0"
    assert metric_named("FAF").format(0.054) == "0.05"
    assert metric_named("CenterError").format(12.345) == "12.3"
    assert metric_named("peak_memory_bytes").format(2.0**30) == "1,073,741,824"


def test_unknown_names_are_config_errors_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown metric 'MOTP_' .*did you mean 'MOTP'"):
        metric_named("MOTP_")
    with pytest.raises(ConfigError, match="unknown metric 'IOU'.*did you mean 'IoU'"):
        in_catalogue_order({"IOU": 0.5})
    with pytest.raises(ConfigError, match="unknown metric family 'clear'"):
        names_of(["clear"])


def test_evaluated_families_come_out_in_catalogue_order():
    values = {"IDSW": 3, "MOTA": 0.5, **{name: 0 for name in names_of(["CLEAR"])}}
    assert list(in_catalogue_order(values)) == names_of(["CLEAR"])
    single = in_catalogue_order({"CenterError": 3.0, "IoU": 0.5, "AUC": 0.4, "Precision20": 1})
    assert list(single) == ["IoU", "AUC", "Precision20", "CenterError"]


# ----------------------------------------------------------------------------- the spread rule

KEYS = {
    "experiment": "e",
    "dataset": "toy-sot",
    "split": "test",
    "detections": "",
    "ablation": "default",
}


def sample_rows(method: str, seed: int, per_sequence: dict[str, list[float]]) -> list[dict]:
    """One cell's rows: per metric, one value per sequence (sample) and their mean as COMBINED."""
    rows = []
    for name, values in per_sequence.items():
        cell = {**KEYS, "method": method, "seed": seed, "metric": name}
        rows += [{**cell, "sequence": f"s{i}", "value": v} for i, v in enumerate(values)]
        rows.append({**cell, "sequence": "COMBINED", "value": float(np.mean(values))})
    return rows


ONE_SEED = sample_rows("one", 0, {"IoU": [0.2, 0.5, 0.8], "CenterError": [4.0, 6.0, 11.0]})
# a trackeval-combined metric in the one-seed row: its ± stays over seeds (none with one seed)
ONE_SEED += [
    {**KEYS, "method": "one", "seed": 0, "metric": "MOTA", "sequence": "COMBINED", "value": 0.3}
]
THREE_SEEDS = [
    row
    for seed, values in enumerate(([0.2, 0.4], [0.3, 0.5], [0.6, 0.6]))
    for row in sample_rows("three", seed, {"IoU": values})
]
FRAME = pd.DataFrame(ONE_SEED + THREE_SEEDS)


def test_one_seed_spreads_over_sequences_ddof0_several_seeds_over_seeds_ddof1():
    summary = summarize(FRAME).set_index("method")
    one, three = summary.loc["one"], summary.loc["three"]
    assert one["IoU_mean"] == pytest.approx(0.5)
    assert one["IoU_std"] == pytest.approx(np.std([0.2, 0.5, 0.8], ddof=0))
    assert (one["IoU_n"], one["IoU_spread"]) == (3, SEQUENCES)
    assert one["CenterError_std"] == pytest.approx(np.std([4.0, 6.0, 11.0], ddof=0))
    assert one["n_seeds"] == 1 and math.isnan(one["MOTA_std"])
    assert three["IoU_mean"] == pytest.approx(np.mean([0.3, 0.4, 0.6]))
    assert three["IoU_std"] == pytest.approx(np.std([0.3, 0.4, 0.6], ddof=1))
    assert (three["IoU_n"], three["IoU_spread"]) == (3, SEEDS)
    spreads = spread_of(summary, "MOTA")  # a trackeval metric: always over the seeds
    assert spreads["spread"].tolist() == [SEEDS, SEEDS] and spreads["n"].tolist() == [1, 3]


def test_boards_name_the_spread_of_their_plus_minus(tmp_path):
    write_report(FRAME, tmp_path, "toy", columns=["IoU", "CenterError", "MOTA"])
    board = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "- ± : sample std over 3 seeds (ddof 1) of the COMBINED values." in board
    assert "- ± of IoU, CenterError in one-seed rows: std over 3 sequences (ddof 0)" in board
    assert "mean ± std over seeds or sequences (see the notes)" in board
    one = next(line for line in board.splitlines() if "| one |" in line)
    assert one.endswith("| 1 | **50.0 ± 24.5** | 7.0 ± 2.9 | 30.0 |")
    three = next(line for line in board.splitlines() if "| three |" in line)
    assert three.endswith("| 3 | 43.3 ± 15.3 | — | — |")
    csv = pd.read_csv(tmp_path / "leaderboard.csv")
    start = list(csv.columns).index("IoU_mean")
    assert list(csv.columns[start : start + 4]) == ["IoU_mean", "IoU_std", "IoU_n", "IoU_spread"]
    assert "MOTA_spread" not in csv.columns  # a trackeval metric spreads over n_seeds seeds
    assert csv["IoU_spread"].tolist() == [SEQUENCES, SEEDS]


def test_board_rows_carry_mean_std_spread_and_n_per_metric():
    rows = {row["method"]: row for row in board_rows(FRAME)}
    one = rows["one"]
    assert one["n"] == 1 and list(one["metrics"]) == ["MOTA", "IoU", "CenterError"]
    assert one["metrics"]["IoU"] == {
        "mean": pytest.approx(0.5),
        "std": pytest.approx(np.std([0.2, 0.5, 0.8])),
        "spread": SEQUENCES,
        "n": 3,
    }
    assert one["metrics"]["MOTA"] == {"mean": 0.3, "std": None, "spread": SEEDS, "n": 1}
    assert rows["three"]["metrics"]["IoU"]["spread"] == SEEDS
    assert "MOTA" not in rows["three"]["metrics"]  # no value: left out
