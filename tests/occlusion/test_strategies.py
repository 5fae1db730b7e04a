from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.occlusion.noise import landmark_noise
from fer_graph.occlusion.strategies import occlude


def _batch(g=3, v=68, f=4):
    return torch.randn(g, v, f, generator=torch.Generator().manual_seed(0))


def test_each_strategy_touches_only_occluded_nodes():
    x = _batch()
    occ = torch.zeros(3, 68, dtype=torch.bool)
    occ[:, 48:68] = True
    mean = torch.full((68, 4), 7.0)
    removal = occlude(x, occ, "removal")
    masking = occlude(x, occ, "masking")
    imputed = occlude(x, occ, "imputation", mean_face=mean)
    for b in (removal, masking, imputed):
        torch.testing.assert_close(b.x[:, :48], x[:, :48])
        assert torch.equal(b.visible, ~occ)
    assert torch.equal(removal.present, ~occ) and masking.present is None and imputed.present is None
    assert (masking.x[:, 48:] == 0).all() and (removal.x[:, 48:] == 0).all()
    assert (imputed.x[:, 48:] == 7.0).all()
    assert not (x[:, 48:] == 0).all()  # the input is untouched


def test_bad_strategy_inputs_fail_clearly():
    x, occ = _batch(), torch.zeros(3, 68, dtype=torch.bool)
    with pytest.raises(ValueError, match="unknown occlusion strategy 'blur'"):
        occlude(x, occ, "blur")
    with pytest.raises(ValueError, match="mean_face"):
        occlude(x, occ, "imputation")
    with pytest.raises(ValueError, match="every node"):
        occlude(x, torch.ones(3, 68, dtype=torch.bool), "removal")
    with pytest.raises(ValueError, match=r"\(G, V\)"):
        occlude(x, occ[:, :10], "masking")


def test_noise_sigma_zero_is_identity_and_sigma_scales():
    x = _batch(200, 68, 4)
    torch.testing.assert_close(landmark_noise(x, 0.0, dims=2), x)
    d = landmark_noise(x, 0.1, dims=2, seed=1) - x
    assert abs(float(d.std()) - 0.1) < 0.005
    torch.testing.assert_close(d[..., :2], d[..., 2:])  # apex and displacement move together
    torch.testing.assert_close(landmark_noise(x, 0.1, dims=2, seed=1), landmark_noise(x, 0.1, dims=2, seed=1))
    region = np.arange(48, 68)
    r = landmark_noise(x, 0.1, dims=2, nodes=region, seed=1) - x
    assert (r[:, :48] == 0).all() and (r[:, 48:] != 0).all()
    with pytest.raises(ValueError, match="sigma"):
        landmark_noise(x, -0.1, dims=2)
