"""UTrack and OccE (Liu et al., Neurocomputing 2022): the family's two methods, registered.

``utrack`` is the crop tier: UTrack, the unsupervised re-ID loss of §3.1 (the code's defaults:
mean placeholder, adaptive temperature, all three terms), on a crop embedder tracking given
boxes; its ablations are the rows of Tables 1-4 and 8: ``no-reid`` (FairMOT w/o: motion and IoU
only), ``supervised`` (the upper reference), ``cycas`` (the CycAs baseline), ``inter`` and
``inter+intra`` (Table 2), ``T=1`` ... ``T=5`` (Table 3), ``placeholder-none`` and
``placeholder-zero`` (Table 4), ``negatives-0.1`` ... (Table 8), ``intra-paper`` (eq. 3's
one triangle where the code sums both), and ``crowdhuman-UTrack``, ``crowdhuman-supervised``,
``crowdhuman-cycas``: trained on CrowdHuman's stills alone (Tables 7 and 9; UTrack with the
paper's 2/8 negatives, Table 8's chosen ratio).

``outrack`` is the detector tier: the joint detector and embedder with OccE's heads, UTrack's
loss; ``OccE`` tracks with occlusion re-finding (Table 5), ``no-occe`` without it from the same
checkpoint, ``code-output`` with the code's output rule, ``tau-0.3`` ... (Table 6: the OccE heads
fine-tuned at another tau), ``no-occe-pretrained`` and ``OccE-pretrained`` (Table 10's rows
marked *: a model pre-trained on CrowdHuman, then trained on MOT17).

Each trained ablation is its own checkpoint. ``dataset`` picks the network, training and tracker
defaults (``trackers.utrack.config``); ``checkpoint`` null runs an untrained, seeded model (smoke
tests only). Registering imports neither torch nor the model.
"""

from __future__ import annotations

from typing import Any

from harness.registry import register_method

PAPER = (
    "Liu, Chen, Chu, Yuan, Liu, Zhang and Yu 2022, Online multi-object tracking with unsupervised"
    " re-identification learning and occlusion estimation (Neurocomputing)"
)

CONFIG = {
    "dataset": "sprites-mot",
    "model": "crops",
    "reid": "utrack",
    "terms": ["intra", "inter", "cycle"],
    "placeholder": "mean",
    "temperature": None,  # None: adaptive, log(C + 1) / 0.5
    "negatives": 0.0,
    "intra": "code",
    "pretrained": None,  # the dataset of the model that initialised the weights
    "occlusion": False,
    "occe": False,
    "occlusion_tau": None,
    "inference": None,
    "smoke": False,
    "checkpoint": None,
    "seed": 0,
    "device": "cpu",
}

ABLATIONS: dict[str, dict[str, Any]] = {
    "UTrack": {},
    "no-reid": {"reid": "none"},
    "supervised": {"reid": "supervised"},
    "cycas": {"reid": "cycas"},
    "inter": {"terms": ["inter"]},
    "inter+intra": {"terms": ["intra", "inter"]},
    **{f"T={t}": {"temperature": float(t)} for t in range(1, 6)},
    "placeholder-none": {"placeholder": "none"},
    "placeholder-zero": {"placeholder": "zero"},
    **{f"negatives-{p / 10:g}": {"negatives": p / 10} for p in range(1, 7)},
    "intra-paper": {"intra": "paper"},
    "crowdhuman-UTrack": {"dataset": "crowdhuman", "negatives": 0.2},
    "crowdhuman-supervised": {"dataset": "crowdhuman", "reid": "supervised"},
    "crowdhuman-cycas": {"dataset": "crowdhuman", "reid": "cycas"},
}

register_method(
    "utrack",
    "trackers.utrack.tracker:UTrackTracker",
    recipe="trackers.utrack.train:UTrackRecipe",
    kind="multi-object",
    inputs={"image", "detections"},
    config=CONFIG,
    ablations=ABLATIONS,
    paper=PAPER,
    table=(
        "Liu et al. 2022 T1-T4 (MOT17 val-half), T7-T9 (trained on CrowdHuman: re-ID, MOT17"
        " val-half), T11 (MOTChallenge test)"
    ),
    description=(
        "Joint detection and embedding with re-ID learned without identities: objects of two"
        " nearby frames matched through a similarity matrix with a placeholder column, trained"
        " so that no object matches its own frame, every row has one clear match and the two"
        " directions agree; JDE-style association (embedding + Kalman, then IoU)."
    ),
    conformance={
        "dataset": "sprites-mot",
        "params": {"eval_frames": 24},
        "config": {"dataset": "sprites-mot", "smoke": True},
    },
)

OUTRACK_CONFIG = {
    **CONFIG,
    "model": "detector",
    "occlusion": True,
    "occe": True,
    "occlusion_tau": 0.7,
}

OUTRACK_ABLATIONS: dict[str, dict[str, Any]] = {
    "OccE": {},
    "no-occe": {"occe": False},
    "code-output": {"inference": {"occe_output": "code"}},
    **{f"tau-{tau}": {"occlusion_tau": tau} for tau in (0.3, 0.5, 0.9)},
    "no-occe-pretrained": {"occe": False, "pretrained": "crowdhuman"},
    "OccE-pretrained": {"pretrained": "crowdhuman"},
}

register_method(
    "outrack",
    "trackers.utrack.tracker:OUTrackTracker",
    recipe="trackers.utrack.train:UTrackRecipe",
    kind="multi-object",
    inputs={"image"},
    config=OUTRACK_CONFIG,
    ablations=OUTRACK_ABLATIONS,
    paper=PAPER,
    table=(
        "Liu et al. 2022 T5-T6, T10 (MOT17 val-half; -pretrained: from CrowdHuman), T11"
        " (MOTChallenge test)"
    ),
    description=(
        "FairMOT-style joint detector and embedder trained with UTrack's re-ID loss, plus OccE:"
        " a heatmap of occlusion centres (overlaps above tau of the smaller box) from which a"
        " lost track missed by the detector is re-found and relocated (eqs 15-16)."
    ),
    conformance={
        "dataset": "sprites-mot",
        "params": {"eval_frames": 24},
        "config": {"dataset": "sprites-mot", "smoke": True, "occlusion_tau": None},
    },
)
