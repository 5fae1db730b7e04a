"""Occlusion over time: sequence corruptions and the sweep scoring sequence and frame-pair models alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.graphs.dataset import CKLandsGraphs
from fer_graph.graphs.features import FeatureSpec
from fer_graph.graphs.topology import get_topology
from fer_graph.occlusion.regions import region_mask
from fer_graph.occlusion.temporal import TemporalCondition, corrupt_sequence, temporal_conditions
from fer_graph.evaluation.temporal_sweep import temporal_features, temporal_sweep

TOPO = get_topology("ibug68")


def _frames(t: int = 8) -> np.ndarray:
    """(68, t, 2): frame k is all k."""
    return np.broadcast_to(np.arange(t, dtype=np.float32)[None, :, None], (68, t, 2)).copy()


def test_region_hidden_in_a_fraction_of_frames():
    f, vis = corrupt_sequence(_frames(), TemporalCondition("region_frames", 0.5, "mouth"), TOPO,
                              np.random.default_rng(0))
    np.testing.assert_array_equal(f, _frames())  # coordinates untouched: only flagged unseen
    mouth = region_mask("mouth", TOPO)
    hidden_frames = (~vis[mouth]).all(0)
    assert hidden_frames.sum() == 4 and vis[~mouth].all() and (~vis[mouth][:, hidden_frames]).all()


def test_frame_drop_repeats_the_last_kept_frame_and_keeps_the_onset():
    f, vis = corrupt_sequence(_frames(), TemporalCondition("frame_drop", 0.5), TOPO, np.random.default_rng(1))
    seq = f[0, :, 0]
    assert vis.all() and seq[0] == 0 and np.all(np.diff(seq) >= 0)
    assert len(set(seq.tolist())) == 8 - round(0.5 * 7)  # 4 of the 7 frames after the onset dropped
    kept = np.flatnonzero(np.diff(np.concatenate([[-1], seq])) > 0)
    np.testing.assert_array_equal(seq[kept], kept)  # kept frames are themselves


def test_noise_is_seeded_and_sized():
    cond = TemporalCondition("temporal_noise", 0.1)
    a = corrupt_sequence(_frames(), cond, TOPO, np.random.default_rng(3))[0]
    b = corrupt_sequence(_frames(), cond, TOPO, np.random.default_rng(3))[0]
    np.testing.assert_array_equal(a, b)
    assert abs(float((a - _frames()).std()) - 0.1) < 0.01
    with pytest.raises(ValueError, match="temporal condition"):
        corrupt_sequence(_frames(), TemporalCondition("blur"), TOPO, np.random.default_rng(0))
    names = [c.name for c in temporal_conditions()]
    assert names[0] == "clean" and "region_frames:mouth:0.5" in names and len(set(names)) == len(names)


def test_features_mask_what_each_model_cannot_see():
    frames = np.stack([_frames(4)])
    vis = np.ones((1, 68, 4), bool)
    vis[0, 5, 0] = False  # landmark 5 hidden at the onset only
    vis[0, 6, 2] = False  # landmark 6 hidden in a middle frame only
    x, seen = temporal_features(FeatureSpec.parse("seq"), frames, vis)
    assert x.shape == seen.shape == (1, 68, 16)
    per = seen.view(1, 68, 4, 4)
    assert not per[0, 5, :, 2:].any() and per[0, 5, 1:, :2].all()  # displacements lost, later coordinates kept
    assert not per[0, 6, 2].any() and per[0, 6, [0, 1, 3]].all()
    x2, seen2 = temporal_features(FeatureSpec.parse("apex+disp"), frames, vis)
    assert x2.shape == (1, 68, 4) and not seen2[0, 5].any() and seen2[0, 6].all()  # the pair never sees frame 2
    torch.testing.assert_close(x2[0, 0], torch.tensor([3.0, 3.0, 3.0, 3.0]))


def test_sweep_clean_row_reproduces_the_runs(tmp_path, synthetic_ck_lands):
    import json

    from fer_graph.training import TrainConfig, train

    ds = CKLandsGraphs(tmp_path / "seq", synthetic_ck_lands, sequence_frames=4)
    train(ds, TrainConfig(arch="stgcn", epochs=3, folds=2, hidden=8, layers=1, batch_size=8), tmp_path / "st")
    train(ds, TrainConfig(arch="gcn", features="apex+disp", epochs=3, folds=2, hidden=8, layers=1, batch_size=8),
          tmp_path / "pair")
    conds = [TemporalCondition("clean"), TemporalCondition("region_frames", 1.0, "mouth")]
    rows = temporal_sweep([tmp_path / "st", tmp_path / "pair"], ds, conds, strategies={"pair": "removal"})
    assert [(r["model"], r["condition"]) for r in rows] == [("st", "clean"), ("pair", "clean"),
                                                           ("st", "region_frames:mouth:1"), ("pair", "region_frames:mouth:1")]
    for r in rows[:2]:
        pooled = json.loads((tmp_path / r["model"] / "metrics.json").read_text())["pooled"]["accuracy"]
        assert r["accuracy"] == pytest.approx(pooled) and r["n"] == len(ds)
    plain = CKLandsGraphs(tmp_path / "plain", synthetic_ck_lands)
    with pytest.raises(Exception, match="sequence dataset"):
        temporal_sweep([tmp_path / "pair"], plain, conds)
    # the command writes the same rows (same seed, same corruptions)
    from typer.testing import CliRunner

    from fer_graph.cli import app

    res = CliRunner().invoke(app, ["temporal-sweep", "--run", str(tmp_path / "st"), "--run", str(tmp_path / "pair"),
                                   "--data", str(tmp_path / "seq"), "--out", str(tmp_path / "sw"), "--regions", "mouth",
                                   "--fractions", "1.0", "--drops", "", "--noise", "", "--removal", "pair"])
    assert res.exit_code == 0, res.output
    written = json.loads((tmp_path / "sw" / "temporal.json").read_text())["rows"]
    assert [r["accuracy"] for r in written] == [r["accuracy"] for r in rows]
    assert (tmp_path / "sw" / "temporal.csv").read_text().count("\n") == len(rows) + 1
