"""Box IoU, elementwise and over every (gt, prediction) pair of every frame at once.

The arithmetic follows TrackEval's ``_BaseDataset._calculate_box_ious`` operation by operation
(corners first, areas from corners, the same epsilon guards), so similarities are bit-identical.
"""

from __future__ import annotations

import numpy as np

EPS = np.finfo(float).eps


def corners(box: np.ndarray) -> tuple[np.ndarray, ...]:
    """ltwh boxes (..., 4) -> columns x0, y0, x1, y1, area (...) (area from the corners)."""
    box = np.asarray(box, dtype=np.float64)
    x0, y0 = box[..., 0], box[..., 1]
    x1 = x0 + box[..., 2]
    y1 = y0 + box[..., 3]
    return x0, y0, x1, y1, (x1 - x0) * (y1 - y0)


def corner_iou(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> np.ndarray:
    """IoU of boxes given as ``corners`` columns, broadcast over their axes."""
    a_x0, a_y0, a_x1, a_y1, a_area = a
    b_x0, b_y0, b_x1, b_y1, b_area = b
    inter = np.minimum(a_x1, b_x1)
    inter -= np.maximum(a_x0, b_x0)
    np.maximum(inter, 0, out=inter)
    height = np.minimum(a_y1, b_y1)
    height -= np.maximum(a_y0, b_y0)
    np.maximum(height, 0, out=height)
    inter *= height
    union = a_area + b_area
    union -= inter
    degenerate = (a_area <= EPS) | (b_area <= EPS) | (union <= EPS)
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
    IoU exactly 0 (its x- or y-intervals do not intersect). B is searched on (frame, left) with
    a one pixel margin, so each A box only meets the B boxes near it instead of the whole frame;
    of those, pairs whose y-intervals do not intersect are dropped.
    """
    if len(a_frames) == 0 or len(b_frames) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    a_corners, b_corners = corners(a_box), corners(b_box)
    a_x0, a_y0, a_x1, a_y1, _ = a_corners
    b_x0, b_y0, b_x1, b_y1, _ = b_corners
    x_lo = min(a_x0.min(), b_x0.min())
    x_hi = max(a_x1.max(), b_x1.max())
    span = float((b_x1 - b_x0).max()) + 1.0
    stride = (x_hi - x_lo) + 2 * span + 4.0
    b_key = b_frames * stride + (b_x0 - x_lo)
    order = np.argsort(b_key, kind="stable")
    b_key = b_key[order]
    a_base = a_frames * stride - x_lo
    lo = np.searchsorted(b_key, a_base + a_x0 - span, side="left")
    hi = np.searchsorted(b_key, a_base + a_x1 + 1.0, side="right")
    counts = hi - lo
    i = np.repeat(np.arange(len(a_frames)), counts)
    j = order[np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts - lo, counts)]
    # A window reaches into another frame only where huge coordinates swamp the key's margins;
    # with B in frame order, a window whose first and last rows are in A's frame is all in it.
    b_sorted_frames = b_frames[order]
    window = counts > 0
    if not (
        (b_sorted_frames[1:] >= b_sorted_frames[:-1]).all()
        and (b_sorted_frames[lo[window]] == a_frames[window]).all()
        and (b_sorted_frames[hi[window] - 1] == a_frames[window]).all()
    ):
        same = a_frames[i] == b_frames[j]
        i, j = i[same], j[same]
    # Pairs whose y-intervals do not intersect have IoU 0 (NaN coordinates stay in).
    height = np.minimum(a_y1[i], b_y1[j])
    height -= np.maximum(a_y0[i], b_y0[j])
    meet = ~(height <= 0)
    i, j = i[meet], j[meet]
    return (
        i,
        j,
        corner_iou(
            tuple(column[i] for column in a_corners), tuple(column[j] for column in b_corners)
        ),
    )


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

    def flat_index(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Positions of the pairs (a, b) of same-frame rows in the flat array."""
        t = self.a_frames[a] - 1
        return self.offsets[t] + (a - self.a_start[t]) * self.b_counts[t] + b - self.b_start[t]

    def dense(self, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The flat array holding ``values`` at pairs (a, b) of same-frame rows, 0 elsewhere."""
        flat = np.zeros(self.offsets[-1])
        flat[self.flat_index(a, b)] = values
        return flat

    def matrices(self, flat: np.ndarray, frames: np.ndarray | None = None) -> list[np.ndarray]:
        """Per-frame (a_counts[t], b_counts[t]) views of a flat array, for every frame or for the
        0-based ``frames``."""
        if frames is None:
            starts, stops = self.offsets[:-1], self.offsets[1:]
            a_counts, b_counts = self.a_counts, self.b_counts
        else:
            starts, stops = self.offsets[frames], self.offsets[frames + 1]
            a_counts, b_counts = self.a_counts[frames], self.b_counts[frames]
        return [
            flat[start:stop].reshape(na, nb)
            for start, stop, na, nb in zip(
                starts.tolist(), stops.tolist(), a_counts.tolist(), b_counts.tolist()
            )
        ]
