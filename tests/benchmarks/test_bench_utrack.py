"""utrack speed on the CPU: tracking frames/s of the crop tier (utrack, provide-track mode) and of
the detector tier (outrack, detector + tracker with OccE) on 128x128 Sprites-MOT at 6 objects
(batch 1), with where the time goes; training iterations/s of both (a batch of 8 frame pairs), with
the share of the pair stream.

Measure with ``python -m pytest tests/benchmarks/test_bench_utrack.py --benchmark-enable -s``.
Environment: ``TRACKBENCH_BENCH_FRAMES`` (default 40 frames), ``TRACKBENCH_BENCH_ITERATIONS``
(training iterations, default 20); ``OMP_NUM_THREADS`` fixes the CPU threads. The crop tier's
weights are an untrained seeded model's (the same network and work as a trained one's), the
detector's the published checkpoint's.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest
from profiling import print_parts, profile_parts
from tba_bench_settings import FRAMES

from harness.datasets import load_dataset
from harness.detectors import OracleNoise, oracle_detections
from harness.lifecycle import train_method
from harness.training import RunData
from trackers.utrack.tracker import OUTrackTracker, UTrackTracker
from trackers.utrack.train import UTrackRecipe

ITERATIONS = int(os.environ.get("TRACKBENCH_BENCH_ITERATIONS", "20"))
OUTRACK = Path(__file__).parents[2] / "checkpoints/outrack/sprites-mot/OccE/last"
"""The published detector: an untrained one finds nothing to track."""
PARTS = {  # the trackers' functions whose cumulative time is reported, as what they do
    "embed": "crops and embeddings",
    "appearance_crops": "  of which crops",
    "decode_detections": "decoding detections",
    "decode_occlusions": "decoding occlusion centres",
    "_refind": "OccE re-finding",
    "_embedding_stage": "embedding association (cosine, Kalman gating, assignment)",
    "_iou_stage": "IoU associations",
    "predict": "Kalman predictions",
}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    adapter = load_dataset(
        "sprites-mot", tmp_path_factory.mktemp("cache"), objects=6, eval_frames=FRAMES
    )
    sequence = adapter.sequences("eval")[0]
    return sequence, oracle_detections(sequence, OracleNoise(), 0)


TIERS = {
    "utrack": lambda: UTrackTracker(dataset="sprites-mot"),
    "outrack": lambda: OUTrackTracker.from_checkpoint(OUTRACK, occe=True),
}


@pytest.mark.parametrize("method", TIERS)
@pytest.mark.benchmark(group="utrack")
def test_tracking_frames_per_second(benchmark, video, method):
    sequence, detections = video
    tracker = TIERS[method]()
    detections = detections if "detections" in tracker.inputs else None
    seconds = []

    def track():
        started = time.perf_counter()
        results = tracker.track([sequence], [detections])
        seconds.append(time.perf_counter() - started)
        return results

    results = benchmark.pedantic(track, rounds=3, iterations=1)
    assert len(results[0]) > 0
    fps = sequence.num_frames / statistics.median(seconds)
    total, parts = profile_parts(lambda: tracker.track([sequence], [detections]), PARTS)
    benchmark.extra_info.update({"frames_per_s": fps, "parts_s": parts, "profiled_s": total})
    print(f"\n{method} tracking, 6 objects, batch 1: {fps:.0f} frames/s")
    print_parts(total, parts, PARTS)


@pytest.mark.parametrize("method", TIERS)
@pytest.mark.benchmark(group="utrack-train")
def test_training_iterations_per_second(benchmark, tmp_path, method):
    config = {"dataset": "sprites-mot", "model": "crops" if method == "utrack" else "detector"}
    params = {"objects": 6}

    def run():
        return train_method(
            method,
            tmp_path / f"run-{time.perf_counter_ns()}",
            ITERATIONS,
            config=config,
            dataset_params=params,
            validate_every=None,
            checkpoint_every=ITERATIONS,
            log_every=ITERATIONS,
        )

    summary = benchmark.pedantic(run, rounds=1, iterations=1)
    stream = UTrackRecipe.from_method(config, {}, RunData(tmp_path, None, params)).stream(0)
    started = time.perf_counter()
    for _ in range(ITERATIONS):
        stream.next_batch()
    share = (time.perf_counter() - started) / ITERATIONS * summary["iterations_per_s"]
    benchmark.extra_info.update(
        {"iterations_per_s": summary["iterations_per_s"], "stream_share": share}
    )
    print(
        f"\n{method} training, 8 frame pairs a batch: {summary['iterations_per_s']:.1f}"
        f" iterations/s; the pair stream takes {100 * share:.0f}% of an iteration"
    )
