"""Graph classifiers for face graphs: GCN and GAT stacks on PyG's flat batches (:class:`GraphClassifier`) or on
dense fixed-topology batches (:class:`DenseGraphClassifier`), with the same parameters."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, global_max_pool, global_mean_pool

from . import _eager
from ._blocks import ClassifierBase
from ._kernels import residual_layer_norm_elu
from .fast import FastGATConv, FastGATv2Conv, FastGCNConv, FixedGraph, dropout16, fixed_graph
from .registry import register_model

__all__ = ["GraphClassifier", "DenseGraphClassifier", "gcn", "gat"]

_BACKENDS = ("pyg", "fast")


class GraphClassifier(ClassifierBase):
    """Message-passing classifier on PyG flat batches: embedding -> L conv blocks -> graph readout -> MLP head.

    Each block is ``conv -> norm -> ELU -> dropout`` with a residual connection. Inputs are standardized with
    per-channel statistics of the training data (buffers ``x_mean``/``x_std``, ``g_mean``/``g_std`` set by
    :meth:`set_standardization`), so a checkpoint carries its own preprocessing. This class runs PyG's
    convolutions on arbitrary graphs and is the reference of :class:`DenseGraphClassifier`, which has the
    same parameters and ``state_dict`` keys (weights move between them). Its dropout draws from torch's
    default generator (``F.dropout`` and PyG's attention dropout take no generator; :attr:`generator` is unused).

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
        graph_hidden: width of a two-layer ELU MLP the standardized graph attributes pass through before
            that concatenation (a late-fused blendshape branch); 0 concatenates them as they are.
        graph_asinh: scale ``s`` of the transform ``asinh(g / s)`` applied to graph attributes before their
            standardization (0: none).
        occluded_attrs: a graph with at least this share of its ``num_nodes`` landmarks occluded (removed, or
            ``visible`` False) gets its graph attributes replaced by the training mean: an occluder that hides
            landmarks corrupts the face's blendshapes too (Face Landmarker scores every blendshape from the
            whole face). 0 (the default): attributes are always used.
        attr_regions: one region preset per graph attribute (:func:`fer_graph.occlusion.regions.attribute_region`;
            ``""`` = the whole face): with it, ``occluded_attrs`` applies per attribute, to the share of that
            region's landmarks occluded (a masked mouth keeps the eye and brow blendshapes).
        num_nodes: V; with ``node_embedding > 0`` every landmark gets a learned identity vector of that
            size added to its input (landmark graphs have fixed node identities that plain message passing
            cannot see).
        node_embedding: size of that identity embedding (0 = off).
        standardize: ``"channel"`` (statistics per feature channel) or ``"node"`` (per landmark and channel).
        visibility: add a binary visibility input channel (1 = landmark seen, 0 = occluded: the ``masking``
            strategy of :mod:`fer_graph.occlusion`). Forward takes it as ``visible``; absent, every node counts
            as seen. Whenever ``visible`` is passed (with or without this channel), the standardized features
            of unseen landmarks are set to 0, i.e. to the training mean.

    Shapes:
        forward(x ``(N, F)``, edge_index ``(2, E)`` of the batch, batch ``(N,)``, node_id ``(N,)`` optional,
        graph_attr ``(B, A)`` optional, num_graphs optional, visible=``(N,)`` bool optional) -> logits
        ``(B, C)``.

    Raises:
        ValueError: unknown ``conv``/``norm``/``readout``/``standardize``, ``node_embedding`` without
            ``num_nodes``, or forward inputs that are not a flat batch (``mask``: pass the subgraph instead).
    """

    CONVS = {"gcn": GCNConv, "gat": GATConv, "gatv2": GATv2Conv}
    backend = "pyg"

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None, node_id: Tensor | None = None,
                graph_attr: Tensor | None = None, num_graphs: int | None = None, *, mask: Tensor | None = None,
                visible: Tensor | None = None) -> Tensor:
        if batch is None or mask is not None or x.dim() != 2:
            raise ValueError("GraphClassifier: forward takes flat x (N, F), edge_index and batch; no mask (pass "
                             "the subgraph; dense (B, V, F) batches are DenseGraphClassifier's)")
        if (self.standardize == "node" or self.node_embedding is not None) and node_id is None:
            raise ValueError("GraphClassifier: standardize='node' and node_embedding need node_id")
        if self.standardize == "node":
            h = (x - self.x_mean[node_id]) / self.x_std[node_id]
        else:
            h = (x - self.x_mean) / self.x_std
        seen = None if visible is None else visible.reshape(-1, 1)
        identity = None if self.node_embedding is None else self.node_embedding(node_id)
        h = self._embed(h, seen, identity, seen)
        for conv, norm in zip(self.convs, self.norms):
            out = F.dropout(F.elu(norm(conv(h, edge_index))), p=self.dropout, training=self.training)
            h = h + out if self.residual else out
        size = num_graphs if num_graphs is not None else int(batch.max()) + 1
        return self._classify(self._readout(h, batch, node_id, size), graph_attr,
                              drop_attrs=self._attrs_dropped(self._occluded_nodes(batch, node_id, size, visible)))

    def _occluded_nodes(self, batch: Tensor, node_id: Tensor | None, size: int,
                        visible: Tensor | None) -> Tensor | None:
        """``(size, num_nodes)`` bool: landmarks absent from each graph of the batch, or unseen."""
        if not (self.occluded_attrs and self.num_nodes) or node_id is None:
            return None
        seen = torch.zeros(size, self.num_nodes, dtype=torch.bool, device=batch.device)
        seen[batch, node_id] = True if visible is None else visible.reshape(-1)
        return ~seen

    def _readout(self, h: Tensor, batch: Tensor, node_id: Tensor | None, size: int) -> list[Tensor]:
        """Pooled node states, one ``(size, H)`` tensor per readout kind."""
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
        return pooled


class DenseGraphClassifier(ClassifierBase):
    """:class:`GraphClassifier` on dense batches of graphs that share one topology (the training default).

    Arguments, parameters and ``state_dict`` keys are those of :class:`GraphClassifier` (weights move between
    the two; outputs agree to float32 rounding, dropout draws differ). Layers are those of
    :mod:`fer_graph.models.fast`; with LayerNorm and residual (the defaults) a block's
    ``h + dropout(ELU(LayerNorm(conv)))`` is one fused Numba pass
    (:func:`fer_graph.models._kernels.residual_layer_norm_elu`). Block, attention and readout dropout draw
    from counter-based streams (:func:`~fer_graph.models.fast.dropout16`), every random draw in training mode
    from :attr:`generator` (None: torch's default generator).

    Shapes:
        forward(x ``(B, V, F)``, edge_index ``(2, E)`` of one graph or a
        :class:`~fer_graph.models.fast.FixedGraph`, graph_attr=``(B, A)`` optional, mask=``(B, V)`` bool
        optional (True = node present), visible=``(B, V)`` bool optional) -> logits ``(B, C)``. Node ids are
        the positions ``0..V-1``; a masked node is treated as deleted (as :class:`GraphClassifier` on the
        subgraph with ``node_id`` of the kept nodes); absent ``visible``, present nodes count as seen. Every
        graph needs at least one present node.

    Attributes:
        infer_chunk_nodes: in eval mode (every module) without autograd, a batch of more than this many nodes
            (B * V) runs as near-equal chunks of graphs (:meth:`inference_chunks`) with the same logits, which
            bounds peak inference memory (see docs/speed.md, "Chunked inference"); 0 = always one pass.
        generator: ``torch.Generator`` of the dropout draws in training mode, or None.

    Raises:
        ValueError: as :class:`GraphClassifier`, or inputs that are not a dense batch of this model's
            ``num_nodes`` nodes, or a ``mask`` that is not bool ``(B, V)``.
    """

    CONVS = {"gcn": FastGCNConv, "gat": FastGATConv, "gatv2": FastGATv2Conv}
    backend = "fast"
    infer_chunk_nodes: int = 32768

    def forward(self, x: Tensor, edge_index: Tensor | FixedGraph, *, graph_attr: Tensor | None = None,
                mask: Tensor | None = None, visible: Tensor | None = None) -> Tensor:
        if x.dim() != 3:
            raise ValueError(f"DenseGraphClassifier: x must be (B, V, F), got shape {tuple(x.shape)}")
        b, v, _ = x.shape
        if self.num_nodes is not None and v != self.num_nodes:
            raise ValueError(f"DenseGraphClassifier: built for num_nodes={self.num_nodes}, x has {v} nodes")
        graph = fixed_graph(edge_index, v)
        if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (b, v)):
            raise ValueError(f"DenseGraphClassifier: mask must be bool {(b, v)}, got {mask.dtype} "
                             f"{tuple(mask.shape)}")
        chunks = self._chunks(b, v, graph_attr, mask, visible)
        if chunks is not None:
            return torch.cat([self._logits(x[s], graph, *(None if t is None else t[s]
                                                          for t in (graph_attr, mask, visible)))
                              for s in chunks])
        return self._logits(x, graph, graph_attr, mask, visible)

    def inference_chunks(self, num_graphs: int) -> list[slice]:
        """Near-equal slices of a batch of ``num_graphs`` graphs of ``num_nodes`` nodes with at most
        :attr:`infer_chunk_nodes` nodes each (one slice when it fits or the limit is 0): the passes an
        eval-mode, no-grad forward runs.

        Raises:
            ValueError: the model was built without ``num_nodes``.
        """
        if not self.num_nodes:
            raise ValueError("DenseGraphClassifier.inference_chunks: needs num_nodes")
        return self._split(num_graphs, self.num_nodes)

    def _split(self, b: int, v: int) -> list[slice]:
        limit = self.infer_chunk_nodes
        n = 1 if not limit or b < 2 else min(b, -(-b * v // limit))
        return [slice(b * i // n, b * (i + 1) // n) for i in range(n)]

    def _chunks(self, b: int, v: int, *per_graph: Tensor | None) -> list[slice] | None:
        """:meth:`_split` of ``b`` graphs of ``v`` nodes, or None for one pass: chunk only in eval mode (every
        module) without autograd, where each graph's output depends on that graph alone, and only if every
        per-graph input has ``b`` rows (no broadcasting)."""
        if torch.is_grad_enabled() or any(m.training for m in self.modules()):
            return None
        if any(t is not None and (t.dim() == 0 or t.shape[0] != b) for t in per_graph):
            return None
        chunks = self._split(b, v)
        return chunks if len(chunks) > 1 else None

    def _logits(self, x: Tensor, graph: FixedGraph, graph_attr: Tensor | None, mask: Tensor | None,
                visible: Tensor | None) -> Tensor:
        """One pass over checked inputs (see the class's Shapes)."""
        b = x.shape[0]  # not len(): the ONNX tracer records shape[0] as dynamic
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)
        seen = visible if visible is not None else mask
        identity = None if self.node_embedding is None else self.node_embedding.weight.expand(b, -1, -1)
        h = self._embed((x - self.x_mean) / self.x_std, None if visible is None else visible[..., None], identity,
                        None if seen is None else seen[..., None])
        h = self._blocks(h, graph, mask)
        both = seen if mask is None or visible is None else visible & mask
        occluded = None if both is None else ~both
        return self._classify(self._readout(h, mask), graph_attr, self.generator, self._attrs_dropped(occluded))

    def _blocks(self, h: Tensor, graph: FixedGraph, mask: Tensor | None) -> Tensor:
        """The conv blocks on ``h`` ``(B, V, H)``; dropout from :attr:`generator`."""
        b, v, _ = h.shape
        gen = self.generator
        fused = self.residual and self.norm_type == "layer" and h.dtype in (torch.float32, torch.float64)
        export = _eager.exporting(mask, type(self).__name__)
        for conv, norm in zip(self.convs, self.norms):
            out = conv(h, graph, mask, generator=gen)
            if fused and export:
                h = _eager.residual_norm_elu(out, h, norm)
                continue
            if fused:  # h + dropout(ELU(LayerNorm(out))) in one Numba pass (and one backward pass)
                h = residual_layer_norm_elu(out, h, norm.weight, norm.bias, norm.eps, self.dropout, self.training,
                                            gen)
                continue
            if isinstance(norm, nn.BatchNorm1d):  # statistics over present nodes, as on the subgraphs
                flat, keep = out.reshape(b * v, -1), None if mask is None else mask.reshape(-1)
                out = (norm(flat) if keep is None else flat.masked_scatter(keep[:, None], norm(flat[keep])))
                out = out.view(b, v, -1)
            else:
                out = norm(out)
            # the norm's output (or the conv's) is saved by no backward, so ELU may overwrite it
            out = dropout16(F.elu(out, inplace=True), self.dropout, training=self.training, generator=gen)
            h = h + out if self.residual else out
        return h

    def _readout(self, h: Tensor, mask: Tensor | None) -> list[Tensor]:
        """Pooled node states over present nodes, one ``(B, H)`` tensor per readout kind."""
        present = None if mask is None else mask[..., None]
        pooled = []
        for kind in self.readout.split("+"):
            if kind == "mean":
                pooled.append(h.mean(1) if present is None else (h * present).sum(1) / present.sum(1))
            elif kind == "max":
                pooled.append((h if present is None else h.masked_fill(~present, float("-inf"))).amax(1))
            elif kind == "flatten":
                slots = (h if present is None else h * present).reshape(h.shape[0], -1)
                pooled.append(self.flatten[1](dropout16(slots, self.flatten[0].p, training=self.training,
                                                        generator=self.generator)))
            else:
                gate = self.attention.gate_nn(h)
                if present is not None:
                    gate = gate.masked_fill(~present, float("-inf"))
                values = h if self.attention.nn is None else self.attention.nn(h)
                pooled.append((gate.softmax(1) * values).sum(1))
        return pooled


def _build(backend: str, in_channels: int, num_classes: int, **kwargs) -> GraphClassifier | DenseGraphClassifier:
    if backend not in _BACKENDS:
        raise ValueError(f"GraphClassifier: backend={backend!r}; expected one of {_BACKENDS}")
    cls = DenseGraphClassifier if backend == "fast" else GraphClassifier
    return cls(in_channels, num_classes, **kwargs)


@register_model("gcn", kind="gnn",
                description="GCN stack (GCNConv), residual LayerNorm blocks, landmark-indexed flatten readout")
def gcn(in_channels: int, num_classes: int, *, backend: str = "pyg",
        **kwargs) -> GraphClassifier | DenseGraphClassifier:
    """GCN classifier (``conv="gcn"``; ``heads`` is ignored): :class:`GraphClassifier` with ``backend="pyg"``,
    :class:`DenseGraphClassifier` with ``backend="fast"``.

    Raises:
        ValueError: unknown ``backend``, or as the classifier.
    """
    kwargs.pop("heads", None)
    return _build(backend, in_channels, num_classes, conv="gcn", **kwargs)


@register_model("gat", kind="gnn",
                description="GAT stack (GATConv, 4 heads), residual LayerNorm blocks, landmark-indexed flatten readout")
def gat(in_channels: int, num_classes: int, *, v2: bool = False, backend: str = "pyg",
        **kwargs) -> GraphClassifier | DenseGraphClassifier:
    """GAT classifier (``conv="gat"``, ``GATv2Conv`` with ``v2=True``): :class:`GraphClassifier` with
    ``backend="pyg"``, :class:`DenseGraphClassifier` with ``backend="fast"``.

    Raises:
        ValueError: unknown ``backend``, or as the classifier.
    """
    return _build(backend, in_channels, num_classes, conv="gatv2" if v2 else "gat", **kwargs)
