"""Benchmarks: evaluate_files' stages, our engine vs TrackEval's metric classes, parse_mot.

The evaluate-mot17-scale group splits evaluate_files' cost: (a) the whole pipeline on files,
(b) TrackEval's metric classes on prebuilt data dicts, (b') our engine on the same sequences,
(c) the in-memory ``evaluate`` (preprocessing + engine), and the file reading alone. (b) / (b')
is the engine's speed-up; (c) - (b') is the preprocessing share and (a) - (c) the reading share.
The whole-process comparison with TrackEval is tests/benchmarks/evaluate_vs_trackeval.py.

Run: python -m pytest tests/benchmarks/test_bench_evaluate.py --benchmark-enable -q
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from workloads import random_sequence

from harness.data import BoxTable
from harness.metrics import evaluate, evaluate_files
from harness.metrics.crosscheck import write_trackeval_layout
from harness.metrics.engine import combine_sequences, evaluate_sequence
from harness.metrics.mot import metric_classes, prepare, trackeval_data
from harness.motchallenge import parse_mot, read_mot

SEQUENCES, FRAMES, OBJECTS = 7, 750, 90  # ~30 objects per frame, MOT17 train scale
ROUNDS = {"rounds": 7, "warmup_rounds": 1}  # one warm-up, then the median of 7 (~1.5 s each)


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    gt, pred = {}, {}
    for seed in range(SEQUENCES):
        gt[f"MOT17-{seed:02d}"], pred[f"MOT17-{seed:02d}"] = random_sequence(
            seed, FRAMES, OBJECTS, "mot17"
        )
    root = tmp_path_factory.mktemp("mot17")
    write_trackeval_layout(root, gt, pred, "MOT17")
    return (
        gt,
        pred,
        root / "gt" / "MOT17-train",
        root / "trackers" / "MOT17-train" / "ours" / "data",
    )


@pytest.mark.benchmark(group="evaluate-mot17-scale")
def test_bench_evaluate_files(benchmark, workload):
    _, _, gt_dir, pred_dir = workload
    result = benchmark.pedantic(evaluate_files, (gt_dir, pred_dir, "mot17"), **ROUNDS)
    assert result["combined"]["GT_Dets"] > 15 * SEQUENCES * FRAMES


@pytest.mark.benchmark(group="evaluate-mot17-scale")
def test_bench_trackeval_metrics_only(benchmark, workload):
    """Baseline: TrackEval's metric classes on the same prebuilt data dicts."""
    gt, pred, _, _ = workload
    data = {n: trackeval_data(s) for n, s in prepare(gt, pred, "mot17").items()}
    metrics = metric_classes()

    def run():
        return {
            family: metric.combine_sequences({n: metric.eval_sequence(d) for n, d in data.items()})
            for family, metric in metrics.items()
        }

    combined = benchmark.pedantic(run, **ROUNDS)
    assert combined["Count"]["GT_Dets"] > 15 * SEQUENCES * FRAMES


@pytest.mark.benchmark(group="evaluate-mot17-scale")
def test_bench_engine_only(benchmark, workload):
    """Our engine on the same prepared sequences as the baseline."""
    gt, pred, _, _ = workload
    sequences = prepare(gt, pred, "mot17")

    def run():
        return combine_sequences({n: evaluate_sequence(s) for n, s in sequences.items()})

    combined = benchmark.pedantic(run, **ROUNDS)
    assert combined["Count"]["GT_Dets"] > 15 * SEQUENCES * FRAMES


@pytest.mark.benchmark(group="evaluate-mot17-scale")
def test_bench_evaluate_in_memory(benchmark, workload):
    """evaluate_files without the file reading: preprocessing plus the metric classes."""
    gt, pred, _, _ = workload
    frames = dict.fromkeys(gt, FRAMES)
    result = benchmark.pedantic(evaluate, (gt, pred, "mot17", frames), **ROUNDS)
    assert result["combined"]["GT_Dets"] > 15 * SEQUENCES * FRAMES


@pytest.mark.benchmark(group="evaluate-mot17-scale")
def test_bench_read_files_only(benchmark, workload):
    """The file-reading share of evaluate_files."""
    _, _, gt_dir, pred_dir = workload

    def read():
        return [read_mot(p, "gt") for p in sorted(gt_dir.glob("*/gt/gt.txt"))] + [
            read_mot(p) for p in sorted(pred_dir.glob("*.txt"))
        ]

    assert len(benchmark(read)) == 2 * SEQUENCES


@pytest.mark.benchmark(group="parse-mot")
def test_bench_parse_mot_million_rows(benchmark):
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = np.repeat(np.arange(1, n // 40 + 1), 40)
    table = BoxTable.build(
        frame=frame,
        id=np.tile(np.arange(1, 41), n // 40),
        box=rng.uniform(1, 500, (n, 4)).round(2),
        conf=rng.random(n).round(3),
    )
    columns = {
        "frame": table.frame,
        "id": table.id,
        **dict(zip("ltwh", table.box.T)),
        "conf": table.conf,
        "x": -1,
        "y": -1,
        "z": -1,
    }
    text = pd.DataFrame(columns).to_csv(header=False, index=False)
    parsed = benchmark(parse_mot, text, "result")
    assert len(parsed) == n and np.array_equal(parsed.box, table.box)
