"""Registries: tracker methods with their ablations, and dataset adapters.

A method registers once with its default config; each ablation is a named override of that config
(e.g. ``tba:TBAc-noMem``). The factory is named by a ``"module:attribute"`` string and imported on
first use, so listing methods imports no tracker code: the registration states the tracker's
``kind`` and ``inputs`` as data, and they are checked against what its class declares
(``harness.protocol``) when the class is loaded. Every family, built-in (``trackers/<family>/``)
or third party, is a module named in the ``trackbench.trackers`` entry-point group that registers
on import; this module imports none of them itself.

Dataset adapters are the ``trackbench.datasets`` entry points: the name is the adapter id a card
names, the object the ``DatasetAdapter`` class (this project's in ``harness.datasets``, other
packages' alike), imported when a card asks for it.
"""

from __future__ import annotations

import copy
import logging
import pkgutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, did_you_mean
from harness.protocol import INPUT_KINDS, MultiObjectTracker, SingleObjectTracker

DEFAULT_ABLATION = "default"
PLUGIN_GROUP = "trackbench.trackers"
DATASET_GROUP = "trackbench.datasets"
KINDS = (MultiObjectTracker.kind, SingleObjectTracker.kind)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conformance:
    """What the conformance tests (``tests/trackers/test_conformance.py``) run a method on: the
    first sequence, or the samples, of ``split`` of ``dataset`` with card ``params``; ``config``
    overrides that make its tracker tiny and fast (e.g. ``smoke``); ``checkpoint``, a trained
    checkpoint of the default ablation's registry config (no overrides; a path relative to the
    folder holding the tracker's top-level package, i.e. the project's root), so that the checks
    also compare real tracks."""

    dataset: str
    split: str = "eval"
    params: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: how to build it, its kind and inputs, its default config and its named
    ablations; ``test_double`` marks a tracker that exercises the harness (e.g. a ground-truth
    replay), not a method to rank; ``floor`` a baseline that computes nothing (e.g. the constant
    box): its accuracy is the floor others are read against, its speed is no tracker's speed.

    Two specs are equal when they are the same registration: every field the same but the
    registered factory object (its reference is compared).
    """

    name: str
    reference: str  # "module:attribute" of the factory
    config: dict[str, Any]
    kind: str  # "multi-object" or "single-object"
    inputs: frozenset[str]  # what the tracker consumes ("image", "detections")
    test_double: bool = False
    floor: bool = False
    paper: str = ""
    table: str = ""
    description: str = ""
    ablations: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipe: str = ""  # "module:Recipe" that trains it (``harness.training``); "": not learnable
    conformance: Conformance | None = None
    registered_factory: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    """The factory itself when it was registered as a callable rather than a reference."""

    @property
    def factory(self) -> Callable[..., Any]:
        """The tracker class or factory function, imported on first use; a ConfigError if it
        declares another kind or other inputs than the registration."""
        if self.registered_factory is not None:
            return self.registered_factory
        try:
            factory = pkgutil.resolve_name(self.reference)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"method {self.name!r}: cannot load its factory {self.reference!r} ({exc})"
            ) from exc
        self.check_declaration(factory)
        return factory

    @property
    def conformance_checkpoint(self) -> str | None:
        """The path of ``conformance.checkpoint`` (None: the method declares none)."""
        if self.conformance is None or self.conformance.checkpoint is None:
            return None
        module = sys.modules[self.factory.__module__]
        root = Path(module.__file__ or ".").parents[module.__name__.count(".")]
        return str(root / self.conformance.checkpoint)

    @property
    def recipe_class(self) -> Any:
        """The ``harness.training.Recipe`` subclass that trains the method, imported now; a
        ConfigError if it registered none."""
        if not self.recipe:
            raise ConfigError(f"method {self.name!r} is not learnable (it registers no recipe)")
        try:
            return pkgutil.resolve_name(self.recipe)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"method {self.name!r}: cannot load its recipe {self.recipe!r} ({exc})"
            ) from exc

    def check_declaration(self, factory: Callable[..., Any]) -> None:
        """Raise a ConfigError unless ``factory`` declares the registered kind and inputs."""
        kind, inputs = _declared(self.name, self.reference, factory)
        if (kind, inputs) != (self.kind, self.inputs):
            raise ConfigError(
                f"method {self.name!r} is registered as a {self.kind} tracker of inputs"
                f" {sorted(self.inputs)} but its factory {self.reference} declares a {kind}"
                f" tracker of inputs {sorted(inputs)}"
            )

    @property
    def embeds(self) -> bool:
        """Whether the tracker embeds boxes (has ``embed(image, boxes)``, which the reid task
        calls: ``harness.tasks.reid``)."""
        return callable(getattr(self.factory, "embed", None))

    @property
    def path_config(self) -> frozenset[str]:
        """Config keys holding file paths (the factory's ``path_config``, e.g. ``checkpoint``)."""
        return frozenset(getattr(self.factory, "path_config", ()))

    def config_for(self, ablation: str = DEFAULT_ABLATION, **overrides: Any) -> dict[str, Any]:
        """The default config with the ablation's overrides applied, then ``overrides`` (only
        keys of the config)."""
        if ablation != DEFAULT_ABLATION and ablation not in self.ablations:
            raise ConfigError(
                f"unknown ablation {ablation!r} of method {self.name!r}"
                + did_you_mean(ablation, [DEFAULT_ABLATION, *self.ablations])
            )
        config = copy.deepcopy(self.config)
        config.update(copy.deepcopy(self.ablations.get(ablation, {})))
        unknown = set(overrides) - set(config)
        if unknown:
            raise ConfigError(f"method {self.name!r} has no config keys {sorted(unknown)}")
        config.update(overrides)
        return config

    def build(self, ablation: str = DEFAULT_ABLATION, **overrides: Any) -> Any:
        """Instantiate the tracker for ``ablation`` with extra config ``overrides``."""
        return self.factory(**self.config_for(ablation, **overrides))


def _declared(name: str, reference: str, factory: Any) -> tuple[str, frozenset[str]]:
    """The kind and inputs that the tracker class (or factory function) ``factory`` declares."""
    missing = [a for a in ("kind", "inputs") if not hasattr(factory, a)]
    if missing:
        raise ConfigError(
            f"method {name!r}: its factory {reference} declares no {missing[0]!r}"
            " (subclass harness.protocol.MultiObjectTracker or SingleObjectTracker)"
        )
    return factory.kind, frozenset(factory.inputs)


_METHODS: dict[str, MethodSpec] = {}
_loaded = False


def register_method(
    name: str,
    factory: str | Callable[..., Any],
    config: dict[str, Any],
    *,
    kind: str | None = None,
    inputs: Iterable[str] | None = None,
    test_double: bool = False,
    floor: bool = False,
    ablations: dict[str, dict[str, Any]] | None = None,
    paper: str = "",
    table: str = "",
    description: str = "",
    recipe: str = "",
    conformance: dict[str, Any] | None = None,
) -> MethodSpec:
    """Register method ``name``, built by ``factory(**config)``.

    ``factory`` is a ``"module:attribute"`` reference, imported on first use, or the callable
    itself. It is a tracker class, or a function carrying the class attributes the registry
    checks (``kind``, ``inputs``; optionally ``path_config``, ``check_config``). ``kind``
    (``"multi-object"``, ``"single-object"``) and ``inputs`` (``"image"``, ``"detections"``) are
    registry data, required with a reference; a callable's own declaration is their default, and
    a registration that contradicts its class is a ConfigError (a reference's, when it is
    loaded). ``test_double`` marks a tracker that checks the harness rather than a method;
    ``floor`` a baseline that computes nothing, ranked on accuracy but not on speed.
    ``recipe``: the ``"module:Recipe"`` that trains a learnable method (``harness.lifecycle``);
    the tracker never imports it. ``conformance``: the fields of a ``Conformance``.
    Ablation overrides may only touch keys of ``config``. A name registered by another
    registration is a ConfigError; the very same registration again (a module imported twice)
    replaces the first.
    """
    if recipe and ":" not in recipe:
        raise ValueError(f"method {name!r}: recipe {recipe!r} is not 'module:attribute'")
    if isinstance(factory, str):
        module, colon, attribute = factory.partition(":")
        if not (module and colon and attribute):
            raise ValueError(f"method {name!r}: factory {factory!r} is not 'module:attribute'")
        if kind is None or inputs is None:
            raise ValueError(
                f"method {name!r}: a factory reference is registered with its kind and inputs"
            )
        reference, registered_factory = factory, None
    else:
        reference, registered_factory = f"{factory.__module__}:{factory.__qualname__}", factory
        declared_kind, declared_inputs = _declared(name, reference, factory)
        kind = declared_kind if kind is None else kind
        inputs = declared_inputs if inputs is None else inputs
    inputs = frozenset(inputs)
    if kind not in KINDS:
        raise ValueError(f"method {name!r}: kind {kind!r} is none of {list(KINDS)}")
    if not inputs <= INPUT_KINDS:
        raise ValueError(
            f"method {name!r}: inputs {sorted(inputs - INPUT_KINDS)} are none of"
            f" {sorted(INPUT_KINDS)}"
        )
    ablations = ablations or {}
    for ablation, override in ablations.items():
        unknown = set(override) - set(config)
        if unknown:
            raise ValueError(f"ablation {name}:{ablation} overrides unknown keys {sorted(unknown)}")
    spec = MethodSpec(
        name=name,
        reference=reference,
        config=dict(config),
        kind=kind,
        inputs=inputs,
        test_double=test_double,
        floor=floor,
        paper=paper,
        table=table,
        description=description,
        ablations=dict(ablations),
        recipe=recipe,
        conformance=None if conformance is None else Conformance(**conformance),
        registered_factory=registered_factory,
    )
    registered = _METHODS.get(name)
    if registered is not None and registered != spec:
        raise ConfigError(
            f"method {name!r} is registered twice: by {registered.reference} and by {reference}"
        )
    if registered_factory is not None:
        spec.check_declaration(registered_factory)
    _METHODS[name] = spec
    return spec


def load_plugins() -> None:
    """Import every tracker family of the ``trackbench.trackers`` entry-point group (once): this
    project's (its pyproject names them) and third-party packages' alike. A family that fails to
    import (or to register) is one warning naming its entry point and the error; the others and
    every command that does not need it still work."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            entry.load()
        except Exception as exc:  # a third party's bug must not break the other families
            log.warning(
                "warning: tracker plugin %r (%s) failed to import, its trackers are"
                " unavailable: %s: %s",
                entry.name,
                entry.value,
                type(exc).__name__,
                " ".join(str(exc).split()),
            )


def methods() -> dict[str, MethodSpec]:
    load_plugins()
    return dict(sorted(_METHODS.items()))


def test_doubles() -> frozenset[str]:
    """The methods registered as test doubles (``test_double``): never a board column's best,
    and off its speed axis (their fps is not a tracker's speed)."""
    return frozenset(name for name, spec in methods().items() if spec.test_double)


def unranked_on_speed() -> frozenset[str]:
    """The test doubles and the floors (``floor``): never a speed column's best, never on a
    board's speed plot (replaying boxes or not moving one is no tracker's speed)."""
    return frozenset(name for name, spec in methods().items() if spec.test_double or spec.floor)


def method_label(method: str, ablation: str) -> str:
    """``method`` or ``method:ablation``, the reference ``parse_method`` reads."""
    return method if ablation == DEFAULT_ABLATION else f"{method}:{ablation}"


def parse_method(ref: str) -> tuple[MethodSpec, str]:
    """Resolve ``"method"`` or ``"method:ablation"`` to its spec and ablation name."""
    load_plugins()
    name, _, ablation = ref.partition(":")
    ablation = ablation or DEFAULT_ABLATION
    if name not in _METHODS:
        raise ConfigError(f"unknown tracker {name!r}" + did_you_mean(name, list(_METHODS)))
    spec = _METHODS[name]
    spec.config_for(ablation)  # validates the ablation name
    return spec, ablation


def adapter(adapter_id: str) -> Callable[..., Any]:
    """The DatasetAdapter class of ``adapter_id`` (a card's ``adapter``): the entry point of that
    name in the ``trackbench.datasets`` group, imported now. Two packages giving one id different
    classes is a ConfigError."""
    ids: dict[str, dict[str, EntryPoint]] = {}  # id -> "module:Class" -> its entry point
    for entry in entry_points(group=DATASET_GROUP):
        ids.setdefault(entry.name, {})[entry.value] = entry
    if not ids:
        raise ConfigError(
            f"unknown dataset adapter {adapter_id!r}: no {DATASET_GROUP} entry points are"
            " installed (reinstall trackbench: pip install -e .)"
        )
    if adapter_id not in ids:
        raise ConfigError(
            f"unknown dataset adapter {adapter_id!r}" + did_you_mean(adapter_id, list(ids))
        )
    if len(ids[adapter_id]) > 1:
        raise ConfigError(
            f"dataset adapter {adapter_id!r} is registered twice: by "
            + " and by ".join(ids[adapter_id])
        )
    (entry,) = ids[adapter_id].values()
    try:
        return entry.load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"dataset adapter {adapter_id!r}: cannot load {entry.value!r} ({exc})"
        ) from exc
