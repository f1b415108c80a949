"""The ``trackbench train`` command line of the CLI tests: a smoke model, two iterations of batch
2, a checkpoint and a curve point every iteration, no validation."""

from __future__ import annotations

from pathlib import Path


def smoke_train_args(method: str, out: Path, *extra: str) -> list[str]:
    """``trackbench train`` arguments for ``method`` into ``out``, then ``extra``."""
    return [
        "train",
        method,
        "--out",
        str(out),
        "--iterations",
        "2",
        "--config",
        "smoke=true",
        "--checkpoint-every",
        "1",
        "--log-every",
        "1",
        "--validate-every",
        "0",
        "--hparam",
        "batch=2",
        *extra,
    ]


def fit_tba(config, out, iterations, validate_every=1000, validation_frames=500, **options):
    """TBA of ``config`` (a ``TBAConfig``) trained into ``out`` by the kit; the ``TrainResult``."""
    from harness.training import RunData, train
    from trackers.tba.train import TBARecipe

    frames = None if validate_every is None else validation_frames
    recipe = TBARecipe(config, RunData(Path(out), validation_frames=frames))
    return train(recipe, out, iterations, validate_every=validate_every, **options)
