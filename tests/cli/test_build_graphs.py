from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from fer_graph.cli import app

runner = CliRunner()


def test_build_graphs_ck_lands_writes_summary(tmp_path, ck_lands_small):
    from fer_graph.graphs.load import load_processed
    from fer_graph.landmarks import read_ck_lands

    out = tmp_path / "out"
    result = runner.invoke(app, ["build-graphs", "--source", "ck-lands", "--root", str(ck_lands_small),
                                 "--out", str(out), "--apex-frames", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for key in ("source", "graphs", "subjects", "nodes", "edges", "per_class", "per_split", "skipped",
                "detection_rate", "wall_s", "images_per_s"):
        assert key in summary
    # 4 subjects x 6 classes, the last 2 of 3 expression frames of each sequence
    assert summary["source"] == "ck-lands" and summary["graphs"] == 48 and summary["subjects"] == 4
    assert summary["nodes"] == 68 and summary["edges"] == 180 and summary["topology"] == "ibug68"
    assert summary["per_class"] == {c: 8 for c in ("anger", "disgust", "fear", "happiness", "sadness", "surprise")}
    assert summary["per_split"] == {"all": 48} and summary["rebuilt"] is True
    assert summary["skipped"] == {} and summary["detection_rate"] is None and summary["images_per_s"] is None
    assert (out / "skipped.csv").read_text().splitlines() == ["path,reason,detail"]
    assert "happiness" in result.output and "48 graphs" in result.output
    ds = load_processed(out)
    assert ds.processed_dir == summary["processed_dir"] and len(ds) == 48
    assert ds.sample_ids == read_ck_lands(ck_lands_small, apex_frames=2).sample_ids
    again = runner.invoke(app, ["build-graphs", "-s", "ck-lands", "--root", str(ck_lands_small), "--out", str(out),
                                "--apex-frames", "2"])
    assert again.exit_code == 0 and "up to date, loaded" in again.output
    assert json.loads((out / "summary.json").read_text())["rebuilt"] is False


def test_root_resolves_under_data_env(tmp_path, ck_lands_small, monkeypatch):
    from fer_graph.graphs.load import load_processed

    monkeypatch.setenv("FER_GRAPH_DATA", str(ck_lands_small.parent))
    monkeypatch.chdir(tmp_path)  # no ./CK+ here: the relative name must come from FER_GRAPH_DATA
    out = tmp_path / "o"
    result = runner.invoke(app, ["build-graphs", "-s", "ck-lands", "--root", "CK+", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["graphs"] == 24 and summary["options"]["raw_root"] == str(ck_lands_small.resolve())
    assert np.unique(load_processed(out).tensor("subject").numpy()).tolist() == [0, 1, 2, 3]


def test_errors_are_one_clear_line(tmp_path):
    result = runner.invoke(app, ["build-graphs", "--source", "ck-lands", "--root", str(tmp_path / "nope"),
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "error:" in result.output and "emotion.csv" in result.output
    assert "Traceback" not in result.output


def test_face_mesh_sources_default_to_pose_aligned_3d_graphs():
    from fer_graph.cli.app import _build_align

    assert _build_align("mediapipe", None, True, None) == "pose"
    assert _build_align("mediapipe", None, True, False) is True  # --no-include-z: 2-D, eye-aligned
    assert _build_align("mediapipe", False, True, None) is True
    assert _build_align("mediapipe", None, False, None) is False  # --no-align: raw coordinates
    assert _build_align("csv", None, True, None) is True and _build_align("ck-lands", None, True, None) is True
    assert _build_align("csv", True, True, True) == "pose"
