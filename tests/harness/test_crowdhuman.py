"""CrowdHuman: odgt boxes and ignore regions, pseudo-identities, box kinds, errors, lazy images."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from paths import ROOT
from PIL import Image

from harness.data import BoxTable
from harness.datasets import load_dataset
from harness.errors import ConfigError, FormatError
from harness.metrics import evaluate

SIZES = {"273271,c9db000d5146c15": (40, 30), "273271,1017c000ac1360b7": (24, 16), "img3": (8, 8)}
"""Image ID -> (width, height) of the fixture's images."""


def gtbox(tag, fbox, ignore=None, head_ignore=None):
    """A gtbox: vbox is fbox plus 1 in every number, hbox the 2x2 box at fbox's top-left."""
    box = {"tag": tag, "fbox": fbox, "vbox": [v + 1 for v in fbox], "hbox": [*fbox[:2], 2, 2]}
    if ignore is not None:
        box["extra"] = {"box_id": 0, "ignore": ignore}
    if head_ignore is not None:
        box["head_attr"] = {"ignore": head_ignore, "occ": 0}
    return box


LINES = [
    {
        "ID": "273271,c9db000d5146c15",
        "gtboxes": [
            gtbox("person", [1, 2, 10, 20], ignore=0, head_ignore=1),
            gtbox("person", [-5, 3, 12, 40], ignore=1),  # ignored, partly outside the image
            gtbox("person", [30, 4, 6, 8]),  # no extra: a person
        ],
    },
    {"ID": "273271,1017c000ac1360b7", "gtboxes": [gtbox("mask", [0, 0, 24, 16], ignore=1)]},
    {
        "ID": "img3",
        "gtboxes": [gtbox("person", [2, 2, 3, 3], ignore=0), gtbox("mask", [0, 0, 1, 1])],
    },
]


def write_copy(root: Path, lines=LINES, image_dir="Images") -> Path:
    """A CrowdHuman copy at ``root``: annotation_train.odgt of ``lines`` and a red JPG per ID."""
    folder = root / image_dir
    folder.mkdir(parents=True, exist_ok=True)
    for image_id, (width, height) in SIZES.items():
        cv2.imwrite(
            str(folder / f"{image_id}.jpg"), np.full((height, width, 3), (0, 0, 255), np.uint8)
        )
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    (root / "annotation_train.odgt").write_text(text + "\n", encoding="utf-8")
    return root


def test_each_image_is_a_one_frame_sequence_with_its_full_boxes(tmp_path):
    sequences = load_dataset("crowdhuman", write_copy(tmp_path)).sequences("train")
    assert [s.name for s in sequences] == list(SIZES)
    assert [(s.width, s.height, s.num_frames) for s in sequences] == [
        (40, 30, 1),
        (24, 16, 1),
        (8, 8, 1),
    ]
    first = sequences[0].gt
    assert first.frame.tolist() == [1, 1, 1]
    np.testing.assert_array_equal(first.box, [[1, 2, 10, 20], [-5, 3, 12, 40], [30, 4, 6, 8]])


def test_ignored_boxes_and_mask_tags_are_ignore_regions_after_the_persons_ids(tmp_path):
    gt = BoxTable.concat(
        [s.gt for s in load_dataset("crowdhuman", write_copy(tmp_path)).sequences("train")]
    )
    assert gt.conf.tolist() == [1, 0, 1, 0, 1, 0]  # extra.ignore 1, tag mask (with or without it)
    assert gt.cls.tolist() == [1, 8, 1, 8, 1, 8]
    assert gt.id.tolist() == [1, 4, 2, 5, 3, 6]  # persons 1..3 in file order, as OUTrack's ids


def test_predictions_on_ignore_regions_are_not_false_positives(tmp_path):
    sequences = load_dataset("crowdhuman", write_copy(tmp_path)).sequences("train")
    gt = {s.name: s.gt for s in sequences}
    pred = {
        s.name: BoxTable.build(s.gt.frame, s.gt.box, s.gt.id, np.ones(len(s.gt))) for s in sequences
    }
    scores = evaluate(gt, pred, protocol="mot17")["combined"]
    assert (scores["FP"], scores["FN"], scores["MOTA"]) == (0, 0, 1.0)


@pytest.mark.parametrize(("box", "first"), [("visible", [2, 3, 11, 21]), ("head", [1, 2, 2, 2])])
def test_the_box_param_picks_the_visible_or_head_box(tmp_path, box, first):
    (sequence, *_) = load_dataset("crowdhuman", write_copy(tmp_path), box=box).sequences("train")
    np.testing.assert_array_equal(sequence.gt.box[0], first)
    # head_attr.ignore counts for head boxes only
    assert sequence.gt.conf.tolist() == ([0, 0, 1] if box == "head" else [1, 0, 1])


def test_an_unknown_box_kind_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"'box' must be one of \['full', 'visible', 'head'\]"):
        load_dataset("crowdhuman", tmp_path, box="torso")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"ID": "img3", "gtboxes": [{"tag": "person", "vbox": [0, 0, 1, 1]}]},
            "gtboxes[0] has no fbox",
        ),
        ({"ID": "img3", "gtboxes": [{"tag": "head", "fbox": [0, 0, 1, 1]}]}, "has tag 'head'"),
        (
            {"ID": "img3", "gtboxes": [{"tag": "mask", "fbox": [0, 0, 1]}]},
            "fbox must be [x, y, w, h]",
        ),
        (
            {"ID": "img3", "gtboxes": [{"tag": "mask", "fbox": [0, 0, 1, 1], "extra": 1}]},
            "extra is not",
        ),
        ({"gtboxes": []}, "no ID"),
        ({"ID": "../img3", "gtboxes": []}, "not a file name"),
        ('{"ID": "img3", ', "not JSON"),
        (LINES[0], "ID '273271,c9db000d5146c15' repeats line 1"),
    ],
)
def test_a_malformed_line_is_a_format_error_naming_file_and_line(tmp_path, line, message):
    write_copy(tmp_path, [*LINES[:2], line])
    with pytest.raises(FormatError) as error:
        load_dataset("crowdhuman", tmp_path).sequences("train")
    assert error.value.line == 3 and message in error.value.message
    assert str(error.value).startswith(f"{tmp_path / 'annotation_train.odgt'}:3: ")


def test_missing_folders_are_config_errors_and_missing_images_name_their_line(tmp_path):
    adapter = load_dataset("crowdhuman", write_copy(tmp_path))
    with pytest.raises(ConfigError, match="no annotation file"):
        adapter.sequences("val")
    (tmp_path / "Images" / "img3.jpg").unlink()
    with pytest.raises(FormatError, match="img3.jpg is missing") as error:
        adapter.sequences("train")
    assert error.value.line == 3
    for image in (tmp_path / "Images").iterdir():
        image.unlink()
    (tmp_path / "Images").rmdir()
    with pytest.raises(ConfigError, match="no image folder"):
        adapter.sequences("train")


def test_check_lists_every_problem_of_a_copy(tmp_path):
    write_copy(tmp_path, [LINES[0], "[]", {"ID": "gone", "gtboxes": []}, {"ID": "x"}])
    problems = [str(p) for p in load_dataset("crowdhuman", tmp_path).check()]
    odgt = tmp_path / "annotation_train.odgt"
    assert problems == [
        f"{odgt}:2: expected a JSON object" + ' {"ID": ..., "gtboxes": [...]}',
        f"{odgt}:4: no gtboxes list",
        f"{odgt}:3: no image gone.jpg in {tmp_path / 'Images'}",
        f"{tmp_path / 'annotation_val.odgt'}: missing annotation file",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [str(p) for p in load_dataset("crowdhuman", empty).check()] == [
        f"{empty / 'Images'}: missing image folder",  # once, though both splits use it
        f"{empty / 'annotation_train.odgt'}: missing annotation file",
        f"{empty / 'annotation_val.odgt'}: missing annotation file",
    ]


def test_images_load_lazily_as_stored_rgb_from_the_split_s_folder(tmp_path, monkeypatch):
    write_copy(tmp_path, image_dir="images/train")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees to display": OUTrack reads the stored pixels
    Image.new("RGB", (8, 4)).save(tmp_path / "images/train/img3.jpg", exif=exif)
    reads = []
    imread = cv2.imread
    monkeypatch.setattr(cv2, "imread", lambda *args: reads.append(args[0]) or imread(*args))
    adapter = load_dataset("crowdhuman", tmp_path, image_dir="images/{split}")
    sequences = adapter.sequences("train")
    assert reads == []
    red = sequences[0].frame(1)
    assert red.shape == (30, 40, 3) and red.dtype == np.uint8
    assert red[..., 0].min() > 240 and red[..., 2].max() < 15
    assert sequences[2].frame(1).shape == (4, 8, 3) and (
        sequences[2].width,
        sequences[2].height,
    ) == (8, 4)
    assert len(reads) == 2


def test_nothing_outside_the_given_root_is_read(tmp_path, monkeypatch):
    """Only the copy at ``root`` is opened (audit hook on Python's opens, OpenCV's reads wrapped):
    no card default, nothing beside the repository."""
    write_copy(tmp_path)
    opened: list[str] = []
    recording = [True]

    def hook(event, args):
        if recording[0] and event == "open" and isinstance(args[0], str | Path):
            opened.append(str(args[0]))

    sys.addaudithook(hook)
    imread = cv2.imread
    monkeypatch.setattr(cv2, "imread", lambda *args: opened.append(args[0]) or imread(*args))
    try:
        adapter = load_dataset("crowdhuman", tmp_path)
        for sequence in adapter.sequences("train"):
            sequence.frame(1)
        adapter.check()
    finally:
        recording[0] = False
    data = [p for p in opened if p.endswith((".odgt", ".jpg"))]
    assert len(data) >= 1 + 2 * len(SIZES) and all(Path(p).is_relative_to(tmp_path) for p in data)
    allowed = [Path(b).resolve() for b in (tmp_path, ROOT, sys.prefix, sys.base_prefix)]
    outside = [p for p in opened if not any(Path(p).resolve().is_relative_to(b) for b in allowed)]
    assert outside == []  # nothing but the root, the repository and the interpreter
