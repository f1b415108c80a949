"""Tracker families; each subpackage registers its methods on import."""

import trackers.baselines  # noqa: F401  (registers sort, iou, ground-truth)
