"""The occlusion study: the library function behind ``fer-graph occlusion-study`` (and ``make main``)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fer_graph.cli import app
from fer_graph.config import STUDY_MODEL_NAMES
from fer_graph.evaluation.study import STUDY_MODELS, study_configs


def test_study_models_and_configs():
    from fer_graph.models import list_models

    assert STUDY_MODEL_NAMES == ("gat", "gat_mask", "svm", "mlp", "logreg")
    assert {arch for arch, _ in STUDY_MODELS.values()} <= set(list_models())
    cfgs = study_configs(["gat", "gat_mask", "logreg"], mask_augment=0.3, epochs=7, folds=4, seed=2)
    assert cfgs["gat"].mask_augment == 0.0 and cfgs["gat_mask"].mask_augment == 0.3
    assert cfgs["gat_mask"].epochs == 7 and cfgs["logreg"].epochs != 7  # GNN settings only for GNNs
    assert {c.folds for c in cfgs.values()} == {4} and {c.seed for c in cfgs.values()} == {2}
    with pytest.raises(ValueError, match="unknown study models \\['resnet'\\]"):
        study_configs(["resnet"])


def test_occlusion_study_cli_trains_sweeps_and_reuses(tmp_path, synthetic_ibug_graphs):
    runner = CliRunner()
    out = tmp_path / "study"
    args = ["occlusion-study", "--data", synthetic_ibug_graphs.processed_dir, "--out", str(out), "--models",
            "gat_mask,logreg", "--epochs", "2", "--folds", "2", "--no-refit"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    summary = json.loads((out / "sweep" / "summary.json").read_text())
    assert list(summary)[:2] == ["gat_mask", "logreg"]
    table = (out / "occlusion.md").read_text()
    for name in ("gat_mask", "logreg"):
        m = json.loads((out / name / "metrics.json").read_text())
        assert f"| {name} | {m['accuracy_mean']:.3f} ± {m['accuracy_std']:.3f} |" in table
        assert summary[name]["clean_accuracy"] == pytest.approx(m["pooled"]["accuracy"], abs=1e-6)
    assert "| gat_mask (removal) |" in table and "| logreg (imputation) |" in table
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "gat_mask: reusing" in second.output and "logreg: reusing" in second.output
