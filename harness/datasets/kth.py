"""KTH human actions with the Keck bounding boxes, under the RATM protocol used by HART
(Kosiorek et al. 2017, §5.1; RATM's released data_preparation/kth/ and kth/, saebrahimi/RATM).

Layout under the root (datasets/kth.yaml):

- ``KTHBoundingBoxInfo.txt``: 4 header lines, then one row per subsequence,
  ``person scenario action sequence start_frame end_frame`` followed by ``ymin xmin ymax xmax``
  for every frame ``start_frame..end_frame``. ``end_frame`` is inclusive: a row carries
  ``end - start + 1`` boxes, as the readers that pair boxes with frames count them (RATM itself
  loads ``range(start, end)`` and so drops each subsequence's last annotated frame).
- ``frames/person{XX}_{action}_d{Y}_uncomp/{n:03d}.png``: frames 1, 2, ... extracted from
  ``vid/<same name>.avi`` with ``ffmpeg -vf scale=160:120``, 120x160.

Frames are read as RATM reads them, PIL ``convert("L")`` (ITU-R 601 luma): grey uint8 images of
shape (120, 160, 1), not RGB. Boxes: a KTH (ymin, xmin, ymax, xmax) row becomes the ltwh box
(xmin, ymin, xmax - xmin, ymax - ymin) in the pixels of those frames: corners are used as they
are, no +1 on width/height and no shift of origin, exactly as RATM forms its boxes
(``dx = x2 - x1``).

Splits: leave-one-subject-out. Fold k tests person k; the validation person is RATM's draw,
``RandomState(1).randint(24)`` into persons 1..25 without k (``train_attention_rnn_on_kth.py``:
person 7 for k <= 6, else person 6); the other 23 persons train. Only the ``actions`` param's
actions are used (RATM: jogging, running, walking).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.datasets.base import DatasetAdapter, Problem, collect_problems
from harness.errors import ConfigError, FormatError, did_you_mean
from harness.metrics.single import frame_ious

ACTIONS = ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")
"""KTH action names; the annotation file numbers them 1..6 in this order."""
PERSONS = tuple(range(1, 26))
SCENARIOS = (1, 2, 3, 4)
HEADER_LINES = 4
ANNOTATION_FILE = "KTHBoundingBoxInfo.txt"
FRAMES_DIR = "frames"
HEIGHT, WIDTH = 120, 160
FPS = 25.0
OBJECT_ID = 1
FRAME_FILE = re.compile(r"^(\d+)\.png$")
INTEGER = re.compile(r"[+-]?\d+")
ROW_FIELDS = ("person", "scenario", "action", "sequence", "start_frame", "end_frame")


@dataclass(frozen=True)
class Subsequence:
    """One annotated row: ``boxes`` (n, 4) ltwh for frames ``start..end`` (1-based, inclusive)."""

    person: int
    scenario: int
    action: str
    number: int
    start: int
    end: int
    boxes: np.ndarray
    line: int

    @property
    def video(self) -> str:
        """The video's name, as its .avi file and frame folder are named."""
        return f"person{self.person:02d}_{self.action}_d{self.scenario}_uncomp"

    @property
    def frames(self) -> np.ndarray:
        return np.arange(self.start, self.end + 1)


def parse_row(text: str, path: Path, line: int) -> Subsequence:
    """One subsequence row; FormatError (path:line) names what is wrong with it."""
    fields = text.split()
    if len(fields) < len(ROW_FIELDS):
        raise FormatError(
            f"expected {' '.join(ROW_FIELDS)} then ymin xmin ymax xmax per frame; "
            f"got {len(fields)} field(s)",
            path,
            line,
        )
    bad = next((f for f in fields if not INTEGER.fullmatch(f)), None)
    if bad is not None:
        raise FormatError(f"{bad!r} is not an integer", path, line)
    numbers = np.array([int(f) for f in fields], dtype=np.int64)
    person, scenario, action, number, start, end = (int(v) for v in numbers[:6])
    if person not in PERSONS:
        raise FormatError(f"unknown person {person} (KTH persons are 1..25)", path, line)
    if scenario not in SCENARIOS:
        raise FormatError(f"unknown scenario {scenario} (KTH scenarios are d1..d4)", path, line)
    if not 1 <= action <= len(ACTIONS):
        names = ", ".join(f"{i} {name}" for i, name in enumerate(ACTIONS, 1))
        raise FormatError(f"unknown action {action} (actions are {names})", path, line)
    if start < 1 or end < start:
        raise FormatError(
            f"bad frame range start_frame {start}, end_frame {end} (need 1 <= start <= end)",
            path,
            line,
        )
    corners = numbers[6:]
    expected = 4 * (end - start + 1)
    if len(corners) != expected:
        raise FormatError(
            f"frames {start}..{end} (end inclusive) need {end - start + 1} boxes = {expected} "
            f"numbers after the 6 row fields; got {len(corners)}",
            path,
            line,
        )
    ymin, xmin, ymax, xmax = corners.reshape(-1, 4).T
    for low, high, lo_name, hi_name in ((ymin, ymax, "ymin", "ymax"), (xmin, xmax, "xmin", "xmax")):
        inverted = np.flatnonzero(low > high)
        if len(inverted):
            i = inverted[0]
            raise FormatError(
                f"box of frame {start + i}: {lo_name} {low[i]} > {hi_name} {high[i]}"
                + (f" (and {len(inverted) - 1} more frame(s))" if len(inverted) > 1 else ""),
                path,
                line,
            )
    boxes = np.stack([xmin, ymin, xmax - xmin, ymax - ymin], axis=1).astype(np.float64)
    return Subsequence(person, scenario, ACTIONS[action - 1], number, start, end, boxes, line)


def parse_annotations(
    text: str, path: Path, problems: list[Problem] | None = None
) -> list[Subsequence]:
    """All subsequence rows of a ``KTHBoundingBoxInfo.txt`` text (after its 4 header lines).

    Without ``problems`` the first malformed row raises FormatError; with it, every malformed
    row (and every row overlapping an earlier one of the same video) is recorded and skipped.
    """
    lines = text.splitlines()
    if len(lines) <= HEADER_LINES or not any(s.strip() for s in lines[HEADER_LINES:]):
        raise FormatError(f"no subsequence rows after the {HEADER_LINES} header lines", path)
    rows: list[Subsequence] = []
    seen: dict[str, list[Subsequence]] = {}
    for number, text_line in enumerate(lines[HEADER_LINES:], HEADER_LINES + 1):
        if not text_line.strip():
            continue

        def parse(text_line=text_line, number=number) -> Subsequence:
            row = parse_row(text_line, path, number)
            for other in seen.get(row.video, []):
                if row.start <= other.end and other.start <= row.end:
                    raise FormatError(
                        f"frames {row.start}..{row.end} of {row.video} overlap subsequence "
                        f"{other.number} (line {other.line}, frames {other.start}..{other.end})",
                        path,
                        number,
                    )
            return row

        row = parse() if problems is None else collect_problems(parse, problems)
        if row is not None:
            rows.append(row)
            seen.setdefault(row.video, []).append(row)
    return rows


def fold_persons(test_person: int, validation_seed: int = 1) -> dict[str, tuple[int, ...]]:
    """Persons of each split of leave-one-subject-out fold ``test_person`` (RATM's draw)."""
    if test_person not in PERSONS:
        raise ConfigError(f"KTH fold must be a person 1..25, got {test_person!r}")
    rest = [p for p in PERSONS if p != test_person]
    validation = rest[np.random.RandomState(validation_seed).randint(len(rest))]
    return {
        "train": tuple(p for p in rest if p != validation),
        "val": (validation,),
        "test": (test_person,),
        "all": PERSONS,
    }


def enlarge(boxes, factor: float = 1.5) -> np.ndarray:
    """ltwh boxes scaled by ``factor`` about their centres, not clipped to the image.

    RATM enlarges KTH's tight ground truth 1.5x for IoU (``x - dx/4``, ``dx * 1.5``), unclipped.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    left_top = boxes[:, :2] - boxes[:, 2:] * (factor - 1) / 2
    return np.concatenate([left_top, boxes[:, 2:] * factor], axis=1)


def clip_ious(gt, pred, factor: float = 1.5) -> np.ndarray:
    """Per-frame IoU of predicted boxes with the ``factor``-enlarged ground truth (T,)."""
    return frame_ious(enlarge(gt, factor), pred)


def read_grey_frame(path: Path) -> np.ndarray:
    """A frame as RATM reads it (PIL ``convert("L")``): uint8 (120, 160, 1)."""
    try:
        with Image.open(path) as image:
            grey = np.asarray(image.convert("L"))
    except OSError as exc:
        raise FormatError(f"cannot read frame: {exc}", path) from None
    _check_size(path, (grey.shape[1], grey.shape[0]))
    return grey[..., None]


class KthAdapter(DatasetAdapter):
    """KTH subsequences (params: ``actions``, ``fold``, ``validation_seed``); see the module doc."""

    @property
    def annotation_path(self) -> Path:
        return self._root / ANNOTATION_FILE

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise ConfigError("the kth dataset needs the folder of your copy (root)")
        return self.root

    def actions(self) -> tuple[str, ...]:
        actions = self.params["actions"]
        actions = (actions,) if isinstance(actions, str) else tuple(actions)
        for action in actions:
            if action not in ACTIONS:
                raise ConfigError(
                    f"unknown KTH action {action!r}" + did_you_mean(action, list(ACTIONS))
                )
        return actions

    def persons(self, split: str) -> tuple[int, ...]:
        self.check_split(split)
        return fold_persons(self.params["fold"], self.params["validation_seed"])[split]

    @functools.cached_property
    def subsequences(self) -> list[Subsequence]:
        """Every row of the annotation file (all actions, all persons)."""
        return parse_annotations(self._annotation_text(), self.annotation_path)

    def _annotation_text(self) -> str:
        if not self.annotation_path.is_file():
            raise FormatError(f"missing {ANNOTATION_FILE} (see the kth card)", self.annotation_path)
        # Only the header may hold non-ASCII text; a damaged row then fails as "not an integer".
        return self.annotation_path.read_text(encoding="utf-8", errors="replace")

    def split_subsequences(self, split: str) -> list[Subsequence]:
        persons, actions = self.persons(split), self.actions()
        rows = [r for r in self.subsequences if r.person in persons and r.action in actions]
        if not rows:
            raise FormatError(
                f"no subsequence of person(s) {list(persons)} with actions {list(actions)} "
                f"(split {split!r}, fold {self.params['fold']})",
                self.annotation_path,
            )
        return rows

    def sequences(self, split: str) -> list[Sequence]:
        """One Sequence per video of the split; gt = its annotated boxes as object 1."""
        by_video: dict[str, list[Subsequence]] = {}
        for row in self.split_subsequences(split):
            by_video.setdefault(row.video, []).append(row)
        return [self._sequence(video, rows) for video, rows in by_video.items()]

    def samples(self, split: str) -> list[SingleObjectSample]:
        """One single-object sample per subsequence (RATM tests on whole subsequences)."""
        sequences = {s.name: s for s in self.sequences(split)}
        return [
            SingleObjectSample(
                sequences[row.video],
                OBJECT_ID,
                row.frames,
                row.boxes,
                source=(str(self.annotation_path), row.line),
            )
            for row in self.split_subsequences(split)
        ]

    def _sequence(self, video: str, rows: list[Subsequence]) -> Sequence:
        folder = self._root / FRAMES_DIR / video
        if not folder.is_dir():
            raise FormatError(
                f"frame folder {folder} does not exist ({_extract_hint(video)})",
                self.annotation_path,
                rows[0].line,
            )
        num_frames = max(_frame_numbers(folder), default=0)
        for row in rows:
            if row.end > num_frames:
                raise FormatError(
                    f"annotates frames up to {row.end} but {folder} ends at frame {num_frames}",
                    self.annotation_path,
                    row.line,
                )
        frames = np.concatenate([row.frames for row in rows])
        gt = BoxTable.build(
            frames, np.concatenate([row.boxes for row in rows]), id=np.full(len(frames), OBJECT_ID)
        ).sorted()
        first = rows[0]
        return Sequence(
            name=video,
            num_frames=num_frames,
            width=WIDTH,
            height=HEIGHT,
            fps=FPS,
            gt=gt,
            load_frame=lambda n: read_grey_frame(folder / f"{n:03d}.png"),
            meta={"person": first.person, "scenario": first.scenario, "action": first.action},
        )

    def check_files(self) -> Iterable[Problem]:
        """Every malformed row, then, for the ``actions`` in use, every missing frame folder,
        missing annotated frame and wrongly sized frame (first frame of each folder)."""
        problems: list[Problem] = []
        rows = collect_problems(
            lambda: parse_annotations(self._annotation_text(), self.annotation_path, problems),
            problems,
        )
        actions = collect_problems(self.actions, problems) or ()
        frames_dir = self._root / FRAMES_DIR
        if not frames_dir.is_dir():
            problems.append(
                Problem(frames_dir, None, f"missing frames folder ({_extract_hint('NAME')})")
            )
            return problems
        frame_numbers: dict[str, set[int] | None] = {}
        for row in rows or []:
            if row.action not in actions:
                continue
            folder = frames_dir / row.video
            if row.video not in frame_numbers:
                numbers = set(_frame_numbers(folder)) if folder.is_dir() else None
                frame_numbers[row.video] = numbers
                if numbers is None:
                    problems.append(
                        Problem(
                            self.annotation_path,
                            row.line,
                            f"frame folder {folder} does not exist ({_extract_hint(row.video)})",
                        )
                    )
                elif numbers:
                    first = folder / f"{min(numbers):03d}.png"
                    collect_problems(functools.partial(_check_size, first), problems)
            present = frame_numbers[row.video]
            if present is None:
                continue
            missing = [n for n in row.frames.tolist() if n not in present]
            if missing:
                names = ", ".join(f"{n:03d}.png" for n in missing[:5])
                problems.append(
                    Problem(
                        self.annotation_path,
                        row.line,
                        f"{folder} lacks {len(missing)} of the frames {row.start}..{row.end} "
                        f"this row annotates: {names}" + (", ..." if len(missing) > 5 else ""),
                    )
                )
        return problems


def _frame_numbers(folder: Path) -> list[int]:
    return [int(m.group(1)) for p in folder.iterdir() if (m := FRAME_FILE.match(p.name))]


def _check_size(path: Path, size: tuple[int, int] | None = None) -> None:
    """FormatError unless the frame at ``path`` (of ``size`` (w, h), or read from the image
    header when not given) is 160x120."""
    if size is None:
        try:
            with Image.open(path) as image:
                size = image.size
        except OSError as exc:
            raise FormatError(f"cannot read frame: {exc}", path) from None
    if size != (WIDTH, HEIGHT):
        raise FormatError(
            f"frame is {size[0]}x{size[1]}, expected {WIDTH}x{HEIGHT} "
            "(extract with ffmpeg -vf scale=160:120)",
            path,
        )


def _extract_hint(video: str) -> str:
    return f"extract it with: ffmpeg -i vid/{video}.avi -vf scale=160:120 frames/{video}/%03d.png"
