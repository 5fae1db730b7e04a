"""``fer-graph train-visibility`` on a small real CK+48 tree (Face Landmarker re-detection)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.cli.app import app
from fer_graph.models.visibility import VisibilityEstimator

runner = CliRunner()


@pytest.mark.mediapipe
@pytest.mark.data
def test_train_visibility_writes_a_model_and_held_out_scores(tmp_path, ck48_graphs, model_path):
    out = tmp_path / "vis"
    args = ["train-visibility", "--data", ck48_graphs.processed_dir, "--out", str(out), "--samples", "18",
            "--epochs", "2", "--model", str(model_path), "--holdout-families", "texture,blur"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_families"] == ["shape", "band", "mask", "hand"] and m["holdout_families"] == ["texture", "blur"]
    assert m["faces"]["fit"] + m["faces"]["heldout"] == 18
    assert m["samples"]["fit"] + m["samples"]["heldout"] + m["samples"]["skipped"] == 18
    # held-out faces are whole subjects: none of them is among the fitting faces
    assert m["heldout_subjects"] and all(s.startswith("S") for s in m["heldout_subjects"])
    assert (out / "gallery.png").stat().st_size > 1000 and m["gallery"] == str(out / "gallery.png")
    est = VisibilityEstimator.load(out / "visibility.pt")
    assert est.topology == ck48_graphs.topology.name
    p = est.predict_proba(np.zeros((2, ck48_graphs.topology.num_nodes, est.in_features_), np.float32))
    assert p.shape == (2, ck48_graphs.topology.num_nodes)
    chunks = sorted((out / "samples").rglob("chunk-*.npz"))
    assert len(chunks) == 1
    before = chunks[0].stat().st_mtime_ns
    assert runner.invoke(app, args).exit_code == 0  # the sample cache is reused, not rebuilt
    assert chunks[0].stat().st_mtime_ns == before
    bad = runner.invoke(app, [*args[:-1], "scarf"])
    assert bad.exit_code == 1 and "unknown" in bad.output
