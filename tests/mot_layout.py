"""Tiny MOTChallenge sequence folders written by a test: seqinfo.ini, black img1/ frames,
det/det.txt and, for a train split, gt/gt.txt."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 64, 48


def write_sequence(
    folder: Path, name: str, detections: str, frames: int = 3, gt: str | None = None
) -> Path:
    """``folder/name`` as a MOTChallenge sequence of ``frames`` 64x48 frames with ``detections``
    (det.txt text) and, when given, ``gt`` (gt.txt text); returns the sequence folder."""
    sequence = folder / name
    (sequence / "img1").mkdir(parents=True)
    (sequence / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={frames}\n"
        f"imWidth={WIDTH}\nimHeight={HEIGHT}\nimExt=.jpg\n",
        encoding="utf-8",
    )
    black = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for number in range(1, frames + 1):
        cv2.imwrite(str(sequence / "img1" / f"{number:06d}.jpg"), black)
    (sequence / "det").mkdir()
    (sequence / "det" / "det.txt").write_text(detections, encoding="utf-8")
    if gt is not None:
        (sequence / "gt").mkdir()
        (sequence / "gt" / "gt.txt").write_text(gt, encoding="utf-8")
    return sequence


def still_object(frames: int, box: str, score: float) -> str:
    """MOTChallenge detection rows of one box ``box`` ("left,top,width,height") in every
    frame."""
    return "".join(f"{f},-1,{box},{score},-1,-1,-1\n" for f in range(1, frames + 1))
