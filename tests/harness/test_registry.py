"""The registries: lazy factory references, duplicate names, kind and inputs as registry data
checked against the tracker class, test doubles, entry-point families and dataset adapters, and
the layout rule of trackers/ (families share only trackers/common)."""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest
import yaml
from paths import ROOT

from harness import registry
from harness.datasets import DatasetAdapter, load_dataset
from harness.datasets.base import card_names, load_card
from harness.errors import ConfigError
from harness.experiment import load_experiment
from harness.protocol import MultiObjectTracker, SingleObjectTracker
from trackers.baselines.iou_tracker import IOUTracker, OfflineIOUTracker, iou_tracker
from trackers.baselines.sort import SORT

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
    ],
    ids=["build", "check_config", "path_config"],
)
def test_a_factory_reference_is_imported_on_first_use(plugged, first_use):
    spec = registry.methods()["plugin"]
    assert "plugin_family" in sys.modules and "plugin_tracker" not in sys.modules
    assert (spec.kind, spec.inputs) == ("multi-object", {"detections"})  # registry data
    assert "plugin_tracker" not in sys.modules
    first_use(spec)
    assert "plugin_tracker" in sys.modules
    assert spec.factory is sys.modules["plugin_tracker"].PluginTracker


@pytest.fixture
def broken_families(monkeypatch, tmp_path):
    """The installed families plus two that fail to import: a module that is not installed and
    one that raises as it loads."""
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_loaded", False)
    (tmp_path / "crashing_family.py").write_text('raise RuntimeError("needs libfoo\\n2.0")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    installed = registry.entry_points

    def with_broken(group: str) -> list[EntryPoint]:
        broken = [
            EntryPoint("missing", "no_such_trackers_module", group),
            EntryPoint("crashing", "crashing_family", group),
        ]
        return [*installed(group=group), *broken]

    monkeypatch.setattr(registry, "entry_points", with_broken)


BROKEN_WARNINGS = [
    "warning: tracker plugin 'missing' (no_such_trackers_module) failed to import, its trackers"
    " are unavailable: ModuleNotFoundError: No module named 'no_such_trackers_module'",
    "warning: tracker plugin 'crashing' (crashing_family) failed to import, its trackers are"
    " unavailable: RuntimeError: needs libfoo 2.0",
]


def test_a_family_that_fails_to_import_is_one_warning_and_the_others_work(broken_families, caplog):
    with caplog.at_level(logging.WARNING, logger="harness.registry"):
        registered = registry.methods()
        spec, _ = registry.parse_method("sort")
    assert {"sort", "iou", "ground-truth", "tba"} <= set(registered) and spec.name == "sort"
    assert [record.getMessage() for record in caplog.records] == BROKEN_WARNINGS


def test_trackers_list_warns_once_per_broken_family_and_lists_the_rest(broken_families, trackbench):
    code, out, err = trackbench("trackers", "list")
    assert code == 0 and "sort" in out and "tba" in out
    assert err.splitlines() == [f"trackbench: {warning}" for warning in BROKEN_WARNINGS]


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
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    before, names, after = json.loads(run.stdout)
    assert before == []  # harness.registry imports no tracker module
    assert {"sort", "iou", "ground-truth", "tba", "tba-mnist"} <= set(names)
    # registrations only
    assert after == [
        "trackers",
        "trackers.baselines",
        "trackers.cis",
        "trackers.gan",
        "trackers.hart",
        "trackers.tba",
        "trackers.utrack",
    ]


def test_kind_and_inputs_default_to_a_registered_class_s_own(scratch):
    class Follower(SingleObjectTracker):
        pass

    class Watcher(MultiObjectTracker):
        inputs = frozenset({"image", "detections"})

    follower = registry.register_method("follower", Follower, {})
    watcher = registry.register_method("watcher", Watcher, {})
    assert (follower.kind, follower.inputs) == ("single-object", {"image"})
    assert (watcher.kind, watcher.inputs) == ("multi-object", {"image", "detections"})
    # a factory function carries the attributes of the classes it returns
    iou = registry.register_method("iou", iou_tracker, {})
    assert iou.kind == IOUTracker.kind == OfflineIOUTracker.kind == "multi-object"
    assert iou.inputs == IOUTracker.inputs == OfflineIOUTracker.inputs


def test_a_reference_is_registered_with_its_kind_and_inputs_checked_when_loaded(scratch):
    with pytest.raises(ValueError, match="'sort': a factory reference is registered with its"):
        registry.register_method("sort", "trackers.baselines.sort:SORT", {})
    with pytest.raises(ValueError, match="kind 'multi_object' is none of"):
        registry.register_method(
            "sort", "trackers.baselines.sort:SORT", {}, kind="multi_object", inputs=()
        )
    with pytest.raises(ValueError, match=r"inputs \['boxes'\] are none of"):
        registry.register_method(
            "sort", "trackers.baselines.sort:SORT", {}, kind="multi-object", inputs={"boxes"}
        )
    sort = registry.register_method(
        "sort", "trackers.baselines.sort:SORT", {}, kind="multi-object", inputs=["detections"]
    )
    assert (sort.kind, sort.inputs) == (SORT.kind, {"detections"}) and sort.factory is SORT
    wrong = registry.register_method(
        "wrong", "trackers.baselines.sort:SORT", {}, kind="single-object", inputs={"image"}
    )
    assert (wrong.kind, wrong.inputs) == ("single-object", {"image"})  # nothing loaded yet
    message = (
        r"method 'wrong' is registered as a single-object tracker of inputs \['image'\] but its"
        r" factory trackers.baselines.sort:SORT declares a multi-object tracker of inputs"
        r" \['detections'\]"
    )
    for use in (lambda: wrong.factory, wrong.build, lambda: wrong.path_config):
        with pytest.raises(ConfigError, match=message):
            use()
    with pytest.raises(ConfigError, match="method 'watcher' is registered as a multi-object"):
        registry.register_method("watcher", SORT, {}, inputs={"image"})  # a class: at once


def test_a_factory_without_kind_or_that_cannot_load_is_a_config_error(scratch):
    def bare(**config):
        return object()

    with pytest.raises(ConfigError, match=r"'bare'.*declares no 'kind'"):
        registry.register_method("bare", bare, {})
    missing = registry.register_method(
        "missing", "no_such_module:Tracker", {}, kind="multi-object", inputs=()
    )
    with pytest.raises(ConfigError, match=r"'missing': cannot load its factory 'no_such_module"):
        missing.build()
    with pytest.raises(ValueError, match="not 'module:attribute'"):
        registry.register_method("unqualified", "Tracker", {})


def test_every_built_in_registration_matches_its_tracker_class():
    for spec in registry.methods().values():
        factory = spec.factory  # raises on a mismatch
        assert (factory.kind, frozenset(factory.inputs)) == (spec.kind, spec.inputs), spec.name


def test_the_ground_truth_trackers_are_marked_as_test_doubles():
    doubles = {name for name, spec in registry.methods().items() if spec.test_double}
    assert {"ground-truth", "ground-truth-box"} <= doubles
    assert not doubles & {"sort", "iou", "constant-box", "kcf", "tba", "hart", "ratm"}


def test_a_duplicate_name_names_both_registrants(scratch):
    plugin = {"kind": "multi-object", "inputs": {"detections"}}
    first = registry.register_method(
        "m", "plugin_tracker:PluginTracker", {"checkpoint": None}, **plugin
    )
    with pytest.raises(ConfigError) as error:
        registry.register_method("m", SORT, {"max_age": 1})
    message = str(error.value)
    assert "plugin_tracker:PluginTracker" in message and "trackers.baselines.sort:SORT" in message
    with pytest.raises(ConfigError, match="registered twice"):  # same factory, other config
        registry.register_method(
            "m", "plugin_tracker:PluginTracker", {"checkpoint": "w.pt"}, **plugin
        )
    with pytest.raises(ConfigError, match="registered twice"):  # same factory, other inputs
        registry.register_method(
            "m",
            "plugin_tracker:PluginTracker",
            {"checkpoint": None},
            kind="multi-object",
            inputs={"image"},
        )
    assert registry._METHODS["m"] is first


def test_the_same_registration_repeated_by_a_reimport_is_accepted(plugged):
    before = registry.methods()["plugin"]
    importlib.reload(sys.modules["plugin_family"])  # registers "plugin" again, identically
    assert registry.methods()["plugin"] == before
    with pytest.raises(ConfigError, match="'sort' is registered twice"):
        registry.register_method(
            "sort",
            "plugin_tracker:PluginTracker",
            {"checkpoint": None},
            kind="multi-object",
            inputs={"detections"},
        )


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


class ToyAdapter(DatasetAdapter):
    """A third party's adapter (``trackbench.datasets`` entry point ``toy``)."""


def with_adapters(monkeypatch, *entries: tuple[str, str]) -> None:
    """The installed ``trackbench.datasets`` entry points plus ``entries`` (name, object)."""
    installed = registry.entry_points

    def plus(group: str) -> list[EntryPoint]:
        extra = [EntryPoint(n, v, group) for n, v in entries if group == registry.DATASET_GROUP]
        return [*installed(group=group), *extra]

    monkeypatch.setattr(registry, "entry_points", plus)


def test_every_card_s_adapter_is_an_entry_point_of_the_datasets_group():
    for name in card_names():
        cls = registry.adapter(load_card(name)["adapter"])
        assert isinstance(cls, type) and issubclass(cls, DatasetAdapter), name


def test_a_third_party_adapter_plugs_in_through_the_datasets_group(monkeypatch, tmp_path):
    card = yaml.safe_load((ROOT / "datasets" / "custom_mot.yaml").read_text(encoding="utf-8"))
    (tmp_path / "toy_set.yaml").write_text(
        yaml.safe_dump({**card, "name": "toy-set", "adapter": "toy"}), encoding="utf-8"
    )
    monkeypatch.setattr("harness.datasets.base.CARDS_DIR", tmp_path)
    with pytest.raises(ConfigError, match="unknown dataset adapter 'toy'"):
        load_dataset("toy-set")
    with_adapters(monkeypatch, ("toy", "test_registry:ToyAdapter"))
    assert type(load_dataset("toy-set", tmp_path)) is ToyAdapter


def test_an_adapter_id_of_two_classes_or_that_cannot_load_is_a_config_error(monkeypatch):
    with_adapters(
        monkeypatch,
        ("mot17", "test_registry:ToyAdapter"),
        ("broken", "no_such_module:Adapter"),
    )
    with pytest.raises(ConfigError, match="'mot17' is registered twice: by harness.datasets"):
        registry.adapter("mot17")
    with pytest.raises(ConfigError, match="'broken': cannot load 'no_such_module:Adapter'"):
        registry.adapter("broken")
    with pytest.raises(ConfigError, match="unknown dataset adapter 'mot71'.*mot17"):
        registry.adapter("mot71")
    monkeypatch.setattr(registry, "entry_points", lambda group: [])  # a stale install
    with pytest.raises(ConfigError, match="no trackbench.datasets entry points are installed"):
        registry.adapter("mot17")


def test_the_registry_imports_no_adapter_and_a_card_imports_only_its_own():
    script = textwrap.dedent(
        """
        import json, sys
        from harness.datasets import load_dataset
        before = sorted(m for m in sys.modules if m.startswith("harness.datasets."))
        load_dataset("mot17")
        after = sorted(m for m in sys.modules if m.startswith("harness.datasets."))
        print(json.dumps([before, after]))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    before, after = json.loads(run.stdout)
    assert before == ["harness.datasets.base"]
    assert "harness.datasets.motchallenge" in after
    assert not {"harness.datasets.synthetic", "harness.datasets.gan_mnist"} & set(after)


def family_imports() -> dict[str, set[str]]:
    """Every module under trackers/ -> the absolute names of the modules it imports."""
    imports = {}
    for path in sorted((ROOT / "trackers").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
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
