from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv
from torch_geometric.utils import subgraph

from fer_graph.graphs.batching import FixedTopologyBatcher
from fer_graph.graphs.topology import IBUG68, MEDIAPIPE468
from fer_graph.models import GraphClassifier, fast
from fer_graph.models.gnn import DenseGraphClassifier
from fer_graph.models.fast import (FastGATConv, FastGATv2Conv, FastGCNConv, FixedGraph, dropout16,
                                   fixed_graph)
from fer_graph.training import TrainConfig, fit_gnn, predict_proba

#: a 4-node star (centre 0), both directions, as in PyG's own GCNConv test
STAR = torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]])

PAIRS = {"gcn": (lambda f, o: GCNConv(f, o), FastGCNConv),
         "gat": (lambda f, o: GATConv(f, o, heads=3), FastGATConv),
         "gat-mean": (lambda f, o: GATConv(f, o, heads=3, concat=False, negative_slope=0.1), FastGATConv),
         "gatv2": (lambda f, o: GATv2Conv(f, o, heads=3), FastGATv2Conv)}


def _subgraph_reference(conv, x: torch.Tensor, edge_index: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """PyG ``conv`` run graph by graph on the true subgraphs (masked nodes and their edges deleted)."""
    b, v, _ = x.shape
    rows = []
    for g in range(b):
        keep = torch.arange(v) if mask is None else mask[g].nonzero().view(-1)
        ei, _ = subgraph(keep, edge_index, relabel_nodes=True, num_nodes=v)
        out = conv(x[g][keep], ei)
        rows.append(torch.zeros(v, out.shape[-1]).index_put((keep,), out))
    return torch.stack(rows)


def test_public_names_import():
    for name in fast.__all__:
        assert getattr(fast, name) is not None


def test_fixed_graph_structure():
    g = FixedGraph(IBUG68.edge_index, 68)
    assert g.num_entries == IBUG68.edge_index.shape[1] + 68
    assert torch.equal(g.deg, torch.bincount(IBUG68.edge_index[1], minlength=68) + 1)
    assert torch.equal(g.src[g.rev], g.dst) and torch.equal(g.dst[g.rev], g.src)  # rev = reverse edge
    assert torch.equal(g.rev[g.rev], torch.arange(g.num_entries))
    assert int(g.is_self.sum()) == 68 and bool(g.is_self.any(1).all())
    assert torch.equal(g.nbr[g.valid], g.src)  # the table row i lists the CSR sources of i in order
    assert str(g) == "FixedGraph(nodes=68, entries=428, max_degree=11)"
    with_loops = torch.cat([STAR, torch.tensor([[2], [2]])], dim=1)  # an explicit self loop is not doubled
    assert FixedGraph(with_loops, 4).num_entries == FixedGraph(STAR, 4).num_entries == 10


@pytest.mark.parametrize(("edge_index", "num_nodes", "match"), [
    (torch.tensor([[0, 1], [1, 2]]), 3, "not symmetric"),
    (torch.tensor([[0, 1, 0], [1, 0, 1]]), 2, "repeated edges"),
    (torch.tensor([[0, 5], [5, 0]]), 4, r"\[0, 4\)"),
    (torch.zeros(3, 2, dtype=torch.long), 4, r"\(2, E\) integer"),
    (torch.zeros(2, 2), 4, r"\(2, E\) integer"),
])
def test_fixed_graph_rejects_bad_topologies(edge_index, num_nodes, match):
    with pytest.raises(ValueError, match=match):
        FixedGraph(edge_index, num_nodes)


def test_fixed_graph_cache_keys_on_the_tensor():
    ei = IBUG68.edge_index.clone()
    g = fixed_graph(ei, 68)
    assert fixed_graph(ei, 68) is g and fixed_graph(g, 68) is g
    assert fixed_graph(ei.clone(), 68) is not g  # another tensor: rebuilt, never mistaken for this one
    ei.add_(0)  # an in-place edit bumps the version counter
    assert fixed_graph(ei, 68) is not g
    with pytest.raises(ValueError, match="graph has 68 nodes, the features have 5"):
        fixed_graph(g, 5)


@pytest.mark.parametrize("topology", [IBUG68, MEDIAPIPE468], ids=lambda t: t.name)
@pytest.mark.parametrize("kind", list(PAIRS))
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_conv_matches_pyg_values_and_gradients(topology, kind, masked):
    torch.manual_seed(0)
    make_pyg, cls = PAIRS[kind]
    ref = make_pyg(5, 4)
    torch.nn.init.normal_(ref.bias)  # PyG starts biases at zero; make them count
    layer = cls.from_pyg(ref)
    v = topology.num_nodes
    x = torch.randn(2, v, 5)
    mask = torch.rand(2, v) > 0.3 if masked else None
    x_ref, x_fast = x.clone().requires_grad_(), x.clone().requires_grad_()
    expected = _subgraph_reference(ref, x_ref, topology.edge_index, mask)
    out = layer(x_fast, topology.edge_index, mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    weight = torch.randn_like(expected)
    (expected * weight).sum().backward()
    (out * weight).sum().backward()
    torch.testing.assert_close(x_fast.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    for (name, p_ref), (_, p_fast) in zip(ref.named_parameters(), layer.named_parameters()):
        torch.testing.assert_close(p_fast.grad, p_ref.grad, atol=1e-4, rtol=1e-5, msg=name)


@pytest.mark.parametrize("kind", list(PAIRS))
def test_masked_nodes_are_deleted(kind):
    torch.manual_seed(1)
    layer = PAIRS[kind][1](3, 4)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(3, 68, 3)
    mask = torch.rand(3, 68) > 0.5
    out = layer(x, IBUG68.edge_index, mask)
    assert bool((out[~mask] == 0).all())  # masked rows are zero, bias included
    poisoned = x.masked_fill(~mask[..., None], float("nan"))  # masked features are never read
    torch.testing.assert_close(layer(poisoned, IBUG68.edge_index, mask), out)


@pytest.mark.parametrize("kind", list(PAIRS))
def test_gradcheck_double(kind):
    torch.manual_seed(2)
    layer = PAIRS[kind][1](3, 2).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(2, 4, 3, dtype=torch.double, requires_grad=True)
    mask = torch.tensor([[True, True, False, True], [True, True, True, True]])
    assert torch.autograd.gradcheck(lambda t: layer(t, STAR), (x,))
    assert torch.autograd.gradcheck(lambda t: layer(t, STAR, mask), (x,))


def test_graph_of_batch_does_not_depend_on_batch():
    torch.manual_seed(3)
    layer = FastGATConv(4, 8, heads=2)
    x = torch.randn(5, 468, 4)
    torch.testing.assert_close(layer(x[2:3], MEDIAPIPE468.edge_index)[0], layer(x, MEDIAPIPE468.edge_index)[2],
                               atol=1e-6, rtol=1e-6)


def test_attention_dropout_only_in_training():
    torch.manual_seed(4)
    layer = FastGATConv(4, 8, heads=2, dropout=0.5)
    x = torch.randn(2, 68, 4)
    evaluated = layer.eval()(x, IBUG68.edge_index)
    assert not torch.allclose(layer.train()(x, IBUG68.edge_index), evaluated)
    layer.dropout = 0.0
    torch.testing.assert_close(layer(x, IBUG68.edge_index), evaluated)


def test_from_pyg_refuses_what_it_cannot_copy():
    with pytest.raises(ValueError, match="FastGATConv.from_pyg"):
        FastGATConv.from_pyg(GATConv(4, 4, edge_dim=2))
    with pytest.raises(ValueError, match="FastGCNConv.from_pyg"):
        FastGCNConv.from_pyg(GCNConv(4, 4, improved=True))
    with pytest.raises(ValueError, match="FastGATv2Conv.from_pyg"):
        FastGATv2Conv.from_pyg(GATv2Conv(4, 4, residual=True))
    with pytest.raises(ValueError, match=r"x must be \(B, V, F\)"):
        FastGCNConv(4, 4)(torch.randn(68, 4), IBUG68.edge_index)
    with pytest.raises(ValueError, match="mask must be bool"):
        FastGCNConv(4, 4)(torch.randn(2, 68, 4), IBUG68.edge_index, torch.ones(2, 68))


def test_dropout16_rate_scale_and_identity():
    x = torch.ones(400_000)
    assert dropout16(x, 0.2, training=False) is x and dropout16(x, 0.0) is x
    torch.manual_seed(5)
    y = dropout16(x, 0.2)
    assert abs(float((y == 0).float().mean()) - 0.2) < 0.005
    torch.testing.assert_close(y.max(), torch.tensor(1.25), atol=1e-4, rtol=0)
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert bool((dropout16(x, 1.0) == 0).all())
    torch.manual_seed(5)
    torch.testing.assert_close(dropout16(x, 0.2), y)  # torch's default generator: seeded runs repeat
    with pytest.raises(ValueError, match="p=1.5"):
        dropout16(x, 1.5)


def _same_weights(conv: str, readout: str, norm: str, **kw) -> tuple[GraphClassifier, DenseGraphClassifier]:
    kwargs = dict(conv=conv, hidden_channels=16, num_layers=2, heads=4, node_embedding=8, num_nodes=68,
                  readout=readout, norm=norm, graph_channels=3, dropout=0.0, **kw)
    torch.manual_seed(6)
    ref = GraphClassifier(4, 5, **kwargs)
    torch.manual_seed(6)
    dense = DenseGraphClassifier(4, 5, **kwargs)
    assert ref.state_dict().keys() == dense.state_dict().keys()
    for key, value in ref.state_dict().items():  # same seed, same initial weights
        torch.testing.assert_close(dense.state_dict()[key], value, msg=key)
    dense.load_state_dict(ref.state_dict())
    return ref, dense


@pytest.mark.parametrize("conv", ["gcn", "gat", "gatv2"])
@pytest.mark.parametrize(("readout", "norm"), [("mean+max", "layer"), ("mean+max+flatten", "batch"),
                                               ("attention", "none")])
def test_classifier_backends_agree_on_logits_and_gradients(conv, readout, norm):
    ref, dense = _same_weights(conv, readout, norm)
    ref.train(), dense.train()  # batch norm uses batch statistics; dropout is 0
    x, ga = torch.randn(4, 68, 4), torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 3])
    expected = ref(*FixedTopologyBatcher(IBUG68.edge_index, 68)(x), graph_attr=ga, num_graphs=4)
    out = dense(x, IBUG68.edge_index, graph_attr=ga)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.nn.functional.cross_entropy(expected, y).backward()
    torch.nn.functional.cross_entropy(out, y).backward()
    for (name, p_ref), (_, p_fast) in zip(ref.named_parameters(), dense.named_parameters()):
        torch.testing.assert_close(p_fast.grad, p_ref.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("conv", ["gcn", "gat"])
def test_classifier_mask_equals_pyg_on_subgraphs(conv):
    ref, dense = _same_weights(conv, "mean+max+flatten", "layer")
    ref.eval(), dense.eval()
    torch.manual_seed(7)
    x, ga = torch.randn(3, 68, 4), torch.randn(3, 3)
    mask = torch.rand(3, 68) > 0.4
    parts, offset = [], 0
    for g in range(3):  # PyG input: each graph's kept nodes, their edges reindexed, landmark ids kept
        keep = mask[g].nonzero().view(-1)
        ei, _ = subgraph(keep, IBUG68.edge_index, relabel_nodes=True, num_nodes=68)
        parts.append((x[g][keep], ei + offset, torch.full((len(keep),), g), keep))
        offset += len(keep)
    flat, ei, batch, node_id = (torch.cat(t, dim=-1 if i == 1 else 0) for i, t in enumerate(zip(*parts)))
    expected = ref(flat, ei, batch, node_id, ga, num_graphs=3)
    torch.testing.assert_close(dense(x, IBUG68.edge_index, graph_attr=ga, mask=mask), expected,
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("conv", "readout", "norm"), [("gat", "mean+max+flatten", "layer"),
                                                       ("gcn", "attention", "batch"), ("gatv2", "mean", "none")])
def test_inference_chunks_equal_one_pass(conv, readout, norm):
    """Eval-mode no-grad batches split by ``infer_chunk_nodes`` give the one-pass logits (masks, visibility,
    graph attributes and running batch statistics included)."""
    torch.manual_seed(11)
    model = DenseGraphClassifier(4, 5, conv=conv, readout=readout, norm=norm, hidden_channels=16, heads=2,
                                 graph_channels=3, num_nodes=68, node_embedding=4, visibility=True, dropout=0.3)
    if norm == "batch":  # non-trivial running statistics
        for bn in model.norms:
            bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
    model.eval()
    x, ga = torch.randn(7, 68, 4), torch.randn(7, 3)
    mask, visible = torch.rand(7, 68) > 0.2, torch.rand(7, 68) > 0.3
    calls = []
    model.input.register_forward_hook(lambda mod, inp, out: calls.append(len(out)))
    model.infer_chunk_nodes = 3 * 68  # 7 graphs -> chunks of 2, 2, 3 graphs (near-equal, at most 3 each)
    with torch.no_grad():
        assert model.inference_chunks(7) == [slice(0, 2), slice(2, 4), slice(4, 7)]
        chunked = model(x, IBUG68.edge_index, graph_attr=ga, mask=mask, visible=visible)
        assert calls == [2, 2, 3]
        model.infer_chunk_nodes = 0
        one = model(x, IBUG68.edge_index, graph_attr=ga, mask=mask, visible=visible)
        assert calls[3:] == [7]
    torch.testing.assert_close(chunked, one, atol=1e-6, rtol=1e-6)
    # never with autograd, in training mode (batch statistics, dropout draws) or on broadcast inputs
    model.infer_chunk_nodes = 68
    calls.clear()
    model(x, IBUG68.edge_index, graph_attr=ga, mask=mask, visible=visible)
    with torch.no_grad():
        model.train()
        model(x, IBUG68.edge_index, graph_attr=ga, mask=mask, visible=visible)
        model.eval()
        model.head[2].train()  # one module in training mode is enough
        model(x, IBUG68.edge_index, graph_attr=ga, mask=mask, visible=visible)
        model.head[2].eval()
        plain = DenseGraphClassifier(4, 5, conv=conv, num_nodes=68).eval()
        plain.infer_chunk_nodes = 68
        plain.input.register_forward_hook(lambda mod, inp, out: calls.append(-len(out)))
        plain(x, IBUG68.edge_index, visible=visible[:1])  # one visibility row for every graph
    assert calls == [7, 7, 7, -7]
    with pytest.raises(ValueError, match="mask must be bool"):  # inputs are checked before chunking
        with torch.no_grad():
            model(x, IBUG68.edge_index, graph_attr=ga, mask=mask[:6])


def test_classifier_input_errors():
    dense = DenseGraphClassifier(4, 3, num_nodes=68, node_embedding=4)
    ref = GraphClassifier(4, 3)
    x = torch.randn(2, 68, 4)
    with pytest.raises(ValueError, match=r"DenseGraphClassifier: x must be \(B, V, F\)"):
        dense(x.reshape(-1, 4), IBUG68.edge_index)
    with pytest.raises(TypeError):  # no batch/node_id: a flat batch is GraphClassifier's input
        dense(x, IBUG68.edge_index, torch.zeros(136, dtype=torch.long))
    with pytest.raises(ValueError, match="num_nodes=68, x has 468"):
        dense(torch.randn(2, 468, 4), MEDIAPIPE468.edge_index)
    with pytest.raises(ValueError, match="GraphClassifier: forward takes flat x.*no mask"):
        ref(x, IBUG68.edge_index)
    with pytest.raises(ValueError, match="GraphClassifier: forward takes flat x.*no mask"):
        ref(x.reshape(-1, 4), IBUG68.edge_index, torch.zeros(136, dtype=torch.long), mask=torch.ones(136) > 0)
    with pytest.raises(ValueError, match="needs num_nodes"):
        DenseGraphClassifier(4, 3).inference_chunks(8)


def test_fit_gnn_fast_backend_loss_falls():
    torch.manual_seed(8)
    n, v = 48, 68
    y = np.arange(n) % 3
    x = torch.randn(n, v, 2) * 0.3
    x[:, :17, 0] += torch.as_tensor(y, dtype=torch.float32)[:, None]  # the class shifts the jaw line
    cfg = TrainConfig(arch="gat", epochs=12, patience=100, hidden=16, layers=2, batch_size=8, augment=False,
                      dropout=0.0, label_smoothing=0.0, lr=5e-3, backend="fast")
    logs = []
    model, _, kwargs = fit_gnn(x, None, y, np.arange(0, n, 2), np.arange(1, n, 2), topology=IBUG68,
                               num_classes=3, config=cfg, dims=2, on_epoch=logs.append)
    assert model.backend == "fast" and "backend" not in kwargs  # checkpoints load with either backend
    assert logs[-1].train_loss < 0.7 * logs[0].train_loss, [l.train_loss for l in logs]
    probs = predict_proba(model, x, None, IBUG68)
    torch.testing.assert_close(probs.sum(1), torch.ones(n))
    ref = GraphClassifier(**kwargs)
    ref.load_state_dict(model.state_dict())
    torch.testing.assert_close(predict_proba(ref, x, None, IBUG68), probs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("conv", "readout", "norm"), [("gat", "mean+max+flatten", "layer"),
                                                       ("gatv2", "attention", "batch"), ("gcn", "mean+max", "none")])
def test_generator_drives_every_dropout_draw(conv, readout, norm):
    """Block, attention, readout and head dropout of the dense model draw from ``model.generator`` only."""
    torch.manual_seed(12)
    kw = dict(conv=conv, readout=readout, norm=norm, hidden_channels=16, heads=2, num_nodes=68, node_embedding=4,
              dropout=0.4)
    a, b = DenseGraphClassifier(4, 5, **kw).train(), DenseGraphClassifier(4, 5, **kw).train()
    b.load_state_dict(a.state_dict())
    x, mask = torch.randn(3, 68, 4), torch.rand(3, 68) > 0.2

    def run(model, generator):
        model.generator = generator
        model.zero_grad()
        out = model(x, IBUG68.edge_index, mask=mask)
        out.square().sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    def assert_same(one, two):
        assert torch.equal(one[0], two[0])
        for g1, g2 in zip(one[1], two[1]):
            assert torch.equal(g1, g2)

    torch.manual_seed(0)
    seven = run(a, torch.Generator().manual_seed(7))
    torch.manual_seed(1)  # another global state: not read when a generator is set
    assert_same(run(b, torch.Generator().manual_seed(7)), seven)
    other = run(b, torch.Generator().manual_seed(8))
    assert not torch.allclose(other[0], seven[0])
    assert not all(torch.allclose(g1, g2) for g1, g2 in zip(other[1], seven[1]))
    # a generator in the default generator's state gives the generator=None results, and leaves the
    # default generator untouched
    torch.manual_seed(3)
    start = torch.get_rng_state()
    twin = torch.Generator()
    twin.set_state(start)
    with_twin = run(a, twin)
    assert torch.equal(torch.get_rng_state(), start)
    assert_same(run(b, None), with_twin)
    assert not torch.equal(torch.get_rng_state(), start)  # the None path drew from the default generator
    a.eval()  # eval mode draws nothing
    evaluated, before = a(x, IBUG68.edge_index, mask=mask), torch.get_rng_state()
    a.generator = None
    assert torch.equal(a(x, IBUG68.edge_index, mask=mask), evaluated)
    assert torch.equal(torch.get_rng_state(), before)
    assert "generator" not in a.state_dict()


def test_blocks_dropout_with_a_generator_is_torch_dropout():
    from fer_graph.models._blocks import dropout

    x = torch.randn(50, 64, requires_grad=True)
    torch.manual_seed(4)
    twin = torch.Generator()
    twin.set_state(torch.get_rng_state())
    ours = dropout(x, 0.3, True, twin)
    ref = torch.nn.functional.dropout(x, 0.3, True)
    assert torch.equal(ours, ref)
    g = torch.randn(50, 64)
    assert torch.equal(torch.autograd.grad((ours * g).sum(), x)[0], torch.autograd.grad((ref * g).sum(), x)[0])
    gen = torch.Generator().manual_seed(0)
    assert dropout(x, 0.3, False, gen) is x and dropout(x, 0.0, True, gen) is x
    assert bool((dropout(x, 1.0, True, gen) == 0).all())
    with pytest.raises(ValueError, match="p=1.5"):
        dropout(x, 1.5, True, gen)
