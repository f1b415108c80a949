"""The reid task end to end: a method's embeddings of the ground-truth boxes scored as R1 and mAP
on a tiny MOTChallenge-format folder, the rows it embeds, its notes, its errors, and an
experiment's methods that cannot embed."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from experiment_helpers import write
from mot_layout import write_sequence

from harness import registry
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.experiment import expand, load_experiment
from harness.protocol import MultiObjectTracker
from harness.store import COMBINED, Store
from harness.tasks.reid import ReidTask

DIMENSION = 16


class WidthEmbedder(MultiObjectTracker):
    """Embeds a box as the one-hot vector of its width: in ``write_folder``'s data each identity
    has its own width, so this is a perfect embedding. Keeps what it was asked (``calls``)."""

    inputs = frozenset({"image"})

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], list[list[float]]]] = []

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        self.calls.append((image.shape, boxes.tolist()))
        return np.eye(DIMENSION)[boxes[:, 2].astype(int)]


class RandomEmbedder(WidthEmbedder):
    """Features that know nothing of the boxes (seeded); it takes detections too, which a reid
    cell does not give."""

    inputs = frozenset({"image", "detections"})

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.rng.normal(size=(len(boxes), DIMENSION))


def gt_rows(object_id: int, width: int, frames, visibility=1.0, consider=1) -> str:
    return "".join(
        f"{f},{object_id},{10 + f},5,{width},20,{consider},1,{visibility}\n" for f in frames
    )


def write_folder(root):
    """Two 6-frame sequences in a custom-mot folder. TINY-A: id 1 (width 5) in all frames; id 2
    (width 6) visible in frames 1-4, at 0.3 in frame 5; id 3 (width 9) not to be considered.
    TINY-B: raw id 1 again, another object (width 7), in frames 1-4."""
    a = gt_rows(1, 5, range(1, 7)) + gt_rows(2, 6, range(1, 5), 0.8)
    a += gt_rows(2, 6, [5], 0.3) + gt_rows(3, 9, range(1, 7), consider=0)
    write_sequence(root, "TINY-A", "", frames=6, gt=a)
    write_sequence(root, "TINY-B", "", frames=6, gt=gt_rows(1, 7, range(1, 5)))


def run_task(root, tracker):
    task = ReidTask()
    sequences = task.load(load_dataset("custom-mot", root), "all")
    progress = []
    cell = SimpleNamespace(warmup_frames=1, device="cpu")
    result = task.run(cell, tracker, sequences, progress.append)
    return result, progress


def test_a_perfect_embedding_scores_one_and_only_visible_considered_boxes_are_embedded(tmp_path):
    write_folder(tmp_path)
    tracker = WidthEmbedder()
    result, progress = run_task(tmp_path, tracker)
    # TINY-A id 1: 6 rows (3 queries), id 2: 4 visible rows (2); TINY-B id 1: 4 rows (2)
    assert result.combined == {"R1": 1.0, "mAP": 1.0, "queries": 7, "gallery": 7}
    assert result.sequences == {} and result.notes == ()
    # each sequence's embed calls timed, the first (warm-up) left out
    assert {name: t["frames"] for name, t in result.timings.items()} == {"TINY-A": 5, "TINY-B": 3}
    widths = [[box[2] for box in boxes] for _, boxes in tracker.calls]
    # one call per frame with boxes: TINY-A frames 1-6, then TINY-B frames 1-4
    assert widths == [[5, 6]] * 4 + [[5]] * 2 + [[7]] * 4
    assert tracker.calls[0] == ((48, 64, 3), [[11.0, 5.0, 5.0, 20.0], [11.0, 5.0, 6.0, 20.0]])
    assert progress[-1] == 12  # both sequences' frames


def test_random_features_score_below_one(tmp_path):
    write_folder(tmp_path)
    result, _ = run_task(tmp_path, RandomEmbedder())
    assert result.combined["R1"] < 1.0 and result.combined["mAP"] < 1.0
    assert (result.combined["queries"], result.combined["gallery"]) == (7, 7)


def test_without_a_visibility_column_every_row_counts_and_the_notes_say_so(tmp_path):
    rows = "".join(f"{f},1,10,5,5,20\n{f},2,30,5,6,20\n" for f in range(1, 4))
    write_sequence(tmp_path, "PLAIN", "", frames=3, gt=rows)
    result, _ = run_task(tmp_path, WidthEmbedder())
    assert result.combined == {"R1": 1.0, "mAP": 1.0, "queries": 2, "gallery": 4}
    assert result.notes == ("6 of 6 ground-truth rows have no visibility: they count as visible",)
    assert result.evaluation["notes"] == list(result.notes)


class Broken(WidthEmbedder):
    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        features = super().embed(image, boxes)
        if len(self.calls) < 3:
            return features
        if self.problem == "nan":
            features[-1, 0] = np.nan
        return features[:-1] if self.problem == "rows" else features


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("rows", r"sequence TINY-A frame 3: embed returned features of shape \(1, 16\) for 2"),
        ("nan", "sequence TINY-A frame 3: embed's feature row 1 is NaN or infinite"),
    ],
)
def test_an_embedding_that_breaks_the_contract_names_sequence_and_frame(tmp_path, problem, message):
    write_folder(tmp_path)
    with pytest.raises(ValueError, match=message):
        run_task(tmp_path, Broken(problem))


REID_EXPERIMENT = """\
name: reid
datasets:
  - name: custom-mot
    split: all
    root: data
    task: reid
    detections: {{clean: {{miss_rate: 0.0}}, noisy: {{miss_rate: 0.5}}}}
methods: [{methods}]
seeds: [0, 1]
"""


@pytest.fixture
def embedders(monkeypatch):
    """``width-embedder`` and ``random-embedder`` registered for this test only."""
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    registry.register_method("width-embedder", WidthEmbedder, {})
    registry.register_method("random-embedder", RandomEmbedder, {"seed": 0})


def test_an_experiment_runs_reid_cells_into_the_store_and_its_board(
    trackbench, tmp_path, embedders
):
    write_folder(tmp_path / "data")
    experiment = REID_EXPERIMENT.format(methods="width-embedder, random-embedder")
    path = write(tmp_path, experiment)
    cells = expand(load_experiment(path))
    assert [(c.method, c.detections, c.seed, c.task) for c in cells] == [
        ("width-embedder", "none", 0, "reid"),
        ("width-embedder", "none", 1, "reid"),
        ("random-embedder", "none", 0, "reid"),
        ("random-embedder", "none", 1, "reid"),
    ]  # a reid cell takes no detections
    code, _, err = trackbench("run", path, "--out", tmp_path / "out")
    assert code == 0, err
    assert "width-embedder:default seed 0: R1 100.0% mAP 100.0%" in err
    board = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert "| R1 ↑ | mAP ↑ |" in board  # the reid columns by default
    with Store(tmp_path / "out" / "results.sqlite") as store:
        metrics = store.metrics_frame()
    assert set(metrics.sequence) == {COMBINED}  # one gallery pools the sequences
    values = metrics.pivot_table(index=["method", "seed"], columns="metric", values="value")
    assert (values.loc["width-embedder"].R1 == 1.0).all()
    assert (values.loc["width-embedder"].mAP == 1.0).all()
    assert (values.loc["random-embedder"].mAP < 1.0).all()
    random = values.loc["random-embedder"]
    assert random.loc[0].mAP != random.loc[1].mAP  # the cell's seed reaches the method


def test_a_method_that_cannot_embed_is_refused_before_any_cell_runs(trackbench, tmp_path):
    write_folder(tmp_path / "data")
    path = write(tmp_path, REID_EXPERIMENT.format(methods="ground-truth"))
    with pytest.raises(ConfigError) as error:
        load_experiment(path)
    assert error.value.line == 8
    needs = "method 'ground-truth' cannot embed boxes; the reid task needs embed(image, boxes)"
    assert error.value.message == needs
    code, _, err = trackbench("run", path, "--out", tmp_path / "out")
    assert code == 2 and f"{path}:8: {needs}" in err
    assert not (tmp_path / "out" / "results.sqlite").exists()


def test_a_reid_entry_on_a_single_object_split_is_refused(tmp_path):
    path = write(
        tmp_path,
        textwrap.dedent("""\
        name: reid
        datasets:
          - name: kth
            split: test
            task: reid
        methods: [ground-truth]
        """),
    )
    with pytest.raises(ConfigError, match="split 'test' of 'kth' is single-object"):
        load_experiment(path)
