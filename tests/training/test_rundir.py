"""Run directories under faults: nothing lost, nothing mixed, nothing executed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fer_graph.cli import app
from fer_graph.config import TrainConfig
from fer_graph.evaluation.predictor import load_fold_models
from fer_graph.training import train
from fer_graph.training.rundir import MANIFEST, IncompleteRunError, RunExistsError, verify_run

runner = CliRunner()
TINY = dict(epochs=2, hidden=8, layers=1, heads=2)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_existing_run_is_refused_then_replaced_whole(tmp_path, synthetic_ibug_graphs):
    run = tmp_path / "run"
    train(synthetic_ibug_graphs, TrainConfig(arch="gat", folds=3, **TINY), run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["fold_00.pt", "fold_01.pt", "fold_02.pt"]
    with pytest.raises(RunExistsError, match="pass --force"):
        train(synthetic_ibug_graphs, TrainConfig(arch="gcn", folds=2, **TINY), run)
    assert json.loads((run / "config.json").read_text())["arch"] == "gat"  # untouched by the refusal
    train(synthetic_ibug_graphs, TrainConfig(arch="gcn", folds=2, **TINY), run, force=True)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["fold_00.pt", "fold_01.pt"]
    models, meta = load_fold_models(run)
    assert sorted(models) == [0, 1] and meta["arch"] == "gcn"
    assert not list(tmp_path.glob(".run.*"))  # no staging folder left behind


def test_partial_or_altered_runs_are_refused(tmp_path, synthetic_ibug_graphs):
    run = tmp_path / "run"
    train(synthetic_ibug_graphs, TrainConfig(arch="logreg", folds=2), run)
    manifest = verify_run(run)
    assert set(manifest["files"]) >= {"config.json", "metrics.json", "predictions.csv",
                                      "checkpoints/fold_00.skops", "checkpoints/fold_01.skops"}
    # a planted model file is never loaded: only what the manifest lists
    (run / "checkpoints" / "fold_02.pt").write_bytes(b"planted")
    assert sorted(load_fold_models(run)[0]) == [0, 1]
    (run / "checkpoints" / "fold_01.skops").unlink()
    with pytest.raises(IncompleteRunError, match=r"1 file\(s\) of manifest.json missing: \['checkpoints/fold_01.skops'\]"):
        load_fold_models(run)
    result = runner.invoke(app, ["evaluate", str(run), "--data", synthetic_ibug_graphs.processed_dir])
    assert result.exit_code == 1 and "incomplete run" in result.output and "Traceback" not in result.output
    (run / MANIFEST).unlink()
    with pytest.raises(IncompleteRunError, match="no manifest.json"):
        load_fold_models(run)


def test_changed_file_is_refused(tmp_path, synthetic_ibug_graphs):
    run = tmp_path / "run"
    train(synthetic_ibug_graphs, TrainConfig(arch="gcn", folds=2, **TINY), run)
    with (run / "checkpoints" / "fold_00.pt").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(IncompleteRunError, match=r"changed since the run was written: \['checkpoints/fold_00.pt'\]"):
        load_fold_models(run)


def test_identical_runs_write_identical_checkpoints(tmp_path, synthetic_ibug_graphs):
    cfg = TrainConfig(arch="gcn", folds=2, **TINY)
    train(synthetic_ibug_graphs, cfg, tmp_path / "a")
    train(synthetic_ibug_graphs, cfg, tmp_path / "b")
    for name in ("fold_00.pt", "fold_01.pt"):
        assert _digest(tmp_path / "a" / "checkpoints" / name) == _digest(tmp_path / "b" / "checkpoints" / name)


def test_files_follow_the_umask(tmp_path, synthetic_ibug_graphs):
    old = os.umask(0o027)
    try:
        train(synthetic_ibug_graphs, TrainConfig(arch="logreg", folds=2), tmp_path / "run")
    finally:
        os.umask(old)
    for name in ("metrics.json", "predictions.csv", "checkpoints/fold_00.skops", MANIFEST):
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == 0o640, name


_KILLED_TRAIN = """
import sys
from fer_graph.config import TrainConfig
from fer_graph.graphs.load import load_processed
from fer_graph.training import train

def on_epoch(k, log):
    print("epoch", k, log.epoch, flush=True)

train(load_processed(sys.argv[1]), TrainConfig(arch="gcn", folds=2, epochs=10000, patience=10000, hidden=8,
      layers=1), sys.argv[2], force=True, on_epoch=on_epoch)
"""


def test_killed_training_leaves_the_old_run_intact(tmp_path, synthetic_ibug_graphs):
    run = tmp_path / "run"
    train(synthetic_ibug_graphs, TrainConfig(arch="logreg", folds=2), run)
    before = {p.relative_to(run): _digest(p) for p in run.rglob("*") if p.is_file()}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_TRAIN, synthetic_ibug_graphs.processed_dir, str(run)],
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # wait until it is training, then kill it without warning
            if line.startswith("epoch 0 3"):
                break
        assert any(tmp_path.glob(".run.partial-*")), "training writes into a staging folder"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert {p.relative_to(run): _digest(p) for p in run.rglob("*") if p.is_file()} == before
    assert load_fold_models(run)[1]["arch"] == "logreg"
    # the next training into that name clears the dead process's staging folder
    time.sleep(0.1)
    train(synthetic_ibug_graphs, TrainConfig(arch="gcn", folds=2, **TINY), run, force=True)
    assert not list(tmp_path.glob(".run.*")) and load_fold_models(run)[1]["arch"] == "gcn"


def test_cli_errors_are_one_line(tmp_path, synthetic_ibug_graphs):
    run = tmp_path / "run"
    train(synthetic_ibug_graphs, TrainConfig(arch="gcn", folds=2, **TINY), run)
    again = runner.invoke(app, ["train", "--data", synthetic_ibug_graphs.processed_dir, "--out", str(run),
                                "--arch", "logreg", "--folds", "2"])
    assert again.exit_code == 1 and "pass --force" in again.output and "Traceback" not in again.output
    csv_path = tmp_path / "faces.csv"
    from fer_graph.graphs.synthetic import make_face_landmarks, write_landmark_csv

    write_landmark_csv(csv_path, make_face_landmarks(2, rng=3))
    onto_dir = runner.invoke(app, ["predict", str(csv_path), "--run", str(run), "--out", str(tmp_path)])
    assert onto_dir.exit_code == 1 and "is a folder; --out takes a file path" in onto_dir.output
    (run / "checkpoints" / "fold_00.pt").write_bytes(b"PK\x03\x04")
    from fer_graph.training.rundir import write_manifest

    write_manifest(run)  # a damaged model listed as if it were valid: the loader still names the file
    bad = runner.invoke(app, ["evaluate", str(run), "--data", synthetic_ibug_graphs.processed_dir])
    assert bad.exit_code == 1 and "fold_00.pt: not a readable fer-graph checkpoint" in bad.output
    assert len(bad.output.strip().splitlines()) <= 2 and "Traceback" not in bad.output
    debug = runner.invoke(app, ["--debug", "evaluate", str(run), "--data", synthetic_ibug_graphs.processed_dir])
    assert debug.exit_code == 1 and debug.exception is not None  # --debug lets the exception through


def test_unsafe_checkpoint_refusal_gives_no_bypass_advice(tmp_path):
    import torch

    from fer_graph.models.estimator import ModelLoadError, load_classifier

    class Planted:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "fold_00.pt"
    torch.save({"state_dict": {}, "meta": Planted()}, path)
    with pytest.raises(ModelLoadError) as err:
        load_classifier(path)
    text = str(err.value)
    assert text.startswith(f"{path}: refused") and "weights_only=False" not in text and "trust" not in text


def test_predict_with_nothing_to_predict_fails(tmp_path, synthetic_mesh_graphs):
    run = tmp_path / "run"
    train(synthetic_mesh_graphs, TrainConfig(arch="logreg", folds=2), run)
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["predict", str(tmp_path / "empty"), "--run", str(run)])
    assert result.exit_code == 1 and "no images found" in result.output


@pytest.mark.mediapipe
def test_predict_exits_1_when_no_face_is_found(tmp_path, synthetic_mesh_graphs, model_path):
    from PIL import Image

    run = tmp_path / "run"
    train(synthetic_mesh_graphs, TrainConfig(arch="logreg", folds=2), run)
    Image.new("RGB", (64, 64), (128, 128, 128)).save(tmp_path / "blank.png")
    result = runner.invoke(app, ["predict", str(tmp_path / "blank.png"), "--run", str(run), "--model", str(model_path)])
    assert result.exit_code == 1 and "nothing was predicted (no_face)" in result.output


def test_predict_without_out_writes_no_file(tmp_path, synthetic_ibug_graphs, monkeypatch):
    from fer_graph.graphs.synthetic import make_face_landmarks, write_landmark_csv

    run = tmp_path / "run"
    train(synthetic_ibug_graphs, TrainConfig(arch="logreg", folds=2, features="apex"), run)
    csv_path = write_landmark_csv(tmp_path / "faces.csv", make_face_landmarks(2, rng=3))
    work = tmp_path / "cwd"
    work.mkdir()
    (work / "predictions.csv").write_text("mine\n")
    monkeypatch.chdir(work)
    result = runner.invoke(app, ["predict", str(csv_path), "--run", str(run)])
    assert result.exit_code == 0, result.output
    assert "12 prediction(s)" in result.output
    assert sorted(p.name for p in work.iterdir()) == ["predictions.csv"]
    assert (work / "predictions.csv").read_text() == "mine\n"  # a user's file is never overwritten
