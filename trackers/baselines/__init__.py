"""Baselines, registered with their ablations: SORT, the IOU tracker and the ground-truth test
double (multi-object); the constant box, KCF (Gan et al.'s KerCorrTracker, with the authors' MATLAB
defaults as config keys) and the ground-truth box double (single-object).

Registration names each factory by reference, with its kind and inputs as data, so importing this
module imports no tracker code; the two ground-truth trackers are marked as test doubles and the
constant box as the floor (ranked on accuracy, not on speed).
"""

from __future__ import annotations

from harness.registry import register_method

MULTI_OBJECT_CONFORMANCE = {"dataset": "sprites-mot", "params": {"eval_frames": 24}}
SINGLE_OBJECT_CONFORMANCE = {
    "dataset": "sprites-mot",
    "params": {"eval_frames": 24, "sample_length": 6},
}

register_method(
    "sort",
    "trackers.baselines.sort:SORT",
    kind="multi-object",
    inputs={"detections"},
    config={"max_age": 1, "min_hits": 3, "iou_threshold": 0.3, "min_score": None},
    ablations={
        # Report a track from its first detection instead of after 3 consecutive hits.
        "no-min-hits": {"min_hits": 0},
        # Keep unmatched tracks alive 30 frames (DeepSORT's value) so they can be re-matched.
        "max-age-30": {"max_age": 30},
    },
    paper="Bewley et al. 2016, Simple Online and Realtime Tracking",
    table="Bastani et al. 2021 T2, T3 (SORT17)",
    description="Kalman filter + Hungarian IoU matching; reference defaults (abewley/sort).",
    conformance=MULTI_OBJECT_CONFORMANCE,
)

# Default: the parameters that reproduce the paper's MOT16 SDP results (mot16.py defaults of
# bochinski/iou-tracker). The mot17-* ablations are the per-detector MOT17 settings of that
# repository's README (the IOU17 submission compared in Bastani et al. T2), reported offline.


def mot17_offline(**params) -> dict:
    return {**params, "report": "offline"}


register_method(
    "iou",
    "trackers.baselines.iou_tracker:iou_tracker",
    kind="multi-object",
    inputs={"detections"},
    config={"sigma_l": 0.3, "sigma_h": 0.5, "sigma_iou": 0.3, "t_min": 5, "report": "online"},
    ablations={
        "offline": {"report": "offline"},
        "mot17-dpm": mot17_offline(sigma_l=-0.5, sigma_h=0.5, sigma_iou=0.4, t_min=4),
        "mot17-frcnn": mot17_offline(sigma_l=0.0, sigma_h=0.9, sigma_iou=0.3, t_min=3),
        "mot17-sdp": mot17_offline(sigma_l=0.4, sigma_h=0.5, sigma_iou=0.2, t_min=2),
    },
    paper="Bochinski et al. 2017, High-Speed Tracking-by-Detection Without Using Image Information",
    table="Bastani et al. 2021 T2 (IOU17)",
    description="Greedy IoU association; 'online' reports a track once valid, 'offline' as the "
    "paper does.",
    conformance=MULTI_OBJECT_CONFORMANCE,
)

register_method(
    "ground-truth",
    "trackers.baselines.ground_truth:GroundTruthTracker",
    kind="multi-object",
    inputs=set(),  # it reads the sequence's ground truth
    test_double=True,
    config={},
    paper="test double (like got10k's IdentityTracker)",
    table="harness check: MOTA = IDF1 = 1",
    description="Replays each sequence's ground truth; not a method.",
    conformance=MULTI_OBJECT_CONFORMANCE,
)

register_method(
    "constant-box",
    "trackers.baselines.single:ConstantBoxTracker",
    kind="single-object",
    inputs={"image"},
    floor=True,
    config={},
    paper="baseline (got10k's IdentityTracker)",
    table="single-object floor: the score of not moving",
    description="Reports the initial box on every frame.",
    conformance=SINGLE_OBJECT_CONFORMANCE,
)

register_method(
    "kcf",
    "trackers.baselines.kcf:KerCorrTracker",
    kind="single-object",
    inputs={"image"},
    config={
        "padding": 1.5,
        "regularization": 1e-4,  # lambda
        "output_sigma_factor": 0.1,
        "interpolation_factor": 0.075,
        "kernel_sigma": 0.2,
        "cell_size": 1,
        "subpixel": False,
    },
    ablations={
        # Refine the response peak by a parabola per axis (the MATLAB code moves by whole cells).
        "subpixel": {"subpixel": True},
    },
    paper="Henriques et al. 2015, High-Speed Tracking with Kernelized Correlation Filters (TPAMI)",
    table="Gan et al. 2015 T4 (KerCorrTracker)",
    description="Kernelized correlation filter: grey features, Gaussian kernel, the authors'"
    " MATLAB defaults; fixed box size.",
    conformance=SINGLE_OBJECT_CONFORMANCE,
)

register_method(
    "ground-truth-box",
    "trackers.baselines.single:GroundTruthBoxTracker",
    kind="single-object",
    inputs=set(),  # it reads the sample's ground truth
    test_double=True,
    config={},
    paper="test double",
    table="harness check: IoU = 1",
    description="Replays each sample's ground-truth boxes; not a method.",
    conformance=SINGLE_OBJECT_CONFORMANCE,
)
