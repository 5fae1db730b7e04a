"""``predict --visibility-model``: landmarks a visibility estimator calls hidden are removed before the
graph model classifies a face."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.cli import app
from fer_graph.evaluation.predictor import ExpressionModel, estimate_hidden
from fer_graph.occlusion.regions import get_region

runner = CliRunner()


class _Flag:
    """A stand-in estimator: calls the landmarks ``nodes`` hidden on every face."""

    def __init__(self, nodes=()):
        self.nodes = np.asarray(nodes, int)

    def predict_hidden(self, patches):
        assert patches.shape[1:] == (468, 50)
        out = np.zeros(patches.shape[:2], bool)
        out[:, self.nodes] = True
        return out


@pytest.mark.mediapipe
@pytest.mark.data
def test_hidden_landmarks_are_removed_before_classification(ck48_subset, model_path, tmp_path):
    images = sorted(ck48_subset.rglob("*.png"))[:3]
    em = ExpressionModel(onnx=False)  # the bundled model's PyTorch checkpoint
    plain = em.predict_images(images, model=model_path)
    none = em.predict_images(images, model=model_path, visibility=_Flag())
    mouth = em.predict_images(images, model=model_path, visibility=_Flag(get_region("mouth", "mediapipe468")))
    np.testing.assert_allclose(none.probs, plain.probs, atol=1e-6)  # nothing hidden: nothing changes
    assert all(f.hidden.sum() == 0 for f in none.faces) and all(f.hidden.sum() == 80 for f in mouth.faces)
    assert np.abs(mouth.probs - plain.probs).max() > 1e-3  # the mouth's landmarks were removed
    np.testing.assert_allclose(mouth.probs.sum(1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="PyTorch checkpoint"):
        ExpressionModel().predict_faces(mouth.faces)  # the ONNX export takes no node mask
    assert estimate_hidden([], _Flag(), 468) == []


@pytest.mark.mediapipe
@pytest.mark.data
def test_cli_predict_with_a_visibility_model(ck48_subset, model_path, tmp_path):
    from fer_graph.models.visibility import VisibilityConfig, VisibilityEstimator

    rng = np.random.default_rng(0)
    VisibilityEstimator(config=VisibilityConfig(epochs=1)).fit(
        rng.normal(size=(8, 468, 50)).astype(np.float32), rng.random((8, 468)) < 0.3).save(tmp_path / "vis" / "visibility.pt")
    image = sorted((ck48_subset / "happy").glob("*.png"))[0]
    out = tmp_path / "p.csv"
    res = runner.invoke(app, ["predict", str(image), "--model", str(model_path), "--visibility-model",
                              str(tmp_path / "vis"), "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)["predictions"]
    assert isinstance(row["hidden_landmarks"], int) and 0 <= row["hidden_landmarks"] <= 468
    (line,) = list(csv.DictReader(out.open()))
    assert int(line["hidden_landmarks"]) == row["hidden_landmarks"]
    plain = runner.invoke(app, ["predict", str(image), "--model", str(model_path), "--out", str(tmp_path / "q.csv")])
    assert plain.exit_code == 0 and list(csv.DictReader((tmp_path / "q.csv").open()))[0]["hidden_landmarks"] == ""
    bad = runner.invoke(app, ["predict", str(image), "--model", str(model_path), "--visibility-model",
                              str(tmp_path / "nothing")])
    assert bad.exit_code == 1 and "no visibility model" in bad.output
