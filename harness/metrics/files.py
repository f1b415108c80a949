"""Evaluate MOTChallenge text files: one sequence file, or a folder of sequences.

KITTI protocols (``kitti``, ``kitti-car``, ``kitti-pedestrian``) read KITTI label files for both
(``label_02/<seq>.txt`` and a folder of ``<seq>.txt`` results) and return one result per class.

Ground-truth folder layouts (one per folder): ``<seq>.txt`` files; ``<seq>/gt/gt.txt`` (the
MOTChallenge layout, where ``<seq>/seqinfo.ini``'s ``seqLength`` gives the frame count); or
``<seq>/gt.txt``. Predictions are ``<seq>.txt`` files in a folder (or one file for one gt file).
"""

from __future__ import annotations

import configparser
from pathlib import Path

from harness.errors import FormatError
from harness.metrics.kitti import evaluate_kitti, read_kitti
from harness.metrics.mot import evaluate
from harness.metrics.protocols import KITTI_PROTOCOLS, check_protocol
from harness.motchallenge import read_mot

GT_LAYOUTS = ("{seq}/gt/gt.txt", "{seq}/gt.txt")


def evaluate_files(gt_path: str | Path, pred_path: str | Path, protocol: str = "plain") -> dict:
    """Metrics of the predictions at ``pred_path`` against the ground truth at ``gt_path``.

    Every gt sequence needs a prediction file and every prediction file a gt sequence; either
    miss is a ``FormatError`` that names the file. See ``harness.metrics.mot.evaluate``.
    """
    check_protocol(protocol)
    gt_files, seq_lengths = find_gt_sequences(Path(gt_path))
    pred_files = find_pred_files(Path(pred_path), gt_files)
    if protocol in KITTI_PROTOCOLS:
        gt = {seq: read_kitti(path, "gt") for seq, path in gt_files.items()}
        pred = {seq: read_kitti(path, "result") for seq, path in pred_files.items()}
        lengths = {seq: kitti_num_frames(path) for seq, path in gt_files.items()}
        return evaluate_kitti(gt, pred, KITTI_PROTOCOLS[protocol], lengths)
    gt = {seq: read_mot(path, "gt") for seq, path in gt_files.items()}
    pred = {seq: read_mot(path, "result") for seq, path in pred_files.items()}
    return evaluate(gt, pred, protocol, seq_lengths)


def find_gt_sequences(path: Path) -> tuple[dict[str, Path], dict[str, int]]:
    """Ground-truth files by sequence name, and frame counts from ``seqinfo.ini`` where present.

    A single file names its sequence by its stem, or, for ``gt.txt``, by its sequence folder
    (``<seq>/gt/gt.txt`` or ``<seq>/gt.txt``).
    """
    if path.is_file():
        if path.name != "gt.txt":
            return {path.stem: path}, {}
        folder = path.parent.parent if path.parent.name == "gt" else path.parent
        ini = folder / "seqinfo.ini"
        return {folder.name: path}, ({folder.name: _seq_length(ini)} if ini.is_file() else {})
    if not path.is_dir():
        raise FormatError("ground truth not found", path)
    files = {p.stem: p for p in sorted(path.glob("*.txt"))}
    lengths = {}
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        found = [folder.parent / layout.format(seq=folder.name) for layout in GT_LAYOUTS]
        found = [f for f in found if f.is_file()]
        if not found:
            continue
        files[folder.name] = found[0]
        ini = folder / "seqinfo.ini"
        if ini.is_file():
            lengths[folder.name] = _seq_length(ini)
    if not files:
        raise FormatError(
            "no ground-truth sequences: expected <seq>.txt, <seq>/gt/gt.txt or <seq>/gt.txt", path
        )
    return files, lengths


def find_pred_files(path: Path, gt_files: dict[str, Path]) -> dict[str, Path]:
    """Prediction files by sequence name, checked against the gt sequences both ways."""
    if path.is_file():
        if len(gt_files) != 1:
            raise FormatError(
                "one prediction file given for several gt sequences; give a folder", path
            )
        return {next(iter(gt_files)): path}
    if not path.is_dir():
        raise FormatError("predictions not found", path)
    files = {seq: path / f"{seq}.txt" for seq in gt_files}
    for seq, file in files.items():
        if not file.is_file():
            raise FormatError(f"no prediction file for sequence {seq}", file)
    extra = sorted(p.name for p in path.glob("*.txt") if p.stem not in gt_files)
    if extra:
        raise FormatError(f"prediction files without ground truth: {', '.join(extra)}", path)
    return files


def kitti_num_frames(label_file: Path) -> int | None:
    """Frames of a KITTI sequence: the images in ``<split>/image_02/<seq>`` next to
    ``<split>/label_02/<seq>.txt`` (what KITTI's seqmap lists), None when that folder is absent."""
    images = label_file.parent.parent / "image_02" / label_file.stem
    count = sum(1 for _ in images.glob("*.png")) if images.is_dir() else 0
    return count or None


def _seq_length(ini: Path) -> int:
    parser = configparser.ConfigParser()
    try:
        parser.read(ini, encoding="utf-8")
        return int(parser["Sequence"]["seqLength"])
    except (configparser.Error, KeyError, ValueError) as exc:
        raise FormatError(f"no valid [Sequence] seqLength ({exc})", ini) from None
