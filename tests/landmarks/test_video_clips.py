"""Labelled video clips -> landmark sequences: the face followed, resampling onset to apex, skips, the scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_graph.exceptions import DatasetLayoutError
from fer_graph.landmarks import SkipRecord
from fer_graph.landmarks.mediapipe_source import FaceResult, ImageItem, scan_image_tree
from fer_graph.landmarks.video import Frame
from fer_graph.landmarks.video_clips import ClipTrack, clip_landmarks, follow_face

SIZE = (64, 48)  # frame (W, H) pixels


def _face(x0: float, side: float, value: float = 0.0) -> FaceResult:
    """A (478, 3) face spanning [x0, x0 + side] x [0.2, 0.2 + side] (image-normalized), blendshapes = ``value``."""
    u = np.linspace(0.0, 1.0, 478, dtype=np.float32)
    pts = np.stack([x0 + side * u, 0.2 + side * u[::-1], 0.01 * u], axis=1)
    return FaceResult(pts, np.full(52, value, np.float32), np.eye(4, dtype=np.float32) * (1 + value), 0, 0.0)


def _frames(faces_per_frame: list[list[tuple[int, FaceResult]]]):
    rgb = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    return [(Frame(i, i / 30, rgb), faces) for i, faces in enumerate(faces_per_frame)]


def test_follow_face_keeps_the_track_seen_most_then_the_larger():
    small, big = _face(0.1, 0.2), _face(0.5, 0.4)
    track = follow_face(_frames([[(0, small)], [(0, small), (1, big)], [], [(1, big)], [(1, big)]]))
    assert track.frame_indices == (1, 3, 4) and track.faces[0] is big
    assert track.size == SIZE and track.frames == 5
    tie = follow_face(_frames([[(0, small), (1, big)], [(0, small), (1, big)]]))
    assert tie.faces[0] is big  # as often seen: the larger face
    none = follow_face(_frames([[], []]))
    assert none.faces == () and none.frames == 2


def _item(tmp_path: Path, name: str, label: str = "happiness") -> ImageItem:
    return ImageItem(tmp_path / label / name, f"{label}/{name}", "clips", label,
                     *(("S010", "S010_004") if name.startswith("S010_004_") else (None, None)))


def test_clip_landmarks_resample_onset_to_apex_and_record_skips(tmp_path):
    faces = [_face(0.1 + 0.01 * k, 0.3, value=k / 10) for k in range(5)]
    good = ClipTrack(tuple(faces), (0, 2, 3, 5, 6), SIZE, 7)
    items = [_item(tmp_path, "S010_004_take.mp4"), _item(tmp_path, "alice.mp4", "surprise"),
             _item(tmp_path, "one.mp4"), _item(tmp_path, "empty.mp4"), _item(tmp_path, "bad.mp4")]
    tracks = [good, good, ClipTrack(tuple(faces[:1]), (3,), SIZE, 9), ClipTrack((), (), (0, 0), 0),
              SkipRecord(str(items[4].path), "unreadable", "bad.mp4: OpenCV cannot open it")]
    link = SkipRecord("x/broken.mp4", "broken_link", "")
    lms = clip_landmarks(items, tracks, frames=9, skipped=[link])
    assert len(lms) == 2 and lms.source == "mediapipe-video" and lms.units == "image-normalized"
    assert lms.frames.shape == (2, 9, 478, 3) and lms.points.shape == (2, 478, 3)
    np.testing.assert_allclose(lms.onset[0], faces[0].landmarks)
    np.testing.assert_allclose(lms.points[0], faces[-1].landmarks)  # the last detection is the apex
    np.testing.assert_allclose(lms.frames[0, 3], (faces[1].landmarks + faces[2].landmarks) / 2, atol=1e-6)
    np.testing.assert_allclose(lms.blendshapes[0], 0.4)  # the apex frame's attributes
    np.testing.assert_allclose(lms.transforms[0], np.eye(4) * 1.4, atol=1e-6)
    assert lms.subjects == ["S010", "alice"] and lms.labels == ["happiness", "surprise"]
    assert lms.sequence_ids == lms.sample_ids == ["happiness/S010_004_take.mp4", "surprise/alice.mp4"]
    assert lms.image_sizes.tolist() == [list(SIZE)] * 2
    assert [r.reason for r in lms.skipped] == ["broken_link", "too_few_frames", "unreadable", "unreadable"]
    assert "1 of 9 frames" in lms.skipped[1].detail and "empty.mp4" in lms.skipped[2].detail
    ends = clip_landmarks(items[:1], tracks[:1], frames=4, sampling="ends")
    np.testing.assert_allclose(ends.frames[0, [0, 1, 2, 3]], np.stack([f.landmarks for f in faces])[[0, 1, 3, 4]])
    with pytest.raises(ValueError, match="sequence_frames=1"):
        clip_landmarks(items[:1], tracks[:1], frames=1)
    with pytest.raises(ValueError, match="one track per clip"):
        clip_landmarks(items, tracks[:2], frames=4)


def test_all_clips_skipped_give_an_empty_set():
    lms = clip_landmarks([], [], frames=4)
    assert len(lms) == 0 and lms.frames.shape == (0, 4, 478, 3)


def test_video_scan_lists_clips_in_the_image_layouts(tmp_path):
    root = tmp_path / "clips"
    for rel in ("train/happiness/a.mp4", "train/happiness/b.MOV", "train/happiness/still.png",
                "test/sadness/S010_004_x.webm"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    scan = scan_image_tree(root, kind="video")
    assert [(i.sample_id, i.split, i.label, i.subject) for i in scan.items] == [
        ("test/sadness/S010_004_x.webm", "test", "sadness", "S010"),
        ("train/happiness/a.mp4", "train", "happiness", None), ("train/happiness/b.MOV", "train", "happiness", None)]
    assert [i.sample_id for i in scan_image_tree(root).items] == ["train/happiness/still.png"]
    (tmp_path / "none" / "happiness").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="no videos found"):
        scan_image_tree(tmp_path / "none", kind="video")
    with pytest.raises(ValueError, match="kind='audio'"):
        scan_image_tree(root, kind="audio")
