"""The metric catalogue: one declaration per metric the harness stores, reports, gates or prints.

Each ``Metric`` says its stored name and shown label, its family, its unit (how a value is
written), its direction, its decimals, and how a cell's sequences combine into its ``COMBINED``
value:

- ``trackeval``: TrackEval's own ``combine_sequences`` (counts summed, ratios recomputed from the
  sums), as ``harness.metrics.mot`` calls it;
- ``mean``: the mean over sequences (one sequence = one sample), as Gan et al. print
  single-object IoU; a one-seed row's ± is then the population std (ddof 0) over its sequences;
- ``pooled``: computed once from all of a cell's frames, with no per-sequence value (TimeIoU:
  the mean of the IoU-over-time curve, whose every step averages the samples present at it; R1
  and mAP: one gallery pools the sequences); a one-seed row then has no ±, as there is no spread
  over sequences to give;
- ``timing``: ``harness.results.summary.cell_timings`` (fps = Σ frames / Σ seconds, peak memory
  = the maximum, latency percentiles of one-sequence cells only).

Over seeds every metric is mean ± sample std (ddof 1). Declaration order is the order of reports'
CSV columns and of ``trackbench evaluate --json``: the leaderboard metrics in MOTChallenge's
order (the order boards always had), TrackEval's other fields (alphabetical, as boards listed
them), the single-object metrics, the re-identification metrics, the timing fields.
``COLUMN_SETS`` are the named column orders of reports (papers' and leaderboards'). Standard
library and numpy only: the CLI's ``evaluate`` imports it without pandas' plotting stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import ConfigError, did_you_mean

CLEAR, IDENTITY, HOTA, COUNT = "CLEAR", "Identity", "HOTA", "Count"
SINGLE_OBJECT, REID, TIMING = "single-object", "reid", "timing"
FAMILIES = (CLEAR, IDENTITY, HOTA, COUNT, SINGLE_OBJECT, REID, TIMING)

#: Units: a fraction (stored 0..1, shown as a percentage), a count, a plain value (FAF),
#: milliseconds, frames per second, bytes, pixels.
FRACTION, COUNT_UNIT, VALUE, MS, FPS, BYTES, PIXELS = (
    "fraction",
    "count",
    "value",
    "ms",
    "fps",
    "bytes",
    "px",
)
UNITS = (FRACTION, COUNT_UNIT, VALUE, MS, FPS, BYTES, PIXELS)
INTEGRAL_UNITS = frozenset({COUNT_UNIT, BYTES})

TRACKEVAL_COMBINE, MEAN_COMBINE, POOLED_COMBINE, TIMING_COMBINE = (
    "trackeval",
    "mean",
    "pooled",
    "timing",
)
COMBINES = (TRACKEVAL_COMBINE, MEAN_COMBINE, POOLED_COMBINE, TIMING_COMBINE)


TRACKEVAL_FIELDS = {  # our name -> TrackEval's field, where they differ
    "Recall": "CLR_Re",
    "Precision": "CLR_Pr",
    "TP": "CLR_TP",
    "FP": "CLR_FP",
    "FN": "CLR_FN",
    "FAF": "FP_per_frame",
    "Frames": "CLR_Frames",
}


@dataclass(frozen=True)
class Metric:
    """One metric: ``name`` as stored, ``label`` as shown, ``higher_is_better`` (None: no
    direction), ``decimals`` shown, ``combine`` over sequences (see the module doc), and whether
    it is in the ``headline`` a person reads first (progress lines)."""

    name: str
    label: str
    family: str
    unit: str
    higher_is_better: bool | None
    decimals: int = 1
    combine: str = TRACKEVAL_COMBINE
    headline: bool = False

    @property
    def source(self) -> tuple[str, str]:
        """(TrackEval metric class, its field) of a ``trackeval``-combined metric: the family
        names the class (CLEAR, Identity, HOTA, Count)."""
        if self.combine != TRACKEVAL_COMBINE:
            raise ValueError(f"{self.name} is not one of TrackEval's fields")
        return self.family, TRACKEVAL_FIELDS.get(self.name, self.name)

    @property
    def header(self) -> str:
        """The label with its direction arrow, e.g. "IDS ↓"."""
        arrow = {True: " ↑", False: " ↓", None: ""}[self.higher_is_better]
        return self.label + arrow

    @property
    def scale(self) -> float:
        """Stored value -> shown value: 100 for fractions (shown in %), else 1."""
        return 100.0 if self.unit == FRACTION else 1.0

    @property
    def integral(self) -> bool:
        """Whether a value is a whole number of things (counts, bytes)."""
        return self.unit in INTEGRAL_UNITS

    def format(self, value: float, spread: bool = False) -> str:
        """A stored value as shown: fractions in % and whole counts without decimals (a
        ``spread`` always with them), thousands separated."""
        shown = value * self.scale
        if self.integral and not spread and float(shown).is_integer():
            return f"{shown:,.0f}"
        return f"{shown:,.{self.decimals}f}"


def _declare(family: str, unit: str, higher_is_better: bool | None, *names: str, **options):
    """``Metric``s of one family, unit and direction; ``"IDSW=IDS"`` sets a label."""
    return [
        Metric(name, label or name, family, unit, higher_is_better, **options)
        for name, _, label in (spec.partition("=") for spec in names)
    ]


_DECLARED = [
    # The leaderboard metrics, in the order boards have always listed them.
    *_declare(CLEAR, FRACTION, True, "MOTA", headline=True),
    *_declare(CLEAR, FRACTION, True, "MOTP"),
    *_declare(IDENTITY, FRACTION, True, "IDF1", headline=True),
    *_declare(IDENTITY, FRACTION, True, "IDP", "IDR"),
    *_declare(HOTA, FRACTION, True, "HOTA", headline=True),
    *_declare(HOTA, FRACTION, True, "DetA", "AssA", "LocA", "DetRe", "DetPr"),
    *_declare(HOTA, FRACTION, True, "AssRe", "AssPr"),
    *_declare(CLEAR, COUNT_UNIT, False, "FP", "FN", "IDSW=IDS", "Frag"),
    *_declare(CLEAR, COUNT_UNIT, True, "MT"),
    *_declare(CLEAR, COUNT_UNIT, None, "PT"),
    *_declare(CLEAR, COUNT_UNIT, False, "ML"),
    *_declare(CLEAR, VALUE, False, "FAF", decimals=2),
    *_declare(COUNT, COUNT_UNIT, None, "GT_Dets=GT Dets", "GT_IDs=GT IDs"),
    # TrackEval's other fields, alphabetical.
    *_declare(COUNT, COUNT_UNIT, None, "Dets"),
    *_declare(CLEAR, COUNT_UNIT, None, "Frames"),
    *_declare(HOTA, FRACTION, True, "HOTA(0)", "HOTALocA(0)"),
    *_declare(IDENTITY, COUNT_UNIT, False, "IDFN", "IDFP"),
    *_declare(IDENTITY, COUNT_UNIT, True, "IDTP"),
    *_declare(COUNT, COUNT_UNIT, None, "IDs"),
    *_declare(HOTA, FRACTION, True, "LocA(0)"),
    *_declare(CLEAR, FRACTION, False, "MLR"),
    *_declare(CLEAR, FRACTION, True, "MODA", "MOTAL", "MTR"),
    *_declare(HOTA, FRACTION, True, "OWTA"),
    *_declare(CLEAR, FRACTION, None, "PTR"),
    *_declare(CLEAR, FRACTION, True, "Precision", "Recall"),
    *_declare(CLEAR, COUNT_UNIT, True, "TP"),
    *_declare(CLEAR, FRACTION, True, "sMOTA"),
    # Single-object, per sequence (= sample) and combined as the mean over samples: a sample's
    # mean IoU over its scored frames; the OTB/got10k success-curve area; the fraction of frames
    # whose centre error is at most 20 px; the mean centre error.
    *_declare(SINGLE_OBJECT, FRACTION, True, "IoU", "AUC", combine=MEAN_COMBINE, headline=True),
    *_declare(SINGLE_OBJECT, FRACTION, True, "Precision20", combine=MEAN_COMBINE),
    *_declare(SINGLE_OBJECT, PIXELS, False, "CenterError", combine=MEAN_COMBINE),
    # Single-object, per cell only: the mean over time steps t = 0..T-1 of the IoU-over-time
    # curve (Kosiorek et al. 2017, Table 1: "average IoU over 60 time-steps").
    *_declare(SINGLE_OBJECT, FRACTION, True, "TimeIoU", combine=POOLED_COMBINE),
    # Re-identification, per cell only (one gallery pools the sequences; harness.metrics.reid):
    # rank-1 accuracy and mean average precision, and how many queries and gallery rows.
    *_declare(REID, FRACTION, True, "R1", "mAP", combine=POOLED_COMBINE, headline=True),
    *_declare(REID, COUNT_UNIT, None, "queries", "gallery", combine=POOLED_COMBINE),
    # Timing of the tracker (harness.timing), combined per cell by results.summary.cell_timings.
    *_declare(TIMING, FPS, True, "fps", "batched_fps=batched fps", combine=TIMING_COMBINE),
    *_declare(
        TIMING,
        MS,
        False,
        "latency_p50_ms=p50 ms",
        "latency_p95_ms=p95 ms",
        combine=TIMING_COMBINE,
    ),
    *_declare(TIMING, BYTES, False, "peak_memory_bytes=peak memory", combine=TIMING_COMBINE),
]
CATALOGUE: dict[str, Metric] = {m.name: m for m in _DECLARED}
HEADLINE = tuple(m.name for m in _DECLARED if m.headline)

COLUMN_SETS: dict[str, tuple[str, ...]] = {  # named column orders of reports (``--columns``)
    # He et al. 2019, Tables 1 and 2.
    "tba": ("IDF1", "IDP", "IDR", "MOTA", "MOTP", "FAF", "MT", "ML", "FP", "FN", "IDSW", "Frag"),
    # MOTChallenge leaderboard order (HOTA era).
    "mot": ("MOTA", "IDF1", "HOTA", "MOTP", "MT", "ML", "FP", "FN", "IDSW", "Frag"),
    # Luiten et al. 2021; Bastani et al. 2021, Table 3.
    "hota": ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA"),
    # Bastani et al. 2021, Table 2.
    "cis": ("IDF1", "MOTA", "MT", "ML", "FP", "FN", "IDSW", "Frag"),
    # Single-object: Gan et al. 2015 (IoU), Kosiorek et al. 2017 (TimeIoU), OTB / got10k (AUC,
    # precision at 20 px).
    "sot": ("IoU", "TimeIoU", "AUC", "Precision20", "CenterError"),
    # Re-identification: Liu et al. 2022, Tables 7 and 8.
    "reid": ("R1", "mAP"),
}
DEFAULT_COLUMN_SET = "mot"


def metric_named(name: str) -> Metric:
    """The metric stored as ``name``; a ConfigError with the closest name if there is none."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ConfigError(
            f"unknown metric {name!r}" + did_you_mean(name, list(CATALOGUE))
        ) from None


def names_of(families: Iterable[str]) -> list[str]:
    """The names of the metrics of ``families``, in catalogue order."""
    wanted = set(families)
    unknown = wanted - set(FAMILIES)
    if unknown:
        first = sorted(unknown)[0]
        raise ConfigError(f"unknown metric family {first!r}" + did_you_mean(first, list(FAMILIES)))
    return [m.name for m in CATALOGUE.values() if m.family in wanted]


def combine_means(table: np.ndarray) -> np.ndarray:
    """The ``mean`` rule on a (sequences, metrics) table of ``mean``-combined metrics: each
    column's mean over the sequences."""
    return table.mean(axis=0)


def headline(combined: Mapping[str, Any]) -> str:
    """The ``headline`` metrics of a cell's combined values, e.g. ``MOTA 61.2% IDF1 70.1% HOTA
    55.0%`` or ``IoU 71.3% AUC 69.0%``."""
    return " ".join(f"{name} {100 * combined[name]:.1f}%" for name in HEADLINE if name in combined)


def in_catalogue_order(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (metric name -> value) as the catalogue's metrics of the families among its
    names that it has, in catalogue order (a name the catalogue lacks is a ConfigError)."""
    families = {metric_named(n).family for n in values}
    return {name: values[name] for name in names_of(families) if name in values}
