"""Tests of fer_graph.landmarks.mediapipe_source (MediaPipe Face Landmarker over image folders).

Never touch the network: the model and CK+48 images are the ones of ``tests/conftest.py`` (``MODEL``,
``CK48``). The cache and bookkeeping of extraction are tested with a stand-in detector, without either.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import numpy as np
import pooch
import pytest
from PIL import Image

from fer_graph.exceptions import DatasetLayoutError, ModelFileError, UnknownLabelError
from fer_graph.landmarks import mediapipe_source as ms
from fer_graph.landmarks.mediapipe_source import (
    BLENDSHAPE_NAMES,
    FACE_LANDMARKER_SHA256,
    FACE_LANDMARKER_URL,
    DetectionOptions,
    FaceLandmarkDetector,
    FaceResult,
    detection_rates,
    extract_image_folder,
    resolve_model_path,
    scan_image_folder,
)

from tests.conftest import CK48, MODEL, have

needs_model = pytest.mark.skipif(not have(MODEL),
                                 reason=f"model file absent: {MODEL or 'FER_GRAPH_FACE_LANDMARKER is empty'}")
needs_ck48 = pytest.mark.skipif(not have(CK48), reason=f"CK+48 absent: {CK48}")


def mediapipe_test(fn):
    """Mark a test as needing mediapipe, the local model file and CK+48 images."""
    return pytest.mark.mediapipe(needs_model(needs_ck48(fn)))


class ExplodingDetector:
    """Stands in for FaceLandmarkDetector where the cache must answer."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("the detector was created although every chunk should come from the cache")


def _png(path: Path, value: int = 128, size: tuple[int, int] = (48, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)
    return path


def _textured_png(path: Path, value: int, size: tuple[int, int] = (48, 40)) -> Path:
    """A non-uniform gray image whose mean is ``value`` (the stand-in detector finds a face in it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full(size[::-1], value, np.int16)
    pixels[::2] += 10
    pixels[1::2] -= 10
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


class StandInDetector:
    """Replaces the Face Landmarker in this process: no face in a uniform image, otherwise a face whose
    coordinates and blendshapes all equal the image's mean / 255 and whose tier is 1. Counts detections."""

    detections = 0

    def __init__(self, model=None, *, options=DetectionOptions()):
        self.model, self.options = model, options

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        pass

    def detect(self, image):
        type(self).detections += 1
        if image.min() == image.max():
            return "no_face"
        m = np.float32(image.mean() / 255)
        return FaceResult(np.full((478, 3), m, np.float32), np.full(52, m, np.float32),
                          np.eye(4, dtype=np.float32) * m, 1)


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """The stand-in detector in place of FaceLandmarkDetector, a stand-in model file and an image tree:
    happy/ 3 faces + a uniform image + a file that is no image, surprise/ 2 faces (40x48 pixels)."""
    monkeypatch.setattr(ms, "FaceLandmarkDetector", StandInDetector)
    StandInDetector.detections = 0
    model = tmp_path / "stand-in.task"
    model.write_bytes(b"stand-in model")
    root = tmp_path / "faces"
    for i, v in enumerate((60, 90, 120)):
        _textured_png(root / "happy" / f"S010_004_0000001{i}.png", v)
    _png(root / "happy" / "blank.png", 128, size=(48, 40))
    (root / "happy" / "x.png").write_bytes(b"\x89PNG garbage, not an image")
    for i, v in enumerate((150, 180)):
        _textured_png(root / "surprise" / f"S011_001_0000000{i}.png", v)
    return root, model


@pytest.fixture
def ck_root(tmp_path: Path) -> Path:
    """3 real CK+48 images for each of 2 labels, in a ``<root>/<label>/*`` tree."""
    root = tmp_path / "ck"
    for label in ("happy", "surprise"):
        (root / label).mkdir(parents=True)
        for src in sorted((CK48 / label).glob("*.png"))[:3]:
            shutil.copy(src, root / label / src.name)
    return root


# ------------------------------------------------------------------------------------------- module API
def test_all_names_import():
    module = importlib.import_module("fer_graph.landmarks.mediapipe_source")
    for name in module.__all__:
        assert hasattr(module, name), name


def test_constants():
    assert len(BLENDSHAPE_NAMES) == 52 == len(set(BLENDSHAPE_NAMES))
    assert len(FACE_LANDMARKER_SHA256) == 64 and FACE_LANDMARKER_URL.endswith("/face_landmarker.task")


# ---------------------------------------------------------------------------------------- model lookup
@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Empty fake user cache, no env var, and a pooch.retrieve that fails like an offline machine."""
    calls = []

    def offline(url, **kwargs):
        calls.append((url, kwargs))
        raise OSError("offline (test)")

    cache = tmp_path / "user-cache"
    monkeypatch.delenv(ms.MODEL_ENV_VAR, raising=False)
    monkeypatch.setattr(pooch, "os_cache", lambda project: cache / project)
    monkeypatch.setattr(pooch, "retrieve", offline)
    return cache / "fer-graph", calls


def test_model_argument_beats_env_var(no_network, monkeypatch, tmp_path):
    explicit, env = tmp_path / "a.task", tmp_path / "b.task"
    explicit.write_bytes(b"a")
    env.write_bytes(b"b")
    monkeypatch.setenv(ms.MODEL_ENV_VAR, str(env))
    assert resolve_model_path(explicit) == explicit
    assert resolve_model_path(str(explicit)) == explicit
    assert resolve_model_path() == env
    assert no_network[1] == []


def test_missing_explicit_model_is_named(no_network, monkeypatch, tmp_path):
    with pytest.raises(ModelFileError, match="nope.task"):
        resolve_model_path(tmp_path / "nope.task")
    monkeypatch.setenv(ms.MODEL_ENV_VAR, str(tmp_path / "gone.task"))
    with pytest.raises(ModelFileError, match=f"{ms.MODEL_ENV_VAR}.*gone.task"):
        resolve_model_path()


@needs_model
def test_verified_user_cache_is_used_without_download(no_network):
    cache, calls = no_network
    cache.mkdir(parents=True)
    shutil.copy(MODEL, cache / "face_landmarker.task")
    assert resolve_model_path() == cache / "face_landmarker.task"
    assert calls == []


def test_corrupt_cache_downloads_and_offline_says_how_to_fix(no_network):
    cache, calls = no_network
    cache.mkdir(parents=True)
    (cache / "face_landmarker.task").write_bytes(b"truncated")
    with pytest.raises(ModelFileError, match=ms.MODEL_ENV_VAR):
        resolve_model_path()
    [(url, kwargs)] = calls
    assert url == FACE_LANDMARKER_URL
    assert kwargs["known_hash"] == f"sha256:{FACE_LANDMARKER_SHA256}"
    assert Path(kwargs["path"]) == cache and kwargs["fname"] == "face_landmarker.task"


@pytest.mark.mediapipe
def test_invalid_model_file(tmp_path):
    pytest.importorskip("mediapipe")
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="bad.task"):
        FaceLandmarkDetector(bad)


# --------------------------------------------------------------------------------------------- options
def test_options_defaults_and_as_dict():
    opts = DetectionOptions(confidences=[0.5, 0.1])
    assert opts.confidences == (0.5, 0.1)
    assert opts.as_dict() == {"pad": 0.5, "pad_value": 128, "confidences": [0.5, 0.1], "num_faces": 2,
                              "duplicate_overlap": 0.5, "photo_side": 160, "tile_grids": [2, 3]}
    assert DetectionOptions().confidences == (0.5, 0.1, 0.01)


@pytest.mark.parametrize("kwargs", [
    {"pad": -0.1}, {"pad": float("nan")}, {"pad_value": 256}, {"pad_value": 1.5}, {"confidences": ()},
    {"confidences": (0.1, 0.5)}, {"confidences": (1.5,)}, {"num_faces": 0}, {"duplicate_overlap": 1.1},
    {"photo_side": -1}, {"photo_side": 1.5}, {"tile_grids": (1,)},
])
def test_options_reject_bad_values(kwargs):
    [(name, value)] = kwargs.items()
    with pytest.raises(ValueError, match=name):
        DetectionOptions(**kwargs)


# ------------------------------------------------------------------------------------------------ scan
def test_scan_split_layout(tmp_path):
    root = tmp_path / "fer"
    _png(root / "train" / "happy" / "S010_004_00000017.png")
    _png(root / "train" / "happy" / "b.PNG")
    _png(root / "train" / "Angry" / "x.png")
    _png(root / "publictest" / "sad" / "PublicTest_1.png")
    _png(root / "train" / "happy" / ".hidden.png")
    (root / "train" / "happy" / "notes.txt").write_text("x")
    (root / "SOURCE.md").write_text("x")
    items = scan_image_folder(root)
    assert [it.sample_id for it in items] == [
        "publictest/sad/PublicTest_1.png", "train/Angry/x.png", "train/happy/S010_004_00000017.png",
        "train/happy/b.PNG"]
    assert [(it.split, it.label) for it in items] == [
        ("publictest", "sadness"), ("train", "anger"), ("train", "happiness"), ("train", "happiness")]
    assert (items[2].subject, items[2].sequence) == ("S010", "S010_004")
    assert (items[3].subject, items[3].sequence) == (None, None)
    assert items[0].path == root / "publictest" / "sad" / "PublicTest_1.png"


def test_scan_label_layout_uses_root_name_as_split(tmp_path):
    root = tmp_path / "ck48"
    _png(root / "surprise" / "S005_001_00000011.png")
    _png(root / "anger" / "S010_004_00000017.png")
    (root / "SOURCE.md").write_text("x")
    items = scan_image_folder(root)
    assert [(it.sample_id, it.split, it.label, it.subject, it.sequence) for it in items] == [
        ("anger/S010_004_00000017.png", "ck48", "anger", "S010", "S010_004"),
        ("surprise/S005_001_00000011.png", "ck48", "surprise", "S005", "S005_001"),
    ]


def test_scan_unknown_label_names_folder(tmp_path):
    _png(tmp_path / "d" / "happpy" / "a.png")
    with pytest.raises(UnknownLabelError, match="happpy"):
        scan_image_folder(tmp_path / "d")


@pytest.mark.parametrize("make", [
    lambda root: root.mkdir(),
    lambda root: (root / "happy").mkdir(parents=True),
    lambda root: _png(root / "stray.png"),
    lambda root: (_png(root / "happy" / "a.png"), _png(root / "train" / "sad" / "b.png")),
], ids=["empty", "empty-label", "image-in-root", "mixed"])
def test_scan_bad_layouts_name_the_path(tmp_path, make):
    root = tmp_path / "dataset"
    make(root)
    with pytest.raises(DatasetLayoutError, match="dataset"):
        scan_image_folder(root)


# ----------------------------------------------------------------------------------------- detector
@mediapipe_test
def test_detect_converts_back_to_original_frame():
    """Padding inside detect() or by hand gives the same canvas, so the same face in two frames."""
    image = np.asarray(Image.open(sorted((CK48 / "happy").glob("*.png"))[0]))
    assert image.shape == (48, 48)
    prepadded = np.pad(image, 24, constant_values=128)  # what pad=0.5 builds
    with FaceLandmarkDetector(MODEL) as det, \
            FaceLandmarkDetector(MODEL, options=DetectionOptions(pad=0.0)) as det0:
        face = det.detect(image)
        face_rgb = det.detect(np.repeat(image[..., None], 3, axis=2))
        ref = det0.detect(prepadded)
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    assert face.blendshapes.shape == (52,) and face.transform.shape == (4, 4) and face.tier == 0
    expected = ref.landmarks.copy()
    expected[:, :2] = (expected[:, :2] * 96 - 24) / 48
    expected[:, 2] *= 2
    np.testing.assert_allclose(face.landmarks, expected, atol=1e-5)
    np.testing.assert_allclose(face_rgb.landmarks, face.landmarks, atol=1e-5)
    np.testing.assert_allclose(face.blendshapes, ref.blendshapes, atol=1e-6)


@mediapipe_test
def test_detect_rejects_bad_input_and_closes():
    det = FaceLandmarkDetector(MODEL)
    with pytest.raises(ValueError, match="uint8"):
        det.detect(np.zeros((48, 48), np.float32))
    with pytest.raises(ValueError, match="shape"):
        det.detect(np.zeros((48, 48, 4), np.uint8))
    det.close()
    det.close()
    with pytest.raises(RuntimeError, match="closed"):
        det.detect(np.zeros((48, 48), np.uint8))


@mediapipe_test
def test_blendshape_names_match_mediapipe():
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    image = np.asarray(Image.open(sorted((CK48 / "happy").glob("*.png"))[0]).convert("RGB"))
    canvas = np.ascontiguousarray(np.pad(image, ((24, 24), (24, 24), (0, 0)), constant_values=128))
    options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(MODEL)),
                                           output_face_blendshapes=True)
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=canvas))
    assert tuple(c.category_name for c in result.face_blendshapes[0]) == BLENDSHAPE_NAMES
    assert [c.index for c in result.face_blendshapes[0]] == list(range(52))


# --------------------------------------------------------------------------------------- extraction
@mediapipe_test
def test_extract_ck48_images(ck_root, tmp_path):
    progress = []
    ls = extract_image_folder(ck_root, cache_dir=tmp_path / "cache", model=MODEL, workers=0,
                              on_progress=lambda done, total: progress.append((done, total)))
    n = 6
    assert (ls.source, ls.units, len(ls), ls.skipped) == ("mediapipe", "image-normalized", n, [])
    assert ls.points.shape == (n, 478, 3) and ls.points.dtype == np.float32
    assert ls.blendshapes.shape == (n, 52) and ls.blendshapes.dtype == np.float32
    assert ((ls.blendshapes >= 0) & (ls.blendshapes <= 1)).all()
    assert ls.transforms.shape == (n, 4, 4) and ls.tiers.tolist() == [0] * n
    assert ls.image_sizes.tolist() == [[48, 48]] * n and ls.image_sizes.dtype == np.int32
    inside = ((ls.points[..., :2] >= 0) & (ls.points[..., :2] <= 1)).all(-1).mean()
    assert inside > 0.95
    assert ls.labels == ["happiness"] * 3 + ["surprise"] * 3
    assert ls.splits == ["ck"] * n
    assert all(s.startswith("S") for s in ls.subjects)
    assert ls.sequence_ids[0].startswith(ls.subjects[0] + "_")
    assert ls.sample_ids[0].startswith("happy/") and ls.sample_ids[0].endswith(".png")
    assert progress[0] == (0, n) and progress[-1] == (n, n) and len(progress) == n + 1
    assert detection_rates(scan_image_folder(ck_root), ls) == {"ck": 1.0}


@mediapipe_test
def test_unreadable_and_faceless_images_are_skipped(ck_root, tmp_path):
    (ck_root / "happy" / "x.png").write_bytes(b"\x89PNG garbage, not an image")
    _png(ck_root / "happy" / "blank.png", value=128)
    ls = extract_image_folder(ck_root, cache_dir=tmp_path / "cache", model=MODEL, workers=0)
    assert len(ls) == 6
    reasons = {Path(s.path).name: s.reason for s in ls.skipped}
    assert reasons == {"x.png": "unreadable", "blank.png": "no_face"}
    assert next(s for s in ls.skipped if s.reason == "unreadable").detail  # the Pillow error text
    rates = detection_rates(scan_image_folder(ck_root), ls)
    assert rates == {"ck": pytest.approx(6 / 8)}


def test_stand_in_extraction_keeps_order_labels_ids_and_skips(stand_in, tmp_path):
    root, model = stand_in
    progress = []
    ls = extract_image_folder(root, cache_dir=tmp_path / "cache", model=model, workers=0,
                              on_progress=lambda done, total: progress.append((done, total)))
    assert StandInDetector.detections == 6  # every readable image, the unreadable one never reaches it
    assert ls.sample_ids == ["happy/S010_004_00000010.png", "happy/S010_004_00000011.png",
                             "happy/S010_004_00000012.png", "surprise/S011_001_00000000.png",
                             "surprise/S011_001_00000001.png"]
    assert ls.labels == ["happiness"] * 3 + ["surprise"] * 2 and ls.splits == ["faces"] * 5
    assert ls.subjects == ["S010"] * 3 + ["S011"] * 2 and ls.sequence_ids == ["S010_004"] * 3 + ["S011_001"] * 2
    means = np.array([60, 90, 120, 150, 180], np.float32) / 255
    np.testing.assert_allclose(ls.points, np.broadcast_to(means[:, None, None], (5, 478, 3)), rtol=1e-6)
    np.testing.assert_allclose(ls.blendshapes, np.broadcast_to(means[:, None], (5, 52)), rtol=1e-6)
    np.testing.assert_allclose(ls.transforms[:, 0, 0], means, rtol=1e-6)
    assert ls.tiers.tolist() == [1] * 5 and ls.image_sizes.tolist() == [[48, 40]] * 5
    assert (ls.source, ls.units) == ("mediapipe", "image-normalized")
    reasons = {Path(sk.path).name: sk.reason for sk in ls.skipped}
    assert reasons == {"x.png": "unreadable", "blank.png": "no_face"}
    assert next(sk for sk in ls.skipped if sk.reason == "unreadable").detail  # the Pillow error text
    assert detection_rates(scan_image_folder(root), ls) == {"faces": pytest.approx(5 / 7)}
    assert progress[0] == (0, 7) and progress[-1] == (7, 7) and len(progress) == 8


def test_rerun_reads_cache_only(stand_in, tmp_path, monkeypatch):
    root, model = stand_in
    cache = tmp_path / "cache"
    first = extract_image_folder(root, cache_dir=cache, model=model, workers=0)
    monkeypatch.setattr(ms, "FaceLandmarkDetector", ExplodingDetector)
    progress = []
    again = extract_image_folder(root, cache_dir=cache, model=model, workers=0,
                                 on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(7, 7)]
    for name in ("points", "blendshapes", "transforms", "image_sizes", "tiers"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    assert (again.sample_ids, again.labels, again.skipped) == (first.sample_ids, first.labels, first.skipped)


def test_resume_redoes_only_missing_chunks(stand_in, tmp_path):
    root, model = stand_in
    cache = tmp_path / "cache"
    first = extract_image_folder(root, cache_dir=cache, model=model, workers=0)
    chunks = sorted(cache.glob("mediapipe-*/chunk-*.npz"))
    assert len(chunks) == 2  # one per label folder
    by_size = {}
    for c in chunks:
        with np.load(c) as z:
            by_size[len(z["sample_ids"])] = c
    assert sorted(by_size) == [2, 5]
    by_size[2].unlink()  # as if the run had been killed before writing the surprise chunk
    StandInDetector.detections = 0
    again = extract_image_folder(root, cache_dir=cache, model=model, workers=0)
    assert StandInDetector.detections == 2
    np.testing.assert_array_equal(again.points, first.points)
    assert again.sample_ids == first.sample_ids and again.skipped == first.skipped


def test_changed_options_model_or_images_do_not_reuse_cache(stand_in, tmp_path, monkeypatch):
    root, model = stand_in
    cache = tmp_path / "cache"
    extract_image_folder(root, cache_dir=cache, model=model, workers=0)
    monkeypatch.setattr(ms, "FaceLandmarkDetector", ExplodingDetector)
    extract_image_folder(root, cache_dir=cache, model=model, workers=0)  # unchanged: all from the cache
    with pytest.raises(AssertionError, match="cache"):
        extract_image_folder(root, cache_dir=cache, model=model, workers=0, options=DetectionOptions(pad=0.4))
    other = tmp_path / "other.task"
    other.write_bytes(b"another model")
    with pytest.raises(AssertionError, match="cache"):
        extract_image_folder(root, cache_dir=cache, model=other, workers=0)
    image = next((root / "surprise").glob("*.png"))
    os.utime(image, ns=(0, 0))  # same bytes, new mtime: that folder's chunk is stale
    with pytest.raises(AssertionError, match="cache"):
        extract_image_folder(root, cache_dir=cache, model=model, workers=0)
    assert len(list(cache.glob("mediapipe-*"))) == 3  # one cache folder per (options, model)


@mediapipe_test
def test_process_pool_matches_in_process(ck_root, tmp_path, monkeypatch):
    ref = extract_image_folder(ck_root, cache_dir=tmp_path / "a", model=MODEL, workers=0)
    monkeypatch.setattr(ms, "FaceLandmarkDetector", ExplodingDetector)  # only the workers may detect
    progress = []
    pooled = extract_image_folder(ck_root, cache_dir=tmp_path / "b", model=MODEL, workers=2,
                                  on_progress=lambda done, total: progress.append((done, total)))
    np.testing.assert_allclose(pooled.points, ref.points, atol=1e-6)
    np.testing.assert_allclose(pooled.blendshapes, ref.blendshapes, atol=1e-6)
    assert pooled.sample_ids == ref.sample_ids
    assert sorted(progress) == progress and progress[-1] == (6, 6)


def test_negative_workers_rejected(tmp_path):
    with pytest.raises(ValueError, match="workers"):
        extract_image_folder(tmp_path, cache_dir=tmp_path / "cache", workers=-1)


def test_box_overlap_treats_a_phantom_inside_the_face_as_a_duplicate():
    from fer_graph.landmarks.mediapipe_source import _box_overlap

    face = np.array([[0.0, 0.0], [10.0, 10.0]])
    phantom = np.array([[2.0, 2.0], [5.0, 6.0]])  # small box inside: IoU 0.12, overlap 1.0
    assert _box_overlap(face, phantom) == 1.0
    assert _box_overlap(face, np.array([[20.0, 20.0], [30.0, 30.0]])) == 0.0
    assert _box_overlap(face, np.array([[5.0, 0.0], [15.0, 10.0]])) == 0.5
