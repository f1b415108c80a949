"""TBA training throughput (``trackers.tba.train.TBARecipe`` on the kit): iterations/s and
frames/s, eager and, with ``TRACKBENCH_BENCH_COMPILE=1``, each ``torch.compile`` mode (whose loss
curve must equal eager's within 1e-4 relative).

Measure with ``python -m pytest tests/benchmarks/test_bench_tba_train.py --benchmark-enable``.
Environment: ``TRACKBENCH_BENCH_DEVICE`` (default cpu), ``TRACKBENCH_BENCH_FULL=1`` (the released
Sprites-MOT configuration instead of the smoke one), ``TRACKBENCH_BENCH_BATCH`` (default: the
configuration's N), ``TRACKBENCH_BENCH_ITERATIONS`` (per round, default 3); ``OMP_NUM_THREADS``
fixes the CPU threads. ``iterations_per_s`` / ``frames_per_s`` (extra info) are the kit
``train``'s own figures, as the card records them: data generation, forward, backward and
optimiser step, and one checkpoint at the end; not the model's construction. ``first_call_s`` is
an untimed one-iteration run before (compilation, for the compiled modes).
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
from tba_bench_settings import BATCH, DEVICE, MODES
from train_helpers import fit_tba

from trackers.tba.config import TBAConfig
from trackers.tba.train import TBARecipe

FULL = os.environ.get("TRACKBENCH_BENCH_FULL") == "1"
ITERATIONS = int(os.environ.get("TRACKBENCH_BENCH_ITERATIONS", "3"))
CONFIG = (
    TBAConfig.for_dataset("sprites-mot") if FULL else TBAConfig.for_dataset("sprites-mot").smoke()
)
if BATCH is not None:
    CONFIG = CONFIG.replace(batch=int(BATCH))


def train(out, mode, iterations=ITERATIONS):
    amp = TBARecipe.cuda_amp if DEVICE.startswith("cuda") else None
    return fit_tba(
        CONFIG,
        out,
        iterations,
        device=DEVICE,
        checkpoint_every=iterations,
        log_every=1,
        validate_every=None,
        compile=mode,
        amp=amp,
    )


@pytest.fixture(scope="module")
def eager_curve(tmp_path_factory):
    return train(tmp_path_factory.mktemp("eager"), None).curve


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.benchmark(group="tba-train")
def test_training_throughput(benchmark, tmp_path, eager_curve, mode):
    started = time.perf_counter()
    train(tmp_path / "first", mode, iterations=1)
    first_call_s = time.perf_counter() - started
    rounds = itertools.count()

    def fresh_folder():
        return (tmp_path / f"round-{next(rounds)}", mode), {}

    result = benchmark.pedantic(train, setup=fresh_folder, rounds=3)
    benchmark.extra_info.update(
        iterations_per_s=result.iterations_per_s,
        frames_per_s=result.frames_per_s,
        first_call_s=first_call_s,
        device=DEVICE,
        batch=CONFIG.batch,
        length=CONFIG.length,
        config="full" if FULL else "smoke",
        compile=mode,
    )
    assert result.iterations == ITERATIONS and result.iterations_per_s > 0
    assert result.frames_per_s == pytest.approx(
        result.iterations_per_s * CONFIG.batch * CONFIG.length
    )
    for point, expected in zip(result.curve, eager_curve, strict=True):
        assert point["total"] == pytest.approx(expected["total"], rel=1e-4)
