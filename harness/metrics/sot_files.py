"""Evaluate single-object results files as the got10k toolkit (0.1.3) does: OTB, GOT-10k, LaSOT.

Layouts (ground truth; one tracker's results):

- ``otb``: ``<Seq>/groundtruth*.txt`` (x,y,w,h separated by commas, tabs or spaces); a sequence
  with two targets (``groundtruth_rect.1.txt``, ``.2.txt``) is ``Seq.1`` and ``Seq.2`` and an
  empty annotation file is left out (Human4's first), as got10k's OTB dataset names them;
  results ``<tracker>/<Seq>.txt``.
- ``got10k``: ``<seq>/groundtruth.txt`` with ``cover.label`` and ``meta_info.ini`` (its
  ``resolution``), e.g. GOT-10k's ``val`` folder, whose ``list.txt`` picks the sequences;
  results ``<tracker>/<seq>/<seq>_001.txt`` (``_002`` ... further repetitions).
- ``lasot``: ``<class>/<class-n>/groundtruth.txt`` (or ``<class-n>/groundtruth.txt``) beside
  ``full_occlusion.txt`` and ``out_of_view.txt``; results ``<tracker>/<class-n>.txt``.

Results are a tracker's folder (named by it) or a folder of tracker folders, e.g. got10k's
``results/OTB2015`` or ``results/GOT-10k``. Scores follow got10k's experiments:

- OTB: every frame counts, the first predicted box replaced by the gt box. Success curve: the
  fraction of frames with IoU > each of 21 thresholds; precision curve: the fraction whose
  centre error (centres at x + (w-1)/2) is at most 0, 1, ..., 50 px. Per sequence AUC (the
  mean of the success curve), Precision20 (at 20 px) and SR0.5 (at IoU 0.5); combined: both
  curves averaged over sequences, then the same scores.
- LaSOT (got10k's ``ExperimentLaSOT``, in its repository after the 0.1.3 release): as OTB on the
  frames whose gt box is not NaN, plus NormPrecision, the mean of the curve of centre errors
  divided by the gt size (at thresholds 0, 0.01, ..., 0.5). Results shorter than the ground truth
  are scored on the frames both have, with a ``ShortResultsWarning``. The occlusion and
  out-of-view files mark the layout; got10k's scores do not use them.
- GOT-10k: the first frame and frames whose ``cover.label`` is 0 left out, both boxes held in the
  image (``harness.metrics.single.bounded_boxes``). Per sequence and combined (all sequences'
  frames pooled) AO (mean IoU), SR0.5 and SR0.75 (fractions of IoU above them) and a 101-point
  success curve. ``repetitions="all"`` pools every ``<seq>_NNN.txt`` as got10k's report does.

A NaN predicted box fails every threshold (IoU 0, infinite centre error); got10k's GOT-10k AO
would be NaN instead. A NaN gt box fails as well in OTB, is skipped in LaSOT and is an error
where GOT-10k scores the frame. A missing or empty results file, a row without exactly 4
numbers, a negative width or height, results longer than the ground truth (or, OTB and GOT-10k,
shorter) are errors naming the file and line.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ConfigError, FormatError
from harness.metrics.single import (
    NORMALIZED_PRECISION_THRESHOLDS,
    PRECISION_PIXELS,
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    bounded_boxes,
    center_errors,
    frame_ious,
    normalized_center_errors,
    precision_curve,
    success_curve,
)

OTB, GOT10K, LASOT = "otb", "got10k", "lasot"
SOT_PROTOCOLS = (OTB, GOT10K, LASOT)
MULTI_OBJECT, SINGLE_OBJECT = "multi-object", "single-object"
FIRST, ALL = "first", "all"
REPETITIONS = (FIRST, ALL)
GOT10K_THRESHOLDS = np.linspace(0, 1, 101)
"""GOT-10k's success plot: 101 IoU thresholds."""
CURVE_THRESHOLDS = {
    "success": SUCCESS_THRESHOLDS,
    "precision": PRECISION_THRESHOLDS,
    "normalized_precision": NORMALIZED_PRECISION_THRESHOLDS,
}
"""The thresholds of each OTB / LaSOT curve (GOT-10k's success curve: ``GOT10K_THRESHOLDS``)."""
_AT_20PX = int(np.searchsorted(PRECISION_THRESHOLDS, PRECISION_PIXELS))
_AT_HALF = int(np.searchsorted(SUCCESS_THRESHOLDS, 0.5))
_SEPARATORS = re.compile(r"[,\s]+")


class ShortResultsWarning(UserWarning):
    """LaSOT results with fewer rows than the ground truth, scored on the frames both have. The
    message starts with the file's path."""


@dataclass(frozen=True)
class Track:
    """The boxes of one file, (T, 4) ltwh, and the 1-based line of each row."""

    boxes: np.ndarray
    lines: np.ndarray
    path: Path

    def error(self, row: int, problem: str) -> FormatError:
        """``problem`` located at row ``row``'s line."""
        return FormatError(problem, self.path, int(self.lines[row]))


@dataclass(frozen=True)
class Truth:
    """A sequence's ground truth; GOT-10k: its cover per frame and image size too."""

    track: Track
    cover: np.ndarray | None = None
    size: tuple[float, float] | None = None


def read_boxes(path: Path, what: str = "results") -> Track:
    """A file of x,y,w,h rows (commas, tabs or spaces; blank lines skipped; ``nan`` allowed)."""
    values, lines = _read_rows(path, 4, "numbers (x, y, w, h)", what)
    track = Track(values, lines, path)
    negative = np.flatnonzero((values[:, 2:] < 0).any(axis=1))
    if len(negative):
        raise track.error(
            negative[0], f"negative width or height: {values[negative[0], 2:].tolist()}"
        )
    return track


def _read_rows(path: Path, columns: int, named: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The non-blank lines of ``path`` as (N, columns) floats, and their line numbers."""
    if not path.is_file():
        raise FormatError(f"{what} file not found", path)
    rows, lines = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = _SEPARATORS.split(line.strip())
        if fields == [""]:
            continue
        if len(fields) != columns:
            raise FormatError(f"expected {columns} {named}, found {len(fields)}", path, number)
        try:
            row = [float(field) for field in fields]
        except ValueError:
            bad = next(field for field in fields if not _is_number(field))
            raise FormatError(f"not a number: {bad!r}", path, number) from None
        if any(np.isinf(row)):
            raise FormatError(f"not a finite number: {line.strip()!r}", path, number)
        rows.append(row)
        lines.append(number)
    if not rows:
        raise FormatError(f"empty {what} file", path)
    return np.array(rows, dtype=np.float64), np.array(lines)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def read_cover(path: Path, frames: int) -> np.ndarray:
    """GOT-10k's ``cover.label``: one visible-ratio class (0: not visible) per frame."""
    values, lines = _read_rows(path, 1, "number", "cover.label")
    if len(values) != frames:
        line = int(lines[frames] if len(values) > frames else lines[-1])
        raise FormatError(f"{len(values)} frames, the ground truth has {frames}", path, line)
    return values[:, 0]


def read_resolution(path: Path) -> tuple[float, float]:
    """The image ``(width, height)`` of GOT-10k's ``meta_info.ini`` (``resolution: (W, H)``)."""
    if not path.is_file():
        raise FormatError("meta_info.ini not found (GOT-10k bounds boxes by its resolution)", path)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        key, _, value = line.partition(":")
        if key.strip() != "resolution":
            continue
        size = re.fullmatch(r"\(\s*(\d+(?:\.\d*)?)\s*,\s*(\d+(?:\.\d*)?)\s*\)", value.strip())
        if size is None:
            raise FormatError(
                f"resolution is not '(width, height)': {value.strip()!r}", path, number
            )
        return float(size[1]), float(size[2])
    raise FormatError("no 'resolution: (width, height)' line", path)


def read_sequence_list(path: Path) -> dict[str, int]:
    """Sequence names, one a line (blank lines skipped), with their line numbers."""
    if not path.is_file():
        raise FormatError("sequence list not found", path)
    names: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        name = line.strip()
        if not name:
            continue
        if name in names:
            raise FormatError(
                f"sequence {name} listed twice (first on line {names[name]})", path, number
            )
        names[name] = number
    return names


def single_object_protocol(task: str | None, protocol: str | None, gt: Path) -> str | None:
    """The single-object protocol ``trackbench evaluate`` uses, or None for the multi-object
    evaluation: ``protocol`` when it is a single-object one, else the one ``gt``'s layout shows
    (when ``task`` is not ``multi-object`` and no other protocol is given)."""
    if task == MULTI_OBJECT or (protocol is not None and protocol not in SOT_PROTOCOLS):
        if task == SINGLE_OBJECT:
            raise ConfigError(
                f"{protocol!r} is not a single-object protocol; choose one of "
                f"{', '.join(SOT_PROTOCOLS)}"
            )
        return None
    found = protocol or detect_protocol(gt)
    if found is None and task == SINGLE_OBJECT:
        raise FormatError(
            "no single-object layout found (OTB: <Seq>/groundtruth_rect.txt; GOT-10k: "
            "<seq>/groundtruth.txt with cover.label; LaSOT: <class>/<class-n>/groundtruth.txt "
            "with full_occlusion.txt); name one with --protocol",
            gt,
        )
    return found


def detect_protocol(gt: Path) -> str | None:
    """The protocol whose ground-truth layout ``gt`` has, or None."""
    if not gt.is_dir():
        return None
    for folder in _subfolders(gt):
        if any(folder.glob("groundtruth_rect*.txt")):
            return OTB
        if (folder / "groundtruth.txt").is_file():
            if (folder / "full_occlusion.txt").is_file():
                return LASOT
            if (folder / "cover.label").is_file() or (folder / "absence.label").is_file():
                return GOT10K
        elif any(_is_lasot_sequence(seq) for seq in _subfolders(folder)):
            return LASOT
    return None


def _is_lasot_sequence(folder: Path) -> bool:
    return (folder / "groundtruth.txt").is_file() and (folder / "full_occlusion.txt").is_file()


def _subfolders(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_dir() and not f.name.startswith("."))


def find_ground_truth(gt: Path, protocol: str) -> dict[str, Path]:
    """The gt file of each sequence ``gt`` holds, by name, in got10k's order."""
    if not gt.is_dir():
        raise FormatError(f"{protocol} ground truth must be a folder of sequences", gt)
    if protocol == OTB:
        files = sorted(gt.glob("[!.]*/groundtruth*.txt"), key=str)
        files = [f for f in files if f.read_text(encoding="utf-8").strip()]
        names = [f.parent.name for f in files]
        numbered = [
            f"{name}.{names[: i + 1].count(name)}" if names.count(name) > 1 else name
            for i, name in enumerate(names)
        ]
        return dict(zip(numbered, files))
    if protocol == GOT10K:
        files = sorted(gt.glob("[!.]*/groundtruth.txt"), key=str)
    else:
        files = sorted(gt.glob("[!.]*/[!.]*/groundtruth.txt"), key=str)
        files = files or sorted(gt.glob("[!.]*/groundtruth.txt"), key=str)
    found: dict[str, Path] = {}
    for file in files:
        if file.parent.name in found:
            raise FormatError(
                f"sequence {file.parent.name} also in {found[file.parent.name]}", file
            )
        found[file.parent.name] = file
    return found


def select_sequences(found: dict[str, Path], gt: Path, listing: Path | None) -> dict[str, Path]:
    """The sequences ``listing`` names (each must have ground truth), else every one found."""
    if listing is None:
        if not found:
            raise FormatError("no sequences found", gt)
        return found
    names = read_sequence_list(listing)
    for name, line in names.items():
        if name not in found:
            raise FormatError(f"sequence {name}: no ground truth in {gt}", listing, line)
    if not names:
        raise FormatError("no sequences listed", listing)
    return {name: found[name] for name in names}


def find_trackers(
    pred: Path, protocol: str, names: list[str], tracker: str | None = None
) -> dict[str, Path]:
    """Tracker folders by name: ``pred`` itself when it holds results of a sequence in
    ``names``, else its subfolders that do (``tracker``: only that one)."""
    if not pred.is_dir():
        raise FormatError("results folder not found", pred)

    def has_results(folder: Path) -> bool:
        return any(_repetitions(folder, name, protocol) for name in names)

    if has_results(pred):
        found = {pred.resolve().name: pred}
    else:
        found = {folder.name: folder for folder in _subfolders(pred) if has_results(folder)}
    if tracker is not None:
        if tracker not in found:
            known = ", ".join(found) or "none"
            raise FormatError(f"no results of tracker {tracker!r} (trackers: {known})", pred)
        found = {tracker: found[tracker]}
    if not found:
        example = _results_file(Path("<tracker>"), names[0], protocol)
        raise FormatError(f"no {protocol} results for these sequences here (e.g. {example})", pred)
    return found


def _results_file(folder: Path, seq: str, protocol: str) -> Path:
    """Where got10k writes a sequence's (first) results."""
    return folder / seq / f"{seq}_001.txt" if protocol == GOT10K else folder / f"{seq}.txt"


def _repetitions(folder: Path, seq: str, protocol: str) -> list[Path]:
    """The results files of ``seq`` in a tracker folder: GOT-10k's ``<seq>_NNN.txt``, in order."""
    if protocol != GOT10K:
        file = _results_file(folder, seq, protocol)
        return [file] if file.is_file() else []
    pattern = re.compile(re.escape(seq) + r"_\d+\.txt")
    runs = folder / seq
    return sorted(f for f in runs.glob(f"{seq}_*.txt") if pattern.fullmatch(f.name))


def load_truth(file: Path, protocol: str) -> Truth:
    """A sequence's ground truth; GOT-10k: with its cover labels and image size."""
    track = read_boxes(file, "ground-truth")
    if protocol != GOT10K:
        return Truth(track)
    cover = read_cover(file.parent / "cover.label", len(track.boxes))
    size = read_resolution(file.parent / "meta_info.ini")
    scored = np.flatnonzero(np.isnan(track.boxes).any(axis=1) & (cover > 0))
    scored = scored[scored > 0]
    if len(scored):
        raise track.error(scored[0], "NaN box in a frame GOT-10k scores (its cover is not 0)")
    if not (cover[1:] > 0).any():
        raise FormatError("no frame to score: every cover after the first frame is 0", file)
    return Truth(track, cover, size)


def read_results(path: Path, truth: Truth, protocol: str) -> np.ndarray:
    """A results file's boxes, checked against the ground truth's length (LaSOT: shorter
    results are cut to the frames both have, with a warning)."""
    track = read_boxes(path)
    found, frames = len(track.boxes), len(truth.track.boxes)
    if found > frames:
        raise track.error(frames, f"more rows than the {frames} frames of {truth.track.path}")
    if found < frames:
        problem = f"results for {found} frames, {truth.track.path} has {frames}"
        if protocol != LASOT:
            raise track.error(found - 1, problem)
        warnings.warn(
            f"{path}: {problem}; scored on the first {found} (got10k's LaSOT rule)",
            ShortResultsWarning,
            stacklevel=2,
        )
    return track.boxes


def sequence_curves(gt: np.ndarray, pred: np.ndarray, protocol: str) -> dict[str, np.ndarray]:
    """OTB's (LaSOT's, with its normalised precision) curves of one sequence, ``pred`` as long
    as ``gt``: the first predicted box replaced by the gt box; LaSOT skips NaN gt boxes, OTB
    counts them as failures."""
    pred = np.array(pred, dtype=np.float64)
    pred[0] = gt[0]
    if protocol == LASOT:
        annotated = ~np.isnan(gt).any(axis=1)
        gt, pred = gt[annotated], pred[annotated]
    curves = {
        "success": success_curve(np.nan_to_num(frame_ious(gt, pred))),
        "precision": precision_curve(_failing(center_errors(gt, pred, pixel_centres=True))),
    }
    if protocol == LASOT:
        errors = _failing(normalized_center_errors(gt, pred, pixel_centres=True))
        curves["normalized_precision"] = precision_curve(errors, NORMALIZED_PRECISION_THRESHOLDS)
    return curves


def _failing(errors: np.ndarray) -> np.ndarray:
    """Centre errors with NaN (no gt box) as infinite: the frame fails every threshold."""
    return np.where(np.isnan(errors), np.inf, errors)


def curve_scores(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """AUC, Precision20, NormPrecision (LaSOT) and SR0.5 of a sequence's or the mean curves."""
    scores = {
        "AUC": float(np.mean(curves["success"])),
        "Precision20": float(curves["precision"][_AT_20PX]),
    }
    if "normalized_precision" in curves:
        scores["NormPrecision"] = float(np.mean(curves["normalized_precision"]))
    scores["SR0.5"] = float(curves["success"][_AT_HALF])
    return scores


def got10k_ious(
    gt: np.ndarray, pred: np.ndarray, cover: np.ndarray, size: tuple[float, float]
) -> np.ndarray:
    """IoUs of the frames GOT-10k scores (after the first, ``cover`` not 0), both boxes held in
    the image of ``size`` (width, height)."""
    scored = np.asarray(cover) > 0
    scored[0] = False
    return frame_ious(bounded_boxes(gt[scored], *size), bounded_boxes(pred[scored], *size))


def overlap_scores(ious: np.ndarray) -> dict[str, float]:
    """GOT-10k's AO, SR0.5 and SR0.75 of a set of frames' IoUs."""
    return {
        "AO": float(np.mean(ious)),
        "SR0.5": float(np.mean(ious > 0.5)),
        "SR0.75": float(np.mean(ious > 0.75)),
    }


def evaluate_single_object(
    gt: Path,
    pred: Path,
    protocol: str,
    sequences: Path | None = None,
    tracker: str | None = None,
    repetitions: str = FIRST,
) -> dict[str, Any]:
    """Every tracker's scores under ``protocol``: ``{"protocol", "trackers": {name:
    {"sequences": {seq: scores}, "combined": scores, "curves": {name: combined curve}}}}``,
    ratios as fractions; ``sequences`` names a list file of the sequences to evaluate."""
    if protocol not in SOT_PROTOCOLS:
        raise ConfigError(f"unknown single-object protocol {protocol!r}")
    if repetitions not in REPETITIONS or (repetitions != FIRST and protocol != GOT10K):
        raise ConfigError(f"repetitions {repetitions!r}: GOT-10k's are {' or '.join(REPETITIONS)}")
    listed = gt / "list.txt"
    if sequences is None and protocol == GOT10K and listed.is_file():
        sequences = listed
    gt_files = select_sequences(find_ground_truth(gt, protocol), gt, sequences)
    trackers = find_trackers(pred, protocol, list(gt_files), tracker)
    truths = {name: load_truth(file, protocol) for name, file in gt_files.items()}
    results = {}
    for name, folder in trackers.items():
        if protocol == GOT10K:
            results[name] = _evaluate_got10k(folder, truths, repetitions)
        else:
            results[name] = _evaluate_curves(folder, truths, protocol)
    return {"protocol": protocol, "trackers": results}


def _runs(folder: Path, seq: str, protocol: str, repetitions: str) -> list[Path]:
    """The results files of ``seq`` to score (an error when there are none)."""
    first = _results_file(folder, seq, protocol)
    runs = _repetitions(folder, seq, protocol) if repetitions == ALL else [first]
    if not runs or not runs[0].is_file():
        raise FormatError("results file not found", first)
    return runs


def _evaluate_curves(folder: Path, truths: dict[str, Truth], protocol: str) -> dict[str, Any]:
    per_sequence, curves = {}, []
    for seq, truth in truths.items():
        (path,) = _runs(folder, seq, protocol, FIRST)
        pred = read_results(path, truth, protocol)
        curves.append(sequence_curves(truth.track.boxes[: len(pred)], pred, protocol))
        per_sequence[seq] = curve_scores(curves[-1])
    mean = {key: np.mean([c[key] for c in curves], axis=0) for key in curves[0]}
    return {
        "sequences": per_sequence,
        "combined": curve_scores(mean),
        "curves": {key: values.tolist() for key, values in mean.items()},
    }


def _evaluate_got10k(folder: Path, truths: dict[str, Truth], repetitions: str) -> dict[str, Any]:
    per_sequence, pooled = {}, []
    for seq, truth in truths.items():
        assert truth.cover is not None and truth.size is not None  # load_truth's, for GOT-10k
        gt, cover, size = truth.track.boxes, truth.cover, truth.size
        runs = _runs(folder, seq, GOT10K, repetitions)
        ious = np.concatenate(
            [got10k_ious(gt, read_results(p, truth, GOT10K), cover, size) for p in runs]
        )
        per_sequence[seq] = overlap_scores(ious)
        pooled.append(ious)
    ious = np.concatenate(pooled)
    return {
        "sequences": per_sequence,
        "combined": overlap_scores(ious),
        "curves": {"success": success_curve(ious, GOT10K_THRESHOLDS).tolist()},
    }
