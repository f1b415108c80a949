"""Training step of the Gan et al. (2015) neural trackers: forward, loss, backward and the
optimiser step of one minibatch of 32 sequences of 20 frames (data generation excluded;
``iterations_per_s`` in extra info).

Run on one core:  OMP_NUM_THREADS=1 taskset -c 0 python -m pytest \
tests/benchmarks/test_bench_gan_train.py --benchmark-enable
"""

from __future__ import annotations

import pytest
import torch

from trackers.gan.models import build_model, tracking_loss
from trackers.gan.tracker import method_config
from trackers.gan.train import training_defaults

BATCH, LENGTH = 32, 20


@pytest.mark.parametrize(
    "model", ["RecTracker-ID", "RecTracker-Att-1", "RecTracker-Att-3", "ConvTracker"]
)
@pytest.mark.benchmark(group="gan-train")
def test_training_step(benchmark, model):
    torch.manual_seed(0)
    config = method_config(model, "code")
    network = build_model(config)
    settings = training_defaults(model)
    optimizer = torch.optim.RMSprop(network.parameters(), lr=settings["lr"])
    frames = torch.rand(BATCH, LENGTH, 1, config.frame_size, config.frame_size)
    target = torch.rand(BATCH, LENGTH, 4) - 0.5

    def step() -> float:
        loss = tracking_loss(network(frames, target[:, 0]), target, config.loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss)

    assert torch.isfinite(torch.tensor(benchmark.pedantic(step, rounds=5, warmup_rounds=1)))
    if benchmark.stats is not None:
        benchmark.extra_info["iterations_per_s"] = 1 / benchmark.stats.stats.median
