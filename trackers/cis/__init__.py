"""Cross-input consistency (Bastani, He and Madden, NeurIPS 2021): the ``cis`` family, registered.

``cis`` is Visual-Spatial (Table 1, 2, 3); its ablations are the paper's rows and the released
code's modes: ``Spatial-Only`` and ``Visual-Only`` track with one branch of the same checkpoint
(infer.py's ``finesp`` and ``longim`` modes), ``Occlusion`` is the occlusion-hiding model (§4.2,
our reading: no code was released), ``joint`` the paper's single joint loss, ``row-softmax`` the
normalisation the paper says degenerates, ``hungarian`` the paper's assignment where the code
is greedy (same checkpoint). ``dataset`` picks the network, training and inference
defaults (``trackers.cis.config``); ``checkpoint`` null runs an untrained, seeded model (smoke
tests only). Registering imports neither torch nor the model.
"""

from __future__ import annotations

from harness.registry import register_method

PAPER = (
    "Bastani, He and Madden 2021, Self-Supervised Multi-Object Tracking with Cross-Input"
    " Consistency (NeurIPS)"
)

CONFIG = {
    "dataset": "mot17",
    "hiding": "visual-spatial",
    "training": "two-phase",
    "normalisation": "min",
    "scores": "visual-spatial",
    "assignment": "greedy",  # the released code's; "hungarian": the paper's §3.1
    "skip": None,  # None: the dataset's (2 on MOT17, as infer.py)
    "online": False,
    "smoke": False,
    "checkpoint": None,
    "seed": 0,
    "device": "cpu",
}

ABLATIONS = {
    "Visual-Spatial": {},
    "Spatial-Only": {"scores": "spatial"},
    "Visual-Only": {"scores": "visual"},
    "Occlusion": {"hiding": "occlusion"},
    "joint": {"training": "joint"},
    "row-softmax": {"normalisation": "row"},
    "hungarian": {"assignment": "hungarian"},
}

register_method(
    "cis",
    "trackers.cis.tracker:CISTracker",
    recipe="trackers.cis.train:CISRecipe",
    kind="multi-object",
    inputs={"image", "detections"},
    config=CONFIG,
    ablations=ABLATIONS,
    paper=PAPER,
    table="Bastani et al. 2021 T1 (MOT17 train), T2 (MOT17 test), T3 (KITTI test)",
    description=(
        "Self-supervised tracker trained without labels by cross-input consistency: a visual"
        " matcher and a recurrent spatial matcher, each on its half of the detections' inputs,"
        " must agree (eq. 1's min of row and column softmaxes, dot-product loss)."
    ),
    conformance={
        "dataset": "sprites-mot",
        "params": {"eval_frames": 24},
        "config": {"dataset": "sprites-mot", "smoke": True},
    },
)
