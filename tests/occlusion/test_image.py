"""Image-level occlusion: painting occluders on faces, re-detection on real CK+48 images, and the sweep rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.occlusion.image import MASK_COLOR, occluder_style, paint_occluder, save_occluder_gallery
from fer_graph.occlusion.regions import get_region


@pytest.fixture(scope="module")
def face():
    """A 48x48 gray face image (CK+48 size, no pixel 0, 203 or 255) and its 478 landmarks in pixels: a
    synthetic MediaPipe face scaled about its centre to CK+48's framing (IOD about 18 px)."""
    from fer_graph.graphs.synthetic import make_face_landmarks

    pts = make_face_landmarks(1, topology="mediapipe478", image_size=(48, 48), rng=0).points[0, :, :2] * 48
    centre = pts.mean(0)
    px = centre + (pts - centre) * 18.0 / _iod(pts)
    yy, xx = np.mgrid[0:48, 0:48] + 0.5
    inside = ((xx - centre[0]) / 17) ** 2 + ((yy - centre[1]) / 21) ** 2 < 1
    texture = (np.sin(xx / 2.0) * np.cos(yy / 3.0) * 20).astype(int)
    image = np.where(inside, 160, 90) + texture
    return image.astype(np.uint8), px


@pytest.fixture(scope="module")
def real_face(ck48_subset, model_path):
    """A real CK+48 image (48x48 gray) and its Face Landmarker landmarks in pixels, (478, 2)."""
    from fer_graph.landmarks._mediapipe_worker import load_image
    from fer_graph.landmarks.mediapipe_source import FaceLandmarkDetector

    image = load_image(str(sorted(ck48_subset.glob("happy/*.png"))[0]))
    with FaceLandmarkDetector(model_path) as det:
        found = det.detect(image)
    assert not isinstance(found, str)
    h, w = image.shape
    return image, found.landmarks[:, :2] * [w, h]


def _iod(px):
    from fer_graph.graphs.topology import MEDIAPIPE468 as T

    return float(np.linalg.norm(px[list(T.left_eye)].mean(0) - px[list(T.right_eye)].mean(0)))


def test_eye_band_blackens_the_eyes_and_nothing_far_away(face):
    _check_eye_band(*face)


@pytest.mark.mediapipe
@pytest.mark.data
def test_eye_band_on_a_real_detection(real_face):
    _check_eye_band(*real_face)


def _check_eye_band(image, px):
    before = image.copy()
    eyes = get_region("eyes", "mediapipe468")
    out = paint_occluder(image, px, eyes, margin=0.15, shape="band")
    np.testing.assert_array_equal(image, before)  # input untouched
    assert out.shape == image.shape and out.dtype == np.uint8 and out is not image
    from fer_graph.graphs.topology import MEDIAPIPE468 as T

    for eye in (T.left_eye, T.right_eye):  # eye centres are painted black
        cx, cy = px[list(eye)].mean(0)
        assert out[int(cy), int(cx)] == 0
    changed = out != image
    assert changed.sum() > 50 and (out[changed] == 0).all()
    # rows whose pixel centres lie well below the band (margin + 3 px for the band's tilt) are untouched
    bottom = px[eyes, 1].max() + 0.15 * _iod(px) + 3
    rows = np.arange(image.shape[0]) + 0.5 > bottom
    assert rows.sum() > 10 and not changed[rows].any()
    # a bigger margin paints a superset
    wider = paint_occluder(image, px, eyes, margin=0.5, shape="band") != image
    assert (wider | changed).sum() == wider.sum() > changed.sum()


def test_mask_colour_hull_and_rgb_images(face):
    image, px = face
    style = occluder_style("lower_face", "mediapipe468")
    assert style.label == "medical mask" and 195 in style.nodes  # reaches up to the nose bridge
    gray = paint_occluder(image, px, style.nodes, color=style.color, shape=style.shape)
    mx, my = px[[13, 14]].mean(0)  # between the lips
    assert gray[int(my), int(mx)] == 203  # the luma of MASK_COLOR
    rgb = np.repeat(image[..., None], 3, axis=2)
    painted = paint_occluder(rgb, px, style.nodes, color=style.color)
    assert tuple(painted[int(my), int(mx)]) == MASK_COLOR
    ex, ey = px[list(get_region("right_eye", "mediapipe468"))].mean(0)
    assert gray[int(ey), int(ex)] == image[int(ey), int(ex)]  # the mask leaves the eyes visible
    assert (paint_occluder(image, px, [1], color="white") != image).any()  # a single point: a disc


@pytest.mark.parametrize("kwargs, match", [
    (dict(nodes=[]), "empty"),
    (dict(nodes=[0, 500]), "indices"),
    (dict(nodes=[0.5, 2.0]), "indices"),
    (dict(shape="circle"), "shape"),
    (dict(margin=-0.1), "margin"),
    (dict(color=300), "color"),
    (dict(color="not-a-colour"), "color"),
])
def test_bad_inputs_raise(face, kwargs, match):
    image, px = face
    args = dict(nodes=get_region("mouth", "mediapipe468"))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        paint_occluder(image, px, args.pop("nodes"), **args)


def test_bad_images_and_landmarks_raise(face):
    image, px = face
    mouth = get_region("mouth", "mediapipe468")
    for bad in (image.astype(np.float32), image[..., None], np.zeros((0, 48), np.uint8)):
        with pytest.raises(ValueError, match="image"):
            paint_occluder(bad, px, mouth)
    with pytest.raises(ValueError, match="landmarks_px"):
        paint_occluder(image, px[:, :1], mouth)
    with pytest.raises(ValueError, match="NaN"):
        paint_occluder(image, np.where(np.arange(len(px))[:, None] == 3, np.nan, px), mouth)
    with pytest.raises(ValueError, match="iod"):  # no topology has 100 points: give the unit
        paint_occluder(image, px[:100], [1, 2, 3])
    assert (paint_occluder(image, px[:100], [1, 2, 3], iod=10.0) != image).any()


def test_gallery(face, tmp_path):
    import matplotlib.image as mpimg

    image, px = face
    path = save_occluder_gallery(image, px, ["eyes", "lower_face", "left_half"], tmp_path / "g" / "occ.png")
    assert path == tmp_path / "g" / "occ.png"
    img = mpimg.imread(path)[..., :3]
    assert img.shape == (220, 720, 3)  # 4 panels of 1.8 x 2.2 inches at 100 dpi
    panels = np.array_split(img[50:], 4, axis=1)  # below the titles (the top 20%)
    black = [int((p.max(-1) < 0.05).sum()) for p in panels]
    assert black[0] == 0 and black[1] > 100  # the clean face has no black pixel, the sunglasses do
    luma = 203 / 255  # a gray image takes the mask colour's luma
    assert [int((np.abs(p - luma).max(-1) < 0.003).sum()) > 100 for p in panels] == [False, False, True, False]


# ------------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def tiny_runs(ck48_graphs, tmp_path_factory):
    from fer_graph.training import TrainConfig, train

    tmp = tmp_path_factory.mktemp("image_runs")
    train(ck48_graphs, TrainConfig(arch="gat", epochs=2, folds=3, hidden=16, layers=2, batch_size=8), tmp / "gat")
    train(ck48_graphs, TrainConfig(arch="logreg", folds=3), tmp / "logreg")
    return ck48_graphs, tmp


def test_clean_redetection_reproduces_the_stored_graphs(tiny_runs, model_path):
    from fer_graph.evaluation.image_occlusion import OccludedDetections, _features
    from fer_graph.evaluation.occlusion import RunEvaluator

    ds, tmp = tiny_runs
    ev = RunEvaluator(tmp / "gat", ds)
    with OccludedDetections(ds, model_path=model_path) as det:
        k, te, _ = ev.folds[0]
        found = [det.get(int(ev.sample_index[p]), None) for p in te]
        assert all(r is not None and r.shift_iod < 1e-5 for r in found)
        x, ga, _ = _features(ev, found)
        np.testing.assert_allclose(x.numpy(), ev.x[te].numpy(), atol=1e-5)
        np.testing.assert_allclose(ga.numpy(), ev.graph_attr[te].numpy(), atol=1e-5)
        np.testing.assert_array_equal(ev.classify(k, x, ga), ev.classify(k, ev.x[te], ev.graph_attr[te]))


def test_pose_aligned_datasets_take_their_clean_landmarks_from_the_build(ck48_subset, tmp_path, model_path):
    from fer_graph.evaluation.image_occlusion import OccludedDetections
    from fer_graph.graphs.image_dataset import ImageFolderGraphs

    ds = ImageFolderGraphs(tmp_path / "pose", ck48_subset, model=model_path, workers=0, align="pose", include_z=True)
    with OccludedDetections(ds, model_path=model_path) as det:
        for i in (0, 7):
            clean = det.clean_landmarks(i)
            assert clean.shape == (468, 2) and np.median(clean) == pytest.approx(24, abs=6)  # pixels of a 48x48 image
            r = det.get(i, None)
            assert r.shift_iod < 1e-5  # the clean image re-detected lands on the build's landmarks
            np.testing.assert_allclose(r.pos, ds.tensor("pos")[i].numpy(), atol=1e-5)
            assert det.get(i, "mouth").region_shift_iod > 0.01


def test_image_occlusion_rows(tiny_runs, model_path):
    from fer_graph.evaluation.image_occlusion import OccludedDetections, image_occlusion_rows
    from fer_graph.evaluation.occlusion import RunEvaluator

    ds, tmp = tiny_runs
    regions = ["eyes", "lower_face"]
    with OccludedDetections(ds, model_path=model_path) as det:
        rows = image_occlusion_rows(RunEvaluator(tmp / "gat", ds), ds, regions, detections=det)
        detected_once = det.detections
        assert detected_once == len(regions) * len(ds)
        rows += image_occlusion_rows(RunEvaluator(tmp / "logreg", ds), ds, regions, detections=det)
        assert det.detections == detected_once  # the second run reuses every re-detection
    keys = {"model", "strategy", "region", "extent", "noise", "accuracy", "macro_f1", "n", "arch", "kind",
            "noise_region", "per_class_recall", "detected", "shift_iod", "region_shift_iod"}
    assert [(r["model"], r["region"], r["strategy"]) for r in rows] == [
        (m, reg, s) for m in ("gat", "logreg") for reg in regions for s in ("image", "image+oracle")]
    for r in rows:
        assert keys <= set(r) and r["noise"] == 0.0 and r["noise_region"] == "all"
        assert r["n"] == len(ds) and 0 <= r["detected"] <= r["n"]
        assert r["accuracy"] * r["n"] == pytest.approx(round(r["accuracy"] * r["n"]))  # k right of n
        assert r["extent"] == round(len(get_region(r["region"], ds.topology)) / 468, 4)
        assert (r["hidden_fraction"] == 0) == (r["strategy"] == "image")
    mask = next(r for r in rows if r["region"] == "lower_face")
    assert mask["detected"] > 0 and mask["region_shift_iod"] > 0.01 and mask["shift_iod"] > 0
    oracle = next(r for r in rows if r["region"] == "lower_face" and r["strategy"] == "image+oracle")
    # the medical mask covers most of the lower face's landmarks (and a margin around them)
    assert 0.6 * oracle["extent"] < oracle["hidden_fraction"] < 1.3 * oracle["extent"]
    assert oracle["detected"] == mask["detected"]  # same re-detections, other handling
    limited = image_occlusion_rows(RunEvaluator(tmp / "logreg", ds), ds, ["mouth"], model_path=model_path, limit=1)
    assert limited[0]["n"] == 3  # one image per fold


class _FlagRegion:
    """A stand-in visibility estimator that calls one region hidden on every face (or nothing)."""

    def __init__(self, region):
        self.region = region

    def predict_hidden(self, patches):
        out = np.zeros(patches.shape[:2], bool)
        if self.region:
            out[:, get_region(self.region, "mediapipe468")] = True
        return out


def test_image_occlusion_with_a_visibility_estimator(tiny_runs, model_path):
    from fer_graph.evaluation.image_occlusion import OccludedDetections, image_occlusion_rows
    from fer_graph.evaluation.occlusion import RunEvaluator, SweepError

    ds, tmp = tiny_runs
    ev = RunEvaluator(tmp / "gat", ds)
    with OccludedDetections(ds, model_path=model_path) as det:
        with pytest.raises(SweepError, match="patches"):
            image_occlusion_rows(ev, ds, ["mouth"], detections=det, visibility=_FlagRegion(None))
    with OccludedDetections(ds, model_path=model_path, patches=True) as det:
        nothing = image_occlusion_rows(ev, ds, ["mouth"], detections=det, visibility=_FlagRegion(None))
        mouth = image_occlusion_rows(ev, ds, ["mouth"], detections=det, visibility=_FlagRegion("mouth"))
        assert det.get(0, "mouth").patches.shape == (468, 50)
    assert [(r["region"], r["strategy"]) for r in nothing] == [
        ("none", "image+visibility"), ("mouth", "image"), ("mouth", "image+oracle"), ("mouth", "image+visibility")]
    clean, image, _, est = nothing
    assert clean["accuracy"] == clean["clean_accuracy"] and clean["hidden_fraction"] == 0  # nothing flagged
    assert est["accuracy"] == image["accuracy"]  # an estimator that flags nothing changes nothing
    flagged = mouth[3]
    assert flagged["hidden_fraction"] == pytest.approx(80 / 468) and mouth[0]["hidden_fraction"] == pytest.approx(80 / 468)


def test_cli_image_occlusion(tiny_runs, tmp_path, model_path, synthetic_ibug_graphs):
    from fer_graph.cli.app import app

    ds, tmp = tiny_runs
    out = tmp_path / "sweep"
    res = CliRunner().invoke(app, ["occlusion-sweep", "--run", str(tmp / "logreg"), "--data", ds.processed_dir,
                                   "--regions", "eyes,left_half", "--extents", "", "--noise", "",
                                   "--image-occlusion", "--image-limit", "2", "--model", str(model_path),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["logreg"]["region_accuracy_by_strategy"]["eyes"]) == {"masking", "imputation", "image",
                                                                            "image+oracle"}
    import matplotlib.image as mpimg

    assert mpimg.imread(out / "occluders.png").shape[:2] == (220, 540)  # clean, eyes, left_half panels
    assert mpimg.imread(out / "regions.png").shape[0] == round(3.2 * 4 * 110)  # masking, imputation, image, oracle
    assert "image" in (out / "sweep.csv").read_text()
    bad = CliRunner().invoke(app, ["occlusion-sweep", "--run", str(tmp / "logreg"), "--data",
                                   synthetic_ibug_graphs.processed_dir,
                                   "--image-occlusion", "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "mediapipe" in bad.output


def test_cli_sweep_with_a_visibility_model(tiny_runs, tmp_path, model_path):
    from fer_graph.cli.app import app
    from fer_graph.models.visibility import VisibilityConfig, VisibilityEstimator

    ds, tmp = tiny_runs
    rng = np.random.default_rng(0)
    est = VisibilityEstimator(config=VisibilityConfig(epochs=1)).fit(
        rng.normal(size=(8, 468, 50)).astype(np.float32), rng.random((8, 468)) < 0.2)
    est.save(tmp_path / "vis" / "visibility.pt")
    args = ["occlusion-sweep", "--run", str(tmp / "gat"), "--data", ds.processed_dir, "--regions", "mouth",
            "--extents", "", "--noise", "", "--image-limit", "1", "--model", str(model_path),
            "--visibility-model", str(tmp_path / "vis"), "--out", str(tmp_path / "sweep")]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 1 and "--image-occlusion" in bad.output
    res = CliRunner().invoke(app, [*args, "--image-occlusion"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "sweep" / "summary.json").read_text())["gat"]
    assert set(summary["region_accuracy_by_strategy"]["mouth"]) >= {"image", "image+visibility", "image+oracle"}
    assert set(summary["image_clean_accuracy_by_strategy"]) == {"image+visibility"}
    missing = CliRunner().invoke(app, [*args[:-4], "--visibility-model", str(tmp_path / "nope"), "--image-occlusion",
                                       "--out", str(tmp_path / "s2")])
    assert missing.exit_code == 1 and "no visibility model" in missing.output
