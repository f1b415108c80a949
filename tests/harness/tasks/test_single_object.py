"""The single-object task end to end: samples by each card's rule, the timed init/update loop,
per-sample and combined scores, curves in the store, experiment axes and the bad-input errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from experiment_helpers import run, write
from paths import FIXTURES

from harness.compare import compare
from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.datasets import load_dataset
from harness.errors import ConfigError, FormatError
from harness.experiment import expand, load_experiment
from harness.metrics.single import frame_ious, mask_ious
from harness.results.board import write_report
from harness.results.summary import summarize
from harness.store import COMBINED, Store
from harness.tasks.single_object import SingleObjectTask
from harness.timing import timed_follow
from trackers.baselines.single import ConstantBoxTracker, GroundTruthBoxTracker

SPRITES = """
name: sot
datasets:
  - name: sprites-mot
    split: eval
    root: {root}
    task: single-object
    params: {{eval_frames: 120}}
    axes: {{sample_length: [4, 8]}}
methods: [constant-box, ground-truth-box]
timing: {{warmup_frames: 3}}
"""


def test_plain_rule_follows_each_object_from_its_first_box_until_it_leaves():
    gt = BoxTable.build(
        frame=np.array([1, 2, 3, 5, 2, 3, 1]),
        box=np.arange(28, dtype=float).reshape(7, 4) + 1,
        id=np.array([1, 1, 1, 1, 2, 2, 3]),
    )
    sequence = Sequence("s", 5, 64, 64, 30.0, gt, load_frame=lambda n: np.zeros((64, 64, 3)))
    adapter = load_dataset("sprites-mot")
    adapter.sequences = lambda split: [sequence]
    samples = adapter.samples("eval")
    # object 1: frames 1-3 (it leaves before 5); object 2: frames 2-3; object 3: one frame, dropped
    assert [(s.object_id, s.frames.tolist()) for s in samples] == [(1, [1, 2, 3]), (2, [2, 3])]
    np.testing.assert_array_equal(samples[0].boxes, gt.box[[0, 1, 2]])
    assert samples[0].name == "s/1@1"
    fixed = load_dataset("sprites-mot", sample_length=3)
    fixed.sequences = lambda split: [sequence]
    assert [s.object_id for s in fixed.samples("eval")] == [1]  # object 2's run is too short


def test_timed_follow_gives_the_boxes_of_the_tracker_loop_and_one_record():
    sequence = Sequence("s", 6, 32, 32, 30.0, BoxTable.empty(), load_frame=lambda n: np.full(1, n))
    boxes = np.tile([2.0, 3.0, 4.0, 5.0], (4, 1)) + np.arange(4)[:, None]
    sample = SingleObjectSample(sequence, 1, np.arange(2, 6), boxes)

    class Counting(ConstantBoxTracker):
        def update(self, image):
            return self.box + image[0]  # the frame number it was given

    followed, record = timed_follow(Counting(), [sample, sample], warmup_frames=3)
    expected = np.vstack([boxes[0], boxes[0] + [[3], [4], [5]]])
    np.testing.assert_array_equal(followed, np.vstack([expected, expected]))
    np.testing.assert_array_equal(Counting().track([sample])[0], expected)  # the base loop agrees
    assert record.frames == 8 - 3 and record.warmup_frames == 3 and record.fps > 0
    offline, whole = timed_follow(GroundTruthBoxTracker(), [sample])
    np.testing.assert_array_equal(offline, sample.boxes)
    assert whole.latency_p50_ms is None and whole.frames == 4


def test_a_batched_path_is_timed_beside_the_online_loop_and_must_agree_with_it():
    sequence = Sequence("s", 6, 32, 32, 30.0, BoxTable.empty(), load_frame=lambda n: np.full(1, n))
    boxes = np.tile([2.0, 3.0, 4.0, 5.0], (4, 1))
    samples = [SingleObjectSample(sequence, i, np.arange(2, 6), boxes) for i in (1, 2, 3)]
    calls = []

    class Batched(ConstantBoxTracker):
        shift = 0.0

        def track(self, samples):
            calls.append(len(samples))
            return [boxes + [self.shift, 0, 0, 0] for boxes in super().track(samples)]

    cell = SimpleNamespace(protocol="box", warmup_frames=1, device="cpu", online_samples=None)
    kind = SingleObjectTask()
    result = kind.run(cell, Batched(), samples, None)
    assert calls == [3] and result.timings[COMBINED]["batched_fps"] > 0
    assert result.timings[COMBINED]["frames"] == 3 * 4 - 1  # all samples online, no warm-up
    plain = kind.run(cell, ConstantBoxTracker(), samples, None)
    assert plain.timings[COMBINED]["batched_fps"] is None  # no batched path of its own
    first = SimpleNamespace(**{**vars(cell), "online_samples": 1})
    scored = kind.run(first, Batched(), samples, None)
    assert scored.timings[COMBINED]["frames"] == 4 - 1  # one sample online, all batched
    assert scored.combined == result.combined
    far = Batched()
    far.shift = 0.1  # more than AGREEMENT_PX from the online loop's boxes
    with pytest.raises(ValueError, match="sample s/1@2: the batched track's box is 0.1 px"):
        kind.run(first, far, samples, None)


def test_mask_iou_counts_pixels_whose_centres_are_inside_and_clips_to_the_image():
    gt = np.array([[1.0, 1.0, 4.0, 2.0], [1.0, 1.0, 4.0, 4.0], [9.0, 1.0, 4.0, 4.0]])
    pred = np.array([[3.0, 1.0, 4.0, 2.0], [1.4, 1.0, 4.0, 4.0], [9.0, 1.0, 8.0, 4.0]])
    ious = mask_ious(gt, pred, width=10, height=10)
    # row 0: columns 1-4 vs 3-6 -> 2 shared of 6; row 1: 1.4 + 0.5 still covers pixel 1 (centre
    # 1.5) -> identical masks although the boxes differ; row 2: both clipped at column 10
    np.testing.assert_allclose(ious, [2 / 6, 1.0, 1.0])
    assert frame_ious(gt, pred)[1] < 1.0 and frame_ious(gt, pred)[2] == pytest.approx(0.5)


def test_sprites_samples_over_a_length_axis_store_scores_curves_and_keys(tmp_path):
    store = run(write(tmp_path, SPRITES.format(root=tmp_path / "data")), tmp_path)
    metrics = store.metrics_frame()
    combined = metrics[metrics.sequence == COMBINED].pivot_table(
        index=["axes", "method"], columns="metric", values="value"
    )
    assert sorted(set(metrics["axes"])) == ["sample_length=4", "sample_length=8"]
    truth = combined.xs("ground-truth-box", level="method")
    assert (truth.IoU == 1.0).all() and (truth.CenterError == 0.0).all()
    np.testing.assert_allclose(truth.AUC, 20 / 21)  # IoU 1 is not > the last threshold, 1
    constant = combined.xs("constant-box", level="method")
    assert (constant.IoU < 1.0).all()
    assert constant.IoU["sample_length=8"] < constant.IoU["sample_length=4"]  # drift grows
    per_sample = metrics[(metrics.sequence != COMBINED) & (metrics.metric == "IoU")]
    means = per_sample.groupby(["axes", "method"])["value"].mean()
    np.testing.assert_allclose(means.loc[combined.index], combined.IoU)  # combined = mean
    curves = store.curves_frame()
    over_time = curves[(curves.curve == "iou_over_time") & (curves.method == "constant-box")]
    lengths = over_time.groupby("axes").size().to_dict()
    assert lengths == {"sample_length=4": 4, "sample_length=8": 8}
    assert (over_time[over_time.x == 0].y == 1.0).all()  # t = 0 is the given box
    time_iou = metrics[metrics.metric == "TimeIoU"]  # the curve's mean, of the cell only
    assert set(time_iou.sequence) == {COMBINED}
    means = over_time.groupby("axes")["y"].mean()
    np.testing.assert_allclose(constant.TimeIoU[means.index], means)
    assert (truth.TimeIoU == 1.0).all()
    timings = store.timings_frame()
    assert set(timings.sequence) == {COMBINED} and len(timings) == 4


def test_kth_and_kitti_fixture_samples_run_end_to_end(tmp_path):
    text = f"""
name: sot-real
datasets:
  - {{name: kth, split: test, root: {FIXTURES / "kth"}}}
  - name: kitti-tracking
    split: hart-test
    root: {FIXTURES / "kitti"}
    params: {{hart_window: 4}}
methods: [constant-box, ground-truth-box]
timing: {{warmup_frames: 0}}
"""
    store = run(write(tmp_path, text), tmp_path)
    iou = store.metrics_frame().query("sequence == @COMBINED and metric == 'IoU'")
    assert set(iou.dataset) == {"kth", "kitti-tracking"}
    assert (iou[iou.method == "ground-truth-box"].value == 1.0).all()
    kth_samples = load_dataset("kth", FIXTURES / "kth").samples("test")
    scored = store.metrics_frame().query("dataset == 'kth' and metric == 'IoU'")
    assert len(scored) == 2 * (len(kth_samples) + 1)  # every sample plus COMBINED, per method
    # KTH's samples differ in length (4 and 3 frames): TimeIoU weighs each time step the same
    kth = store.metrics_frame().query("dataset == 'kth' and sequence == @COMBINED")
    kth = kth.pivot_table(index="method", columns="metric", values="value")
    curves = store.curves_frame().query("dataset == 'kth' and curve == 'iou_over_time'")
    curve = curves[curves.method == "constant-box"].sort_values("x")["y"].to_numpy()
    assert len(curve) == 4 and kth.TimeIoU["constant-box"] == pytest.approx(curve.mean())
    assert kth.TimeIoU["ground-truth-box"] == 1.0


@pytest.mark.parametrize(
    "entry, methods, line, message",
    [
        ("axes: {sample_length: 4}", "[constant-box]", 8, "axes.sample_length: Input should be"),
        ("axes: {lenght: [4]}", "[constant-box]", 8, "has no parameter 'lenght'"),
        ("axes: {sample_length: []}", "[constant-box]", 8, "axis 'sample_length' has no values"),
        ("root: null", "[sort]", 9, "'sort' is a multi-object tracker but"),
        ("detections: {}", "[constant-box]", 8, "is a single-object tracker but sprites-mot"),
    ],
)
def test_bad_single_object_experiments_name_file_and_line(tmp_path, entry, methods, line, message):
    text = f"""
name: bad
datasets:
  - name: sprites-mot
    split: eval
    params: {{eval_frames: 50}}
    task: single-object
    {entry}
methods: {methods}
"""
    if entry.startswith("detections"):
        text = text.replace("    task: single-object\n", "")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as error:
        load_experiment(path)
    assert f"{path}:{line}:" in str(error.value)


def test_a_multi_object_method_on_a_single_object_split_is_refused(tmp_path):
    path = write(
        tmp_path,
        f"name: bad\ndatasets:\n  - {{name: kth, split: test, root: {FIXTURES / 'kth'}}}\n"
        "methods:\n  - sort\n",
    )
    with pytest.raises(ConfigError, match="'sort' is a multi-object tracker but kth") as error:
        load_experiment(path)
    assert f"{path}:5:" in str(error.value)
    forced = write(
        tmp_path,
        "name: bad\ndatasets:\n  - {name: kth, split: test, task: multi-object}\n"
        "methods: [constant-box]\n",
    )
    with pytest.raises(ConfigError, match="single-object: it has samples") as error:
        load_experiment(forced)
    assert f"{forced}:3:" in str(error.value)


def test_a_sample_whose_first_box_is_empty_names_its_annotation_line(tmp_path):
    adapter = load_dataset("kth", FIXTURES / "kth")
    samples = adapter.samples("test")
    broken = SingleObjectSample(
        samples[0].sequence,
        1,
        samples[0].frames,
        np.vstack([[5.0, 5.0, 0.0, 10.0], samples[0].boxes[1:]]),
        source=("KTHBoundingBoxInfo.txt", 7),
    )
    adapter.samples = lambda split: [broken]
    with pytest.raises(FormatError, match=r"BoxInfo.txt:7: sample .* first box .* empty"):
        SingleObjectTask().load(adapter, "test")


def test_seed_placeholder_and_axes_make_distinct_cells(tmp_path):
    text = """
name: seeds
datasets:
  - {name: sprites-mot, split: eval, task: single-object, axes: {sample_length: [4, 8]}}
methods:
  - {method: tba, config: {checkpoint: "ckpt/seed-{seed}/last"}, seeds: [0, 1]}
"""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="'tba' is a multi-object tracker"):
        load_experiment(path)
    path.write_text(text.replace(", task: single-object", ""))
    cells = expand(load_experiment(path, check_methods=False))  # no checkpoint is needed here
    assert [(c.axes, c.seed) for c in cells] == [
        ({"sample_length": 4}, 0),
        ({"sample_length": 4}, 1),
        ({"sample_length": 8}, 0),
        ({"sample_length": 8}, 1),
    ]
    assert [Path(c.method_config["checkpoint"]).parent.name for c in cells[:2]] == [
        "seed-0",
        "seed-1",
    ]
    assert len({c.config_hash for c in cells}) == 4 and cells[0].axes_label == "sample_length=4"


def test_board_pivots_the_axis_plots_curves_and_compare_gates_iou(tmp_path):
    store = run(write(tmp_path, SPRITES.format(root=tmp_path / "data")), tmp_path)
    frame = store.metrics_frame()
    written = write_report(
        frame, tmp_path / "board", "sot", timings=store.timings_frame(), curves=store.curves_frame()
    )
    names = {path.name for path in written}
    assert {"iou_over_time.png", "success.png", "by_sample_length.png"} <= names
    board = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "| IoU ↑ | TimeIoU ↑ | AUC ↑ | Precision20 ↑ | CenterError ↓ |" in board  # sot
    pivot = board.split("## IoU by sample_length")[1].split("\n\n")[2].splitlines()
    assert pivot[0].endswith("| sample_length=4 | sample_length=8 |")
    constant = (
        summarize(frame).set_index(["axes", "method"]).loc[("sample_length=8", "constant-box")]
    )
    assert f"{100 * constant.IoU_mean:.1f} ± {100 * constant.IoU_std:.1f} |" in pivot[2]
    assert pivot[3].endswith("| 100.0 ± 0.0 | 100.0 ± 0.0 |")  # ground-truth-box
    assert compare(frame, frame).passed
    worse = frame.copy()
    worse.loc[(worse.metric == "IoU") & (worse.method == "constant-box"), "value"] -= 0.05
    result = compare(worse, frame)
    regressed = result.regressions
    assert not result.passed and set(regressed["metric"]) == {"IoU"}
    assert set(regressed["axes"]) == {"sample_length=4", "sample_length=8"}
    curves = store.curves_frame()
    same = compare(frame, frame, new_curves=curves, baseline_curves=curves)
    assert same.curves_changed == ()
    moved = curves.copy()
    success = (moved.curve == "success") & (moved.method == "constant-box")
    moved.loc[success & (moved["axes"] == "sample_length=8"), "y"] += 0.25
    moved.loc[success & (moved["axes"] == "sample_length=8") & (moved["x"] == 0.5), "y"] -= 0.75
    result = compare(frame, frame, new_curves=moved, baseline_curves=curves)
    (record,) = result.moved_curves.to_dict("records")  # the largest change, at x = 0.5
    assert (record["axes"], record["curve"], record["x"]) == ("sample_length=8", "success", 0.5)
    assert record["new"] - record["baseline"] == pytest.approx(-0.5) == record["delta"]
    assert result.curves_changed == (
        "Curve success of sprites-mot/eval[sample_length=8]/none constant-box moved most at"
        f" x = 0.5: {record['baseline']:.3g} → {record['new']:.3g} (Δ -0.5; informational).",
    )
    assert result.to_dict()["curves_changed"][0]["delta"] == pytest.approx(-0.5)


def test_an_empty_first_box_stops_the_run_before_any_cell(tmp_path, trackbench):
    root = tmp_path / "kth"
    shutil.copytree(FIXTURES / "kth", root)
    info = root / "KTHBoundingBoxInfo.txt"
    lines = info.read_text().splitlines()
    lines[4] = "1 1 6 1 1 4 20 30 20 60 20 32 100 62 21 34 101 64 21 36 101 66"  # ymax = ymin
    info.write_text("\n".join(lines) + "\n")
    path = write(
        tmp_path,
        f"name: empty-box\ndatasets:\n  - {{name: kth, split: test, root: {root}}}\n"
        "methods: [constant-box]\n",
    )
    code, _, err = trackbench("run", path, "--out", tmp_path / "out", "--no-report")
    assert code == 2
    error = err.strip().splitlines()[-1]
    assert error.startswith(f"trackbench: error: {info}:5: sample ")
    assert "first box" in error and "is empty" in error
    with Store(tmp_path / "out" / "results.sqlite", create=False) as store:
        assert "done" not in set(store.cells("empty-box")["status"])
