"""The README's "Your own tracker" plugin, built from its code blocks exactly as printed: it
registers through its entry point, its config and ablation reach the constructor, and it runs in
an experiment beside the built-in methods."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import EntryPoint

import pytest
from experiment_helpers import write
from paths import ROOT

from harness import registry
from harness.experiment import load_experiment
from harness.runner import run_experiment
from harness.store import COMBINED, Store

SECTION = re.compile(r"^## Your own tracker\n(.*?)^## ", re.S | re.M)
BLOCK = re.compile(r"^```(?:toml|python)\n# (\S+)[^\n]*\n(.*?)^```", re.S | re.M)


def readme_files() -> dict[str, str]:
    """The section's code blocks by the path their first comment line names."""
    section = SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section, "README.md has no 'Your own tracker' section"
    return {path: code for path, code in BLOCK.findall(section.group(1))}


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The README's package written to tmp_path and installed as an entry point (for this test)."""
    files = readme_files()
    assert set(files) == {
        "still-box/pyproject.toml",
        "still-box/still_box/__init__.py",
        "still-box/still_box/tracker.py",
    }
    for path, code in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(code)
    project = tomllib.loads(files["still-box/pyproject.toml"])["project"]
    plugged = project["entry-points"]["trackbench.trackers"]
    registry.load_plugins()
    monkeypatch.syspath_prepend(str(tmp_path / "still-box"))
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_loaded", False)
    for module in ("still_box", "still_box.tracker"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    installed = registry.entry_points

    def with_plugin(group: str) -> list[EntryPoint]:
        ours = plugged.items() if group == "trackbench.trackers" else []
        return [*installed(group=group), *(EntryPoint(n, v, group) for n, v in ours)]

    monkeypatch.setattr(registry, "entry_points", with_plugin)


def test_the_readme_plugin_registers_and_builds_with_its_config(plugin):
    spec = registry.methods()["still-box"]
    assert spec.kind == "single-object"
    assert spec.config_for("shrunk") == {"shrink": 0.2}
    tracker = spec.factory(**spec.config_for("shrunk"))
    tracker.init(None, [10.0, 20.0, 30.0, 40.0])
    assert tracker.update(None).tolist() == pytest.approx([13.0, 24.0, 24.0, 32.0])


def test_the_readme_plugin_runs_in_an_experiment(plugin, tmp_path):
    path = write(
        tmp_path,
        f"""\
name: readme-plugin
datasets:
  - name: sprites-mot
    split: eval
    root: {tmp_path / "cache"}
    task: single-object
    params: {{eval_frames: 60, sample_length: 6}}
methods: [still-box, "still-box:shrunk", constant-box]
timing: {{warmup_frames: 1}}
""",
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        assert not summary.failed, [f.error for f in summary.failed]
        metrics = store.metrics_frame("readme-plugin")
    iou = metrics[(metrics.sequence == COMBINED) & (metrics.metric == "IoU")]
    by_method = dict(zip(iou.method + ":" + iou.ablation, iou.value))
    # the unshrunk still box is the constant box; shrinking it 20% changes its IoU
    assert by_method["still-box:default"] == pytest.approx(by_method["constant-box:default"])
    assert by_method["still-box:shrunk"] != pytest.approx(by_method["still-box:default"])
