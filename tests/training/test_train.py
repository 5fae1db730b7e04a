from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from fer_graph.graphs.features import FeatureSpec
from fer_graph.training import TrainConfig, load_checkpoint, predict_proba, train
from fer_graph.training.checkpoint import CheckpointMismatchError, check_compatible


@pytest.fixture
def ck_small(synthetic_ibug_graphs):
    """72 synthetic CK+ lands graphs (12 subjects x 6 classes, apex + onset)."""
    return synthetic_ibug_graphs


def _rows(run):
    with (run / "predictions.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_gat_trains_loss_falls_and_checkpoint_reloads(tmp_path, ck_small):
    cfg = TrainConfig(arch="gat", epochs=15, patience=100, folds=2, hidden=16, layers=2, batch_size=8,
                      augment=False, dropout=0.0, label_smoothing=0.0, lr=5e-3)
    losses = []
    metrics = train(ck_small, cfg, tmp_path / "run", on_epoch=lambda k, log: losses.append((k, log.train_loss)))
    first = [l for k, l in losses if k == 0]
    assert len(first) == 15 and len(losses) == 30  # every epoch of both folds reported
    assert first[-1] < 0.8 * first[0], first  # the loss falls...
    assert first[-1] < np.log(len(ck_small.classes)) - 0.3, first  # ...well below chance-level cross-entropy
    for key in ("arch", "dataset", "protocol", "folds", "accuracy_mean", "accuracy_std", "macro_f1_mean",
                "macro_f1_std", "per_fold"):
        assert key in metrics
    accs = [f["accuracy"] for f in metrics["per_fold"]]
    assert metrics["accuracy_mean"] == pytest.approx(np.mean(accs)) and metrics["accuracy_std"] == pytest.approx(np.std(accs))
    assert metrics["accuracy_mean"] > 0.4  # chance 1/6
    assert metrics["folds"] == 2 and sum(f["n"] for f in metrics["per_fold"]) == len(ck_small)
    # inner validation at the epoch kept (the best of 15) and at the last one, which nothing was chosen on
    folds = metrics["per_fold"]
    assert all(f["val_accuracy_last"] <= f["val_accuracy"] and 1 <= f["best_epoch"] <= 15 for f in folds)
    assert metrics["val_accuracy_last_mean"] == pytest.approx(np.mean([f["val_accuracy_last"] for f in folds]))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["accuracy_mean"] == metrics["accuracy_mean"]
    model, meta = load_checkpoint(tmp_path / "run" / "checkpoints" / "fold_00.pt")
    assert meta["topology"] == "ibug68" and meta["features"] == "apex+disp" and meta["classes"] == ck_small.classes
    raw = torch.load(tmp_path / "run" / "checkpoints" / "fold_00.pt", weights_only=True)  # safe loading
    assert "state_dict" in raw
    x = FeatureSpec.parse("apex+disp").node_features(ck_small)
    p1 = predict_proba(model, x, None, ck_small.topology)
    p2 = predict_proba(load_checkpoint(tmp_path / "run" / "checkpoints" / "fold_00.pt")[0], x, None, ck_small.topology)
    torch.testing.assert_close(p1, p2)
    torch.testing.assert_close(p1.sum(1), torch.ones(len(x)))
    rows = _rows(tmp_path / "run")
    assert len(rows) == len(ck_small) and {r["sample_id"] for r in rows} == set(ck_small.sample_ids)
    # fold 0's rows are the reloaded fold-0 model's predictions on those samples
    index = {sid: i for i, sid in enumerate(ck_small.sample_ids)}
    mine = [r for r in rows if r["fold"] == "0"]
    pred = p1.argmax(1).numpy()
    assert [r["y_pred"] for r in mine] == [ck_small.classes[pred[index[r["sample_id"]]]] for r in mine]
    np.testing.assert_allclose([float(r[f"p_{ck_small.classes[0]}"]) for r in mine],
                               [float(p1[index[r["sample_id"]], 0]) for r in mine], atol=1e-4)


def test_same_seed_same_metrics(tmp_path, ck_small):
    cfg = TrainConfig(arch="gcn", epochs=3, folds=2, hidden=16, layers=2, batch_size=8)
    a = train(ck_small, cfg, tmp_path / "a")
    b = train(ck_small, cfg, tmp_path / "b")

    def scores(m):
        return [(f["fold"], f["accuracy"], f["macro_f1"], f["n"], f["epochs"]) for f in m["per_fold"]]

    assert scores(a) == scores(b)
    ra = (tmp_path / "a" / "predictions.csv").read_text()
    assert ra == (tmp_path / "b" / "predictions.csv").read_text()
    c = train(ck_small, TrainConfig(arch="gcn", epochs=3, folds=2, hidden=16, layers=2, batch_size=8, seed=1),
              tmp_path / "c")
    assert (tmp_path / "c" / "predictions.csv").read_text() != ra  # another seed: other folds and weights

    def test_subjects(run, k):
        return {r["subject"] for r in _rows(run) if r["fold"] == k}

    assert test_subjects(tmp_path / "c", "0") != test_subjects(tmp_path / "a", "0")
    assert sum(f["n"] for f in c["per_fold"]) == len(ck_small)


def test_baseline_on_same_folds(tmp_path, ck_small):
    train(ck_small, TrainConfig(arch="logreg", folds=2), tmp_path / "lr")
    train(ck_small, TrainConfig(arch="gcn", epochs=1, folds=2, hidden=8, layers=1), tmp_path / "g")

    def folds(run):
        return {k: sorted(r["sample_id"] for r in _rows(run) if r["fold"] == k) for k in ("0", "1")}

    assert folds(tmp_path / "lr") == folds(tmp_path / "g")  # the very same test samples per fold
    assert len(folds(tmp_path / "lr")["0"]) == 36
    with pytest.raises(ValueError, match="needs 'blendshapes'"):
        train(ck_small, TrainConfig(arch="blendshape-gb", folds=2), tmp_path / "bs")


def test_checkpoint_from_another_topology_is_refused():
    meta = {"topology": "mediapipe468", "features": "apex+blendshapes", "node_dims": 2}
    with pytest.raises(CheckpointMismatchError, match="topology='mediapipe468'.*topology='ibug68'"):
        check_compatible(meta, topology="ibug68", features="apex+blendshapes", node_dims=2)
    with pytest.raises(CheckpointMismatchError, match="features='apex\\+blendshapes'.*features='apex'"):
        check_compatible(meta, topology="mediapipe468", features="apex", node_dims=2)
    with pytest.raises(CheckpointMismatchError, match="node_dims=2.*node_dims=3"):
        check_compatible(meta, topology="mediapipe468", features="apex+blendshapes", node_dims=3)
    check_compatible(meta, topology="mediapipe468", features="apex+blendshapes", node_dims=2)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint("/nonexistent/fold_00.pt")


def test_refit_retrains_on_all_training_subjects(tmp_path, ck_small):
    cfg = TrainConfig(arch="gcn", epochs=4, patience=10, folds=2, hidden=8, layers=1, batch_size=8)
    m = train(ck_small, cfg, tmp_path / "r", refit=True)
    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "fold_00.pt", weights_only=True)["meta"]
    assert ckpt["refit"] is True and 1 <= ckpt["best_epoch"] <= 4
    assert m["refit"] is True and m["per_fold"][0]["epochs"] == 4 + ckpt["best_epoch"]


def test_a_fixed_schedule_refit_from_the_config_is_one_fit_per_fold(tmp_path, ck_small):
    cfg = TrainConfig(arch="gcn", epochs=3, folds=2, hidden=8, layers=1, batch_size=8, keep="last", refit=True)
    m = train(ck_small, cfg, tmp_path / "r")
    assert m["refit"] is True and [f["epochs"] for f in m["per_fold"]] == [3, 3]
    assert m["val_accuracy_mean"] is None  # nothing held out: no validation accuracy to report
    assert json.loads((tmp_path / "r" / "config.json").read_text())["config"]["refit"] is True
    off = train(ck_small, cfg, tmp_path / "off", refit=False)  # the keyword overrides the config
    assert off["refit"] is False and off["val_accuracy_mean"] == pytest.approx(off["val_accuracy_last_mean"])


def test_default_standardization_is_per_landmark(tmp_path, ck_small):
    train(ck_small, TrainConfig(arch="gcn", epochs=1, folds=2, hidden=8, layers=1), tmp_path / "a")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())["config"]
    model, meta = load_checkpoint(tmp_path / "a" / "checkpoints" / "fold_00.pt")
    assert cfg["standardize"] == "node" and meta["model_kwargs"]["standardize"] == "node"
    assert tuple(model.x_mean.shape) == (68, 4)  # one mean per landmark and channel (apex+disp)
    # the mean is fold 0's inner-training mean face: close to, not equal to, the mean over all graphs
    x = FeatureSpec.parse("apex+disp").node_features(ck_small)
    assert float((model.x_mean - x.mean(0)).abs().max()) < 0.05
    with pytest.raises(ValueError, match="standardize"):
        train(ck_small, TrainConfig(arch="gcn", epochs=1, folds=2, standardize="global"), tmp_path / "b")


def test_folds_in_worker_processes_match_a_sequential_run(tmp_path, ck_small):
    """``workers=2`` fits the folds in spawned processes with one torch thread each; every fold seeds its
    own generators, so the folds' predictions equal a one-thread sequential run's (probabilities up to float
    rounding: BLAS kernels may round differently with the memory alignment of their buffers)."""
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
    import pandas as pd

    a = pd.read_csv(tmp_path / "seq" / "predictions.csv")
    b = pd.read_csv(tmp_path / "par" / "predictions.csv")
    probs = [c for c in a.columns if c.startswith("p_")]
    pd.testing.assert_frame_equal(a.drop(columns=probs), b.drop(columns=probs))
    np.testing.assert_allclose(a[probs].to_numpy(), b[probs].to_numpy(), atol=1e-4)
    assert sorted(p.name for p in (tmp_path / "par" / "checkpoints").iterdir()) == ["fold_00.pt", "fold_01.pt"]
