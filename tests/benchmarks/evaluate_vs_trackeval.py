"""Whole-process time of `trackbench evaluate` against TrackEval's file-based Evaluator.

A MOTChallenge-scale workload (7 sequences x 750 frames, ~90 objects each, MOT17 gt with
distractor classes and zero consider flags; ~160k gt rows) is written in TrackEval's layout at
each scale (scale k: 7k sequences). Each round runs both, one process each, in alternating
order: TrackEval's Evaluator with MotChallenge2DBox (HOTA, CLEAR, Identity; serial, results
printed, no files or plots written) and `trackbench evaluate --protocol mot17` (the same metrics
and Count, a table printed). Printed: the medians of each and of the paired ratios, whether every
number of ours equals TrackEval's to 1e-12, and the import time of each process
(`python -X importtime`, the top-level modules).

    python tests/benchmarks/evaluate_vs_trackeval.py            # scales 1 and 4, 5 rounds
    python tests/benchmarks/evaluate_vs_trackeval.py --scales 1 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.metrics.crosscheck import run_trackeval, write_trackeval_layout

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/ (after harness is imported)
from workloads import random_sequence  # noqa: E402

SEQUENCES, FRAMES, OBJECTS = 7, 750, 90
TRACKEVAL = """
import sys, trackeval
root = sys.argv[1]
evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_CONFIG": False,
    "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
    "PLOT_CURVES": False})
dataset = trackeval.datasets.MotChallenge2DBox({"GT_FOLDER": root + "/gt",
    "TRACKERS_FOLDER": root + "/trackers", "BENCHMARK": "MOT17", "SPLIT_TO_EVAL": "train",
    "PRINT_CONFIG": False})
metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
    trackeval.metrics.Identity({"PRINT_CONFIG": False})]
evaluator.evaluate([dataset], metrics)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trackbench = shutil.which("trackbench", path=str(Path(sys.executable).parent)) or shutil.which(
        "trackbench"
    )
    if trackbench is None:
        sys.exit("trackbench is not installed in this environment (pip install -e .)")
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"{'scale':>5} {'gt rows':>9} {'TrackEval s':>12} {'trackbench s':>13} "
            f"{'ratio':>6}  equal"
        )
        for scale in args.scales:
            root = Path(tmp) / f"x{scale}"
            gt_rows = write_workload(root, scale)
            commands = {
                "trackeval": [sys.executable, "-c", TRACKEVAL, str(root)],
                "trackbench": [trackbench, "evaluate", *evaluate_args(root)],
            }
            times = paired_times(commands, args.rounds)
            ratios = [
                ours / theirs for ours, theirs in zip(times["trackbench"], times["trackeval"])
            ]
            print(
                f"{scale:>5} {gt_rows:>9,} {statistics.median(times['trackeval']):>12.2f} "
                f"{statistics.median(times['trackbench']):>13.2f} "
                f"{statistics.median(ratios):>6.3f}  {equal_to_trackeval(root, trackbench)}",
                flush=True,
            )
        root = Path(tmp) / f"x{args.scales[0]}"
        print("\nimport time, whole process (python -X importtime; top-level modules, s):")
        for name, command in (
            ("trackeval", [sys.executable, "-X", "importtime", "-c", TRACKEVAL, str(root)]),
            (
                "trackbench",
                [sys.executable, "-X", "importtime", trackbench, "evaluate", *evaluate_args(root)],
            ),
        ):
            total, top = import_times(command)
            listed = ", ".join(f"{module} {seconds:.2f}" for module, seconds in top)
            print(f"  {name:<10} {total:.2f} in all; {listed}")


def write_workload(root: Path, scale: int) -> int:
    gt, pred = {}, {}
    for seed in range(SEQUENCES * scale):
        name = f"MOT17-{seed:02d}"
        gt[name], pred[name] = random_sequence(seed, FRAMES, OBJECTS, "mot17")
    write_trackeval_layout(root, gt, pred, "MOT17")
    return sum(len(table) for table in gt.values())


def evaluate_args(root: Path) -> list[str]:
    return [
        "--gt",
        str(root / "gt" / "MOT17-train"),
        "--pred",
        str(root / "trackers" / "MOT17-train" / "ours"),
        "--protocol",
        "mot17",
    ]


def paired_times(commands: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """Wall seconds of each command per round, the order alternating between rounds."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(rounds):
        for name in list(commands)[:: 1 if round_ % 2 == 0 else -1]:
            start = time.perf_counter()
            subprocess.run(commands[name], check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return times


def equal_to_trackeval(root: Path, trackbench: str) -> str:
    """'yes' when every metric of every sequence and the combined row equals TrackEval's to
    1e-12, else the first that differs."""
    run = subprocess.run(
        [trackbench, "evaluate", *evaluate_args(root), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    ours = json.loads(run.stdout)
    reference = run_trackeval(root, "MOT17")
    for scope, values in [*reference["sequences"].items(), ("combined", reference["combined"])]:
        mine = ours["combined"] if scope == "combined" else ours["sequences"][scope]
        for metric, value in values.items():
            if abs(mine[metric] - value) > 1e-12:
                return f"no: {scope} {metric} {mine[metric]!r} != {value!r}"
    return "yes"


def import_times(command: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """Seconds importing in all and the five slowest top-level modules (cumulative)."""
    run = subprocess.run(command, check=True, capture_output=True, text=True)
    top: dict[str, float] = {}
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, module = line.split("|")
        if cumulative.strip().isdigit() and not module.startswith("  "):  # a top-level import
            name = module.strip().split(".")[0]
            top[name] = top.get(name, 0.0) + int(cumulative) / 1e6
    slowest = sorted(top.items(), key=lambda item: -item[1])[:5]
    return sum(top.values()), slowest


if __name__ == "__main__":
    main()
