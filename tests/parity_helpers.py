"""Shared by the parity tests: TrackEval's own file-based Evaluator on its folder layouts, and the
1e-12 comparison of our results with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import trackeval

from harness.metrics.crosscheck import trackeval_reference


def assert_same(ours: dict, reference: dict) -> None:
    """Same sequences, and every metric per sequence and combined equal to 1e-12."""
    assert sorted(ours["sequences"]) == sorted(reference["sequences"])
    for scope in [*(("sequences", s) for s in reference["sequences"]), ("combined",)]:
        a, b = ours, reference
        for key in scope:
            a, b = a[key], b[key]
        assert a.keys() == b.keys()
        for metric in b:
            assert a[metric] == pytest.approx(b[metric], abs=1e-12, rel=0), (scope, metric)


def trackeval_mot(
    gt_folder: Path, trackers_folder: Path, benchmark: str, tracker: str = "ours", **config
) -> dict:
    """TrackEval's Evaluator + MotChallenge2DBox on ``gt/mot_challenge``-style ``gt_folder`` and
    ``trackers_folder`` (split train; ``config`` adds e.g. SEQMAP_FILE, TRACKER_SUB_FOLDER)."""
    dataset = trackeval.datasets.MotChallenge2DBox(
        {
            "GT_FOLDER": str(gt_folder),
            "TRACKERS_FOLDER": str(trackers_folder),
            "BENCHMARK": benchmark,
            "SPLIT_TO_EVAL": "train",
            "TRACKERS_TO_EVAL": [tracker],
            "PRINT_CONFIG": False,
            **config,
        }
    )
    return trackeval_reference(dataset, tracker)["pedestrian"]


def trackeval_kitti(
    gt_folder: Path, trackers_folder: Path, tracker: str = "ours", **config
) -> dict[str, dict]:
    """TrackEval's Evaluator + Kitti2DBox on ``gt/kitti/kitti_2d_box_train``-style ``gt_folder``
    and ``trackers_folder``, per class (``config`` adds e.g. SPLIT_TO_EVAL)."""
    dataset = trackeval.datasets.Kitti2DBox(
        {
            "GT_FOLDER": str(gt_folder),
            "TRACKERS_FOLDER": str(trackers_folder),
            "TRACKERS_TO_EVAL": [tracker],
            "PRINT_CONFIG": False,
            **config,
        }
    )
    return trackeval_reference(dataset, tracker)
