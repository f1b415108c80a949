"""Protocol ``fairmot``: equal to FairMOT's evaluator (as OUTrack's src/track.py runs it) written
out here with py-motmetrics, its documented differences from TrackEval's ``mot17`` protocol, the
command line and experiments, and OUTrack's MOT17 val half (``--half_track``)."""

from __future__ import annotations

import json
from pathlib import Path

import motmetrics as mm
import numpy as np
import pytest
from mot_layout import still_object, write_sequence
from paths import FIXTURES

from harness.data import BoxTable
from harness.datasets import load_dataset
from harness.errors import FormatError
from harness.experiment import load_experiment
from harness.metrics import evaluate, evaluate_files
from harness.metrics.fairmot import SOLVER
from harness.motchallenge import read_mot, write_mot
from harness.runner import run_experiment
from harness.store import COMBINED, Store

MOT17_GT = FIXTURES / "mot" / "MOT17" / "train"
MOT17_RESULTS = FIXTURES / "mot" / "trackers" / "MOT17" / "ours" / "data"
TUD = ("TUD-Campus", "TUD-Stadtmitte")
OURS_TO_MOTMETRICS = {
    "MOTA": "mota",
    "IDF1": "idf1",
    "IDP": "idp",
    "IDR": "idr",
    "MT": "mostly_tracked",
    "PT": "partially_tracked",
    "ML": "mostly_lost",
    "FP": "num_false_positives",
    "FN": "num_misses",
    "IDSW": "num_switches",
    "Frag": "num_fragmentations",
    "Recall": "recall",
    "Precision": "precision",
}
BOX_A = (0, 0, 10, 10)


# --- FairMOT's evaluator, written out from OUTrack's io.py, evaluation.py and track.py ---------


def read_released(path: Path, kind: str) -> dict[int, list]:
    """``read_mot_results``: {frame: [(tlwh, id)]} of the results, the evaluated gt or the
    ignored gt boxes (kind ``result``, ``gt``, ``ignore``)."""
    mot1617 = "MOT16-" in str(path) or "MOT17-" in str(path)
    frames: dict[int, list] = {}
    for line in path.read_text().splitlines():
        fields = line.split(",")
        if len(fields) < 7 or int(fields[0]) < 1:
            continue
        rows = frames.setdefault(int(fields[0]), [])
        if kind == "gt" and mot1617:
            if int(float(fields[6])) == 0 or int(float(fields[7])) != 1:
                continue
        if kind == "ignore":
            if not mot1617 or (
                int(float(fields[7])) not in (2, 7, 8, 12) and float(fields[8]) >= 0
            ):
                continue
        rows.append((tuple(map(float, fields[2:6])), int(fields[1])))
    return frames


def unzip(rows: list) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.asarray([r[0] for r in rows], dtype=float).reshape(-1, 4)
    return boxes, np.asarray([r[1] for r in rows], dtype=int)


def released_accumulator(gt_file: Path, results_file: Path) -> mm.MOTAccumulator:
    """``Evaluator.eval_file``: the frames of the results, ignored matches removed first."""
    gt, ignore = read_released(gt_file, "gt"), read_released(gt_file, "ignore")
    acc = mm.MOTAccumulator(auto_id=True)
    results = read_released(results_file, "result")
    for frame in sorted(results):
        boxes, ids = unzip(results[frame])
        distance = mm.distances.iou_matrix(unzip(ignore.get(frame, []))[0], boxes, max_iou=0.5)
        if len(distance) > 0:
            rows, cols = mm.lap.linear_sum_assignment(distance)
            keep = np.ones(len(boxes), dtype=bool)
            keep[cols[~np.isnan(distance[rows, cols])]] = False
            boxes, ids = boxes[keep], ids[keep]
        gt_boxes, gt_ids = unzip(gt.get(frame, []))
        acc.update(gt_ids, ids, mm.distances.iou_matrix(gt_boxes, boxes, max_iou=0.5))
    return acc


@pytest.fixture
def released(monkeypatch):
    """``files -> summary``: track.py's ``Evaluator.get_summary`` over {sequence: (gt file,
    results file)}, with the protocol's solver (``lap`` where it is installed, as the released
    code; else SciPy's); NumPy 2 lacks motmetrics' ``np.asfarray``, put back here."""
    monkeypatch.setattr(np, "asfarray", lambda a: np.asarray(a, dtype=float), raising=False)

    def summary(files: dict[str, tuple[Path, Path]]):
        names = sorted(files)
        with mm.lap.set_default_solver(SOLVER):
            accs = [released_accumulator(*files[name]) for name in names]
            return mm.metrics.create().compute_many(
                accs, metrics=mm.metrics.motchallenge_metrics, names=names, generate_overall=True
            )

    return summary


def assert_same(ours: dict, summary) -> None:
    """Every sequence's and the combined metrics equal the released summary's rows."""
    blocks = {**ours["sequences"], "OVERALL": ours["combined"]}
    assert list(blocks) == list(summary.index)
    for name, values in blocks.items():
        row = summary.loc[name]
        for metric, theirs in OURS_TO_MOTMETRICS.items():
            assert values[metric] == row[theirs], (name, metric)
        assert values["MOTP"] == 1.0 - row["motp"], name


def test_mot17_fixtures_equal_the_released_evaluator(released):
    """Distractor classes, zero-marked rows and frames without predictions, through the files."""
    names = sorted(p.stem for p in MOT17_RESULTS.glob("*.txt"))
    files = {n: (MOT17_GT / n / "gt" / "gt.txt", MOT17_RESULTS / f"{n}.txt") for n in names}
    ours = evaluate_files(MOT17_GT, MOT17_RESULTS, "fairmot")
    assert ours["protocol"] == "fairmot"
    assert_same(ours, released(files))
    trackeval = evaluate_files(MOT17_GT, MOT17_RESULTS, "mot17")["combined"]
    assert ours["combined"]["FN"] != trackeval["FN"]


def test_other_sequences_keep_every_gt_row_as_the_released_evaluator(released, motmetrics_data):
    """TUD (MOT15) names hold neither MOT16- nor MOT17-: no gt row dropped, no box ignored."""
    files = {s: (motmetrics_data / s / "gt.txt", motmetrics_data / s / "test.txt") for s in TUD}
    gt = {s: read_mot(files[s][0], "gt") for s in TUD}
    pred = {s: read_mot(files[s][1], "result") for s in TUD}
    assert_same(evaluate(gt, pred, "fairmot"), released(files))


# --- its documented differences from TrackEval's mot17 protocol --------------------------------


def table(rows) -> BoxTable:
    """Rows of (frame, id, left, top, width, height[, consider, class, visibility])."""
    rows = [(*r, 1, 1, 1.0) if len(r) == 6 else r for r in rows]
    a = np.asarray(rows, dtype=float).reshape(-1, 9)
    return BoxTable.build(a[:, 0], a[:, 2:6], a[:, 1], a[:, 6], a[:, 7].astype(int), a[:, 8])


def combined(gt: BoxTable, pred: BoxTable, protocol: str, name: str = "MOT17-02-SDP") -> dict:
    return evaluate({name: gt}, {name: pred}, protocol)["combined"]


def test_a_frame_missing_from_the_results_counts_no_false_negative():
    gt = table([(f, 1, *BOX_A) for f in (1, 2, 3)])
    pred = table([(f, 1, *BOX_A) for f in (1, 2)])
    fairmot, trackeval = combined(gt, pred, "fairmot"), combined(gt, pred, "mot17")
    assert (fairmot["FN"], fairmot["MOTA"], fairmot["Recall"]) == (0, 1.0, 1.0)
    assert (trackeval["FN"], trackeval["Recall"]) == (1, 2 / 3)


def test_a_prediction_on_an_ignored_box_is_removed():
    """A static person (class 7, zero-marked) and a pedestrian of visibility < 0: predictions on
    them are removed. TrackEval removes the first too, but counts the second as a gt hit."""
    gt = table(
        [(1, 1, *BOX_A), (1, 2, 50, 0, 10, 10, 0, 7, 1.0), (1, 3, 0, 50, 10, 10, 1, 1, -1.0)]
    )
    pred = table([(1, 1, *BOX_A), (1, 2, 50, 0, 10, 10), (1, 3, 0, 50, 10, 10)])
    fairmot, trackeval = combined(gt, pred, "fairmot"), combined(gt, pred, "mot17")
    assert (fairmot["FP"], fairmot["FN"], fairmot["Precision"]) == (0, 1, 1.0)
    assert (trackeval["FP"], trackeval["FN"]) == (0, 0)


def test_ignored_boxes_are_matched_on_their_own():
    """The prediction overlaps the pedestrian by 0.9 and a distractor by 0.58: TrackEval's match
    over all gt pairs it with the pedestrian (kept); FairMOT's over the ignored boxes removes it."""
    gt = table([(1, 1, *BOX_A), (1, 2, 0, 2, 10, 10, 0, 8, 1.0)])
    pred = table([(1, 1, 0, 0, 10, 9)])
    fairmot, trackeval = combined(gt, pred, "fairmot"), combined(gt, pred, "mot17")
    assert (fairmot["FN"], fairmot["MOTA"]) == (1, 0.0)
    assert (trackeval["FN"], trackeval["MOTA"]) == (0, 1.0)


def test_mot20_sequences_keep_their_zero_marked_and_distractor_rows():
    gt = table([(1, 1, *BOX_A), (1, 2, 50, 0, 10, 10, 0, 7, 1.0)])
    pred = table([(1, 1, *BOX_A)])
    assert combined(gt, pred, "fairmot", "MOT20-01")["FN"] == 1
    assert combined(gt, pred, "mot20", "MOT20-01")["FN"] == 0
    assert combined(gt, pred, "fairmot", "MOT17-02-SDP")["FN"] == 0


def test_mot17_gt_without_classes_is_an_error():
    gt = BoxTable.build([1], [BOX_A], [1])
    with pytest.raises(FormatError, match="sequence MOT17-02-SDP: ground truth without a class"):
        evaluate({"MOT17-02-SDP": gt}, {"MOT17-02-SDP": gt}, "fairmot")


# --- command line and experiments -------------------------------------------------------------


def test_evaluate_command_names_the_protocol(trackbench):
    args = ("evaluate", "--gt", MOT17_GT, "--pred", MOT17_RESULTS, "--protocol", "fairmot")
    code, out, _ = trackbench(*args, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["protocol"] == "fairmot"
    assert result["combined"] == evaluate_files(MOT17_GT, MOT17_RESULTS, "fairmot")["combined"]
    assert "HOTA" not in result["combined"]
    code, out, _ = trackbench(*args)
    assert code == 0 and "protocol fairmot (FairMOT's evaluator, not TrackEval)" in out


def test_an_experiment_scores_its_cells_with_fairmot(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(
        f"""\
name: fairmot
protocol: fairmot
datasets:
  - name: mot17
    split: val-half
    root: {MOT17_GT.parent}
    params: {{sequences: [MOT17-02], detectors: [SDP]}}
methods: [ground-truth]
timing: {{warmup_frames: 0}}
""",
        encoding="utf-8",
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        assert not summary.failed
        frame = store.metrics_frame("fairmot")
    values = dict(frame[frame["sequence"] == COMBINED][["metric", "value"]].values)
    # the ground-truth double replays the considered gt rows; FairMOT removes its pedestrian
    # boxes that overlap a distractor (TrackEval's MOTA would be 1)
    (sequence,) = load_dataset(
        "mot17", MOT17_GT.parent, sequences=["MOT17-02"], detectors=["SDP"]
    ).sequences("val-half")
    tracks = {sequence.name: sequence.gt.select(sequence.gt.conf != 0)}
    expected = evaluate({sequence.name: sequence.gt}, tracks, "fairmot")["combined"]
    assert values == pytest.approx(expected) and values["MOTA"] < 1.0


# --- OUTrack's MOT17 val half ------------------------------------------------------------------


@pytest.mark.parametrize(("length", "half"), [(7, 3), (8, 4)])
def test_val_half_starts_where_outrack_half_track_starts(tmp_path, released, length, half):
    """track.py skips the 0-based frames below int(len / 2) and writes source frame numbers;
    mot17.half trains on frames 1..int(len / 2). Our val-half is renumbered from 1 (meta
    frame_offset), so results shifted by it score as OUTrack scores its own files."""
    name = "MOT17-90-SDP"
    gt_text = "".join(
        f"{f},1,{f},0,10,20,1,1,1\n{f},2,40,0,10,20,0,7,1\n" for f in range(1, length + 1)
    )
    write_sequence(
        tmp_path / "train", name, still_object(length, "0,0,10,20", 0.9), length, gt_text
    )
    dataset = load_dataset("mot17", tmp_path, sequences={"train": ["MOT17-90"]}, detectors=["SDP"])
    (train,) = dataset.sequences("train-half")
    (val,) = dataset.sequences("val-half")
    assert (train.num_frames, val.num_frames) == (half, length - half)
    assert val.meta["frame_offset"] == half and val.gt.frame.min() == 1
    assert val.gt.box[val.gt.id == 1, 0].tolist() == list(range(half + 1, length + 1))
    assert train.gt.box[train.gt.id == 1, 0].tolist() == list(range(1, half + 1))

    # OUTrack's results: source frames half+1..len, the pedestrian jittered and given a new id
    # in the last frame, and a track on the static person
    outrack = table(
        [(f, 1 if f < length else 3, f + 0.5, 0, 10, 20) for f in range(half + 1, length + 1)]
        + [(f, 2, 40, 0, 10, 20) for f in range(half + 1, length + 1)]
    )
    results = tmp_path / "results" / f"{name}.txt"
    write_mot(results, outrack)
    written = read_mot(results, "result")
    shifted = BoxTable.build(written.frame - half, written.box, written.id)
    ours = evaluate({name: val.gt}, {name: shifted}, "fairmot")
    assert_same(ours, released({name: (tmp_path / "train" / name / "gt" / "gt.txt", results)}))
    assert ours["combined"]["FP"] == 0  # the predictions on the static person are removed
