"""What the single-object task adds over a bare ``init``/``update`` loop: 500 samples of 20
frames, a trivial tracker (constant box), images already in memory.

Run ``python -m pytest tests/benchmarks/test_bench_single_object.py --benchmark-enable`` and
compare the medians of the two benchmarks (the task: timing every call, checking and scoring
every box, curves); without ``--benchmark-enable`` each runs once as a plain test.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.protocol import sample_images
from harness.tasks import single_object
from trackers.baselines.single import ConstantBoxTracker

SAMPLES, LENGTH = 500, 20
CELL = SimpleNamespace(warmup_frames=10, device="cpu", protocol="box")


@pytest.fixture(scope="module")
def samples() -> list[SingleObjectSample]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (SAMPLES * LENGTH, 64, 64, 1), dtype=np.uint8)
    video = Sequence(
        "bench", len(images), 64, 64, 30.0, BoxTable.empty(), load_frame=lambda n: images[n - 1]
    )
    boxes = np.abs(rng.normal(20, 5, (SAMPLES, LENGTH, 4))) + 1
    return [
        SingleObjectSample(video, i + 1, np.arange(i * LENGTH + 1, (i + 1) * LENGTH + 1), boxes[i])
        for i in range(SAMPLES)
    ]


def bare_loop(samples: list[SingleObjectSample]) -> list[np.ndarray]:
    tracker, results = ConstantBoxTracker(), []
    for sample in samples:
        images = sample_images(sample)
        tracker.init(images[0], sample.boxes[0])
        results.append([sample.boxes[0], *(tracker.update(image) for image in images[1:])])
    return results


@pytest.mark.benchmark(group="single-object-task")
def test_bare_init_update_loop(benchmark, samples):
    results = benchmark(bare_loop, samples)
    assert len(results) == SAMPLES and all(len(boxes) == LENGTH for boxes in results)


@pytest.mark.benchmark(group="single-object-task")
def test_single_object_task(benchmark, samples):
    evaluation, timings = benchmark(
        single_object.run, CELL, ConstantBoxTracker(), samples, on_frames=None
    )
    assert len(evaluation["sequences"]) == SAMPLES
    assert timings["COMBINED"]["frames"] == SAMPLES * LENGTH - CELL.warmup_frames
