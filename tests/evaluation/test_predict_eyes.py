"""Eye states in ``predict`` output and ``train-eye-state`` on real faces."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.cli import app
from fer_graph.landmarks.eyes import EYE_FEATURES, EYE_STATES
from fer_graph.models.eye_state import EyeStateModel

runner = CliRunner()


@pytest.mark.mediapipe
@pytest.mark.data
def test_predict_reports_both_eyes_in_json_and_csv(ck48_subset, model_path, tmp_path):
    res = runner.invoke(app, ["predict", str(ck48_subset), "--model", str(model_path), "--json",
                              "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["predictions"]
    assert len(rows) == 18
    for r in rows:
        assert set(r["eyes"]) == {"left", "right"}
        for e in r["eyes"].values():
            assert e["state"] in EYE_STATES and 0.0 <= e["score"] <= 3.0
    lines = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [(ln["left_eye"], float(ln["right_eye_score"])) for ln in lines] == \
        [(r["eyes"]["left"]["state"], r["eyes"]["right"]["score"]) for r in rows]
    # CK+48 apex frames of surprise open the eyes more than those of happiness (the default model's score)
    score = {lab: np.mean([(r["eyes"]["left"]["score"] + r["eyes"]["right"]["score"]) / 2 for r in rows
                           if f"/{lab}/" in r["input"]]) for lab in ("happy", "surprise")}
    assert score["surprise"] > score["happy"]


@pytest.mark.mediapipe
@pytest.mark.data
def test_predict_eye_model_option_is_used(ck48_subset, model_path, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, len(EYE_FEATURES)))
    two = EyeStateModel().fit(X, ["closed" if v < 0 else "open" for v in X[:, 1]])
    two.save(tmp_path / "two.json")
    image = next((ck48_subset / "happy").iterdir())
    res = runner.invoke(app, ["predict", str(image), "--model", str(model_path), "--json",
                              "--eye-model", str(tmp_path / "two.json")])
    assert res.exit_code == 0, res.output
    eyes = json.loads(res.output)["predictions"][0]["eyes"]
    assert {e["state"] for e in eyes.values()} <= {"closed", "open"}
    bad = runner.invoke(app, ["predict", str(image), "--model", str(model_path), "--eye-model", str(tmp_path / "no.json")])
    assert bad.exit_code == 1 and "no.json" in bad.output


@pytest.mark.mediapipe
@pytest.mark.data
def test_train_eye_state_on_state_folders(ck48_subset, model_path, tmp_path):
    root = tmp_path / "eyes"
    for expression, state in (("happy", "eye_narrowed"), ("surprise", "eye_wide"), ("sadness", "open")):
        shutil.copytree(ck48_subset / expression, root / state)
    res = runner.invoke(app, ["train-eye-state", "--root", str(root), "--out", str(tmp_path / "out"),
                              "--model", str(model_path), "--folds", "3"])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["faces"] == 18 and m["eyes_per_state"] == {"narrowed": 12, "open": 12, "wide": 12}
    assert m["cross_validation"]["n"] == 36 and sum(map(sum, m["cross_validation"]["confusion"])) == 36
    model = EyeStateModel.load(tmp_path / "out" / "eye_state.json")
    assert model.classes_ == ["narrowed", "open", "wide"]
    (root / "eye_blink").mkdir()
    shutil.copy(next((root / "open").iterdir()), root / "eye_blink" / "x.png")
    bad = runner.invoke(app, ["train-eye-state", "--root", str(root), "--out", str(tmp_path / "o2"),
                              "--model", str(model_path)])
    assert bad.exit_code == 1 and "eye_blink" in bad.output
