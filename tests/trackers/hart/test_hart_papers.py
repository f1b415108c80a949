"""Kosiorek et al. 2017 (HART): the transcribed numbers (leaderboards/papers/hart_2017.yaml), its
claims on the paper's own cells, and the experiments that reproduce them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from paths import ROOT

from harness.papers import paper_table, tables_for

MODELS = {
    "ratm:default": "RATM",
    "hart:spatial-att": "Spatial-Att",
    "hart:app-att": "App-Att",
    "hart:default": "HART",
}


def test_table1_as_printed():
    table = paper_table("hart-t1")
    assert (table.dataset, table.split, table.page) == ("kitti-tracking", "hart-test", None)
    [column] = table.columns
    assert (column.metric, column.unit, column.direction, column.decimals) == (
        "TimeIoU",
        "fraction",
        "up",
        2,
    )
    assert table.frame()["Avg. IoU"].to_dict() == {
        "Kahou et al. [16]": 0.14,
        "Spatial Att": 0.60,
        "App Att": 0.78,
        "HART": 0.81,
    }
    assert [row.ref for row in table.rows] == ["ratm", "hart:spatial-att", "hart:app-att", "hart"]
    # the text's ordering, HART > App Att > Spatial Att > RATM (tests/harness/test_papers.py checks
    # that each claim holds on these cells)
    assert [claim.methods for claim in table.claims] == [
        ("hart:default", "hart:app-att"),
        ("hart:app-att", "hart:spatial-att"),
        ("hart:spatial-att", "ratm"),
    ]


def test_kth_numbers_of_section_5_1_and_their_claim():
    table = paper_table("hart-kth")
    assert (table.dataset, table.split) == ("kth", "test")
    [column] = table.columns
    assert (column.metric, column.unit, column.decimals) == ("IoU", "percent", 2)
    values = {row.ref: value for row in table.rows for value in row.values}
    assert values == {"ratm": 55.03, "hart": 77.11}
    [claim] = table.claims
    assert claim.methods == ("hart", "ratm") and claim.relation == "above"
    first, second = (values[method] for method in claim.methods)
    assert first > second  # holds on the paper's own cells


def test_hart_results_pick_their_tables():
    def frame(rows):
        return pd.DataFrame(rows, columns=["dataset", "split", "method", "ablation"])

    kitti = frame([("kitti-tracking", "hart-test", "hart", "app-att")])
    assert [t.id for t in tables_for(kitti)] == ["hart-t1"]
    assert [t.id for t in tables_for(frame([("kth", "test", "ratm", "default")]))] == ["hart-kth"]
    synthetic = frame([("mnist-multi-same", "test", "hart", "default")])
    assert not any(t.id.startswith("hart") for t in tables_for(synthetic))


def methods_of(name: str):
    """The experiment ``name``'s cells as {method:ablation: cell} (one dataset, one seed); the
    checkpoints it names need not exist (users train KITTI's and KTH's)."""
    from harness.experiment import expand, load_experiment

    cells = expand(load_experiment(ROOT / "experiments" / f"{name}.yaml", check_methods=False))
    assert len({(c.dataset, c.split, c.seed) for c in cells}) == 1
    return {f"{c.method}:{c.ablation}": c for c in cells}


def test_kitti_experiment_reads_the_user_trained_models_on_the_test_windows():
    assert (
        paper_table("hart-t1").experiment_path().resolve()
        == ROOT / "experiments" / "hart-kitti.yaml"
    )
    cells = methods_of("hart-kitti")
    assert list(cells) == [*MODELS, "constant-box:default"]
    some = cells["hart:default"]
    assert (some.dataset, some.split, some.dataset_params) == ("kitti-tracking", "hart-test", {})
    assert Path(some.root) == ROOT / "data" / "kitti-tracking"
    for ref, model in MODELS.items():
        config = cells[ref].method_config
        assert (config["setup"], config["dataset"]) == ("kitti", "kitti-tracking")
        assert Path(config["checkpoint"]) == ROOT / "runs" / "hart" / "kitti" / model / "last"


def test_kth_experiment_scores_the_25_folds_each_with_its_own_models():
    from harness.experiment import expand, load_experiment

    table = paper_table("hart-kth")
    assert table.experiment_path().resolve() == ROOT / "experiments" / "hart-kth.yaml"
    assert table.mean_over == {"fold": 25}  # the paper's numbers average the 25 folds
    cells = expand(load_experiment(table.experiment_path(), check_methods=False))
    assert len(cells) == 25 * 3
    assert [c.axes for c in cells[::3]] == [{"fold": k} for k in range(1, 26)]
    for cell in cells:
        assert (cell.dataset, cell.split, cell.dataset_params) == ("kth", "test", cell.axes)
    fold_7 = {f"{c.method}:{c.ablation}": c for c in cells if c.axes == {"fold": 7}}
    assert list(fold_7) == ["ratm:default", "hart:default", "constant-box:default"]
    for ref, model in (("ratm:default", "RATM"), ("hart:default", "HART")):
        config = fold_7[ref].method_config
        assert (config["setup"], config["dataset"]) == ("kth", "kth")
        folder = ROOT / "runs" / "hart" / "kth" / "fold-7"
        assert Path(config["checkpoint"]) == folder / model / "last"


def test_synthetic_experiment_reads_the_published_models():
    cells = methods_of("hart-mnist")
    published = ROOT / "checkpoints" / "hart" / "mnist-multi-same"
    for ref, model in MODELS.items():
        config = cells[ref].method_config
        assert config["setup"] == "mnist" and config["dataset"] == "mnist-multi-same"
        assert Path(config["checkpoint"]) == published / model / "last"
    gan = cells["rectracker-id:multi"].method_config["checkpoint"]
    assert Path(gan) == ROOT / "checkpoints" / "gan" / "mnist-multi-same" / "RecTracker-ID" / "last"
    assert list(cells)[-1] == "constant-box:default"
    some = cells["hart:default"]
    assert (some.dataset, some.split) == ("mnist-multi-same", "test")
    assert some.dataset_params == {"length": 60, "sequences": 500}
    assert (some.warmup_frames, some.online_samples) == (10, 10)


KITTI_SMOKE = """
name: hart-kitti-smoke
datasets:
  - {{name: kitti-tracking, split: hart-test, root: {root}}}
methods:
  - {{method: ratm, config: {{setup: kitti, smoke: true}}}}
  - {{method: "hart:spatial-att", config: {{setup: kitti, smoke: true}}}}
  - {{method: "hart:app-att", config: {{setup: kitti, smoke: true}}}}
  - {{method: hart, config: {{setup: kitti, smoke: true}}}}
"""


KTH_SMOKE = """
name: hart-kth-smoke
datasets:
  - {{name: kth, split: test, root: {root}, params: {{fold: 1}}}}
methods:
  - {{method: ratm, config: {{setup: kth, smoke: true}}}}
  - {{method: hart, config: {{setup: kth, smoke: true}}}}
"""


def test_kth_board_from_the_kth_fixture(tmp_path):
    """§5.1's experiment end to end on the KTH fixture (fold 1: person 1's two subsequences)."""
    from experiment_helpers import run, write

    from harness.results.board import write_report

    root = tmp_path / "kth"
    shutil.copytree(ROOT / "tests" / "fixtures" / "kth", root)
    store = run(write(tmp_path, KTH_SMOKE.format(root=root)), tmp_path)
    write_report(store.metrics_frame(), tmp_path / "board", "kth", papers=["hart-kth"])
    compared = pd.read_csv(tmp_path / "board" / "paper_hart-kth.csv")
    assert sorted(compared["ref"]) == ["hart", "ratm"]
    assert compared["ours_mean"].between(0, 100).all()  # percent, as the paper prints
    board = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "hart-kth: HART above RATM." in board


def test_table1_board_from_the_kitti_fixture(tmp_path):
    """Table 1's experiment run end to end on the KITTI fixture (untrained tiny networks): every
    row gets TimeIoU beside the paper's, and each claim is judged on ours and on the paper's."""
    from experiment_helpers import run, write

    from harness.results.board import write_report

    experiment = write(tmp_path, KITTI_SMOKE.format(root=ROOT / "tests" / "fixtures" / "kitti"))
    store = run(experiment, tmp_path)
    write_report(store.metrics_frame(), tmp_path / "board", "t1", papers=["hart-t1"])
    compared = pd.read_csv(tmp_path / "board" / "paper_hart-t1.csv")
    assert sorted(compared["ref"]) == ["hart", "hart:app-att", "hart:spatial-att", "ratm"]
    assert compared["ours_mean"].between(0, 1).all() and (compared["column"] == "Avg. IoU").all()
    board = (tmp_path / "board" / "leaderboard.md").read_text()
    for claim in ("HART above App Att", "App Att above Spatial Att", "Spatial Att above RATM"):
        line = next(line for line in board.splitlines() if f"hart-t1: {claim}." in line)
        assert "paper: holds (1 of 1 cells hold)" in line and "ours: " in line
