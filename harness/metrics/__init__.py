"""Metrics: the metric catalogue, CLEAR/Identity/HOTA/Count as TrackEval computes them (our engine
or TrackEval's classes), evaluation protocols, file evaluation (multi-object and single-object
results files), the py-motmetrics cross-check and single-object IoU metrics.

The names below load their modules on first use, so that importing a light part of the package
(e.g. ``harness.metrics.protocols`` for the CLI's help) does not import TrackEval, SciPy or pandas.
"""

import importlib

_HOMES = {
    "CATALOGUE": "harness.metrics.catalogue",
    "metric_named": "harness.metrics.catalogue",
    "PROTOCOLS": "harness.metrics.protocols",
    "evaluate": "harness.metrics.mot",
    "evaluate_files": "harness.metrics.files",
}
__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
