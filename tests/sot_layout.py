"""Tiny single-object datasets written by a test in OTB's, GOT-10k's and LaSOT's layouts, with
results files: random walks of boxes, predictions with NaN rows, zero-area boxes and misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 320, 240


def walk(rng: np.random.Generator, frames: int, decimals: int | None = None) -> np.ndarray:
    """A (frames, 4) ltwh random walk inside a 320x240 image, sizes 10..80 px (rounded to
    ``decimals``, or whole pixels when None)."""
    start = np.array([WIDTH / 3, HEIGHT / 3, 40.0, 30.0])
    steps = rng.normal(0, [4.0, 4.0, 1.5, 1.5], size=(frames, 4))
    steps[0] = 0
    boxes = start + np.cumsum(steps, axis=0)
    boxes[:, 2:] = np.clip(boxes[:, 2:], 10, 80)
    return np.round(boxes, decimals or 0)


def predict(
    rng: np.random.Generator, gt: np.ndarray, edge: bool = False, lost: bool = True
) -> np.ndarray:
    """A tracker's boxes for ``gt``: jittered, some NaN rows (``lost``), some zero-area and some
    far off; ``edge``: some boxes reaching past the image's left/top and right/bottom."""
    pred = gt + rng.normal(0, [6.0, 6.0, 4.0, 4.0], size=gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:])
    frames = len(gt)
    pick = rng.permutation(np.arange(1, frames))
    if lost:
        pred[pick[:3]] = np.nan
    pred[pick[3:5], 2] = 0.0
    pred[pick[5:7]] += [150.0, 100.0, 0.0, 0.0]
    pred[pick[7]] = gt[pick[7]]  # IoU 1
    if edge:
        pred[pick[8:10], 0] = -12.5
        pred[pick[10:12], :2] = [WIDTH - 5.0, HEIGHT - 3.0]
    return np.round(pred, 3)


def write_boxes(path: Path, boxes: np.ndarray, separator: str = ",") -> Path:
    """``boxes`` one a line, as got10k records them (3 decimals, ``nan`` for a missing box)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, boxes, fmt="%.3f", delimiter=separator)
    return path


def write_images(folder: Path, frames: int) -> None:
    """Empty ``0001.jpg`` ... files: got10k's datasets count a sequence's frames by them."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, frames + 1):
        (folder / f"{number:08d}.jpg").touch()


def write_otb_sequence(
    root: Path, name: str, targets: list[np.ndarray | None], separator: str = ","
) -> None:
    """An OTB sequence folder: ``groundtruth_rect.txt``, or one ``groundtruth_rect.<k>.txt`` per
    target when several (None: an empty file, as Human4's first), and its ``img/`` frames."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    frames = 0
    for k, boxes in enumerate(targets, 1):
        suffix = f".{k}" if len(targets) > 1 else ""
        path = folder / f"groundtruth_rect{suffix}.txt"
        if boxes is None:
            path.write_text("\n", encoding="utf-8")
        else:
            write_boxes(path, boxes, separator)
            frames = len(boxes)
    write_images(folder / "img", frames)


def write_got10k_sequence(
    root: Path, name: str, gt: np.ndarray, cover: np.ndarray, size=(WIDTH, HEIGHT)
) -> None:
    """A GOT-10k sequence folder: ``groundtruth.txt``, the three label files, ``meta_info.ini``
    and its frames."""
    folder = root / name
    write_boxes(folder / "groundtruth.txt", gt)
    np.savetxt(folder / "cover.label", cover, fmt="%d")
    np.savetxt(folder / "absence.label", cover == 0, fmt="%d")
    np.savetxt(folder / "cut_by_image.label", np.zeros(len(gt)), fmt="%d")
    (folder / "meta_info.ini").write_text(
        f"[METAINFO]\nurl: https://example.org/{name}\nobject_class: car\n"
        f"resolution: ({size[0]}, {size[1]})\n",
        encoding="utf-8",
    )
    write_images(folder, len(gt))


def write_lasot_sequence(root: Path, name: str, gt: np.ndarray) -> None:
    """A LaSOT sequence ``<class>/<class-n>/``: ``groundtruth.txt``, ``full_occlusion.txt`` and
    ``out_of_view.txt`` (1 where the gt box is NaN) and ``nlp.txt``."""
    folder = root / name.rsplit("-", 1)[0] / name
    write_boxes(folder / "groundtruth.txt", gt)
    absent = np.isnan(gt).any(axis=1).astype(int)[None, :]
    np.savetxt(folder / "full_occlusion.txt", absent, fmt="%d", delimiter=",")
    np.savetxt(folder / "out_of_view.txt", absent, fmt="%d", delimiter=",")
    (folder / "nlp.txt").write_text(f"the {name} moving\n", encoding="utf-8")
    write_images(folder / "img", len(gt))
