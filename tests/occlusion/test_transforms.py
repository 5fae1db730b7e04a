from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fer_graph.graphs.topology import IBUG68
from fer_graph.models import get_model
from fer_graph.occlusion.regions import get_region
from fer_graph.occlusion.strategies import occlude
from fer_graph.occlusion.transforms import LandmarkNoise, Occlude, RandomNodeDropout, RandomPatchOcclusion


def _graph(seed=0):
    x = torch.randn(68, 4, generator=torch.Generator().manual_seed(seed))
    return Data(x=x, edge_index=IBUG68.edge_index.clone(), num_nodes=68)


def test_node_removal_is_a_valid_subgraph():
    g = Occlude("mouth", "ibug68", strategy="removal")(_graph())
    kept = np.setdiff1d(np.arange(68), np.arange(48, 68))
    assert g.num_nodes == 48 and g.x.shape == (48, 4)
    assert torch.equal(g.node_id, torch.as_tensor(kept))
    assert int(g.edge_index.max()) < 48 and int(g.edge_index.min()) >= 0  # re-indexed, none dangling
    original = {(int(a), int(b)) for a, b in IBUG68.edge_index.t()}
    expected = {(a, b) for a, b in original if a < 48 and b < 48}
    got = {(int(g.node_id[a]), int(g.node_id[b])) for a, b in g.edge_index.t()}
    assert got == expected


def test_feature_masking_keeps_topology_and_sets_visibility():
    src = _graph()
    g = Occlude("eyes", IBUG68, strategy="masking", append_visibility=True)(src)
    eyes = torch.as_tensor(get_region("eyes", IBUG68))
    assert g.num_nodes == 68 and torch.equal(g.edge_index, src.edge_index)
    assert g.x.shape == (68, 5)
    assert (g.x[eyes, :4] == 0).all() and (g.x[eyes, 4] == 0).all()
    assert g.visible.sum() == 68 - len(eyes) and (g.x[g.visible, 4] == 1).all()
    torch.testing.assert_close(src.x[g.visible], g.x[g.visible, :4])


def test_imputation_uses_the_mean_face_and_needs_it():
    mean = torch.arange(68 * 4, dtype=torch.float32).view(68, 4)
    g = Occlude("jaw", IBUG68, strategy="imputation", mean_face=mean)(_graph())
    torch.testing.assert_close(g.x[:17], mean[:17])
    with pytest.raises(ValueError, match="mean_face"):
        Occlude("jaw", IBUG68, strategy="imputation")(_graph())


def test_unknown_region_or_wrong_topology_is_a_clear_error():
    with pytest.raises(ValueError, match="cheek"):
        Occlude("cheek", "ibug68")
    with pytest.raises(ValueError, match="unknown topology"):
        Occlude("mouth", "ibug51")
    with pytest.raises(ValueError, match="strategy"):
        Occlude("mouth", "ibug68", strategy="blur")
    mp_mouth = get_region("mouth", "mediapipe468")
    with pytest.raises(ValueError, match="ibug68"):
        Occlude(None, "ibug68", nodes=mp_mouth)  # MediaPipe indices on a 68-point graph


def test_random_transforms_reproduce_from_seed_and_vary_per_call():
    a, b = RandomPatchOcclusion("ibug68", 0.25, seed=5), RandomPatchOcclusion("ibug68", 0.25, seed=5)
    g1, g2 = a(_graph()), b(_graph())
    assert torch.equal(g1.node_id, g2.node_id) and g1.num_nodes == 68 - 17
    assert not torch.equal(a(_graph()).node_id, g1.node_id)  # a fresh patch on the next call
    d = RandomNodeDropout("ibug68", 0.5, strategy="masking", seed=0)(_graph())
    assert int((~d.visible).sum()) == 34


def test_noise_transform_matches_sigma_and_region():
    n = LandmarkNoise(0.0)(_graph())
    torch.testing.assert_close(n.x, _graph().x)
    g = LandmarkNoise(0.05, dims=2, region="mouth", topology="ibug68", seed=0)(_graph())
    diff = g.x - _graph().x
    assert (diff[:48] == 0).all() and (diff[48:] != 0).all()
    torch.testing.assert_close(diff[:, :2], diff[:, 2:])


@pytest.mark.parametrize("readout", ["mean+max", "flatten"])
def test_pyg_model_on_removed_subgraph_equals_fast_model_with_mask(readout):
    torch.manual_seed(0)
    kw = dict(in_channels=4, num_classes=3, hidden_channels=16, num_layers=2, heads=2, dropout=0.0,
              num_nodes=68, node_embedding=4, readout=readout)
    pyg, fast = get_model("gat", **kw, backend="pyg"), get_model("gat", **kw, backend="fast")
    fast.load_state_dict(pyg.state_dict())
    pyg.eval(), fast.eval()
    src = _graph(3)
    g = Occlude("left_half", "ibug68", strategy="removal")(src)
    with torch.no_grad():
        ref = pyg(g.x, g.edge_index, torch.zeros(g.num_nodes, dtype=torch.long), g.node_id, num_graphs=1)
        occ = torch.zeros(1, 68, dtype=torch.bool)
        occ[0, get_region("left_half", IBUG68)] = True
        b = occlude(src.x[None], occ, "removal")
        out = fast(b.x, IBUG68.edge_index, mask=b.present)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
