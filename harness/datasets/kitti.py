"""KITTI tracking (``kitti-tracking``): the MOT splits ``training``/``testing`` and HART's
single-object splits ``hart-train``/``hart-test`` (Kosiorek et al. 2017, §5.2; the released
code's hart/data/kitti/ and scripts/eval_kitti.ipynb, akosiorek/hart).

Layout: ``<root>/<split>/image_02/<seq>/<frame:06d>.png`` (0-based frame numbers, colour PNG read
with cv2 as BGR and returned RGB) and ``<root>/training/label_02/<seq>.txt``. Labels are read by
``harness.metrics.kitti`` (frames + 1, ltwh boxes); ``Sequence.gt`` holds every labelled object but
DontCare and ``Sequence.meta["kitti"]`` all rows with truncation, occlusion and 3D fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.datasets.base import DatasetAdapter, Problem, collect_problems
from harness.errors import ConfigError, FormatError
from harness.metrics.files import find_pred_files
from harness.metrics.kitti import KittiLabels, evaluate_kitti, parse_kitti, read_kitti

MOT_SPLITS = {"training": "training", "testing": "testing"}
HART_SPLITS = ("hart-train", "hart-test")
FPS = 10.0


class KittiTracking(DatasetAdapter):
    """KITTI tracking over ``root`` (the folder holding ``training/`` and ``testing/``)."""

    def folder(self, split: str, kind: str) -> Path:
        assert self.root is not None
        return self.root / MOT_SPLITS[split] / kind

    def sequence_names(self, split: str) -> list[str]:
        images = self.folder(split, "image_02")
        if not images.is_dir():
            raise FormatError("image folder not found (expected <split>/image_02/<seq>/)", images)
        return sorted(p.name for p in images.iterdir() if p.is_dir())

    def sequences(self, split: str) -> list[Sequence]:
        """The sequences of ``training`` (with labels) or ``testing`` (gt empty)."""
        self.check_split(split)
        if split not in MOT_SPLITS:
            raise ConfigError(f"split {split!r} is single-object: use samples({split!r})")
        return [self.sequence(split, name) for name in self.sequence_names(split)]

    def sequence(self, split: str, name: str) -> Sequence:
        frames = self.frame_files(split, name)
        if not frames:
            raise FormatError("no frames", self.folder(split, "image_02") / name)
        width, height = Image.open(frames[0]).size  # reads the header only
        labels = self.labels(name) if split == "training" else None
        if labels is not None and len(labels) and labels.table.frame.max() > len(frames):
            raise FormatError(
                f"labels reach frame {int(labels.table.frame.max()) - 1} (0-based) but "
                f"image_02/{name} has {len(frames)} frames",
                self.folder(split, "label_02") / f"{name}.txt",
            )
        return Sequence(
            name=name,
            num_frames=len(frames),
            width=width,
            height=height,
            fps=FPS,
            gt=BoxTable.empty() if labels is None else labels.table.select(~labels.dontcare),
            load_frame=lambda number: _read_rgb(frames[number - 1]),
            meta={"split": split, "kitti": labels, "has_gt": labels is not None},
        )

    def frame_files(self, split: str, name: str) -> list[Path]:
        return sorted((self.folder(split, "image_02") / name).glob("*.png"))

    def labels(self, name: str) -> KittiLabels:
        return read_kitti(self.folder("training", "label_02") / f"{name}.txt", "gt")

    def evaluate(
        self, pred_path: str | Path, classes: Iterable[str] = ("car", "pedestrian")
    ) -> dict:
        """Kitti2DBox metrics of a folder of ``<seq>.txt`` KITTI results on ``training``."""
        names = self.sequence_names("training")
        label_files = {n: self.folder("training", "label_02") / f"{n}.txt" for n in names}
        pred_files = find_pred_files(Path(pred_path), label_files)
        return evaluate_kitti(
            {n: self.labels(n) for n in names},
            {n: read_kitti(p, "result") for n, p in pred_files.items()},
            tuple(classes),
            {n: len(self.frame_files("training", n)) for n in names},
        )

    def samples(self, split: str) -> list[SingleObjectSample]:
        """HART's single-object windows (hart/data/kitti/, scripts/eval_kitti.ipynb) from the
        labelled ``training`` data; the plain rule on the multi-object splits."""
        self.check_split(split)
        if split not in HART_SPLITS:
            return super().samples(split)
        p = self.params
        out = []
        for sequence in self.sequences("training"):
            labels = sequence.meta["kitti"]
            keep = (
                ~labels.dontcare
                & (labels.truncated <= p["hart_max_truncated"])
                & (labels.occluded <= p["hart_max_occluded"])
            )
            tracks = object_runs(labels.table.select(keep))
            for part in hart_parts(tracks.frame, p["hart_train_fraction"])[split]:
                for start, stop in windows(part[0], part[1], p["hart_window"], p["hart_overlap"]):
                    out += window_samples(sequence, tracks, start, stop)
        return out

    def check_files(self) -> Iterable[Problem]:
        """Missing folders, image folders without labels and vice versa, gaps in frame numbers,
        every malformed label line, and labels beyond the last image."""
        problems: list[Problem] = []
        for split in MOT_SPLITS:
            images = self.folder(split, "image_02")
            if not images.is_dir():
                problems.append(Problem(images, None, "missing folder"))
                continue
            for name in self.sequence_names(split):
                problems += _frame_problems(images / name)
        labels_dir = self.folder("training", "label_02")
        if not labels_dir.is_dir():
            return problems + [Problem(labels_dir, None, "missing folder")]
        images = self.folder("training", "image_02")
        names = set(self.sequence_names("training")) if images.is_dir() else set()
        label_files = {p.stem: p for p in labels_dir.glob("*.txt")}
        for name in sorted(names - set(label_files)):
            problems.append(Problem(labels_dir / f"{name}.txt", None, "missing label file"))
        for name, path in sorted(label_files.items()):
            if images.is_dir() and name not in names:
                problems.append(Problem(images / name, None, "missing image folder for labels"))
            labels = _label_problems(path, problems)
            frames = len(self.frame_files("training", name))
            if labels is not None and frames and labels.table.frame.max() > frames:
                row = int(np.argmax(labels.table.frame > frames))
                problems.append(
                    Problem(
                        path,
                        _line_of_row(path, row),
                        f"frame {int(labels.table.frame[row]) - 1} but image_02/{name} has "
                        f"{frames} frames",
                    )
                )
        return problems


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FormatError("unreadable image", path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _frame_problems(folder: Path) -> list[Problem]:
    frames = sorted(folder.glob("*.png"))
    if not frames:
        return [Problem(folder, None, "no frames (<frame:06d>.png)")]
    expected = [f"{i:06d}.png" for i in range(len(frames))]
    wrong = [f.name for f, e in zip(frames, expected) if f.name != e]
    if wrong:
        return [
            Problem(folder, None, f"frames must be 000000.png.. without gaps; found {wrong[0]}")
        ]
    return []


def _label_problems(path: Path, problems: list[Problem]) -> KittiLabels | None:
    """Parse a label file; on failure, report each malformed line (or, when every line parses
    alone, the problem between lines such as a repeated id)."""
    labels = collect_problems(lambda: read_kitti(path, "gt"), problems)
    if labels is not None:
        return labels
    whole = problems.pop()
    per_line = []
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                parse_kitti(line, "gt", path)
            except FormatError as error:
                per_line.append(Problem(path, number, error.message))
    problems += per_line or [whole]
    return None


def _line_of_row(path: Path, row: int) -> int:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [n for n, line in enumerate(lines, 1) if line.strip()][row]


def object_runs(table: BoxTable) -> BoxTable:
    """``table`` with each object's runs of consecutive frames as separate objects (HART's
    ``split_on_reappear``), ids 0..n-1 in order of (first frame, original id); sorted by
    (frame, id)."""
    order = np.lexsort((table.frame, table.id))
    frame, ids = table.frame[order], table.id[order]
    new = np.r_[True, (ids[1:] != ids[:-1]) | (frame[1:] != frame[:-1] + 1)]
    run = np.cumsum(new) - 1
    rank = np.empty(int(new.sum()), dtype=np.int64)
    rank[np.lexsort((ids[new], frame[new]))] = np.arange(len(rank))
    runs = table.select(order)
    return BoxTable(runs.frame, rank[run], runs.box, runs.conf, runs.cls, runs.visibility).sorted()


def hart_parts(frames: np.ndarray, fraction: float) -> dict[str, list[tuple[int, int]]]:
    """Frame ranges [first, last] per HART split: labelled frames cut into runs of consecutive
    frames, each run split ``split_sequence``-style (first ``int(fraction * n + 0.5)`` frames to
    train; runs of <= 2 frames, or a 1-frame remainder, all to train)."""
    labelled = np.unique(frames)
    parts: dict[str, list[tuple[int, int]]] = {"hart-train": [], "hart-test": []}
    if not len(labelled):
        return parts
    breaks = np.flatnonzero(np.diff(labelled) > 1)
    for first, last in zip(labelled[np.r_[0, breaks + 1]], labelled[np.r_[breaks, -1]]):
        n = int(last - first + 1)
        split = int(fraction * n + 0.5)
        if n <= 2 or n - split == 1:
            parts["hart-train"].append((int(first), int(last)))
        else:
            parts["hart-train"].append((int(first), int(first) + split - 1))
            parts["hart-test"].append((int(first) + split, int(last)))
    return parts


def windows(first: int, last: int, length: int, overlap: float) -> list[tuple[int, int]]:
    """HART's ``split_seq`` windows [start, stop) over frames first..last: the whole range if it
    fits in ``length``, else windows of ``length`` every ``length - int(overlap * length)``
    frames that end inside the range (a shorter tail is dropped)."""
    n = last - first + 1
    if n <= length:
        return [(first, last + 1)]
    step = length - int(overlap * length)
    return [(first + s, first + s + length) for s in range(0, n - length + 1, step)]


def window_samples(
    sequence: Sequence, tracks: BoxTable, start: int, stop: int
) -> list[SingleObjectSample]:
    """One sample per object present in frame ``start``, truncated at its first absence before
    ``stop``; samples of one frame are skipped."""
    samples = []
    for object_id in tracks.id[tracks.frame == start]:
        rows = np.flatnonzero(
            (tracks.id == object_id) & (tracks.frame >= start) & (tracks.frame < stop)
        )
        if len(rows) >= 2:
            samples.append(
                SingleObjectSample(sequence, int(object_id), tracks.frame[rows], tracks.box[rows])
            )
    return samples
