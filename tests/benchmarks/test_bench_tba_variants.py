"""TBA execution variants: eager vs ``torch.compile`` modes (``TBATracker(compile=...)``) on the
online per-frame ``step`` (batch 1) and the batched ``track``; every compiled variant must give
eager's tracks (ids and frames identical, boxes and the final recurrent state within 1e-4).

Compiling takes minutes on a CPU, so the compiled variants run only with
``TRACKBENCH_BENCH_COMPILE=1``; eager always runs. Measure with
``TRACKBENCH_BENCH_COMPILE=1 python -m pytest tests/benchmarks/test_bench_tba_variants.py
--benchmark-enable`` (``OMP_NUM_THREADS`` fixes the CPU threads); device, frames and batch come
from the same variables as ``test_bench_tba.py``. ``first_call_s`` (extra info) is the first,
untimed call: compilation plus one run. Weights are untrained (seeded) with the confidence bias
raised so that every tracker is reported: the comparison then covers every slot's box.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from tba_bench_settings import BATCH, DEVICE, FRAMES, MODES

from harness.data import BoxTable
from harness.datasets import load_dataset
from harness.timing import time_batched, timed_track
from trackers.tba import TBATracker

BATCH = int(BATCH or 4)
WARMUP = 5
CONF_SHIFT = 0.6  # an untrained a_e is ~0.05: y_e = tanh(a_e + 0.6) > 0.5 for every tracker


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    adapter = load_dataset("sprites-mot", tmp_path_factory.mktemp("cache"), eval_frames=FRAMES)
    return adapter.sequences("eval")[0]


def tracker(mode: str | None) -> TBATracker:
    if mode is not None:
        torch.compiler.reset()  # each variant compiles from scratch (no other mode's cache)
    built = TBATracker(dataset="sprites-mot", seed=0, device=DEVICE, compile=mode)
    with torch.no_grad():
        built.model.trackers.heads.mlp[-1].bias[0] += CONF_SHIFT
    return built


@pytest.fixture(scope="module")
def eager_step(video):
    """Eager per-frame tracks and the recurrent state after the last frame."""
    online = tracker(None)
    table, _ = timed_track(online, video, warmup_frames=WARMUP, device=DEVICE)
    return table, online.state


@pytest.fixture(scope="module")
def eager_track(video):
    return tracker(None).track([video] * BATCH)


def assert_same_tracks(table: BoxTable, expected: BoxTable) -> None:
    assert len(expected.frame) > 0
    np.testing.assert_array_equal(table.frame, expected.frame)
    np.testing.assert_array_equal(table.id, expected.id)
    np.testing.assert_allclose(table.box, expected.box, rtol=0, atol=1e-4)


def first_call(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.benchmark(group="tba-variants")
def test_online_step_batch_1(benchmark, video, eager_step, mode):
    online = tracker(mode)
    _, first_call_s = first_call(timed_track, online, video, warmup_frames=WARMUP, device=DEVICE)
    (table, record) = benchmark.pedantic(
        timed_track,
        args=(online, video),
        kwargs={"warmup_frames": WARMUP, "device": DEVICE},
        rounds=3,
    )
    benchmark.extra_info.update(
        fps=record.fps, p50_ms=record.latency_p50_ms, first_call_s=first_call_s, device=DEVICE
    )
    expected, state = eager_step
    assert_same_tracks(table, expected)
    torch.testing.assert_close(online.state.h, state.h, rtol=0, atol=1e-4)
    torch.testing.assert_close(online.state.conf, state.conf, rtol=0, atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.benchmark(group="tba-variants")
def test_batched_track(benchmark, video, eager_track, mode):
    batched = tracker(mode)
    videos = [video] * BATCH
    _, first_call_s = first_call(batched.track, videos)
    results, record = benchmark.pedantic(
        time_batched, args=(batched, videos), kwargs={"device": DEVICE}, rounds=3
    )
    benchmark.extra_info.update(
        fps=record.fps, batch=BATCH, first_call_s=first_call_s, device=DEVICE
    )
    assert len(results) == BATCH
    for table, expected in zip(results, eager_track):
        assert_same_tracks(table, expected)
