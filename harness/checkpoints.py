"""Checkpoints of learnable methods: the weights (a ``state_dict``, ``<path>.pt``) beside a JSON
card (``<path>.json``), each written atomically; weights are read with
``torch.load(weights_only=True)`` (no arbitrary unpickling).

A card says what the weights are and how they were made: ``method``, ``variant``, ``config`` (the
family's whole configuration, enough to rebuild the model; its ``dataset`` and ``batch`` are
read when present), ``code_version`` and ``torch_version``; ``harness.training`` adds ``seed``,
``data``, ``iterations``, ``curve``, ``validation`` and ``hardware`` (older cards may have
``speed`` instead), an evaluation adds ``metrics``, and a published copy (``publish_checkpoint``)
``stored_dtype`` and ``published_from``. Readers take every key as optional, so
older cards still read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Self, TypeVar

import torch

import harness
from harness.errors import ConfigError, FormatError, did_you_mean
from harness.provenance import file_sha256

T = TypeVar("T")


def checkpoint_files(path: str | Path) -> tuple[Path, Path]:
    """(``<path>.pt``, ``<path>.json``); ``path`` may also be given with either suffix."""
    path = Path(path)
    if path.suffix in (".pt", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".pt"), path.with_name(path.name + ".json")


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` with ``write(file)`` into a temporary file beside it, then rename it over
    ``path``: a killed or failing write leaves ``path`` as it was and no partial file."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_json(path: str | Path, value: Any, indent: int = 2) -> None:
    """``value`` as JSON in ``path``, atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(value, indent=indent).encode()))


def load_tensors(path: str | Path, device: torch.device | str = "cpu") -> Any:
    """A file written by ``torch.save`` holding only tensors, numbers, strings and containers
    (``torch.load(weights_only=True)``); FormatError for anything else."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        refused = re.search(r"GLOBAL (\S+) was not an allowed global", str(error))
        held = f" (it holds {refused[1]})" if refused else ""
        message = "refused by weights-only loading: not only tensors, numbers, strings, containers"
        raise FormatError(message + held, path) from None


def save_checkpoint(path: str | Path, state_dict: dict[str, Any], card: dict[str, Any]) -> None:
    """Write ``<path>.pt`` (``state_dict``), then ``<path>.json`` (``card`` with the code and torch
    versions unless it has its own), each atomically: a card always names complete weights."""
    weights = checkpoint_files(path)[0]
    weights.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(weights, lambda f: torch.save(state_dict, f))
    write_card(
        path, {"code_version": harness.__version__, "torch_version": torch.__version__, **card}
    )


def write_card(path: str | Path, card: dict[str, Any]) -> None:
    """Write ``card`` as the JSON card of checkpoint ``path``, atomically."""
    write_json(checkpoint_files(path)[1], card)


def read_card(path: str | Path, label: str = "checkpoint") -> dict[str, Any]:
    """The JSON card of checkpoint ``path``; ``label`` names it in errors ("TBA checkpoint")."""
    card_path = checkpoint_files(path)[1]
    if not card_path.is_file():
        raise ConfigError(f"{label} not found (make one with `trackbench train`)", card_path)
    try:
        return json.loads(card_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FormatError(f"not a JSON card: {error.msg}", card_path, error.lineno) from None


def update_card(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Set ``fields`` in the card of checkpoint ``path`` (atomically); returns the new card."""
    card = {**read_card(path), **fields}
    write_card(path, card)
    return card


def checkpoint_weights(path: str | Path, label: str = "checkpoint") -> Path:
    """The weights file of checkpoint ``path``; ConfigError if it is missing."""
    weights = checkpoint_files(path)[0]
    if not weights.is_file():
        raise ConfigError(f"{label} weights not found", weights)
    return weights


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: its path as given, its card and the sha256 of its weights file."""

    path: str
    card: dict[str, Any]
    sha256: str

    def provenance(self) -> dict[str, Any]:
        """What a result computed with these weights stores (``MultiObjectTracker.provenance``):
        the path, the sha256, and from the card the variant, dataset, training iterations, seed,
        batch, the devices it was trained on, the dtype of published weights, and ``metrics`` and
        ``hardware`` when present;
        facts the card lacks are left out."""
        card, config = self.card, self.card.get("config", {})
        segments = card.get("hardware") or []
        facts = {
            "checkpoint": self.path,
            "trained": True,
            "sha256": self.sha256,
            "variant": card.get("variant"),
            "dataset": config.get("dataset"),
            "iterations": card.get("iterations"),
            "seed": card.get("seed"),
            "batch": config.get("batch"),
            "trained_on": ", ".join(dict.fromkeys(s["device"] for s in segments)) or None,
            "stored_dtype": card.get("stored_dtype"),
        }
        facts |= {key: card[key] for key in ("metrics", "hardware") if key in card}
        return {key: value for key, value in facts.items() if value is not None}


def untrained_provenance(variant: str, dataset: str) -> dict[str, Any]:
    """The provenance of a model run without a checkpoint (initialised from its seed)."""
    return {"checkpoint": None, "trained": False, "variant": variant, "dataset": dataset}


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu", label: str = "checkpoint"
) -> tuple[dict[str, Any], Checkpoint]:
    """The state_dict of checkpoint ``path`` (weights-only, on ``device``) and the checkpoint
    (card and sha256); ConfigError, naming it ``label``, when its card or weights are missing."""
    card = read_card(path, label)
    weights = checkpoint_weights(path, label)
    return load_tensors(weights, device), Checkpoint(str(path), card, file_sha256(weights))


class NetworkConfig:
    """Base of a learnable family's network configuration, a frozen dataclass: ``replace``
    refuses unknown fields; ``to_card`` and ``from_card`` write it into a card's JSON and read it
    back. Lists (JSON's, a command line's) become tuples."""

    def replace(self, **changes: Any) -> Self:
        fields = {field.name for field in dataclasses.fields(self)}  # type: ignore[arg-type]
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise ConfigError(f"{type(self).__name__} has no fields {unknown}")
        changes = {name: _tuples(value) for name, value in changes.items()}
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_card(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_card(cls, fields: dict[str, Any]) -> Self:
        return cls(**{name: _tuples(value) for name, value in fields.items()})


@dataclass(frozen=True)
class DatasetDefaults:
    """A family's settings for one dataset: overrides of its network, training and inference
    configurations' defaults."""

    network: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    inference: dict[str, Any] = field(default_factory=dict)


class FamilyDefaults:
    """A learnable family's per-dataset defaults and the configurations they make: a network
    (``NetworkConfig`` with a ``dataset`` field and ``smoke()``), its training (likewise, without
    ``dataset``) and its inference settings (a dataclass); unknown datasets and settings are
    one-line errors."""

    def __init__(self, family: str, datasets: dict[str, DatasetDefaults]):
        self.family, self.datasets = family, datasets

    def of(self, dataset: str) -> DatasetDefaults:
        if dataset not in self.datasets:
            raise ConfigError(
                f"{self.family} has no configuration for dataset {dataset!r}"
                + did_you_mean(dataset, [*self.datasets])
            )
        return self.datasets[dataset]

    def network(self, cls: type[Any], dataset: str, smoke: bool, **overrides: Any) -> Any:
        config = cls(dataset=dataset, **self.of(dataset).network)
        return (config.smoke() if smoke else config).replace(**overrides)

    def training(self, cls: type[Any], dataset: str, smoke: bool, **overrides: Any) -> Any:
        config = cls(**self.of(dataset).training)
        return (config.smoke() if smoke else config).replace(**overrides)

    def inference(self, cls: type[T], dataset: str, **overrides: Any) -> T:
        fields = {**self.of(dataset).inference, **overrides}
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(fields) - names)
        if unknown:
            raise ConfigError(f"{self.family} has no inference settings {unknown}")
        return cls(**{name: _tuples(value) for name, value in fields.items()})


def _tuples(value: Any) -> Any:
    """``value`` with every list in it a tuple."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


PUBLISHED_DTYPES = ("float32", "float16", "bfloat16")


def publish_checkpoint(
    source: str | Path, target: str | Path, dtype: str | None = None, best: bool = False
) -> dict[str, Any]:
    """Copy checkpoint ``source`` to ``target`` (weights and card, not the training state), its
    floating tensors stored as ``dtype`` when given (e.g. "float16", to halve a published file;
    ``load_state_dict`` casts them back into the model's own dtype). The card records
    ``stored_dtype`` and the sha256 of the weights it was made from; returns it.

    ``best``: ``source`` is a training run's folder and its best-validated checkpoint
    (``<source>/best``, ``harness.training``) is published; the card's ``selected`` adds how far
    the run went (``trained``) and every validation point it made. A run started from a
    best-validated checkpoint (``initialised_from``) whose points never beat it has no
    ``best`` of its own: that start is its best, and is published with the run's ``selected``."""
    if dtype is not None and dtype not in PUBLISHED_DTYPES:
        raise ConfigError(f"dtype must be one of {list(PUBLISHED_DTYPES)}, not {dtype!r}")
    selected = None
    if best:
        run = read_card(Path(source) / "last", "training run")
        selected = {"trained": run["iterations"], "validation": run.get("validation", [])}
        source = Path(source) / "best"
        if not source.with_suffix(".json").is_file():
            source = _unbeaten_start(source.parent, run)
    weights, checkpoint = load_checkpoint(source)
    if dtype is not None:
        cast = getattr(torch, dtype)
        weights = {
            name: tensor.to(cast) if tensor.is_floating_point() else tensor
            for name, tensor in weights.items()
        }
    kinds = {str(t.dtype).removeprefix("torch.") for t in weights.values() if t.is_floating_point()}
    card = {**checkpoint.card, "stored_dtype": ", ".join(sorted(kinds))}
    card["published_from"] = {"sha256": checkpoint.sha256}
    if selected is not None:
        card["selected"] = {**card["selected"], **selected}
    save_checkpoint(target, weights, card)
    return card


def _unbeaten_start(run_folder: Path, run: dict[str, Any]) -> Path:
    """The checkpoint a run without a best of its own started from, when that start was itself
    published as its run's best (so it is still the best point of the validation the run
    carried over); ConfigError otherwise."""
    if not run.get("validation"):
        raise ConfigError(f"{run_folder}: the run has no best checkpoint (validation was off)")
    if not run.get("initialised_from"):
        raise ConfigError(f"{run_folder}: the run has no best checkpoint")
    origin = run["initialised_from"][-1]
    start = Path(origin["checkpoint"])
    card = read_card(start, "start of the run")
    weights, _ = checkpoint_files(start)
    if file_sha256(weights) != origin["sha256"]:
        raise ConfigError(f"{start}: not the checkpoint the run {run_folder} started from (sha256)")
    if card.get("selected", {}).get("iteration") != card["iterations"]:
        raise ConfigError(
            f"{run_folder}: no validation point beat the run's start, {start}, which was not"
            " published as a best checkpoint"
        )
    return start


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """The headline of a card (``trackbench card``): variant, dataset, iterations, seed, the
    hardware segments (with their speed), the last curve and validation points, the metrics."""
    return {
        "variant": card.get("variant"),
        "dataset": card.get("config", {}).get("dataset"),
        "iterations": card.get("iterations"),
        "seed": card.get("seed"),
        "hardware": card.get("hardware"),
        "last_curve_point": card["curve"][-1] if card.get("curve") else None,
        "last_validation": card["validation"][-1] if card.get("validation") else None,
        "metrics": card.get("metrics"),
    }


class CheckpointedTracker:
    """The checkpoint side of a learnable tracker (``harness.protocol.Learnable``) that holds its
    network as ``model``, on ``device``, and the loaded ``checkpoint`` (None: untrained).

    A family supplies ``checkpoint_label`` (how errors name its checkpoints), ``build_network``
    (a network of a configuration), ``from_model`` (a tracker around a network and its card),
    ``network_of`` (the network configuration its registry keys describe) and
    ``network_on_card``, ``model_card`` (the head of its cards) and ``untrained_variant``;
    ``prepare`` may wrap a network it runs (e.g. compile it).
    """

    checkpoint_label = "checkpoint"
    model: Any
    device: torch.device
    checkpoint: Checkpoint | None

    @classmethod
    def build_network(cls, config: Any) -> Any:
        """A fresh network of configuration ``config``."""
        raise NotImplementedError

    @classmethod
    def load_model(
        cls, path: str | Path, device: torch.device | str = "cpu"
    ) -> tuple[Any, Checkpoint]:
        """The network of checkpoint ``path``, built from its card, and the checkpoint (published
        half-precision weights are cast back into the network's own dtype)."""
        weights, checkpoint = load_checkpoint(path, device, cls.checkpoint_label)
        model = cls.build_network(cls.network_on_card(checkpoint.card))
        model.load_state_dict(weights)
        return model.to(device), checkpoint

    @classmethod
    def from_model(cls, model: Any, card: dict[str, Any], **settings: Any) -> Self:
        """A tracker running ``model`` itself (no copy, no checkpoint, on the model's device),
        described by ``card`` (a card, or a training run's card head); ``settings``: the
        family's tracking options."""
        raise NotImplementedError

    @classmethod
    def network_of(cls, config: dict[str, Any]) -> Any:
        raise NotImplementedError

    @classmethod
    def network_on_card(cls, card: dict[str, Any]) -> Any:
        raise NotImplementedError

    def model_card(self) -> dict[str, Any]:
        raise NotImplementedError

    def untrained_variant(self) -> tuple[str, str]:
        """(variant, dataset) of the untrained model's provenance."""
        raise NotImplementedError

    def prepare(self, model: Any) -> Any:
        """The network as this tracker runs it (by default ``model`` itself)."""
        return model

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: torch.device | str = "cpu", **settings: Any
    ) -> Self:
        """A tracker running checkpoint ``path``, built from its card alone (not from registry
        keys); ``settings``: the family's tracking options."""
        model, checkpoint = cls.load_model(path, device)
        tracker = cls.from_model(model.eval(), checkpoint.card, **settings)
        tracker.model, tracker.checkpoint = tracker.prepare(tracker.model), checkpoint
        return tracker

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """The checkpoint, if any, exists and holds the network the other keys describe."""
        path = config.get("checkpoint")
        if path is not None:
            held = cls.network_on_card(read_card(path, cls.checkpoint_label))
            checkpoint_weights(path, cls.checkpoint_label)
            cls._check_same_network(held, cls.network_of(config), path)

    def start_model(
        self, wanted: Any, build: Callable[[Any], Any], checkpoint: str | None, seed: int
    ) -> None:
        """``model``: ``build(wanted)`` initialised from ``seed`` (no checkpoint), else the
        checkpoint's network, which must be ``wanted``; run as ``prepare`` says."""
        self.checkpoint = None
        if checkpoint is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.model = self.prepare(build(wanted).to(self.device).eval())
        else:
            self.load(checkpoint)
            self._check_same_network(self.model.config, wanted, checkpoint)

    @classmethod
    def network_difference(cls, held: Any, wanted: Any) -> dict[str, tuple[Any, Any]]:
        """The fields in which network configurations ``held`` (a checkpoint's) and ``wanted``
        (dataclasses) differ, with both values."""
        return {
            field.name: (getattr(held, field.name), getattr(wanted, field.name))
            for field in dataclasses.fields(held)
            if getattr(held, field.name) != getattr(wanted, field.name)
        }

    @classmethod
    def _check_same_network(cls, held: Any, wanted: Any, path: str | Path) -> None:
        difference = cls.network_difference(held, wanted)
        if difference:
            fields = ", ".join(f"{name} {a!r} vs {b!r}" for name, (a, b) in difference.items())
            raise ConfigError(
                f"checkpoint {path} holds another network than the method's config describes"
                f" ({fields})"
            )

    def save(self, path: str | Path, **card: Any) -> None:
        """``<path>.pt`` + ``<path>.json``: the loaded card, if any, with ``card`` over it."""
        loaded = {} if self.checkpoint is None else self.checkpoint.card
        save_checkpoint(path, self.model.state_dict(), {**loaded, **self.model_card(), **card})

    def load(self, path: str | Path) -> None:
        model, self.checkpoint = self.load_model(path, self.device)
        self.model = self.prepare(model.eval())

    def provenance(self) -> dict[str, Any]:
        """``Checkpoint.provenance`` of the loaded checkpoint; an untrained model says so."""
        if self.checkpoint is None:
            return untrained_provenance(*self.untrained_variant())
        return self.checkpoint.provenance()
