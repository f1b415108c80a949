"""The method registry: lazy factory references, duplicate names, kind and inputs read from the
tracker class, entry-point families, and the layout rule of trackers/ (families share only
trackers/common)."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from harness import registry
from harness.errors import ConfigError
from harness.experiment import load_experiment
from harness.protocol import MultiObjectTracker, SingleObjectTracker
from trackers.baselines.iou_tracker import IOUTracker, OfflineIOUTracker, iou_tracker
from trackers.baselines.sort import SORT

REPO = Path(__file__).resolve().parents[1]
PLUGIN_MODULES = ("plugin_family", "plugin_tracker")  # tests/plugin_family.py registers "plugin"


@pytest.fixture
def plugged(monkeypatch):
    """A registry loaded afresh from the installed entry points plus tests/plugin_family.py as a
    third party's ``trackbench.trackers`` entry; neither plug-in module imported yet."""
    registry.load_plugins()  # the built-in families, imported once per process
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_loaded", False)
    for module in PLUGIN_MODULES:
        monkeypatch.delitem(sys.modules, module, raising=False)
    installed = registry.entry_points

    def with_plugin(group: str) -> list[EntryPoint]:
        return [*installed(group=group), EntryPoint("plugin", "plugin_family", group)]

    monkeypatch.setattr(registry, "entry_points", with_plugin)


@pytest.fixture
def scratch(monkeypatch):
    """An empty method registry (the installed families already loaded), restored afterwards."""
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", {})


def test_a_third_party_family_registers_through_the_entry_point_group(plugged):
    registered = registry.methods()
    assert {"sort", "iou", "ground-truth", "tba", "tba-mnist", "plugin"} <= set(registered)
    assert registered["plugin"].reference == "plugin_tracker:PluginTracker"
    assert registered["plugin"].config_for("trained") == {"checkpoint": "weights.pt"}


@pytest.mark.parametrize(
    "first_use",
    [
        lambda spec: spec.build(),
        lambda spec: spec.factory.check_config(spec.config),
        lambda spec: spec.path_config,
        lambda spec: spec.kind,
        lambda spec: spec.inputs,
    ],
    ids=["build", "check_config", "path_config", "kind", "inputs"],
)
def test_a_factory_reference_is_imported_on_first_use(plugged, first_use):
    spec = registry.methods()["plugin"]
    assert "plugin_family" in sys.modules and "plugin_tracker" not in sys.modules
    first_use(spec)
    assert "plugin_tracker" in sys.modules
    assert spec.factory is sys.modules["plugin_tracker"].PluginTracker


def test_listing_methods_imports_no_tracker_code_nor_torch():
    script = textwrap.dedent(
        """
        import json, sys
        import harness.registry
        before = sorted(m for m in sys.modules if m.split(".")[0] == "trackers")
        names = sorted(harness.registry.methods())
        after = sorted(m for m in sys.modules if m.split(".")[0] in ("trackers", "torch"))
        print(json.dumps([before, names, after]))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    before, names, after = json.loads(run.stdout)
    assert before == []  # harness.registry imports no tracker module
    assert {"sort", "iou", "ground-truth", "tba", "tba-mnist"} <= set(names)
    # registrations only
    assert after == [
        "trackers",
        "trackers.baselines",
        "trackers.gan",
        "trackers.hart",
        "trackers.tba",
    ]


def test_kind_and_inputs_are_read_from_the_tracker_class(scratch):
    class Follower(SingleObjectTracker):
        pass

    class Watcher(MultiObjectTracker):
        inputs = frozenset({"image", "detections"})

    follower = registry.register_method("follower", Follower, {})
    watcher = registry.register_method("watcher", Watcher, {})
    assert (follower.kind, follower.inputs) == ("single-object", {"image"})
    assert (watcher.kind, watcher.inputs) == ("multi-object", {"image", "detections"})
    sort = registry.register_method("sort", "trackers.baselines.sort:SORT", {})
    assert (sort.kind, sort.inputs) == (SORT.kind, {"detections"})
    # a factory function carries the attributes of the classes it returns
    iou = registry.register_method("iou", iou_tracker, {})
    assert iou.kind == IOUTracker.kind == OfflineIOUTracker.kind == "multi-object"
    assert iou.inputs == IOUTracker.inputs == OfflineIOUTracker.inputs


def test_a_factory_without_kind_or_that_cannot_load_is_a_config_error(scratch):
    def bare(**config):
        return object()

    spec = registry.register_method("bare", bare, {})
    with pytest.raises(ConfigError, match=r"'bare'.*declares no 'kind'"):
        _ = spec.kind
    missing = registry.register_method("missing", "no_such_module:Tracker", {})
    with pytest.raises(ConfigError, match=r"'missing': cannot load its factory 'no_such_module"):
        missing.build()
    with pytest.raises(ValueError, match="not 'module:attribute'"):
        registry.register_method("unqualified", "Tracker", {})


def test_a_duplicate_name_names_both_registrants(scratch):
    first = registry.register_method("m", "plugin_tracker:PluginTracker", {"checkpoint": None})
    with pytest.raises(ConfigError) as error:
        registry.register_method("m", SORT, {"max_age": 1})
    message = str(error.value)
    assert "plugin_tracker:PluginTracker" in message and "trackers.baselines.sort:SORT" in message
    with pytest.raises(ConfigError, match="registered twice"):  # same factory, other config
        registry.register_method("m", "plugin_tracker:PluginTracker", {"checkpoint": "w.pt"})
    assert registry._METHODS["m"] is first


def test_the_same_registration_repeated_by_a_reimport_is_accepted(plugged):
    before = registry.methods()["plugin"]
    importlib.reload(sys.modules["plugin_family"])  # registers "plugin" again, identically
    assert registry.methods()["plugin"] == before
    with pytest.raises(ConfigError, match="'sort' is registered twice"):
        registry.register_method("sort", "plugin_tracker:PluginTracker", {"checkpoint": None})


def test_an_experiment_rejects_a_single_object_tracker(scratch, tmp_path):
    class Follower(SingleObjectTracker):
        pass

    registry.register_method("follower", Follower, {})
    path = tmp_path / "e.yaml"
    path.write_text(
        "name: e\ndatasets:\n  - name: sprites-mot\n    split: eval\nmethods:\n  - follower\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="'follower' is a single-object tracker") as error:
        load_experiment(path)
    assert error.value.line == 6


def family_imports() -> dict[str, set[str]]:
    """Every module under trackers/ -> the absolute names of the modules it imports."""
    imports = {}
    for path in sorted((REPO / "trackers").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                relative = "." * node.level + (node.module or "")
                names.add(importlib.util.resolve_name(relative, package))
        imports[module] = names
    return imports


def test_a_family_imports_only_trackers_common_and_itself():
    imports = family_imports()
    assert "trackers.common.kalman" in imports["trackers.baselines.sort"]  # the scan sees imports
    for module, names in imports.items():
        family = module.split(".")[1] if module.count(".") else None
        allowed = {"common", family}
        crossing = {
            n for n in names if n.startswith("trackers.") and n.split(".")[1] not in allowed
        }
        assert not crossing, f"{module} imports {sorted(crossing)}"
