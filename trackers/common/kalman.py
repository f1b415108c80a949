"""SORT's constant-velocity Kalman filter over boxes, vectorised across tracks.

State (Bewley et al. 2016, Sec. 3.2): x = [u, v, s, r, du, dv, ds], where (u, v) is the box centre,
s its area and r its aspect ratio w/h (r is modelled as constant, so it has no velocity). The
measurement is z = [u, v, s, r]. The noise matrices are the ones of the reference implementation
(abewley/sort ``KalmanBoxTracker``: filterpy identity defaults, then R[2:, 2:] *= 10,
P[4:, 4:] *= 1000, P *= 10, Q[4:, 4:] *= 0.01, Q[-1, -1] *= 0.01).
"""

from __future__ import annotations

import numpy as np

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
