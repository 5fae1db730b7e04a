from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.cli.app import app
from fer_graph.evaluation.occlusion import (SWEEP_COLUMNS, Condition, RunEvaluator, make_conditions,
                                           occlusion_sweep)
from fer_graph.evaluation.occlusion_report import write_sweep_report
from fer_graph.graphs import CKLandsGraphs
from fer_graph.graphs.topology import IBUG68
from fer_graph.training import TrainConfig, load_checkpoint, train


@pytest.fixture(scope="module")
def runs(tmp_path_factory, ck_lands_root):
    import shutil

    tmp = tmp_path_factory.mktemp("sweep")
    root = tmp / "CK+"
    root.mkdir()
    subjects = ["S005", "S010", "S011", "S122", "S026", "S037"]
    lines = (ck_lands_root / "emotion.csv").read_text().splitlines()
    (root / "emotion.csv").write_text("\n".join([lines[0]] + [l for l in lines[1:] if l.split(";")[0] in subjects]) + "\n")
    for s in subjects:
        shutil.copytree(ck_lands_root / s, root / s)
    ds = CKLandsGraphs(tmp / "ck", root)
    small = dict(epochs=3, folds=2, hidden=16, layers=2, batch_size=8)
    train(ds, TrainConfig(arch="gat", **small), tmp / "gat")
    train(ds, TrainConfig(arch="gat", mask_augment=0.5, **small), tmp / "gat_mask")
    train(ds, TrainConfig(arch="logreg", folds=2), tmp / "logreg")
    return ds, tmp


def _preds(run):
    with (run / "predictions.csv").open() as fh:
        return {r["sample_id"]: r["y_pred"] for r in csv.DictReader(fh)}


def test_clean_condition_reproduces_the_run(runs):
    ds, tmp = runs
    for name in ("gat", "gat_mask", "logreg"):
        ev = RunEvaluator(tmp / name, ds)
        m = ev.score(Condition("none", "none"))
        stored = json.loads((tmp / name / "metrics.json").read_text())["pooled"]
        assert m["accuracy"] == pytest.approx(stored["accuracy"]) and m["n"] == stored["n"]


def test_extent_zero_and_sigma_zero_equal_clean_predictions(runs):
    ds, tmp = runs
    ev = RunEvaluator(tmp / "gat", ds)
    clean = ev.predict(None, "none")
    for strategy in ("removal", "masking", "imputation"):
        zero = np.zeros((len(ev.x), 68), dtype=bool)
        np.testing.assert_array_equal(ev.predict(zero, strategy), clean)
    np.testing.assert_array_equal(ev.predict(None, "none", noise=0.0), clean)
    # while a real occlusion (60% of the landmarks zero-filled) changes some predictions
    heavy = np.zeros((len(ev.x), 68), dtype=bool)
    heavy[:, :41] = True
    assert (ev.predict(heavy, "masking") != clean).any()


def test_sweep_rows_seeds_and_report(runs, tmp_path):
    ds, tmp = runs
    evs = [RunEvaluator(tmp / n, ds) for n in ("gat", "gat_mask", "logreg")]
    conds = make_conditions(IBUG68, regions=["eyes", "mouth"], extents=[0.2, 0.5], noise=[0.1])
    rows = occlusion_sweep(evs, conds, seed=1)
    again = occlusion_sweep(evs, conds, seed=1)
    assert [r["accuracy"] for r in rows] == [r["accuracy"] for r in again]
    assert not any(r["model"] == "logreg" and r["strategy"] == "removal" for r in rows)
    n_gnn = len(conds)
    n_lr = len([c for c in conds if c.strategy != "removal"])
    assert len(rows) == 2 * n_gnn + n_lr
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["n"] == len(ds) for r in rows)
    summary = write_sweep_report(rows, tmp_path / "out")
    with (tmp_path / "out" / "sweep.csv").open() as fh:
        header = next(csv.reader(fh))
    assert tuple(header[:8]) == SWEEP_COLUMNS
    for model in ("gat", "gat_mask", "logreg"):
        s = summary[model]
        assert 0.0 <= s["auc_extent"] <= 1.0 and set(s["region_accuracy"]) == {"eyes", "mouth"}
    assert summary["logreg"]["reference_strategy"] == "imputation"
    for png in ("regions.png", "extent.png", "noise.png"):
        assert (tmp_path / "out" / png).stat().st_size > 5000


def test_mask_augmented_model_has_a_visibility_input(runs):
    ds, tmp = runs
    model, meta = load_checkpoint(tmp / "gat_mask" / "checkpoints" / "fold_00.pt")
    assert meta["model_kwargs"]["visibility"] is True and model.visibility
    with pytest.raises(ValueError, match="fast backend"):
        train(ds, TrainConfig(arch="gat", epochs=1, folds=2, mask_augment=0.5, backend="pyg"), tmp / "bad")


def test_cli_sweep_writes_outputs_and_rejects_bad_region(runs, tmp_path):
    ds, tmp = runs
    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["occlusion-sweep", "--run", str(tmp / "gat"), "--run", str(tmp / "logreg"),
                                   "--data", ds.processed_dir, "--regions", "eyes,left_half", "--extents", "0.3",
                                   "--noise", "0.05", "--sensitivity", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= {"gat", "logreg", "sweep"} and "auc_extent" in summary["gat"]
    sens = json.loads((out / "sensitivity.json").read_text())
    assert len(sens["gat"]["importance"]) == 68 and (out / "sensitivity_logreg.png").is_file()
    bad = CliRunner().invoke(app, ["occlusion-sweep", "--run", str(tmp / "gat"), "--data", ds.processed_dir,
                                   "--regions", "forehead", "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "forehead" in bad.output


def test_sensitivity_credits_patch_nodes(runs, tmp_path):
    from fer_graph.evaluation.sensitivity import occlusion_sensitivity, plot_sensitivity

    ds, tmp = runs
    ev = RunEvaluator(tmp / "gat", ds)
    res = occlusion_sensitivity(ev, extent=0.1, max_patches=20, seed=0)
    assert res["importance"].shape == (68,) and res["patch_nodes"] == 7 and len(res["seeds"]) == 20
    covered = res["coverage"] > 0
    assert np.isfinite(res["importance"][covered]).all() and np.isnan(res["importance"][~covered]).all()
    assert (np.abs(res["importance"][covered]) <= 1).all()
    assert set(res["class_importance"]) <= set(ev.classes)
    plot_sensitivity(res, ev.mean_shape, IBUG68.edges, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 5000
