"""Registries: tracker methods with their ablations, and dataset adapters.

A method registers once with its default config; each ablation is a named override of that config
(e.g. ``tba:TBAc-noMem``). Tracker families live in ``trackers/<family>/`` and register on import;
third-party packages add theirs through the ``trackbench.trackers`` entry-point group.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from harness.errors import ConfigError, did_you_mean

DEFAULT_ABLATION = "default"


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: how to build it, its default config and its named ablations."""

    name: str
    factory: Callable[..., Any]
    config: dict[str, Any]
    inputs: frozenset[str]
    kind: str = "multi-object"  # or "single-object"
    paper: str = ""
    table: str = ""
    description: str = ""
    ablations: dict[str, dict[str, Any]] = field(default_factory=dict)

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
    factory: Callable[..., Any],
    config: dict[str, Any],
    inputs: frozenset[str] | set[str],
    ablations: dict[str, dict[str, Any]] | None = None,
    **info: Any,
) -> MethodSpec:
    """Register method ``name``; ablation overrides may only touch keys of ``config``."""
    ablations = ablations or {}
    for ablation, override in ablations.items():
        unknown = set(override) - set(config)
        if unknown:
            raise ValueError(f"ablation {name}:{ablation} overrides unknown keys {sorted(unknown)}")
    spec = MethodSpec(
        name=name,
        factory=factory,
        config=dict(config),
        inputs=frozenset(inputs),
        ablations=dict(ablations),
        **info,
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
    """Import the built-in tracker families and entry-point plugins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    importlib.import_module("trackers")
    for ep in entry_points(group="trackbench.trackers"):
        importlib.import_module(ep.value)


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
