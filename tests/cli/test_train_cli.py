from __future__ import annotations

import json

from typer.testing import CliRunner

from fer_graph.cli import app

runner = CliRunner()


def test_train_cli_writes_metrics(tmp_path, ck_lands_subset):
    out = tmp_path / "data"
    assert runner.invoke(app, ["build-graphs", "-s", "ck-lands", "--root", str(ck_lands_subset), "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["train", "--data", str(out), "--arch", "logreg", "--folds", "2",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["arch"] == "logreg" and m["folds"] == 2 and m["protocol"] == "subject-kfold"
    assert "accuracy" in result.output


def test_train_cli_errors(tmp_path, ck_lands_subset):
    out = tmp_path / "data"
    runner.invoke(app, ["build-graphs", "-s", "ck-lands", "--root", str(ck_lands_subset), "--out", str(out)])
    bad_arch = runner.invoke(app, ["train", "--data", str(out), "--arch", "resnet", "--out", str(tmp_path / "r")])
    assert bad_arch.exit_code == 1 and "expected one of" in bad_arch.output
    bad_feat = runner.invoke(app, ["train", "--data", str(out), "--features", "apex+blendshapes",
                                   "--out", str(tmp_path / "r")])
    assert bad_feat.exit_code == 1 and "blendshapes" in bad_feat.output and "Traceback" not in bad_feat.output
    missing = runner.invoke(app, ["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")])
    assert missing.exit_code == 1 and "no processed dataset" in missing.output


def test_predict_missing_run_is_clear(tmp_path, ck_lands_subset):
    result = runner.invoke(app, ["predict", str(ck_lands_subset / "emotion.csv"), "--run", str(tmp_path / "norun")])
    assert result.exit_code == 1 and "not a fer-graph run directory" in result.output
