"""Throughput of KerCorrTracker's ``update`` (frames/s) on 100x100 grey frames with a 28x28 box,
the size of Gan et al.'s MNIST sequences: a textured patch moving a few pixels a frame.

Run ``python -m pytest tests/benchmarks/test_bench_kcf.py --benchmark-enable``; without
``--benchmark-enable`` it runs once as a plain test.
"""

from __future__ import annotations

import numpy as np
import pytest
from workloads import BOX, render_scene

from trackers.baselines.kcf import KerCorrTracker

FRAMES = 100


@pytest.mark.parametrize("subpixel", [False, True], ids=["whole-pixel", "subpixel"])
def test_update_throughput(benchmark, subpixel):
    rng = np.random.default_rng(0)
    steps = rng.integers(-2, 3, (FRAMES, 2))
    positions = 36 + np.cumsum(np.vstack([[0, 0], steps]), axis=0).clip(-30, 30)
    frames = [render_scene(*position) for position in positions]
    tracker = KerCorrTracker(subpixel=subpixel)

    def start() -> None:
        tracker.init(frames[0], np.array([*positions[0], BOX, BOX], dtype=float))

    def run() -> np.ndarray:
        return np.array([tracker.update(frame) for frame in frames[1:]])

    boxes = benchmark.pedantic(run, setup=start, rounds=20)
    np.testing.assert_allclose(boxes[:, :2], positions[1:], atol=1.0)  # it tracked the patch
    if benchmark.stats is not None:
        benchmark.extra_info["frames_per_second"] = FRAMES / benchmark.stats.stats.mean
