"""MOT16, MOT17, MOT20 and custom folders in MOTChallenge layout (motchallenge.net; Milan et al.,
arXiv:1603.00831).

A benchmark copy is ``<root>/{train,test}/<SEQ>/`` with ``seqinfo.ini`` (name, imDir, frameRate,
seqLength, imWidth, imHeight, imExt), ``<imDir>/%06d<imExt>`` frames 1..seqLength, ``gt/gt.txt``
(train only: frame,id,left,top,width,height,consider,class,visibility) and ``det/det.txt``
(public detections: frame,-1,left,top,width,height,score,...). MOT17 holds every sequence three
times, ``<SEQ>-DPM``, ``<SEQ>-FRCNN`` and ``<SEQ>-SDP`` (same frames and gt, different det);
MOT16 and MOT20 sequences have no suffix.

Splits: ``train``; ``test`` (no public gt: ``Sequence.gt`` is empty, ``meta["has_gt"]`` is False
and evaluating it is an error); and the half split of FairMOT/OUTrack (OUTrack's src/data/mot17.half
and src/track.py, liuqk3/OUTrack), over the train sequences with ``half = seqLength // 2``:

- ``train-half``: source frames 1..half (OUTrack's ``mot17.half``: 2657 MOT17 SDP frames);
- ``val-half``: source frames half+1..seqLength (OUTrack ``--half_track`` starts at 0-based frame
  ``int(len / 2)``).

Both halves are renumbered from 1: frame k of ``val-half`` is source frame ``half + k`` (image
``%06d`` of ``half + k``), in the gt, the detections and ``load_frame``; ``meta["frame_offset"]``
holds ``half`` (0 for the other splits). OUTrack writes val-half results with source numbers, so
shift such files by ``-frame_offset`` first. (CenterTrack's own split differs by one frame:
0-based 0..half for training, half+1..N-1 for validation.)

The ``sequences`` param (cards mot16, mot17, mot20) says which sequences a copy must hold; only
those are checked and loaded (MOT17 names them without the detector suffix, e.g. ``MOT17-02``):

- ``null`` (default): the card's ``layout.official_sequences``, every official train and test
  sequence; a missing one is a problem "missing sequence (official MOT17 train sequence)";
- a list of official names: each belongs to its official split folder; a split folder naming none
  is neither checked nor loadable (e.g. a copy of the train sequences only);
- a mapping ``{train: [...], test: [...]}``: any names, per split folder.

Frames are loaded lazily with OpenCV (BGR) and handed out as uint8 HxWx3 RGB; grey images are
expanded to three channels.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from harness.data import BoxTable, Sequence
from harness.datasets.base import DatasetAdapter, Problem, collect_problems
from harness.errors import ConfigError, FormatError, did_you_mean
from harness.metrics.files import find_pred_files
from harness.metrics.mot import evaluate
from harness.metrics.protocols import VALID_CLASSES, check_protocol
from harness.motchallenge import Kind, read_mot

SEQINFO_FIELDS = {  # seqinfo.ini key -> (type, SeqInfo field)
    "name": (str, "name"),
    "imDir": (str, "im_dir"),
    "frameRate": (float, "fps"),
    "seqLength": (int, "length"),
    "imWidth": (int, "width"),
    "imHeight": (int, "height"),
    "imExt": (str, "im_ext"),
}
SPLIT_FOLDERS = {"train": "train", "test": "test", "train-half": "train", "val-half": "train"}
MOT17_DETECTORS = ("DPM", "FRCNN", "SDP")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
CLASS_PROTOCOLS = ("mot16", "mot17", "mot20")  # protocols that need gt classes 1..13
SHOWN_NAMES = 5


@dataclass(frozen=True)
class SeqInfo:
    """The ``[Sequence]`` section of a seqinfo.ini; ``lines`` maps each key to its line."""

    path: Path
    name: str
    im_dir: str
    fps: float
    length: int
    width: int
    height: int
    im_ext: str
    lines: dict[str, int]


def read_seqinfo(path: str | Path) -> SeqInfo:
    """Read and validate a seqinfo.ini: every key of ``SEQINFO_FIELDS`` once, numbers positive.

    Keys match case-insensitively and ``=`` or ``:`` separates, as Python's configparser (which
    TrackEval uses) reads them; ``;``/``#`` lines are comments.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", path)
    canonical = {key.lower(): key for key in SEQINFO_FIELDS}
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    section = None
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if header := re.fullmatch(r"\[(.*)\]", line):
            section = header.group(1).strip()
            continue
        match = re.fullmatch(r"([^=:]+?)\s*[=:]\s*(.*)", line)
        if match is None:
            raise FormatError(f"expected 'key=value' or a [section], found {line!r}", path, number)
        if section is None:
            raise FormatError("key before any [Sequence] section", path, number)
        if section != "Sequence":
            continue
        key = canonical.get(match.group(1).lower())
        if key is None:
            continue
        if key in values:
            raise FormatError(f"{key} given twice (first on line {lines[key]})", path, number)
        values[key] = _seqinfo_value(key, match.group(2), path, number)
        lines[key] = number
    if section is None and not values:
        raise FormatError("no [Sequence] section", path)
    missing = [key for key in SEQINFO_FIELDS if key not in values]
    if missing:
        raise FormatError(f"[Sequence] lacks {', '.join(missing)}", path)
    fields = {SEQINFO_FIELDS[key][1]: value for key, value in values.items()}
    return SeqInfo(path=path, lines=lines, **fields)


def _seqinfo_value(key: str, text: str, path: Path, line: int) -> Any:
    kind = SEQINFO_FIELDS[key][0]
    if kind is str:
        if not text:
            raise FormatError(f"{key} is empty", path, line)
        if key == "imExt" and not text.startswith("."):
            raise FormatError(f"imExt must start with '.', found {text!r}", path, line)
        return text
    try:
        value = kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise FormatError(f"{key} is not {expected}: {text!r}", path, line) from None
    if not value > 0:
        raise FormatError(f"{key} must be > 0, found {text!r}", path, line)
    return value


@dataclass(frozen=True)
class _Entry:
    """One sequence on disk: a MOTChallenge folder (``folder`` with seqinfo.ini), or a plain
    ``<seq>.txt`` gt file (``gt_file``) with its image folder ``folder`` (custom-mot)."""

    folder: Path
    gt_file: Path | None = None


class MOTChallengeAdapter(DatasetAdapter):
    """MOT16 and MOT20 (and the base of MOT17 and custom folders): see the module docstring."""

    det_required = True

    def __init__(self, card: dict[str, Any], root: str | Path | None = None, **params: Any):
        super().__init__(card, root, **params)
        self.overrides = params
        self.selection = select_sequences(self.card)

    def sequences(self, split: str) -> list[Sequence]:
        """The sequences of ``split``; a problem with the copy raises the first FormatError."""
        self.check_split(split)
        folder = SPLIT_FOLDERS.get(split, split)
        sequences, problems = self._read_split(folder)
        if problems:
            more = len(problems) - 1
            first = problems[0]
            hint = f" (and {more} more problem(s): `{self._check_command()}` lists them)"
            raise FormatError(first.message + (hint if more else ""), first.path, first.line)
        if not sequences:
            raise ConfigError(
                f"split {split!r} of {self.card['name']}: the sequences param selects none of "
                f"the {folder}/ sequences"
            )
        if split in ("train-half", "val-half"):
            return [_half(sequence, split) for sequence in sequences]
        return sequences

    def check_files(self) -> Iterable[Problem]:
        """Every layout problem, missing file and malformed line of the on-disk splits."""
        folders = dict.fromkeys(SPLIT_FOLDERS.get(split, split) for split in self.splits())
        for folder in folders:
            yield from self._read_split(folder)[1]

    def evaluate(self, split: str, predictions: dict[str, BoxTable] | str | Path) -> dict:
        """Metrics of ``predictions`` (tables by sequence name, or a folder of ``<seq>.txt``
        results) on ``split`` with the card's protocol and seqinfo's frame counts."""
        sequences = self.sequences(split)
        if not all(sequence.meta["has_gt"] for sequence in sequences):
            raise ConfigError(
                f"split {split!r} of {self.card['name']} has no ground truth (the benchmark keeps "
                "it on its server): submit there, or evaluate a split with gt such as train, "
                "train-half or val-half"
            )
        gt = {sequence.name: sequence.gt for sequence in sequences}
        if not isinstance(predictions, dict):
            files = find_pred_files(Path(predictions), gt)
            predictions = {name: read_mot(path, "result") for name, path in files.items()}
        num_frames = {sequence.name: sequence.num_frames for sequence in sequences}
        return evaluate(gt, predictions, self.protocol, num_frames)

    def _read_split(self, folder_name: str) -> tuple[list[Sequence], list[Problem]]:
        has_gt = folder_name != "test"
        entries, problems = self._entries(self._split_folder(folder_name))
        sequences = []
        for entry in entries:
            sequence, found = self._read_entry(entry, has_gt, folder_name)
            problems += found
            if sequence is not None:
                sequences.append(sequence)
        return sequences, problems

    def _check_command(self) -> str:
        """The ``trackbench datasets check`` command line for this copy and these params."""
        options = "".join(
            " --param "
            + shlex.quote(f"{key}={json.dumps(value, separators=(',', ':'), default=str)}")
            for key, value in self.overrides.items()
        )
        return f"trackbench datasets check {self.card['name']} {self.root}{options}"

    def _split_folder(self, folder_name: str) -> Path:
        assert self.root is not None
        return self.root / folder_name

    def _entries(self, folder: Path) -> tuple[list[_Entry], list[Problem]]:
        """The selected sequence folders of a split folder; a missing one is a problem."""
        names, problems = self._required(folder)
        entries = []
        for name in names:
            path = folder / name
            if path.is_dir():
                entries.append(_Entry(path))
            else:
                problems.append(self._missing_sequence(path, folder.name))
        return entries, problems

    def _required(self, folder: Path) -> tuple[list[str], list[Problem]]:
        """The sequence names split folder ``folder`` must hold (none: it is not looked at), and
        the problem of a missing folder."""
        names = self.selection.get(folder.name, [])
        if names and not folder.is_dir():
            return [], [Problem(folder, None, "missing split folder")]
        return names, []

    def _missing_sequence(self, path: Path, folder_name: str) -> Problem:
        source = (
            f"official {self.card['name'].upper()} {folder_name} sequence"
            if self.params.get("sequences") is None
            else "selected by the sequences param"
        )
        return Problem(path, None, f"missing sequence ({source})")

    def _read_entry(
        self, entry: _Entry, has_gt: bool, split: str
    ) -> tuple[Sequence | None, list[Problem]]:
        return self._read_folder(entry.folder, has_gt, split)

    def _read_folder(
        self, folder: Path, has_gt: bool, split: str
    ) -> tuple[Sequence | None, list[Problem]]:
        """A MOTChallenge sequence folder as a Sequence (None when anything is wrong), and every
        problem found in it."""
        problems: list[Problem] = []
        info = collect_problems(lambda: read_seqinfo(folder / "seqinfo.ini"), problems)
        if info is None:
            return None, problems
        if info.name != folder.name:
            problems.append(
                Problem(
                    info.path,
                    info.lines["name"],
                    f"name {info.name!r} differs from the folder name {folder.name!r}",
                )
            )
        problems += _frame_file_problems(folder / info.im_dir, info)
        gt: BoxTable | None = BoxTable.empty()
        if has_gt:
            gt = self._read_rows(folder / "gt" / "gt.txt", "gt", info.length, problems)
        det_path = folder / "det" / "det.txt"
        detections = None
        if self.det_required or det_path.exists():
            detections = self._read_rows(det_path, "det", info.length, problems)
        if problems:
            return None, problems
        assert gt is not None  # None comes with a problem
        image_dir, ext = folder / info.im_dir, info.im_ext
        sequence = Sequence(
            name=folder.name,
            num_frames=info.length,
            width=info.width,
            height=info.height,
            fps=info.fps,
            gt=gt,
            load_frame=_image_loader(lambda number: image_dir / f"{number:06d}{ext}"),
            detections=detections,
            meta=self._meta(folder, split, has_gt),
        )
        return sequence, []

    def _meta(self, folder: Path, split: str, has_gt: bool) -> dict[str, Any]:
        return {
            "dataset": self.card["name"],
            "split": split,
            "folder": str(folder),
            "has_gt": has_gt,
            "frame_offset": 0,
        }

    def _read_rows(
        self, path: Path, kind: Kind, length: int, problems: list[Problem]
    ) -> BoxTable | None:
        """A gt or det file, its rows checked against 1..``length`` (and gt classes against
        1..13 when the protocol needs them); problems are appended to ``problems``."""
        table = collect_problems(lambda: read_mot(path, kind), problems)
        if table is None:
            return None
        problems += _row_problems(
            path,
            table.frame > length,
            lambda row: f"frame {table.frame[row]} is outside 1..{length} (seqLength)",
        )
        if kind == "gt" and self.protocol in CLASS_PROTOCOLS:
            problems += _row_problems(
                path,
                ~np.isin(table.cls, VALID_CLASSES),
                lambda row: (
                    f"class {table.cls[row]} is not a MOTChallenge class 1..13"
                    + (
                        " (gt needs 9 columns: frame,id,left,top,width,height,consider,class,"
                        "visibility)"
                        if table.cls[row] == -1
                        else ""
                    )
                ),
            )
        return table


class MOT17Adapter(MOTChallengeAdapter):
    """MOT17: each sequence as ``<SEQ>-DPM``, ``<SEQ>-FRCNN`` and ``<SEQ>-SDP``; the ``detectors``
    param (default all three) selects which variants are the split's sequences."""

    def __init__(self, card: dict[str, Any], root: str | Path | None = None, **params: Any):
        super().__init__(card, root, **params)
        unknown = [d for d in self.detectors if d not in MOT17_DETECTORS]
        if unknown or not self.detectors:
            raise ConfigError(
                f"mot17 detectors must be a non-empty list of {', '.join(MOT17_DETECTORS)}; "
                f"got {self.params['detectors']!r}"
            )

    @property
    def detectors(self) -> list[str]:
        value = self.params["detectors"]
        return [value] if isinstance(value, str) else list(value)

    def _entries(self, folder: Path) -> tuple[list[_Entry], list[Problem]]:
        """The selected detector variants of the selected sequences; a folder name without a
        detector suffix, a missing sequence and a sequence missing a selected variant are
        problems."""
        names, problems = self._required(folder)
        if not names:
            return [], problems
        pattern = re.compile(rf"(.+)-({'|'.join(MOT17_DETECTORS)})")
        variants: dict[str, set[str]] = {}
        for path in _subfolders(folder):
            match = pattern.fullmatch(path.name)
            if match is None:
                problems.append(
                    Problem(path, None, "not a MOT17 sequence folder (<SEQ>-DPM, -FRCNN or -SDP)")
                )
            else:
                variants.setdefault(match.group(1), set()).add(match.group(2))
        suffix = ",".join(self.detectors)
        suffix = suffix if len(self.detectors) == 1 else f"{{{suffix}}}"
        entries = []
        for base in names:
            present = variants.get(base)
            if not present:
                problems.append(self._missing_sequence(folder / f"{base}-{suffix}", folder.name))
                continue
            for detector in self.detectors:
                path = folder / f"{base}-{detector}"
                if detector in present:
                    entries.append(_Entry(path))
                else:
                    problems.append(
                        Problem(
                            path,
                            None,
                            f"missing folder: MOT17 has {base} with each of "
                            f"{', '.join(MOT17_DETECTORS)} detections",
                        )
                    )
        return entries, problems

    def _meta(self, folder: Path, split: str, has_gt: bool) -> dict[str, Any]:
        return {**super()._meta(folder, split, has_gt), "detector": folder.name.rsplit("-", 1)[1]}


class CustomMOTAdapter(MOTChallengeAdapter):
    """Any folder of sequences (split ``all``): MOTChallenge sequence folders
    (``<seq>/seqinfo.ini``, frames, ``gt/gt.txt``, optional ``det/det.txt``) and/or plain
    ``<seq>.txt`` gt files, each with an image folder ``<seq>/`` whose image files, sorted by name
    with digit runs compared as numbers, are frames 1, 2, ... (fps from the ``fps`` param, size
    from the first image). The ``protocol`` param chooses the evaluation protocol (default
    ``plain``)."""

    det_required = False

    def __init__(self, card: dict[str, Any], root: str | Path | None = None, **params: Any):
        super().__init__(card, root, **params)
        check_protocol(self.protocol)

    @property
    def protocol(self) -> str:
        """The ``protocol`` param (custom data says how it is scored)."""
        return self.params["protocol"]

    def _split_folder(self, folder_name: str) -> Path:
        assert self.root is not None
        return self.root

    def _entries(self, folder: Path) -> tuple[list[_Entry], list[Problem]]:
        if not folder.is_dir():
            return [], [Problem(folder, None, "missing dataset folder")]
        problems = []
        folders = {path.name: path for path in _subfolders(folder)}
        texts = {path.stem: path for path in sorted(folder.glob("*.txt")) if path.is_file()}
        entries = []
        for name in sorted(set(folders) | set(texts)):
            mot_layout = name in folders and (folders[name] / "seqinfo.ini").is_file()
            if mot_layout and name in texts:
                problems.append(
                    Problem(
                        texts[name],
                        None,
                        f"ambiguous: {name}/seqinfo.ini also makes {name}/ a MOTChallenge folder",
                    )
                )
            elif mot_layout:
                entries.append(_Entry(folders[name]))
            elif name in texts:
                entries.append(_Entry(folder / name, gt_file=texts[name]))
            else:
                problems.append(
                    Problem(
                        folders[name],
                        None,
                        f"not a sequence: no {name}/seqinfo.ini and no {name}.txt beside it",
                    )
                )
        if not entries and not problems:
            problems.append(
                Problem(folder, None, "no sequences: expected <seq>/seqinfo.ini or <seq>.txt")
            )
        return entries, problems

    def _read_entry(
        self, entry: _Entry, has_gt: bool, split: str
    ) -> tuple[Sequence | None, list[Problem]]:
        if entry.gt_file is None:
            return self._read_folder(entry.folder, has_gt, split)
        return self._read_plain(entry, split)

    def _read_plain(self, entry: _Entry, split: str) -> tuple[Sequence | None, list[Problem]]:
        if not entry.folder.is_dir():
            return None, [Problem(entry.folder, None, f"missing image folder of {entry.gt_file}")]
        images = sorted(
            (p for p in entry.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
            key=_natural_key,
        )
        if not images:
            return None, [
                Problem(
                    entry.folder,
                    None,
                    f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))})",
                )
            ]
        problems: list[Problem] = []
        assert entry.gt_file is not None  # _read_entry reads a folder entry otherwise
        gt = self._read_rows(entry.gt_file, "gt", len(images), problems)
        size = collect_problems(lambda: _image_size(images[0]), problems)
        if problems:
            return None, problems
        assert gt is not None  # None comes with a problem
        sequence = Sequence(
            name=entry.folder.name,
            num_frames=len(images),
            width=size[0],
            height=size[1],
            fps=float(self.params["fps"]),
            gt=gt,
            load_frame=_image_loader(lambda number: images[number - 1]),
            meta=self._meta(entry.folder, split, True),
        )
        return sequence, []


def select_sequences(card: dict[str, Any]) -> dict[str, list[str]]:
    """Split folder -> the sequence names a copy must hold, from the card's ``sequences`` param
    (see the module docstring); none for a card with neither the param nor an official list."""
    official = (card.get("layout") or {}).get("official_sequences") or {}
    requested = card["params"].get("sequences")
    if requested is None:
        return {folder: sorted(names) for folder, names in official.items()}
    name = card["name"]
    if isinstance(requested, dict):
        folders = sorted(set(SPLIT_FOLDERS.values()))
        unknown = [folder for folder in requested if folder not in folders]
        if unknown:
            raise ConfigError(
                f"{name} sequences: no split folder {unknown[0]!r}"
                + did_you_mean(str(unknown[0]), folders)
            )
        selection = {folder: _sequence_names(name, names) for folder, names in requested.items()}
    else:
        split_of = {seq: folder for folder, names in official.items() for seq in names}
        selection = {}
        for seq in _sequence_names(name, requested):
            if seq not in split_of:
                raise ConfigError(
                    f"{name} sequences: {seq!r} is not an official {name.upper()} sequence"
                    + did_you_mean(seq, list(split_of))
                    + " (for other names give a mapping {train: [...], test: [...]})"
                )
            selection.setdefault(split_of[seq], []).append(seq)
    if not any(selection.values()):
        raise ConfigError(f"{name} sequences selects no sequence: give at least one name")
    return selection


def _sequence_names(dataset: str, value: Any) -> list[str]:
    """A name or list of names as sorted unique names."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(
        isinstance(seq, str) and seq for seq in names
    ):
        raise ConfigError(
            f"{dataset} sequences must be a list of sequence names (or a mapping of split folder "
            f"to such lists); got {value!r}"
        )
    return sorted(set(names))


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _frame_file_problems(image_dir: Path, info: SeqInfo) -> list[Problem]:
    """Missing frames 1..seqLength and files that are not one of them."""
    if not image_dir.is_dir():
        return [Problem(image_dir, None, f"missing image folder (imDir={info.im_dir})")]
    present = {p.name for p in image_dir.iterdir()}
    expected = [f"{number:06d}{info.im_ext}" for number in range(1, info.length + 1)]
    missing = [name for name in expected if name not in present]
    extra = sorted(present.difference(expected))
    problems = []
    if missing:
        problems.append(
            Problem(
                image_dir,
                None,
                f"{len(missing)} of {info.length} frames (seqLength) missing: {_names(missing)}",
            )
        )
    if extra:
        problems.append(
            Problem(
                image_dir,
                None,
                f"{len(extra)} file(s) not among frames 000001..{info.length:06d}{info.im_ext}: "
                f"{_names(extra)}",
            )
        )
    return problems


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (", ..." if len(names) > SHOWN_NAMES else "")


def _row_problems(path: Path, bad: np.ndarray, describe: Callable[[int], str]) -> list[Problem]:
    """One problem at the first bad row's line, counting the others."""
    if not bad.any():
        return []
    row = int(np.argmax(bad))
    count = int(bad.sum())
    more = f" ({count - 1} more row(s) like this)" if count > 1 else ""
    return [Problem(path, _line_of_row(path, row), describe(row) + more)]


def _line_of_row(path: Path, row: int) -> int:
    """The 1-based line of table row ``row`` (read_mot's rows are the non-blank lines)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [i for i, line in enumerate(lines, start=1) if line.strip()][row]


def _image_loader(path_of: Callable[[int], Path]) -> Callable[[int], np.ndarray]:
    def load(number: int) -> np.ndarray:
        path = path_of(number)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR; grey becomes 3 channels
        if image is None:
            raise FormatError("cannot read image", path)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    return load


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header."""
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as exc:
        raise FormatError(f"cannot read image: {exc}", path) from None


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _half(sequence: Sequence, split: str) -> Sequence:
    """The ``train-half`` (source frames 1..half) or ``val-half`` (half+1..N) part of a train
    sequence, half = N // 2, frames renumbered from 1 (see the module docstring)."""
    half = sequence.num_frames // 2
    if half == 0:
        raise FormatError(f"sequence {sequence.name} has 1 frame: it cannot be halved")
    first, last = (1, half) if split == "train-half" else (half + 1, sequence.num_frames)
    offset = first - 1
    source_load = sequence.load_frame

    def part(table: BoxTable) -> BoxTable:
        rows = table.select((table.frame >= first) & (table.frame <= last))
        return BoxTable(
            frame=rows.frame - offset,
            id=rows.id,
            box=rows.box,
            conf=rows.conf,
            cls=rows.cls,
            visibility=rows.visibility,
        )

    return Sequence(
        name=sequence.name,
        num_frames=last - first + 1,
        width=sequence.width,
        height=sequence.height,
        fps=sequence.fps,
        gt=part(sequence.gt),
        load_frame=None if source_load is None else lambda number: source_load(number + offset),
        detections=None if sequence.detections is None else part(sequence.detections),
        meta={**sequence.meta, "split": split, "frame_offset": offset},
    )
