"""Task kinds: how a cell of each kind is loaded, tracked, timed and scored.

The runner knows only this interface; each kind is one module with

- ``load(adapter, split)``: the split's units of work (sequences or single-object samples);
- ``frames(units)``: how many frames tracking them takes (progress);
- ``run(cell, tracker, units, on_frames)``: the evaluation (``sequences``: metrics per sequence
  or sample; ``combined``; ``curves``: name -> {"x", "y"} per sequence or ``COMBINED``, where the
  kind has curves) and the timing records per sequence (``TimingRecord`` as dicts).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.datasets.base import TASKS

MULTI_OBJECT, SINGLE_OBJECT = TASKS
_MODULES = {
    MULTI_OBJECT: "harness.tasks.multi_object",
    SINGLE_OBJECT: "harness.tasks.single_object",
}


def task(kind: str) -> ModuleType:
    """The module that runs cells of task ``kind``."""
    return importlib.import_module(_MODULES[kind])
