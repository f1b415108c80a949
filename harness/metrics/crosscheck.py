"""Cross-checks: py-motmetrics on our prepared data, and TrackEval's own file-based pipeline.

py-motmetrics 1.4.0 gets the same preprocessed frames as our TrackEval engine, with distances we
compute (1 - IoU, NaN where IoU < 0.5; its ``iou_matrix``/``np.asfarray`` path and
``merge_event_dataframes`` are broken on NumPy 2, so the combined result feeds all sequences into
one accumulator with per-sequence id offsets). ``MOTP`` is reported as 1 - motmetrics' mean
distance, i.e. mean IoU as TrackEval reports it.

On the TUD-Campus/Stadtmitte files every metric here agrees to 1e-9 (tested); in general the
ID metrics agree, and the CLEAR metrics agree unless one of these known differences occurs
(each shown by a test on a tiny hand-made sequence):

(a) Continuity. motmetrics first re-establishes *any* earlier gt-track pairing (however many
    frames ago) before the Hungarian step; TrackEval only prefers the pairing of the single
    previous frame. After a frame where a gt object is missed, TrackEval can match it to a
    better-overlapping other track and count an IDSW where motmetrics keeps the old track and
    counts none (MOTP, and where the pairing starves another object also FP/FN, can differ).
    Both count a switch against the last matched track, however many frames ago.
(b) MT at exactly 80 %: TrackEval counts ``ratio > 0.8`` as MT (so 4 of 5 frames is PT),
    motmetrics ``ratio >= 0.8`` (MT). Both use ``>= 0.2`` for PT.
(c) Frag over annotation gaps: TrackEval counts a fragmentation when a gt object is tracked again
    after any frame in which it was not tracked, including frames where it is not annotated;
    motmetrics only counts tracked -> missed transitions, so an annotation gap is no fragment.
    (A frame with no gt or no predictions at all leaves TrackEval's previous-frame state as is.)
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import motmetrics
import numpy as np

from harness.data import BoxTable
from harness.metrics.fairmot import MOTMETRICS_NAMES, motmetrics_values
from harness.metrics.mot import metric_classes, named_metrics, prepare, trackeval_data
from harness.metrics.protocols import check_protocol
from harness.motchallenge import write_mot

TRACKEVAL_BENCHMARK = {
    "plain": "MOT15",
    "mot15": "MOT15",
    "mot16": "MOT16",
    "mot17": "MOT17",
    "mot20": "MOT20",
}


def motmetrics_evaluate(
    gt: dict[str, BoxTable],
    pred: dict[str, BoxTable],
    protocol: str = "plain",
    num_frames: dict[str, int] | None = None,
) -> dict:
    """py-motmetrics' CLEAR and ID metrics (our names) per sequence and combined."""
    data = {
        name: trackeval_data(seq) for name, seq in prepare(gt, pred, protocol, num_frames).items()
    }
    sequences = {name: _motmetrics_summary([seq]) for name, seq in data.items()}
    return {"sequences": sequences, "combined": _motmetrics_summary(list(data.values()))}


def _motmetrics_summary(data: list[dict]) -> dict:
    acc = motmetrics.MOTAccumulator()
    frame = gt_offset = pred_offset = 0
    for seq in data:
        for gt_ids, pred_ids, sim in zip(
            seq["gt_ids"], seq["tracker_ids"], seq["similarity_scores"]
        ):
            distance = np.where(sim < 0.5, np.nan, 1.0 - sim)
            acc.update(gt_ids + gt_offset, pred_ids + pred_offset, distance, frameid=frame)
            frame += 1
        gt_offset += seq["num_gt_ids"]
        pred_offset += seq["num_tracker_ids"]
    summary = motmetrics.metrics.create().compute(acc, metrics=list(MOTMETRICS_NAMES.values()))
    return motmetrics_values(summary.iloc[0], MOTMETRICS_NAMES)


def trackeval_files(
    gt: dict[str, BoxTable],
    pred: dict[str, BoxTable],
    protocol: str = "plain",
    num_frames: dict[str, int] | None = None,
) -> dict:
    """Metrics from TrackEval's own file-based pipeline on files we write to a temporary folder.

    ``plain`` runs as MOT15 (they differ only for fractional gt consider flags).
    """
    check_protocol(protocol)
    with tempfile.TemporaryDirectory() as tmp:
        write_trackeval_layout(Path(tmp), gt, pred, TRACKEVAL_BENCHMARK[protocol], num_frames)
        return run_trackeval(Path(tmp), TRACKEVAL_BENCHMARK[protocol])


def write_trackeval_layout(
    root: Path,
    gt: dict[str, BoxTable],
    pred: dict[str, BoxTable],
    benchmark: str,
    num_frames: dict[str, int] | None = None,
) -> None:
    """Write TrackEval's MOTChallenge layout under ``root`` (see ``run_trackeval``)."""
    num_frames = num_frames or {}
    for seq in gt:
        length = num_frames.get(seq) or int(
            max(gt[seq].frame.max(initial=0), pred[seq].frame.max(initial=0), 1)
        )
        write_mot(root / "gt" / f"{benchmark}-train" / seq / "gt" / "gt.txt", gt[seq], "gt")
        write_seqinfo(root / "gt" / f"{benchmark}-train" / seq, length)
        write_mot(
            root / "trackers" / f"{benchmark}-train" / "ours" / "data" / f"{seq}.txt",
            pred[seq],
            "result",
        )
    write_seqmap(root, benchmark, sorted(gt))


def write_seqinfo(folder: Path, num_frames: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={folder.name}\nseqLength={num_frames}\n", encoding="utf-8"
    )


def write_seqmap(root: Path, benchmark: str, sequences: list[str]) -> None:
    seqmap = root / "gt" / "seqmaps" / f"{benchmark}-train.txt"
    seqmap.parent.mkdir(parents=True, exist_ok=True)
    seqmap.write_text("name\n" + "".join(f"{seq}\n" for seq in sequences), encoding="utf-8")


def run_trackeval(root: Path, benchmark: str) -> dict:
    """TrackEval's ``Evaluator`` + ``MotChallenge2DBox`` (HOTA, CLEAR, Identity, Count) on the
    layout under ``root``: gt/<BENCH>-train/<seq>/{gt/gt.txt,seqinfo.ini},
    gt/seqmaps/<BENCH>-train.txt and trackers/<BENCH>-train/ours/data/<seq>.txt."""
    import trackeval

    dataset = trackeval.datasets.MotChallenge2DBox(
        {
            "GT_FOLDER": str(root / "gt"),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "BENCHMARK": benchmark,
            "SPLIT_TO_EVAL": "train",
            "TRACKERS_TO_EVAL": ["ours"],
            "PRINT_CONFIG": False,
        }
    )
    return trackeval_reference(dataset)["pedestrian"]


def trackeval_reference(dataset, tracker: str = "ours") -> dict[str, dict]:
    """TrackEval's own ``Evaluator`` (serial, silent) with HOTA, CLEAR and Identity on a TrackEval
    dataset object: per class, ``{"sequences": {seq: metrics}, "combined": metrics}`` in our
    metric names."""
    import trackeval

    evaluator = trackeval.Evaluator(
        {
            "USE_PARALLEL": False,
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "TIME_PROGRESS": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "LOG_ON_ERROR": None,
            "BREAK_ON_ERROR": True,
        }
    )
    metrics = metric_classes()
    with contextlib.redirect_stdout(io.StringIO()):
        result, _ = evaluator.evaluate(
            [dataset], [metrics[name] for name in ("HOTA", "CLEAR", "Identity")]
        )
    res = result[dataset.get_name()][tracker]
    sequences = [seq for seq in res if seq != "COMBINED_SEQ"]
    return {
        cls: {
            "sequences": {seq: named_metrics(res[seq][cls]) for seq in sequences},
            "combined": named_metrics(res["COMBINED_SEQ"][cls]),
        }
        for cls in dataset.class_list
    }
