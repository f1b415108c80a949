"""Tracker families; each subpackage registers its methods on import."""

import trackers.baselines  # noqa: F401  (registers sort, iou, ground-truth)
import trackers.tba  # noqa: F401  (registers tba, tba-mnist with the Table 1 ablations)
