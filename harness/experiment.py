"""Experiments: a YAML file naming datasets, detection-noise levels, methods, seeds and protocol.

An experiment is validated with pydantic (unknown keys are errors) and every problem is reported as
one line ``file:line: problem``; the line comes from the YAML node tree. It expands into **cells**
(dataset, split, axis values, detections, method, ablation, seed), each with a config hash: the
sha256 of the canonical JSON of everything that determines its result (see ``Cell.identity``).

Tasks: a split is multi-object or single-object (its card says); ``task: single-object`` on a
dataset entry runs single-object trackers on the samples of a multi-object split. Every method
must be of its datasets' task kind. ``task: reid`` on a multi-object split scores the embeddings
of its ground-truth boxes (``harness.tasks.reid``): its methods must have ``embed(image, boxes)``,
and take no detections there (one cell per seed). Axes: ``axes: {length: [20, 40, 80, 160]}`` on
a dataset entry expands into one set of cells per value (card params only; the value is part of
the row key).

Detection variants: a dataset's ``detections`` maps a name to oracle-noise levels (miss_rate,
jitter, fp_rate; ``harness.detectors.OracleNoise``) or to a source (``{source: public}``,
``{source: "file:PATH"}``, optional ``min_score`` and ``min_side``; ``harness.detection_sources``).
Methods that take detections get one cell per variant; without ``detections`` they use the
dataset's public detections as they are (variant ``public``). Methods that take no detections get
a single cell per seed (variant ``none``). Test splits are tracked for a submission, not scored
(``harness.tasks.multi_object``); on KITTI that needs a one-class protocol, e.g. ``kitti-car``.

Methods are names (``sort``, ``sort:no-min-hits``) or entries with config overrides and their own
seeds: ``{method: "tba:TBA", config: {checkpoint: ../checkpoints/tba/sprites-mot/TBA/last},
seeds: [0]}``; ``datasets: [mnist-multi-same]`` runs an entry on those datasets only (a model
trained on one dataset beside one trained on another). Relative paths (dataset roots, path
params, a method's path config keys such as ``checkpoint``) are relative to the experiment file,
wherever the command runs. An entry's ``seeds`` (non-empty, unique) replace the experiment's
``seeds`` for that method, e.g. one seed for a deterministic trained model beside oracle-noise
baselines run with two. ``{seed}`` in an entry's config text is the cell's seed (a checkpoint per
training seed), ``{name}`` the cell's value of axis ``name`` (a checkpoint per fold).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag

import harness
from harness.datasets.base import (
    TASKS,
    check_param,
    iou_kind,
    load_card,
    load_dataset,
    split_task,
)
from harness.detection_sources import FILE_PREFIX, DetectionSource, check_folder, source_folder
from harness.errors import ConfigError, TrackbenchError, did_you_mean
from harness.fingerprint import code_fingerprint, dataset_fingerprint, path_digest
from harness.metrics.protocols import KITTI_PROTOCOLS, PROTOCOLS
from harness.registry import MethodSpec, parse_method

MULTI_OBJECT, SINGLE_OBJECT, REID = TASKS
PUBLIC_DETECTIONS = "public"
NO_DETECTIONS = "none"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoiseLevel(_Strict):
    """Oracle-detector noise (``harness.detectors.OracleNoise``)."""

    miss_rate: float = Field(0.0, ge=0.0, le=1.0)
    jitter: float = Field(0.0, ge=0.0)
    fp_rate: float = Field(0.0, ge=0.0)
    occlusion_miss: float | None = Field(None, ge=0.0, le=1.0)

    @pydantic.model_serializer(mode="wrap")
    def _dump(self, handler: pydantic.SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The levels, without an unset ``occlusion_miss`` (the config hashes of cells that
        do not use it stay what they were)."""
        levels = handler(self)
        if levels.get("occlusion_miss") is None:
            levels.pop("occlusion_miss", None)
        return levels


def _variant_kind(value: Any) -> str | None:
    """Which model a detection variant is: a mapping with ``source`` is a DetectionSource, any
    other mapping noise levels (None: not a mapping)."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict):
        return DetectionSource.__name__ if "source" in value else NoiseLevel.__name__
    return None


DetectionVariant = Annotated[
    Annotated[NoiseLevel, Tag(NoiseLevel.__name__)]
    | Annotated[DetectionSource, Tag(DetectionSource.__name__)],
    Discriminator(
        _variant_kind,
        custom_error_type="detection_variant",
        custom_error_message="a detection variant is a mapping: oracle noise levels or a source",
    ),
]
"""A ``detections`` value: oracle noise levels, or a source (``harness.detection_sources``)."""


class DatasetEntry(_Strict):
    """A dataset split; ``task`` ``single-object`` runs single-object trackers on the samples of a
    multi-object split; each ``axes`` parameter (a card param) lists values that expand into
    cells, one per combination."""

    name: str
    split: str
    root: str | None = None
    # None: the split's task (harness.datasets.base.split_task). The Literal's values are the
    # TASKS tuple's, read at run time (pydantic checks them; mypy cannot read them).
    task: Literal[TASKS] | None = None  # type: ignore[valid-type]
    params: dict[str, Any] = {}
    axes: dict[str, list[Any]] = {}
    detections: dict[str, DetectionVariant] = {}


class TimingSettings(_Strict):
    """Warm-up frames excluded from timing, and the device the trackers run and are timed on (it
    is also the ``device`` config key of every method that has one, unless an entry sets it).
    ``online_samples``: single-object trackers with a batched ``track`` follow only the first N
    samples of a cell online (timed, and checked against the batched boxes); every sample's
    boxes then come from the batched call (``harness.tasks.single_object``)."""

    warmup_frames: int = Field(10, ge=0)
    device: str = "cpu"
    online_samples: int | None = Field(None, ge=1)


class MethodEntry(_Strict):
    """A method with config overrides, e.g. a trained model's ``checkpoint``, and optionally its
    own ``seeds`` (replacing the experiment's for this method) and the names of the ``datasets``
    it runs on (default: all of them)."""

    method: str
    config: dict[str, Any] = {}
    seeds: list[int] | None = Field(None, min_length=1)
    datasets: list[str] | None = Field(None, min_length=1)


class Experiment(_Strict):
    """The validated content of an experiment file."""

    name: str = Field(min_length=1)
    description: str = ""
    datasets: list[DatasetEntry] = Field(min_length=1)
    methods: list[str | MethodEntry] = Field(min_length=1)
    seeds: list[int] = Field([0], min_length=1)
    # None: each dataset card's protocol. The Literal's values are the PROTOCOLS tuple's, read at
    # run time (pydantic checks them; mypy cannot read them).
    protocol: Literal[PROTOCOLS] | None = None  # type: ignore[valid-type]
    timing: TimingSettings = TimingSettings()
    _folder: str | None = PrivateAttr(None)
    """The experiment file's folder (``load_experiment``): relative paths are resolved against
    it, and its cells' identities hold paths relative to it."""

    def on_device(self, device: str) -> Experiment:
        """This experiment with its trackers run and timed on ``device`` (``--device``)."""
        return self.model_copy(update={"timing": self.timing.model_copy(update={"device": device})})


@dataclass(frozen=True)
class Cell:
    """One unit of work: a method (with ablation) on a dataset split, detection variant and seed."""

    experiment: str
    dataset: str
    split: str
    detections: str
    method: str
    ablation: str
    seed: int
    method_config: dict[str, Any]
    dataset_params: dict[str, Any]
    noise: dict[str, float] | None
    protocol: str
    warmup_frames: int
    device: str
    root: str | None = None
    online_samples: int | None = None
    task: str = MULTI_OBJECT
    axes: dict[str, Any] = field(default_factory=dict)
    """The axis values of this cell (also in ``dataset_params``), e.g. {"length": 40}."""
    folder: str | None = None
    """The experiment file's folder: the identity holds paths relative to it (None: as given)."""
    detection_source: dict[str, Any] | None = None
    """The variant's source (``DetectionSource.model_dump()``, a file source's folder absolute),
    or None: oracle ``noise``, or the dataset's public detections as they are."""
    config_hash: str = field(init=False)
    canonical_identity: str = field(init=False, repr=False, compare=False)
    """The identity document as canonical JSON (what ``config_hash`` hashes), made once."""

    def __post_init__(self) -> None:
        canonical = json.dumps(
            self._identity_document(), sort_keys=True, separators=(",", ":"), default=str
        )
        object.__setattr__(self, "canonical_identity", canonical)
        object.__setattr__(self, "config_hash", hashlib.sha256(canonical.encode()).hexdigest())

    @property
    def key(self) -> dict[str, Any]:
        """The fields that name the cell in tables and reports."""
        return {
            "experiment": self.experiment,
            "dataset": self.dataset,
            "split": self.split,
            "axes": self.axes_label,
            "detections": self.detections,
            "method": self.method,
            "ablation": self.ablation,
            "seed": self.seed,
        }

    @property
    def axes_label(self) -> str:
        """The axis values as a row-key text, e.g. ``length=40``; empty without axes."""
        return axes_label(self.axes)

    @property
    def method_ref(self) -> str:
        return f"{self.method}:{self.ablation}"

    @property
    def label(self) -> str:
        """The cell in a few words, e.g. ``sprites-mot/eval/clean sort:default seed 0``."""
        axes = f"[{self.axes_label}]" if self.axes else ""
        return (
            f"{self.dataset}/{self.split}{axes}/{self.detections} {self.method_ref}"
            f" seed {self.seed}"
        )

    def identity(self) -> dict[str, Any]:
        """Everything that determines the cell's result (the hashed document, as JSON reads it).

        The experiment name, the variant's label and the data root are left out: they name or
        locate things without changing the result (axis values are in ``dataset_params``). Paths
        (a card's ``path_params``, a tracker's ``path_config``) are relative to the experiment's
        folder, so a moved checkout keeps its hashes. Beside the config: ``code_version``
        (trackbench's version) and ``code`` (the tracker's distribution, version and source
        sha256), ``checkpoints`` (the sha256 of what each path config value names) and ``data``
        (the card's sha256 and the generator's version); ``harness.fingerprint`` makes them.
        ``task`` appears only for single-object cells, ``online_samples`` only when set,
        ``detection_source`` (its folder relative) only for a source variant, with
        ``detection_files`` (the sha256 of its folder's files) for a file source.
        """
        return json.loads(self.canonical_identity)

    def _identity_document(self) -> dict[str, Any]:
        spec, _ = parse_method(self.method_ref)
        try:
            path_keys = spec.path_config
        except ConfigError:  # a factory that does not load: the cell fails when it runs
            path_keys = frozenset()
        paths = {key: self.method_config[key] for key in path_keys & set(self.method_config)}
        path_params = load_card(self.dataset).get("path_params", [])
        task = {} if self.task == MULTI_OBJECT else {"task": self.task}
        timing = {"warmup_frames": self.warmup_frames, "device": self.device}
        if self.online_samples is not None:
            timing["online_samples"] = self.online_samples
        return {
            **task,
            "dataset": self.dataset,
            "split": self.split,
            "dataset_params": self._relative(self.dataset_params, path_params),
            "noise": self.noise,
            "method": self.method,
            "ablation": self.ablation,
            "method_config": self._relative(self.method_config, path_keys),
            "seed": self.seed,
            "protocol": self.protocol,
            "timing": timing,
            "code_version": harness.__version__,
            "code": code_fingerprint(spec.reference),
            "checkpoints": {
                key: path_digest(value) for key, value in paths.items() if isinstance(value, str)
            },
            "data": dataset_fingerprint(self.dataset),
            **self._source_identity(),
        }

    def _source_identity(self) -> dict[str, Any]:
        """The identity keys of the variant's detection source (none without one)."""
        if self.detection_source is None:
            return {}
        folder = source_folder(self.detection_source["source"])
        if folder is None:
            return {"detection_source": self.detection_source}
        named = self._relative({"source": str(folder)}, ["source"])["source"]
        return {
            "detection_source": {**self.detection_source, "source": FILE_PREFIX + named},
            "detection_files": path_digest(str(folder)),
        }

    def _relative(self, config: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
        """``config`` with the absolute paths under ``keys`` relative to the experiment's
        folder."""
        if self.folder is None:
            return config
        relative = {
            key: os.path.relpath(config[key], self.folder)
            for key in set(keys) & set(config)
            if isinstance(config[key], str) and os.path.isabs(config[key])
        }
        return {**config, **relative}


IDENTITY_PARTS = {
    "code_version": "code",
    "code": "code",
    "checkpoints": "checkpoint",
    "data": "dataset",
    "detection_files": "detections",
}
"""The part of a result's inputs each identity key is (the others are its ``config``)."""


def changed_parts(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Which parts of two identity documents differ: code, checkpoint, dataset, detections,
    config."""
    changed = {
        IDENTITY_PARTS.get(key, "config")
        for key in old.keys() | new.keys()
        if old.get(key) != new.get(key)
    }
    parts = ("code", "checkpoint", "dataset", "detections", "config")
    return [part for part in parts if part in changed]


def load_experiment(path: str | Path, check_methods: bool = True) -> Experiment:
    """Read, validate and resolve an experiment file; any problem is a one-line ConfigError.
    ``check_methods=False`` leaves the methods' checkpoints and the detection files unchecked
    (to say what it needs)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("experiment file not found", path)
    loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
    try:
        root = loader.get_single_node()  # the node tree gives every value's line
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.problem_mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ConfigError(problem, path, None if mark is None else mark.line + 1) from None
    finally:
        loader.dispose()
    if root is None:
        raise ConfigError("empty experiment file", path)
    if not isinstance(data, dict):
        raise ConfigError(
            "an experiment must be a mapping of keys to values", path, root.start_mark.line + 1
        )
    _check_duplicate_keys(root, path)
    try:
        experiment = Experiment.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _validation_error(exc, root, path) from None
    _resolve_names(experiment, root, path)
    _resolve_paths(experiment, path.resolve().parent)
    if check_methods:
        _check_detection_sources(experiment, root, path)
        _check_method_configs(experiment, root, path)
    return experiment


def expand(experiment: Experiment) -> list[Cell]:
    """All cells of ``experiment`` in the file's order: dataset, method, detections, seed."""
    cells = []
    for entry in experiment.datasets:
        protocol = experiment_protocol(experiment, entry)
        variants: dict[str, tuple[Any, Any]] = {  # name -> the cells' (noise, detection_source)
            name: (None, level.model_dump())
            if isinstance(level, DetectionSource)
            else (level.model_dump(), None)
            for name, level in entry.detections.items()
        }
        for axes in axis_values(entry):
            for ref, overrides, seeds, datasets in method_entries(experiment):
                if entry.name not in datasets:
                    continue
                spec, ablation = parse_method(ref)
                if "detections" not in spec.inputs or entry_task(entry) == REID:
                    method_variants = {NO_DETECTIONS: (None, None)}
                else:
                    method_variants = variants or {PUBLIC_DETECTIONS: (None, None)}
                for variant, (noise, source) in method_variants.items():
                    for seed in seeds:
                        cells.append(
                            Cell(
                                experiment=experiment.name,
                                dataset=entry.name,
                                split=entry.split,
                                detections=variant,
                                method=spec.name,
                                ablation=ablation,
                                seed=seed,
                                method_config=cell_config(
                                    experiment, spec, ablation, overrides, seed, axes
                                ),
                                dataset_params={**entry.params, **axes},
                                noise=noise,
                                detection_source=source,
                                protocol=protocol,
                                warmup_frames=experiment.timing.warmup_frames,
                                online_samples=experiment.timing.online_samples,
                                device=experiment.timing.device,
                                root=entry.root,
                                task=entry_task(entry),
                                axes=axes,
                                folder=experiment._folder,
                            )
                        )
    return cells


def axis_values(entry: DatasetEntry) -> list[dict[str, Any]]:
    """Every combination of ``entry``'s axis values, the first axis varying slowest."""
    names = list(entry.axes)
    return [dict(zip(names, values)) for values in itertools.product(*entry.axes.values())]


def axes_label(axes: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in axes.items())


def cell_config(
    experiment: Experiment,
    spec: MethodSpec,
    ablation: str,
    overrides: dict[str, Any],
    seed: int,
    axes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The method config of a cell: the ablation's, on the experiment's device (where the method
    has a ``device`` key), with the entry's ``overrides`` for ``seed`` and the cell's axis values
    (``with_cell_values``)."""
    config = spec.config_for(ablation)
    if "device" in config:
        config["device"] = experiment.timing.device
    return {**config, **with_cell_values(overrides, seed, axes or {})}


def with_cell_values(overrides: dict[str, Any], seed: int, axes: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with ``{seed}`` in text values replaced by ``seed`` and ``{name}`` by the
    value of axis ``name`` (a checkpoint per training seed, ``checkpoints/gan/seed-{seed}/last``,
    or per leave-one-out fold, ``runs/hart/kth/fold-{fold}/HART/last``)."""
    values = {"seed": seed, **axes}

    def filled(text: str) -> str:
        for name, value in values.items():
            text = text.replace(f"{{{name}}}", str(value))
        return text

    return {
        key: filled(value) if isinstance(value, str) else value for key, value in overrides.items()
    }


def entry_task(entry: DatasetEntry) -> str:
    """The task a dataset entry's cells run: the entry's ``task``, else its split's."""
    return entry.task or split_task(load_card(entry.name), entry.split)


def method_entries(
    experiment: Experiment,
) -> list[tuple[str, dict[str, Any], list[int], set[str]]]:
    """``(method:ablation reference, config overrides, seeds, dataset names)`` of each listed
    method, in order; seeds are the entry's own, else the experiment's; the datasets the entry's
    own, else all of the experiment's."""
    every = {entry.name for entry in experiment.datasets}
    return [
        (entry, {}, experiment.seeds, every)
        if isinstance(entry, str)
        else (
            entry.method,
            dict(entry.config),
            entry.seeds or experiment.seeds,
            set(entry.datasets or every),
        )
        for entry in experiment.methods
    ]


def experiment_protocol(experiment: Experiment, entry: DatasetEntry) -> str:
    """The protocol cells of ``entry`` are evaluated with. Multi-object: the experiment's, else
    the dataset's. Single-object: the card's ``protocol.iou`` (``box`` by default, or ``mask``)."""
    if entry_task(entry) == SINGLE_OBJECT:
        return iou_kind(load_card(entry.name))
    return experiment.protocol or load_dataset(entry.name, entry.root, **entry.params).protocol


def _resolve_names(experiment: Experiment, root: yaml.Node, path: Path) -> None:
    """Check that datasets, splits, card params and methods exist; errors carry the line."""

    def located(exc: TrackbenchError, loc: tuple) -> ConfigError:
        return ConfigError(exc.message, path, _line_of(root, loc))

    for i, entry in enumerate(experiment.datasets):
        try:
            card = load_card(entry.name)
        except ConfigError as exc:
            raise located(exc, ("datasets", i, "name")) from None
        splits = list(card["splits"])
        if entry.split not in splits:
            raise ConfigError(
                f"dataset {entry.name!r} has no split {entry.split!r}"
                + did_you_mean(entry.split, splits),
                path,
                _line_of(root, ("datasets", i, "split")),
            )
        first_of: dict[tuple[Any, ...], str] = {}
        for variant, level in entry.detections.items():
            made_of = (
                level.definition() if isinstance(level, DetectionSource) else level.model_dump()
            )
            first = first_of.setdefault((type(level).__name__, *made_of.values()), variant)
            if first != variant:  # same definition, same cells: the config hash would collide
                what = "source" if isinstance(level, DetectionSource) else "noise levels"
                raise ConfigError(
                    f"detections {variant!r} repeat the {what} of {first!r}",
                    path,
                    _line_of(root, ("datasets", i, "detections", variant)),
                )
        known = list(card.get("params") or {})
        for group in ("params", "axes"):
            for name in getattr(entry, group):
                if name not in known:
                    raise ConfigError(
                        f"dataset {entry.name!r} has no parameter {name!r}"
                        + (did_you_mean(name, known) if known else " (it takes none)"),
                        path,
                        _line_of(root, ("datasets", i, group, name)),
                    )
        for name, values in entry.axes.items():
            where = _line_of(root, ("datasets", i, "axes", name))
            if name in entry.params:
                raise ConfigError(f"parameter {name!r} is both a param and an axis", path, where)
            if not values:
                raise ConfigError(f"axis {name!r} has no values", path, where)
            _check_unique(values, f"{name} value", ("datasets", i, "axes", name), root, path)
        _check_param_values(card, entry, i, root, path)
        split_kind = split_task(card, entry.split)
        if entry.task in (MULTI_OBJECT, REID) and split_kind == SINGLE_OBJECT:
            raise ConfigError(
                f"split {entry.split!r} of {entry.name!r} is single-object: it has samples,"
                " not multi-object sequences",
                path,
                _line_of(root, ("datasets", i, "task")),
            )
        protocol = experiment_protocol(experiment, entry)
        classes = KITTI_PROTOCOLS.get(protocol, ())
        if entry_task(entry) == MULTI_OBJECT and len(classes) > 1:
            raise ConfigError(
                f"dataset {entry.name!r} is evaluated with the {protocol} protocol, which needs"
                " class-labelled tracker output; score KITTI-format results with"
                " `trackbench evaluate --protocol kitti` instead (a test split's submission"
                " labels every track with one class: protocol kitti-car or kitti-pedestrian)",
                path,
                _line_of(root, ("datasets", i, "name")),
            )
    _check_unique(
        [(d.name, d.split) for d in experiment.datasets], "dataset split", ("datasets",), root, path
    )
    entries = method_entries(experiment)
    for j, (ref, overrides, _, datasets) in enumerate(entries):
        method_entry = experiment.methods[j]
        loc = ("methods", j) if isinstance(method_entry, str) else ("methods", j, "method")
        try:
            spec, _ = parse_method(ref)
        except ConfigError as exc:
            raise located(exc, loc) from None
        for key in overrides:
            if key not in spec.config:
                raise ConfigError(
                    f"method {spec.name!r} has no config key {key!r}"
                    + did_you_mean(key, list(spec.config)),
                    path,
                    _line_of(root, ("methods", j, "config", key)),
                )
        if not isinstance(method_entry, str) and method_entry.datasets is not None:
            named = [d.name for d in experiment.datasets]
            for k, name in enumerate(method_entry.datasets):
                if name not in named:
                    raise ConfigError(
                        f"method {ref!r} names dataset {name!r}, which the experiment does not"
                        " list" + did_you_mean(name, named),
                        path,
                        _line_of(root, ("methods", j, "datasets", k)),
                    )
            _check_unique(method_entry.datasets, "dataset", ("methods", j, "datasets"), root, path)
        for entry_ in experiment.datasets:
            if entry_.name in datasets and entry_task(entry_) == REID:
                try:
                    embeds = spec.embeds
                except ConfigError as exc:  # its factory does not load
                    raise located(exc, loc) from None
                if not embeds:
                    raise ConfigError(
                        f"method {spec.name!r} cannot embed boxes; the reid task needs"
                        " embed(image, boxes)",
                        path,
                        _line_of(root, loc),
                    )
            elif entry_.name in datasets and spec.kind != entry_task(entry_):
                raise ConfigError(
                    f"method {spec.name!r} is a {spec.kind} tracker but {entry_.name}"
                    f" split {entry_.split!r} is {entry_task(entry_)}"
                    + (
                        " (`task: single-object` on the dataset runs single-object trackers on"
                        " its samples)"
                        if spec.kind == SINGLE_OBJECT
                        else ""
                    ),
                    path,
                    _line_of(root, ("methods", j)),
                )
        if not isinstance(method_entry, str) and method_entry.seeds is not None:
            _check_unique(method_entry.seeds, "seed", ("methods", j, "seeds"), root, path)
    canonical = [ref if ":" in ref else f"{ref}:default" for ref, *_ in entries]
    _check_unique(canonical, "method", ("methods",), root, path)
    _check_unique(experiment.seeds, "seed", ("seeds",), root, path)


def _resolve_paths(experiment: Experiment, folder: Path) -> None:
    """Make relative paths absolute against the experiment's ``folder``: dataset roots, the card
    params a card lists in ``path_params``, file detection sources and the method config keys a
    tracker lists in ``path_config``; the experiment keeps ``folder`` for its cells'
    identities."""
    experiment._folder = str(folder)

    def resolved(value: str | None) -> str | None:
        if value is None:
            return None
        return os.path.normpath(folder / Path(value).expanduser())

    for entry in experiment.datasets:
        entry.root = resolved(entry.root)
        for name in load_card(entry.name).get("path_params", []):
            if name in entry.params:
                entry.params[name] = resolved(entry.params[name])
        for _, variant, source in _file_sources(entry):
            variant.source = FILE_PREFIX + str(resolved(str(source)))
    for method_entry in experiment.methods:
        if isinstance(method_entry, MethodEntry):
            spec, _ = parse_method(method_entry.method)
            for key in spec.path_config & set(method_entry.config):
                method_entry.config[key] = resolved(method_entry.config[key])


def _check_param_values(
    card: dict[str, Any], entry: DatasetEntry, i: int, root: yaml.Node, path: Path
) -> None:
    """Every param and axis value of dataset entry ``i`` is what its card allows
    (``check_param``); an error points at the value."""
    values: list[tuple[tuple[Any, ...], str, Any]]
    values = [(("params", name), name, value) for name, value in entry.params.items()]
    values += [
        (("axes", name, k), name, value)
        for name, axis in entry.axes.items()
        for k, value in enumerate(axis)
    ]
    for loc, name, value in values:
        try:
            check_param(card, name, value)
        except ConfigError as exc:
            raise ConfigError(exc.message, path, _line_of(root, ("datasets", i, *loc))) from None


def _file_sources(entry: DatasetEntry) -> Iterator[tuple[str, DetectionSource, Path]]:
    """``(variant name, source, folder)`` of each file detection source of ``entry``."""
    for name, variant in entry.detections.items():
        if isinstance(variant, DetectionSource):
            folder = source_folder(variant.source)
            if folder is not None:
                yield name, variant, folder


def _check_detection_sources(experiment: Experiment, root: yaml.Node, path: Path) -> None:
    """Each file detection source names a folder (a ConfigError at its ``source`` line) whose
    ``*.txt`` files parse (a FormatError naming the file and line); which sequences it must cover
    is checked once their split is loaded (``harness.runner``)."""
    for i, entry in enumerate(experiment.datasets):
        for name, _, folder in _file_sources(entry):
            try:
                check_folder(folder)
            except ConfigError as exc:
                where = _line_of(root, ("datasets", i, "detections", name, "source"))
                raise ConfigError(exc.message, path, where) from None


def _check_method_configs(experiment: Experiment, root: yaml.Node, path: Path) -> None:
    """Each method entry that sets path config keys (a checkpoint, weights) passes its tracker's
    ``check_config`` for each of its seeds and axis values, as its cells' configs would (e.g. the
    checkpoint exists and holds the network the config describes): a TrackbenchError is refused
    here, pointing at the key whose path it names (else the entry's first path key), before any
    cell runs; other exceptions are left to the runner, which fails the cells with traceback."""
    for j, (ref, overrides, seeds, _) in enumerate(method_entries(experiment)):
        spec, ablation = parse_method(ref)
        keys = sorted(spec.path_config & set(overrides)) if overrides else []
        check = getattr(spec.factory, "check_config", None) if keys else None
        if check is None:
            continue
        every_axes = [axes for entry in experiment.datasets for axes in axis_values(entry)]
        for seed, axes in itertools.product(seeds, every_axes):
            config = cell_config(experiment, spec, ablation, overrides, seed, axes)
            try:
                check(config)
            except TrackbenchError as exc:
                named = [k for k in keys if str(exc.path or "").startswith(str(config[k]))]
                where = _line_of(root, ("methods", j, "config", (named or keys)[0]))
                problem = exc.message + (f": {exc.path}" if exc.path else "")
                raise ConfigError(problem, path, where) from None
            except Exception:  # not an input error: the runner fails the cells, with traceback
                continue


def _check_unique(values: list, what: str, loc: tuple, root: yaml.Node, path: Path) -> None:
    """Reject a repeated value of the list (or mapping, in order) at ``loc``."""
    seen = set()
    for i, value in enumerate(values):
        if value in seen:
            raise ConfigError(f"duplicate {what} {value!r}", path, _line_of(root, (*loc, i)))
        seen.add(value)


def _check_duplicate_keys(node: yaml.Node, path: Path) -> None:
    """YAML silently keeps the last of two equal keys; we reject them."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if key.value in seen:
                raise ConfigError(f"duplicate key {key.value!r}", path, key.start_mark.line + 1)
            seen.add(key.value)
            _check_duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, path)


_UNION_MEMBERS = {m.__name__: m for m in (str, MethodEntry, NoiseLevel, DetectionSource)}
"""The members of ``methods``' and ``detections``' unions, by the name pydantic's error locations
give them (not a YAML key)."""


def _validation_error(exc: pydantic.ValidationError, root: yaml.Node, path: Path) -> ConfigError:
    """The first pydantic error as one line, located in the file (unknown keys first: a misspelt
    key also makes the key it meant missing; then the deepest: a method entry that is neither a
    name nor a valid mapping is reported at the mapping's bad value)."""
    errors = sorted(exc.errors(), key=lambda e: (e["type"] != "extra_forbidden", -len(e["loc"])))
    error = errors[0]
    loc = tuple(part for part in error["loc"] if part not in _UNION_MEMBERS)
    where = _dotted(loc)
    if error["type"] == "extra_forbidden":
        known = _fields_at(Experiment, tuple(error["loc"])[:-1])
        problem = f"unknown key {loc[-1]!r}" + (f" in {_dotted(loc[:-1])}" if loc[:-1] else "")
        problem += did_you_mean(str(loc[-1]), known) if known else ""
    elif error["type"] == "missing":
        problem = f"missing key {where!r}"
    else:
        problem = f"{where}: {error['msg']}"
        if error["type"] not in ("literal_error",) and "input" in error:
            problem += f" (got {error['input']!r})"
    more = len(errors) - 1
    if more:
        problem += f" (+{more} more problem{'s' if more > 1 else ''})"
    return ConfigError(problem, path, _line_of(root, loc))


def _line_of(root: yaml.Node, loc: tuple) -> int:
    """1-based line of the deepest node on ``loc`` (a mapping entry's line is its key's line)."""
    node, line = root, root.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line, match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _fields_at(model: type, loc: tuple) -> list[str]:
    """Field names of the pydantic model reached by following ``loc`` from ``model``."""
    annotation: Any = model
    for part in loc:
        if part in _UNION_MEMBERS:  # a union's member, as pydantic names it
            annotation = _UNION_MEMBERS[part]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = annotation.model_fields[part].annotation
        else:  # list[X] or dict[str, X]: step into the item type
            annotation = typing.get_args(annotation)[-1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _dotted(loc: tuple) -> str:
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc)
    )
