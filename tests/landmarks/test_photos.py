"""Faces in ordinary photos: the border is chosen from the image, every face is found (tiles for small
ones), and ``fer-graph predict`` writes a row per face. The photos are scikit-image's bundled
``data.astronaut()`` (Eileen Collins, NASA: public domain) and group pictures composed from it."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fer_graph.cli import app
from fer_graph.landmarks.mediapipe_source import DetectionOptions, FaceLandmarkDetector

skimage_data = pytest.importorskip("skimage.data")
runner = CliRunner()


def _group(width: int) -> tuple[np.ndarray, list[int]]:
    """Three copies of the astronaut's head (the middle one mirrored) on a (400, width) gray canvas, and
    the left edges of the three heads."""
    head = skimage_data.astronaut()[0:260, 110:340]
    canvas = np.full((400, width, 3), 90, np.uint8)
    xs = [int(x) for x in np.linspace(30, width - 260, 3)]
    for i, x in enumerate(xs):
        canvas[70:330, x:x + 230] = head[:, ::-1] if i == 1 else head
    return canvas, xs


def test_a_photo_gets_no_border_first_and_a_crop_keeps_it():
    det = FaceLandmarkDetector.__new__(FaceLandmarkDetector)  # borders() needs only the options
    det.options = DetectionOptions()
    assert det.borders(np.zeros((48, 48), np.uint8)) == (0.5,)
    assert det.borders(np.zeros((160, 900), np.uint8)) == (0.5,)
    assert det.borders(np.zeros((161, 200, 3), np.uint8)) == (0.0, 0.5)
    det.options = DetectionOptions(pad=0.0)
    assert det.borders(np.zeros((512, 512), np.uint8)) == (0.0,)


@pytest.mark.mediapipe
def test_the_astronaut_portrait_is_found_without_the_border(model_path):
    photo = skimage_data.astronaut()  # (512, 512, 3)
    with FaceLandmarkDetector(model_path, options=DetectionOptions(num_faces=10)) as det:
        (face,) = det.detect_all(photo)
    x, y, w, h = face.box(512, 512)
    assert face.pad == 0.0 and 150 < x + w / 2 < 260 and 80 < y + h / 2 < 200  # her face, upper left
    # the fixed 50% border of 48x48 crops, applied to this photo, loses the face
    with FaceLandmarkDetector(model_path, options=DetectionOptions(photo_side=10_000)) as det:
        assert det.detect(photo) == "no_face"


@pytest.mark.mediapipe
def test_tiles_find_every_face_of_a_wide_group_picture(model_path):
    canvas, xs = _group(1400)
    with FaceLandmarkDetector(model_path, options=DetectionOptions(num_faces=10)) as det:
        assert det.detect_all(canvas) == "no_face"  # faces of 1/15 of the width: too small whole-image
        faces = det.detect_all(canvas, tiles=True)
    assert len(faces) == 3
    for face, x in zip(faces, xs):  # left to right, each inside its head
        bx, by, bw, bh = face.box(1400, 400)
        assert x < bx + bw / 2 < x + 230 and 70 < by + bh / 2 < 330 and face.tier == 0


@pytest.mark.mediapipe
def test_predict_writes_a_row_per_face_and_per_skipped_input(model_path, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(skimage_data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(_group(900)[0]).save(folder / "group.jpg")
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(folder / "wall.png")
    out = tmp_path / "pred.csv"
    args = ["predict", str(folder), "--model", str(model_path), "--out", str(out), "--plot", str(tmp_path / "p.png")]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert [(r["input"].rsplit("/", 1)[1], r["face"]) for r in got["predictions"]] == [
        ("astronaut.png", 0), ("group.jpg", 0), ("group.jpg", 1), ("group.jpg", 2)]
    assert [(s["path"].rsplit("/", 1)[1], s["reason"]) for s in got["skipped"]] == [("wall.png", "no_face")]
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:9] == ["input", "frame", "time_s", "face", "x", "y", "w", "h", "label"]
    assert [r["face"] for r in rows] == ["0", "0", "1", "2", ""] and rows[-1]["skipped"] == "no_face"
    assert all(abs(sum(float(r[f"p_{c}"]) for c in got["classes"]) - 1) < 1e-3 for r in rows[:4])
    assert [r["border"] for r in rows[:4]] == ["0.0"] * 4
    # an existing output is never silently replaced
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "exists" in again.output
    # two detector processes give the same rows
    pooled = runner.invoke(app, [*args, "--force", "--workers", "2", "--json"])
    assert pooled.exit_code == 0, pooled.output
    assert json.loads(pooled.output)["predictions"] == got["predictions"]


@pytest.mark.mediapipe
def test_two_detectors_sharing_a_folder_give_the_rows_of_one(model_path, tmp_path):
    """Folders of more than 8 images are shared by this process and a worker process (chunks from both
    ends of the list): the same faces, probabilities and skips, in input order."""
    import fer_graph

    photo = skimage_data.astronaut()
    paths = []
    for i in range(21):  # 3 chunks of 8: the worker takes the front, this process the back
        path = tmp_path / f"p{i:02d}.jpg"
        crop = 16 * (i % 4)
        image = photo[crop:512 - crop, crop:512 - crop]
        Image.fromarray(np.zeros_like(image) + 128 if i == 13 else np.ascontiguousarray(image[:, ::-1] if i % 2 else image)).save(path)
        paths.append(path)
    model = fer_graph.load_model()
    one = model.predict_images(paths, model=model_path)
    two = model.predict_images(paths, model=model_path, workers=2)
    assert [f.input for f in two.faces] == [f.input for f in one.faces] == [str(p) for p in paths if p.stem != "p13"]
    assert [(s.path, s.reason) for s in two.skipped] == [(s.path, s.reason) for s in one.skipped]
    assert [s.reason for s in one.skipped] == ["no_face"]
    np.testing.assert_allclose(two.probs, one.probs, atol=1e-6)
