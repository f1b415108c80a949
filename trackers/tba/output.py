"""The TBA output protocol: per-frame slot outputs -> a MOTChallenge result table (the released
code's scripts/get_metric_txt.py, zhen-he/tracking-by-animation).

A slot is reported in a frame when its confidence is ``> 0.5``, and it gets a new track id each
time its confidence rises past 0.5 (from ``<= 0.5`` in the previous frame, or in the first
frame), so one slot can produce many ids. The original get_metric_txt.py reads as ``>= 0.5``; we
follow the issue wording "confidence > 0.5" (they differ only at exactly 0.5).
"""

from __future__ import annotations

import numpy as np

from harness.data import BoxTable

THRESHOLD = 0.5


def slots_to_table(slots: np.ndarray) -> BoxTable:
    """Result table from a (T, I, 5) array of [left, top, w, h, confidence] per frame and slot.

    Ids are 1, 2, ... in order of appearance (frame, then slot index); frames are 1-based.
    """
    slots = np.asarray(slots, dtype=np.float64)
    if slots.ndim != 3 or slots.shape[2] != 5:
        raise ValueError(f"slots must have shape (T, I, 5), got {slots.shape}")
    on = slots[..., 4] > THRESHOLD
    rising = on & ~np.vstack([np.zeros((1, on.shape[1]), dtype=bool), on[:-1]])
    birth_id = np.where(rising, np.cumsum(rising.ravel()).reshape(rising.shape), 0)
    track_id = np.maximum.accumulate(birth_id, axis=0)
    t, slot = np.nonzero(on)
    return BoxTable.build(
        frame=t + 1,
        box=slots[t, slot, :4],
        id=track_id[t, slot],
        conf=slots[t, slot, 4],
    )
