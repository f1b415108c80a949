"""A Gan et al. training step (forward, loss and backward of one minibatch of 32 sequences of 20
frames, the code's variant) with the networks of this checkout against those of a git revision,
in one process, alternating round by round on the same weights and data. Printed per model: the
median seconds of each (the first round excluded) and their ratio.

    OMP_NUM_THREADS=1 taskset -c 0 python tests/benchmarks/gan_train_before_after.py 1ac0fa2
    ... gan_train_before_after.py REV --models RecTracker-Att-1 --rounds 9
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

import trackers.gan.models as current
from trackers.gan.tracker import method_config

BATCH, LENGTH = 32, 20
MODELS = ("RecTracker-ID", "RecTracker-Att-1", "RecTracker-Att-3", "ConvTracker")


def models_at(revision: str, folder: Path):
    """``trackers/gan/models.py`` as it was at ``revision``, imported as a module."""
    source = subprocess.run(
        ["git", "show", f"{revision}:trackers/gan/models.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    path = folder / "models_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("models_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def step_seconds(module, network, frames, target, loss_kind: str) -> float:
    start = time.perf_counter()
    loss = module.tracking_loss(network(frames, target[:, 0]), target, loss_kind)
    network.zero_grad()
    loss.backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="the git revision to compare with")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        before = models_at(args.revision, Path(folder))
        for model in args.models:
            config = method_config(model, "code")
            networks = {}
            for name, module in (("before", before), ("after", current)):
                torch.manual_seed(0)
                networks[name] = (module, module.build_model(config))
            frames = torch.rand(BATCH, LENGTH, 1, config.frame_size, config.frame_size)
            target = torch.rand(BATCH, LENGTH, 4) - 0.5
            seconds: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.rounds):
                for name, (module, network) in networks.items():
                    seconds[name].append(step_seconds(module, network, frames, target, config.loss))
            old, new = (statistics.median(seconds[name][1:]) for name in ("before", "after"))
            print(
                f"{model}: {args.revision} {old * 1e3:,.0f} ms, this checkout {new * 1e3:,.0f} ms"
                f" per step (median of {args.rounds - 1}), {old / new:.2f}x"
            )


if __name__ == "__main__":
    main()
