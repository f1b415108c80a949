"""The JDE-style association of utrack's tracker (occ_tracker.py ``update``) and OccE's re-finding
(Algorithm 1), on hand-made frames."""

import numpy as np

from trackers.utrack.association import Association, Occlusion
from trackers.utrack.config import inference_config

SIZE = (200, 200)


def settings(**overrides):
    return inference_config("sprites-mot", **overrides)


def frame(*boxes):
    boxes = np.array(boxes, np.float64).reshape(-1, 4)
    return boxes, np.full(len(boxes), 0.9)


def embeddings(*angles):
    radians = np.radians(angles)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_first_frame_confirms_later_tracks_wait_one_frame():
    """Tracks of frame 1 are output at once; a track started later is output from its second
    matched frame; an unconfirmed track left unmatched is removed."""
    association = Association(settings(embeddings=False), SIZE)
    ids, _, _ = association.step(*frame([10, 10, 20, 20]), None)
    assert ids.tolist() == [1]
    ids, _, _ = association.step(*frame([12, 10, 20, 20], [100, 100, 20, 20]), None)
    assert ids.tolist() == [1]
    ids, _, _ = association.step(*frame([14, 10, 20, 20], [101, 100, 20, 20]), None)
    assert sorted(ids.tolist()) == [1, 2]
    association.step(*frame([16, 10, 20, 20], [150, 150, 20, 20]), None)  # 2 lost, 3 starts
    ids, _, _ = association.step(*frame([18, 10, 20, 20]), None)  # 3 unmatched: removed
    assert ids.tolist() == [1]
    assert 3 not in [t.id for t in association.tracks]


def test_low_scores_are_not_tracked():
    association = Association(settings(embeddings=False), SIZE)
    ids, _, _ = association.step(np.array([[10.0, 10, 20, 20]]), np.array([0.3]), None)
    assert len(ids) == 0 and not association.tracks


def test_embeddings_refind_a_lost_track_iou_alone_does_not():
    """An object missed for three frames comes back near its predicted box: the embedding stage
    matches it to its lost track (same id); without embeddings it starts a new track."""
    boxes = [[10 + 2 * t, 50, 20, 20] for t in range(8)]
    features = embeddings(0)
    for use, expected in ((True, 1), (False, 2)):
        association = Association(settings(embeddings=use), SIZE)
        for t in range(8):
            if 2 <= t <= 4:
                association.step(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2)) if use else None)
                continue
            ids, _, _ = association.step(*frame(boxes[t]), features if use else None)
        # without embeddings the returning object is unconfirmed for a frame, then id 2
        assert association.tracks[-1].id == expected


def test_gating_forbids_a_far_match_despite_equal_embeddings():
    """The fused cost is infinite beyond the chi-square gate: the same embedding 120 px away
    starts a new track."""
    association = Association(settings(), SIZE)
    association.step(*frame([10, 10, 20, 20]), embeddings(0))
    association.step(*frame([130, 130, 20, 20]), embeddings(0))
    assert [t.id for t in association.tracks] == [1, 2]
    assert association.tracks[0].lost


def test_a_lost_track_is_dropped_after_the_buffer():
    association = Association(settings(track_buffer=3), SIZE)
    association.step(*frame([10, 10, 20, 20]), embeddings(0))
    for _ in range(3):  # lost at frame 2, last matched at frame 1: kept while frame - 1 <= 3
        association.step(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2)))
    assert [t.id for t in association.tracks] == [1]
    association.step(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2)))
    assert not association.tracks


def test_momentum_embedding():
    """A track's embedding is the normalised 0.9 / 0.1 blend of its last one and the match's."""
    association = Association(settings(), SIZE)
    association.step(*frame([10, 10, 20, 20]), embeddings(0))
    association.step(*frame([11, 10, 20, 20]), embeddings(30))
    blend = 0.9 * embeddings(0)[0] + 0.1 * embeddings(30)[0]
    np.testing.assert_allclose(association.tracks[0].feature, blend / np.linalg.norm(blend))


def occluded_scene(output):
    """Two objects walking into each other; the occluded one (id 2) is missed in frame 4 while
    an occlusion centre sits at the centre of the boxes' overlap (no centre before)."""
    association = Association(settings(), SIZE)
    front, back = embeddings(0), embeddings(90)
    for t in range(3):
        association.step(
            *frame([50 + 2 * t, 50, 40, 40], [80 - 2 * t, 50, 40, 40]),
            np.concatenate([front, back]),
            Occlusion(np.zeros((0, 2)), output=output),
        )
    return association, association.step(
        *frame([56, 50, 40, 40]), front, Occlusion(np.array([[80.0, 70.0]]), output=output)
    )


def test_occe_refinds_the_missed_object_at_its_relocated_box():
    """Algorithm 1: the lost track's predicted box holds the centre, the agreement exceeds 0.7,
    so it is output at the box eq. 15 gives."""
    association, (ids, boxes, _) = occluded_scene("paper")
    assert sorted(ids.tolist()) == [1, 2]
    found = boxes[ids.tolist().index(2)]
    np.testing.assert_allclose(found[2:], association.filter.boxes()[1][2:], rtol=0.05)
    lost = association.tracks[1]
    assert lost.lost and lost.missed == 0


def test_occe_code_output_needs_the_occluded_flag():
    """The code outputs a lost track with a candidate centre only when it was flagged occluded
    (over 20 % of it covered) within the window, at its Kalman box."""
    association, (ids, boxes, _) = occluded_scene("code")
    assert sorted(ids.tolist()) == [1, 2]  # the boxes overlapped by half in frame 3
    np.testing.assert_allclose(boxes[ids.tolist().index(2)], association.filter.boxes()[1])


def test_occe_code_output_needs_a_candidate_centre():
    """A lost track whose box holds a centre that lies in no tracked box is not output."""
    association = Association(settings(), SIZE)
    for t in range(3):
        association.step(
            *frame([20 + t, 50, 40, 40], [120 - t, 50, 40, 40]),
            embeddings(0, 90),
            Occlusion(np.zeros((0, 2)), output="code"),
        )
    ids, _, _ = association.step(
        *frame([23, 50, 40, 40]), embeddings(0), Occlusion(np.array([[130.0, 70.0]]), output="code")
    )
    assert ids.tolist() == [1]
