"""The processed folder is named by build options only: OUT and the raw data can be moved or cloned."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from fer_graph.graphs import LandmarkCSVGraphs
from fer_graph.graphs.build import build_graphs
from fer_graph.graphs.load import load_processed


def _csv(path, n=6, seed=0):
    """A generic 68-point 2-D CSV: one random face shape with small per-sample offsets, 2 labels, 3 subjects."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(68, 2)) * 40 + 100 + rng.normal(size=(n, 68, 2))
    cols = ",".join(f"{a}{i}" for i in range(68) for a in "xy")
    rows = [f"sample_id,subject,label,{cols}"] + [
        f"s{k},p{k % 3},{'happy' if k % 2 else 'sad'}," + ",".join(f"{v:.4f}" for v in p.reshape(-1))
        for k, p in enumerate(pts)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def _forbid_builds(monkeypatch):
    """Make any build fail: what follows must load existing processed folders."""
    def process(self):
        raise AssertionError(f"rebuilt {self.processed_dir}")

    monkeypatch.setattr(LandmarkCSVGraphs, "process", process)


def test_moved_output_folder_loads_without_rebuild(tmp_path, monkeypatch):
    csv = _csv(tmp_path / "raw" / "lm.csv")
    built = LandmarkCSVGraphs(tmp_path / "out", csv)
    assert built.build_seconds is not None
    name, pos = Path(built.processed_dir).name, built.tensor("pos").clone()
    assert json.loads((tmp_path / "out" / "processed" / name / "meta.json").read_text())["options"]["raw_root"] \
        == str(csv.resolve())
    shutil.move(tmp_path / "out", tmp_path / "moved")
    assert not (tmp_path / "out").exists()
    _forbid_builds(monkeypatch)
    for loaded in (load_processed(tmp_path / "moved"), load_processed(tmp_path / "moved" / "processed" / name),
                   LandmarkCSVGraphs(tmp_path / "moved", csv)):
        assert loaded.processed_dir == str(tmp_path / "moved" / "processed" / name)
        assert loaded.build_seconds is None and len(loaded) == 6
        torch.testing.assert_close(loaded.tensor("pos"), pos)
        assert loaded.classes == ["happiness", "sadness"] and loaded.subjects == ["p0", "p1", "p2"]


def test_summary_names_the_dataset_after_a_move(tmp_path):
    csv = _csv(tmp_path / "raw" / "lm.csv")
    aligned, _ = build_graphs("csv", csv, tmp_path / "out")
    unaligned, summary = build_graphs("csv", csv, tmp_path / "out", align=False)  # summary.json names this one
    assert aligned.processed_dir != unaligned.processed_dir
    shutil.move(tmp_path / "out", tmp_path / "moved")
    loaded = load_processed(tmp_path / "moved")  # two processed datasets there: summary.json decides
    assert loaded.meta["options"]["align"] is False and Path(loaded.processed_dir).name == Path(
        summary["processed_dir"]).name
    torch.testing.assert_close(loaded.tensor("pos"), unaligned.tensor("pos"))


def test_cloned_or_moved_raw_data_reuses_the_folder(tmp_path, monkeypatch):
    csv = _csv(tmp_path / "a" / "lm.csv")
    first = LandmarkCSVGraphs(tmp_path / "out", csv)
    clone = tmp_path / "b" / "lm.csv"
    clone.parent.mkdir()
    shutil.copy2(csv, clone)  # same content, name, size and mtime: the same raw fingerprint
    moved = tmp_path / "c" / "lm.csv"
    moved.parent.mkdir()
    shutil.move(csv, moved)
    _forbid_builds(monkeypatch)
    for raw in (clone, moved):
        again = LandmarkCSVGraphs(tmp_path / "out", raw)
        assert again.processed_dir == first.processed_dir and again.build_seconds is None
        meta = json.loads((Path(again.processed_dir) / "meta.json").read_text())
        assert meta["options"]["raw_root"] == str(raw.resolve())  # the informational path follows the data


def test_build_options_still_separate_folders_and_raw_changes_rebuild(tmp_path):
    csv = _csv(tmp_path / "raw" / "lm.csv")
    base = LandmarkCSVGraphs(tmp_path / "out", csv)
    other = LandmarkCSVGraphs(tmp_path / "out", csv, align=False)
    sized = LandmarkCSVGraphs(tmp_path / "out", csv, image_size=(200, 200))
    assert len({base.processed_dir, other.processed_dir, sized.processed_dir}) == 3
    assert LandmarkCSVGraphs(tmp_path / "out", csv, image_size=(200, 200)).build_seconds is None  # tuple vs JSON list
    _csv(csv, seed=1)  # new content at the same path (mtime moved: the fingerprint has 1 s resolution)
    os.utime(csv, (1, 1))
    rebuilt = LandmarkCSVGraphs(tmp_path / "out", csv)
    assert rebuilt.processed_dir == base.processed_dir and rebuilt.build_seconds is not None
    assert not torch.equal(rebuilt.tensor("pos"), base.tensor("pos"))
