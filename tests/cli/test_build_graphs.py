from __future__ import annotations

import json

from typer.testing import CliRunner

from fer_graph.cli import app

runner = CliRunner()


def test_build_graphs_ck_lands_writes_summary(tmp_path, ck_lands_subset):
    out = tmp_path / "out"
    result = runner.invoke(app, ["build-graphs", "--source", "ck-lands", "--root", str(ck_lands_subset),
                                 "--out", str(out), "--apex-frames", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for key in ("source", "graphs", "subjects", "nodes", "edges", "per_class", "per_split", "skipped",
                "detection_rate", "wall_s", "images_per_s"):
        assert key in summary
    assert summary["source"] == "ck-lands" and summary["graphs"] == 32 and summary["subjects"] == 4
    assert summary["nodes"] == 68 and summary["edges"] == 180
    assert sum(summary["per_class"].values()) == 32 and summary["per_split"] == {"all": 32}
    assert summary["skipped"] == {} and summary["detection_rate"] is None
    assert (out / "skipped.csv").read_text().splitlines() == ["path,reason,detail"]
    assert "happiness" in result.output


def test_root_resolves_under_data_env(tmp_path, ck_lands_subset, monkeypatch):
    monkeypatch.setenv("FER_GRAPH_DATA", str(ck_lands_subset.parent))
    out = tmp_path / "o"
    result = runner.invoke(app, ["build-graphs", "-s", "ck-lands", "--root", "CK+", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["graphs"] == 16


def test_errors_are_one_clear_line(tmp_path):
    result = runner.invoke(app, ["build-graphs", "--source", "ck-lands", "--root", str(tmp_path / "nope"),
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "error:" in result.output and "emotion.csv" in result.output
    assert "Traceback" not in result.output
