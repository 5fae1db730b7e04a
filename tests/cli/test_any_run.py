"""train -> evaluate -> predict through the CLI for every model family (GNN, logistic regression,
blendshape random forest): one interface, no GNN-only commands."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fer_graph.cli import app

runner = CliRunner()

_SMALL = ["--folds", "2", "--epochs", "2", "--hidden", "8", "--layers", "1"]


def _train(tmp_path, ds, arch: str, name: str):
    out = tmp_path / name
    result = runner.invoke(app, ["train", "--data", ds.processed_dir, "--arch", arch, "--out", str(out), *_SMALL])
    assert result.exit_code == 0, result.output
    return out


def _evaluate(run, ds, out):
    result = runner.invoke(app, ["evaluate", str(run), "--data", ds.processed_dir, "--out", str(out)])
    assert result.exit_code == 0, result.output
    m = json.loads((out / "metrics.json").read_text())
    with (out / "predictions.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(ds) == m["n"]
    # the reported accuracy is the share of rows whose prediction equals the label
    assert m["accuracy"] == pytest.approx(np.mean([r["y_true"] == r["y_pred"] for r in rows]))
    return m, rows


@pytest.mark.parametrize("arch", ["logreg", "gat"])
def test_ibug_runs_evaluate_and_predict_from_csv(tmp_path, synthetic_ibug_graphs, synthetic_ck_lands, arch):
    from fer_graph.graphs.synthetic import make_face_landmarks, write_landmark_csv

    ds = synthetic_ibug_graphs
    run = _train(tmp_path, ds, arch, arch)
    m, _ = _evaluate(run, ds, tmp_path / "eval")
    assert m["classes"] == ds.classes
    # apex-only features: a CSV of single frames cannot give displacements, so train apex-only for it
    run_apex = tmp_path / f"{arch}_apex"
    result = runner.invoke(app, ["train", "--data", ds.processed_dir, "--arch", arch, "--features", "apex",
                                 "--out", str(run_apex), *_SMALL])
    assert result.exit_code == 0, result.output
    csv_path = write_landmark_csv(tmp_path / "faces.csv", make_face_landmarks(2, rng=5))
    result = runner.invoke(app, ["predict", str(csv_path), "--run", str(run_apex), "--json",
                                 "--out", str(tmp_path / "pred.csv")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert len(out["predictions"]) == 12 and out["classes"] == ds.classes
    for p in out["predictions"]:
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)
    if arch == "gat" and _has_onnx():
        _check_onnx_export(tmp_path, run_apex, csv_path, out)


def _has_onnx() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _check_onnx_export(tmp_path, run, csv_path, torch_out):
    """A run's fold model exported to ONNX predicts through the CLI as its PyTorch checkpoint does."""
    import fer_graph

    two = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "all.onnx")])
    assert two.exit_code == 1 and "2 fold models match" in two.output
    onnx_path = tmp_path / "fold0.onnx"
    assert runner.invoke(app, ["export", str(run), "--fold", "0", "--out", str(onnx_path)]).exit_code == 0
    result = runner.invoke(app, ["predict", str(csv_path), "--run", str(onnx_path), "--json",
                                 "--out", str(tmp_path / "pred_onnx.csv")])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)["predictions"]
    assert [p["input"] for p in got] == [p["input"] for p in torch_out["predictions"]]
    pts = np.random.default_rng(3).normal(0, 1, (4, 68, 2)).astype(np.float32) * 20 + 100
    np.testing.assert_allclose(fer_graph.load_model(onnx_path).predict_landmarks(pts),
                               fer_graph.load_model(run, folds=[0]).predict_landmarks(pts), atol=1e-5)
    assert len((tmp_path / "pred.csv").read_text().splitlines()) == 13


def test_blendshape_forest_run_evaluates_and_predicts_landmarks(tmp_path, synthetic_mesh_graphs):
    import fer_graph

    ds = synthetic_mesh_graphs
    run = _train(tmp_path, ds, "blendshape-rf", "rf")
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["fold_00.skops", "fold_01.skops"]
    m, rows = _evaluate(run, ds, tmp_path / "eval")
    model = fer_graph.load_model(run, folds=[1])
    bs = ds.tensor("blendshapes").numpy()
    pts = np.zeros((len(ds), 468, 2), np.float32) + np.arange(468, dtype=np.float32)[None, :, None]
    probs = model.predict_landmarks(pts, blendshapes=bs, head_pose=np.zeros((len(ds), 3)))
    # a blendshape-only forest ignores the landmarks: its output is the fold model's on the blendshapes
    est = model.models[0].estimator_
    expected = np.zeros_like(probs)
    expected[:, est.classes_] = est.predict_proba(bs)
    np.testing.assert_allclose(probs, expected)
    with pytest.raises(ValueError, match="blendshapes"):
        model.predict_landmarks(pts, head_pose=np.zeros((len(ds), 3)))


def test_sweep_takes_baseline_and_gnn_runs(tmp_path, synthetic_ibug_graphs):
    ds = synthetic_ibug_graphs
    runs = [_train(tmp_path, ds, a, a) for a in ("gcn", "logreg")]
    out = tmp_path / "sweep"
    args = ["occlusion-sweep", "--data", ds.processed_dir, "--out", str(out), "--regions", "mouth,eyes",
            "--extents", "0.2", "--noise", "0.05"]
    for r in runs:
        args += ["--run", str(r)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gcn"]["reference_strategy"] == "removal"
    assert summary["logreg"]["reference_strategy"] == "imputation"
    with (out / "sweep.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    strategies = {(r["model"], r["strategy"]) for r in rows}
    assert ("logreg", "removal") not in strategies and ("gcn", "removal") in strategies
    clean = {r["model"]: float(r["accuracy"]) for r in rows if r["region"] == "none"}
    for name, run in zip(("gcn", "logreg"), runs):
        m = json.loads((run / "metrics.json").read_text())
        assert clean[name] == pytest.approx(m["pooled"]["accuracy"], abs=1e-6)  # sweep.csv: 6 significant digits


@pytest.mark.mediapipe
@pytest.mark.data
def test_predict_image_works_for_every_model_family(tmp_path, ck48_graphs, ck48_subset, model_path):
    image = sorted(ck48_subset.rglob("*.png"))[0]
    for arch in ("logreg", "blendshape-rf", "gat"):
        run = _train(tmp_path, ck48_graphs, arch, arch)
        result = runner.invoke(app, ["predict", str(image), "--run", str(run), "--model", str(model_path), "--json"])
        assert result.exit_code == 0, (arch, result.output)
        out = json.loads(result.output)
        assert len(out["predictions"]) == 1 and not out["skipped"], arch
        probs = out["predictions"][0]["probabilities"]
        assert set(probs) == set(ck48_graphs.classes) and sum(probs.values()) == pytest.approx(1.0, abs=1e-4)


def test_predict_reads_pts_files_and_unlabelled_multi_face_openface_csvs(tmp_path, synthetic_ibug_graphs):
    from fer_graph.graphs.synthetic import make_face_landmarks

    run = tmp_path / "logreg"  # a single frame has no neutral onset: coordinates only
    trained = runner.invoke(app, ["train", "--data", synthetic_ibug_graphs.processed_dir, "--arch", "logreg",
                                  "--features", "apex", "--out", str(run), *_SMALL])
    assert trained.exit_code == 0, trained.output

    face = make_face_landmarks(1, rng=3).pixel_points()[0]  # (68, 2) pixels
    pts = tmp_path / "face.pts"
    pts.write_text("version: 1\nn_points:  68\n{\n" + "".join(f"{x:.3f} {y:.3f}\n" for x, y in face) + "}\n")
    result = runner.invoke(app, ["predict", str(pts), "--run", str(run), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["predictions"]
    # the same points through a CSV without label or subject, written as OpenFace writes two faces per frame
    header = "frame,face_id,success," + ",".join(f"x_{i}" for i in range(68)) + "," + ",".join(f"y_{i}" for i in range(68))
    line = ",".join(f"{v:.3f}" for v in face[:, 0]) + "," + ",".join(f"{v:.3f}" for v in face[:, 1])
    csv_file = tmp_path / "clip.csv"
    csv_file.write_text(f"{header}\n1,0,1,{line}\n1,1,1,{line}\n")
    result = runner.invoke(app, ["predict", str(csv_file), "--run", str(run), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["predictions"]
    assert [r["input"] for r in rows] == ["clip@1/face0", "clip@1/face1"]
    assert rows[0]["probabilities"] == pytest.approx(row["probabilities"], abs=1e-4)
    bad = tmp_path / "bad.pts"
    bad.write_text("version: 1\nn_points: 68\n{\n1 2\n}\n")
    result = runner.invoke(app, ["predict", str(bad), "--run", str(run)])
    assert result.exit_code == 1 and "bad.pts:5: n_points is 68, the block holds 1 points" in result.output
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00")
    result = runner.invoke(app, ["predict", str(video), "--run", str(run)])
    assert result.exit_code == 1 and "a video" in result.output
