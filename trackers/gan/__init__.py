"""Gan et al. 2015, "First Step toward Model-Free, Anonymous Object Tracking with Recurrent
Neural Networks": the trackers it compares, registered.

``kcf`` is its KerCorrTracker, the kernelized correlation filter of Henriques et al. (2015) in
numpy (``trackers.gan.kcf``), with the authors' MATLAB defaults as config keys. Registering imports
no tracker code: each factory is named by reference.
"""

from __future__ import annotations

from harness.registry import register_method

register_method(
    "kcf",
    "trackers.gan.kcf:KerCorrTracker",
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
)
