from __future__ import annotations

import csv

import numpy as np
import pytest

from fer_graph.evaluation import predict_windows as pw
from fer_graph.evaluation.predictor import ExpressionModel, FaceRecord
from fer_graph.graphs import CKLandsGraphs
from fer_graph.graphs.synthetic import make_face_landmarks
from fer_graph.landmarks import mesh_to_ibug68, read_ck_lands_sequences
from fer_graph.training import TrainConfig, train


@pytest.fixture(scope="module")
def stgcn_run(tmp_path_factory, synthetic_ck_lands):
    """``(sequence dataset, run)``: a 2-fold ST-GCN (4 frames, width 8) on the synthetic CK+ lands sequences."""
    tmp = tmp_path_factory.mktemp("stgcn_run")
    seq = CKLandsGraphs(tmp / "seq", synthetic_ck_lands, sequence_frames=4)
    train(seq, TrainConfig(arch="stgcn", epochs=2, folds=2, hidden=8, layers=1, readout="flatten"), tmp / "run")
    return seq, tmp / "run"


def _record(track: int, frame: int, landmarks: np.ndarray | None = None) -> FaceRecord:
    pts = np.zeros((478, 3), np.float32) if landmarks is None else landmarks
    return FaceRecord("clip.mp4", track, (200, 100), (0, 0, 1, 1), pts, np.zeros(52, np.float32),
                      np.eye(4, dtype=np.float32), 0, 0.0, frame, frame / 10)


def test_sliding_windows_per_track():
    # track 0 in every frame, track 1 in frames 2..5; window 3, stride 2
    tracked = [(None, [_record(0, i)] + ([_record(1, i)] if 2 <= i <= 5 else [])) for i in range(7)]
    got = [(face, [r.frame for r in rs]) for face, rs in pw.sliding_windows(tracked, 3, 2)]
    assert got == [(0, [0, 1, 2]), (0, [2, 3, 4]), (1, [2, 3, 4]), (0, [4, 5, 6])]
    assert [rs[-1].frame for _, rs in pw.sliding_windows(tracked[:4], 2, 1) if _ == 0] == [1, 2, 3]
    with pytest.raises(ValueError, match="window"):
        list(pw.sliding_windows(tracked, 1, 1))


def test_predict_sequences_matches_the_sequence_dataset(stgcn_run, synthetic_ck_lands):
    ds, run = stgcn_run
    em = ExpressionModel(run)
    assert em.sequence_frames == 4
    by_id = {s.sequence_id: s.frames for s in read_ck_lands_sequences(synthetic_ck_lands) if s.label}
    raw = np.stack([by_id[i.split("@")[0]] for i in ds.sample_ids])  # (G, 2, 68, 2) pixels, onset and apex
    np.testing.assert_allclose(em.predict_sequences(raw), em.predict_dataset(ds), atol=1e-5)
    with pytest.raises(ValueError, match="sequence run"):
        em.predict_images(["x.png"])


def test_video_windows_csv(stgcn_run, tmp_path, monkeypatch):
    _, run = stgcn_run
    mesh = make_face_landmarks(1, topology="mediapipe478", rng=3).points[0]
    drift = np.linspace(0, 0.01, 6, dtype=np.float32)[:, None, None]
    frames = [(None, [_record(0, i, mesh + drift[i])]) for i in range(6)]
    monkeypatch.setattr(pw, "track_video", lambda *a, **k: iter(frames))
    result = pw.predict_video_windows("clip.mp4", run, out=tmp_path / "w.csv", window=4, stride=2)
    rows = list(csv.DictReader((tmp_path / "w.csv").open()))
    assert result["windows"] == 2 and [(r["start_frame"], r["end_frame"], r["frames"]) for r in rows] == [
        ("0", "3", "4"), ("2", "5", "4")]
    em = ExpressionModel(run)
    px = np.stack([f[1][0].pixel_landmarks() for f in frames])
    expected = em.predict_sequences(np.stack([px[0:4], px[2:6]]))
    got = np.array([[float(r[f"p_{c}"]) for c in em.classes] for r in rows])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert rows[0]["label"] == em.classes[int(expected[0].argmax())]
    # the mapped mesh is what a 68-point run reads
    np.testing.assert_allclose(em.predict_sequences(px[None, :4]), em.predict_sequences(mesh_to_ibug68(px[:4])[None]),
                               atol=1e-6)
    with pytest.raises(ValueError, match="exists"):
        pw.predict_video_windows("clip.mp4", run, out=tmp_path / "w.csv")
