"""CrowdHuman (``crowdhuman``; Shao et al., arXiv:1805.00123): still images of crowds, each image a
one-frame sequence, read as OUTrack reads them for pretraining (liuqk3/OUTrack
src/tools/gen_json_annotations.py:146-208).

Layout: ``<root>/annotation_{train,val}.odgt`` (one JSON object per line, ``{"ID": ..., "gtboxes":
[...]}``, https://www.crowdhuman.org/download.html) and the images ``<root>/<image_dir>/<ID>.jpg``;
the ``image_dir`` param is ``Images`` (where the zips unpack), and ``{split}`` in it is the split's
name (OUTrack's ``images/{split}``, line 161).

The sequence of image ``<ID>`` is named ``<ID>``; its ground truth is frame 1:

- boxes of the ``box`` param's kind: ``full`` (``fbox``, OUTrack's, line 196), ``visible``
  (``vbox``) or ``head`` (``hbox``), ltwh pixels as stored; boxes partly outside the image are kept
  as they are (OUTrack does not clip them either; it only normalises by the image size);
- a ``person`` box is class 1 (pedestrian) with consider flag 1;
- an ignored box is an ignore region, class 8 (MOTChallenge's distractor) with consider flag 0:
  ``extra.ignore == 1`` (OUTrack skips these, line 194), tag ``mask`` (crowds, reflections,
  person-like things; the dataset marks them ``extra.ignore`` 1 as well) and, with ``box: head``,
  ``head_attr.ignore == 1``. Under the card's mot17 preprocessing a prediction matched to an
  ignore region is removed and the region is no ground truth;
- ids are pseudo-identities, one per box and unique over the split, as FairMOT's re-ID
  classification uses them: the persons are 1..N in file order (OUTrack's ``object_id``,
  line 200), the ignore regions N+1.. after them;
- visibility is -1 (unknown).

Image sizes come from the headers; pixels are read lazily with OpenCV, ignoring the EXIF
orientation as OUTrack does (lines 188-191), so they match the stored boxes, and handed out RGB.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from harness.data import BoxTable, Sequence
from harness.datasets.base import DatasetAdapter, Problem
from harness.errors import ConfigError, FormatError

BOX_KEYS = {"full": "fbox", "visible": "vbox", "head": "hbox"}
"""The ``box`` param's values and the odgt key of each."""
TAGS = ("person", "mask")
PEDESTRIAN = 1
IGNORE_CLASS = 8
"""MOTChallenge's distractor class: what an ignore region is in the ground truth."""
FPS = 1.0
"""Nominal: every sequence is one still image."""


@dataclass(frozen=True)
class OdgtImage:
    """One line of an odgt file: the image ``id``, its boxes (n, 4) ltwh and which of them are
    ignore regions (n,)."""

    id: str
    line: int
    boxes: np.ndarray
    ignored: np.ndarray


def parse_odgt_line(text: str, box: str, path: Path, line: int) -> OdgtImage:
    """The image on odgt ``line`` with its ``box`` (a ``BOX_KEYS`` value) boxes; a FormatError
    naming ``path``, ``line`` and the problem if the line is malformed."""
    try:
        entry = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not JSON ({exc.msg} at column {exc.colno})", path, line) from None
    if not isinstance(entry, dict):
        raise FormatError('expected a JSON object {"ID": ..., "gtboxes": [...]}', path, line)
    image_id = entry.get("ID")
    if not isinstance(image_id, str) or not image_id or "/" in image_id or "\\" in image_id:
        raise FormatError(
            f"no ID, or not a file name (the image's name without .jpg): {image_id!r}", path, line
        )
    gtboxes = entry.get("gtboxes")
    if not isinstance(gtboxes, list):
        raise FormatError("no gtboxes list", path, line)
    boxes, ignored = [], []
    for index, gtbox in enumerate(gtboxes):
        where = f"gtboxes[{index}]"
        if not isinstance(gtbox, dict):
            raise FormatError(f"{where} is not an object", path, line)
        if gtbox.get("tag") not in TAGS:
            raise FormatError(
                f"{where} has tag {gtbox.get('tag')!r}, expected 'person' or 'mask'", path, line
            )
        if box not in gtbox:
            raise FormatError(f"{where} has no {box}", path, line)
        value = gtbox[box]
        if not (
            isinstance(value, list) and len(value) == 4 and all(_is_finite_number(v) for v in value)
        ):
            raise FormatError(
                f"{where}.{box} must be [x, y, w, h] numbers, got {value!r}", path, line
            )
        boxes.append(value)
        person, head = (_ignore_flag(gtbox, f, where, path, line) for f in ("extra", "head_attr"))
        ignored.append(gtbox["tag"] == "mask" or person or (box == "hbox" and head))
    return OdgtImage(
        image_id, line, np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(ignored, bool)
    )


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ignore_flag(gtbox: dict, field: str, where: str, path: Path, line: int) -> bool:
    """Whether ``gtbox[field]["ignore"] == 1`` (the field and its key are optional)."""
    attributes = gtbox.get(field, {})
    if not isinstance(attributes, dict):
        raise FormatError(f"{where}.{field} is not an object", path, line)
    return attributes.get("ignore") == 1


def read_odgt(path: Path, box: str) -> tuple[list[OdgtImage], list[Problem]]:
    """Every well-formed image of odgt file ``path`` and a problem for each malformed line (a
    repeated ID included); blank lines are skipped."""
    images: list[OdgtImage] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                image = parse_odgt_line(text, box, path, number)
            except FormatError as error:
                problems.append(Problem.from_error(error))
                continue
            if image.id in first_line:
                problems.append(
                    Problem(path, number, f"ID {image.id!r} repeats line {first_line[image.id]}")
                )
                continue
            first_line[image.id] = number
            images.append(image)
    return images, problems


def pseudo_ids(ignored: np.ndarray) -> np.ndarray:
    """One id per box of a split (``ignored`` in file order): the persons 1..N in order, the
    ignore regions N+1.. after them."""
    ids = np.empty(len(ignored), np.int64)
    persons = int((~ignored).sum())
    ids[~ignored] = np.arange(1, persons + 1)
    ids[ignored] = np.arange(persons + 1, len(ignored) + 1)
    return ids


class CrowdHuman(DatasetAdapter):
    """CrowdHuman over ``root`` (the folder holding the odgt files): see the module docstring."""

    def __init__(self, card: dict[str, Any], root: str | Path | None = None, **params: Any):
        super().__init__(card, root, **params)
        if self.params["box"] not in BOX_KEYS:
            raise ConfigError(
                f"dataset {card['name']!r} parameter 'box' must be one of {list(BOX_KEYS)}, got"
                f" {self.params['box']!r}"
            )

    def annotation_file(self, split: str) -> Path:
        assert self.root is not None
        return self.root / f"annotation_{split}.odgt"

    def image_folder(self, split: str) -> Path:
        assert self.root is not None
        return self.root / self.params["image_dir"].replace("{split}", split)

    def sequences(self, split: str) -> list[Sequence]:
        """One one-frame sequence per image of ``split``, in file order. A missing annotation
        file or image folder is a ConfigError; the first malformed line, or an image missing from
        the folder, a FormatError naming the odgt line."""
        self.check_split(split)
        odgt, folder = self.annotation_file(split), self.image_folder(split)
        if not odgt.is_file():
            raise ConfigError(f"no annotation file (expected {odgt.name} in the root)", odgt)
        if not folder.is_dir():
            raise ConfigError("no image folder (expected <ID>.jpg files here)", folder)
        images, problems = read_odgt(odgt, BOX_KEYS[self.params["box"]])
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more malformed line(s))" if len(problems) > 1 else ""
            raise FormatError(first.message + more, first.path, first.line)
        if not images:
            raise FormatError("no images", odgt)
        ids = pseudo_ids(np.concatenate([image.ignored for image in images]))
        per_image = np.split(ids, np.cumsum([len(image.ignored) for image in images[:-1]]))
        return [self._sequence(split, image, i, odgt) for image, i in zip(images, per_image)]

    def _sequence(self, split: str, image: OdgtImage, ids: np.ndarray, odgt: Path) -> Sequence:
        path = self.image_folder(split) / f"{image.id}.jpg"
        try:
            with Image.open(path) as header:
                width, height = header.size
        except OSError:
            raise FormatError(f"image {path} is missing or unreadable", odgt, image.line) from None
        n = len(ids)
        gt = BoxTable.build(
            frame=np.ones(n),
            box=image.boxes,
            id=ids,
            conf=np.where(image.ignored, 0.0, 1.0),
            cls_=np.where(image.ignored, IGNORE_CLASS, PEDESTRIAN),
        )
        return Sequence(
            name=image.id,
            num_frames=1,
            width=width,
            height=height,
            fps=FPS,
            gt=gt,
            load_frame=lambda number: _read_rgb(path),
            meta={"split": split, "has_gt": True, "odgt_line": image.line},
        )

    def check_files(self) -> Iterable[Problem]:
        """Missing annotation files and image folders, every malformed odgt line, and images
        the annotations name that the folder lacks (the first, with a count); a folder the
        splits share is reported once."""
        folders = {self.image_folder(split) for split in self.splits()}
        for folder in sorted(f for f in folders if not f.is_dir()):
            yield Problem(folder, None, "missing image folder")
        for split in self.splits():
            odgt, folder = self.annotation_file(split), self.image_folder(split)
            if not odgt.is_file():
                yield Problem(odgt, None, "missing annotation file")
                continue
            images, problems = read_odgt(odgt, BOX_KEYS[self.params["box"]])
            yield from problems
            if not folder.is_dir():
                continue
            missing = [i for i in images if not (folder / f"{i.id}.jpg").is_file()]
            if missing:
                more = f" ({len(missing) - 1} more image(s) missing)" if len(missing) > 1 else ""
                yield Problem(
                    odgt, missing[0].line, f"no image {missing[0].id}.jpg in {folder}{more}"
                )


def _read_rgb(path: Path) -> np.ndarray:
    """The image at ``path`` as stored (EXIF orientation ignored), uint8 HxWx3 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise FormatError("cannot read image", path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
