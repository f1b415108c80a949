"""The released code's input pipeline for the detector tier at MOT17 and CrowdHuman scale
(liuqk3/OUTrack src/lib/datasets/dataset/jde_json.py): the letterbox to the network's input size
(``letterbox``, lines 286-297; also at tracking time, LoadImages lines 60-67) and the training
augmentation of a frame pair (``augment_view``, ``get_data`` lines 164-270 with ``random_affine``
lines 300-412).

One view of a frame: its saturation and value scaled (HSV, each frame its own draw), letterboxed,
warped by a random affine (rotation, scale, translation, shear) and flipped left-right. The
second frame of a pair shares the first frame's affine and flip, the affine "disturbed" by a
random 5-19 % of each parameter's range (jde_json.py:356-379: the ``aug_corpus`` handed to the
second ``get_data``); a negative pair's second frame (another video or image) draws its own.

Boxes are (n, 4) ltwh in pixels; coordinates are mapped as continuous positions (a MOTChallenge
1-based left is kept as it is, as the code's normalised labels keep it). Images are uint8 RGB
(the code's are BGR: the HSV scaling and the grey border are the same either way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

BORDER = (127.5, 127.5, 127.5)
"""The code's padding and warp border colour (letterbox, random_affine); OpenCV rounds it to
128 in a uint8 image."""
DEGREES = (-5.0, 5.0)
TRANSLATE = 0.10
SCALE = (0.50, 1.20)
SHEAR = (-2.0, 2.0)
"""``random_affine``'s ranges as ``get_data`` calls it (jde_json.py:244, default shear): rotation
in degrees, translation as a fraction of the image, scale, shear in degrees."""
HSV_FRACTION = 0.50
"""Saturation and value each scaled by a factor in [1 - 0.5, 1 + 0.5] (jde_json.py:170-187)."""
DISTURB_PERCENT = (5, 20)
"""The second frame's disturbance: ``random.choice(range(5, 20, 1)) / 100`` (jde_json.py:357)."""


@dataclass(frozen=True)
class Letterbox:
    """Where an image of ``source`` (width, height) lies in its letterboxed copy: scaled by
    ``ratio`` and offset by (``pad_x``, ``pad_y``), the code's float paddings ``dw``, ``dh``
    (boxes move by them; the image's integer borders are ``round(dw -/+ 0.1)``, so the two agree
    to half a pixel)."""

    ratio: float
    pad_x: float
    pad_y: float

    def forward(self, boxes: np.ndarray) -> np.ndarray:
        """``boxes`` (n, 4) ltwh of the source image in the letterboxed image."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return np.concatenate([self.points(boxes[:, :2]), boxes[:, 2:] * self.ratio], axis=1)

    def back(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes (n, 4) ltwh of the letterboxed image in the source image (``forward``'s
        inverse)."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return np.concatenate([self.back_points(boxes[:, :2]), boxes[:, 2:] / self.ratio], axis=1)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Points (n, 2) x, y of the source image in the letterboxed image."""
        return np.asarray(points, np.float64) * self.ratio + [self.pad_x, self.pad_y]

    def back_points(self, points: np.ndarray) -> np.ndarray:
        """Points (n, 2) x, y of the letterboxed image in the source image."""
        return (np.asarray(points, np.float64) - [self.pad_x, self.pad_y]) / self.ratio


def letterbox(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, Letterbox]:
    """``image`` (H, W, 3) uint8 resized keeping its aspect to fit ``width`` x ``height``
    (OpenCV's area interpolation) and padded with the code's grey to exactly that size, and the
    mapping of its coordinates (jde_json.py:286-297)."""
    source_h, source_w = image.shape[:2]
    ratio = min(height / source_h, width / source_w)
    inner_w, inner_h = round(source_w * ratio), round(source_h * ratio)
    pad_x, pad_y = (width - inner_w) / 2, (height - inner_h) / 2
    top, bottom = round(pad_y - 0.1), round(pad_y + 0.1)
    left, right = round(pad_x - 0.1), round(pad_x + 0.1)
    resized = cv2.resize(image, (inner_w, inner_h), interpolation=cv2.INTER_AREA)
    padded = cv2.copyMakeBorder(
        resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=BORDER
    )
    return padded, Letterbox(ratio, pad_x, pad_y)


@dataclass(frozen=True)
class Affine:
    """One draw of ``random_affine``'s parameters for an image of ``size`` (width, height):
    rotation ``angle`` (degrees) and ``scale`` about the centre, translation (``shift_x``,
    ``shift_y``) pixels, shears (radians), and the left-right ``flip`` applied after it."""

    size: tuple[int, int]
    angle: float
    scale: float
    shift_x: float
    shift_y: float
    shear_x: float
    shear_y: float
    flip: bool

    def matrix(self) -> np.ndarray:
        """The 3 x 3 warp: shear @ translation @ rotation-and-scale (jde_json.py:351)."""
        width, height = self.size
        rotation = np.eye(3)
        rotation[:2] = cv2.getRotationMatrix2D(
            center=(width / 2, height / 2), angle=self.angle, scale=self.scale
        )
        translation = np.eye(3)
        translation[:2, 2] = self.shift_x, self.shift_y
        shear = np.eye(3)
        shear[0, 1], shear[1, 0] = math.tan(self.shear_x), math.tan(self.shear_y)
        return shear @ translation @ rotation


def draw_affine(rng: np.random.Generator, size: tuple[int, int]) -> Affine:
    """A fresh draw for an image of ``size`` (jde_json.py:325-349). As the code, the x shift is a
    fraction of the image's height and the y shift of its width."""
    width, height = size
    return Affine(
        size,
        angle=rng.random() * (DEGREES[1] - DEGREES[0]) + DEGREES[0],
        scale=rng.random() * (SCALE[1] - SCALE[0]) + SCALE[0],
        shift_x=(rng.random() * 2 - 1) * TRANSLATE * height,
        shift_y=(rng.random() * 2 - 1) * TRANSLATE * width,
        shear_x=math.radians(rng.random() * (SHEAR[1] - SHEAR[0]) + SHEAR[0]),
        shear_y=math.radians(rng.random() * (SHEAR[1] - SHEAR[0]) + SHEAR[0]),
        flip=bool(rng.random() > 0.5),
    )


def disturbed(base: Affine, rng: np.random.Generator) -> Affine:
    """The second frame's affine: ``base`` moved by a random share d (5-19 %) of each range,
    rotation, scale and shears upward (by up to d x the range), the shifts either way (by up to
    d x the shift range); the same flip (jde_json.py:355-379, 257-263)."""
    width, height = base.size
    share = int(rng.integers(*DISTURB_PERCENT)) / 100
    return Affine(
        base.size,
        angle=rng.random() * (DEGREES[1] - DEGREES[0]) * share + base.angle,
        scale=rng.random() * (SCALE[1] - SCALE[0]) * share + base.scale,
        shift_x=(rng.random() * 2 - 1) * TRANSLATE * height * share + base.shift_x,
        shift_y=(rng.random() * 2 - 1) * TRANSLATE * width * share + base.shift_y,
        shear_x=math.radians(rng.random() * (SHEAR[1] - SHEAR[0]) * share) + base.shear_x,
        shear_y=math.radians(rng.random() * (SHEAR[1] - SHEAR[0]) * share) + base.shear_y,
        flip=base.flip,
    )


def warp_boxes(boxes: np.ndarray, affine: Affine) -> tuple[np.ndarray, np.ndarray]:
    """``boxes`` (n, 4) ltwh through ``affine`` and its flip, and which are kept (jde_json.py:
    384-410): the corners warped, their bounding box shrunk about its centre by
    sqrt(max(|sin a|, |cos a|)), kept when wider and taller than 4 px, at least a tenth of the
    original area and of aspect below 10; boxes are not clipped to the image."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    left, top = boxes[:, 0], boxes[:, 1]
    right, bottom = left + boxes[:, 2], top + boxes[:, 3]
    corners = np.stack(
        [np.stack(p, axis=1) for p in ((left, top), (right, bottom), (left, bottom), (right, top))],
        axis=1,
    )  # (n, 4, 2)
    homogeneous = np.concatenate([corners, np.ones((*corners.shape[:2], 1))], axis=2)
    warped = (homogeneous @ affine.matrix().T)[..., :2]
    low, high = warped.min(axis=1), warped.max(axis=1)
    radians = math.radians(affine.angle)
    reduction = max(abs(math.sin(radians)), abs(math.cos(radians))) ** 0.5
    centre, extent = (low + high) / 2, (high - low) * reduction
    w, h = extent[:, 0], extent[:, 1]
    area, area0 = w * h, boxes[:, 2] * boxes[:, 3]
    aspect = np.maximum(w / (h + 1e-16), h / (w + 1e-16))
    keep = (w > 4) & (h > 4) & (area / (area0 + 1e-16) > 0.1) & (aspect < 10)
    out = np.concatenate([centre - extent / 2, extent], axis=1)
    if affine.flip:
        out[:, 0] = affine.size[0] - out[:, 0] - out[:, 2]
    return out, keep


def scale_saturation_value(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` with its HSV saturation and value each scaled by a factor drawn in
    1 -/+ ``HSV_FRACTION``, clipped at 255 (jde_json.py:170-187)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    for channel in (1, 2):
        factor = (rng.random() * 2 - 1) * HSV_FRACTION + 1
        values = hsv[:, :, channel].astype(np.float32) * factor
        hsv[:, :, channel] = np.clip(values, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def augment_view(
    image: np.ndarray,
    boxes: np.ndarray,
    size: tuple[int, int] | None,
    rng: np.random.Generator,
    base: Affine | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Affine]:
    """One augmented view of a frame: the image and its boxes, which boxes were kept, and the
    affine drawn (``base`` disturbed when given: the second frame of a positive pair). HSV
    scaling, the letterbox to ``size`` (width, height; None keeps the image's own), the affine
    warp with the code's grey border, then the flip."""
    image = scale_saturation_value(image, rng)
    if size is not None:
        image, box = letterbox(image, *size)
        boxes = box.forward(boxes)
    height, width = image.shape[:2]
    affine = draw_affine(rng, (width, height)) if base is None else disturbed(base, rng)
    warped = cv2.warpPerspective(
        image, affine.matrix(), (width, height), flags=cv2.INTER_LINEAR, borderValue=BORDER
    )
    if affine.flip:
        warped = np.ascontiguousarray(warped[:, ::-1])
    moved, keep = warp_boxes(boxes, affine)
    return warped, moved, keep, affine
