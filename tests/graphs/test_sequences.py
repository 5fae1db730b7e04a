"""Sequence datasets: frame resampling, temporal augmentation, the ``seq`` features and the ST-GCN model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.graphs.dataset import CKLandsGraphs
from fer_graph.graphs.features import FeatureSpec
from fer_graph.graphs.sequences import temporal_augment, time_warp
from fer_graph.landmarks.frames import resample_frames
from fer_graph.models.stgcn import STGCN, normalized_adjacency


def _ramp(t0: int = 5) -> np.ndarray:
    """(t0, 2, 1) frames whose value is the frame index."""
    return np.arange(t0, dtype=np.float32)[:, None, None].repeat(2, 1)


def test_uniform_resampling_interpolates_linearly():
    out = resample_frames(_ramp(5), 9)
    assert out.shape == (9, 2, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, 0], np.linspace(0, 4, 9))
    np.testing.assert_allclose(resample_frames(_ramp(2), 3)[:, 0, 0], [0, 0.5, 1])


def test_ends_sampling_keeps_recorded_frames():
    np.testing.assert_array_equal(resample_frames(_ramp(10), 6, "ends")[:, 0, 0], [0, 1, 2, 7, 8, 9])
    np.testing.assert_allclose(resample_frames(_ramp(3), 6, "ends")[:, 0, 0], np.linspace(0, 2, 6))  # too short


def test_resampling_rejects_bad_arguments():
    with pytest.raises(ValueError, match=">= 2"):
        resample_frames(_ramp(), 1)
    with pytest.raises(ValueError, match="sampling"):
        resample_frames(_ramp(), 4, "random")
    with pytest.raises(ValueError, match="onset and an apex"):
        resample_frames(_ramp(1), 4)


def test_time_warp_identity_and_half_steps():
    x = torch.arange(4.0).view(1, 1, 4, 1).repeat(2, 3, 1, 2)
    same = time_warp(x, torch.arange(4.0).repeat(2, 1))
    torch.testing.assert_close(same, x)
    half = time_warp(x, torch.tensor([[0.5, 1.5, 2.5, 3.0]] * 2))
    torch.testing.assert_close(half[0, 0, :, 0], torch.tensor([0.5, 1.5, 2.5, 3.0]))


def test_temporal_augment_keeps_order_range_and_is_seeded():
    x = torch.linspace(0, 1, 8).view(1, 1, 8, 1).repeat(16, 5, 1, 3)
    a = temporal_augment(x, generator=torch.Generator().manual_seed(0))
    b = temporal_augment(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert (a[:, :, 1:] - a[:, :, :-1] >= -1e-6).all()  # time still runs forward (dropped frames repeat)
    assert not torch.allclose(a, x)
    # every node of a sequence is warped alike
    torch.testing.assert_close(a[:, 0], a[:, 4])


def test_sequence_dataset_and_seq_features(tmp_path, synthetic_ck_lands):
    ds = CKLandsGraphs(tmp_path / "seq", synthetic_ck_lands, sequence_frames=4)
    frames = ds.tensor("frames")
    assert frames.shape == (len(ds), 68, 4, 2)
    torch.testing.assert_close(frames[:, :, 0], ds.tensor("onset"))
    torch.testing.assert_close(frames[:, :, -1], ds.tensor("pos"))
    x = FeatureSpec.parse("seq").node_features(ds)
    assert x.shape == (len(ds), 68, 16)
    per_frame = x.view(len(ds), 68, 4, 4)
    torch.testing.assert_close(per_frame[..., :2], frames)
    torch.testing.assert_close(per_frame[..., 2:], frames - ds.tensor("onset")[:, :, None])
    plain = CKLandsGraphs(tmp_path / "plain", synthetic_ck_lands)
    assert "frames" not in plain.meta["attributes"] and plain.processed_dir != ds.processed_dir
    with pytest.raises(ValueError, match="frames"):
        FeatureSpec.parse("seq").node_features(plain)
    with pytest.raises(ValueError, match="without 'apex'"):
        FeatureSpec.parse("seq+apex")
    with pytest.raises(ValueError, match="frame_sampling"):
        CKLandsGraphs(tmp_path / "bad", synthetic_ck_lands, sequence_frames=4, frame_sampling="middle")


def test_normalized_adjacency_is_symmetric_with_unit_spectrum():
    a = normalized_adjacency(torch.tensor([[0, 1, 2], [1, 2, 3]]), 4)
    torch.testing.assert_close(a, a.T)
    assert float(torch.linalg.eigvalsh(a).max()) == pytest.approx(1.0, abs=1e-5)
    assert a[0, 3] == 0 and a[0, 1] > 0 and a[3, 3] > 0


def test_stgcn_shapes_masking_and_frame_check():
    torch.manual_seed(0)
    edges = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    m = STGCN(4 * 6, 3, frames=6, num_nodes=5, hidden_channels=8, num_layers=2, temporal_kernel=3).eval()
    x = torch.randn(7, 5, 24)
    out = m(x, edges)
    assert out.shape == (7, 3) and torch.isfinite(out).all()
    present = torch.ones(7, 5, dtype=torch.bool)
    present[:, 2] = False
    masked = x.clone()
    masked[:, 2] = m.x_mean[2]  # a masked node reads as the training mean
    torch.testing.assert_close(m(x, edges, mask=present), m(masked, edges))
    flat = STGCN(24, 3, frames=6, num_nodes=5, hidden_channels=8, readout="flatten").eval()
    assert flat(x, edges).shape == (7, 3)
    with pytest.raises(ValueError, match="frames"):
        STGCN(25, 3, frames=6, num_nodes=5)
    with pytest.raises(ValueError, match="visibility"):
        m(x, edges, visible=present)


def test_stgcn_trains_on_sequences_with_the_frame_models_folds(tmp_path, synthetic_ck_lands):
    from fer_graph.training import TrainConfig, load_checkpoint, train

    seq = CKLandsGraphs(tmp_path / "seq", synthetic_ck_lands, sequence_frames=4)
    plain = CKLandsGraphs(tmp_path / "plain", synthetic_ck_lands)
    cfg = dict(epochs=40, patience=100, folds=2, hidden=16, layers=2, batch_size=8, lr=5e-3, readout="flatten",
               extra={"temporal_pool": "last"})
    m = train(seq, TrainConfig(arch="stgcn", **cfg), tmp_path / "st")
    g = train(plain, TrainConfig(arch="gcn", epochs=1, folds=2, hidden=8, layers=1), tmp_path / "g")
    assert m["features"] == "seq" and m["accuracy_mean"] > 0.4  # chance 1/6: the displacements separate classes
    # the same subject folds as the frame-pair models on the frame dataset
    assert [f["n"] for f in m["per_fold"]] == [f["n"] for f in g["per_fold"]]
    model, meta = load_checkpoint(tmp_path / "st" / "checkpoints" / "fold_00.pt")
    assert meta["arch"] == "stgcn" and meta["model_kwargs"]["frames"] == 4 and meta["features"] == "seq"
    with pytest.raises(ValueError, match="sequence dataset"):
        train(plain, TrainConfig(arch="stgcn", features="apex+disp", **cfg), tmp_path / "bad")
