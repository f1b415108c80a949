"""TBA inference throughput: online per-frame ``step`` (batch 1) and batched ``track``.

Run the measurements with
``python -m pytest tests/benchmarks/test_bench_tba.py --benchmark-enable``, on a GPU with
``TRACKBENCH_BENCH_DEVICE=cuda`` and ``TRACKBENCH_BENCH_FRAMES`` / ``TRACKBENCH_BENCH_BATCH`` raised
(e.g. 1000 and 64); the defaults keep the plain test run short. Weights are untrained (seeded):
throughput does not depend on them.
"""

from __future__ import annotations

import pytest
from tba_bench_settings import BATCH, DEVICE, FRAMES

from harness.datasets import load_dataset
from harness.timing import time_batched, timed_track
from trackers.tba import TBATracker

BATCH = int(BATCH or 4)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    adapter = load_dataset("sprites-mot", tmp_path_factory.mktemp("cache"), eval_frames=FRAMES)
    return adapter.sequences("eval")[0]


def tracker() -> TBATracker:
    return TBATracker(dataset="sprites-mot", seed=0, device=DEVICE)


@pytest.mark.benchmark(group="tba-inference")
def test_online_step_batch_1(benchmark, video):
    result, record = benchmark.pedantic(
        timed_track,
        args=(tracker(), video),
        kwargs={"warmup_frames": 5, "device": DEVICE},
        rounds=3,
    )
    benchmark.extra_info.update(fps=record.fps, p50_ms=record.latency_p50_ms, device=DEVICE)
    assert record.frames == FRAMES - 5 and record.fps > 0


@pytest.mark.benchmark(group="tba-inference")
def test_batched_track(benchmark, video):
    videos = [video] * BATCH
    results, record = benchmark.pedantic(
        time_batched, args=(tracker(), videos), kwargs={"device": DEVICE}, rounds=3
    )
    benchmark.extra_info.update(fps=record.fps, batch=BATCH, device=DEVICE)
    assert len(results) == BATCH and record.frames == FRAMES * BATCH
    assert all(r.equals(results[0]) for r in results)  # the same video gives the same tracks
