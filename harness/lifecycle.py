"""The lifecycle of a learnable method (``trackbench train``, ``trackbench card``): the recipe it
registers trained by the kit (``harness.training``), a checkpoint scored by its dataset's task
kind with the metrics written into its card, and the card's headline.

A learnable method registers ``recipe="module:Recipe"`` (``harness.registry``) and its tracker
class is a ``harness.checkpoints.CheckpointedTracker``; nothing else of the lifecycle is the
family's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch

from harness.checkpoints import CheckpointedTracker, card_summary, read_card, update_card
from harness.datasets import load_dataset
from harness.datasets.base import DatasetAdapter, iou_kind
from harness.errors import ConfigError
from harness.experiment import NO_DETECTIONS, Cell
from harness.registry import MethodSpec, parse_method
from harness.tasks import MULTI_OBJECT, task
from harness.training import RunData, train

ONLINE_SAMPLES = 2
"""Samples a tracker with a batched path also follows online when a checkpoint is scored (the
two must agree; ``harness.tasks.single_object``)."""


def learnable(method: str) -> tuple[MethodSpec, str]:
    """The spec and ablation of ``method`` (``name[:ablation]``); a ConfigError unless it
    registers a recipe."""
    spec, ablation = parse_method(method)
    if not spec.recipe:
        raise ConfigError(f"method {spec.name!r} is not learnable (it registers no recipe)")
    return spec, ablation


def _tracker_class(spec: MethodSpec) -> type[CheckpointedTracker]:
    """The factory of a learnable method: its tracker class, built on ``CheckpointedTracker``."""
    return cast("type[CheckpointedTracker]", spec.factory)


def hyperparameters(method: str, **config: Any) -> dict[str, Any]:
    """The training hyper-parameters of ``method`` (with registry ``config`` overrides) and
    their defaults."""
    spec, ablation = learnable(method)
    return spec.recipe_class.hyperparameters(spec.config_for(ablation, **config))


def train_method(
    method: str,
    out: str | Path,
    iterations: int,
    *,
    config: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    dataset_root: str | Path | None = None,
    dataset_params: dict[str, Any] | None = None,
    validate_every: int | None = 1000,
    validation_frames: int = 500,
    evaluate: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Train ``method`` (registry ``config`` overrides, e.g. its ``dataset`` and ``device``)
    into ``out`` for ``iterations`` in total with ``harness.training.train`` (``options``: seed,
    resume, checkpoint_every, log_every, max_minutes, compile, workers, init_from).
    ``hyperparameters`` override the recipe's; ``evaluate`` scores the last checkpoint
    (``evaluate_checkpoint``). Returns ``TrainResult.summary`` with the variant and dataset."""
    spec, ablation = learnable(method)
    settings = spec.config_for(ablation, **(config or {}))
    recipe_class = spec.recipe_class
    training = recipe_class.settings(settings, hyperparameters or {})
    data = RunData(
        Path(out),
        None if dataset_root is None else Path(dataset_root),
        dataset_params or {},
        None if validate_every is None else validation_frames,
    )
    recipe = recipe_class.from_method(settings, training, data)
    device = settings.get("device", "cpu")
    amp = recipe.cuda_amp if torch.device(device).type == "cuda" else None
    result = train(
        recipe, out, iterations, device=device, validate_every=validate_every, amp=amp, **options
    )
    summary = {
        "variant": recipe.card["variant"],
        "dataset": recipe.card["data"]["dataset"],
        **result.summary(),
    }
    if evaluate:
        summary["metrics"] = evaluate_checkpoint(method, result.checkpoint, device=device)
    return summary


def evaluate_checkpoint(
    method: str,
    path: str | Path,
    *,
    frames: int | None = None,
    device: str = "cpu",
    settings: dict[str, Any] | None = None,
    dataset_root: str | Path | None = None,
) -> dict[str, Any]:
    """Score checkpoint ``path`` of ``method``'s family on its dataset's evaluation split (the
    card's ``data``: dataset, params and ``evaluation_split``, else the dataset's) as that
    split's task kind scores any tracker, and write the result into the card as ``metrics``
    (atomically); returns them. The tracker is built from the card
    (``CheckpointedTracker.from_checkpoint``; ``settings``: its tracking options, e.g. TBA's
    ``stochastic`` and ``seed``). ``frames``: a generated set's frame count
    (``DatasetAdapter.frames_param``)."""
    spec, _ = learnable(method)
    tracker = _tracker_class(spec).from_checkpoint(path, device, **(settings or {}))
    assert tracker.checkpoint is not None  # loaded by from_checkpoint
    card = tracker.checkpoint.card
    adapter = _dataset(card["data"], frames, dataset_root, path)
    split = card["data"].get("evaluation_split") or adapter.evaluation_split
    kind = adapter.task(split)
    cell = Cell(
        experiment="checkpoint",
        dataset=adapter.card["name"],
        split=split,
        detections=NO_DETECTIONS,
        method=spec.name,
        ablation="default",
        seed=0,
        method_config={},
        dataset_params=adapter.params,
        noise=None,
        protocol=adapter.protocol if kind == MULTI_OBJECT else iou_kind(adapter.card),
        warmup_frames=0,
        device=device,
        online_samples=ONLINE_SAMPLES,
        task=kind,
    )
    scoring = task(kind)
    units = scoring.load(adapter, split)
    result = scoring.run(cell, tracker, units, None)
    metrics = {
        "dataset": cell.dataset,
        "split": split,
        "protocol": cell.protocol,
        "frames": scoring.frames(units),
        **({"settings": settings} if settings else {}),
        "iterations": card["iterations"],
        **result.combined,
    }
    update_card(path, metrics=metrics)
    return metrics


def describe_checkpoint(
    method: str, path: str | Path, evaluate: bool = False, **options: Any
) -> dict[str, Any]:
    """``card_summary`` of checkpoint ``path``; ``evaluate`` first scores it
    (``evaluate_checkpoint``; ``options``: frames, device, settings, dataset_root)."""
    spec, _ = learnable(method)
    if evaluate:
        evaluate_checkpoint(method, path, **options)
    return card_summary(read_card(path, _tracker_class(spec).checkpoint_label))


def _dataset(
    data: dict[str, Any], frames: int | None, root: str | Path | None, path: str | Path
) -> DatasetAdapter:
    """The adapter of a card's ``data``, its generated sequences ``frames`` long if given."""
    params = dict(data["params"])
    adapter = load_dataset(data["dataset"], root, **params)
    if frames is None:
        return adapter
    if adapter.frames_param is None:
        raise ConfigError(
            f"dataset {data['dataset']!r} of checkpoint {path} is not generated: its frame count"
            " cannot be set"
        )
    return load_dataset(data["dataset"], root, **{**params, adapter.frames_param: frames})
