"""Offline post-processing of a tracker's result table: short tracks dropped, gaps interpolated
(as cross-input consistency's scripts/filter_short.py and interpolate.py do)."""

from __future__ import annotations

import numpy as np

from harness.data import BoxTable


def drop_short_tracks(result: BoxTable, min_length: int) -> BoxTable:
    """``result`` without the rows of tracks that have fewer than ``min_length`` rows."""
    ids, counts = np.unique(result.id, return_counts=True)
    return result.select(np.isin(result.id, ids[counts >= min_length]))


def interpolate_gaps(result: BoxTable) -> BoxTable:
    """``result`` with every frame missing between two rows of a track filled by linear
    interpolation of box and confidence; rows ordered by (frame, id)."""
    added = []
    for track in np.unique(result.id):
        rows = result.select(
            np.flatnonzero(result.id == track)[
                np.argsort(result.frame[result.id == track], kind="stable")
            ]
        )
        jumps = np.diff(rows.frame)
        for k in np.flatnonzero(jumps > 1):
            steps = np.arange(1, jumps[k])
            weight = (steps / jumps[k])[:, None]
            added.append(
                BoxTable.build(
                    frame=rows.frame[k] + steps,
                    box=rows.box[k] * (1 - weight) + rows.box[k + 1] * weight,
                    id=np.full(len(steps), track),
                    conf=rows.conf[k] * (1 - weight[:, 0]) + rows.conf[k + 1] * weight[:, 0],
                )
            )
    return BoxTable.concat([result, *added]).sorted()
