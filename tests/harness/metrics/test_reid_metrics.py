"""R1 and mAP (harness.metrics.reid): a case computed by hand, parity with OUTrack's
src/tools/eval_reid.py transcribed here as the oracle, visibility and the query split, bad
input."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import reid
from harness.metrics.reid import rank1_map, reid_split

# The hand case: rows in no particular order. Sequence 0 (A): identity 1 in frames 1-5 (frame 5
# at visibility 0.69: dropped; frame 4 at exactly 0.7: kept), identity 2 in one frame, identity 3
# too occluded (0.5). Sequence 1 (B): raw id 1 again, another identity, in frames 1-2.
SEQUENCE = np.array([0, 0, 0, 0, 0, 0, 1, 1, 0])
IDS = np.array([1, 1, 2, 1, 1, 3, 1, 1, 1])
FRAMES = np.array([3, 1, 1, 4, 2, 2, 2, 1, 5])
VISIBILITY = np.array([0.9, 0.8, 1.0, 0.7, 0.95, 0.5, 1.0, 1.0, 0.69])
FEATURES = np.array(
    [
        [1, 0, 0],  # row 0: A1 frame 3, gallery g0
        [1, 0, 0],  # row 1: A1 frame 1, query q0
        [2, 2, 1],  # row 2: A2 (one row: gallery only) g2
        [1, 2, 2],  # row 3: A1 frame 4, gallery g1
        [6, 3, 2],  # row 4: A1 frame 2, query q1
        [0, 1, 0],  # row 5: invisible
        [6, 3, 2],  # row 6: B1 frame 2, gallery g3
        [0, 0, 1],  # row 7: B1 frame 1, query q2
        [0, 1, 0],  # row 8: invisible
    ],
    dtype=float,
)


def test_a_hand_computed_case():
    split = reid_split(IDS, FRAMES, VISIBILITY, SEQUENCE)
    # A1 keeps 4 rows: its first int(4 * 0.5) = 2 by frame are queries; A2's one row and the
    # second half of each identity are the gallery; B1 (raw id 1) is not A1
    assert split.query.tolist() == [1, 4, 7]
    assert split.gallery.tolist() == [0, 3, 2, 6]
    assert split.identity[7] == split.identity[6] != split.identity[1]
    # Cosine distances 1 - cos (g0 = (1,0,0), g1 = (1,2,2)/3, g2 = (2,2,1)/3, g3 = (6,3,2)/7):
    #   q0 = (1,0,0):   g0 0,   g1 2/3,  g2 1/3,  g3 1/7   -> g0 g3 g2 g1, matches g0 g1 at
    #                   ranks 1 and 4: AP = ((1 + 1)/2 + (1/3 + 2/4)/2) / 2 = 17/24, rank-1 hit
    #   q1 = (6,3,2)/7: g0 1/7, g1 5/21, g2 1/21, g3 0     -> g3 g2 g0 g1, matches at ranks 3 and
    #                   4: AP = ((0/2 + 1/3)/2 + (1/3 + 2/4)/2) / 2 = 7/24
    #   q2 = (0,0,1):   g0 1,   g1 1/3,  g2 2/3,  g3 5/7   -> g1 g2 g3 g0, its one match at rank
    #                   3: AP = (0/2 + 1/3)/2 = 1/6 (old precision 0/2 before it)
    scores = rank1_map(
        FEATURES[split.query],
        split.identity[split.query],
        FEATURES[split.gallery],
        split.identity[split.gallery],
    )
    assert scores["R1"] == pytest.approx(1 / 3, abs=1e-15)
    assert scores["mAP"] == pytest.approx((17 / 24 + 7 / 24 + 1 / 6) / 3, abs=1e-15)
    assert (scores["queries"], scores["gallery"]) == (3, 4)


def test_visibility_unknown_rows_and_the_query_share():
    ids = np.array([5] * 5 + [6] * 3 + [7])
    frames = np.array([5, 4, 3, 2, 1, 1, 2, 3, 1])
    visibility = np.array([1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 0.2, 0.9])
    split = reid_split(ids, frames, visibility)
    # id 5: int(5 * 0.5) = 2 queries, its earliest frames; id 6: its unknown-visibility rows
    # count (frame 3 at 0.2 does not): 1 query, 1 gallery; id 7: one row, the gallery's
    assert split.query.tolist() == [4, 3, 5]
    assert split.gallery.tolist() == [2, 1, 0, 6, 8]
    stricter = reid_split(ids, frames, visibility, min_visibility=0.95, query_ratio=0.2)
    assert stricter.query.tolist() == [4]  # int(5 * 0.2) = 1; int(2 * 0.2) = 0
    assert stricter.gallery.tolist() == [3, 2, 1, 0, 5, 6]


def eval_reid_oracle(files, distance):
    """OUTrack's src/tools/eval_reid.py (prepare_data, get_distance, evaluate, compute_ap_cmc)
    transcribed on in-memory "files" (rows: frame, id, 6 unused columns, visibility,
    features), with one change: np.argsort(..., kind="stable") (the code's default quicksort
    leaves the order of ties unspecified)."""
    start_person_id, start_camera_id = 0, 1
    q_pids, q_cids, g_pids, g_cids, q_feats, g_feats = [], [], [], [], [], []
    for data_tmp in files:
        data_tmp = data_tmp[data_tmp[:, 8] >= 0.7].copy()
        data_tmp[:, 1] += start_person_id
        start_person_id = data_tmp[:, 1].max() + 1
        cid_tmp = np.arange(data_tmp.shape[0]) + start_camera_id
        start_camera_id = cid_tmp.max() + 1
        for i in np.unique(data_tmp[:, 1]):
            idx = data_tmp[:, 1] == i
            num_query = int(cid_tmp[idx].shape[0] * 0.5)
            q_pids.append(data_tmp[idx][:num_query, 1])
            g_pids.append(data_tmp[idx][num_query:, 1])
            q_cids.append(cid_tmp[idx][:num_query])
            g_cids.append(cid_tmp[idx][num_query:])
            q_feats.append(data_tmp[idx][:num_query, 9:])
            g_feats.append(data_tmp[idx][num_query:, 9:])
    q_pids, g_pids, q_cids, g_cids, q_feats, g_feats = (
        np.concatenate(a) for a in (q_pids, g_pids, q_cids, g_cids, q_feats, g_feats)
    )
    if distance == "cosine":
        q = q_feats / np.linalg.norm(q_feats, axis=1, keepdims=True)
        g = g_feats / np.linalg.norm(g_feats, axis=1, keepdims=True)
        distmat = 1 - q @ g.T
    else:
        squares = (q_feats**2).sum(axis=1)[:, None] + (g_feats**2).sum(axis=1)[None, :]
        distmat = squares - 2 * q_feats @ g_feats.T
    index = np.argsort(distmat, axis=1, kind="stable")
    num_no_gt, cmc_sum, ap_sum = 0, np.zeros(len(g_pids)), 0.0
    for i in range(len(q_pids)):
        query_index = np.argwhere(g_pids == q_pids[i])
        camera_index = np.argwhere(g_cids == q_cids[i])
        good_index = np.setdiff1d(query_index, camera_index, assume_unique=True)
        if good_index.size == 0:
            num_no_gt += 1
            continue
        junk_index = np.intersect1d(query_index, camera_index)
        order = index[i]
        ap, cmc = 0.0, np.zeros(len(order))
        order = order[np.isin(order, junk_index, invert=True)]
        rows_good = np.argwhere(np.isin(order, good_index)).flatten()
        cmc[rows_good[0] :] = 1.0
        ngood = len(good_index)
        for k in range(ngood):
            d_recall = 1.0 / ngood
            precision = (k + 1) * 1.0 / (rows_good[k] + 1)
            old_precision = k * 1.0 / rows_good[k] if rows_good[k] != 0 else 1.0
            ap = ap + d_recall * (old_precision + precision) / 2
        cmc_sum, ap_sum = cmc_sum + cmc, ap_sum + ap
    scored = len(q_pids) - num_no_gt
    ties = sum(len(np.unique(row)) < len(row) for row in distmat)
    return {"R1": cmc_sum[0] / scored, "mAP": ap_sum / scored, "queries": scored}, ties


def random_sequences(seed):
    """Three sequences of 12 frames, raw ids 1-5 in each (present with probability 0.7),
    visibility with exact 0.7s, features drawn from a small pool (scaled axis vectors and a few
    random ones), so that many distances tie exactly."""
    rng = np.random.default_rng(seed)
    pool = np.vstack([np.eye(4) * rng.uniform(0.5, 2.0, (4, 1)), rng.normal(size=(3, 4))])
    files = []
    for _ in range(3):
        frame, ident = np.meshgrid(np.arange(1, 13), np.arange(1, 6), indexing="ij")
        present = rng.random(frame.shape) < 0.7
        n = int(present.sum())
        rows = np.zeros((n, 9 + 4))
        rows[:, 0], rows[:, 1] = frame[present], ident[present]
        rows[:, 8] = rng.choice([0.2, 0.69, 0.7, 0.9, 1.0], n)
        rows[:, 9:] = pool[rng.integers(len(pool), size=n)]
        files.append(rows)  # in frame order, as OUTrack writes them
    return files


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_with_eval_reid_on_random_data_with_ties(seed, distance):
    files = random_sequences(seed)
    expected, ties = eval_reid_oracle(files, distance)
    assert ties > 0
    rows = np.vstack(files)
    sequence = np.repeat(np.arange(len(files)), [len(f) for f in files])
    shuffled = np.random.default_rng(seed).permutation(len(rows))  # input order is irrelevant
    rows, sequence = rows[shuffled], sequence[shuffled]
    split = reid_split(rows[:, 1], rows[:, 0], rows[:, 8], sequence)
    features, identity = rows[:, 9:], split.identity
    q, g = split.query, split.gallery
    scores = rank1_map(features[q], identity[q], features[g], identity[g], distance)
    assert scores["queries"] == expected["queries"]
    assert scores["R1"] == pytest.approx(expected["R1"], abs=1e-12)
    assert scores["mAP"] == pytest.approx(expected["mAP"], abs=1e-12)


def test_queries_are_ranked_in_chunks_with_the_same_result(monkeypatch):
    rows = np.vstack(random_sequences(3))
    split = reid_split(rows[:, 1], rows[:, 0], rows[:, 8])
    q, g = split.query, split.gallery
    args = (rows[q, 9:], split.identity[q], rows[g, 9:], split.identity[g])
    whole = rank1_map(*args)
    monkeypatch.setattr(reid, "CHUNK_ELEMENTS", 2 * len(g))  # two queries at a time
    assert rank1_map(*args) == whole


def test_queries_without_a_match_are_skipped():
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]])
    query = np.array([[1.0, 0.1], [1.0, 0.0]])
    scores = rank1_map(query, [3, 1], gallery, [1, 2])  # id 3 has no gallery row
    assert scores == {"R1": 1.0, "mAP": 1.0, "queries": 1, "gallery": 2}


@pytest.mark.parametrize(
    ("query", "gallery", "ids", "message"),
    [
        ([[1.0, 0.0]], [[1.0, 0.0, 0.0]], [1], "query features have dimension 2, gallery .* 3"),
        ([[1.0, 0.0], [np.nan, 1.0]], [[1.0, 0.0]], [1, 1], "query feature row 1 is NaN"),
        ([[1.0, 0.0]], [[1.0, 0.0], [0.0, np.inf]], [1], "gallery feature row 1 is NaN or inf"),
        ([[0.0, 0.0]], [[1.0, 0.0]], [1], "query feature row 0 is zero"),
        ([1.0, 0.0], [[1.0, 0.0]], [1], r"must be an \(n, D\) array, got shape \(2,\)"),
        ([[1.0, 0.0]], [[1.0, 0.0]], [2], "no query has a match in the gallery"),
        ([[1.0, 0.0]], [[1.0, 0.0]], [1, 1], "1 query features but 2 query ids"),
    ],
)
def test_bad_features_are_refused_with_the_problem(query, gallery, ids, message):
    with pytest.raises(ValueError, match=message):
        rank1_map(np.array(query), ids, np.array(gallery), [1] * len(gallery))


def test_bad_split_and_distance_arguments_are_refused():
    with pytest.raises(ValueError, match="different lengths: 2, 2, 1, 2"):
        reid_split([1, 2], [1, 1], [1.0])
    with pytest.raises(ValueError, match="query_ratio must be in"):
        reid_split([1], [1], [1.0], query_ratio=1.5)
    with pytest.raises(ValueError, match="unknown distance 'l1'"):
        rank1_map(np.ones((1, 2)), [1], np.ones((1, 2)), [1], "l1")
