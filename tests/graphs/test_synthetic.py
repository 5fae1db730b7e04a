"""Synthetic face landmarks and datasets: determinism, shapes, class signal, file round trips, training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_graph.graphs import synthetic as S
from fer_graph.graphs.pose import head_pose
from fer_graph.graphs.normalize import normalize_for_topology
from fer_graph.graphs.topology import topology_for_points
from fer_graph.landmarks.ck_lands import read_ck_lands
from fer_graph.landmarks.csv_source import read_landmark_csv
from fer_graph.landmarks.mediapipe_source import BLENDSHAPE_NAMES

ARRAYS = ("points", "onset", "blendshapes", "transforms", "image_sizes")


def _logreg_accuracy(lms) -> float:
    """Mean 4-fold subject-grouped accuracy of a logistic regression on flattened normalized x, y."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, _ = normalize_for_topology(lms.pixel_points(), topology_for_points(lms.num_points), dims=2)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(clf, x.reshape(len(x), -1), lms.labels, groups=lms.subjects,
                                 cv=GroupKFold(4)).mean())


@pytest.mark.parametrize("topology", S.SYNTHETIC_TOPOLOGIES)
def test_same_seed_same_arrays_other_seed_differs(topology):
    a = S.make_face_landmarks(3, topology=topology, rng=5)
    b = S.make_face_landmarks(3, topology=topology, rng=np.random.default_rng(5))
    c = S.make_face_landmarks(3, topology=topology, rng=6)
    for name in ARRAYS:
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None)
        if va is not None:
            np.testing.assert_array_equal(va, vb)
    assert a.sample_ids == b.sample_ids and a.labels == b.labels
    assert not np.allclose(a.points, c.points)
    assert S.landmarks_fingerprint(a) == S.landmarks_fingerprint(b) != S.landmarks_fingerprint(c)


def test_ibug68_shapes_units_ids():
    lms = S.make_face_landmarks(4, samples_per_class=2, frames=3, rng=0)
    assert len(lms) == 4 * 6 * 2 * 3
    assert lms.points.shape == lms.onset.shape == (144, 68, 2) and lms.points.dtype == np.float32
    assert lms.units == "pixels" and lms.source == "synthetic" and lms.splits is None
    assert lms.blendshapes is None and lms.transforms is None
    assert sorted(set(lms.labels)) == ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    assert sorted(set(lms.subjects)) == ["S001", "S002", "S003", "S004"]
    assert len(set(lms.sample_ids)) == len(lms) and lms.sample_ids[:3] == ["S001_001@1", "S001_001@2", "S001_001@3"]
    assert len(set(lms.sequence_ids)) == 4 * 6 * 2
    iod = np.linalg.norm(lms.points[:, 36:42].mean(1) - lms.points[:, 42:48].mean(1), axis=1)
    assert 150 < iod.min() and iod.max() < 330  # pixels, CK+ lands scale
    # the three frames of a sequence share one onset; the apex moves further from it than the first frame
    np.testing.assert_array_equal(lms.onset[0], lms.onset[2])
    assert np.abs(lms.points[2] - lms.onset[2]).mean() > np.abs(lms.points[0] - lms.onset[0]).mean()


@pytest.mark.parametrize("topology,v", [("mediapipe468", 468), ("mediapipe478", 478)])
def test_mesh_shapes_units_attributes(topology, v):
    lms = S.make_face_landmarks(3, topology=topology, image_size=(160, 120), rng=0)
    assert lms.points.shape == (21, v, 3) and lms.points.dtype == np.float32 and lms.onset is None
    assert lms.units == "image-normalized" and lms.image_sizes.dtype == np.int32
    assert (lms.image_sizes == (160, 120)).all()
    assert 0 < lms.points[..., :2].min() and lms.points[..., :2].max() < 1
    assert lms.blendshapes.shape == (21, 52) and lms.blendshapes.dtype == np.float32
    assert 0 <= lms.blendshapes.min() and lms.blendshapes.max() <= 1
    assert lms.transforms.shape == (21, 4, 4)
    pose = head_pose(lms.transforms)
    assert np.abs(pose).max() < 25 and np.abs(pose).std() > 0.5  # small pitch / yaw / roll, degrees
    assert len(set(lms.labels)) == 7 and "neutral" in lms.labels


def test_blendshapes_carry_class_signal():
    lms = S.make_face_landmarks(6, topology="mediapipe468", rng=0)
    labels = np.array(lms.labels)
    smile = lms.blendshapes[:, BLENDSHAPE_NAMES.index("mouthSmileLeft")]
    jaw = lms.blendshapes[:, BLENDSHAPE_NAMES.index("jawOpen")]
    assert smile[labels == "happiness"].mean() > smile[labels != "happiness"].mean() + 0.15
    assert jaw[labels == "surprise"].mean() > jaw[labels != "surprise"].mean() + 0.15
    flat = S.make_face_landmarks(6, topology="mediapipe468", class_sep=0, rng=0).blendshapes
    assert abs(flat[labels == "happiness"].mean() - flat[labels != "happiness"].mean()) < 0.02


def test_holdout_split_by_subject():
    lms = S.make_face_landmarks(8, topology="mediapipe468", split="holdout", rng=0)
    by_subject = {s: {sp for s2, sp in zip(lms.subjects, lms.splits) if s2 == s} for s in set(lms.subjects)}
    assert all(len(v) == 1 for v in by_subject.values())
    assert sorted(s for s, v in by_subject.items() if v == {"publictest"}) == ["S007", "S008"]


@pytest.mark.parametrize("kwargs,match", [
    ({"topology": "dlib5"}, "ibug68"), ({"classes": ("happy",)}, "happiness"),
    ({"classes": ("anger", "anger")}, "duplicates"), ({"split": "kfold"}, "holdout"),
    ({"frames": 0}, "frames"), ({"class_sep": -1.0}, "class_sep"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.make_face_landmarks(2, **kwargs)


def test_class_signal_is_learnable_but_not_trivial():
    # measured (seeds 0-2): ibug68 defaults 0.903 / 0.944 / 0.833, class_sep=0 0.19 / 0.15 / 0.14
    # (chance 1/6), noise=0.08 about 0.55; mediapipe468 defaults 0.857 / 0.774 / 0.833 (chance 1/7)
    default = [_logreg_accuracy(S.make_face_landmarks(12, rng=s)) for s in range(2)]
    assert min(default) > 0.7
    assert _logreg_accuracy(S.make_face_landmarks(12, topology="mediapipe468", rng=0)) > 0.65
    assert _logreg_accuracy(S.make_face_landmarks(12, class_sep=0.0, rng=0)) < 0.35
    assert _logreg_accuracy(S.make_face_landmarks(12, noise=0.08, rng=0)) < min(default) - 0.15


def test_write_ck_lands_round_trip(tmp_path):
    lms = S.make_face_landmarks(3, frames=2, rng=4)
    root = S.write_ck_lands(tmp_path / "CK+", lms)
    assert (root / "emotion.csv").read_text().splitlines()[:2] == ["subject;file;emotion", "S001;001;4"]
    back = read_ck_lands(root, apex_frames=2)
    np.testing.assert_array_equal(back.points, lms.points)
    np.testing.assert_array_equal(back.onset, lms.onset)
    assert back.labels == lms.labels and back.subjects == lms.subjects
    assert back.sample_ids == lms.sample_ids and back.sequence_ids == lms.sequence_ids
    with pytest.raises(ValueError, match="CK\\+ lands code"):
        S.write_ck_lands(tmp_path / "x", S.make_face_landmarks(1, classes=("neutral",)))
    with pytest.raises(ValueError, match="68, 2"):
        S.write_ck_lands(tmp_path / "y", S.make_face_landmarks(1, topology="mediapipe468"))


def test_write_landmark_csv_round_trip(tmp_path):
    lms = S.make_face_landmarks(2, topology="mediapipe468", split="holdout", rng=0)
    back = read_landmark_csv(S.write_landmark_csv(tmp_path / "px.csv", lms))
    np.testing.assert_array_equal(back.points, lms.pixel_points())
    assert back.labels == lms.labels and back.subjects == lms.subjects and back.splits == lms.splits
    raw = read_landmark_csv(S.write_landmark_csv(tmp_path / "n.csv", lms, pixels=False),
                            units="image-normalized", image_size=(192, 192))
    np.testing.assert_array_equal(raw.points, lms.points)


def test_cli_builds_synthetic_ck_lands_and_csv(tmp_path, synthetic_ck_lands):
    from typer.testing import CliRunner

    from fer_graph.cli import app

    runner = CliRunner()
    out = tmp_path / "ck"
    result = runner.invoke(app, ["build-graphs", "-s", "ck-lands", "--root", str(synthetic_ck_lands),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["graphs"] == 72 and summary["subjects"] == 12 and summary["nodes"] == 68
    assert set(summary["per_class"].values()) == {12}
    path = S.write_landmark_csv(tmp_path / "mesh.csv", S.make_face_landmarks(2, topology="mediapipe478", rng=0))
    result = runner.invoke(app, ["build-graphs", "-s", "csv", "--root", str(path), "--out", str(tmp_path / "csv")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "csv" / "summary.json").read_text())
    assert summary["graphs"] == 14 and summary["nodes"] == 468 and summary["source"] == "csv"


def test_landmark_set_graphs_meta_and_reload(tmp_path):
    from fer_graph.graphs.load import load_processed

    lms = S.make_face_landmarks(2, topology="mediapipe478", rng=0)
    ds = S.LandmarkSetGraphs(tmp_path, lms, include_z=True, include_iris=True)
    assert len(ds) == 14 and ds.meta["topology"] == "mediapipe478" and ds.meta["node_dims"] == 3
    assert ds.meta["source"] == "synthetic" and ds.build_seconds is not None
    assert {"blendshapes", "transform", "head_pose"} <= set(ds.meta["attributes"])
    assert ds[0].pos.shape == (478, 3) and ds.sample_ids == lms.sample_ids
    again = load_processed(tmp_path)
    assert len(again) == 14 and again.classes == ds.classes
    np.testing.assert_array_equal(again.tensor("pos").numpy(), ds.tensor("pos").numpy())
    assert S.LandmarkSetGraphs(tmp_path, lms, include_z=True, include_iris=True).build_seconds is None  # cached
    other = S.LandmarkSetGraphs(tmp_path, S.make_face_landmarks(2, topology="mediapipe478", rng=1),
                                include_z=True, include_iris=True)
    assert other.build_seconds is not None  # new arrays, new fingerprint: rebuilt


def test_fixtures_sizes(synthetic_ibug_graphs, synthetic_mesh_graphs, synthetic_mesh_holdout):
    assert len(synthetic_ibug_graphs) == 72 and synthetic_ibug_graphs.num_classes == 6
    assert "onset" in synthetic_ibug_graphs.meta["attributes"] and len(synthetic_ibug_graphs.subjects) == 12
    assert len(synthetic_mesh_graphs) == 70 and synthetic_mesh_graphs.num_classes == 7
    assert synthetic_mesh_graphs.meta["num_nodes"] == 468 and synthetic_mesh_graphs.splits == ["all"]
    assert synthetic_mesh_holdout.meta["per_split"] == {"publictest": 21, "train": 63}


def test_train_logreg_and_gat_on_synthetic(tmp_path, synthetic_ibug_graphs, synthetic_mesh_graphs):
    from fer_graph.training import TrainConfig, train

    m = train(synthetic_ibug_graphs, TrainConfig(arch="logreg", folds=3), tmp_path / "logreg")
    assert m["protocol"] == "subject-kfold" and m["features"] == "apex+disp"
    assert sum(f["n"] for f in m["per_fold"]) == 72 and m["accuracy_mean"] > 0.7
    m = train(synthetic_mesh_graphs, TrainConfig(arch="gat", folds=2, epochs=2, patience=2, hidden=16, layers=2),
              tmp_path / "gat")
    assert [f["n"] for f in m["per_fold"]] == [35, 35] and all(f["epochs"] == 2 for f in m["per_fold"])
    assert len(list((tmp_path / "gat" / "checkpoints").glob("fold_*.pt"))) == 2


def test_train_blendshape_rf_holdout(tmp_path, synthetic_mesh_holdout):
    from fer_graph.training import TrainConfig, train

    m = train(synthetic_mesh_holdout, TrainConfig(arch="blendshape-rf"), tmp_path / "rf")
    assert m["protocol"] == "holdout:train->publictest" and m["per_fold"][0]["n"] == 21
    assert m["accuracy_mean"] > 0.4  # chance 1/7


def test_frozen_canonical_face_matches_model(model_path):
    from fer_graph.graphs._canonical_face import read_canonical_face
    from fer_graph.graphs.canonical import CANONICAL_FACE_468

    np.testing.assert_allclose(np.asarray(CANONICAL_FACE_468), read_canonical_face(model_path), atol=0.0051)
