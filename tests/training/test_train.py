from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fer_graph.graphs import CKLandsGraphs
from fer_graph.graphs.features import FeatureSpec
from fer_graph.training import TrainConfig, load_checkpoint, predict_proba, train
from fer_graph.training.checkpoint import CheckpointMismatchError, check_compatible


@pytest.fixture
def ck_small(tmp_path, ck_lands_subset):
    return CKLandsGraphs(tmp_path / "ck", ck_lands_subset, apex_frames=2)


def test_gat_trains_loss_falls_and_checkpoint_reloads(tmp_path, ck_small):
    cfg = TrainConfig(arch="gat", epochs=15, patience=100, folds=2, hidden=16, layers=2, batch_size=8,
                      augment=False, dropout=0.0, label_smoothing=0.0, lr=5e-3)
    losses = []
    metrics = train(ck_small, cfg, tmp_path / "run", on_epoch=lambda k, log: losses.append((k, log.train_loss)))
    first = [l for k, l in losses if k == 0]
    assert first[-1] < 0.8 * first[0], first  # the loss falls...
    assert first[-1] < np.log(len(ck_small.classes)) - 0.3, first  # ...well below chance-level cross-entropy
    for key in ("arch", "dataset", "protocol", "folds", "accuracy_mean", "accuracy_std", "macro_f1_mean",
                "macro_f1_std", "per_fold"):
        assert key in metrics
    assert metrics["folds"] == 2 and sum(f["n"] for f in metrics["per_fold"]) == len(ck_small)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["accuracy_mean"] == metrics["accuracy_mean"]
    model, meta = load_checkpoint(tmp_path / "run" / "checkpoints" / "fold_00.pt")
    assert meta["topology"] == "ibug68" and meta["features"] == "apex+disp"
    raw = torch.load(tmp_path / "run" / "checkpoints" / "fold_00.pt", weights_only=True)  # safe loading
    assert "state_dict" in raw
    x = FeatureSpec.parse("apex+disp").node_features(ck_small)
    p1 = predict_proba(model, x, None, ck_small.topology)
    p2 = predict_proba(load_checkpoint(tmp_path / "run" / "checkpoints" / "fold_00.pt")[0], x, None, ck_small.topology)
    torch.testing.assert_close(p1, p2)
    torch.testing.assert_close(p1.sum(1), torch.ones(len(x)))
    preds = (tmp_path / "run" / "predictions.csv").read_text().splitlines()
    assert len(preds) == len(ck_small) + 1


def test_same_seed_same_metrics(tmp_path, ck_small):
    cfg = TrainConfig(arch="gcn", epochs=3, folds=2, hidden=16, layers=2, batch_size=8)
    a = train(ck_small, cfg, tmp_path / "a")
    b = train(ck_small, cfg, tmp_path / "b")
    def scores(m):
        return [(f["fold"], f["accuracy"], f["macro_f1"], f["n"], f["epochs"]) for f in m["per_fold"]]

    assert scores(a) == scores(b)
    ra = (tmp_path / "a" / "predictions.csv").read_text()
    assert ra == (tmp_path / "b" / "predictions.csv").read_text()


def test_baseline_on_same_folds(tmp_path, ck_small):
    m = train(ck_small, TrainConfig(arch="logreg", folds=2), tmp_path / "lr")
    g = train(ck_small, TrainConfig(arch="gcn", epochs=1, folds=2, hidden=8, layers=1), tmp_path / "g")
    assert [f["n"] for f in m["per_fold"]] == [f["n"] for f in g["per_fold"]]
    with pytest.raises(ValueError, match="needs 'blendshapes'"):
        train(ck_small, TrainConfig(arch="blendshape-gb", folds=2), tmp_path / "bs")


def test_checkpoint_from_another_topology_is_refused():
    meta = {"topology": "mediapipe468", "features": "apex+blendshapes", "node_dims": 2}
    with pytest.raises(CheckpointMismatchError, match="topology='mediapipe468'.*topology='ibug68'"):
        check_compatible(meta, topology="ibug68", features="apex+blendshapes", node_dims=2)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint("/nonexistent/fold_00.pt")


def test_refit_retrains_on_all_training_subjects(tmp_path, ck_small):
    cfg = TrainConfig(arch="gcn", epochs=4, patience=10, folds=2, hidden=8, layers=1, batch_size=8)
    m = train(ck_small, cfg, tmp_path / "r", refit=True)
    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "fold_00.pt", weights_only=True)["meta"]
    assert ckpt["refit"] is True and 1 <= ckpt["best_epoch"] <= 4
    assert m["refit"] is True and m["per_fold"][0]["epochs"] == 4 + ckpt["best_epoch"]


def test_default_standardization_is_per_landmark(tmp_path, ck_small):
    train(ck_small, TrainConfig(arch="gcn", epochs=1, folds=2, hidden=8, layers=1), tmp_path / "a")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())["config"]
    model, meta = load_checkpoint(tmp_path / "a" / "checkpoints" / "fold_00.pt")
    assert cfg["standardize"] == "node" and meta["model_kwargs"]["standardize"] == "node"
    assert tuple(model.x_mean.shape) == (68, 4)  # one mean per landmark and channel (apex+disp)
    with pytest.raises(ValueError, match="standardize"):
        train(ck_small, TrainConfig(arch="gcn", epochs=1, folds=2, standardize="global"), tmp_path / "b")


def test_folds_in_worker_processes_match_a_sequential_run(tmp_path, ck_small):
    """``workers=2`` fits the folds in spawned processes with one torch thread each; every fold seeds its
    own generators, so the folds' predictions equal a one-thread sequential run's."""
    import torch

    cfg = TrainConfig(arch="gat", epochs=3, folds=2, hidden=16, layers=2, batch_size=8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seq = train(ck_small, cfg, tmp_path / "seq")
    finally:
        torch.set_num_threads(threads)
    par = train(ck_small, cfg, tmp_path / "par", workers=2)
    assert [f["accuracy"] for f in par["per_fold"]] == [f["accuracy"] for f in seq["per_fold"]]
    assert [f["epochs"] for f in par["per_fold"]] == [f["epochs"] for f in seq["per_fold"]]
    a = (tmp_path / "seq" / "predictions.csv").read_text()
    b = (tmp_path / "par" / "predictions.csv").read_text()
    assert a == b
    assert sorted(p.name for p in (tmp_path / "par" / "checkpoints").iterdir()) == ["fold_00.pt", "fold_01.pt"]
