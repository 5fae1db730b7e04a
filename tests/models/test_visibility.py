"""The visibility estimator and its scores, on synthetic patch features."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.evaluation.visibility import hidden_scores, visibility_report
from fer_graph.models.visibility import VisibilityConfig, VisibilityEstimator
from fer_graph.occlusion.regions import get_region


def _task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hidden landmarks are a random region's nodes; their first feature is shifted by +1.5 (noise sd 1).
    18 features: two 3 x 3 lattices."""
    rng = np.random.default_rng(seed)
    regions = [get_region(r, "mediapipe468") for r in ("eyes", "mouth", "lower_face", "left_half")]
    hidden = np.zeros((n, 468), bool)
    for i in range(n):
        if rng.random() < 0.8:
            hidden[i, regions[rng.integers(len(regions))]] = True
    x = rng.normal(0, 1, (n, 468, 18)).astype(np.float32)
    x[..., 0] += 1.5 * hidden
    return x.astype(np.float16), hidden


def test_estimator_learns_and_neighbours_vote(tmp_path):
    x, y = _task(160, 0)
    xv, yv = _task(60, 1)
    est = VisibilityEstimator(config=VisibilityConfig(epochs=6, seed=3)).fit(x, y, val=(xv, yv))
    p = est.predict_proba(xv)
    assert p.shape == (60, 468) and p.dtype == np.float32 and ((p >= 0) & (p <= 1)).all()
    auc = hidden_scores(p, yv)["auc"]
    # one feature at d' = 1.5 alone gives AUC 0.86; regions make neighbours informative
    assert auc > 0.95
    assert len(est.history_) == 6 and est.history_[-1]["train_loss"] < est.history_[0]["train_loss"]
    assert "val_loss" in est.history_[0]
    est.save(tmp_path / "v.pt")
    again = VisibilityEstimator.load(tmp_path / "v.pt")
    np.testing.assert_allclose(again.predict_proba(xv), p, atol=1e-5)
    np.testing.assert_allclose(again.predict_proba(xv[0]), p[0], atol=1e-5)  # one face: (V,)
    np.testing.assert_array_equal(again.predict_hidden(xv), p < 0.5)
    refit = VisibilityEstimator(config=VisibilityConfig(epochs=6, seed=3)).fit(x, y)
    np.testing.assert_allclose(refit.predict_proba(xv), p, atol=1e-6)  # seeded: same model


def test_estimator_errors(tmp_path):
    est = VisibilityEstimator()
    with pytest.raises(RuntimeError, match="fit"):
        est.predict_proba(np.zeros((1, 468, 18), np.float32))
    with pytest.raises(ValueError, match="disagree"):
        est.fit(np.zeros((2, 468, 18), np.float32), np.zeros((3, 468), bool))
    with pytest.raises(ValueError, match="square lattices"):
        est.fit(np.zeros((2, 468, 6), np.float32), np.zeros((2, 468), bool))
    (tmp_path / "bad.pt").write_bytes(b"")
    with pytest.raises(Exception):
        VisibilityEstimator.load(tmp_path / "bad.pt")


def test_cues_by_hand():
    import torch

    from fer_graph.graphs.topology import MEDIAPIPE468

    net = VisibilityEstimator()._new_module(18)
    x = torch.zeros(1, 468, 18)
    x[0, 33, :9] = torch.arange(9.0)  # landmark 33's first lattice: 0..8 row by row
    cues = net.cues(x)[0]
    assert cues.shape == (468, 2 * 18 + 3 * 2)
    mirror = int(MEDIAPIPE468.mirror[33])
    # the mirror landmark sees landmark 33's lattice flipped left-right, minus its own (zero) lattice
    np.testing.assert_allclose(cues[mirror, 18:27].numpy(), -np.arange(9.0).reshape(3, 3)[:, ::-1].ravel())
    np.testing.assert_allclose(cues[33, 36].item(), np.arange(9.0).std(ddof=1), rtol=1e-6)  # lattice sd
    assert cues[33, 38].item() == 0.0  # Laplacian of a linear ramp: 4*4 - (1 + 7 + 3 + 5) = 0
    assert cues[33, 40].item() == pytest.approx(4.0)  # |own lattice - the mirror's zeros|: mean of 0..8


def test_hidden_scores_by_hand():
    hidden = np.array([[True, False, False, True]])
    p_visible = np.array([[0.2, 0.9, 0.4, 0.6]])  # hidden scores 0.8, 0.1, 0.6, 0.4
    s = hidden_scores(p_visible, hidden)
    assert s["auc"] == pytest.approx(0.75)  # pairs (0.8>0.1, 0.8>0.6, 0.4>0.1, 0.4<0.6): 3 of 4
    assert s["precision"] == 0.5 and s["recall"] == 0.5 and s["flagged_rate"] == 0.5 and s["hidden_rate"] == 0.5
    assert np.isnan(hidden_scores(p_visible, np.zeros_like(hidden))["auc"])


def test_visibility_report_regions_and_families():
    rng = np.random.default_rng(0)
    hidden = np.zeros((4, 468), bool)
    mouth = get_region("mouth", "mediapipe468")
    hidden[0, mouth] = True
    hidden[1, get_region("eyes", "mediapipe468")] = True
    p = np.where(hidden, 0.1, 0.9) + rng.uniform(-0.05, 0.05, hidden.shape)
    rep = visibility_report(p, hidden, ["mask", "band", "clean", "clean"], "mediapipe468")
    assert rep["all"]["auc"] == 1.0 and set(rep["families"]) == {"mask", "band", "clean"}
    assert rep["families"]["clean"]["flagged_rate"] == 0.0
    assert rep["regions"]["mouth"]["n"] == 2 * len(mouth)  # occluded samples only
    with pytest.raises(ValueError, match="disagree"):
        visibility_report(p, hidden, ["mask"], "mediapipe468")
    with pytest.raises(ValueError, match="unknown regions"):
        visibility_report(p, hidden, ["a"] * 4, "mediapipe468", regions=("chin_strap",))
