from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from fer_graph.evaluation import RunNotFoundError, load_model
from fer_graph.evaluation.cross import evaluate_run
from fer_graph.graphs.pose import head_pose
from fer_graph.graphs.synthetic import LandmarkSetGraphs, make_face_landmarks
from fer_graph.landmarks import mediapipe_source as ms
from fer_graph.training import TrainConfig, train


def _mesh_landmarks():
    """The LandmarkSet behind ``synthetic_mesh_graphs`` (same arguments, same seed)."""
    return make_face_landmarks(10, topology="mediapipe468", rng=1)


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_evaluate_on_the_training_dataset(mesh_run, synthetic_mesh_graphs, tmp_path):
    ds = synthetic_mesh_graphs
    m = evaluate_run(mesh_run, ds, tmp_path / "ev")
    assert m["absent_from_training"] == [] and m["n_unscorable"] == 0 and m["n"] == 70
    assert m["classes"] == ds.classes and sum(map(sum, m["confusion"])) == 70
    rows = _rows(tmp_path / "ev" / "predictions.csv")
    assert [r["sample_id"] for r in rows] == ds.sample_ids
    assert m["accuracy"] == pytest.approx(np.mean([r["y_true"] == r["y_pred"] for r in rows]))
    probs = load_model(mesh_run).predict_dataset(ds)  # the two-fold ensemble
    assert [r["y_pred"] for r in rows] == [ds.classes[i] for i in probs.argmax(1)]
    np.testing.assert_allclose([float(r["p_happiness"]) for r in rows], probs[:, 3], atol=1e-5)


def test_predict_landmarks_matches_the_dataset_path(mesh_run, synthetic_mesh_graphs):
    """Raw pixel landmarks, blendshapes and pose give the probabilities of the built graphs."""
    model = load_model(mesh_run)
    lms = _mesh_landmarks()
    assert lms.sample_ids == synthetic_mesh_graphs.sample_ids
    raw = model.predict_landmarks(lms.pixel_points(), blendshapes=lms.blendshapes,
                                  head_pose=head_pose(lms.transforms))
    np.testing.assert_allclose(raw, model.predict_dataset(synthetic_mesh_graphs), atol=1e-5)
    one = model.predict_landmarks(lms.pixel_points()[0], blendshapes=lms.blendshapes[:1])  # a single face
    np.testing.assert_allclose(one, raw[:1], atol=1e-5)


def test_bad_runs(tmp_path, mesh_run):
    with pytest.raises(RunNotFoundError, match="not a fer-graph run"):
        load_model(tmp_path / "missing")
    model = load_model(mesh_run)
    with pytest.raises(ValueError, match="468"):
        model.predict_landmarks(np.zeros((1, 68, 2)))
    with pytest.raises(ValueError, match="blendshapes"):
        model.predict_landmarks(_mesh_landmarks().pixel_points()[:1])


def test_evaluate_on_a_dataset_with_a_class_the_run_never_saw(mesh_run, tmp_path):
    lms = make_face_landmarks(2, topology="mediapipe468", classes=("contempt", "happiness", "sadness"), rng=7)
    ds = LandmarkSetGraphs(tmp_path / "o", lms, name="other")
    m = evaluate_run(mesh_run, ds, tmp_path / "ev")
    assert m["absent_from_training"] == ["contempt"] and m["n_unscorable"] == 2 and m["n"] == 4
    rows = _rows(tmp_path / "ev" / "predictions.csv")
    assert len(rows) == 6 and sorted(r["y_true"] for r in rows) == ["contempt"] * 2 + ["happiness"] * 2 + ["sadness"] * 2
    scored = [r for r in rows if r["y_true"] != "contempt"]
    assert m["accuracy"] == pytest.approx(np.mean([r["y_true"] == r["y_pred"] for r in scored]))
    assert all(r["y_pred"] != "contempt" for r in rows)  # the run cannot predict a class it never saw


def test_one_fold_model_and_backends(mesh_run, synthetic_mesh_graphs):
    ds = synthetic_mesh_graphs
    both = load_model(mesh_run)
    one = load_model(mesh_run, folds=[1])
    assert len(both.models) == 2 and len(one.models) == 1
    p_fast = one.predict_dataset(ds)
    p_pyg = load_model(mesh_run, folds=[1], backend="pyg").predict_dataset(ds)
    np.testing.assert_allclose(p_fast, p_pyg, atol=1e-5)
    p_zero = load_model(mesh_run, folds=[0]).predict_dataset(ds)
    np.testing.assert_allclose(both.predict_dataset(ds), (p_zero + p_fast) / 2, atol=1e-6)  # the ensemble mean
    assert not np.allclose(p_fast, p_zero)
    with pytest.raises(RunNotFoundError, match="folds"):
        load_model(mesh_run, folds=[5])


def test_evaluate_maps_labels_through_the_runs_label_scheme(synthetic_ibug_graphs, tmp_path):
    ds = synthetic_ibug_graphs
    run = tmp_path / "valence"
    train(ds, TrainConfig(arch="logreg", folds=2, labels="valence3"), run)
    m = evaluate_run(run, ds, tmp_path / "ev")
    assert m["classes"] == ["negative", "neutral", "positive"]
    assert m["n"] == 72 and m["n_unscorable"] == 0 and m["absent_from_training"] == []


def test_an_empty_fold_list_is_a_clear_error(mesh_run):
    with pytest.raises((RunNotFoundError, ValueError), match="folds"):
        load_model(mesh_run, folds=[])


class _StandInDetector:
    """Replaces the Face Landmarker: image ``k`` (its top-left pixel) has face ``k`` of ``FACES``, and face
    ``k + 1`` too when its second pixel is 2; a uniform image has no face."""

    FACES = make_face_landmarks(1, topology="mediapipe478", rng=4)
    created: list = []

    def __init__(self, model=None, **kwargs):
        self.created.append((model, kwargs["options"].num_faces))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def detect_all(self, image, tiles=False):
        if image.min() == image.max():
            return "no_face"
        k, n = int(image[0, 0]), 2 if image[0, 1] == 2 else 1
        f = self.FACES
        return [ms.FaceResult(f.points[i], f.blendshapes[i], f.transforms[i], 0, 0.5) for i in range(k, k + n)]


def test_predict_images_with_a_stand_in_detector(mesh_run, tmp_path, monkeypatch):
    monkeypatch.setattr(ms, "FaceLandmarkDetector", _StandInDetector)
    faces = _StandInDetector.FACES
    paths = []
    for k, n in ((2, 1), (0, 2), (5, 1)):
        pixels = np.full((192, 160), 100, np.uint8)
        pixels[0, :2] = k, n
        paths.append(tmp_path / f"face{k}.png")
        Image.fromarray(pixels).save(paths[-1])
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((192, 160), 128, np.uint8)).save(blank)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not an image")
    model = load_model(mesh_run)
    progress = []
    found = model.predict_images([paths[0], blank, paths[1], broken, paths[2]], model="m.task", max_faces=4,
                                 on_progress=lambda i, n: progress.append((i, n)))
    assert _StandInDetector.created[-1] == ("m.task", 4)
    assert [(f.input, f.face) for f in found.faces] == [(str(paths[0]), 0), (str(paths[1]), 0), (str(paths[1]), 1),
                                                        (str(paths[2]), 0)]
    assert [(s.path, s.reason) for s in found.skipped] == [(str(blank), "no_face"), (str(broken), "unreadable")]
    assert progress == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    idx = [2, 0, 1, 5]
    np.testing.assert_array_equal(np.stack([f.landmarks for f in found.faces]), faces.points[idx])
    x0, y0 = faces.points[2][:, 0].min() * 160, faces.points[2][:, 1].min() * 192
    assert found.faces[0].box[:2] == pytest.approx((x0, y0), abs=1e-3) and found.faces[0].size == (160, 192)
    # the same faces given as pixel landmarks (x W, y H, z W), with their blendshapes and head pose
    expected = model.predict_landmarks(faces.points[idx] * np.array([160, 192, 160], np.float32),
                                       blendshapes=faces.blendshapes[idx], head_pose=head_pose(faces.transforms[idx]))
    np.testing.assert_allclose(found.probs, expected, atol=1e-6)
    none = model.predict_images([blank])
    assert none.probs.shape == (0, 7) and none.faces == [] and none.skipped[0].reason == "no_face"


def test_predict_images_needs_a_mesh_run(ibug_runs):
    _, runs = ibug_runs
    with pytest.raises(ValueError, match="ibug68 landmarks"):  # apex+disp: a photo has no onset frame
        load_model(runs / "logreg").predict_images(["x.png"])


def test_an_apex_only_68_point_run_predicts_images_through_the_mesh_mapping(ibug_runs, tmp_path, monkeypatch):
    from fer_graph.landmarks import mesh_to_ibug68

    ds, _ = ibug_runs
    train(ds, TrainConfig(arch="logreg", folds=2, features="apex"), tmp_path / "apex")
    model = load_model(tmp_path / "apex")
    monkeypatch.setattr(ms, "FaceLandmarkDetector", _StandInDetector)
    pixels = np.full((192, 160), 100, np.uint8)
    pixels[0, :2] = 0, 2  # faces 0 and 1 of the stand-in detector
    Image.fromarray(pixels).save(tmp_path / "two.png")
    found = model.predict_images([tmp_path / "two.png"])
    mesh = _StandInDetector.FACES.points[:2] * np.array([160, 192, 160], np.float32)
    np.testing.assert_allclose(found.probs, model.predict_landmarks(mesh_to_ibug68(mesh)), atol=1e-6)
    assert found.probs.shape == (2, len(model.classes)) and len(found.faces) == 2


# ------------------------------------------------------------------------------- real Face Landmarker
@pytest.mark.mediapipe
@pytest.mark.data
def test_predict_one_ck48_image(ck48_graphs, ck48_subset, model_path, tmp_path):
    run = tmp_path / "run"
    train(ck48_graphs, TrainConfig(arch="gcn", epochs=2, folds=2, hidden=8, layers=1), run)
    model = load_model(run)
    image = sorted((ck48_subset / "happy").glob("*.png"))[0]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(blank)
    found = model.predict_images([image, blank], model=model_path)
    probs, skipped = found.probs, found.skipped
    assert probs.shape == (1, 3) and [f.input for f in found.faces] == [str(image)]
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert [(s.path, s.reason) for s in skipped] == [(str(blank), "no_face")]
    sample = ck48_graphs.sample_ids.index(f"happy/{image.name}")
    np.testing.assert_allclose(probs[0], model.predict_dataset(ck48_graphs)[sample], atol=1e-4)


def test_a_model_file_and_a_bundled_name_load_without_a_run_directory(mesh_run, synthetic_mesh_graphs):
    ds = synthetic_mesh_graphs
    from_file = load_model(mesh_run / "checkpoints" / "fold_01.pt")
    assert len(from_file.models) == 1 and from_file.source.endswith("fold_01.pt")
    np.testing.assert_allclose(from_file.predict_dataset(ds), load_model(mesh_run, folds=[1]).predict_dataset(ds),
                               atol=1e-6)
    with pytest.raises(ValueError, match="a model file holds one model"):
        load_model(mesh_run / "checkpoints" / "fold_01.pt", folds=[0])
    with pytest.raises(RunNotFoundError, match="bundled model name"):
        load_model("no-such-model")


def test_the_bundled_default_predicts_seven_classes_from_raw_landmarks():
    model = load_model()  # no run: the model that ships with the package
    assert model.source == "fer2013-gat" and model.topology.name == "mediapipe468" and model.dims == 3
    assert model.classes == ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    faces = make_face_landmarks(2, topology="mediapipe478", rng=2)  # 2 subjects x 7 classes
    probs = model.predict_landmarks(faces.points * np.float32(192), blendshapes=faces.blendshapes)
    assert probs.shape == (14, 7) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    # the same faces at another image scale: pose alignment removes scale, so the prediction is the same
    np.testing.assert_allclose(model.predict_landmarks(faces.points * np.float32(480), blendshapes=faces.blendshapes),
                               probs, atol=1e-4)
