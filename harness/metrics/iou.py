"""Box IoU, elementwise and over every (gt, prediction) pair of every frame at once.

The arithmetic follows TrackEval's ``_BaseDataset._calculate_box_ious`` operation by operation
(corners first, areas from corners, the same epsilon guards), so similarities are bit-identical.
"""

from __future__ import annotations

import numpy as np

EPS = np.finfo(float).eps


def corners(box: np.ndarray) -> np.ndarray:
    """ltwh boxes (..., 4) -> (..., 5) rows of x0, y0, x1, y1, area (area from the corners)."""
    box = np.asarray(box, dtype=np.float64)
    x1 = box[..., 0] + box[..., 2]
    y1 = box[..., 1] + box[..., 3]
    area = (x1 - box[..., 0]) * (y1 - box[..., 1])
    return np.stack([box[..., 0], box[..., 1], x1, y1, area], axis=-1)


def corner_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes given as ``corners`` rows, broadcast over the leading axes."""
    inter = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    np.maximum(inter, 0, out=inter)
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    np.maximum(height, 0, out=height)
    inter *= height
    union = a[..., 4] + b[..., 4]
    union -= inter
    degenerate = (a[..., 4] <= EPS) | (b[..., 4] <= EPS) | (union <= EPS)
    np.divide(inter, union, out=inter, where=~degenerate)
    inter[degenerate] = 0.0
    return inter


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ltwh boxes ``a`` (..., 4) and ``b`` (..., 4), broadcast over the leading axes."""
    return corner_iou(corners(a), corners(b))


def overlapping_pairs(
    a_frames: np.ndarray, a_box: np.ndarray, b_frames: np.ndarray, b_box: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row pairs (i of A, j of B) in the same frame whose IoU may be positive, with their IoU.

    A superset of the pairs with IoU > 0, ordered by i; every other same-frame pair has
    IoU exactly 0 (its x-intervals do not intersect). B is searched on (frame, left) with a one
    pixel margin, so each A box only meets the B boxes near it instead of the whole frame.
    """
    a_corners, b_corners = corners(a_box), corners(b_box)
    if len(a_frames) == 0 or len(b_frames) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    x_lo = min(a_corners[:, 0].min(), b_corners[:, 0].min())
    x_hi = max(a_corners[:, 2].max(), b_corners[:, 2].max())
    span = float((b_corners[:, 2] - b_corners[:, 0]).max()) + 1.0
    stride = (x_hi - x_lo) + 2 * span + 4.0
    order = np.lexsort((b_corners[:, 0], b_frames))
    b_key = b_frames[order] * stride + (b_corners[order, 0] - x_lo)
    a_base = a_frames * stride - x_lo
    lo = np.searchsorted(b_key, a_base + a_corners[:, 0] - span, side="left")
    hi = np.searchsorted(b_key, a_base + a_corners[:, 2] + 1.0, side="right")
    counts = hi - lo
    i = np.repeat(np.arange(len(a_frames)), counts)
    j = order[np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - lo, counts)]
    same = a_frames[i] == b_frames[j]
    i, j = i[same], j[same]
    return i, j, corner_iou(a_corners[i], b_corners[j])


class FramePairs:
    """The layout of the per-frame (rows of A) x (rows of B) matrices in one flat array.

    Built from the frame columns (1..T, sorted ascending) of two tables. Frame t occupies
    ``offsets[t]:offsets[t+1]`` and reshapes to (a_counts[t], b_counts[t]).
    """

    def __init__(self, a_frames: np.ndarray, b_frames: np.ndarray, num_frames: int):
        self.a_frames = a_frames
        self.a_counts = np.bincount(a_frames - 1, minlength=num_frames)
        self.b_counts = np.bincount(b_frames - 1, minlength=num_frames)
        self.a_start = np.cumsum(self.a_counts) - self.a_counts
        self.b_start = np.cumsum(self.b_counts) - self.b_counts
        self.offsets = np.concatenate([[0], np.cumsum(self.a_counts * self.b_counts)])

    def dense(self, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The flat array holding ``values`` at pairs (a, b) of same-frame rows, 0 elsewhere."""
        t = self.a_frames[a] - 1
        flat = np.zeros(self.offsets[-1])
        flat[self.offsets[t] + (a - self.a_start[t]) * self.b_counts[t] + b - self.b_start[t]] = values
        return flat

    def matrices(self, flat: np.ndarray) -> list[np.ndarray]:
        """Per-frame (a_counts[t], b_counts[t]) views of a flat array."""
        return [
            flat[start:stop].reshape(na, nb)
            for start, stop, na, nb in zip(
                self.offsets[:-1].tolist(), self.offsets[1:].tolist(),
                self.a_counts.tolist(), self.b_counts.tolist(),
            )
        ]
