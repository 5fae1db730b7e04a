"""Video prediction: the per-frame CSV, temporal smoothing, the annotated video, camera-style reading."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.cli import app
from fer_graph.evaluation.predict_video import default_video_output, smooth_probabilities

runner = CliRunner()


def test_smoothing_weighs_the_past_by_elapsed_time():
    state: dict = {}
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(smooth_probabilities(state, 0, 0.0, a, 0.5), a)  # the first value passes
    w = 1 - math.exp(-0.1 / 0.5)
    np.testing.assert_allclose(smooth_probabilities(state, 0, 0.1, b, 0.5), [1 - w, w])
    np.testing.assert_allclose(smooth_probabilities(state, 1, 0.1, b, 0.5), b)  # each face has its own state
    np.testing.assert_allclose(smooth_probabilities({}, 0, 0.0, b, 0.0), b)  # 0 s: no smoothing
    assert str(default_video_output("/x/clip.mp4")) == "clip_predictions.csv"
    assert str(default_video_output(0)) == "camera0_predictions.csv"


def _clip(path, frames=30, fps=30):
    """The scikit-image astronaut (NASA, public domain) sliding across a 640x480 video."""
    cv2 = pytest.importorskip("cv2")
    data = pytest.importorskip("skimage.data")
    head = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[0:300, 80:380], (240, 240))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for i in range(frames):
        frame = np.full((480, 640, 3), 80, np.uint8)
        frame[120:360, 40 + 5 * i:280 + 5 * i] = head
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.mediapipe
def test_a_video_gives_a_row_per_frame_and_an_annotated_copy(model_path, tmp_path):
    import cv2

    clip = _clip(tmp_path / "clip.mp4")
    out, annotated = tmp_path / "clip.csv", tmp_path / "annotated.mp4"
    args = ["predict", str(clip), "--model", str(model_path), "--out", str(out), "--annotate", str(annotated)]
    result = runner.invoke(app, [*args, "--smooth", "0.5"])
    assert result.exit_code == 0, result.output
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["frame"]) for r in rows] == list(range(30))  # one face (or one no-face row) per frame
    assert [float(r["time_s"]) for r in rows] == pytest.approx([i / 30 for i in range(30)], abs=1e-3)
    faces = [r for r in rows if r["face"] == "0"]
    assert len(faces) >= 28 and all(r["skipped"] == "no_face" for r in rows if r["face"] == "")
    xs = [float(r["x"]) for r in faces]
    assert xs[-1] - xs[0] == pytest.approx(5 * (int(faces[-1]["frame"]) - int(faces[0]["frame"])), abs=8)  # tracked
    probs = np.array([[float(r[k]) for k in r if k.startswith("p_")] for r in faces])
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-3)
    cap = cv2.VideoCapture(str(annotated))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640
    cap.release()
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "exists" in again.output
    short = runner.invoke(app, [*args, "--force", "--max-frames", "5"])
    assert short.exit_code == 0, short.output
    assert len(out.read_text().splitlines()) == 6


def test_video_and_image_options_do_not_mix(tmp_path):
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    result = runner.invoke(app, ["predict", str(image), "--annotate", str(tmp_path / "a.mp4")])
    assert result.exit_code == 1 and "apply to videos and cameras" in result.output
    result = runner.invoke(app, ["predict"])
    assert result.exit_code == 1 and "--camera N" in result.output
    missing = runner.invoke(app, ["predict", "--camera", "7", "--max-frames", "1", "--out", str(tmp_path / "c.csv")])
    assert missing.exit_code == 1 and "camera 7: OpenCV cannot open it" in missing.output


@pytest.mark.mediapipe
def test_a_video_with_a_visibility_model_removes_what_each_frame_hides(model_path, tmp_path):
    from fer_graph.evaluation.predictor import ExpressionModel
    from fer_graph.occlusion.regions import get_region

    class Mouth:  # a stand-in estimator: the mouth is hidden in every frame
        def predict_hidden(self, patches):
            assert patches.shape[1:] == (468, 50)
            out = np.zeros(patches.shape[:2], bool)
            out[:, list(get_region("mouth", "mediapipe468"))] = True
            return out

    clip = _clip(tmp_path / "clip.mp4")
    em = ExpressionModel(onnx=False)
    plain = list(em.predict_video(clip, model=model_path, max_frames=4))
    hidden = list(em.predict_video(clip, model=model_path, max_frames=4, visibility=Mouth()))
    faces = [(f, p, q) for (_, fs, ps), (_, gs, qs) in zip(plain, hidden) for f, p, q in zip(gs, ps, qs)]
    assert faces and all(f.hidden.sum() == 80 for f, _, _ in faces)
    assert max(np.abs(p - q).max() for _, p, q in faces) > 1e-3  # the mouth's landmarks were removed
    np.testing.assert_allclose(np.stack([q for _, _, q in faces]).sum(1), 1.0, atol=1e-5)


@pytest.mark.mediapipe
def test_cli_video_with_a_visibility_model_reports_hidden_counts(model_path, tmp_path):
    from fer_graph.models.visibility import VisibilityConfig, VisibilityEstimator

    rng = np.random.default_rng(0)
    VisibilityEstimator(config=VisibilityConfig(epochs=1)).fit(
        rng.normal(size=(8, 468, 50)).astype(np.float32), rng.random((8, 468)) < 0.3).save(tmp_path / "vis" / "visibility.pt")
    clip, out = _clip(tmp_path / "clip.mp4"), tmp_path / "clip.csv"
    result = runner.invoke(app, ["predict", str(clip), "--model", str(model_path), "--out", str(out), "--max-frames", "3",
                                 "--visibility-model", str(tmp_path / "vis")])
    assert result.exit_code == 0, result.output
    with out.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["face"] != ""]
    assert rows and all(0 <= int(r["hidden_landmarks"]) <= 468 for r in rows)
