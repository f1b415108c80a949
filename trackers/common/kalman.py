"""Constant-velocity Kalman filters over boxes, vectorised across tracks: SORT's and Deep SORT's.

State (Bewley et al. 2016, Sec. 3.2): x = [u, v, s, r, du, dv, ds], where (u, v) is the box centre,
s its area and r its aspect ratio w/h (r is modelled as constant, so it has no velocity). The
measurement is z = [u, v, s, r]. The noise matrices are the ones of the reference implementation
(abewley/sort ``KalmanBoxTracker``: filterpy identity defaults, then R[2:, 2:] *= 10,
P[4:, 4:] *= 1000, P *= 10, Q[4:, 4:] *= 0.01, Q[-1, -1] *= 0.01).

Deep SORT's filter (``XyahKalmanFilter``, as JDE, FairMOT and OUTrack use it) has the state
[x, y, a, h, vx, vy, va, vh] (centre, aspect w/h, height and their velocities) and noise that scales
with the box height.
"""

from __future__ import annotations

import numpy as np

from harness.boxes import cxcywh_to_ltwh, ltwh_to_cxcywh

TRANSITION = np.eye(7)
TRANSITION[[0, 1, 2], [4, 5, 6]] = 1.0
MEASUREMENT = np.eye(4, 7)
MEASUREMENT_NOISE = np.diag([1.0, 1.0, 10.0, 10.0])
PROCESS_NOISE = np.diag([1.0, 1.0, 1.0, 1.0, 0.01, 0.01, 0.0001])
INITIAL_COVARIANCE = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])


def box_to_measurement(boxes: np.ndarray) -> np.ndarray:
    """ltwh boxes (n, 4) -> measurements [u, v, s, r] (n, 4)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width, height = boxes[:, 2], boxes[:, 3]
    return np.stack(
        [boxes[:, 0] + width / 2, boxes[:, 1] + height / 2, width * height, width / height], axis=1
    )


def state_to_box(states: np.ndarray) -> np.ndarray:
    """States (n, >=4) -> ltwh boxes (n, 4); a non-positive area gives NaN, as in the reference."""
    u, v, s, r = states[:, 0], states[:, 1], states[:, 2], states[:, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        width = np.sqrt(s * r)
        height = s / width
    return np.stack([u - width / 2, v - height / 2, width, height], axis=1)


class BoxKalmanFilter:
    """The filters of n tracks at once: ``mean`` (n, 7) and ``covariance`` (n, 7, 7)."""

    def __init__(self) -> None:
        self.mean = np.zeros((0, 7))
        self.covariance = np.zeros((0, 7, 7))

    def __len__(self) -> int:
        return len(self.mean)

    def add(self, boxes: np.ndarray) -> None:
        """Start one filter per ltwh box, at rest, with the reference's initial covariance."""
        mean = np.zeros((len(boxes), 7))
        mean[:, :4] = box_to_measurement(boxes)
        self.mean = np.concatenate([self.mean, mean])
        self.covariance = np.concatenate(
            [self.covariance, np.broadcast_to(INITIAL_COVARIANCE, (len(boxes), 7, 7))]
        )

    def keep(self, mask: np.ndarray) -> None:
        """Drop the filters where ``mask`` is False."""
        self.mean = self.mean[mask]
        self.covariance = self.covariance[mask]

    def predict(self) -> None:
        """x <- F x, P <- F P F^T + Q; the area velocity is zeroed first where it would make the
        predicted area non-positive (reference behaviour)."""
        shrinking = self.mean[:, 6] + self.mean[:, 2] <= 0
        self.mean[shrinking, 6] = 0.0
        self.mean = self.mean @ TRANSITION.T
        self.covariance = TRANSITION @ self.covariance @ TRANSITION.T + PROCESS_NOISE

    def update(self, index: np.ndarray, boxes: np.ndarray) -> None:
        """Correct filters ``index`` with ltwh ``boxes``: the standard Kalman update with the
        Joseph-form covariance P <- (I - KH) P (I - KH)^T + K R K^T, as filterpy computes it."""
        if len(index) == 0:
            return
        mean, covariance = self.mean[index], self.covariance[index]
        innovation = box_to_measurement(boxes) - mean @ MEASUREMENT.T
        cross = covariance @ MEASUREMENT.T  # P H^T, (k, 7, 4)
        system = MEASUREMENT @ cross + MEASUREMENT_NOISE  # S = H P H^T + R, (k, 4, 4)
        gain = cross @ np.linalg.inv(system)  # K = P H^T S^-1, (k, 7, 4)
        self.mean[index] = mean + (gain @ innovation[:, :, None])[:, :, 0]
        residual = np.eye(7) - gain @ MEASUREMENT
        self.covariance[index] = residual @ covariance @ residual.transpose(
            0, 2, 1
        ) + gain @ MEASUREMENT_NOISE @ gain.transpose(0, 2, 1)


# Deep SORT's filter, as OUTrack src/lib/tracking_utils/kalman_filter.py has it.

CHI2_95 = {
    1: 3.8415,
    2: 5.9915,
    3: 7.8147,
    4: 9.4877,
    5: 11.070,
    6: 12.592,
    7: 14.067,
    8: 15.507,
    9: 16.919,
}
"""0.95 quantiles of the chi-square distribution by degrees of freedom, the gating thresholds
(kalman_filter.py:12-21)."""

XYAH_TRANSITION = np.eye(8)
XYAH_TRANSITION[[0, 1, 2, 3], [4, 5, 6, 7]] = 1.0
XYAH_MEASUREMENT = np.eye(4, 8)
STD_WEIGHT_POSITION = 1.0 / 20
STD_WEIGHT_VELOCITY = 1.0 / 160


def box_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """ltwh boxes (n, 4) -> [centre x, centre y, w / h, h] (n, 4)."""
    centred = ltwh_to_cxcywh(boxes)
    centred[:, 2] /= centred[:, 3]
    return centred


def xyah_to_box(xyah: np.ndarray) -> np.ndarray:
    """[centre x, centre y, w / h, h] (n, >=4) -> ltwh boxes (n, 4)."""
    centred = np.array(xyah[:, :4], dtype=np.float64)
    centred[:, 2] *= centred[:, 3]
    return cxcywh_to_ltwh(centred)


def _diagonal_variances(stds: list[np.ndarray]) -> np.ndarray:
    """Per-track standard deviations, one (n,) array per state entry -> (n, d, d) diagonal
    covariances."""
    variances = np.square(np.stack(stds, axis=1))
    return variances[:, :, None] * np.eye(variances.shape[1])


def _state_noise(height: np.ndarray, position_weight: float, velocity_weight: float) -> np.ndarray:
    """Diagonal state covariances (n, 8, 8) with standard deviations ``position_weight * h`` for
    x, y, h, ``velocity_weight * h`` for their velocities, 1e-2 for a and 1e-5 for its velocity."""
    position, velocity = position_weight * height, velocity_weight * height
    ones = np.ones_like(height)
    return _diagonal_variances(
        [position, position, 1e-2 * ones, position, velocity, velocity, 1e-5 * ones, velocity]
    )


class XyahKalmanFilter:
    """Deep SORT's filters of n tracks at once: ``mean`` (n, 8) and ``covariance`` (n, 8, 8),
    the state [x, y, a, h, vx, vy, va, vh] (kalman_filter.py:24-54)."""

    def __init__(self) -> None:
        self.mean = np.zeros((0, 8))
        self.covariance = np.zeros((0, 8, 8))

    def __len__(self) -> int:
        return len(self.mean)

    def add(self, boxes: np.ndarray) -> None:
        """Start one filter per ltwh box, at rest, with standard deviations 2/20 h for the
        position and height, 10/160 h for their velocities, 1e-2 and 1e-5 for the aspect and its
        velocity (``initiate``, kalman_filter.py:56-87)."""
        xyah = box_to_xyah(boxes)
        covariance = _state_noise(xyah[:, 3], 2 * STD_WEIGHT_POSITION, 10 * STD_WEIGHT_VELOCITY)
        self.mean = np.concatenate([self.mean, np.concatenate([xyah, np.zeros_like(xyah)], 1)])
        self.covariance = np.concatenate([self.covariance, covariance])

    def keep(self, mask: np.ndarray) -> None:
        """Drop the filters where ``mask`` is False."""
        self.mean = self.mean[mask]
        self.covariance = self.covariance[mask]

    def predict(
        self, index: np.ndarray | None = None, freeze_height: np.ndarray | None = None
    ) -> None:
        """Advance filters ``index`` (default all): x <- F x, P <- F P F^T + Q, with Q's standard
        deviations h/20 (position, height), h/160 (their velocities), 1e-2 and 1e-5 (aspect, its
        velocity) from the current h (``multi_predict``, kalman_filter.py:156-193). Where the
        mask ``freeze_height`` (one entry per advanced filter) is True the height velocity is
        zeroed first, as OUTrack does for tracks not in the Tracked state (occ_tracker.py:98-106);
        OUTrack advances only its confirmed and lost tracks (occ_tracker.py:881-895)."""
        rows = np.arange(len(self.mean)) if index is None else np.asarray(index)
        mean, covariance = self.mean[rows], self.covariance[rows]
        if freeze_height is not None:
            mean[freeze_height, 7] = 0.0
        motion_noise = _state_noise(mean[:, 3], STD_WEIGHT_POSITION, STD_WEIGHT_VELOCITY)
        self.mean[rows] = mean @ XYAH_TRANSITION.T
        self.covariance[rows] = XYAH_TRANSITION @ covariance @ XYAH_TRANSITION.T + motion_noise

    def project(self) -> tuple[np.ndarray, np.ndarray]:
        """The measurement distribution of every filter: H x (n, 4) and S = H P H^T + R
        (n, 4, 4), R's standard deviations h/20 (position, height) and 1e-1 (aspect)
        (kalman_filter.py:127-154)."""
        return self._project(self.mean, self.covariance)

    @staticmethod
    def _project(mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        position = STD_WEIGHT_POSITION * mean[:, 3]
        innovation_noise = _diagonal_variances(
            [position, position, np.full(len(mean), 1e-1), position]
        )
        projected = XYAH_MEASUREMENT @ covariance @ XYAH_MEASUREMENT.T
        return mean @ XYAH_MEASUREMENT.T, projected + innovation_noise

    def update(self, index: np.ndarray, boxes: np.ndarray) -> None:
        """Correct filters ``index`` with ltwh ``boxes``: K = P H^T S^-1, x <- x + K (z - H x),
        P <- P - K S K^T (kalman_filter.py:195-227)."""
        if len(index) == 0:
            return
        mean, covariance = self.mean[index], self.covariance[index]
        projected_mean, system = self._project(mean, covariance)
        cross = covariance @ XYAH_MEASUREMENT.T  # P H^T, (k, 8, 4)
        gain = np.linalg.solve(system, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
        innovation = box_to_xyah(boxes) - projected_mean
        self.mean[index] = mean + (gain @ innovation[:, :, None])[:, :, 0]
        self.covariance[index] = covariance - gain @ system @ gain.transpose(0, 2, 1)

    def gating_distance(self, boxes: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances (n_tracks, n_boxes) of ltwh ``boxes`` to every filter's
        projected measurement (kalman_filter.py:229-269, full (x, y, a, h): gate with
        ``CHI2_95[4]``)."""
        projected_mean, system = self.project()
        offsets = box_to_xyah(boxes)[None, :, :] - projected_mean[:, None, :]  # (n, m, 4)
        whitened = np.linalg.solve(system, offsets.transpose(0, 2, 1))  # S^-1 d, (n, 4, m)
        return np.einsum("nmi,nim->nm", offsets, whitened)

    def boxes(self) -> np.ndarray:
        """The ltwh boxes (n, 4) of the filters' means."""
        return xyah_to_box(self.mean)
