"""Settings shared by the TBA benchmarks, from the environment (defaults keep plain test runs
short): ``TRACKBENCH_BENCH_DEVICE`` (cpu), ``TRACKBENCH_BENCH_FRAMES`` (40 frames per video),
``TRACKBENCH_BENCH_BATCH`` (sequences per batch), ``TRACKBENCH_BENCH_COMPILE=1`` (also run the
``torch.compile`` modes, minutes on a CPU). ``OMP_NUM_THREADS`` fixes the CPU threads."""

from __future__ import annotations

import os

import pytest

from harness.compiled import COMPILE_MODES

DEVICE = os.environ.get("TRACKBENCH_BENCH_DEVICE", "cpu")
FRAMES = int(os.environ.get("TRACKBENCH_BENCH_FRAMES", "40"))
BATCH = os.environ.get("TRACKBENCH_BENCH_BATCH")  # None: each benchmark's own default
COMPILE = os.environ.get("TRACKBENCH_BENCH_COMPILE") == "1"

MODES = [  # eager, then every compile mode (skipped unless COMPILE)
    pytest.param(
        mode,
        id=str(mode or "eager"),
        marks=pytest.mark.skipif(
            mode is not None and not COMPILE, reason="set TRACKBENCH_BENCH_COMPILE=1"
        ),
    )
    for mode in COMPILE_MODES
]
