"""Tracking by Animation (He et al., CVPR 2019): TBA and its Table 1 ablations, registered.

``tba`` defaults to Sprites-MOT (Table 1), ``tba-mnist`` to MNIST-MOT (the README's table); the
``dataset`` key picks any configured dataset (``TBAConfig.for_dataset``). The ablations are the
released code's experiments (``modules/exp_config.json``): ``tba`` = ACT on; ``tbac*`` = ACT off,
each with one part removed. ``checkpoint`` null runs an untrained, seeded model (smoke tests only).

Registering imports neither torch nor the model: the factory is named by reference, and the
package's classes (``TBA``, ``TBAConfig``, ``TBATracker``) are imported when first accessed.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.registry import register_method

__all__ = ["TBA", "TBAConfig", "TBATracker"]
_CLASS_MODULES = {"TBA": "model", "TBAConfig": "config", "TBATracker": "tracker"}


def __getattr__(name: str) -> Any:
    """``trackers.tba.TBATracker`` and the other public classes, imported on first access."""
    if name not in _CLASS_MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_CLASS_MODULES[name]}"), name)


PAPER = (
    "He et al. 2019, Tracking by Animation: Unsupervised Learning of Multi-Object Attentive"
    " Trackers (CVPR)"
)

ABLATIONS = {
    "TBA": {"act": True},
    "TBAc": {"act": False},
    "TBAc-noOcc": {"act": False, "layers": 1},
    "TBAc-noAtt": {"act": False, "attention": False},
    "TBAc-noMem": {"act": False, "memory_write": False},
    "TBAc-noRep": {"act": False, "reprioritize": False},
}


def default_config(dataset: str) -> dict:
    """Registry config keys (JSON-able; the runner hashes them); the default is full TBA."""
    return {
        "dataset": dataset,
        "act": True,
        "reprioritize": True,
        "memory_write": True,
        "attention": True,
        "layers": None,  # None: the dataset's K
        "smoke": False,
        "checkpoint": None,
        "seed": 0,
        "stochastic": False,
        "device": "cpu",
        "compile": None,  # None: eager, else a torch.compile mode (harness.compiled.COMPILE_MODES)
    }


CONFORMANCE_CHECKPOINT = "checkpoints/tba/sprites-mot/TBA/last"
"""The published TBA (4 MB, 0.4 s for the 24 conformance frames on a CPU), which reports tracks:
an untrained tiny TBA reports none."""

VARIANTS = {  # method name -> (dataset, table, description)
    "tba": (
        "sprites-mot",
        "T1 (Sprites-MOT)",
        "Unsupervised multi-object tracker trained by reconstructing frames (reprioritized "
        "attentive tracking, layered rendering); Sprites-MOT configuration.",
    ),
    "tba-mnist": (
        "mnist-mot",
        "README results (MNIST-MOT)",
        "TBA with the MNIST-MOT configuration (K = 1, so TBAc-noOcc equals TBAc).",
    ),
}

for name, (dataset, table, description) in VARIANTS.items():
    register_method(
        name,
        "trackers.tba.tracker:TBATracker",
        recipe="trackers.tba.train:TBARecipe",
        kind="multi-object",
        inputs={"image"},
        config=default_config(dataset),
        ablations=ABLATIONS,
        paper=PAPER,
        table=table,
        description=description,
        conformance={
            "dataset": dataset,
            "params": {"eval_frames": 24},
            "config": {"smoke": True},
            "checkpoint": CONFORMANCE_CHECKPOINT if name == "tba" else None,
        },
    )
