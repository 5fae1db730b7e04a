"""Face identities across frames: IoU matching, crossing faces, gaps, new faces."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.landmarks.tracks import FaceTracks, box_iou


def test_box_iou_by_hand():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]])
    # overlap 5x10 = 50, union 100 + 100 - 50 = 150
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_ids_follow_faces_that_swap_left_and_right_order():
    tracks = FaceTracks()
    # two faces passing each other 4 px a frame, one 30 px lower; the input lists faces left to right
    ids = []
    for t in range(30):
        a, b = (10 + 4 * t, 50, 40, 40), (130 - 4 * t, 80, 40, 40)
        order = sorted([("a", a), ("b", b)], key=lambda kv: kv[1][0])
        got = tracks.assign([box for _, box in order], t)
        ids.append({name: i for (name, _), i in zip(order, got)})
    assert all(d == {"a": 0, "b": 1} for d in ids)  # a stays 0 and b stays 1 after they cross (t > 15)


def test_a_short_gap_keeps_the_id_a_long_one_ends_the_track():
    tracks = FaceTracks(max_gap=3)
    box = (100, 100, 50, 50)
    assert tracks.assign([box], 0) == [0]
    assert tracks.assign([], 1) == []
    assert tracks.assign([box], 4) == [0]  # unseen for 3 frames: the same face
    assert tracks.assign([box], 9) == [1]  # unseen for 5 frames: a new track, the id is not reused
    assert tracks.assign([box, (300, 100, 50, 50)], 10) == [1, 2]


def test_a_far_jump_is_a_new_face():
    tracks = FaceTracks(min_iou=0.3)
    assert tracks.assign([(0, 0, 50, 50)], 0) == [0]
    assert tracks.assign([(40, 0, 50, 50)], 1) == [1]  # IoU 10*50 / (5000 - 500) = 0.11 < 0.3


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="min_iou"):
        FaceTracks(min_iou=0)
