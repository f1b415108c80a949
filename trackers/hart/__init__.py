"""Kosiorek, Bewley and Posner 2017, "Hierarchical Attentive Recurrent Tracking": HART, its
ablations and the RATM baseline it compares with, registered.

``hart`` is the full model; its ablations ``app-att`` and ``spatial-att`` are Table 1's App Att
(no loss on appearance attention) and Spatial Att (no appearance attention, no loss on the
attention parameters). ``ratm`` is Kahou et al.'s RATM as the paper re-implemented it (spatial
attention only, trained with HART's hyper-parameters). ``setup`` picks the architecture (``mnist``:
the synthetic set; ``kth``, ``kitti``: §5.1, §5.2; ``trackers.hart.config``), ``dataset`` the
training set. ``checkpoint`` null runs an untrained, seeded network (smoke tests only); ``smoke``
a tiny one; ``backbone_weights`` a torchvision AlexNet ``state_dict`` file for the kitti V1 of an
untrained network (``trackbench train`` starts from it). Registering imports no tracker code.
"""

from __future__ import annotations

from harness.registry import register_method

PAPER = (
    "Kosiorek, Bewley and Posner 2017, Hierarchical Attentive Recurrent Tracking (NeurIPS;"
    " arXiv:1706.09262)"
)
CONFIG = {
    "setup": "mnist",
    "variant": "HART",
    "dataset": "mnist-multi-same",  # the training dataset
    "smoke": False,
    "checkpoint": None,
    "backbone_weights": None,
    "seed": 0,
    "device": "cpu",
    "batch": 50,  # samples per forward of the batched track
}

CONFORMANCE = {  # two 6-frame test sequences of a smoke network
    "dataset": "mnist-multi-same",
    "split": "test",
    "params": {"sequences": 2, "length": 6},
    "config": {"smoke": True},
}

register_method(
    "hart",
    "trackers.hart.tracker:HartTracker",
    recipe="trackers.hart.train:HartRecipe",
    kind="single-object",
    inputs={"image"},
    config=CONFIG,
    ablations={
        "app-att": {"variant": "App Att"},
        "spatial-att": {"variant": "Spatial Att"},
    },
    paper=PAPER,
    conformance=CONFORMANCE,
    table="Kosiorek et al. 2017 T1 (HART, App Att, Spatial Att), §5.1 KTH",
    description="Gaussian-filterbank glimpse -> V1 -> ventral maps masked by a dorsal dynamic-"
    "filter location map -> LSTM 100 (zoneout) -> attention, appearance and box updates.",
)
register_method(
    "ratm",
    "trackers.hart.tracker:HartTracker",
    recipe="trackers.hart.train:HartRecipe",
    kind="single-object",
    inputs={"image"},
    config={**CONFIG, "variant": "RATM"},
    paper="Kahou, Michalski and Memisevic 2017, RATM: Recurrent Attentive Tracking Model (CVPR"
    " Workshops), as re-implemented by " + PAPER,
    table="Kosiorek et al. 2017 T1 (RATM), §5.1 KTH",
    conformance=CONFORMANCE,
    description="Spatial attention only: the glimpse's features drive an LSTM that predicts the"
    " next attention, which is the box; trained on the glimpses' feature distance.",
)
