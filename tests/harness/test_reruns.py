"""Results are never stale: a cell's identity holds its tracker's code (distribution, version,
source), the checkpoint files its config names and the dataset's card and generator; a cell
whose identity changed is computed again and the run and the store say why; ``--rerun`` and
``--force``; paths relative to the experiment file, so a moved folder resumes; plugin
distributions in the provenance."""

from __future__ import annotations

import itertools
import shutil
import textwrap
from pathlib import Path

import pytest

from harness import registry
from harness.datasets import base
from harness.datasets.synthetic import CACHE_VERSION
from harness.experiment import changed_parts, expand, load_experiment
from harness.fingerprint import code_fingerprint
from harness.provenance import package_versions
from harness.results.sections import rerun_lines
from harness.runner import run_experiment
from harness.store import Store

TRACKER = """\
from harness.data import TrackOutput
from harness.protocol import MultiObjectTracker


class Tracker(MultiObjectTracker):
    inputs = frozenset({"detections"})
    path_config = frozenset({"checkpoint"})

    def __init__(self, checkpoint=None):
        self.checkpoint = checkpoint

    def reset(self, info):
        pass

    def step(self, frame):
        return TrackOutput.empty()
"""

FAMILY = """\
from harness.registry import register_method

register_method(
    "{name}", "{name}.tracker:Tracker", {{"checkpoint": None}},
    kind="multi-object", inputs={{"detections"}},
)
"""

EXPERIMENT = """\
name: reruns
datasets:
  - name: sprites-mot
    split: eval
    root: {cache}
    params: {{eval_frames: 30}}
    detections: {{clean: {{}}}}
methods:
  - {{method: {plugin}, config: {{checkpoint: weights/model.pt}}}}
  - iou
seeds: [0, 1]
timing: {{warmup_frames: 0}}
"""

NAMES = itertools.count()
"""Each test's plug-in package has a name of its own (modules stay imported)."""


def distribution(site: Path, name: str, entry_points: dict[str, str], version: str) -> None:
    """A distribution ``name`` in folder ``site`` with ``trackbench.trackers`` entry points."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{entry} = {module}\n" for entry, module in entry_points.items())
    (info / "entry_points.txt").write_text(f"[trackbench.trackers]\n{lines}")


@pytest.fixture
def plugin(tmp_path, monkeypatch) -> tuple[str, Path]:
    """An installed third-party distribution (version 1.2) whose package registers a method of
    its name through the entry point group; (the name, its tracker module's file)."""
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_loaded", False)
    name = f"rerun_plugin_{next(NAMES)}"
    site = tmp_path / "site"
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text(FAMILY.format(name=name))
    (site / name / "tracker.py").write_text(TRACKER)
    distribution(site, name, {name: name}, "1.2")
    monkeypatch.syspath_prepend(str(site))
    return name, site / name / "tracker.py"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def experiment_folder(folder: Path, plugin: str, cache: Path) -> Path:
    """An experiment file in ``folder`` and the checkpoint it names; returns the file."""
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "model.pt").write_bytes(b"weights v1")
    path = folder / "experiment.yaml"
    path.write_text(EXPERIMENT.format(cache=cache, plugin=plugin), encoding="utf-8")
    return path


def run(path: Path, db: Path, **options):
    with Store(db) as store:
        summary = run_experiment(load_experiment(path), store, **options)
        cells = store.cells("reruns")
        metrics = store.metrics_frame("reruns")
    assert not summary.failed, [f.error for f in summary.failed]
    return summary, cells, metrics


def test_an_edited_plugin_tracker_reruns_its_cells_and_says_why(plugin, tmp_path, cache):
    name, tracker = plugin
    path = experiment_folder(tmp_path / "exp", name, cache)
    code = next(c for c in expand(load_experiment(path)) if c.method == name).identity()["code"]
    assert (code["distribution"], code["version"]) == (name, "1.2")
    db = tmp_path / "results.sqlite"
    first, _, _ = run(path, db)
    assert (first.done, first.reruns) == (4, {})

    again, _, _ = run(path, db)
    assert (again.skipped, again.done, again.reruns) == (4, 0, {})

    tracker.write_text(TRACKER + "\n# tuned\n")
    edited, cells, metrics = run(path, db)
    assert (edited.skipped, edited.done) == (2, 2)
    assert list(edited.reruns.values()) == ["code changed"] * 2
    reruns = cells.set_index(["method", "seed"])["rerun"]
    assert reruns[name].tolist() == ["code changed"] * 2 and reruns["iou"].isna().all()
    assert len(cells) == 4 and set(cells["status"]) == {"done"}  # the stale rows replaced
    assert metrics.groupby(["method", "seed"]).ngroups == 4
    assert rerun_lines(cells) == [f"sprites-mot/eval/clean {name} (seeds 0, 1): code changed"]


def test_a_changed_checkpoint_file_reruns_its_cells(plugin, tmp_path, cache):
    name, _ = plugin
    path = experiment_folder(tmp_path / "exp", name, cache)
    run(path, tmp_path / "results.sqlite")
    (path.parent / "weights" / "model.pt").write_bytes(b"weights v2, retrained")
    summary, _, _ = run(path, tmp_path / "results.sqlite")
    assert summary.done == 2 and list(summary.reruns.values()) == ["checkpoint changed"] * 2


def test_a_moved_experiment_folder_keeps_its_hashes_and_resumes(plugin, tmp_path, cache):
    name, _ = plugin
    path = experiment_folder(tmp_path / "here", name, cache)
    run(path, tmp_path / "results.sqlite")
    moved = Path(shutil.copytree(path.parent, tmp_path / "elsewhere" / "there")) / path.name
    before, after = expand(load_experiment(path)), expand(load_experiment(moved))
    assert [c.config_hash for c in after] == [c.config_hash for c in before]
    plugged = next(c for c in after if c.method == name)
    assert plugged.method_config["checkpoint"] == str(moved.parent / "weights" / "model.pt")
    assert plugged.identity()["method_config"]["checkpoint"] == "weights/model.pt"
    summary, _, _ = run(moved, tmp_path / "results.sqlite")
    assert (summary.skipped, summary.done) == (4, 0)


def test_plugin_distributions_are_in_the_provenance(plugin):
    name, _ = plugin
    versions = package_versions()
    assert versions[name] == "1.2"
    assert list(versions)[:5] == ["torch", "numpy", "trackeval", "motmetrics", "trackbench"]


def test_a_familys_source_is_its_package_and_the_code_it_shares(tmp_path, monkeypatch):
    top = f"rerun_families_{next(NAMES)}"
    for folder in ("a", "b", "common"):
        (tmp_path / top / folder).mkdir(parents=True)
        (tmp_path / top / folder / "__init__.py").write_text("")
    (tmp_path / top / "__init__.py").write_text("")
    (tmp_path / f"{top}_solo.py").write_text("class Tracker: ...\n")
    distribution(tmp_path, top, {"a": f"{top}.a", "b": f"{top}.b"}, "3.0")
    monkeypatch.syspath_prepend(str(tmp_path))

    def fingerprints() -> tuple[dict, dict, dict]:
        return tuple(
            code_fingerprint(f"{m}:Tracker") for m in (f"{top}.a", f"{top}.b", top + "_solo")
        )

    a, b, solo = fingerprints()
    assert (a["distribution"], a["version"]) == (b["distribution"], b["version"]) == (top, "3.0")
    assert a["source"] != b["source"]
    assert (solo["distribution"], solo["version"]) == (None, None)  # no entry point names it
    (tmp_path / top / "b" / "__init__.py").write_text("SPEED = 2\n")
    a_now, b_now, _ = fingerprints()
    assert a_now == a and b_now != b  # a sibling family's code is not a's
    (tmp_path / top / "common" / "__init__.py").write_text("EPS = 1e-6\n")
    a_now, b_then = fingerprints()[:2]
    assert a_now != a and b_then != b_now  # shared code is each family's
    (tmp_path / f"{top}_solo.py").write_text("class Tracker:\n    speed = 2\n")
    assert fingerprints()[2]["source"] != solo["source"]


def test_a_changed_dataset_card_changes_the_dataset_part(tmp_path, monkeypatch):
    cards = tmp_path / "cards"
    cards.mkdir()
    shutil.copy(base.CARDS_DIR / "sprites_mot.yaml", cards)
    monkeypatch.setattr(base, "CARDS_DIR", cards)
    text = "name: e\ndatasets: [{name: sprites-mot, split: eval}]\nmethods: [iou]\n"
    (tmp_path / "e.yaml").write_text(text)
    (before,) = expand(load_experiment(tmp_path / "e.yaml"))
    card = cards / "sprites_mot.yaml"
    card.write_text(card.read_text().replace("iou_threshold: 0.5", "iou_threshold: 0.45"))
    (after,) = expand(load_experiment(tmp_path / "e.yaml"))
    generators = {cell.identity()["data"]["generator"] for cell in (before, after)}
    assert generators == {CACHE_VERSION}
    assert changed_parts(before.identity(), after.identity()) == ["dataset"]


def test_cli_rerun_and_force(trackbench, tmp_path, cache):
    path = tmp_path / "e.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: forced
        datasets:
          - name: sprites-mot
            split: eval
            root: {cache}
            params: {{eval_frames: 30}}
            detections: {{clean: {{}}}}
        methods: [iou, ground-truth]
        seeds: [0, 1]
        """),
        encoding="utf-8",
    )
    out = ["--out", tmp_path / "out", "--no-report"]
    code, _, err = trackbench("run", path, *out)
    assert code == 0 and "4 cells, 0 already done, 4 done now, 0 failed (" in err
    code, _, err = trackbench("run", path, *out, "--rerun", "iou:default")
    assert code == 0, err
    assert "2 already done, 2 done now, 0 failed, 2 re-run (2 forced by --rerun) (" in err
    code, _, err = trackbench("run", path, *out, "--force")
    assert "0 already done, 4 done now, 0 failed, 4 re-run (4 forced by --force) (" in err
    with Store(tmp_path / "out" / "results.sqlite", create=False) as store:
        assert set(store.cells("forced")["rerun"]) == {"forced by --force"}
    code, _, err = trackbench("run", path, *out, "--rerun", "iuo")
    assert code == 2 and err.count("\n") == 1
    assert "--rerun 'iuo': the experiment runs no such method" in err and "'iou'" in err
    code, stdout, _ = trackbench("reproduce", "--help")
    assert code == 0 and "--rerun" in stdout and "--force" in stdout
