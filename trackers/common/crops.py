"""Appearance crops: the image inside each box, scaled so its longer side fills a square and
zero-padded at the bottom and right (the crops of cross-input consistency, favyen/uns20
scripts/preprocess-info.py:97-101 and infer.py:97-101).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional


def appearance_crops(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crops (n, size, size, C) uint8 of ``image`` (H, W, C uint8) inside ``boxes`` (n, 4).

    A box (left, top, width, height; left and top 1-based as MOTChallenge) is clipped to the
    image, scaled by ``size / max(width, height)`` (bilinear, pixel centres aligned) into the
    top-left ``floor(height·s) x floor(width·s)`` of the crop; the rest is 0. A box with nothing
    inside the image gives a zero crop. All boxes of an image are sampled in one call.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height, width, channels = image.shape
    n = len(boxes)
    crops = np.zeros((n, size, size, channels), np.uint8)
    left = np.clip(boxes[:, 0] - 1, 0, width)
    top = np.clip(boxes[:, 1] - 1, 0, height)
    right = np.clip(boxes[:, 0] - 1 + boxes[:, 2], 0, width)
    bottom = np.clip(boxes[:, 1] - 1 + boxes[:, 3], 0, height)
    inside = (right - left > 0) & (bottom - top > 0)
    if not inside.any():
        return crops
    left, top, right, bottom = left[inside], top[inside], right[inside], bottom[inside]
    scale = size / np.maximum(right - left, bottom - top)
    filled_w = np.maximum(np.floor((right - left) * scale).astype(np.int64), 1)
    filled_h = np.maximum(np.floor((bottom - top) * scale).astype(np.int64), 1)
    centres = np.arange(size) + 0.5
    # source pixel coordinates of every crop pixel centre, normalised as grid_sample wants them
    xs = (left[:, None] + centres / scale[:, None]) / width * 2 - 1
    ys = (top[:, None] + centres / scale[:, None]) / height * 2 - 1
    grid = np.stack(np.broadcast_arrays(xs[:, None, :], ys[:, :, None]), axis=-1)
    source = torch.from_numpy(image).permute(2, 0, 1).float()[None]
    sampled = functional.grid_sample(
        source.expand(len(grid), -1, -1, -1),
        torch.from_numpy(grid).float(),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    values = sampled.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()
    keep = (np.arange(size)[None, :, None] < filled_h[:, None, None]) & (
        np.arange(size)[None, None, :] < filled_w[:, None, None]
    )
    crops[inside] = values * keep[..., None]
    return crops
