"""Registries: tracker methods with their ablations, and dataset adapters.

A method registers once with its default config; each ablation is a named override of that config
(e.g. ``tba:TBAc-noMem``). The factory is named by a ``"module:attribute"`` string and imported on
first use, so listing methods imports no tracker code; its class declares the tracker's ``kind``
and ``inputs`` (``harness.protocol``). Every family, built-in (``trackers/<family>/``) or third
party, is a module named in the ``trackbench.trackers`` entry-point group that registers on
import; this module imports none of them itself.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from harness.errors import ConfigError, did_you_mean

DEFAULT_ABLATION = "default"
PLUGIN_GROUP = "trackbench.trackers"


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: how to build it, its default config and its named ablations.

    Two specs are equal when they are the same registration: the same factory reference, config,
    ablations and description.
    """

    name: str
    reference: str  # "module:attribute" of the factory
    config: dict[str, Any]
    paper: str = ""
    table: str = ""
    description: str = ""
    ablations: dict[str, dict[str, Any]] = field(default_factory=dict)
    registered_factory: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    """The factory itself when it was registered as a callable rather than a reference."""

    @property
    def factory(self) -> Callable[..., Any]:
        """The tracker class or factory function, imported on first use."""
        if self.registered_factory is not None:
            return self.registered_factory
        try:
            return pkgutil.resolve_name(self.reference)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"method {self.name!r}: cannot load its factory {self.reference!r} ({exc})"
            ) from exc

    def _declared(self, attribute: str) -> Any:
        factory = self.factory
        if not hasattr(factory, attribute):
            raise ConfigError(
                f"method {self.name!r}: its factory {self.reference} declares no {attribute!r}"
                " (subclass harness.protocol.MultiObjectTracker or SingleObjectTracker)"
            )
        return getattr(factory, attribute)

    @property
    def kind(self) -> str:
        """``"multi-object"`` or ``"single-object"``, as the factory's class declares."""
        return self._declared("kind")

    @property
    def inputs(self) -> frozenset[str]:
        """What the tracker consumes (``"image"``, ``"detections"``), as its class declares."""
        return frozenset(self._declared("inputs"))

    @property
    def path_config(self) -> frozenset[str]:
        """Config keys holding file paths (the factory's ``path_config``, e.g. ``checkpoint``)."""
        return frozenset(getattr(self.factory, "path_config", ()))

    def config_for(self, ablation: str = DEFAULT_ABLATION) -> dict[str, Any]:
        """The default config with the ablation's overrides applied."""
        if ablation != DEFAULT_ABLATION and ablation not in self.ablations:
            raise ConfigError(
                f"unknown ablation {ablation!r} of method {self.name!r}"
                + did_you_mean(ablation, [DEFAULT_ABLATION, *self.ablations])
            )
        config = copy.deepcopy(self.config)
        config.update(copy.deepcopy(self.ablations.get(ablation, {})))
        return config

    def build(self, ablation: str = DEFAULT_ABLATION, **overrides: Any) -> Any:
        """Instantiate the tracker for ``ablation`` with extra config ``overrides``."""
        config = self.config_for(ablation)
        unknown = set(overrides) - set(config)
        if unknown:
            raise ConfigError(f"method {self.name!r} has no config keys {sorted(unknown)}")
        config.update(overrides)
        return self.factory(**config)


_METHODS: dict[str, MethodSpec] = {}
_ADAPTERS: dict[str, Callable[..., Any]] = {}
_loaded = False


def register_method(
    name: str,
    factory: str | Callable[..., Any],
    config: dict[str, Any],
    *,
    ablations: dict[str, dict[str, Any]] | None = None,
    paper: str = "",
    table: str = "",
    description: str = "",
) -> MethodSpec:
    """Register method ``name``, built by ``factory(**config)``.

    ``factory`` is a ``"module:attribute"`` reference, imported on first use, or the callable
    itself. It is a tracker class, or a function carrying the class attributes the registry reads
    (``kind``, ``inputs``; optionally ``path_config``, ``check_config``). Ablation overrides may
    only touch keys of ``config``. A name registered by another registration is a ConfigError;
    the very same registration again (a module imported twice) replaces the first.
    """
    if isinstance(factory, str):
        module, colon, attribute = factory.partition(":")
        if not (module and colon and attribute):
            raise ValueError(f"method {name!r}: factory {factory!r} is not 'module:attribute'")
        reference, registered_factory = factory, None
    else:
        reference, registered_factory = f"{factory.__module__}:{factory.__qualname__}", factory
    ablations = ablations or {}
    for ablation, override in ablations.items():
        unknown = set(override) - set(config)
        if unknown:
            raise ValueError(f"ablation {name}:{ablation} overrides unknown keys {sorted(unknown)}")
    spec = MethodSpec(
        name=name,
        reference=reference,
        config=dict(config),
        paper=paper,
        table=table,
        description=description,
        ablations=dict(ablations),
        registered_factory=registered_factory,
    )
    registered = _METHODS.get(name)
    if registered is not None and registered != spec:
        raise ConfigError(
            f"method {name!r} is registered twice: by {registered.reference} and by {reference}"
        )
    _METHODS[name] = spec
    return spec


def register_adapter(adapter_id: str) -> Callable:
    """Class decorator: register a DatasetAdapter under ``adapter_id`` (named by cards)."""

    def decorate(cls):
        _ADAPTERS[adapter_id] = cls
        return cls

    return decorate


def load_plugins() -> None:
    """Import every tracker family of the ``trackbench.trackers`` entry-point group (once): this
    project's (its pyproject names them) and third-party packages' alike."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for entry in entry_points(group=PLUGIN_GROUP):
        entry.load()


def methods() -> dict[str, MethodSpec]:
    load_plugins()
    return dict(sorted(_METHODS.items()))


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
    importlib.import_module("harness.datasets")
    if adapter_id not in _ADAPTERS:
        raise ConfigError(
            f"unknown dataset adapter {adapter_id!r}" + did_you_mean(adapter_id, list(_ADAPTERS))
        )
    return _ADAPTERS[adapter_id]
