"""OccE, the occlusion estimation module (Liu et al. 2022 §3.2): the occlusion-centre targets of
training (eqs 9-10, 13) and the re-finding of lost objects at tracking time (eqs 15-16,
Algorithm 1). Boxes here are (left, top, right, bottom) in one coordinate frame.
"""

from __future__ import annotations

import math

import numpy as np


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius for a box of ``height`` x ``width``: the smallest of the three
    corner-shift radii keeping IoU >= ``min_overlap`` (utils/image.py:95-115)."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def overlaps(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The intersection boxes (n, m, 4) of ``first`` (n, 4) and ``second`` (m, 4); an empty
    intersection has right <= left or bottom <= top."""
    a, b = first[:, None, :], second[None, :, :]
    return np.concatenate(
        [np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])], axis=-1
    )


def occlusion_boxes(boxes: np.ndarray, tau: float = 0.7) -> np.ndarray:
    """Eq. 9: the overlap o_ij (k, 4) of every pair i < j of ``boxes`` (n, 4) whose area
    exceeds ``tau`` x the smaller box's area (utils/box.py:70-118 lists each pair twice, which
    draws the same peak twice and leaves the offset loss's mean unchanged)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    inter = overlaps(boxes, boxes)
    size = np.clip(inter[..., 2:] - inter[..., :2], 0, None)
    area = size[..., 0] * size[..., 1]
    own = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    smaller = np.minimum(own[:, None], own[None, :])
    valid = np.triu(np.ones_like(area, bool), 1) & (area > 0) & (smaller > 0)
    valid &= area > tau * np.where(smaller > 0, smaller, 1.0)
    return inter[valid]


def draw_gaussian(heatmap: np.ndarray, centre: tuple[int, int], radius: int) -> None:
    """Max-paint a Gaussian of sigma (2r + 1) / 6 at integer ``centre`` (x, y), cut at the
    borders (CenterNet's ``draw_umich_gaussian``, utils/image.py:127-141)."""
    diameter = 2 * radius + 1
    sigma = diameter / 6
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-(offsets[None, :] ** 2 + offsets[:, None] ** 2) / (2 * sigma**2))
    kernel[kernel < np.finfo(kernel.dtype).eps * kernel.max()] = 0
    x, y = centre
    height, width = heatmap.shape
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    if left + right <= 0 or top + bottom <= 0:
        return
    patch = heatmap[y - top : y + bottom, x - left : x + right]
    np.maximum(
        patch, kernel[radius - top : radius + bottom, radius - left : radius + right], out=patch
    )


def occlusion_targets(
    boxes: np.ndarray, height: int, width: int, tau: float = 0.7, limit: int = 2000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 10 and 13's targets for ``boxes`` (n, 4) in output-map pixels: the heatmap Y (height,
    width), the integer centres (k, 2) of the valid occlusions (at most ``limit``) and their
    sub-pixel offsets (k, 2) (datasets/dataset/jde_json.py:675-714)."""
    heatmap = np.zeros((height, width), np.float32)
    found = occlusion_boxes(boxes, tau)
    found[:, [0, 2]] = np.clip(found[:, [0, 2]], 0, width - 1)
    found[:, [1, 3]] = np.clip(found[:, [1, 3]], 0, height - 1)
    sides = found[:, 2:] - found[:, :2]
    found = found[(sides > 0).all(axis=1)][:limit]
    centres = (found[:, :2] + found[:, 2:]) / 2
    integer = centres.astype(np.int64)
    for box, point in zip(found, integer):
        w, h = box[2] - box[0], box[3] - box[1]
        radius = max(0, int(gaussian_radius(math.ceil(h), math.ceil(w))))
        draw_gaussian(heatmap, (int(point[0]), int(point[1])), radius)
    return heatmap, integer, (centres - integer).astype(np.float32)


def centre_agreement(tracked: np.ndarray, lost: np.ndarray, centre: np.ndarray) -> float:
    """G(o, p) of Algorithm 1: the Gaussian score of a predicted occlusion centre ``centre``
    (x, y) at the centre of the overlap of a tracked box and a lost track's predicted box, sigma
    the overlap's CenterNet radius; 0 when they do not overlap (utils/box.py:193-216)."""
    left, top = max(tracked[0], lost[0]), max(tracked[1], lost[1])
    right, bottom = min(tracked[2], lost[2]), min(tracked[3], lost[3])
    if right <= left or bottom <= top:
        return 0.0
    radius = gaussian_radius(math.ceil(right - left), math.ceil(bottom - top))
    distance = (centre[0] - (left + right) / 2) ** 2 + (centre[1] - (top + bottom) / 2) ** 2
    return math.exp(-distance / (2 * radius**2))


def relocate_side(a1: float, a2: float, b1: float, b2: float, z: float) -> float:
    """Eq. 16, F: the new low side of a lost box spanning [a1, a2] that a box [b1, b2] occludes
    with the occlusion centre at z, keeping the lost box's extent."""
    if a1 <= b1 and a2 <= b2:
        return 2 * z - b1 - (a2 - a1)
    if a1 > b1 and a2 <= b2:
        return z - (a2 - a1) / 2
    if a1 > b1 and a2 > b2:
        return 2 * z - b2
    return a1


def relocate(lost: np.ndarray, occluder: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Eq. 15: the lost box moved so that its overlap with ``occluder`` is centred at
    ``centre``, its width and height kept."""
    left = relocate_side(lost[0], lost[2], occluder[0], occluder[2], centre[0])
    top = relocate_side(lost[1], lost[3], occluder[1], occluder[3], centre[1])
    return np.array([left, top, left + lost[2] - lost[0], top + lost[3] - lost[1]])


def relocate_code(lost: np.ndarray, occluder: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The code's inverse (utils/box.py:121-190): per axis, the mean of the solutions of eq. 16's
    three cases that are consistent with the position they yield (the paper picks the case by
    the predicted box's position); no consistent one keeps the side."""
    sides = []
    for axis in (0, 1):
        (a1, a2), (b1, b2), z = lost[axis::2], occluder[axis::2], centre[axis]
        extent = a2 - a1
        left_of, inside_of, right_of = 2 * z - b1 - extent, (2 * z - extent) / 2, 2 * z - b2
        solutions = [
            s
            for s, consistent in (
                (left_of, left_of <= b1 and left_of + extent <= b2),
                (inside_of, inside_of > b1 and inside_of + extent <= b2),
                (right_of, right_of > b1 and right_of + extent > b2),
            )
            if consistent
        ]
        sides.append(sum(solutions) / len(solutions) if solutions else a1)
    extent = lost[2:] - lost[:2]
    return np.array([sides[0], sides[1], sides[0] + extent[0], sides[1] + extent[1]])


def inside(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(k, n): whether point k lies strictly inside box n."""
    x, y = points[:, None, 0], points[:, None, 1]
    return (
        (boxes[None, :, 0] < x)
        & (x < boxes[None, :, 2])
        & (boxes[None, :, 1] < y)
        & (y < boxes[None, :, 3])
    )


def refind(
    lost: np.ndarray, tracked: np.ndarray, centres: np.ndarray, reading: str = "paper"
) -> list[tuple[float, np.ndarray | None]]:
    """Algorithm 1 lines 19-21 for each lost track's predicted box (n, 4): over the occlusion
    centres (k, 2) inside it and the tracked boxes (m, 4) that also hold the centre, the best
    agreement G and the relocated box (eq. 15, or the code's inverse with ``reading="code"``);
    (0, None) without a candidate (occ_tracker.py:449-486)."""
    relocate_box = relocate if reading == "paper" else relocate_code
    in_lost, in_tracked = inside(centres, lost), inside(centres, tracked)
    results: list[tuple[float, np.ndarray | None]] = []
    for i, box in enumerate(lost):
        best, found = 0.0, None
        for k in np.flatnonzero(in_lost[:, i]):
            for j in np.flatnonzero(in_tracked[k]):
                score = centre_agreement(tracked[j], box, centres[k])
                if found is None or score > best:
                    best, found = score, (j, k)
        if found is None:
            results.append((0.0, None))
        else:
            j, k = found
            results.append((best, relocate_box(box, tracked[j], centres[k])))
    return results
