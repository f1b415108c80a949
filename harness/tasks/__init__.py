"""Task kinds: how a cell of each kind is loaded, tracked, timed and scored.

The runner knows only ``TaskKind``; each kind is one class in its own module
(``multi_object.MultiObjectTask``, ``single_object.SingleObjectTask``, ``reid.ReidTask``) whose
``run`` returns a ``TaskResult``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.datasets.base import TASKS, DatasetAdapter

MULTI_OBJECT, SINGLE_OBJECT, REID = TASKS
_CLASSES = {
    MULTI_OBJECT: "harness.tasks.multi_object:MultiObjectTask",
    SINGLE_OBJECT: "harness.tasks.single_object:SingleObjectTask",
    REID: "harness.tasks.reid:ReidTask",
}


@dataclass(frozen=True)
class TaskResult:
    """A cell's scores and timings: metrics per sequence (or sample), ``combined`` over them,
    ``curves`` (name -> {"x", "y"} per sequence or ``COMBINED``, where the kind has curves),
    the timing records per sequence (``TimingRecord`` as dicts) and ``notes``, what a reader of
    the scores must know (e.g. an assumption the data forced)."""

    sequences: dict[str, dict[str, Any]]
    combined: dict[str, Any]
    timings: dict[str, dict[str, Any]]
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def evaluation(self) -> dict[str, Any]:
        """The scores as a cell's outcome carries them: ``sequences``, ``combined`` and
        ``curves`` where there are any (what the results store keeps), and ``notes`` where there
        are any (the cell's result line shows them)."""
        scores: dict[str, Any] = {"sequences": self.sequences, "combined": self.combined}
        if self.curves:
            scores["curves"] = self.curves
        if self.notes:
            scores["notes"] = list(self.notes)
        return scores


class TaskKind(Protocol):
    """One task kind: ``load`` a split's units of work (sequences or single-object samples),
    count the ``frames`` tracking them takes (progress), and ``run`` a cell's tracker on them."""

    def load(self, adapter: DatasetAdapter, split: str) -> list[Any]: ...

    def frames(self, units: list[Any]) -> int: ...

    def run(
        self,
        cell: Any,
        tracker: Any,
        units: list[Any],
        on_frames: Callable[[int], None] | None,
    ) -> TaskResult: ...


def task(kind: str) -> TaskKind:
    """The task kind named ``kind``."""
    module, _, name = _CLASSES[kind].partition(":")
    return getattr(importlib.import_module(module), name)()
