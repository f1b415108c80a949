"""Generation speed of the Gan et al. (2015) MNIST datasets' training stream (frames/s in
``extra_info``; the target is >= 5,000 frames/s on one core).

Run on one core:  taskset -c 0 python -m pytest tests/benchmarks/test_bench_gan_generation.py \
--benchmark-enable
"""

from __future__ import annotations

import pytest

from harness.datasets import load_dataset


@pytest.mark.parametrize("dataset", ["mnist-single-same", "mnist-multi-same"])
def test_training_stream_speed(benchmark, mnist_dir, dataset):
    """One training batch: 32 sequences of 20 frames with clutter, scale change and bouncing."""
    stream = load_dataset(dataset, mnist_dir=str(mnist_dir)).stream(batch=32, length=20, seed=0)
    batch = benchmark(stream.next_batch)
    assert batch.frames.shape == (32, 20, 100, 100, 1)
    if benchmark.stats is not None:
        benchmark.extra_info["frames_per_s"] = 32 * 20 / benchmark.stats.stats.mean
