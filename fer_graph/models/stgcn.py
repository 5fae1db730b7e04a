"""Spatio-temporal graph convolution over landmark sequences (ST-GCN; Yan, Xiong & Lin, "Spatial Temporal
Graph Convolutional Networks for Skeleton-Based Action Recognition", AAAI 2018).

Input: the ``seq`` features of a sequence dataset, ``(B, V, T * C)`` (per node, T frames of C channels:
coordinates and displacement from the onset, :class:`fer_graph.graphs.features.FeatureSpec`). Each block is a
graph convolution over the fixed landmark topology in every frame (symmetrically normalized adjacency with
self-loops, times a learned edge-importance mask as in ST-GCN) followed by a temporal convolution over frames
of each node, LayerNorm, ReLU, dropout and a residual connection. Readout: the last (apex) frame's features
(or their mean over frames), then the landmark-indexed flatten of the GAT (``readout="flatten"``) or the
mean over nodes (``"mean"``), then a linear head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..graphs.sequences import temporal_augment
from .fast import dropout16
from .registry import register_model

__all__ = ["STGCN", "stgcn", "normalized_adjacency"]


def normalized_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """``(V, V)`` float32 ``D^-1/2 (A + I) D^-1/2`` of an undirected edge list ``(2, E)`` (Kipf & Welling 2017)."""
    a = torch.zeros(num_nodes, num_nodes)
    a[edge_index[0], edge_index[1]] = 1.0
    a = ((a + a.T) > 0).float() + torch.eye(num_nodes)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class _Block(nn.Module):
    """One ST-GCN block on channels-last ``(B, T, V, C)``: ``relu(h + drop(LN(temporal(relu(LN(A (x W)))))))``
    with ``h`` the input (projected when the width changes). The graph conv is ``A (x W)`` with ``A`` the
    normalized adjacency times the learned edge importance; the temporal conv of kernel K is one matmul over
    the K shifted frames (zero-padded at both ends). Matmuls on channels-last tensors instead of ``Conv2d``
    keep a step a few milliseconds on a CPU."""

    def __init__(self, cin: int, cout: int, num_nodes: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.spatial = nn.Linear(cin, cout)
        self.importance = nn.Parameter(torch.ones(num_nodes, num_nodes))
        self.norm1 = nn.LayerNorm(cout)
        self.temporal = nn.Linear(kernel * cout, cout)
        self.norm2 = nn.LayerNorm(cout)
        self.kernel, self.dropout = kernel, dropout
        self.residual = nn.Identity() if cin == cout else nn.Linear(cin, cout)

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        # (B, T, C, V) @ (V, V)^T: one matrix product over every frame and channel
        h = torch.matmul(self.spatial(x).transpose(2, 3), (adj * self.importance).T).transpose(2, 3)
        h = F.relu(self.norm1(h))
        pad = self.kernel // 2
        padded = F.pad(h, (0, 0, 0, 0, pad, pad))  # zero frames before and after
        t = h.shape[1]
        stacked = torch.cat([padded[:, k:k + t] for k in range(self.kernel)], dim=-1)  # (B, T, V, K * C)
        h = dropout16(self.norm2(self.temporal(stacked)), self.dropout, training=self.training)
        return F.relu(h + self.residual(x))


class STGCN(nn.Module):
    """ST-GCN classifier of landmark sequences on a fixed topology (dense; the training loop's ``fast`` path).

    Args:
        in_channels: node feature size ``T * C``; frames: T (``in_channels`` must be a multiple of it).
        num_classes: C classes; num_nodes: V landmarks.
        hidden_channels: width of every block (constant: the doubling of the original ST-GCN would cost
            four times the compute in the last block on a CPU).
        num_layers: ST-GCN blocks (>= 1); temporal_kernel: odd kernel length over frames.
        dropout: after each block's temporal conv and before the head.
        readout: ``"mean"`` (over nodes) or ``"flatten"`` (every node's features concatenated in landmark
            order into the head), after the temporal pooling.
        temporal_pool: ``"last"``: the last frame's features (the apex of a CK+ sequence, whose receptive
            field covers the frames before it), or ``"mean"`` over frames.
        temporal_augment: in training mode, random start/end jitter, speed change and frame dropout of each
            sequence (:func:`fer_graph.graphs.sequences.temporal_augment`) before the first block.
        standardize: ``"node"`` (deviation from the training mean trajectory of each landmark and channel)
            or ``"channel"``.

    Raises:
        ValueError: ``in_channels`` not a multiple of ``frames``, an even kernel, or an unknown readout.
    """

    backend = "fast"

    def __init__(self, in_channels: int, num_classes: int, *, frames: int, num_nodes: int, hidden_channels: int = 32,
                 num_layers: int = 3, temporal_kernel: int = 3, dropout: float = 0.2, readout: str = "mean",
                 temporal_augment: bool = True, standardize: str = "node", temporal_pool: str = "last") -> None:
        super().__init__()
        if frames < 1 or in_channels % frames:
            raise ValueError(f"STGCN: in_channels={in_channels} is not frames={frames} x channels per frame; "
                             "train it on the 'seq' features of a sequence dataset (build-graphs --sequences)")
        if (temporal_kernel % 2 == 0 or readout not in ("mean", "flatten") or num_layers < 1
                or temporal_pool not in ("mean", "last")):
            raise ValueError(f"STGCN: temporal_kernel={temporal_kernel} (odd), readout={readout!r} ('mean' or "
                             f"'flatten'), temporal_pool={temporal_pool!r} ('mean' or 'last'), num_layers={num_layers} "
                             "(>= 1)")
        self.frames, self.num_nodes, self.readout, self.temporal_pool = frames, num_nodes, readout, temporal_pool
        self.temporal_augment, self.standardize = temporal_augment, standardize
        shape = (num_nodes, in_channels) if standardize == "node" else (in_channels,)
        self.register_buffer("x_mean", torch.zeros(shape))
        self.register_buffer("x_std", torch.ones(shape))
        self.register_buffer("adj", torch.eye(num_nodes), persistent=False)
        widths = [in_channels // frames] + [hidden_channels] * num_layers
        self.blocks = nn.ModuleList(_Block(a, b, num_nodes, temporal_kernel, dropout)
                                    for a, b in zip(widths[:-1], widths[1:]))
        pooled = widths[-1] * (num_nodes if readout == "flatten" else 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(pooled, num_classes))
        self._edges: Tensor | None = None

    @torch.no_grad()
    def set_standardization(self, x: Tensor, graph_attr: Tensor | None = None) -> None:
        """Per-landmark (or per-channel) mean and std of the training features ``x`` ``(G, V, T * C)``."""
        dims = (0,) if self.standardize == "node" else (0, 1)
        self.x_mean.copy_(x.mean(dims))
        self.x_std.copy_(x.std(dims).clamp_min(1e-6))

    def forward(self, x: Tensor, edge_index: Tensor, graph_attr: Tensor | None = None, *,
                mask: Tensor | None = None, visible: Tensor | None = None) -> Tensor:
        """Logits ``(B, num_classes)`` of ``x`` ``(B, V, T * C)``; ``edge_index`` is the topology's.

        ``mask`` ``(B, V)`` bool (False = landmark occluded in every frame) sets those nodes' standardized
        features to 0, the training mean (masking); ``visible`` is not supported.
        """
        if visible is not None:
            raise ValueError("STGCN takes no visibility input (train it without --mask-augment)")
        if self._edges is not edge_index:
            self.adj = normalized_adjacency(edge_index, self.num_nodes)
            self._edges = edge_index
        b, v, _ = x.shape
        z = (x - self.x_mean) / self.x_std
        if mask is not None:
            z = z * mask[:, :, None].to(z.dtype)
        z = z.view(b, v, self.frames, -1)
        if self.training and self.temporal_augment:
            z = temporal_augment(z)
        h = z.transpose(1, 2)  # (B, T, V, C)
        for block in self.blocks:
            h = block(h, self.adj)
        h = h.mean(1) if self.temporal_pool == "mean" else h[:, -1]  # (B, V, C)
        h = h.mean(1) if self.readout == "mean" else h.flatten(1)
        return self.head(h)


@register_model("stgcn", kind="gnn", features="seq",
                description="ST-GCN over landmark sequences (graph conv per frame + temporal conv), sequence datasets")
def stgcn(in_channels: int, num_classes: int, *, num_nodes: int, frames: int | None = None, hidden_channels: int = 32,
          num_layers: int = 3, dropout: float = 0.2, readout: str = "mean", standardize: str = "node",
          temporal_kernel: int = 3, temporal_augment: bool = True, temporal_pool: str = "last", backend: str = "fast",
          **unused) -> STGCN:
    """:class:`STGCN` from the training config's model kwargs (GAT-only ones such as ``heads`` are ignored;
    ``readout="flatten"`` is kept, other readouts become ``"mean"``).

    Raises:
        ValueError: no ``frames`` (the features are not the ``seq`` frames of a sequence dataset), or as
            :class:`STGCN`.
    """
    if frames is None:
        raise ValueError("stgcn trains on sequences: build a sequence dataset (build-graphs --source ck-lands "
                         "--sequences) and use its 'seq' features")
    readout = readout if readout in ("mean", "flatten") else "mean"
    return STGCN(in_channels, num_classes, frames=frames, num_nodes=num_nodes, hidden_channels=hidden_channels,
                 num_layers=num_layers, temporal_kernel=temporal_kernel, dropout=dropout, readout=readout,
                 temporal_augment=temporal_augment, standardize=standardize, temporal_pool=temporal_pool)
