"""DukeMTMC (Ristani et al. 2016) as Tracking by Animation uses it (He et al. 2019, §4.2; the
released code's scripts/gen_duke_*.py and scripts/get_metric_txt.py, zhen-he/tracking-by-animation).

Layout under the root: ``ground_truth/trainval.mat`` (variable ``trainData``, one row per box:
camera, ID, frame, left, top, width, height, worldX, worldY, feetX, feetY; frames camera-local at
60 fps) and ``frames/camera{c}/`` with every frame as a JPG named by ``frame_pattern``
(1-based camera-local numbers, continuous across the video segments).

Cameras are synchronised by ``START_TIMES``: local frame = global frame - (start_time - 1). A split
is a global frame interval; each camera gives one Sequence per split, its frame 1 being the
split's first local frame (``meta["local_offset"]`` = that local frame - 1).

With the ``tba`` param the sequences are TBA's input: every 6th frame, local frames with
(frame - 1) % 6 == 0 (gen_duke_bb.py, IMBS at 10 fps), resized to 108x192 (``harness.transforms``).
``submission_rows`` undoes both (boxes back to 1080x1920, skipped 60 fps frames interpolated) and
``write_submission`` writes the DukeMTMCT file ``cam,id,frame,left,top,w,h``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from harness.data import BoxTable, Sequence
from harness.datasets.base import DatasetAdapter, Problem, collect_problems
from harness.errors import ConfigError, FormatError
from harness.transforms import Resize, Subsample, restore

START_TIMES = (5543, 3607, 27244, 31182, 1, 22402, 18968, 46766)
"""Global frame at which each camera 1..8 starts (gen_duke_processed.py, DukeMTMC devkit)."""
CAMERAS = tuple(range(1, len(START_TIMES) + 1))
TRAIN_DATA_COLUMNS = 11
FPS = 60.0
MAT_PATH = Path("ground_truth") / "trainval.mat"
SUBMISSION_COLUMNS = 7


def global_to_local(camera: int, frame):
    """Camera-local frame number of global frame(s) ``frame``."""
    return np.asarray(frame) - (START_TIMES[camera - 1] - 1)


def local_to_global(camera: int, frame):
    """Global frame number of camera-local frame(s) ``frame``."""
    return np.asarray(frame) + (START_TIMES[camera - 1] - 1)


def read_train_data(path: str | Path) -> np.ndarray:
    """``trainData`` of a MATLAB v5 trainval.mat, checked; raises FormatError at the first problem.

    The official file is a v5 MAT-file (TBA's gen_duke_bb.py reads it with scipy.io.loadmat,
    which cannot read v7.3), so no HDF5 reader is needed; a v7.3 copy gets a message saying how
    to convert it.
    """
    data, problems = _load_train_data(Path(path))
    if problems:
        raise FormatError(problems[0].message, problems[0].path, problems[0].line)
    assert data is not None  # None comes with a problem
    return data


def _load_train_data(path: Path) -> tuple[np.ndarray | None, list[Problem]]:
    """``trainData`` (None when unreadable) and every problem found in it."""
    if not path.is_file():
        return None, [Problem(path, None, "missing file (the DukeMTMC ground truth)")]
    with path.open("rb") as handle:
        header = handle.read(128)
    if header.startswith(b"MATLAB 7.3"):
        message = "MATLAB v7.3 (HDF5) file; re-save it as v7 in MATLAB: save(f, 'trainData', '-v7')"
        return None, [Problem(path, None, message)]
    try:
        content = scipy.io.loadmat(path, variable_names=["trainData"])
    except (ValueError, NotImplementedError, OSError, TypeError) as exc:
        return None, [Problem(path, None, f"unreadable MAT-file: {exc}")]
    if "trainData" not in content:
        return None, [Problem(path, None, "no variable 'trainData'")]
    data = content["trainData"]
    if (
        data.ndim != 2
        or data.shape[1] != TRAIN_DATA_COLUMNS
        or not np.issubdtype(data.dtype, np.number)
    ):
        message = (
            f"trainData must be a numeric n x {TRAIN_DATA_COLUMNS} matrix, "
            f"got {data.dtype} {'x'.join(map(str, data.shape))}"
        )
        return None, [Problem(path, None, message)]
    data = data.astype(np.float64)
    return data, [Problem(path, row, message) for row, message in _row_problems(data)]


def _row_problems(data: np.ndarray) -> Iterator[tuple[int, str]]:
    """(1-based row, message) for every malformed row of trainData."""
    head = data[:, :7]
    integral = np.isfinite(head[:, :3]) & (head[:, :3] == np.round(head[:, :3]))
    checks = [
        (~np.isfinite(head).all(axis=1), "a non-finite value in the first 7 columns"),
        (~integral.all(axis=1), "camera, ID and frame must be integers"),
        (integral[:, 0] & ~np.isin(head[:, 0], CAMERAS), "camera outside 1..8"),
        (integral[:, 2] & (head[:, 2] < 1), "frame < 1 (frames are 1-based)"),
        (~(head[:, 5] > 0) | ~(head[:, 6] > 0), "width and height must be > 0"),
    ]
    bad = np.zeros(len(data), dtype=bool)
    for mask, _ in checks:
        bad |= mask
    for row in np.flatnonzero(bad):
        found = "; ".join(message for mask, message in checks if mask[row])
        yield int(row) + 1, f"row {row + 1} of trainData: {found}"


def read_frame(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A JPG frame as uint8 HxWx3 RGB (OpenCV reads BGR), checked to be ``size`` (h, w)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FormatError("missing or unreadable frame image", path)
    if image.shape[:2] != tuple(size):
        raise FormatError(
            f"frame is {image.shape[0]}x{image.shape[1]}, the card's frame_size is "
            f"{size[0]}x{size[1]}",
            path,
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class DukeMTMC(DatasetAdapter):
    """DukeMTMC over ``root``; one sequence per camera per split (see the module docstring)."""

    def interval(self, split: str, camera: int) -> tuple[int, int]:
        """First and last camera-local frame of ``split`` for ``camera``."""
        self.check_split(split)
        first, last = self.params["intervals"][split]
        return int(global_to_local(camera, first)), int(global_to_local(camera, last))

    def camera_dir(self, camera: int) -> Path:
        assert self.root is not None
        return self.root / "frames" / f"camera{camera}"

    def frame_path(self, camera: int, local_frame: int) -> Path:
        return self.camera_dir(camera) / self.params["frame_pattern"].format(frame=local_frame)

    def _root(self) -> Path:
        if self.root is None or not self.root.is_dir():
            raise ConfigError("DukeMTMC needs the root folder of a copy", self.root)
        return self.root

    def sequences(self, split: str) -> list[Sequence]:
        self.check_split(split)
        root = self._root()
        has_gt = self.card["splits"][split].get("ground_truth", False)
        data = read_train_data(root / MAT_PATH) if has_gt else None
        sequences = []
        for camera in CAMERAS:
            if not self.camera_dir(camera).is_dir():
                raise FormatError("missing camera frame folder", self.camera_dir(camera))
            sequence = self._sequence(split, camera, data)
            sequences.append(self.tba_transform(sequence) if self.params["tba"] else sequence)
        return sequences

    def _sequence(self, split: str, camera: int, data: np.ndarray | None) -> Sequence:
        first, last = self.interval(split, camera)
        offset = first - 1
        height, width = self.params["frame_size"]
        gt = BoxTable.empty()
        if data is not None:
            rows = data[(data[:, 0] == camera) & (data[:, 2] >= first) & (data[:, 2] <= last)]
            gt = BoxTable.build(frame=rows[:, 2] - offset, id=rows[:, 1], box=rows[:, 3:7]).sorted()

        def load_frame(number: int) -> np.ndarray:
            return read_frame(self.frame_path(camera, number + offset), (height, width))

        return Sequence(
            name=f"camera{camera}-{split}",
            num_frames=last - first + 1,
            width=width,
            height=height,
            fps=FPS,
            gt=gt,
            load_frame=load_frame,
            meta={
                "camera": camera,
                "split": split,
                "local_offset": offset,
                "has_gt": data is not None,
            },
        )

    def tba_transform(self, sequence: Sequence) -> Sequence:
        """TBA's input: local frames with (frame - 1) % step == 0, resized to ``tba_size``."""
        step = self.params["tba_step"]
        offset = (1 - (sequence.meta["local_offset"] + 1)) % step
        height, width = self.params["tba_size"]
        subsampled = Subsample(step, offset, interpolate=True).apply(sequence)
        return Resize(height, width).apply(subsampled)

    def check_files(self) -> Iterable[Problem]:
        """Missing or malformed trainval.mat rows, camera folders, frames and frame sizes."""
        problems: list[Problem] = []
        if any(split.get("ground_truth") for split in self.card["splits"].values()):
            assert self.root is not None  # check() returns early without it
            problems += _load_train_data(self.root / MAT_PATH)[1]
        for camera in CAMERAS:
            folder = self.camera_dir(camera)
            if not folder.is_dir():
                problems.append(Problem(folder, None, "missing camera frame folder"))
                continue
            present = {entry.name for entry in os.scandir(folder)}
            for split in self.splits():
                first, last = self.interval(split, camera)
                missing = [f for f in range(first, last + 1) if self._name(f) not in present]
                if missing:
                    problems.append(
                        Problem(
                            folder,
                            None,
                            f"{len(missing)} of {last - first + 1} frames of split {split} "
                            f"missing: local frames {_ranges(missing)}",
                        )
                    )
            problems += self._frame_size_problems(camera, present)
        return problems

    def _name(self, local_frame: int) -> str:
        return self.params["frame_pattern"].format(frame=local_frame)

    def _frame_size_problems(self, camera: int, present: set[str]) -> list[Problem]:
        """The camera's first present frame (in split order) must be readable and ``frame_size``."""
        for split in self.splits():
            first, last = self.interval(split, camera)
            frame = next((f for f in range(first, last + 1) if self._name(f) in present), None)
            if frame is not None:
                break
        problems: list[Problem] = []
        if frame is not None:
            path = self.frame_path(camera, frame)
            collect_problems(lambda: read_frame(path, self.params["frame_size"]), problems)
        return problems


def _ranges(frames: list[int], shown: int = 5) -> str:
    """``a-b, c, ...`` for sorted ``frames``, the first ``shown`` runs."""
    values = np.asarray(frames)
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    runs = [(int(run[0]), int(run[-1])) for run in np.split(values, breaks)]
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:shown])
    return text + (f", ... ({len(runs) - shown} more runs)" if len(runs) > shown else "")


def submission_rows(table: BoxTable, sequence: Sequence) -> BoxTable:
    """A result on a DukeMTMC sequence (TBA-transformed or not) in camera-local frames and pixels.

    Undoes the recorded transforms (``harness.transforms.restore``: interpolation of skipped
    frames, boxes back to full size), then adds the split's local frame offset.
    """
    restored = restore(table, sequence)
    source = sequence
    while "source" in source.meta:
        source = source.meta["source"]
    return replace(restored, frame=restored.frame + source.meta["local_offset"])


def write_submission(path: str | Path, tables: Mapping[int, BoxTable], decimals: int = 3) -> None:
    """Write the DukeMTMCT file ``cam,id,frame,left,top,w,h`` (TBA's duke.txt).

    ``tables`` maps camera -> result in camera-local frames (``submission_rows``); cameras are
    concatenated in order 1..8, rows by (frame, id) within a camera. TBA's get_metric_txt.py writes
    ``%.3f`` boxes.
    """
    lines = []
    for camera in sorted(tables):
        table = tables[camera].sorted()
        for frame, track, box in zip(table.frame, table.id, table.box, strict=True):
            coords = ",".join(f"{v:.{decimals}f}" for v in box)
            lines.append(f"{camera},{track},{frame},{coords}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def read_submission(path: str | Path) -> dict[int, BoxTable]:
    """Read a DukeMTMCT submission into camera -> BoxTable (camera-local frames), validated."""
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", path)
    fields, numbers = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != SUBMISSION_COLUMNS:
            raise FormatError(
                f"expected {SUBMISSION_COLUMNS} columns (cam,id,frame,left,top,w,h), found "
                f"{len(parts)}",
                path,
                number,
            )
        fields.append(parts)
        numbers.append(number)
    try:
        values = np.array(fields, dtype=np.float64).reshape(-1, SUBMISSION_COLUMNS)
    except ValueError:
        values = np.array([_floats(parts, path, line) for parts, line in zip(fields, numbers)])
    lines = np.array(numbers, dtype=np.int64)
    integral = values[:, :3] == np.round(values[:, :3])
    checks = [
        (~np.isfinite(values).all(axis=1), "non-finite value"),
        (~integral.all(axis=1), "cam, id and frame must be integers"),
        (~np.isin(values[:, 0], CAMERAS), "cam outside 1..8"),
        (values[:, 2] < 1, "frame < 1 (frames are 1-based)"),
        (~(values[:, 5] > 0) | ~(values[:, 6] > 0), "w and h must be > 0"),
    ]
    for mask, message in checks:
        if mask.any():
            raise FormatError(message, path, int(lines[mask][0]))
    return {
        int(camera): BoxTable.build(
            frame=values[rows, 2], id=values[rows, 1], box=values[rows, 3:7]
        )
        for camera in np.unique(values[:, 0])
        for rows in [values[:, 0] == camera]
    }


def _floats(parts: list[str], path: Path, line: int) -> list[float]:
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise FormatError(f"non-numeric value in {','.join(parts)!r}", path, line) from None


def background_images(
    sequence: Sequence, history: int = 500, var_threshold: float = 16.0
) -> Iterator[np.ndarray]:
    """Background estimate after each frame of ``sequence`` (uint8 HxWxC, the frames' channels).

    OpenCV MOG2 (``cv2.createBackgroundSubtractorMOG2(history, var_threshold,
    detectShadows=False)``, automatic learning rate) fed the frames in order, lazily. It reads
    only ``sequence.frame``, never the ground truth. TBA used IMBS (its imbs/, LGPL C++) on the
    test split and a ground-truth-built background for training; MOG2 is our substitute for both.
    """
    subtractor = cv2.createBackgroundSubtractorMOG2(history, var_threshold, detectShadows=False)
    for number in range(1, sequence.num_frames + 1):
        frame = sequence.frame(number)
        subtractor.apply(frame)
        yield subtractor.getBackgroundImage().reshape(frame.shape)
