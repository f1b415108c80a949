"""Metrics: TrackEval's CLEAR/Identity/HOTA/Count in memory, evaluation protocols, file
evaluation, the py-motmetrics cross-check, single-object IoU metrics and the TBA output protocol."""

from harness.metrics.files import evaluate_files
from harness.metrics.mot import evaluate
from harness.metrics.protocols import PROTOCOLS

__all__ = ["PROTOCOLS", "evaluate", "evaluate_files"]
