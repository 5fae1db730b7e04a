from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from fer_graph.exceptions import DatasetLayoutError
from fer_graph.graphs import CKLandsGraphs, LandmarkCSVGraphs
from fer_graph.graphs.normalize import normalize_landmarks
from fer_graph.graphs.topology import IBUG68, LEFT_EYE_68, RIGHT_EYE_68
from fer_graph.landmarks import read_ck_lands


def test_items_and_shared_edge_index(tmp_path, ck_lands_small):
    ds = CKLandsGraphs(tmp_path / "out", ck_lands_small)
    lms = read_ck_lands(ck_lands_small)
    assert len(ds) == len(lms) == 24
    d0, d1 = ds[0], ds[1]
    assert d0.x.shape == (68, 2) and d0.onset.shape == (68, 2) and d0.edge_index.shape == (2, 360)
    assert d0.edge_index.data_ptr() == d1.edge_index.data_ptr() == IBUG68.edge_index.data_ptr()
    expected, _ = normalize_landmarks(lms.points, right_eye=RIGHT_EYE_68, left_eye=LEFT_EYE_68)
    torch.testing.assert_close(ds.tensor("pos"), torch.from_numpy(expected))
    assert [ds.classes[int(d.y)] for d in ds] == lms.labels and ds.sample_ids == lms.sample_ids
    assert ds.subjects == ["S001", "S002", "S003", "S004"] and ds.subjects[int(d0.subject)] == lms.subjects[0]
    onset, _ = normalize_landmarks(lms.onset, right_eye=RIGHT_EYE_68, left_eye=LEFT_EYE_68)
    torch.testing.assert_close(ds.tensor("onset"), torch.from_numpy(onset))
    # the processed file holds no edge_index at all, whatever the number of graphs
    raw = torch.load(ds.processed_paths[0], weights_only=False)[0]
    assert "edge_index" not in raw
    # PyG batching still works and replicates the shared edges per graph
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch.edge_index.shape == (2, 4 * 360) and batch.num_graphs == 4


def test_tensor_view_respects_index_selection(tmp_path, ck_lands_small):
    ds = CKLandsGraphs(tmp_path / "out", ck_lands_small)
    sub = ds[[4, 1]]
    torch.testing.assert_close(sub.tensor("pos"), ds.tensor("pos")[[4, 1]])
    torch.testing.assert_close(sub.tensor("y"), ds.tensor("y")[[4, 1]])
    assert ds.tensor("pos").data_ptr() == ds._data.pos.data_ptr()  # a view, no copy


def test_reload_reuses_and_options_rebuild(tmp_path, ck_lands_small):
    out = tmp_path / "out"
    first = CKLandsGraphs(out, ck_lands_small)
    assert first.build_seconds is not None
    again = CKLandsGraphs(out, ck_lands_small)
    assert again.build_seconds is None  # loaded, not rebuilt
    other = CKLandsGraphs(out, ck_lands_small, align=False)
    assert other.processed_dir != first.processed_dir and other.build_seconds is not None
    assert not torch.equal(other.tensor("pos"), first.tensor("pos"))
    # a meta.json whose options differ (stale or hand-edited) is rebuilt, never trusted
    meta_path = first.processed_paths[1]
    meta = json.loads(open(meta_path).read())
    meta["options"]["align"] = "stale"
    open(meta_path, "w").write(json.dumps(meta))
    assert CKLandsGraphs(out, ck_lands_small).build_seconds is not None
    # so is a change to the raw data
    (ck_lands_small / "S001" / "omlands.csv").write_text(
        (ck_lands_small / "S001" / "omlands.csv").read_text().replace("001; ", "001;  ", 1))
    import os
    os.utime(ck_lands_small / "S001" / "omlands.csv", (1, 1))
    assert CKLandsGraphs(out, ck_lands_small).build_seconds is not None


def test_interrupted_build_leaves_no_partial_file(tmp_path, ck_lands_small, monkeypatch):
    out = tmp_path / "out"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        CKLandsGraphs(out, ck_lands_small)
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and p.name not in ("pre_transform.pt", "pre_filter.pt")]
    assert leftovers == []
    monkeypatch.undo()
    ds = CKLandsGraphs(out, ck_lands_small)
    assert len(ds) == 24 and ds.build_seconds is not None


def test_missing_root_is_clear(tmp_path):
    with pytest.raises(DatasetLayoutError, match="no emotion.csv"):
        CKLandsGraphs(tmp_path / "out", tmp_path / "nowhere")


def test_csv_dataset_with_z(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.normal(size=(478, 3)).astype(np.float32)
    pts = base + 0.01 * rng.normal(size=(4, 478, 3)).astype(np.float32)
    cols = ",".join(f"{a}{i}" for i in range(478) for a in "xyz")
    rows = [f"sample_id,subject,label,{cols}"] + [
        f"s{k},p{k % 2},{lab}," + ",".join(f"{v:.5f}" for v in p.reshape(-1))
        for k, (p, lab) in enumerate(zip(pts, ["happy", "sad", "happy", "neutral"]))]
    csv = tmp_path / "mp.csv"
    csv.write_text("\n".join(rows) + "\n")
    ds = LandmarkCSVGraphs(tmp_path / "out", csv, include_z=True)
    assert ds.meta["topology"] == "mediapipe468" and ds[0].x.shape == (468, 3)
    assert ds.classes == ["happiness", "neutral", "sadness"] and ds.subjects == ["p0", "p1"]
    iris = LandmarkCSVGraphs(tmp_path / "out", csv, include_iris=True)
    assert iris[0].x.shape == (478, 2) and iris[0].edge_index.shape == (2, 2740)
