"""Benchmarks: how long the ``trackbench`` command takes to start, as a person types it.

Each round is a fresh interpreter running the installed entry point's code (``python -m
harness.cli``): ``--help``, and ``evaluate`` of one small file (TUD-Campus, 71 frames, from the
motmetrics wheel), which imports neither TrackEval nor the SciPy package nor pandas.

Run: .venv/bin/python -m pytest tests/benchmarks/test_bench_cli.py --benchmark-enable -q
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ROUNDS = {"rounds": 7, "warmup_rounds": 1}


def command(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.benchmark(group="cli-startup")
def test_bench_help(benchmark):
    benchmark.pedantic(command, args=("--help",), **ROUNDS)


@pytest.mark.benchmark(group="cli-startup")
def test_bench_evaluate_one_small_file(benchmark, motmetrics_data):
    folder = motmetrics_data / "TUD-Campus"
    args = ("evaluate", "--gt", str(folder / "gt.txt"), "--pred", str(folder / "test.txt"))
    benchmark.pedantic(command, args=args, **ROUNDS)
