"""KTH under RATM's protocol: annotation parsing, folds, frames, 1.5x boxes, averaging, checks.

tests/fixtures/kth is written from the format definition (not KTH data): 4 header lines, rows for
person 1 walking (two subsequences, frames 1..4 and 6..8), person 2 jogging (1..3), person 7
running (2..3) and person 1 boxing (no frames); frame n of every video is a flat grey 10 * n.
Broken variants are made from a copy in tmp_path.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from paths import FIXTURES
from PIL import Image

from harness.cli import main
from harness.datasets import kth, load_dataset
from harness.errors import ConfigError, FormatError

FIXTURE = FIXTURES / "kth"
ANNOTATIONS = FIXTURE / kth.ANNOTATION_FILE
WALKING = "person01_walking_d1_uncomp"


@pytest.fixture
def copy(tmp_path) -> Path:
    root = tmp_path / "kth"
    shutil.copytree(FIXTURE, root)
    return root


def edit_line(root: Path, line: int, text: str) -> None:
    path = root / kth.ANNOTATION_FILE
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def problems_of(root: Path, **params) -> list[str]:
    return [str(p) for p in load_dataset("kth", root, **params).check()]


def test_parse_fixture_rows_boxes_and_lines():
    rows = kth.parse_annotations(ANNOTATIONS.read_text(), ANNOTATIONS)
    assert [(r.person, r.scenario, r.action, r.number, r.start, r.end, r.line) for r in rows] == [
        (1, 1, "walking", 1, 1, 4, 5),
        (1, 1, "walking", 2, 6, 8, 6),
        (2, 2, "jogging", 1, 1, 3, 7),
        (7, 3, "running", 1, 2, 3, 8),
        (1, 1, "boxing", 1, 1, 2, 9),
    ]
    # end inclusive: one box per frame start..end; (ymin xmin ymax xmax) 20 30 100 60 -> ltwh
    assert [len(r.boxes) for r in rows] == [4, 3, 3, 2, 2]
    np.testing.assert_array_equal(rows[0].boxes[0], [30, 20, 30, 80])
    np.testing.assert_array_equal(rows[0].boxes[3], [36, 21, 30, 80])
    np.testing.assert_array_equal(rows[1].frames, [6, 7, 8])
    assert rows[0].video == WALKING


def test_folds_leave_one_subject_out_with_ratm_validation_person():
    for k in kth.PERSONS:
        split = kth.fold_persons(k)
        assert split["test"] == (k,)
        assert split["val"] == ((7,) if k <= 6 else (6,))  # RandomState(1).randint(24) == 5
        assert split["val"] != split["test"]
        assert len(split["train"]) == 23
        assert sorted(split["train"] + split["val"] + split["test"]) == list(kth.PERSONS)
        assert kth.fold_persons(k) == split
    assert kth.fold_persons(1, validation_seed=2)["val"] == (10,)  # RandomState(2).randint(24) == 8
    with pytest.raises(ConfigError, match="1..25"):
        kth.fold_persons(26)


def test_splits_use_only_jogging_running_walking():
    dataset = load_dataset("kth", FIXTURE)
    assert dataset.params["actions"] == ["jogging", "running", "walking"]
    assert {s.sequence.meta["action"] for s in dataset.samples("all")} == {
        "walking",
        "jogging",
        "running",
    }
    test = dataset.samples("test")
    assert [(s.sequence.name, s.frames.tolist()) for s in test] == [
        (WALKING, [1, 2, 3, 4]),
        (WALKING, [6, 7, 8]),
    ]
    assert test[0].sequence is test[1].sequence
    assert [s.name for s in dataset.sequences("val")] == ["person07_running_d3_uncomp"]
    assert [s.name for s in dataset.sequences("train")] == ["person02_jogging_d2_uncomp"]
    assert [s.name for s in load_dataset("kth", FIXTURE, fold=2).sequences("test")] == [
        "person02_jogging_d2_uncomp"
    ]


def test_sequence_ground_truth_is_one_object_over_annotated_frames():
    (walking,) = load_dataset("kth", FIXTURE).sequences("test")
    assert (walking.width, walking.height, walking.num_frames, walking.fps) == (160, 120, 8, 25)
    np.testing.assert_array_equal(walking.gt.frame, [1, 2, 3, 4, 6, 7, 8])
    assert set(walking.gt.id.tolist()) == {1}
    np.testing.assert_array_equal(walking.gt.box[4], [80, 22, 30, 80])


def test_frames_load_lazily_as_grey_hxwx1(monkeypatch):
    opened = []
    real_open = Image.open
    monkeypatch.setattr(kth.Image, "open", lambda path: opened.append(path) or real_open(path))
    (walking,) = load_dataset("kth", FIXTURE).sequences("test")
    assert opened == []
    image = walking.frame(3)
    assert [Path(p).name for p in opened] == ["003.png"]
    assert image.shape == (120, 160, 1) and image.dtype == np.uint8
    assert (image == 30).all()


def test_enlarge_about_the_centre_without_clipping():
    boxes = np.array([[10.0, 20.0, 4.0, 8.0], [-2.0, 0.0, 10.0, 6.0]])
    big = kth.enlarge(boxes)
    np.testing.assert_allclose(big, [[9, 18, 6, 12], [-4.5, -1.5, 15, 9]])
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    np.testing.assert_allclose(big[:, :2] + big[:, 2:] / 2, centre)
    np.testing.assert_array_equal(kth.enlarge(boxes, 1.0), boxes)


def test_clip_ious_score_against_the_enlarged_ground_truth():
    gt = np.array([[10.0, 20.0, 4.0, 8.0], [0.0, 0.0, 2.0, 2.0]])
    np.testing.assert_allclose(kth.clip_ious(gt, kth.enlarge(gt)), [1.0, 1.0])
    np.testing.assert_allclose(kth.clip_ious(gt, gt), [1 / 2.25, 1 / 2.25])


def test_complete_copy_has_no_problems_and_cli_says_complete(capsys):
    assert problems_of(FIXTURE) == []
    with pytest.raises(SystemExit) as info:
        main(["datasets", "check", "kth", str(FIXTURE)])
    assert info.value.code == 0
    assert "complete" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "text", "message"),
    [
        (5, "1 1 6 1 1 4 20 30 100 60 20 32 100 62 21 34 101", "need 4 boxes = 16 numbers"),
        (5, "1 1 6 1", "got 4 field(s)"),
        (
            6,
            "1 1 6 2 6 8 22 80 102 110 122 83 102 113 22 86 102 116",
            "frame 7: ymin 122 > ymax 102",
        ),
        (6, "1 1 6 2 6 8 22 80 102 110 22 83 102 13 22 86 102 116", "frame 7: xmin 83 > xmax 13"),
        (7, "2 2 7 1 1 1 10 5 90 35", "unknown action 7"),
        (7, "26 2 4 1 1 1 10 5 90 35", "unknown person 26"),
        (7, "2 5 4 1 1 1 10 5 90 35", "unknown scenario 5"),
        (7, "2 2 4 1 3 1 10 5 90 35", "bad frame range"),
        (7, "2 2 4 1 1 1 10 5.5 90 35", "'5.5' is not an integer"),
        (
            6,
            "1 1 6 2 4 6 22 80 102 110 22 83 102 113 22 86 102 116",
            "overlap subsequence 1 (line 5",
        ),
    ],
)
def test_malformed_rows_are_reported_with_file_and_line(copy, line, text, message):
    edit_line(copy, line, text)
    (problem,) = problems_of(copy)
    assert problem.startswith(f"{copy / kth.ANNOTATION_FILE}:{line}: ")
    assert message in problem
    with pytest.raises(FormatError, match=re.escape(message)) as info:
        load_dataset("kth", copy).sequences("all")
    assert info.value.line == line


def test_missing_frames_folders_and_wrong_sizes_are_all_reported(copy):
    frames = copy / kth.FRAMES_DIR
    shutil.rmtree(frames / "person02_jogging_d2_uncomp")
    (frames / WALKING / "003.png").unlink()
    (frames / WALKING / "007.png").unlink()
    small = frames / "person07_running_d3_uncomp" / "001.png"
    Image.fromarray(np.zeros((60, 80), np.uint8)).save(small)
    edit_line(copy, 9, "1 1 1 1 1 2 15 60 95")
    annotations, walking = copy / kth.ANNOTATION_FILE, frames / WALKING
    assert problems_of(copy) == [
        f"{annotations}:9: frames 1..2 (end inclusive) need 2 boxes = 8 numbers after the 6 row "
        "fields; got 3",
        f"{annotations}:5: {walking} lacks 1 of the frames 1..4 this row annotates: 003.png",
        f"{annotations}:6: {walking} lacks 1 of the frames 6..8 this row annotates: 007.png",
        f"{annotations}:7: frame folder {frames / 'person02_jogging_d2_uncomp'} does not exist "
        "(extract it with: ffmpeg -i vid/person02_jogging_d2_uncomp.avi -vf scale=160:120 "
        "frames/person02_jogging_d2_uncomp/%03d.png)",
        f"{small}: frame is 80x60, expected 160x120 (extract with ffmpeg -vf scale=160:120)",
    ]
    shutil.copy(ANNOTATIONS, annotations)
    with pytest.raises(FormatError, match="does not exist") as info:
        load_dataset("kth", copy).sequences("train")
    assert info.value.line == 7
    (walking,) = load_dataset("kth", copy).sequences("test")
    with pytest.raises(FormatError, match="cannot read frame"):
        walking.frame(3)


def test_missing_frames_folder_is_one_problem(copy):
    shutil.rmtree(copy / kth.FRAMES_DIR)
    (problem,) = problems_of(copy)
    assert problem.startswith(f"{copy / kth.FRAMES_DIR}: missing frames folder")


def test_frames_of_unused_actions_are_checked_only_when_asked(copy):
    assert problems_of(copy) == []
    (problem,) = problems_of(copy, actions=["boxing"])
    assert problem.startswith(f"{copy / kth.ANNOTATION_FILE}:9: frame folder ")
    with pytest.raises(FormatError) as info:
        load_dataset("kth", copy, actions=["boxing"], fold=1).sequences("test")
    assert info.value.line == 9
    with pytest.raises(ConfigError, match="did you mean 'walking'"):
        load_dataset("kth", copy, actions=["walkin"]).sequences("all")


def test_missing_or_empty_annotation_file(copy):
    annotations = copy / kth.ANNOTATION_FILE
    annotations.write_text("".join(ANNOTATIONS.read_text().splitlines(True)[:4]))
    assert problems_of(copy) == [f"{annotations}: no subsequence rows after the 4 header lines"]
    annotations.unlink()
    (problem,) = problems_of(copy)
    assert problem == f"{annotations}: missing KTHBoundingBoxInfo.txt (see the kth card)"
    with pytest.raises(FormatError, match="missing KTHBoundingBoxInfo.txt"):
        load_dataset("kth", copy).samples("test")


def test_split_without_clips_is_an_error_not_an_empty_list():
    with pytest.raises(FormatError, match=r"no subsequence of person\(s\) \[5\]"):
        load_dataset("kth", FIXTURE, fold=5).sequences("test")


def test_cli_check_fails_on_a_broken_copy(copy, capsys):
    edit_line(copy, 7, "2 2 9 1 1 1 10 5 90 35")
    with pytest.raises(SystemExit) as info:
        main(["datasets", "check", "kth", str(copy)])
    captured = capsys.readouterr()
    assert info.value.code == 1
    assert f"{copy / kth.ANNOTATION_FILE}:7: unknown action 9" in captured.out
    assert "1 problem(s)" in captured.err
