from __future__ import annotations

import pytest
import torch

from fer_graph.graphs.augment import mirror
from fer_graph.graphs.batching import FixedTopologyBatcher
from fer_graph.graphs.topology import IBUG68, LEFT_EYE_68, RIGHT_EYE_68
from fer_graph.models import GraphClassifier, get_model, get_model_entry, list_models
from fer_graph.models.gnn import DenseGraphClassifier


def test_registry_lists_every_arch():
    names = list_models()
    for arch in ("gcn", "gat", "mlp", "logreg", "svm", "pca-svm", "dist-pca-svm", "blendshape-svm", "blendshape-gb"):
        assert arch in names
    assert [n for n in names if get_model_entry(n).kind == "gnn"] == ["gcn", "gat", "stgcn"]
    assert get_model_entry("stgcn").features == "seq"  # trains on sequence datasets only
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        get_model("nope")


@pytest.mark.parametrize("arch", ["gcn", "gat"])
@pytest.mark.parametrize("readout", ["mean+max", "attention", "mean+max+flatten"])
def test_forward_shapes_and_batch_independence(arch, readout):
    torch.manual_seed(0)
    model = get_model(arch, in_channels=4, num_classes=6, hidden_channels=16, num_layers=2, heads=4,
                      node_embedding=8, num_nodes=68, readout=readout, graph_channels=3).eval()
    b = FixedTopologyBatcher(IBUG68.edge_index, 68)
    x = torch.randn(5, 68, 4)
    ga = torch.randn(5, 3)
    out = model(*b(x), graph_attr=ga, num_graphs=5)
    assert out.shape == (5, 6)
    one = model(*b(x[2:3]), graph_attr=ga[2:3], num_graphs=1)  # a graph's logits do not depend on its batch
    torch.testing.assert_close(one[0], out[2], atol=1e-5, rtol=1e-5)


def test_errors_name_the_class():
    with pytest.raises(ValueError, match="^GraphClassifier: conv='x'"):
        GraphClassifier(2, 3, conv="x")
    with pytest.raises(ValueError, match="^DenseGraphClassifier: norm='x'"):
        DenseGraphClassifier(2, 3, norm="x")
    with pytest.raises(ValueError, match="num_nodes"):
        GraphClassifier(2, 3, node_embedding=4)
    with pytest.raises(ValueError, match="backend='gpu'"):
        get_model("gat", in_channels=2, num_classes=3, backend="gpu")


@pytest.mark.parametrize("arch", ["gcn", "gat"])
def test_builders_pick_the_class_by_backend(arch):
    kw = dict(in_channels=3, num_classes=4, hidden_channels=8, num_layers=1, heads=2)
    pyg, dense = get_model(arch, **kw), get_model(arch, backend="fast", **kw)
    assert type(pyg) is GraphClassifier and pyg.backend == "pyg"
    assert type(get_model(arch, backend="pyg", **kw)) is GraphClassifier
    assert type(dense) is DenseGraphClassifier and dense.backend == "fast"
    assert list(pyg.state_dict()) == list(dense.state_dict())  # weights move between the two
    assert pyg.generator is None and "generator" not in dict(dense.named_buffers())
    assert repr(dense) == f"DenseGraphClassifier({arch}, in=3, hidden=8, layers=1, classes=4, backend='fast')"


def test_mirror_augmentation_is_an_involution_and_swaps_eyes():
    x = torch.randn(3, 68, 4)
    perm = torch.tensor(IBUG68.mirror)
    m = mirror(x, perm, dims=2)
    torch.testing.assert_close(mirror(m, perm, dims=2), x)
    torch.testing.assert_close(m[:, list(LEFT_EYE_68), 1], x[:, [IBUG68.mirror[i] for i in LEFT_EYE_68], 1])
    assert {IBUG68.mirror[i] for i in LEFT_EYE_68} == set(RIGHT_EYE_68)
    torch.testing.assert_close(m[..., 0], -x[:, perm, 0])
    torch.testing.assert_close(m[..., 2], -x[:, perm, 2])  # second token block (displacement) mirrored too


def test_node_standardization_is_per_landmark_and_backend_independent():
    from fer_graph.graphs.batching import FixedTopologyBatcher

    torch.manual_seed(0)
    x = torch.randn(6, 68, 2) * torch.linspace(0.1, 3, 68)[None, :, None] + torch.randn(68, 2)
    kw = dict(in_channels=2, num_classes=3, hidden_channels=8, num_layers=1, heads=2, num_nodes=68,
              node_embedding=4, standardize="node")
    pyg = get_model("gat", **kw).eval()
    pyg.set_standardization(x)
    assert pyg.x_mean.shape == (68, 2)
    torch.testing.assert_close(pyg.x_mean, x.mean(0))
    fast = get_model("gat", backend="fast", **kw).eval()
    fast.load_state_dict(pyg.state_dict())
    out_pyg = pyg(*FixedTopologyBatcher(IBUG68.edge_index, 68)(x), num_graphs=6)
    torch.testing.assert_close(fast(x, IBUG68.edge_index), out_pyg, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="standardize="):
        GraphClassifier(2, 3, standardize="graph")


@pytest.mark.parametrize("backend", ["fast", "pyg"])
def test_masked_landmarks_are_zero_in_standardized_space(backend):
    """Feature masking must not feed raw zeros through per-landmark statistics (20-sigma outliers)."""
    from fer_graph.graphs.batching import FixedTopologyBatcher
    from fer_graph.graphs.topology import IBUG68

    torch.manual_seed(0)
    cls = DenseGraphClassifier if backend == "fast" else GraphClassifier
    model = cls(4, 3, conv="gat", hidden_channels=16, num_layers=2, heads=2, num_nodes=68, node_embedding=4,
                readout="flatten", standardize="node", visibility=True).eval()
    train = torch.randn(50, 68, 4) * 0.05 + torch.randn(68, 4)
    model.set_standardization(train)
    x = train[:3].clone()
    visible = torch.ones(3, 68, dtype=torch.bool)
    visible[:, 48:] = False
    zeroed = x.masked_fill(~visible[..., None], 0.0)
    imputed = torch.where(visible[..., None], x, model.x_mean.expand(3, -1, -1))

    def run(inp, vis=visible):
        if backend == "fast":
            return model(inp, IBUG68.edge_index, visible=vis)
        flat, ei, batch, nid = FixedTopologyBatcher(IBUG68.edge_index, 68)(inp)
        return model(flat, ei, batch, nid, num_graphs=3, visible=None if vis is None else vis.reshape(-1))

    with torch.no_grad():
        torch.testing.assert_close(run(zeroed), run(imputed))
        assert not torch.allclose(run(x, None), run(zeroed))  # occlusion changes the output


@pytest.mark.parametrize("backend", ["fast", "pyg"])
def test_occluded_graphs_use_the_training_mean_of_their_attributes(backend):
    """occluded_attrs=0.1: a face with 20 of 68 landmarks hidden classifies as if its blendshapes were the
    training mean; one with 5 hidden (7%) keeps its own; removal and masking count alike."""
    torch.manual_seed(0)
    cls = DenseGraphClassifier if backend == "fast" else GraphClassifier
    model = cls(2, 3, conv="gat", hidden_channels=8, num_layers=1, heads=2, num_nodes=68, node_embedding=4,
                readout="flatten", standardize="node", graph_channels=5, visibility=True,
                occluded_attrs=0.1).eval()
    model.set_standardization(torch.randn(40, 68, 2), torch.rand(40, 5))
    x, attrs = torch.randn(2, 68, 2), torch.rand(2, 5) * 3
    mean = model.g_mean.expand(2, -1)
    keep = torch.ones(2, 68, dtype=torch.bool)
    keep[0, :20] = False  # 29% hidden: attributes dropped
    keep[1, :5] = False  # 7% hidden: attributes used

    def run(g, *, removed=None, visible=None):
        if backend == "fast":
            return model(x, IBUG68.edge_index, graph_attr=g, mask=removed, visible=visible)
        keep_nodes = torch.ones(2, 68, dtype=torch.bool) if removed is None else removed
        flat, ei, batch, nid = FixedTopologyBatcher(IBUG68.edge_index, 68)(x)
        sub = keep_nodes.reshape(-1)
        from torch_geometric.utils import subgraph

        ei, _ = subgraph(sub, ei, relabel_nodes=True, num_nodes=len(sub))
        vis = None if visible is None else visible.reshape(-1)[sub]
        return model(flat[sub], ei, batch[sub], nid[sub], graph_attr=g, num_graphs=2, visible=vis)

    with torch.no_grad():
        for kind in ("removed", "visible"):
            out, out_mean = run(attrs, **{kind: keep}), run(mean, **{kind: keep})
            torch.testing.assert_close(out[0], out_mean[0])
            assert not torch.allclose(out[1], out_mean[1])
        clean, clean_mean = run(attrs), run(mean)
        assert not torch.allclose(clean[0], clean_mean[0])  # nothing hidden: attributes used
    with pytest.raises(ValueError, match="occluded_attrs"):
        cls(2, 3, graph_channels=5, occluded_attrs=1.5)


@pytest.mark.parametrize("backend", ["fast", "pyg"])
def test_regional_attribute_drop_keeps_the_attributes_of_visible_regions(backend):
    """attr_regions: with the mouth removed, mouth and whole-face attributes fall back to the training mean,
    eye and brow attributes stay."""
    from fer_graph.occlusion.regions import attribute_region, get_region

    assert [attribute_region(n) for n in ("mouthSmileLeft", "jawOpen", "eyeBlinkRight", "cheekSquintLeft",
                                          "browInnerUp", "noseSneerLeft", "_neutral", "yaw")] == \
        ["mouth", "lower_face", "eyes", "eyes", "brows", "nose", "", ""]
    torch.manual_seed(0)
    cls = DenseGraphClassifier if backend == "fast" else GraphClassifier
    model = cls(2, 3, conv="gat", hidden_channels=8, num_layers=1, heads=2, num_nodes=68, node_embedding=4,
                readout="flatten", standardize="node", graph_channels=5, occluded_attrs=0.5,
                attr_regions=("mouth", "mouth", "eyes", "", "brows")).eval()
    model.set_standardization(torch.randn(40, 68, 2), torch.rand(40, 5))
    assert "attr_nodes" not in model.state_dict()  # derived from the kwargs
    x, attrs = torch.randn(1, 68, 2), torch.rand(1, 5) * 3
    keep = torch.ones(1, 68, dtype=torch.bool)
    keep[0, list(get_region("mouth", IBUG68))] = False  # 20 of 68: 29% of the face, all of the mouth

    def run(g):
        if backend == "fast":
            return model(x, IBUG68.edge_index, graph_attr=g, mask=keep)
        from torch_geometric.utils import subgraph

        flat, ei, batch, nid = FixedTopologyBatcher(IBUG68.edge_index, 68)(x)
        sub = keep.reshape(-1)
        ei, _ = subgraph(sub, ei, relabel_nodes=True, num_nodes=len(sub))
        return model(flat[sub], ei, batch[sub], nid[sub], graph_attr=g, num_graphs=1)

    def meaned(cols):
        g = attrs.clone()
        g[:, cols] = model.g_mean[cols]
        return g

    with torch.no_grad():
        torch.testing.assert_close(run(attrs), run(meaned([0, 1])))  # mouth attributes dropped...
        assert not torch.allclose(run(attrs), run(meaned([0, 1, 2])))  # ...the eye attribute used
        model.occluded_attrs = 0.25  # now the whole-face attribute (29% occluded) is dropped too
        torch.testing.assert_close(run(attrs), run(meaned([0, 1, 3])))
    with pytest.raises(ValueError, match="attr_regions"):
        cls(2, 3, graph_channels=5, num_nodes=68, occluded_attrs=0.5, attr_regions=("mouth",))
