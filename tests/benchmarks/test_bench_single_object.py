"""What the single-object task adds over a bare ``init``/``update`` loop: 500 samples of 20
frames and a trivial tracker (the constant box), with frames read from the cached Sprites-MOT
evaluation video (what a run reads) and, as the worst case, from memory.

Run ``python -m pytest tests/benchmarks/test_bench_single_object.py --benchmark-enable`` and
compare the medians of each source's two benchmarks (the task: every call timed, every box
checked and scored, curves); without ``--benchmark-enable`` each runs once as a plain test.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from harness.data import SingleObjectSample
from harness.datasets import load_dataset
from harness.protocol import sample_images
from harness.tasks.single_object import SingleObjectTask
from trackers.baselines.single import ConstantBoxTracker

SAMPLES, LENGTH = 500, 20
CELL = SimpleNamespace(warmup_frames=10, device="cpu", protocol="box")


@pytest.fixture(scope="module", params=["sprites-mot", "in-memory"])
def samples(request, tmp_path_factory) -> list[SingleObjectSample]:
    cache = tmp_path_factory.mktemp("sprites")
    adapter = load_dataset("sprites-mot", cache, eval_frames=2000, sample_length=LENGTH)
    chosen = (adapter.samples("eval") * 3)[:SAMPLES]  # ~200 objects, each followed up to 3 times
    if request.param == "sprites-mot":
        return chosen
    video = chosen[0].sequence
    images = np.stack([video.frame(n) for n in range(1, video.num_frames + 1)])
    in_memory = replace(video, load_frame=lambda n: images[n - 1])
    return [replace(sample, sequence=in_memory) for sample in chosen]


def bare_loop(samples: list[SingleObjectSample]) -> list[list[np.ndarray]]:
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
    result = benchmark(SingleObjectTask().run, CELL, ConstantBoxTracker(), samples, on_frames=None)
    assert len(result.sequences) == len({sample.name for sample in samples})
    assert result.timings["COMBINED"]["frames"] == SAMPLES * LENGTH - CELL.warmup_frames
