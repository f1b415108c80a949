"""Gan et al. 2015, "First Step toward Model-Free, Anonymous Object Tracking with Recurrent
Neural Networks": its neural trackers, registered (the KerCorrTracker it compares, ``kcf``, is a
baseline).

``convtracker``, ``rectracker-id``, ``rectracker-att-1`` and ``rectracker-att-3`` are the paper's
trackers (``trackers.gan.tracker:GanTracker``, trained by ``trackbench train`` with
``trackers.gan.train:GanRecipe``). ``dataset`` is the training dataset: Single by default, Multi
in the ``multi`` ablation (the paper trains one model per training set and tests it on the Same and
Diff sets); ``variant`` "code" (the default) takes every choice of the released code, which produced
the paper's numbers (``GanConfig.code_choices``), and the ``paper`` ablation the paper's text.
``checkpoint`` null runs an untrained, seeded model (smoke tests only); ``smoke`` a tiny one.
Registering imports no tracker code: each factory is named by reference.
"""

from __future__ import annotations

from harness.registry import register_method

PAPER = (
    "Gan, Guo, Zhang and Cho 2015, First Step toward Model-Free, Anonymous Object Tracking with"
    " Recurrent Neural Networks (arXiv:1511.06425)"
)
NEURAL_TRACKERS = {  # method name -> (model, table rows, description)
    "convtracker": (
        "ConvTracker",
        "Gan et al. 2015 T1 (ConvTracker)",
        "Conv on the 4 most recent frames + FC 200 tanh on them and the 4 previous boxes (no"
        " recurrence); Appendix A.",
    ),
    "rectracker-id": (
        "RecTracker-ID",
        "Gan et al. 2015 T1, T2 (RecTracker-ID)",
        "Conv 32x10x10 stride 5, tanh -> GRU 200 with the previous box -> tanh box; identity"
        " preprocessing (eq. 6).",
    ),
    "rectracker-att-1": (
        "RecTracker-Att-1",
        "Gan et al. 2015 T2, T3, T4 (RecTracker-Att-1)",
        "RecTracker with one Gaussian attention weight on the full frame (eq. 7, N = 1).",
    ),
    "rectracker-att-3": (
        "RecTracker-Att-3",
        "Gan et al. 2015 T3 (RecTracker-Att-3)",
        "RecTracker with a 3x3 grid of Gaussian attention weights (eq. 7, N = 3).",
    ),
}

CONFORMANCE = {  # two 6-frame test sequences of a smoke model
    "dataset": "mnist-single-same",
    "split": "test",
    "params": {"sequences": 2, "length": 6},
    "config": {"smoke": True},
}

for name, (model, table, description) in NEURAL_TRACKERS.items():
    register_method(
        name,
        "trackers.gan.tracker:GanTracker",
        recipe="trackers.gan.train:GanRecipe",
        kind="single-object",
        inputs={"image"},
        config={
            "model": model,
            "dataset": "mnist-single-same",  # the training dataset (MNIST-Single)
            "variant": "code",  # the released code's choices; "paper": the paper's text
            "smoke": False,
            "checkpoint": None,
            "seed": 0,
            "device": "cpu",
            "batch": 50,  # samples per forward of the batched track
        },
        ablations={
            "multi": {"dataset": "mnist-multi-same"},  # trained on MNIST-Multi
            "paper": {"variant": "paper"},
        },
        paper=PAPER,
        table=table,
        description=description,
        conformance=CONFORMANCE,
    )
