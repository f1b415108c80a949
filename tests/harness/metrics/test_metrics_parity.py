"""Parity: our evaluate / evaluate_files equal TrackEval's own file-based Evaluator to 1e-12."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from parity_helpers import assert_same
from workloads import random_sequence

from harness.metrics import evaluate, evaluate_files
from harness.metrics.crosscheck import (
    run_trackeval,
    trackeval_files,
    write_seqinfo,
    write_seqmap,
    write_trackeval_layout,
)
from harness.motchallenge import read_mot

TUD = ("TUD-Campus", "TUD-Stadtmitte")


@pytest.fixture(scope="module")
def tud_layout(motmetrics_data, tmp_path_factory) -> Path:
    """The TUD files in TrackEval's MOT15 layout (the original files, copied unchanged)."""
    root = tmp_path_factory.mktemp("tud")
    for seq in TUD:
        folder = root / "gt" / "MOT15-train" / seq
        (folder / "gt").mkdir(parents=True)
        shutil.copy(motmetrics_data / seq / "gt.txt", folder / "gt" / "gt.txt")
        pred = root / "trackers" / "MOT15-train" / "ours" / "data" / f"{seq}.txt"
        pred.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(motmetrics_data / seq / "test.txt", pred)
        frames = max(
            read_mot(folder / "gt" / "gt.txt", "gt").frame.max(),
            read_mot(pred, "result").frame.max(),
        )
        write_seqinfo(folder, int(frames))
    write_seqmap(root, "MOT15", list(TUD))
    return root


def test_tud_mot15_equals_trackeval(tud_layout):
    ours = evaluate_files(
        tud_layout / "gt" / "MOT15-train",
        tud_layout / "trackers" / "MOT15-train" / "ours" / "data",
        "mot15",
    )
    reference = run_trackeval(tud_layout, "MOT15")
    assert_same(ours, reference)
    assert ours["combined"]["GT_Dets"] == 1515 and ours["combined"]["IDSW"] == 14


def test_tud_plain_equals_mot15(tud_layout):
    gt = tud_layout / "gt" / "MOT15-train"
    pred = tud_layout / "trackers" / "MOT15-train" / "ours" / "data"
    assert evaluate_files(gt, pred, "plain") == evaluate_files(gt, pred, "mot15")


@pytest.mark.parametrize("protocol", ["mot16", "mot17", "mot20"])
def test_mot17_style_files_equal_trackeval(tmp_path, protocol):
    bench = protocol.upper()
    gt, pred = {}, {}
    for seed in range(3):
        gt[f"SEQ-{seed:02d}"], pred[f"SEQ-{seed:02d}"] = random_sequence(seed, 80, 25, "mot17")
    write_trackeval_layout(tmp_path, gt, pred, bench, {"SEQ-00": 90})
    lines = [
        line
        for seq in gt
        for line in (tmp_path / "gt" / f"{bench}-train" / seq / "gt" / "gt.txt")
        .read_text()
        .splitlines()
    ]
    assert all(len(line.split(",")) == 9 for line in lines)
    classes = {int(line.split(",")[7]) for line in lines}
    assert {1, 2, 6, 7, 8, 12} <= classes
    assert any(line.split(",")[6] == "0" for line in lines)

    ours = evaluate_files(
        tmp_path / "gt" / f"{bench}-train",
        tmp_path / "trackers" / f"{bench}-train" / "ours" / "data",
        protocol,
    )
    assert_same(ours, run_trackeval(tmp_path, bench))
    assert ours["sequences"]["SEQ-00"]["Frames"] == 90
    total_pred = sum(len(p) for p in pred.values())
    assert ours["combined"]["Dets"] < total_pred  # predictions on distractors were removed


def test_mot20_removes_more_than_mot17():
    gt, pred = random_sequence(5, 80, 30, "mot17")
    mot17 = evaluate({"s": gt}, {"s": pred}, "mot17")["combined"]["Dets"]
    mot20 = evaluate({"s": gt}, {"s": pred}, "mot20")["combined"]["Dets"]
    assert mot20 < mot17


@pytest.mark.parametrize("protocol,style", [("mot15", "mot15"), ("mot17", "mot17")])
def test_random_sequences_equal_trackeval(protocol, style):
    """Property test: many small random sequences (some empty-ish), in memory vs file-based."""
    for case in range(16):
        gt, pred = {}, {}
        for k in range(4):
            seed = 1000 * case + k
            gt[f"r{k}"], pred[f"r{k}"] = random_sequence(
                seed,
                num_frames=5 + seed % 23,
                num_objects=1 + seed % 9,
                style=style,
                miss_rate=(0.0, 0.3, 0.6, 1.0)[case % 4],
                id_swaps=case % 4,
                decimals=case % 3,
            )
        assert_same(evaluate(gt, pred, protocol), trackeval_files(gt, pred, protocol))
