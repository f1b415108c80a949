"""Evaluate tracker results files against ground truth, in TrackEval's layouts or simpler ones.

Ground truth, MOTChallenge protocols (``<seq>/seqinfo.ini``'s ``seqLength`` is a frame count):

- TrackEval's ``gt/mot_challenge`` with ``benchmark`` and ``split``: the sequences of
  ``<BENCHMARK>-<SPLIT>/``, those ``seqmaps/<BENCHMARK>-<SPLIT>.txt`` lists when it exists;
- a folder of sequences such as TrackEval's ``MOT17-train`` (``../seqmaps/<folder>.txt`` lists
  them when it exists): ``<seq>/gt/gt.txt``, ``<seq>/gt.txt`` or ``<seq>.txt``;
- one sequence folder ``<seq>/`` holding ``gt/gt.txt``;
- one file, named by its sequence folder (``<seq>/gt/gt.txt``, ``<seq>/gt.txt``) or its stem.

Ground truth, KITTI protocols (one result per class): TrackEval's ``gt/kitti/kitti_2d_box_train``
(``label_02/`` and ``evaluate_tracking.seqmap.<split>``, split ``training`` by default), its
``label_02`` folder (the seqmap beside it, else ``../image_02/<seq>`` gives frame counts) or one
label file. A KITTI seqmap line is ``<seq> empty <first> <frames>``, read as TrackEval reads it:
the fourth field is the sequence's frame count.

Predictions: TrackEval's ``trackers/mot_challenge`` (with ``benchmark``, ``split``, ``tracker``),
a folder of tracker folders such as ``trackers/mot_challenge/MOT17-train`` or
``trackers/kitti/kitti_2d_box_train`` (with ``tracker``), a tracker folder holding
``data/<seq>.txt``, or a folder of ``<seq>.txt`` files; one file for one gt sequence.

A seqmap (found as above, or given) selects the sequences; each it lists needs gt and predictions
(an error names its line). Without one, every gt sequence needs predictions and every
predictions file a gt sequence. Files whose names start with a dot are ignored.
"""

from __future__ import annotations

import configparser
import csv
import io
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EmptyResultsWarning, FormatError
from harness.metrics.kitti import evaluate_kitti, read_kitti
from harness.metrics.mot import DEFAULT_ENGINE, check_engine, evaluate
from harness.metrics.protocols import KITTI_PROTOCOLS, check_protocol, required_gt_classes
from harness.motchallenge import read_mot

GT_LAYOUTS = ("{seq}/gt/gt.txt", "{seq}/gt.txt")
KITTI_SEQMAP = "evaluate_tracking.seqmap.{split}"
KITTI_SPLIT = "training"


@dataclass(frozen=True)
class Seqmap:
    """The sequences a seqmap file lists, by name: their lines and (KITTI) frame counts."""

    path: Path
    lines: dict[str, int]
    lengths: dict[str, int]

    def error(self, seq: str, problem: str) -> FormatError:
        """``problem`` of sequence ``seq``, located at the seqmap line that lists it."""
        return FormatError(f"sequence {seq}: {problem}", self.path, self.lines[seq])


@dataclass(frozen=True)
class GroundTruth:
    """Gt files by sequence name, the frame counts known, where they were found (a folder or one
    file) and the seqmap that selected them, if any."""

    files: dict[str, Path]
    lengths: dict[str, int]
    found_in: Path
    seqmap: Seqmap | None = None

    def select(self, seqmap: Seqmap) -> GroundTruth:
        """The sequences ``seqmap`` lists, with its frame counts where it has them."""
        for seq in seqmap.lines:
            if seq not in self.files:
                raise seqmap.error(seq, f"no ground truth in {self.found_in}")
        lengths = {**self.lengths, **seqmap.lengths}
        return GroundTruth(
            {seq: self.files[seq] for seq in seqmap.lines},
            {seq: lengths[seq] for seq in seqmap.lines if seq in lengths},
            self.found_in,
            seqmap,
        )


def evaluate_files(
    gt_path: str | Path,
    pred_path: str | Path,
    protocol: str = "plain",
    *,
    benchmark: str | None = None,
    split: str | None = None,
    tracker: str | None = None,
    seqmap: str | Path | None = None,
    engine: str = DEFAULT_ENGINE,
) -> dict:
    """Metrics of the predictions at ``pred_path`` against the ground truth at ``gt_path``.

    Layouts, ``benchmark``/``split``/``tracker`` and seqmaps as the module docstring says;
    ``seqmap`` (a file, KITTI's format for KITTI protocols) replaces any seqmap found; ``engine``
    as ``harness.metrics.mot.evaluate``'s. A missing
    or malformed file is a ``FormatError`` naming it (and the line); an empty results file is
    evaluated, with an ``EmptyResultsWarning``. See ``harness.metrics.mot.evaluate``.
    """
    check_protocol(protocol)
    check_engine(engine)
    kitti = protocol in KITTI_PROTOCOLS
    gt = find_gt_sequences(
        Path(gt_path), benchmark, split, kitti, None if seqmap is None else Path(seqmap)
    )
    pred_files = find_pred_files(
        Path(pred_path), gt.files, gt.seqmap, tracker=tracker, benchmark=benchmark, split=split
    )
    lengths = gt.lengths
    if kitti:
        labels = {seq: read_kitti(path, "gt", lengths.get(seq)) for seq, path in gt.files.items()}
        results = {
            seq: read_kitti(path, "result", lengths.get(seq)) for seq, path in pred_files.items()
        }
        _warn_if_empty(results, pred_files)
        return evaluate_kitti(labels, results, KITTI_PROTOCOLS[protocol], lengths, engine)
    classes = required_gt_classes(protocol)
    truth = {
        seq: read_mot(path, "gt", seq_length=lengths.get(seq), classes=classes)
        for seq, path in gt.files.items()
    }
    pred = {
        seq: read_mot(path, "result", seq_length=lengths.get(seq))
        for seq, path in pred_files.items()
    }
    _warn_if_empty(pred, pred_files)
    return evaluate(truth, pred, protocol, lengths, engine)


def find_gt_sequences(
    path: Path,
    benchmark: str | None = None,
    split: str | None = None,
    kitti: bool = False,
    seqmap: Path | None = None,
) -> GroundTruth:
    """The ground truth at ``path`` in any layout of the module docstring, restricted to the
    sequences of ``seqmap``, else of the seqmap the layout has, if any."""
    layout_seqmap = None
    if path.is_file():
        gt = _kitti_label_file(path) if kitti else _mot_gt_file(path)
    elif not kitti and (path / "gt" / "gt.txt").is_file():
        gt = _mot_gt_file(path / "gt" / "gt.txt")
    elif path.is_dir():
        folder, layout_seqmap = _gt_folder(path, benchmark, split, kitti)
        files, lengths = _kitti_labels(folder) if kitti else _mot_sequences(folder)
        if not files:
            raise _no_gt_error(path, kitti)
        gt = GroundTruth(files, lengths, folder)
    else:
        raise FormatError("ground truth not found", path)
    if seqmap is None and layout_seqmap is not None and layout_seqmap.is_file():
        seqmap = layout_seqmap
    return gt if seqmap is None else gt.select(read_seqmap(seqmap, kitti))


def find_pred_files(
    path: Path,
    gt_files: Mapping[str, object],
    seqmap: Seqmap | None = None,
    *,
    tracker: str | None = None,
    benchmark: str | None = None,
    split: str | None = None,
) -> dict[str, Path]:
    """Prediction files by sequence name, one per gt sequence (a missing one is an error naming
    the seqmap line that lists the sequence, if any); without ``seqmap`` every file in the
    folder needs a gt sequence. ``path`` is one file or any level of ``find_pred_folder``."""
    if path.is_file():
        if len(gt_files) != 1:
            raise FormatError(
                "one prediction file given for several gt sequences; give a folder", path
            )
        return {next(iter(gt_files)): path}
    if not path.is_dir():
        raise FormatError("predictions not found", path)
    folder = find_pred_folder(path, tracker, benchmark, split)
    files = {seq: folder / f"{seq}.txt" for seq in gt_files}
    for seq, file in files.items():
        if file.is_file():
            continue
        if seqmap is not None:
            raise seqmap.error(seq, f"no prediction file {file}")
        raise FormatError(f"no prediction file for sequence {seq}", file)
    if seqmap is None:
        extra = [p.name for p in _txt_files(folder) if p.stem not in gt_files]
        if extra:
            raise FormatError(f"prediction files without ground truth: {', '.join(extra)}", folder)
    return files


def find_pred_folder(
    path: Path, tracker: str | None = None, benchmark: str | None = None, split: str | None = None
) -> Path:
    """The folder of ``<seq>.txt`` results at ``path``: a tracker folder's ``data/``, ``path``
    itself when it holds ``.txt`` files, else found below through ``tracker`` and
    ``<benchmark>-<split>`` (TrackEval's ``trackers/<dataset>/<BENCHMARK>-<SPLIT>/<tracker>``)."""
    if (path / "data").is_dir():
        return path / "data"
    if _txt_files(path):
        return path
    for below in (tracker, benchmark and split and f"{benchmark}-{split}"):
        if below and (path / below).is_dir():
            return find_pred_folder(path / below, tracker, benchmark, split)
    folders = [p.name for p in _subfolders(path)]
    raise FormatError(
        "no prediction files: expected <seq>.txt files, a tracker folder with data/<seq>.txt, a "
        "folder of tracker folders (e.g. TrackEval's trackers/mot_challenge/MOT17-train, "
        "trackers/kitti/kitti_2d_box_train) with --tracker, or TrackEval's trackers/mot_challenge "
        "with --benchmark, --split and --tracker"
        + (f"; it holds {', '.join(folders)}" if folders else "; it is empty"),
        path,
    )


def tracker_names(path: Path, benchmark: str | None = None, split: str | None = None) -> list[str]:
    """The trackers at ``path`` when it is a folder of tracker folders (TrackEval's
    ``trackers/mot_challenge/MOT17-train``, or ``trackers/mot_challenge`` with ``benchmark`` and
    ``split``): its subfolders holding ``data/`` or ``.txt`` results, by name; empty for the
    layouts of one tracker (a file, a tracker folder, a folder of ``<seq>.txt``)."""
    if not path.is_dir() or (path / "data").is_dir() or _txt_files(path):
        return []
    if benchmark and split and (path / f"{benchmark}-{split}").is_dir():
        path = path / f"{benchmark}-{split}"
    return [p.name for p in _subfolders(path) if (p / "data").is_dir() or _txt_files(p)]


def read_seqmap(path: Path, kitti: bool = False) -> Seqmap:
    """A seqmap file: TrackEval's MOTChallenge format (a header line ``name``, then one sequence
    per line, its first comma-separated field) or, with ``kitti``, KITTI's ``<seq> empty <first>
    <frames>`` lines (see ``_kitti_seqmap``)."""
    if not path.is_file():
        raise FormatError("seqmap not found", path)
    text = path.read_text(encoding="utf-8", errors="replace")
    lines, lengths = _kitti_seqmap(text, path) if kitti else (_mot_seqmap(text, path), {})
    if not lines:
        raise FormatError("the seqmap lists no sequences", path)
    return Seqmap(path, lines, lengths)


def _mot_seqmap(text: str, path: Path) -> dict[str, int]:
    """Lines by sequence name. TrackEval skips the first line whatever it holds, so it must be
    the header ``name`` (else a sequence would be dropped silently)."""
    reader = csv.reader(io.StringIO(text))
    lines = {}
    for row in reader:
        name = row[0].strip() if row else ""
        if reader.line_num == 1:
            if name.lower() != "name":
                raise FormatError(
                    f"expected the header line 'name', found {name!r} (TrackEval skips line 1)",
                    path,
                    1,
                )
        elif name:
            lines[name] = reader.line_num
    return lines


def _kitti_seqmap(text: str, path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Lines and frame counts by sequence name, as TrackEval's ``Kitti2DBox`` reads them: the
    delimiter sniffed from the first 1024 characters, rows of fewer than 4 fields skipped, the
    frame count ``int`` of the fourth field (``0000 empty 000000 000154`` is 154 frames)."""
    try:
        dialect = csv.Sniffer().sniff(text[:1024])
    except csv.Error as exc:
        raise FormatError(f"unreadable KITTI seqmap ({exc})", path) from None
    reader = csv.reader(io.StringIO(text), dialect)
    lines, lengths = {}, {}
    for row in reader:
        if len(row) < 4:
            continue
        try:
            lengths[row[0]] = int(row[3])
        except ValueError:
            raise FormatError(
                f"the fourth field, the frame count, is not an integer: {row[3]!r}",
                path,
                reader.line_num,
            ) from None
        lines[row[0]] = reader.line_num
    return lines, lengths


def _gt_folder(
    path: Path, benchmark: str | None, split: str | None, kitti: bool
) -> tuple[Path, Path]:
    """The folder at or below ``path`` that holds the sequences, and where its seqmap would be."""
    if kitti:
        seqmap = KITTI_SEQMAP.format(split=split or KITTI_SPLIT)
        if (path / "label_02").is_dir():
            return path / "label_02", path / seqmap
        return path, _absolute(path).parent / seqmap
    if benchmark and split and (path / f"{benchmark}-{split}").is_dir():
        return path / f"{benchmark}-{split}", path / "seqmaps" / f"{benchmark}-{split}.txt"
    here = _absolute(path)
    return path, here.parent / "seqmaps" / f"{here.name}.txt"


def _mot_sequences(folder: Path) -> tuple[dict[str, Path], dict[str, int]]:
    """Gt files of the sequences in ``folder`` (``<seq>.txt`` or a ``GT_LAYOUTS`` folder, which
    wins) and the frame counts of their ``seqinfo.ini`` files."""
    files = {p.stem: p for p in _txt_files(folder)}
    lengths = {}
    for sequence in _subfolders(folder):
        found = [folder / layout.format(seq=sequence.name) for layout in GT_LAYOUTS]
        found = [f for f in found if f.is_file()]
        if not found:
            continue
        files[sequence.name] = found[0]
        ini = sequence / "seqinfo.ini"
        if ini.is_file():
            lengths[sequence.name] = _seq_length(ini)
    return files, lengths


def _mot_gt_file(path: Path) -> GroundTruth:
    """One gt file: ``gt.txt`` is named by its sequence folder (``<seq>/gt/gt.txt`` or
    ``<seq>/gt.txt``, with ``<seq>/seqinfo.ini``), any other file by its stem."""
    folder = _absolute(path).parent
    if folder.name == "gt":
        folder = folder.parent
    if path.name != "gt.txt" or not folder.name:  # not in a folder that has a name: the root
        return GroundTruth({path.stem: path}, {}, path)
    ini = folder / "seqinfo.ini"
    lengths = {folder.name: _seq_length(ini)} if ini.is_file() else {}
    return GroundTruth({folder.name: path}, lengths, path)


def _kitti_labels(folder: Path) -> tuple[dict[str, Path], dict[str, int]]:
    """The ``<seq>.txt`` label files in ``folder`` and their frame counts from ``image_02``."""
    files = {p.stem: p for p in _txt_files(folder)}
    lengths = {seq: n for seq, p in files.items() if (n := kitti_num_frames(p))}
    return files, lengths


def _kitti_label_file(path: Path) -> GroundTruth:
    length = kitti_num_frames(path)
    return GroundTruth({path.stem: path}, {path.stem: length} if length else {}, path)


def kitti_num_frames(label_file: Path) -> int | None:
    """Frames of a KITTI sequence: the images in ``<split>/image_02/<seq>`` next to
    ``<split>/label_02/<seq>.txt`` (what KITTI's seqmap lists), None when that folder is absent."""
    images = label_file.parent.parent / "image_02" / label_file.stem
    count = sum(1 for _ in images.glob("*.png")) if images.is_dir() else 0
    return count or None


def _no_gt_error(path: Path, kitti: bool) -> FormatError:
    """The error for a folder in no known gt layout: the layouts, and the benchmark splits in it."""
    if kitti:
        return FormatError(
            "no KITTI label files: expected TrackEval's gt/kitti/kitti_2d_box_train (label_02/ "
            "and evaluate_tracking.seqmap.<split>), a label_02 folder of <seq>.txt or one file",
            path,
        )
    splits = sorted({p.parts[-4] for p in path.glob("*/*/gt/gt.txt")})
    hint = f"; it holds {', '.join(splits)}: choose one with --benchmark and --split"
    return FormatError(
        "no ground-truth sequences: expected <seq>.txt, <seq>/gt/gt.txt or <seq>/gt.txt (e.g. "
        "TrackEval's gt/mot_challenge/MOT17-train), or TrackEval's gt/mot_challenge with "
        "--benchmark and --split" + (hint if splits else ""),
        path,
    )


def _warn_if_empty(results: dict, files: dict[str, Path]) -> None:
    """An ``EmptyResultsWarning`` for each results table without rows."""
    for seq, table in results.items():
        if len(table) == 0:
            warnings.warn(
                EmptyResultsWarning(
                    f"{files[seq]}: empty results file, evaluated as a tracker that found "
                    "nothing (every ground-truth box a false negative)"
                ),
                stacklevel=3,
            )


def _txt_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.txt") if not p.name.startswith(".") and p.is_file())


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _absolute(path: Path) -> Path:
    """``path`` made absolute without resolving links, so ``.`` and ``..`` have folder names."""
    return Path(os.path.abspath(path))


def _seq_length(ini: Path) -> int:
    parser = configparser.ConfigParser()
    try:
        parser.read(ini, encoding="utf-8")
        return int(parser["Sequence"]["seqLength"])
    except (configparser.Error, KeyError, ValueError) as exc:
        raise FormatError(f"no valid [Sequence] seqLength ({exc})", ini) from None
