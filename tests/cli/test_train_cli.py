from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.cli import app

runner = CliRunner()


@pytest.fixture
def built(tmp_path, ck_lands_small):
    out = tmp_path / "data"
    result = runner.invoke(app, ["build-graphs", "-s", "ck-lands", "--root", str(ck_lands_small), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_train_cli_writes_metrics(tmp_path, built):
    result = runner.invoke(app, ["train", "--data", str(built), "--arch", "logreg", "--folds", "2",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["arch"] == "logreg" and m["folds"] == 2 and m["protocol"] == "subject-kfold"
    assert m["features"] == "apex+disp" and m["n_samples"] == 24
    assert [f["fold"] for f in m["per_fold"]] == [0, 1] and sum(f["n"] for f in m["per_fold"]) == 24
    with (tmp_path / "run" / "predictions.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24 and len({r["sample_id"] for r in rows}) == 24
    # each fold's accuracy is the share of its rows predicted right, the mean their average
    for f in m["per_fold"]:
        mine = [r for r in rows if int(r["fold"]) == f["fold"]]
        assert f["accuracy"] == pytest.approx(np.mean([r["y_true"] == r["y_pred"] for r in mine]))
    assert m["accuracy_mean"] == pytest.approx(np.mean([f["accuracy"] for f in m["per_fold"]]))
    # two subjects per fold, never on both sides
    subjects = [{r["subject"] for r in rows if int(r["fold"]) == k} for k in (0, 1)]
    assert len(subjects[0]) == len(subjects[1]) == 2 and not subjects[0] & subjects[1]
    assert "accuracy" in result.output and f"{m['accuracy_mean']:.4f} ± {m['accuracy_std']:.4f}" in result.output
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["fold_00.skops", "fold_01.skops"]


def test_train_cli_errors(tmp_path, built):
    bad_arch = runner.invoke(app, ["train", "--data", str(built), "--arch", "resnet", "--out", str(tmp_path / "r")])
    assert bad_arch.exit_code == 1 and "expected one of" in bad_arch.output and "'gat'" in bad_arch.output
    bad_feat = runner.invoke(app, ["train", "--data", str(built), "--features", "apex+blendshapes",
                                   "--out", str(tmp_path / "r")])
    assert bad_feat.exit_code == 1 and "blendshapes" in bad_feat.output and "Traceback" not in bad_feat.output
    missing = runner.invoke(app, ["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")])
    assert missing.exit_code == 1 and "no processed dataset" in missing.output
    # fine-tuning from a model of other data, or from no file, fails before anything is written
    other = runner.invoke(app, ["train", "--data", str(built), "--arch", "gat", "--epochs", "1", "--folds", "2",
                                "--init-from", "fer2013-gat", "--out", str(tmp_path / "r")])
    assert other.exit_code == 1 and "fer2013_gat.pt: cannot initialise from this checkpoint: its topology is " \
        "mediapipe468, the data's ibug68" in " ".join(other.output.split())
    nofile = runner.invoke(app, ["train", "--data", str(built), "--arch", "gat", "--epochs", "1", "--folds", "2",
                                 "--init-from", str(tmp_path / "no.pt"), "--out", str(tmp_path / "r")])
    assert nofile.exit_code == 1 and "no.pt: checkpoint not found" in " ".join(nofile.output.split())
    assert not (tmp_path / "r" / "metrics.json").exists()


def test_predict_missing_run_is_clear(tmp_path, ck_lands_small):
    result = runner.invoke(app, ["predict", str(ck_lands_small / "emotion.csv"), "--run", str(tmp_path / "norun")])
    assert result.exit_code == 1 and "not a fer-graph run directory" in result.output
