from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fer_graph.cli.app import app
from fer_graph.evaluation.occlusion import (SWEEP_COLUMNS, Condition, RunEvaluator, SweepError, auc_extent,
                                           make_conditions, occlusion_sweep, summarize_sweep)
from fer_graph.evaluation.occlusion_report import write_sweep_report
from fer_graph.graphs.topology import IBUG68
from fer_graph.training import TrainConfig, load_checkpoint, train

MODELS = ("gat", "gat_mask", "logreg")


@pytest.fixture(scope="module")
def runs(ibug_runs):
    return ibug_runs


def _png_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert len(np.unique(np.asarray(im.convert("L")))) > 10  # drawn, not blank
        return im.size


def _trapezoid(x, y) -> float:
    return sum((x[i + 1] - x[i]) * (y[i] + y[i + 1]) / 2 for i in range(len(x) - 1))


# ------------------------------------------------------------------------------ summary arithmetic
def test_auc_extent_is_the_normalized_trapezoid():
    # (0.9 + 0.8) / 2 * 0.2 + (0.8 + 0.6) / 2 * 0.2 + (0.6 + 0.3) / 2 * 0.2 = 0.17 + 0.14 + 0.09 = 0.40
    assert auc_extent([0, 0.2, 0.4, 0.6], [0.9, 0.8, 0.6, 0.3]) == pytest.approx(0.40 / 0.6)
    assert auc_extent([0.4, 0, 0.6, 0.2], [0.6, 0.9, 0.3, 0.8]) == pytest.approx(0.40 / 0.6)  # order-free
    assert auc_extent([0, 0.5], [1.0, 1.0]) == pytest.approx(1.0)  # never degraded: 1
    assert auc_extent([0, 0.5], [0.8, 0.0]) == pytest.approx(0.4)  # a straight fall to 0: half the clean
    assert auc_extent([0.3], [0.7]) == 0.7 and auc_extent([0.2, 0.2], [0.5, 0.5]) == 0.5


def _row(model, strategy, region, extent, accuracy, *, noise=0.0, kind="gnn"):
    return {"model": model, "strategy": strategy, "region": region, "extent": extent, "noise": noise,
            "accuracy": accuracy, "macro_f1": accuracy - 0.1, "n": 10, "arch": "gat" if kind == "gnn" else "logreg",
            "kind": kind, "reference_strategy": "removal" if kind == "gnn" else "imputation",
            "noise_region": "all", "per_class_recall": {}}


def test_summarize_sweep_on_hand_written_rows():
    rows = [
        _row("g", "none", "none", 0.0, 0.9),
        _row("g", "removal", "patch", 0.2, 0.8), _row("g", "removal", "patch", 0.4, 0.5),
        _row("g", "masking", "patch", 0.2, 0.7), _row("g", "masking", "patch", 0.4, 0.4),
        _row("g", "removal", "random", 0.2, 0.6), _row("g", "removal", "random", 0.4, 0.3),
        _row("g", "removal", "eyes", 0.1765, 0.6), _row("g", "masking", "eyes", 0.1765, 0.55),
        _row("g", "removal", "mouth", 0.2941, 0.45),
        _row("g", "none", "all", 0.0, 0.85, noise=0.05), _row("g", "none", "all", 0.0, 0.7, noise=0.1),
        _row("b", "none", "none", 0.0, 0.8, kind="sklearn"),
        _row("b", "imputation", "patch", 0.2, 0.6, kind="sklearn"),
        _row("b", "imputation", "patch", 0.4, 0.2, kind="sklearn"),
        _row("b", "masking", "eyes", 0.1765, 0.3, kind="sklearn"),
        _row("b", "imputation", "eyes", 0.1765, 0.5, kind="sklearn"),
    ]
    s = summarize_sweep(rows)
    assert list(s) == ["g", "b"]
    g, b = s["g"], s["b"]
    assert (g["clean_accuracy"], g["clean_macro_f1"], g["kind"], g["arch"]) == (0.9, pytest.approx(0.8), "gnn", "gat")
    assert g["reference_strategy"] == "removal" and b["reference_strategy"] == "imputation"
    # removal patch curve 0.9 (clean, extent 0) -> 0.8 -> 0.5: (0.17 + 0.13) / 0.4
    assert g["auc_extent"] == pytest.approx(0.75)
    # random 0.9 -> 0.6 -> 0.3: (0.15 + 0.09) / 0.4; masking patch 0.9 -> 0.7 -> 0.4: (0.16 + 0.11) / 0.4
    assert g["auc_extent_by_strategy"] == {"removal": {"patch": pytest.approx(0.75), "random": pytest.approx(0.6)},
                                           "masking": {"patch": pytest.approx(0.675)}}
    assert g["region_accuracy"] == {"eyes": 0.6, "mouth": 0.45}
    assert g["region_accuracy_by_strategy"] == {"eyes": {"removal": 0.6, "masking": 0.55}, "mouth": {"removal": 0.45}}
    assert g["noise_accuracy"] == {"0.05": 0.85, "0.1": 0.7}
    # the baseline's reference is imputation: 0.8 -> 0.6 -> 0.2, (0.14 + 0.08) / 0.4
    assert b["auc_extent"] == pytest.approx(0.55) and b["region_accuracy"] == {"eyes": 0.5}
    assert b["noise_accuracy"] == {}


# ----------------------------------------------------------------------------------- trained runs
def test_clean_condition_reproduces_the_run(runs):
    ds, tmp = runs
    for name in MODELS:
        ev = RunEvaluator(tmp / name, ds)
        m = ev.score(Condition("none", "none"))
        stored = json.loads((tmp / name / "metrics.json").read_text())["pooled"]
        assert m["accuracy"] == pytest.approx(stored["accuracy"]) and m["n"] == stored["n"] == 72
        assert m["confusion"] == stored["confusion"]
        assert ev.kind == ("sklearn" if name == "logreg" else "gnn")
        assert ev.reference_strategy == ("imputation" if name == "logreg" else "removal")
        assert ev.supports("removal") == (name != "logreg") and ev.supports("masking")


def test_extent_zero_and_sigma_zero_equal_clean_predictions(runs):
    ds, tmp = runs
    ev = RunEvaluator(tmp / "gat", ds)
    clean = ev.predict(None, "none")
    assert clean.shape == (72,)
    for strategy in ("removal", "masking", "imputation"):
        zero = np.zeros((len(ev.x), 68), dtype=bool)
        np.testing.assert_array_equal(ev.predict(zero, strategy), clean)
    np.testing.assert_array_equal(ev.predict(None, "none", noise=0.0), clean)
    # while a real occlusion (60% of the landmarks zero-filled) changes some predictions
    heavy = np.zeros((len(ev.x), 68), dtype=bool)
    heavy[:, :41] = True
    assert (ev.predict(heavy, "masking") != clean).any()


def test_runs_trained_elsewhere_are_refused(runs, tmp_path, ck_lands_small, synthetic_mesh_graphs):
    from fer_graph.graphs import CKLandsGraphs
    from fer_graph.training.checkpoint import CheckpointMismatchError

    ds, tmp = runs
    other = CKLandsGraphs(tmp_path / "other", ck_lands_small)  # same topology and features, other samples
    with pytest.raises(SweepError, match="predictions.csv:2: sample 'S001_001@1' is not in"):
        RunEvaluator(tmp / "gat", other)
    with pytest.raises(CheckpointMismatchError, match="topology"):
        RunEvaluator(tmp / "gat", synthetic_mesh_graphs)
    with pytest.raises(SweepError, match="not a fer-graph run"):
        RunEvaluator(tmp_path / "nothing", ds)


def test_sweep_rows_seeds_and_report(runs, tmp_path):
    ds, tmp = runs
    evs = [RunEvaluator(tmp / n, ds) for n in MODELS]
    conds = make_conditions(IBUG68, regions=["eyes", "mouth"], extents=[0.2, 0.5], noise=[0.1])
    # clean + 2 regions x 3 strategies + 2 extents x (patch, random) x 3 strategies + 1 noise
    assert len(conds) == 1 + 6 + 12 + 1
    assert Condition("removal", "eyes", round(12 / 68, 4)) in conds
    rows = occlusion_sweep(evs, conds, seed=1)
    again = occlusion_sweep(evs, conds, seed=1)
    assert [r["accuracy"] for r in rows] == [r["accuracy"] for r in again]
    other = occlusion_sweep(evs[:1], conds, seed=2)  # other patches and noise draws
    assert [r["accuracy"] for r in other] != [r["accuracy"] for r in rows[:len(other)]]
    assert not any(r["model"] == "logreg" and r["strategy"] == "removal" for r in rows)
    n_lr = len([c for c in conds if c.strategy != "removal"])
    assert len(rows) == 2 * len(conds) + n_lr
    for r in rows:
        assert r["n"] == len(ds) and r["accuracy"] * 72 == pytest.approx(round(r["accuracy"] * 72))  # k / 72
    summary = write_sweep_report(rows, tmp_path / "out")
    with (tmp_path / "out" / "sweep.csv").open() as fh:
        table = list(csv.reader(fh))
    assert tuple(table[0][:8]) == SWEEP_COLUMNS and len(table) == len(rows) + 1
    for model in MODELS:
        s, ref = summary[model], summary[model]["reference_strategy"]
        mine = [r for r in rows if r["model"] == model]
        clean = next(r["accuracy"] for r in mine if r["region"] == "none")
        curve = [next(r["accuracy"] for r in mine if (r["strategy"], r["region"], r["extent"]) == (ref, "patch", e))
                 for e in (0.2, 0.5)]
        assert s["clean_accuracy"] == clean
        assert s["auc_extent"] == pytest.approx(_trapezoid([0, 0.2, 0.5], [clean, *curve]) / 0.5, abs=1e-4)
        assert s["region_accuracy"] == {reg: next(r["accuracy"] for r in mine if (r["strategy"], r["region"]) == (ref, reg))
                                        for reg in ("eyes", "mouth")}
        assert s["noise_accuracy"] == {"0.1": next(r["accuracy"] for r in mine if r["noise"] == 0.1)}
    assert summary["logreg"]["reference_strategy"] == "imputation"
    # figure sizes (inches x 110 dpi): 3 strategy panels of regions; 2 x 3 extent panels; 1 noise panel
    assert _png_size(tmp_path / "out" / "regions.png") == (880, 1056)
    assert _png_size(tmp_path / "out" / "extent.png") == (1386, 814)
    assert _png_size(tmp_path / "out" / "noise.png") == (462, 440)


def test_mask_augmented_model_has_a_visibility_input(runs):
    ds, tmp = runs
    model, meta = load_checkpoint(tmp / "gat_mask" / "checkpoints" / "fold_00.pt")
    assert meta["model_kwargs"]["visibility"] is True and model.visibility
    plain, plain_meta = load_checkpoint(tmp / "gat" / "checkpoints" / "fold_00.pt")
    assert "visibility" not in plain_meta["model_kwargs"] and not plain.visibility
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
    assert set(summary) == {"gat", "logreg", "sweep"} and summary["sweep"]["seed"] == 0
    with (out / "sweep.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for model in ("gat", "logreg"):
        mine = [r for r in rows if r["model"] == model]
        ref = summary[model]["reference_strategy"]
        clean = float(next(r["accuracy"] for r in mine if r["region"] == "none"))
        patch = float(next(r["accuracy"] for r in mine if (r["region"], r["strategy"]) == ("patch", ref)))
        assert summary[model]["auc_extent"] == pytest.approx((clean + patch) / 2, abs=2e-4)
        m = json.loads((tmp / model / "metrics.json").read_text())
        assert clean == pytest.approx(m["pooled"]["accuracy"], abs=1e-5)
    sens = json.loads((out / "sensitivity.json").read_text())
    assert set(sens) == {"gat", "logreg"}
    assert sens["gat"]["strategy"] == "removal" and sens["logreg"]["strategy"] == "imputation"
    assert len(sens["gat"]["importance"]) == 68 and sens["gat"]["patch_nodes"] == 3  # 5% of 68, rounded
    assert sens["gat"]["clean_accuracy"] == pytest.approx(summary["gat"]["clean_accuracy"], abs=1e-5)
    assert _png_size(out / "sensitivity_logreg.png")[0] > 500
    bad = CliRunner().invoke(app, ["occlusion-sweep", "--run", str(tmp / "gat"), "--data", ds.processed_dir,
                                   "--regions", "forehead", "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "forehead" in bad.output
    img = CliRunner().invoke(app, ["occlusion-sweep", "--run", str(tmp / "logreg"), "--data", ds.processed_dir,
                                   "--image-occlusion", "--out", str(tmp_path / "img")])
    assert img.exit_code != 0 and "mediapipe" in img.output and "Traceback" not in img.output


def test_run_occlusion_sweep_library(runs, tmp_path):
    from fer_graph.evaluation.sweep import run_occlusion_sweep

    ds, tmp = runs
    seen = []
    result = run_occlusion_sweep([tmp / "gat", tmp / "logreg"], ds, tmp_path / "lib", names=["G", "L"],
                                 regions=["mouth"], strategies=["masking"], extents=[0.25], noise=[],
                                 random_dropout=False, on_progress=lambda task, i, n: seen.append((task, i, n)))
    assert result.conditions == 3 and len(result.rows) == 6 and result.image_rows == []
    assert [r["model"] for r in result.rows] == ["G"] * 3 + ["L"] * 3
    assert {(r["strategy"], r["region"]) for r in result.rows} == {("none", "none"), ("masking", "mouth"),
                                                                   ("masking", "patch")}
    assert seen[0] == ("sweep", 0, 6) and seen[-1] == ("sweep", 6, 6)
    assert set(json.loads((tmp_path / "lib" / "summary.json").read_text())) == {"G", "L", "sweep"}
    # the same conditions scored one by one give the same rows
    ev = RunEvaluator(tmp / "gat", ds)
    mouth = ev.score(Condition("masking", "mouth", round(20 / 68, 4)))
    assert result.rows[1]["accuracy"] == mouth["accuracy"]
    with pytest.raises(ValueError, match="1 name"):
        run_occlusion_sweep([tmp / "gat", tmp / "logreg"], ds, tmp_path / "x", names=["G"])


def test_sensitivity_credits_patch_nodes(runs, tmp_path):
    from fer_graph.evaluation.sensitivity import occlusion_sensitivity, plot_sensitivity
    from fer_graph.occlusion.masks import bfs_order

    ds, tmp = runs
    ev = RunEvaluator(tmp / "gat", ds)
    res = occlusion_sensitivity(ev, extent=0.1, max_patches=20, seed=0)
    assert res["importance"].shape == (68,) and res["patch_nodes"] == 7 and len(res["seeds"]) == 20
    assert res["strategy"] == "removal" and set(res["class_importance"]) == set(ev.classes)
    # recomputed by hand: each seed's 7-node BFS patch removed, the accuracy drop credited to its nodes
    y = ev.y[ev.test_positions]
    clean = float((ev.predict(None, "none") == y).mean())
    assert res["clean_accuracy"] == pytest.approx(clean)
    drop, coverage = np.zeros(68), np.zeros(68)
    for s in res["seeds"]:
        nodes = bfs_order(IBUG68, s)[:7]
        occ = np.zeros((len(ev.x), 68), dtype=bool)
        occ[:, nodes] = True
        drop[nodes] += clean - float((ev.predict(occ, "removal") == y).mean())
        coverage[nodes] += 1
    np.testing.assert_array_equal(res["coverage"], coverage)
    covered = coverage > 0
    assert 20 <= covered.sum() < 68 and np.isnan(res["importance"][~covered]).all()
    np.testing.assert_allclose(res["importance"][covered], drop[covered] / coverage[covered])
    assert all(np.isnan(m[~covered]).all() and np.isfinite(m[covered]).all() for m in res["class_importance"].values())
    plot_sensitivity(res, ev.mean_shape, IBUG68.edges, tmp_path / "s.png")
    # 7 maps (all classes + 6 classes): 4 columns x 2 rows of 3.2 x 3.4 inches at 110 dpi
    assert _png_size(tmp_path / "s.png") == (1408, 748)
