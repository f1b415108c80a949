"""Step throughput of the detection-only baselines (frames/s) on synthetic workloads.

Run the measurements with
``.venv/bin/python -m pytest tests/benchmarks/test_bench_trackers.py --benchmark-enable``;
without ``--benchmark-enable`` every benchmark runs once as a plain test.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable, Sequence, frame_inputs
from harness.protocol import sequence_info
from harness.registry import parse_method

NUM_FRAMES = 500


def workload(objects: int, seed: int = 0) -> Sequence:
    """``objects`` boxes bouncing inside a 1920x1080 image, with 1 px jitter and 5% misses."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(30, 90, (objects, 2))
    position = rng.uniform(0, 1, (objects, 2)) * ([1920, 1080] - size)
    velocity = rng.uniform(-6, 6, (objects, 2))
    t = np.arange(NUM_FRAMES)[:, None, None]
    span = [1920, 1080] - size
    travelled = np.abs((position + velocity * t) % (2 * span) - span)  # bounce at the borders
    boxes = np.concatenate([span - travelled, np.broadcast_to(size, travelled.shape)], axis=2)
    jitter = np.pad(rng.normal(0, 1, (NUM_FRAMES * objects, 2)), ((0, 0), (0, 2)))
    boxes = boxes.reshape(-1, 4) + jitter
    keep = rng.random(len(boxes)) > 0.05
    detections = BoxTable.build(
        frame=np.repeat(np.arange(1, NUM_FRAMES + 1), objects)[keep],
        box=boxes[keep],
        conf=rng.uniform(0.5, 1.0, keep.sum()),
    )
    return Sequence(
        f"bench-{objects}", NUM_FRAMES, 1920, 1080, 30.0, gt=BoxTable.empty(), detections=detections
    )


@pytest.mark.parametrize("objects", [3, 30])
@pytest.mark.parametrize("method", ["sort", "iou"])
def test_step_throughput(benchmark, method, objects):
    spec, ablation = parse_method(method)
    tracker = spec.build(ablation)
    sequence = workload(objects)
    frames = list(frame_inputs(sequence, tracker.inputs))  # materialised: not timed

    def run() -> int:
        tracker.reset(sequence_info(sequence))
        return sum(len(tracker.step(frame).ids) for frame in frames)

    reported = benchmark(run)
    assert reported > 0.5 * objects * NUM_FRAMES  # the workload is trackable: most boxes reported
    if benchmark.stats is not None:
        benchmark.extra_info["frames_per_second"] = NUM_FRAMES / benchmark.stats.stats.mean
