"""Graph classifiers for face graphs: GCN and GAT stacks from PyG convolutions or their fixed-topology twins."""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, global_max_pool, global_mean_pool
from torch_geometric.nn.aggr import AttentionalAggregation

from ._kernels import residual_layer_norm_elu
from .fast import FastGATConv, FastGATv2Conv, FastGCNConv, FixedGraph, dropout16, fixed_graph
from .registry import register_model

__all__ = ["GraphClassifier", "gcn", "gat"]

_NORMS = ("none", "layer", "batch")
_READOUTS = ("mean+max", "mean", "attention", "mean+max+attention", "flatten", "mean+max+flatten")
_BACKENDS = ("pyg", "fast")


class GraphClassifier(nn.Module):
    """Message-passing classifier: embedding -> L conv blocks -> graph readout -> MLP head.

    Each block is ``conv -> norm -> ELU -> dropout`` with a residual connection (on the fast backend with
    LayerNorm and residual, the defaults, ``h + dropout(ELU(LayerNorm(conv)))`` is one fused Numba pass,
    :func:`fer_graph.models._kernels.residual_layer_norm_elu`; dropout there and in the readout draws from a
    counter-based stream, :func:`~fer_graph.models.fast.dropout16`). Inputs are standardized
    with per-channel statistics of the training data (buffers ``x_mean``/``x_std``, ``g_mean``/``g_std``
    set by :meth:`set_standardization`), so a checkpoint carries its own preprocessing.

    Args:
        in_channels: node feature size F.
        num_classes: C.
        conv: ``"gcn"`` (``GCNConv``), ``"gat"`` (``GATConv``) or ``"gatv2"`` (``GATv2Conv``).
        hidden_channels: width H of every block (GAT: ``heads`` x ``H // heads`` concatenated).
        num_layers: number of conv blocks.
        heads: attention heads (GAT only).
        dropout: dropout after each block and in the head; attention dropout for GAT.
        residual: add each block's input to its output.
        norm: ``"layer"``, ``"batch"`` or ``"none"``.
        readout: ``"mean+max"``, ``"mean"``, ``"attention"`` (PyG ``AttentionalAggregation``),
            ``"flatten"`` (landmark-indexed: node states scattered into V slots by ``node_id`` and
            projected by a linear layer; missing nodes stay zero, so it works on subgraphs), or a
            ``+``-joined combination such as ``"mean+max+flatten"``.
        graph_channels: size A of graph-level attributes (blendshapes, head pose) concatenated to the
            readout before the head; 0 for none.
        num_nodes: V; with ``node_embedding > 0`` every landmark gets a learned identity vector of that
            size added to its input (landmark graphs have fixed node identities that plain message passing
            cannot see; FINDINGS: +0.13 accuracy apex-only on CK+ lands).
        node_embedding: size of that identity embedding (0 = off).
        visibility: add a binary visibility input channel (1 = landmark seen, 0 = occluded: the ``masking``
            strategy of :mod:`fer_graph.occlusion`). Forward takes it as ``visible``; absent, every node counts
            as seen (present nodes, under a ``mask``). Whenever ``visible`` is passed (with or without this
            channel), the standardized features of unseen landmarks are set to 0, i.e. to the training mean.
        backend: ``"pyg"`` (PyG convolutions on a flat batch of arbitrary graphs) or ``"fast"``
            (:mod:`fer_graph.models.fast`: dense ``(B, V, F)`` batches of graphs sharing one topology,
            optional node masks). Both have the same parameters and ``state_dict`` keys, so weights move
            between them; outputs agree to float32 rounding (attention dropout draws differ).

    Shapes:
        ``backend="pyg"``: forward(x ``(N, F)``, edge_index ``(2, E)`` of the batch, batch ``(N,)``,
        node_id ``(N,)`` optional, graph_attr ``(B, A)`` optional, visible ``(N,)`` bool optional)
        -> logits ``(B, C)``.

        ``backend="fast"``: forward(x ``(B, V, F)``, edge_index ``(2, E)`` of one graph or a
        :class:`~fer_graph.models.fast.FixedGraph`, graph_attr=``(B, A)`` optional,
        mask=``(B, V)`` bool optional, True = node present, visible=``(B, V)`` bool optional)
        -> logits ``(B, C)``. Node ids are the
        positions ``0..V-1``; a masked node is treated as deleted (as the PyG path on the subgraph with
        ``node_id`` of the kept nodes). Every graph needs at least one present node.

    Attributes:
        infer_chunk_nodes: fast backend, eval mode (every module) without autograd (``torch.no_grad`` or
            ``torch.inference_mode``): a batch of more than this many nodes (B * V) runs as near-equal chunks
            of graphs, each within the limit, and the logits are concatenated; 0 = always one pass. Results
            are those of one pass (in eval mode every graph is independent; matmuls over fewer rows could
            round differently, measured identical). Why: at batch 256 on 468-node graphs the intermediates of
            one pass are 15-31 MB each, which glibc's default allocator hands back to the OS after use (mmap /
            heap trim) and page-faults in again on the next batch: 41-287 MB of minor faults per batch, 13-129
            ms of system time, measured. Chunks of 64 graphs (the default 32768 nodes: an ``(nodes, 64)``
            float32 activation is 8 MB) fault no pages after warm-up. Batch-256 inference of the default GAT
            measured 1.12-1.31x faster (GCN 1.13-1.39x) with 1 or 2 threads, interleaved in one process
            (``experiments/bench_speed.py``: ``infer_speedup_vs_one_pass``; 1.12x amid the benchmark's other
            work, 1.19-1.31x alone): the gain is the page faults saved, so it depends on the allocator's
            state; with ``mallopt`` tuning (``--tuned-malloc``) one pass is as fast (chunks gained 1.02x).
            Those gains were measured before the fused Numba kernels; with them chunks are no faster (x1.00
            GAT, x0.92 GCN in one benchmark run), and the reason to keep them is memory: peak inference
            memory at about a quarter (33-41 instead of about 150 MB) and the GCN's
            :class:`~fer_graph.models.fast.FixedGraph` index tensors at chunk size. 68-node graphs are split
            only beyond 481 graphs.

    Raises:
        ValueError: unknown ``conv``/``norm``/``readout``/``backend``, ``node_embedding`` without
            ``num_nodes``, or inputs of the wrong backend.
    """

    infer_chunk_nodes: int = 32768

    def __init__(self, in_channels: int, num_classes: int, *, conv: str = "gat", hidden_channels: int = 64,
                 num_layers: int = 3, heads: int = 4, dropout: float = 0.3, residual: bool = True,
                 norm: str = "layer", readout: str = "mean+max", graph_channels: int = 0,
                 num_nodes: int | None = None, node_embedding: int = 0, backend: str = "pyg",
                 standardize: str = "channel", visibility: bool = False) -> None:
        super().__init__()
        if backend not in _BACKENDS:
            raise ValueError(f"GraphClassifier: backend={backend!r}; expected one of {_BACKENDS}")
        if conv not in ("gcn", "gat", "gatv2"):
            raise ValueError(f"GraphClassifier: conv={conv!r}; expected 'gcn', 'gat' or 'gatv2'")
        if norm not in _NORMS:
            raise ValueError(f"GraphClassifier: norm={norm!r}; expected one of {_NORMS}")
        if readout not in _READOUTS:
            raise ValueError(f"GraphClassifier: readout={readout!r}; expected one of {_READOUTS}")
        if (node_embedding or "flatten" in readout) and not num_nodes:
            raise ValueError("GraphClassifier: node_embedding and the flatten readout need num_nodes")
        if conv != "gcn" and hidden_channels % heads:
            raise ValueError(f"GraphClassifier: hidden_channels={hidden_channels} not divisible by heads={heads}")
        self.in_channels, self.num_classes, self.conv_type = in_channels, num_classes, conv
        self.hidden_channels, self.num_layers, self.heads = hidden_channels, num_layers, heads
        self.dropout, self.residual, self.norm_type, self.readout = dropout, residual, norm, readout
        self.graph_channels, self.num_nodes, self.node_embedding_dim = graph_channels, num_nodes, node_embedding
        self.backend, self.visibility = backend, visibility
        fast = backend == "fast"

        if standardize not in ("channel", "node"):
            raise ValueError(f"GraphClassifier: standardize={standardize!r}; expected 'channel' or 'node'")
        if standardize == "node" and not num_nodes:
            raise ValueError("GraphClassifier: standardize='node' needs num_nodes")
        self.standardize = standardize
        shape = (num_nodes, in_channels) if standardize == "node" else (in_channels,)
        self.register_buffer("x_mean", torch.zeros(shape))
        self.register_buffer("x_std", torch.ones(shape))
        self.register_buffer("g_mean", torch.zeros(graph_channels))
        self.register_buffer("g_std", torch.ones(graph_channels))
        self.node_embedding = nn.Embedding(num_nodes, node_embedding) if node_embedding else None
        self.input = nn.Linear(in_channels + node_embedding + int(visibility), hidden_channels)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for _ in range(num_layers):
            if conv == "gcn":
                layer = (FastGCNConv(hidden_channels, hidden_channels) if fast
                         else GCNConv(hidden_channels, hidden_channels, cached=False))
            else:
                cls = {("gat", False): GATConv, ("gatv2", False): GATv2Conv,
                       ("gat", True): FastGATConv, ("gatv2", True): FastGATv2Conv}[conv, fast]
                layer = cls(hidden_channels, hidden_channels // heads, heads=heads, dropout=dropout)
            self.convs.append(layer)
            self.norms.append(nn.LayerNorm(hidden_channels) if norm == "layer"
                              else nn.BatchNorm1d(hidden_channels) if norm == "batch" else nn.Identity())
        self.attention = (AttentionalAggregation(nn.Linear(hidden_channels, 1))
                          if "attention" in readout else None)
        self.flatten = (nn.Sequential(nn.Dropout(dropout), nn.Linear(num_nodes * hidden_channels, hidden_channels))
                        if "flatten" in readout else None)
        pooled = hidden_channels * len(readout.split("+"))
        self.head = nn.Sequential(
            nn.Linear(pooled + graph_channels, hidden_channels), nn.ELU(), nn.Dropout(dropout),
            nn.Linear(hidden_channels, num_classes),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    @torch.no_grad()
    def set_standardization(self, x: Tensor, graph_attr: Tensor | None = None) -> None:
        """Store mean and std of training features ``x`` ``(G, V, F)`` (and ``graph_attr``): per channel, or
        with ``standardize="node"`` per landmark and channel (so node features become the deviation from
        the training mean face, in units of each landmark's spread)."""
        flat = x.double() if self.standardize == "node" else x.reshape(-1, x.shape[-1]).double()
        self.x_mean.copy_(flat.mean(0).float())
        self.x_std.copy_(flat.std(0).clamp_min(1e-6).float())
        if graph_attr is not None and self.graph_channels:
            g = graph_attr.double()
            self.g_mean.copy_(g.mean(0).float())
            self.g_std.copy_(g.std(0).clamp_min(1e-6).float())

    def forward(self, x: Tensor, edge_index: Tensor | FixedGraph, batch: Tensor | None = None,
                node_id: Tensor | None = None, graph_attr: Tensor | None = None, num_graphs: int | None = None,
                *, mask: Tensor | None = None, visible: Tensor | None = None) -> Tensor:
        if self.backend == "fast":
            if batch is not None or node_id is not None:
                raise ValueError("GraphClassifier(backend='fast'): forward takes dense x (B, V, F) and one graph's "
                                 "edge_index, not batch/node_id")
            return self._forward_dense(x, edge_index, graph_attr, mask, visible)
        if batch is None or mask is not None or x.dim() != 2:
            raise ValueError("GraphClassifier(backend='pyg'): forward takes flat x (N, F), edge_index and batch; "
                             "no mask (pass the subgraph)")
        if self.standardize == "node":
            if node_id is None:
                raise ValueError("GraphClassifier: standardize='node' needs node_id")
            h = (x - self.x_mean[node_id]) / self.x_std[node_id]
        else:
            h = (x - self.x_mean) / self.x_std
        if visible is not None:  # occluded features are zero in standardized space (see _forward_dense)
            h = h.masked_fill(~visible.reshape(-1, 1), 0.0)
        if self.node_embedding is not None:
            if node_id is None:
                raise ValueError("GraphClassifier: node_embedding is on, so forward needs node_id")
            h = torch.cat([h, self.node_embedding(node_id)], dim=-1)
        if self.visibility:
            vis = torch.ones(len(h), 1) if visible is None else visible.reshape(-1, 1)
            h = torch.cat([h, vis.to(h.dtype)], dim=-1)
        h = self.input(h)
        for conv, norm in zip(self.convs, self.norms):
            out = F.dropout(F.elu(norm(conv(h, edge_index))), p=self.dropout, training=self.training)
            h = h + out if self.residual else out
        size = num_graphs if num_graphs is not None else int(batch.max()) + 1
        pooled = []
        for kind in self.readout.split("+"):
            if kind == "mean":
                pooled.append(global_mean_pool(h, batch, size))
            elif kind == "max":
                pooled.append(global_max_pool(h, batch, size))
            elif kind == "flatten":
                if node_id is None:
                    raise ValueError("GraphClassifier: the flatten readout needs node_id")
                slots = h.new_zeros(size, self.num_nodes, h.shape[-1])
                slots[batch, node_id] = h
                pooled.append(self.flatten(slots.reshape(size, -1)))
            else:
                pooled.append(self.attention(h, batch, dim_size=size))
        return self._head(pooled, graph_attr)

    def _forward_dense(self, x: Tensor, edge_index: Tensor | FixedGraph, graph_attr: Tensor | None,
                       mask: Tensor | None, visible: Tensor | None = None) -> Tensor:
        if x.dim() != 3:
            raise ValueError(f"GraphClassifier(backend='fast'): x must be (B, V, F), got shape {tuple(x.shape)}")
        b, v, _ = x.shape
        if self.num_nodes is not None and v != self.num_nodes:
            raise ValueError(f"GraphClassifier: built for num_nodes={self.num_nodes}, x has {v} nodes")
        graph = fixed_graph(edge_index, v)
        if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (b, v)):
            raise ValueError(f"GraphClassifier: mask must be bool {(b, v)}, got {mask.dtype} {tuple(mask.shape)}")
        chunks = self._inference_chunks(b, v, graph_attr, mask, visible)
        if chunks is not None:
            return torch.cat([self._forward_dense(x[s], graph, *(None if t is None else t[s]
                                                                 for t in (graph_attr, mask, visible)))
                              for s in chunks])
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)
        h = (x - self.x_mean) / self.x_std
        if visible is not None:
            # feature masking: occluded landmarks get 0 in the model's standardized input space (the training
            # mean, per channel or per landmark). A raw 0 would sit tens of standard deviations away under
            # per-landmark statistics; this keeps masked inputs in range for either standardization.
            h = h.masked_fill(~visible[..., None], 0.0)
        if self.node_embedding is not None:
            h = torch.cat([h, self.node_embedding.weight.expand(b, -1, -1)], dim=-1)
        if self.visibility:
            vis = visible if visible is not None else mask
            vis = h.new_ones(b, v, 1) if vis is None else vis.reshape(b, v, 1).to(h.dtype)
            h = torch.cat([h, vis], dim=-1)
        h = self.input(h)
        fused = self.residual and self.norm_type == "layer" and h.dtype in (torch.float32, torch.float64)
        for conv, norm in zip(self.convs, self.norms):
            out = conv(h, graph, mask)
            if fused:  # h + dropout(ELU(LayerNorm(out))) in one Numba pass (and one backward pass)
                h = residual_layer_norm_elu(out, h, norm.weight, norm.bias, norm.eps, self.dropout, self.training)
                continue
            if isinstance(norm, nn.BatchNorm1d):  # statistics over present nodes, as on the subgraphs
                flat, keep = out.reshape(b * v, -1), None if mask is None else mask.reshape(-1)
                out = (norm(flat) if keep is None else flat.masked_scatter(keep[:, None], norm(flat[keep])))
                out = out.view(b, v, -1)
            else:
                out = norm(out)
            # the norm's output (or the conv's) is saved by no backward, so ELU may overwrite it
            out = dropout16(F.elu(out, inplace=True), self.dropout, training=self.training)
            h = h + out if self.residual else out
        present = None if mask is None else mask[..., None]
        pooled = []
        for kind in self.readout.split("+"):
            if kind == "mean":
                pooled.append(h.mean(1) if present is None else (h * present).sum(1) / present.sum(1))
            elif kind == "max":
                pooled.append((h if present is None else h.masked_fill(~present, float("-inf"))).amax(1))
            elif kind == "flatten":
                slots = (h if present is None else h * present).reshape(b, -1)
                pooled.append(self.flatten[1](dropout16(slots, self.flatten[0].p, training=self.training)))
            else:
                gate = self.attention.gate_nn(h)
                if present is not None:
                    gate = gate.masked_fill(~present, float("-inf"))
                values = h if self.attention.nn is None else self.attention.nn(h)
                pooled.append((gate.softmax(1) * values).sum(1))
        return self._head(pooled, graph_attr)

    def _pure_inference(self) -> bool:
        """No autograd and every module in eval mode: each graph's output depends on that graph alone."""
        return not torch.is_grad_enabled() and not any(m.training for m in self.modules())

    def _inference_chunks(self, b: int, v: int, *per_graph: Tensor | None) -> list[slice] | None:
        """Near-equal slices of the ``b`` graphs with at most :attr:`infer_chunk_nodes` nodes each, or ``None``
        for one pass: chunk only in eval mode (every module) without autograd, where every graph's output
        depends on that graph alone, and only if every per-graph input has ``b`` rows (no broadcasting)."""
        limit = self.infer_chunk_nodes
        if not limit or b < 2 or b * v <= limit or not self._pure_inference():
            return None
        if any(t is not None and (t.dim() == 0 or t.shape[0] != b) for t in per_graph):
            return None
        n = min(b, -(-b * v // limit))
        return [slice(b * i // n, b * (i + 1) // n) for i in range(n)]

    def _head(self, pooled: list[Tensor], graph_attr: Tensor | None) -> Tensor:
        z = torch.cat(pooled, dim=-1)
        if self.graph_channels:
            if graph_attr is None:
                raise ValueError(f"GraphClassifier: built with graph_channels={self.graph_channels}, "
                                 "forward needs graph_attr")
            z = torch.cat([z, (graph_attr - self.g_mean) / self.g_std], dim=-1)
        return self.head(z)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.conv_type}, in={self.in_channels}, hidden={self.hidden_channels}, "
                f"layers={self.num_layers}, classes={self.num_classes}, backend={self.backend!r})")


@register_model("gcn", kind="gnn", description="GCN (PyG GCNConv) stack, residual, mean+max readout")
def gcn(in_channels: int, num_classes: int, **kwargs) -> GraphClassifier:
    """GCN classifier: :class:`GraphClassifier` with ``conv="gcn"``."""
    kwargs.pop("heads", None)
    return GraphClassifier(in_channels, num_classes, conv="gcn", **kwargs)


@register_model("gat", kind="gnn", description="GAT (PyG GATConv) stack, residual, mean+max readout")
def gat(in_channels: int, num_classes: int, *, v2: bool = False, **kwargs) -> GraphClassifier:
    """GAT classifier: :class:`GraphClassifier` with ``conv="gat"`` (``GATv2Conv`` with ``v2=True``)."""
    return GraphClassifier(in_channels, num_classes, conv="gatv2" if v2 else "gat", **kwargs)
