"""Re-identification metrics, R1 and mAP, as OUTrack's ``src/tools/eval_reid.py`` computes them
(Liu et al. 2022, Tables 7 and 8).

``reid_split`` makes the query and gallery sets from ground-truth rows (eval_reid.py:95-145):
rows with visibility >= ``min_visibility`` (0.7 in eval_reid.py:215) are kept; identities are
made unique across sequences (eval_reid.py:113-114); per identity, its first
``int(n * query_ratio)`` rows in frame order are queries (0.5 in eval_reid.py:216), the rest its
gallery rows, so an identity with one row is in the gallery only; one gallery pools every
sequence. Each row is its own "camera" there (eval_reid.py:116-119), so no gallery row is junk.

``rank1_map`` ranks the gallery for each query by ascending distance (eval_reid.py:55) and scores
it (eval_reid.py:25-50, 53-92): the AP of a query is the trapezoid rule over its matches,
``d_recall * (old_precision + precision) / 2`` with ``old_precision`` 1 at rank 0; R1 is the
share of queries whose nearest gallery row is a match; both average over the queries that have a
match in the gallery (the others are skipped). Distances (eval_reid.py:147-186): ``cosine``,
1 - cos of the L2-normalised features, or ``euclidean``, which is the *squared* Euclidean
distance as the code computes it (the same ranking).

Where we differ: the ranking is a stable sort, so gallery rows at equal distance keep their
gallery order (sequence, identity, frame); ``np.argsort``'s default quicksort leaves that order
unspecified. Distances are computed in float64 (the code: float32 on a GPU). Values are fractions
in [0, 1] (the catalogue shows them in %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DISTANCES = ("cosine", "euclidean")
CHUNK_ELEMENTS = 1 << 22
"""Query-gallery pairs ranked at once (the rows of a chunk times the gallery's size)."""


@dataclass(frozen=True)
class ReidSplit:
    """Row indices of the ``query`` and ``gallery`` sets, each ordered by identity then frame,
    and every row's ``identity``: one int per (sequence, id) pair, unique across sequences."""

    query: np.ndarray
    gallery: np.ndarray
    identity: np.ndarray


def reid_split(
    ids: np.ndarray,
    frames: np.ndarray,
    visibility: np.ndarray,
    sequences: np.ndarray | None = None,
    min_visibility: float = 0.7,
    query_ratio: float = 0.5,
) -> ReidSplit:
    """The query and gallery rows of ground-truth rows (every sequence's rows concatenated;
    ``sequences`` gives each row's sequence index, default all one sequence).

    A row is kept when its visibility is >= ``min_visibility`` or unknown (negative, the
    ``BoxTable`` value for a dataset without visibility). Per identity, the first
    ``int(n * query_ratio)`` of its ``n`` kept rows by frame (rows of one frame in input order)
    are queries, the others gallery rows."""
    ids, frames, visibility = (np.asarray(a).reshape(-1) for a in (ids, frames, visibility))
    sequences = np.zeros(len(ids), np.int64) if sequences is None else np.asarray(sequences)
    if not len(ids) == len(frames) == len(visibility) == len(sequences):
        raise ValueError(
            f"ids, frames, visibility and sequences have different lengths: {len(ids)},"
            f" {len(frames)}, {len(visibility)}, {len(sequences)}"
        )
    if not 0.0 <= query_ratio <= 1.0:
        raise ValueError(f"query_ratio must be in [0, 1], got {query_ratio}")
    pairs = np.column_stack([sequences, ids]).astype(np.int64)
    identity = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)
    kept = np.flatnonzero((visibility >= min_visibility) | (visibility < 0))
    ordered = kept[np.lexsort((frames[kept], identity[kept]))]  # lexsort is stable
    starts = np.flatnonzero(np.r_[True, np.diff(identity[ordered]) != 0])
    sizes = np.diff(np.r_[starts, len(ordered)])
    queries = (sizes * query_ratio).astype(np.int64)  # int(n * query_ratio), as the code
    position = np.arange(len(ordered)) - np.repeat(starts, sizes)
    is_query = position < np.repeat(queries, sizes)
    return ReidSplit(ordered[is_query], ordered[~is_query], identity)


def rank1_map(
    query_feats: np.ndarray,
    query_ids: np.ndarray,
    gallery_feats: np.ndarray,
    gallery_ids: np.ndarray,
    distance: str = "cosine",
) -> dict[str, float]:
    """``R1`` and ``mAP`` (fractions) of the queries against the gallery, with ``queries``, the
    number of queries scored (those with a match in the gallery), and ``gallery``, its size.
    A ValueError for features that are not finite, of different dimensions, or of zero norm
    under ``cosine``, and when no query has a match."""
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; choose one of {', '.join(DISTANCES)}")
    query_feats = check_features(query_feats, "query")
    gallery_feats = check_features(gallery_feats, "gallery")
    query_ids, gallery_ids = np.asarray(query_ids).reshape(-1), np.asarray(gallery_ids).reshape(-1)
    if query_feats.shape[1] != gallery_feats.shape[1]:
        raise ValueError(
            f"query features have dimension {query_feats.shape[1]}, gallery features"
            f" {gallery_feats.shape[1]}"
        )
    for what, feats, ids in (
        ("query", query_feats, query_ids),
        ("gallery", gallery_feats, gallery_ids),
    ):
        if len(ids) != len(feats):
            raise ValueError(f"{len(feats)} {what} features but {len(ids)} {what} ids")
    if distance == "cosine":
        query_feats = _unit_rows(query_feats, "query")
        gallery_feats = _unit_rows(gallery_feats, "gallery")
    matches = np.isin(query_ids, gallery_ids)
    if not matches.any():
        raise ValueError("no query has a match in the gallery: R1 and mAP are undefined")
    query_feats, query_ids = query_feats[matches], query_ids[matches]
    rows = max(1, CHUNK_ELEMENTS // max(len(gallery_ids), 1))
    hits, precisions = [], []
    for start in range(0, len(query_ids), rows):
        chunk = slice(start, start + rows)
        distances = _distances(query_feats[chunk], gallery_feats, distance)
        ranked = gallery_ids[np.argsort(distances, axis=1, kind="stable")]
        matched = ranked == query_ids[chunk, None]
        hits.append(matched[:, 0])
        precisions.append(_average_precision(matched))
    return {
        "R1": float(np.concatenate(hits).mean()),
        "mAP": float(np.concatenate(precisions).mean()),
        "queries": len(query_ids),
        "gallery": len(gallery_ids),
    }


def check_features(features: np.ndarray, what: str) -> np.ndarray:
    """``features`` as a float64 (n, D) array; a ValueError naming ``what`` and the first row
    that is not finite, or the shape when it is not 2-D."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{what} features must be an (n, D) array, got shape {array.shape}")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ValueError(f"{what} feature row {int(np.flatnonzero(bad)[0])} is NaN or infinite")
    return array


def _unit_rows(features: np.ndarray, what: str) -> np.ndarray:
    """Rows scaled to unit L2 norm; a ValueError for a zero row (no cosine)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    if (norms == 0).any():
        row = int(np.flatnonzero(norms == 0)[0])
        raise ValueError(f"{what} feature row {row} is zero: its cosine distance is undefined")
    return features / norms


def _distances(query: np.ndarray, gallery: np.ndarray, distance: str) -> np.ndarray:
    """(queries, gallery) distances: 1 - cos of unit rows, or squared Euclidean
    (eval_reid.py:153-181)."""
    if distance == "cosine":
        return 1.0 - query @ gallery.T
    squares = (query**2).sum(axis=1)[:, None] + (gallery**2).sum(axis=1)[None, :]
    return squares - 2.0 * query @ gallery.T


def _average_precision(matched: np.ndarray) -> np.ndarray:
    """Per query (a row of ``matched``: whether each gallery row in rank order is a match, at
    least one), the trapezoid AP of eval_reid.py:40-47: at the i-th match (0-based) at rank r,
    precision (i + 1) / (r + 1) and old precision i / r (1 at r = 0), averaged over matches."""
    found = np.cumsum(matched, axis=1)
    rank = np.arange(matched.shape[1])
    precision = found / (rank + 1)
    old = np.divide(found - 1, rank, out=np.ones(matched.shape), where=rank > 0)
    return ((old + precision) / 2 * matched).sum(axis=1) / found[:, -1]
