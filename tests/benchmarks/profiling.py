"""Where a benchmarked call spends its time: cumulative seconds of named functions."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable


def profile_parts(
    call: Callable[[], object], parts: dict[str, str]
) -> tuple[float, dict[str, float]]:
    """(seconds, {label: seconds}) of one profiled ``call``: the cumulative time of each function
    named in ``parts`` (function name -> label)."""
    profile = cProfile.Profile()
    profile.runcall(call)
    stats = pstats.Stats(profile)
    rows = stats.stats.items()  # type: ignore[attr-defined]
    found = {parts[function]: row[3] for (_, _, function), row in rows if function in parts}
    return stats.total_tt, found  # type: ignore[attr-defined]


def print_parts(total: float, found: dict[str, float], parts: dict[str, str]) -> None:
    """One line per part found, in ``parts``' order, with its share of ``total``."""
    for label in (label for label in parts.values() if label in found):
        seconds = found[label]
        print(f"  {label}: {seconds:.3f} s of {total:.3f} s ({100 * seconds / total:.0f}%)")
