"""Sequence datasets from video clips: layout and meta of the CK+ lands sequence datasets, normalization as
the image datasets', skips; the Face Landmarker replaced by synthetic detections, and once for real."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fer_graph.graphs.build import build_graphs
from fer_graph.graphs.features import FeatureSpec
from fer_graph.graphs.normalize import normalize_for_topology
from fer_graph.graphs.topology import get_topology
from fer_graph.graphs.video_dataset import VideoFolderGraphs
from fer_graph.landmarks import video_clips
from fer_graph.landmarks.mediapipe_source import FaceResult
from fer_graph.landmarks.video import Frame, VideoReadError

from ..conftest import CK48

SIZE = (160, 120)  # frame (W, H) pixels


@pytest.fixture
def fake_clips(tmp_path, monkeypatch):
    """A clip tree of 8 clips (4 subjects x happiness / surprise, 3 synthetic detections each), one clip with
    a face in a single frame and one OpenCV cannot open; the tracker replaced by their detections."""
    from fer_graph.graphs.synthetic import make_face_landmarks

    lms = make_face_landmarks(4, topology="mediapipe478", classes=["happiness", "surprise"], frames=3, rng=0)
    root, detections = tmp_path / "clips", {}
    for k in range(0, len(lms), 3):
        path = root / lms.labels[k] / f"{lms.sequence_ids[k]}_take.mp4"
        detections[path.name] = [lms.points[k + i] for i in range(3)]
    detections["S099_001_take.mp4"] = [lms.points[0]]
    for name in [*detections, "S098_001_take.mp4"]:
        label = "surprise" if name.startswith("S099") else next(
            (lab for k, lab in enumerate(lms.labels) if name.startswith(lms.sequence_ids[k])), "happiness")
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / name).write_bytes(b"\0")
    rgb = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)

    def track(path, **_):
        if path.name not in detections:
            raise VideoReadError(f"{path}: OpenCV cannot open it as a video")
        for i, pts in enumerate(detections[path.name] + [None]):  # a last frame without a face
            found = [] if pts is None else [(0, FaceResult(pts, np.full(52, i / 4, np.float32), np.eye(4), 0, 0.0))]
            yield Frame(i, i / 25, rgb), found

    monkeypatch.setattr(video_clips, "track_faces", track)
    model = tmp_path / "face_landmarker.task"
    model.write_bytes(b"not read: the tracker is replaced")
    return root, model, lms


def test_video_sequences_are_laid_out_as_ck_lands_sequences(tmp_path, fake_clips):
    root, model, lms = fake_clips
    ds, summary = build_graphs("mediapipe", root, tmp_path / "seq", sequences=5, model=model)
    assert isinstance(ds, VideoFolderGraphs) and ds.meta["source"] == "mediapipe-video"
    opts = ds.meta["options"]
    assert opts["sequence_frames"] == 5 and opts["frame_sampling"] == "uniform" and opts["align"] == "pose"
    assert len(ds) == 8 and ds.meta["topology"] == "mediapipe468" and ds.meta["node_dims"] == 3
    frames = ds.tensor("frames")
    assert frames.shape == (8, 468, 5, 3)
    torch.testing.assert_close(frames[:, :, 0], ds.tensor("onset"))
    torch.testing.assert_close(frames[:, :, -1], ds.tensor("pos"))
    # the apex normalized exactly as an image dataset normalizes a face: pixels, then pose alignment
    first = ds.sample_ids.index("happiness/S001_001_take.mp4")
    px = lms.points[2] * np.array([SIZE[0], SIZE[1], SIZE[0]], np.float32)
    want = normalize_for_topology(px[None], get_topology("mediapipe468"), dims=3, align="pose")[0][0]
    np.testing.assert_allclose(ds[first].pos.numpy(), want, atol=1e-5)
    torch.testing.assert_close(ds[first].blendshapes, torch.full((1, 52), 0.5))  # the apex frame's
    x = FeatureSpec.parse("seq").node_features(ds)
    assert x.shape == (8, 468, 5 * 6)
    assert ds.subjects == ["S001", "S002", "S003", "S004"] and ds.classes == ["happiness", "surprise"]
    assert summary["skipped"] == {"too_few_frames": 1, "unreadable": 1}
    assert summary["attempted_per_split"] == {"clips": 10} and summary["extraction"]["frames_with_face"] == 8 * 3 + 1
    skipped = (tmp_path / "seq" / "skipped.csv").read_text()
    assert "S098_001_take.mp4,unreadable" in skipped and "S099_001_take.mp4,too_few_frames" in skipped
    flat = build_graphs("mediapipe", root, tmp_path / "flat", sequences=4, model=model, align=True,
                        include_z=False, frame_sampling="ends")[0]
    assert flat.tensor("frames").shape == (8, 468, 4, 2) and flat.meta["options"]["frame_sampling"] == "ends"


def test_stgcn_trains_on_a_video_sequence_dataset(tmp_path, fake_clips):
    from fer_graph.config import TrainConfig
    from fer_graph.training import train

    root, model, _ = fake_clips
    ds = build_graphs("mediapipe", root, tmp_path / "seq", sequences=3, model=model)[0]
    m = train(ds, TrainConfig(arch="stgcn", epochs=2, folds=2, hidden=8, layers=1, batch_size=4), tmp_path / "st")
    assert m["features"] == "seq" and m["n_samples"] == 8


def test_bad_video_sequence_builds(tmp_path, fake_clips):
    root, model, _ = fake_clips
    with pytest.raises(ValueError, match="ibug68"):
        build_graphs("mediapipe", root, tmp_path / "x", sequences=4, model=model, ibug68=True)
    with pytest.raises(ValueError, match="frame_sampling='middle'"):
        build_graphs("mediapipe", root, tmp_path / "x", sequences=4, model=model, frame_sampling="middle")
    with pytest.raises(FileNotFoundError, match="video folder not found"):
        VideoFolderGraphs(tmp_path / "x", tmp_path / "nowhere", sequence_frames=4, model=model)


def _clip(path, image, shifts):
    """An mp4v clip of ``image`` (BGR) on a gray canvas, moved by ``shifts`` pixels frame after frame."""
    import cv2

    h, w = image.shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w + 16, h + 16))
    for dx in shifts:
        canvas = np.full((h + 16, w + 16, 3), 128, np.uint8)
        canvas[8:8 + h, 8 + dx:8 + dx + w] = image
        writer.write(canvas)
    writer.release()
    return path


@pytest.mark.mediapipe
def test_a_real_clip_becomes_a_sequence_and_a_corrupt_one_a_skip(tmp_path, model_path):
    import cv2

    if not CK48.is_dir():
        pytest.skip(f"real data not available: {CK48}")
    face = sorted((CK48 / "happy").glob("*.png"))[-1]  # the last frame of a sequence: the apex
    image = cv2.resize(cv2.imread(str(face)), (256, 256), interpolation=cv2.INTER_CUBIC)
    _clip(tmp_path / "clips" / "happy" / face.with_suffix(".mp4").name, image, [0, 1, 2, 3, 4, 5])
    (tmp_path / "clips" / "happy" / "broken.mp4").write_bytes(b"not a video" * 100)
    from typer.testing import CliRunner

    from fer_graph.cli import app
    from fer_graph.graphs.load import load_processed

    result = CliRunner().invoke(app, ["build-graphs", "--source", "mediapipe", "--root", str(tmp_path / "clips"),
                                      "--out", str(tmp_path / "seq"), "--sequences", "--frames", "4",
                                      "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    assert "mediapipe-video: 1 graphs" in result.output and "unreadable 1" in result.output
    ds, summary = load_processed(tmp_path / "seq"), json.loads((tmp_path / "seq" / "summary.json").read_text())
    assert len(ds) == 1 and ds.classes == ["happiness"] and ds.meta["options"]["sequence_frames"] == 4
    assert ds.tensor("frames").shape == (1, 468, 4, 3) and ds[0].pos.shape == (468, 3)
    assert FeatureSpec.parse("seq").node_features(ds).shape == (1, 468, 4 * 6)
    assert ds.subjects == [face.name.split("_")[0]] and ds.meta["extraction"]["frames"] == 6
    skip = ds.meta["skipped"]
    assert [r["reason"] for r in skip] == ["unreadable"] and "broken.mp4" in skip[0]["detail"]
    assert summary["skipped"] == {"unreadable": 1}
