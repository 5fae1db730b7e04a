"""Fast graph convolutions for face graphs that all share one topology.

Node features are dense ``(B, V, F)`` (B graphs of V landmarks) and one :class:`FixedGraph` describes the
edges of every graph, so a batch is ``x[idx]``: no ``Batch.from_data_list``, no block-diagonal
``edge_index``. Missing landmarks are expressed by a node mask ``(B, V)`` (True = present): a masked
node neither sends nor receives messages, exactly as if it and its edges were deleted (degrees and
attention softmaxes are those of the subgraph), and its output row is zero.

Each layer holds the parameters of its PyG counterpart under the same names, so ``state_dict`` s are
interchangeable and ``from_pyg`` copies a PyG layer's weights; outputs match PyG to float32 rounding.

How: a GCN neighbour sum is one ``embedding_bag`` (fused gather and weighted sum) over index tensors built
once per topology and batch size (:class:`FixedGraph`). A GAT layer is one matmul (features and both
attention scores of every head) and one fused Numba kernel per direction
(:mod:`fer_graph.models._kernels`): logits, LeakyReLU, softmax over present neighbours, attention dropout
and the weighted sum in one pass over the CSR neighbour lists, its backward in two. GATv2 needs every
edge's vector and keeps the eager formulation on a padded ``(V, max degree + 1, B, heads)`` table. Speed
against stock PyG: ``experiments/bench_speed.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros

from . import _eager
from ._fixed_graph import Attend, FixedGraph, SymmetricAggregate, fixed_graph
from ._kernels import gat_attend, hash_dropout

__all__ = ["FixedGraph", "fixed_graph", "FastGCNConv", "FastGATConv", "FastGATv2Conv", "dropout16"]


def dropout16(x: Tensor, p: float, *, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout drawing 16 random bits per element from a counter-based stream.

    Each element is kept with probability ``1 - q``, ``q = round(p * 2**16) / 2**16`` (within ``2**-17`` of
    ``p``), and scaled by ``1 / (1 - q)``, so expectations are unchanged. The bits of element n are a 16-bit
    lane of SplitMix64(seed + n // 4), one seed per call drawn from ``generator`` (None: torch's default
    generator), so results are reproducible through it; the backward recomputes the pattern from the seed,
    so no mask is stored. Why: a hash per four elements, fused with the multiply, is much cheaper on CPU than
    a Bernoulli (``F.dropout``) or ``randint`` draw per element (see docs/speed.md).

    Shapes:
        x: any shape, CPU float32 or float64. Returns the same shape and dtype.

    Raises:
        ValueError: ``p`` outside ``[0, 1]``.

    Reference:
        Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 2014;
        Steele, Lea & Flood, "Fast Splittable Pseudorandom Number Generators", OOPSLA 2014 (SplitMix64).
    """
    return hash_dropout(x, p, training, generator)


def _check_input(x: Tensor, graph: FixedGraph | Tensor, mask: Tensor | None, where: str) -> FixedGraph:
    if x.dim() != 3:
        raise ValueError(f"{where}: x must be (B, V, F), got shape {tuple(x.shape)}")
    graph = fixed_graph(graph, x.shape[1])
    if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != tuple(x.shape[:2])):
        raise ValueError(f"{where}: mask must be bool {tuple(x.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
    return graph


def _slot_bias(graph: FixedGraph, mask: Tensor | None, dtype: torch.dtype) -> Tensor:
    """``(V, D, 1 | B, 1)``: 0 on neighbour-table slots that take part in the softmax, -inf elsewhere.

    A slot takes part if it is not padding and its source node is present (a node's own slot always
    is, so the softmax of a masked node stays finite; its output is zeroed later).
    """
    valid = graph.valid[:, :, None, None]
    if mask is not None:
        sender = mask.t()[graph.nbr]  # (V, D, B): the source node is present
        valid = valid & (sender | graph.is_self[:, :, None])[..., None]
    return torch.zeros(valid.shape, dtype=dtype).masked_fill_(~valid, float("-inf"))


def _neighbour_softmax(logits: Tensor, graph: FixedGraph, mask: Tensor | None, dropout: float,
                       training: bool, generator: torch.Generator | None) -> Tensor:
    """Softmax over each node's neighbours (dim 1), then dropout from ``generator``. ``(V, D, B, H)`` in and
    out."""
    alpha = (logits + _slot_bias(graph, mask, logits.dtype)).softmax(1)
    return dropout16(alpha, dropout, training=training, generator=generator)


def _finish(out: Tensor, bias: Tensor | None, mask: Tensor | None) -> Tensor:
    """Add the bias and zero masked rows, in place: ``out`` is a fresh aggregation no backward needs.

    Not on a view: autograd records an in-place op on a view of a custom Function's output as a
    ``CopySlices`` whose backward clones, zero-fills and copies the whole tensor, so views take the
    out-of-place ops.
    """
    if out._is_view():
        out = out if bias is None else out + bias
        return out if mask is None else out * mask[..., None]
    if bias is not None:
        out = out.add_(bias)
    return out if mask is None else out.mul_(mask[..., None])


class FastGCNConv(nn.Module):
    r"""Graph convolution on a fixed topology: :class:`torch_geometric.nn.GCNConv` for dense batches.

    :math:`X' = \hat D^{-1/2} (A + I) \hat D^{-1/2} X W + b`, with :math:`\hat D` the degrees including the
    self loop; with a node mask the degrees are those of each graph's subgraph of present nodes.
    Equals ``GCNConv(in_channels, out_channels)`` (``add_self_loops=True, normalize=True``).

    Args:
        in_channels: F.
        out_channels: F'.
        bias: learn an additive bias.

    Shapes:
        x: ``(B, V, F)`` float; graph: :class:`FixedGraph` or one graph's ``(2, E)`` edge_index;
        mask: ``(B, V)`` bool or None. Returns ``(B, V, F')``, zero at masked nodes. ``generator`` is
        accepted and unused (no randomness), so every fast layer takes the same arguments.

    Raises:
        ValueError: bad shapes or an invalid topology.

    Reference:
        Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017.
    """

    def __init__(self, in_channels: int, out_channels: int, *, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        zeros(self.bias)

    @classmethod
    def from_pyg(cls, conv: GCNConv) -> FastGCNConv:
        """A copy of ``conv``'s weights.

        Raises:
            ValueError: ``conv`` is not a default-normalized ``GCNConv`` (improved, no self loops, no
                normalization).
        """
        if not isinstance(conv, GCNConv) or conv.improved or not conv.add_self_loops or not conv.normalize:
            raise ValueError("FastGCNConv.from_pyg: needs a GCNConv with improved=False, add_self_loops=True, "
                             "normalize=True")
        out = cls(conv.in_channels, conv.out_channels, bias=conv.bias is not None)
        out.load_state_dict(conv.state_dict())
        return out

    def forward(self, x: Tensor, graph: FixedGraph | Tensor, mask: Tensor | None = None, *,
                generator: torch.Generator | None = None) -> Tensor:
        graph = _check_input(x, graph, mask, "FastGCNConv")
        if _eager.exporting(mask, "FastGCNConv"):
            return _finish(_eager.gcn_aggregate(self.lin(x), graph), self.bias, None)
        b, v, _ = x.shape
        bt = graph.batched(b)
        if mask is None:
            weight = graph.gcn_weights(b, x.dtype)
        else:
            x = x.masked_fill(~mask[..., None], 0.0)  # masked features never reach a sum, even non-finite
            m = mask.to(x.dtype)
            deg = torch.zeros_like(m).index_add_(1, graph.dst, m[:, graph.src])
            s = torch.where(mask, deg.clamp_min(1.0).rsqrt(), 0.0)
            weight = (s[:, graph.dst] * s[:, graph.src]).reshape(-1)
        y = self.lin(x)
        out = SymmetricAggregate.apply(y.reshape(b * v, -1), weight, bt.index, bt.offsets)  # (B * V, F')
        return _finish(out, self.bias, None if mask is None else mask.reshape(-1)).view(b, v, -1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"


class FastGATConv(nn.Module):
    r"""Graph attention on a fixed topology: :class:`torch_geometric.nn.GATConv` for dense batches.

    :math:`x'_i = \Vert_h \sum_{j \in N(i) \cup \{i\}} \alpha^h_{ij} W^h x_j + b`, with
    :math:`\alpha^h_{ij} = \mathrm{softmax}_j(\mathrm{LeakyReLU}(a^h_{src} \cdot W^h x_j + a^h_{dst} \cdot W^h x_i))`
    and dropout on :math:`\alpha` in training. With a node mask, the softmax runs over present neighbours
    only. Equals ``GATConv(in_channels, out_channels, heads=heads)`` (``add_self_loops=True``, no edge
    features, no residual).

    Args:
        in_channels: F.
        out_channels: C per head.
        heads: H.
        concat: concatenate heads (output ``H * C``); else average them (output ``C``).
        negative_slope: LeakyReLU slope.
        dropout: dropout probability of the attention weights in training (its seed drawn from the
            forward's ``generator``; None: torch's default generator).
        bias: learn an additive bias.

    Shapes:
        x: ``(B, V, F)`` float; graph: :class:`FixedGraph` or one graph's ``(2, E)`` edge_index;
        mask: ``(B, V)`` bool or None. Returns ``(B, V, H * C)`` (or ``(B, V, C)``), zero at masked nodes.

    Raises:
        ValueError: bad shapes or an invalid topology.

    Reference:
        Veličković et al., "Graph Attention Networks", ICLR 2018.

    Example:
        >>> from fer_graph.graphs.topology import MEDIAPIPE468
        >>> conv = FastGATConv(6, 16, heads=4)
        >>> x, mask = torch.randn(2, 468, 6), torch.rand(2, 468) > 0.1
        >>> tuple(conv(x, MEDIAPIPE468.edge_index, mask).shape)
        (2, 468, 64)
        >>> FastGATConv.from_pyg(GATConv(6, 16, heads=4)).heads
        4
    """

    def __init__(self, in_channels: int, out_channels: int, *, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.lin = Linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    @classmethod
    def from_pyg(cls, conv: GATConv) -> FastGATConv:
        """A copy of ``conv``'s weights and options.

        Raises:
            ValueError: ``conv`` uses what this layer lacks (bipartite input, edge features, residual,
                no self loops).
        """
        if (not isinstance(conv, GATConv) or conv.lin is None or conv.lin_edge is not None
                or conv.res is not None or not conv.add_self_loops):
            raise ValueError("FastGATConv.from_pyg: needs a GATConv with one in_channels, no edge_dim, "
                             "residual=False, add_self_loops=True")
        out = cls(conv.in_channels, conv.out_channels, heads=conv.heads, concat=conv.concat,
                  negative_slope=conv.negative_slope, dropout=conv.dropout, bias=conv.bias is not None)
        out.load_state_dict(conv.state_dict())
        return out

    def forward(self, x: Tensor, graph: FixedGraph | Tensor, mask: Tensor | None = None, *,
                generator: torch.Generator | None = None) -> Tensor:
        graph = _check_input(x, graph, mask, "FastGATConv")
        b, v, _ = x.shape
        h, c = self.heads, self.out_channels
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)
        # one matmul gives every node's features W x and its scores a_src . W x, a_dst . W x of each head:
        # the weight stacks W with the (H, H*C) block-diagonal attention matrices times W
        eye = torch.eye(h, dtype=x.dtype)[:, :, None]
        att = torch.cat([self.att_src, self.att_dst]).reshape(2, 1, h, c) * eye  # (2, H, H, C)
        weight = self.lin.weight
        comb = F.linear(x, torch.cat([weight, att.reshape(2 * h, h * c) @ weight]))  # (B, V, H*C + 2H)
        if _eager.exporting(mask, "FastGATConv"):
            out = _eager.gat_aggregate(comb, graph, h, self.negative_slope)
        else:
            out = gat_attend(comb, graph.rowptr, graph.src, graph.rev, mask, self.dropout, self.negative_slope, h,
                             training=self.training, generator=generator)
        return _finish(out if self.concat else out.view(b, v, h, c).mean(2), self.bias, mask)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


class FastGATv2Conv(nn.Module):
    r"""GATv2 on a fixed topology: :class:`torch_geometric.nn.GATv2Conv` for dense batches.

    :math:`\alpha^h_{ij} = \mathrm{softmax}_j(a^h \cdot \mathrm{LeakyReLU}(W^h_r x_i + W^h_l x_j))`,
    :math:`x'_i = \Vert_h \sum_j \alpha^h_{ij} W^h_l x_j + b`. Equals ``GATv2Conv(in_channels,
    out_channels, heads=heads)`` (``share_weights=False``, ``add_self_loops=True``, no edge features).
    The scores need every edge's ``(H, C)`` vector, so this layer materializes a ``(V, D, B, H, C)``
    neighbour tensor (D = max degree + 1) and gains much less than :class:`FastGATConv`.

    Args:
        in_channels, out_channels, heads, concat, negative_slope, dropout, bias: as :class:`FastGATConv`.
        share_weights: use one matrix for sources and targets.

    Shapes:
        as :class:`FastGATConv`.

    Raises:
        ValueError: bad shapes or an invalid topology.

    Reference:
        Brody, Alon & Yahav, "How Attentive are Graph Attention Networks?", ICLR 2022.
    """

    def __init__(self, in_channels: int, out_channels: int, *, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, bias: bool = True,
                 share_weights: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout, self.share_weights = negative_slope, dropout, share_weights
        self.lin_l = Linear(in_channels, heads * out_channels, bias=bias, weight_initializer="glorot")
        self.lin_r = self.lin_l if share_weights else Linear(in_channels, heads * out_channels, bias=bias,
                                                             weight_initializer="glorot")
        self.att = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin_l.reset_parameters()
        self.lin_r.reset_parameters()
        glorot(self.att)
        zeros(self.bias)

    @classmethod
    def from_pyg(cls, conv: GATv2Conv) -> FastGATv2Conv:
        """A copy of ``conv``'s weights and options.

        Raises:
            ValueError: ``conv`` uses bipartite input, edge features, residual or no self loops.
        """
        if (not isinstance(conv, GATv2Conv) or not isinstance(conv.in_channels, int)
                or conv.lin_edge is not None or conv.res is not None or not conv.add_self_loops):
            raise ValueError("FastGATv2Conv.from_pyg: needs a GATv2Conv with one in_channels, no edge_dim, "
                             "residual=False, add_self_loops=True")
        out = cls(conv.in_channels, conv.out_channels, heads=conv.heads, concat=conv.concat,
                  negative_slope=conv.negative_slope, dropout=conv.dropout, bias=conv.bias is not None,
                  share_weights=conv.share_weights)
        out.load_state_dict(conv.state_dict())
        return out

    def forward(self, x: Tensor, graph: FixedGraph | Tensor, mask: Tensor | None = None, *,
                generator: torch.Generator | None = None) -> Tensor:
        graph = _check_input(x, graph, mask, "FastGATv2Conv")
        b, v, _ = x.shape
        h, c = self.heads, self.out_channels
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)
        x_l = self.lin_l(x)
        x_r = x_l if self.share_weights else self.lin_r(x)
        # node-major (V, B, H, C), so the per-edge gather moves B*H*C contiguous values per index
        xl_n = x_l.view(b, v, h, c).transpose(0, 1)
        xr_n = x_r.view(b, v, h, c).transpose(0, 1)
        # a row gather by F.embedding, not xl_n[graph.nbr]: its backward sums each row's gradients in a fixed
        # order (advanced indexing's accumulates with atomics across threads); z is (V, D, B, H, C)
        z = F.embedding(graph.nbr, xl_n.reshape(v, -1)).view(*graph.nbr.shape, b, h, c) + xr_n[:, None]
        logits = (F.leaky_relu(z, self.negative_slope) * self.att).sum(-1)
        alpha = _neighbour_softmax(logits, graph, mask, self.dropout, self.training, generator)
        if _eager.exporting(mask, "FastGATv2Conv"):
            out = _eager.table_aggregate(alpha, x_l.view(b, v, h, c), graph)
        else:
            out = Attend.apply(alpha.contiguous(), x_l.reshape(b * v * h, c), graph.batched(b, h)).view(b, v, h, c)
        return _finish(out.reshape(b, v, h * c) if self.concat else out.mean(2), self.bias, mask)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"
