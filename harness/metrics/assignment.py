"""SciPy's ``linear_sum_assignment``, the solver TrackEval calls, loaded without its package, and
the per-frame matrices it solves (``FrameBlocks``).

Importing ``scipy.optimize`` runs the whole package's initialisation (linear algebra, sparse
matrices, the array API layer): most of a second, longer than evaluating a MOTChallenge split.
The solver itself is one compiled module, ``scipy/optimize/_lsap``; it is loaded from its file
here, so ties break exactly as in TrackEval. Where that file cannot be loaded (another SciPy
layout), the public import is used.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.metrics.iou import FramePairs

MODULE = "scipy.optimize._lsap"


def _load() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    loaded = sys.modules.get(MODULE)
    if loaded is not None:
        return loaded.linear_sum_assignment
    scipy = importlib.util.find_spec("scipy")
    origin = scipy.origin if scipy else None
    for suffix in importlib.machinery.EXTENSION_SUFFIXES if origin else ():
        path = Path(str(origin)).parent / "optimize" / f"_lsap{suffix}"
        if not path.is_file():
            continue
        loader = importlib.machinery.ExtensionFileLoader(MODULE, str(path))
        spec = importlib.util.spec_from_loader(MODULE, loader)
        if spec is None:
            break
        module = importlib.util.module_from_spec(spec)
        try:
            loader.exec_module(module)
        except ImportError:
            break
        sys.modules[MODULE] = module
        return module.linear_sum_assignment
    from scipy.optimize import linear_sum_assignment as public

    return public


linear_sum_assignment = _load()


class FrameBlocks:
    """Some frames' dense (rows of A) x (rows of B) matrices, as TrackEval builds one per frame,
    in one flat array: the matrices hold a value at each given same-frame pair (a, b), 0
    elsewhere, and are solved one by one with TrackEval's call.

    ``a_frames``/``b_frames``: 1-based frames of the two tables, sorted (file order within a
    frame); ``frames``: the 0-based frames wanted, ascending; ``a``/``b``: the pairs' rows.
    """

    def __init__(
        self,
        a_frames: np.ndarray,
        b_frames: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        frames: np.ndarray,
        num_frames: int,
    ):
        wanted = np.zeros(num_frames, dtype=bool)
        wanted[frames] = True
        self.frames = frames
        self.a_rows = np.flatnonzero(wanted[a_frames - 1])  # rows of A in the wanted frames
        self.b_rows = np.flatnonzero(wanted[b_frames - 1])
        self.layout = FramePairs(a_frames[self.a_rows], b_frames[self.b_rows], num_frames)
        self.picked = wanted[a_frames[a] - 1]  # the pairs in the wanted frames
        self.positions = self.layout.flat_index(
            np.searchsorted(self.a_rows, a[self.picked]),
            np.searchsorted(self.b_rows, b[self.picked]),
        )

    def dense(self, values: np.ndarray) -> np.ndarray:
        """The flat array holding ``values`` (one per pair, all pairs) at the wanted pairs."""
        flat = np.zeros(self.layout.offsets[-1])
        flat[self.positions] = values[self.picked]
        return flat

    def matrices(self, flat: np.ndarray) -> list[np.ndarray]:
        """The wanted frames' matrices: views of ``flat``."""
        return self.layout.matrices(flat, self.frames)

    def rows(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of A and of B of the k-th wanted frame."""
        t = self.frames[k]
        a_start, b_start = self.layout.a_start[t], self.layout.b_start[t]
        return (
            self.a_rows[a_start : a_start + self.layout.a_counts[t]],
            self.b_rows[b_start : b_start + self.layout.b_counts[t]],
        )

    def assign(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each wanted frame's matrix in ``flat`` maximised (``linear_sum_assignment(-m)``):
        the matched rows of A and of B and the value of each match."""
        solved = [linear_sum_assignment(-m) for m in self.matrices(flat)]
        if not solved:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        t = np.repeat(self.frames, [len(r) for r, _ in solved])
        rows = self.layout.a_start[t] + np.concatenate([r for r, _ in solved])
        cols = self.layout.b_start[t] + np.concatenate([c for _, c in solved])
        return self.a_rows[rows], self.b_rows[cols], flat[self.layout.flat_index(rows, cols)]
