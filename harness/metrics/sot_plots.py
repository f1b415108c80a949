"""Success and precision plots of single-object results, drawn as the got10k toolkit draws them:
one line per tracker, the trackers ordered by their score, which the legend label gives
(``name: [0.642]``), solid lines for the first ten, then dashed, then dash-dotted.

OTB and LaSOT: ``success.png`` (the AUC) and ``precision.png`` (Precision20); LaSOT also
``normalized_precision.png`` (NormPrecision, over its 0..0.5 thresholds); GOT-10k, whose protocol
has no centre error, only ``success.png`` (its 101-point curve, the AO).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from harness.metrics.sot_files import CURVE_THRESHOLDS, GOT10K, GOT10K_THRESHOLDS, LASOT, OTB

LINE_STYLES = ["-"] * 10 + ["--"] * 10 + ["-."] * 10
PLOTS = {  # curve: file, x label, y label, title, score (GOT-10k's success: AO)
    "success": ("success.png", "Overlap threshold", "Success rate", "Success plots", "AUC"),
    "precision": (
        "precision.png",
        "Location error threshold",
        "Precision",
        "Precision plots",
        "Precision20",
    ),
    "normalized_precision": (
        "normalized_precision.png",
        "Normalized location error threshold",
        "Normalized precision",
        "Normalized precision plots",
        "NormPrecision",
    ),
}
_WHERE = {OTB: "of OPE", GOT10K: "on GOT-10k", LASOT: "on LaSOT"}


@matplotlib.rc_context({"text.parse_math": False})
def write_plots(result: dict[str, Any], folder: Path) -> list[Path]:
    """The plots of ``evaluate_single_object``'s ``result`` (every tracker's combined curves) in
    ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    protocol, trackers = result["protocol"], result["trackers"]
    written = []
    for curve in next(iter(trackers.values()))["curves"]:
        file, xlabel, ylabel, title, score = PLOTS[curve]
        score = "AO" if protocol == GOT10K else score
        thresholds = GOT10K_THRESHOLDS if protocol == GOT10K else CURVE_THRESHOLDS[curve]
        ranked = sorted(trackers, key=lambda name: -trackers[name]["combined"][score])
        figure = Figure()
        ax = figure.add_subplot()
        for i, name in enumerate(ranked):
            ax.plot(
                thresholds,
                trackers[name]["curves"][curve],
                LINE_STYLES[i % len(LINE_STYLES)],
                label=f"{name}: [{trackers[name]['combined'][score]:.3f}]",
            )
        legend = ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=7.4)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_title(f"{title} {_WHERE[protocol]}", fontsize=9)
        ax.set(xlim=(0, thresholds.max()), ylim=(0, 1))
        ax.grid(True)
        figure.tight_layout()
        path = folder / file
        figure.savefig(path, bbox_extra_artists=(legend,), bbox_inches="tight", dpi=300)
        written.append(path)
    return written
