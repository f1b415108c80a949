"""`evaluate` on TrackEval's folder layouts at every level, equal to TrackEval's Evaluator;
seqmaps; errors that name file and line; empty results files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from parity_helpers import assert_same, trackeval_kitti, trackeval_mot
from paths import FIXTURES

from harness.errors import EmptyResultsWarning, FormatError
from harness.metrics import evaluate_files
from harness.metrics.crosscheck import write_seqinfo
from harness.motchallenge import read_mot

KITTI = FIXTURES / "kitti"
TUD = ("TUD-Campus", "TUD-Stadtmitte")
SUBSET = ("MOT17-02-SDP", "MOT17-04-DPM")


class MotLayout:
    """TrackEval's ``gt/mot_challenge`` and ``trackers/mot_challenge`` (tracker ``ours``, split
    train) under ``root``, with the seqmap ``gt/mot_challenge/seqmaps/<BENCH>-train.txt``."""

    def __init__(self, root: Path, benchmark: str):
        self.benchmark, self.protocol = benchmark, benchmark.lower()
        self.gt_top = root / "gt" / "mot_challenge"
        self.trackers_top = root / "trackers" / "mot_challenge"
        self.split = f"{benchmark}-train"
        self.gt = self.gt_top / self.split
        self.tracker = self.trackers_top / self.split / "ours"
        self.seqmap = self.gt_top / "seqmaps" / f"{self.split}.txt"

    def write_seqmap(self, path: Path, sequences) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("name\n" + "".join(f"{seq}\n" for seq in sequences), encoding="utf-8")
        return path

    def evaluate(self, **options) -> dict:
        """Ours at the top level, with benchmark, split and tracker."""
        return evaluate_files(
            self.gt_top,
            self.trackers_top,
            self.protocol,
            benchmark=self.benchmark,
            split="train",
            tracker="ours",
            **options,
        )

    def trackeval(self, **config) -> dict:
        return trackeval_mot(self.gt_top, self.trackers_top, self.benchmark, **config)


def mot_layout(root: Path, benchmark: str, motmetrics_data: Path) -> MotLayout:
    """MOT17/MOT20 from tests/fixtures/mot, MOT15 from the motmetrics wheel's TUD files."""
    layout = MotLayout(root, benchmark)
    data = layout.tracker / "data"
    if benchmark == "MOT15":
        data.mkdir(parents=True)
        for seq in TUD:
            gt = layout.gt / seq / "gt" / "gt.txt"
            gt.parent.mkdir(parents=True)
            shutil.copy(motmetrics_data / seq / "gt.txt", gt)
            shutil.copy(motmetrics_data / seq / "test.txt", data / f"{seq}.txt")
            frames = max(read_mot(gt, "gt").frame.max(), read_mot(data / f"{seq}.txt").frame.max())
            write_seqinfo(layout.gt / seq, int(frames))
    else:
        ignore = shutil.ignore_patterns("img1", "det")
        shutil.copytree(FIXTURES / "mot" / benchmark / "train", layout.gt, ignore=ignore)
        shutil.copytree(FIXTURES / "mot" / "trackers" / benchmark / "ours" / "data", data)
    layout.write_seqmap(layout.seqmap, sorted(p.name for p in layout.gt.iterdir()))
    return layout


@pytest.fixture
def mot17(tmp_path, motmetrics_data) -> MotLayout:
    return mot_layout(tmp_path, "MOT17", motmetrics_data)


# --- MOTChallenge layouts -------------------------------------------------------------------


@pytest.mark.parametrize("bench", ["MOT17", "MOT20", "MOT15"])
def test_top_level_layout_equals_trackeval(tmp_path, motmetrics_data, bench):
    layout = mot_layout(tmp_path, bench, motmetrics_data)
    ours = layout.evaluate()
    assert_same(ours, layout.trackeval())
    assert ours["combined"]["GT_Dets"] > 0 and ours["combined"]["FN"] > 0


def test_every_level_gives_the_same_numbers(mot17):
    top = mot17.evaluate()
    split_level = evaluate_files(mot17.gt, mot17.tracker.parent, "mot17", tracker="ours")
    assert split_level == top
    for pred in (mot17.tracker, mot17.tracker / "data"):
        assert evaluate_files(mot17.gt, pred, "mot17") == top
    assert top["sequences"]["MOT17-02-DPM"]["Frames"] == 10  # seqinfo.ini's seqLength


def test_without_a_seqmap_every_sequence_folder_counts(mot17):
    with_seqmap = mot17.evaluate()
    mot17.seqmap.unlink()
    assert mot17.evaluate() == with_seqmap


def test_tracker_folder_without_data_equals_trackeval(mot17, tmp_path):
    flat = tmp_path / "flat"
    shutil.copytree(mot17.tracker / "data", flat / mot17.split / "ours")
    ours = evaluate_files(mot17.gt, flat / mot17.split / "ours", "mot17")
    assert_same(ours, trackeval_mot(mot17.gt_top, flat, "MOT17", TRACKER_SUB_FOLDER=""))
    assert evaluate_files(mot17.gt, flat / mot17.split, "mot17", tracker="ours") == ours


def test_seqmap_subset_equals_trackeval_with_that_seqmap(mot17, tmp_path):
    seqmap = mot17.write_seqmap(tmp_path / "subset.txt", SUBSET)
    ours = mot17.evaluate(seqmap=seqmap)
    assert sorted(ours["sequences"]) == list(SUBSET)
    assert_same(ours, mot17.trackeval(SEQMAP_FILE=str(seqmap)))
    mot17.write_seqmap(mot17.seqmap, SUBSET)  # the layout's own seqmap selects the same
    assert mot17.evaluate() == ours
    assert evaluate_files(mot17.gt, mot17.tracker, "mot17") == ours  # found at ../seqmaps


def test_seqmap_sequence_without_gt_or_predictions_names_its_line(mot17, tmp_path):
    seqmap = mot17.write_seqmap(tmp_path / "s.txt", ["MOT17-02-SDP", "MOT17-09-SDP"])
    with pytest.raises(FormatError) as error:
        mot17.evaluate(seqmap=seqmap)
    assert str(error.value) == f"{seqmap}:3: sequence MOT17-09-SDP: no ground truth in {mot17.gt}"
    (mot17.tracker / "data" / "MOT17-04-DPM.txt").unlink()
    seqmap = mot17.write_seqmap(tmp_path / "s.txt", ["MOT17-02-SDP", "", "MOT17-04-DPM"])
    with pytest.raises(FormatError) as error:
        mot17.evaluate(seqmap=seqmap)
    missing = mot17.tracker / "data" / "MOT17-04-DPM.txt"
    assert str(error.value) == (f"{seqmap}:4: sequence MOT17-04-DPM: no prediction file {missing}")


def test_seqmap_without_header_is_an_error(mot17, tmp_path):
    seqmap = tmp_path / "s.txt"
    seqmap.write_text("MOT17-02-SDP\nMOT17-04-DPM\n")
    with pytest.raises(FormatError, match=r"s.txt:1: expected the header line 'name'"):
        mot17.evaluate(seqmap=seqmap)


def test_unrecognised_layouts_name_the_path_and_the_layouts(mot17, tmp_path):
    with pytest.raises(FormatError) as error:
        evaluate_files(mot17.gt_top, mot17.tracker, "mot17")
    assert str(error.value).startswith(f"{mot17.gt_top}: no ground-truth sequences: expected ")
    assert str(error.value).endswith(
        "; it holds MOT17-train: choose one with --benchmark and --split"
    )
    with pytest.raises(FormatError) as error:
        evaluate_files(mot17.gt, mot17.trackers_top, "mot17", tracker="ours")
    assert str(error.value).startswith(f"{mot17.trackers_top}: no prediction files: expected ")
    assert str(error.value).endswith("; it holds MOT17-train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="it is empty"):
        evaluate_files(mot17.gt, tmp_path / "empty", "mot17")


# --- KITTI ----------------------------------------------------------------------------------


@pytest.fixture
def kitti(tmp_path) -> tuple[Path, Path]:
    """TrackEval's gt/kitti/kitti_2d_box_train (seqmap: 12 frames for 0000, whose label_02 and
    image_02 have 10) and trackers/kitti/kitti_2d_box_train/ours/data."""
    gt = tmp_path / "gt" / "kitti" / "kitti_2d_box_train"
    trackers = tmp_path / "trackers" / "kitti" / "kitti_2d_box_train"
    shutil.copytree(KITTI / "training" / "label_02", gt / "label_02")
    (gt / "evaluate_tracking.seqmap.training").write_text(
        "0000 empty 000000 000012\n0001 empty 000000 000008\n"
    )
    shutil.copytree(KITTI / "results", trackers / "ours" / "data")
    return gt, trackers


def test_kitti_layout_equals_trackeval(kitti):
    gt, trackers = kitti
    ours = evaluate_files(gt, trackers, "kitti", tracker="ours")
    reference = trackeval_kitti(gt, trackers)
    for cls in ("car", "pedestrian"):
        assert_same(ours["classes"][cls], reference[cls])
    assert ours["classes"]["car"]["sequences"]["0000"]["Frames"] == 12  # the seqmap's 4th field
    for gt_level, pred in [(gt / "label_02", trackers / "ours"), (gt, trackers / "ours" / "data")]:
        assert evaluate_files(gt_level, pred, "kitti") == ours


def test_kitti_seqmap_split_and_subset_equal_trackeval(kitti):
    gt, trackers = kitti
    seqmap = gt / "evaluate_tracking.seqmap.val"
    seqmap.write_text("0001 empty 000000 000009\n")
    ours = evaluate_files(gt, trackers, "kitti-pedestrian", split="val", tracker="ours")
    reference = trackeval_kitti(gt, trackers, SPLIT_TO_EVAL="val", CLASSES_TO_EVAL=["pedestrian"])
    assert_same(ours["classes"]["pedestrian"], reference["pedestrian"])
    assert list(ours["classes"]["pedestrian"]["sequences"]) == ["0001"]
    given = evaluate_files(gt, trackers / "ours", "kitti-pedestrian", seqmap=seqmap)
    assert given == ours


def test_kitti_frame_beyond_the_seqmap_names_file_and_line(kitti):
    gt, trackers = kitti
    (gt / "evaluate_tracking.seqmap.training").write_text(
        "0000 empty 000000 000012\n0001 empty 000000 000007\n"
    )
    results = trackers / "ours" / "data" / "0001.txt"
    line = next(n for n, row in enumerate(results.read_text().splitlines(), 1) if row[0] == "7")
    with pytest.raises(FormatError) as error:
        evaluate_files(gt, trackers, "kitti", tracker="ours")
    assert str(error.value) == (
        f"{results}:{line}: frame 7 (0-based) outside the sequence's 7 frames"
    )


def test_kitti_seqmap_length_must_be_an_integer(kitti):
    gt, trackers = kitti
    (gt / "evaluate_tracking.seqmap.training").write_text(
        "0000 empty 000000 000012\n0001 empty 000000 eight\n"
    )
    with pytest.raises(FormatError, match=r"seqmap.training:2: the fourth field, the frame count"):
        evaluate_files(gt, trackers, "kitti", tracker="ours")


# --- errors that name file and line, sequence names, empty results ---------------------------


def test_mot17_gt_without_class_column_names_the_first_line(mot17):
    gt = mot17.gt / "MOT17-04-SDP" / "gt" / "gt.txt"
    rows = gt.read_text().splitlines()
    gt.write_text("\n" + "".join(",".join(row.split(",")[:7]) + "\n" for row in rows))
    with pytest.raises(FormatError) as error:
        mot17.evaluate()
    assert str(error.value).startswith(f"{gt}:2: no class column: 7 columns, MOTChallenge gt")
    assert evaluate_files(mot17.gt, mot17.tracker, "mot15")["combined"]["GT_Dets"] > 0


@pytest.mark.parametrize("kind", ["gt", "pred"])
def test_frame_beyond_seq_length_names_file_and_line(mot17, kind):
    gt = mot17.gt / "MOT17-02-DPM" / "gt" / "gt.txt"
    file = gt if kind == "gt" else mot17.tracker / "data" / "MOT17-02-DPM.txt"
    rows = file.read_text().splitlines()
    rows[3] = "11" + rows[3][rows[3].index(",") :]
    file.write_text("\n".join(rows) + "\n")
    with pytest.raises(FormatError) as error:
        mot17.evaluate()
    assert str(error.value) == f"{file}:4: frame 11 beyond seqLength 10 (seqinfo.ini)"


def test_one_gt_file_is_named_by_its_sequence_folder_or_stem(mot17, monkeypatch):
    sequence = mot17.gt / "MOT17-02-DPM"
    pred = mot17.tracker / "data" / "MOT17-02-DPM.txt"
    monkeypatch.chdir(sequence / "gt")
    for gt in ("gt.txt", "../gt/gt.txt", "..", sequence):
        result = evaluate_files(gt, pred, "mot17")
        assert list(result["sequences"]) == ["MOT17-02-DPM"]
        assert result["combined"]["Frames"] == 10  # its seqinfo.ini
    loose = mot17.tracker / "lab.txt"
    shutil.copy(sequence / "gt" / "gt.txt", loose)
    assert list(evaluate_files(loose, pred, "mot17")["sequences"]) == ["lab"]


def test_dot_files_are_not_sequences(mot17):
    shutil.copy(mot17.tracker / "data" / "MOT17-02-DPM.txt", mot17.tracker / "data" / "._x.txt")
    assert evaluate_files(mot17.gt, mot17.tracker, "mot17") == mot17.evaluate()


def test_empty_results_file_is_evaluated_with_a_warning(mot17):
    empty = mot17.tracker / "data" / "MOT17-04-FRCNN.txt"
    empty.write_text("")
    with pytest.warns(EmptyResultsWarning, match=f"^{empty}: empty results file") as caught:
        ours = mot17.evaluate()
    assert len(caught) == 1
    assert_same(ours, mot17.trackeval())
    sequence = ours["sequences"]["MOT17-04-FRCNN"]
    assert sequence["Dets"] == 0 and sequence["FN"] == sequence["GT_Dets"] > 0


# --- the command line -----------------------------------------------------------------------


def test_cli_top_level_json_equals_trackeval(trackbench, mot17):
    code, out, err = trackbench(
        "evaluate",
        "--gt",
        mot17.gt_top,
        "--pred",
        mot17.trackers_top,
        "--protocol",
        "mot17",
        "--benchmark",
        "MOT17",
        "--split",
        "train",
        "--tracker",
        "ours",
        "--json",
    )
    assert (code, err) == (0, "")
    assert_same(json.loads(out), mot17.trackeval())


def test_cli_split_level_and_seqmap(trackbench, mot17, tmp_path):
    seqmap = mot17.write_seqmap(tmp_path / "subset.txt", SUBSET)
    code, out, err = trackbench(
        "evaluate",
        *("--gt", mot17.gt, "--pred", mot17.tracker.parent, "--tracker", "ours"),
        *("--protocol", "mot17", "--seqmap", seqmap, "--json"),
    )
    assert (code, err) == (0, "")
    assert_same(json.loads(out), mot17.trackeval(SEQMAP_FILE=str(seqmap)))


def test_cli_kitti_json_equals_trackeval(trackbench, kitti):
    gt, trackers = kitti
    code, out, err = trackbench(
        "evaluate", "--gt", gt, "--pred", trackers / "ours", "--protocol", "kitti", "--json"
    )
    assert (code, err) == (0, "")
    ours, reference = json.loads(out)["classes"], trackeval_kitti(gt, trackers)
    for cls in ("car", "pedestrian"):
        assert_same(ours[cls], reference[cls])


def test_cli_empty_results_warn_and_exit_0(trackbench, mot17):
    empty = mot17.tracker / "data" / "MOT17-02-SDP.txt"
    empty.write_text("\n")
    code, out, err = trackbench(
        "evaluate", "--gt", mot17.gt, "--pred", mot17.tracker, "--protocol", "mot17", "--json"
    )
    assert code == 0 and json.loads(out)["sequences"]["MOT17-02-SDP"]["Dets"] == 0
    assert err.startswith(f"trackbench: warning: {empty}: empty results file") and (
        err.count("\n") == 1
    )


def _break_gt_class_column(layout: MotLayout) -> str:
    gt = layout.gt / "MOT17-02-DPM" / "gt" / "gt.txt"
    gt.write_text("".join(",".join(r.split(",")[:6]) + "\n" for r in gt.read_text().split()))
    return f"{gt}:1: no class column: 6 columns"


def _break_seq_length(layout: MotLayout) -> str:
    pred = layout.tracker / "data" / "MOT17-04-SDP.txt"
    pred.write_text(pred.read_text() + "12,1,10,10,5,5,1,-1,-1,-1\n")
    line = pred.read_text().count("\n")
    return f"{pred}:{line}: frame 12 beyond seqLength 9 (seqinfo.ini)"


def _break_seqmap(layout: MotLayout) -> str:
    (layout.tracker / "data" / "MOT17-04-SDP.txt").unlink()
    return f"{layout.seqmap}:7: sequence MOT17-04-SDP: no prediction file "


def test_cli_evaluates_every_tracker_of_a_folder_of_trackers(trackbench, mot17):
    """As TrackEval does without TRACKERS_TO_EVAL: each tracker folder, one result each."""
    shutil.copytree(mot17.tracker, mot17.tracker.parent / "theirs")
    args = ("evaluate", "--gt", mot17.gt_top, "--pred", mot17.trackers_top, "--protocol", "mot17")
    split = ("--benchmark", "MOT17", "--split", "train")
    code, out, _ = trackbench(*args, *split, "--json")
    assert code == 0
    trackers = json.loads(out)["trackers"]
    assert sorted(trackers) == ["ours", "theirs"] and trackers["ours"] == trackers["theirs"]
    code, one, _ = trackbench(*args, *split, "--tracker", "ours", "--json")
    assert json.loads(one) == trackers["ours"]
    code, table, _ = trackbench(*args, *split)
    assert "tracker ours" in table and "tracker theirs" in table


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "{gt_top}: no ground-truth sequences: expected"),
        (["--benchmark", "MOT20", "--split", "train", "--tracker", "ours"], "it holds MOT17-train"),
        (["--benchmark", "MOT17", "--split", "train", "--tracker", "ours"], _break_gt_class_column),
        (["--benchmark", "MOT17", "--split", "train", "--tracker", "ours"], _break_seq_length),
        (["--benchmark", "MOT17", "--split", "train", "--tracker", "ours"], _break_seqmap),
    ],
)
def test_cli_errors_are_one_line_naming_file_and_line(trackbench, mot17, args, expected):
    if callable(expected):
        expected = expected(mot17)
    expected = expected.format(gt_top=mot17.gt_top, trackers_top=mot17.trackers_top)
    code, out, err = trackbench(
        "evaluate", "--gt", mot17.gt_top, "--pred", mot17.trackers_top, "--protocol", "mot17", *args
    )
    assert (code, out) == (2, "")
    assert err.startswith("trackbench: error: ") and err.count("\n") == 1
    assert expected in err
