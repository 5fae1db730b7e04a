"""``fer-graph models`` and ``fer-graph predict`` without ``--run``: the models that ship with the package."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fer_graph.cli import app

runner = CliRunner()


def test_models_lists_the_bundled_default_with_its_card_fields():
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.output)
    assert record["name"] == "fer2013-gat" and record["default"] is True
    assert record["classes"] == ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    assert (record["topology"], record["node_dims"], record["features"]) == ("mediapipe468", 3, "apex+blendshapes")
    path, card = Path(record["path"]), Path(record["card"]).read_text()
    assert record["size_bytes"] == path.stat().st_size
    assert hashlib.sha256(path.read_bytes()).hexdigest() in card
    ev = record["evaluation"]  # the JSON card and the Markdown card state the same scores
    for key in ("accuracy_detected_faces", "accuracy_all_images", "macro_f1"):
        assert f"{ev[key]:.3f}" in card
    assert "research" in record["licence"]
    table = runner.invoke(app, ["models"])
    assert table.exit_code == 0 and "fer2013-gat (default of fer-graph predict)" in table.output
    shown = runner.invoke(app, ["models", "fer2013-gat"])
    assert shown.exit_code == 0 and shown.output.startswith("# Model card: `fer2013-gat`")


def test_an_unknown_model_name_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["models", "nope"])
    assert result.exit_code == 1 and "'nope': no such bundled model" in result.output
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    result = runner.invoke(app, ["predict", str(image), "--run", "nope"])
    assert result.exit_code == 1 and "bundled model name (fer2013-gat)" in " ".join(result.output.split())


@pytest.mark.mediapipe
@pytest.mark.data
def test_predict_a_photo_with_no_run_uses_the_bundled_model(ck48_subset, model_path):
    image = sorted((ck48_subset / "happy").glob("*.png"))[0]
    result = runner.invoke(app, ["predict", str(image), "--model", str(model_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    (row,) = out["predictions"]
    assert out["classes"] == ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert row["label"] == "happiness"  # a CK+ apex smile


def test_export_writes_an_onnx_model_that_loads_and_refuses_to_overwrite(tmp_path):
    pytest.importorskip("onnx")
    from fer_graph.models.estimator import load_classifier

    out = tmp_path / "gat.onnx"
    result = runner.invoke(app, ["export", "fer2013-gat", "--out", str(out)])
    assert result.exit_code == 0, result.output
    clf, meta = load_classifier(out)
    assert clf.suffix == ".onnx" and meta["members"] == 2 and clf.classes_[0] == "anger"
    again = runner.invoke(app, ["export", "fer2013-gat", "--out", str(out)])
    assert again.exit_code == 1 and "exists; pass --force" in again.output
    assert runner.invoke(app, ["export", "fer2013-gat", "--out", str(out), "--force"]).exit_code == 0
    missing = runner.invoke(app, ["export", str(tmp_path / "none.pt"), "--out", str(tmp_path / "n.onnx")])
    assert missing.exit_code == 1 and "none.pt" in missing.output
