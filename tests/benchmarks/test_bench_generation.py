"""Generation speed of the TBA synthetic datasets (frames/s in ``extra_info``).

Run on one core:  taskset -c 0 python -m pytest tests/benchmarks/test_bench_generation.py \
--benchmark-enable
"""

from __future__ import annotations

import pytest

from harness.datasets import load_dataset


@pytest.fixture(scope="module")
def generators(mnist_dir):
    return {
        "sprites-mot": load_dataset("sprites-mot").generator,
        "mnist-mot": load_dataset("mnist-mot", mnist_dir=str(mnist_dir)).generator,
    }


@pytest.mark.parametrize("dataset", ["sprites-mot", "mnist-mot"])
@pytest.mark.parametrize("batch, length", [(64, 20), (1, 1000)], ids=["train-64x20", "eval-1x1000"])
def test_generation_speed(benchmark, generators, dataset, batch, length):
    """One chunk: a training file (64 streams x 20 frames) or 1,000 frames of the eval video."""
    chunks = generators[dataset].stream(batch, length, seed=0)
    chunk = benchmark(next, chunks)
    assert chunk.frames.shape[:2] == (batch, length)
    if benchmark.stats is not None:
        benchmark.extra_info["frames_per_s"] = batch * length / benchmark.stats.stats.mean
