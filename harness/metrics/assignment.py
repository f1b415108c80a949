"""SciPy's ``linear_sum_assignment``, the solver TrackEval calls, loaded without its package.

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
