"""Index structures and autograd kernels for message passing on B graphs that share one topology.

Node features are dense ``(B, V, F)``. A batch never builds a block-diagonal ``edge_index``: every
neighbour sum is one ``torch.nn.functional.embedding_bag`` call (a fused gather -> weighted sum, no
``(B * E, F)`` message tensor) over the rows of the feature table, with per-entry weights. Its
gradient is a second ``embedding_bag`` over the same neighbour lists (the topology is symmetric, so
the transpose has the same pattern) and, for attention weights, one ``torch.sparse.sampled_addmm``.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["FixedGraph", "fixed_graph"]

_CACHE_SIZE = 8


class _Batched(NamedTuple):
    """Index tensors for ``B`` graphs with ``H`` heads; rows of the feature table are ``(b, node, head)``.

    Entries are ordered by bag ``(b, i, h)`` (target node ``i``), then by source node ``j``.
    """

    index: Tensor  # (B*H*E',) int32 table row (b, j, h) of each entry
    offsets: Tensor  # (B*V*H + 1,) int32 start of each bag, plus the total (CSR row pointer)
    pos: Tensor  # (B*H*E',) int32 flat position of each entry in a node-major (V, D, B, H) weight table
    pos_t: Tensor  # (B*H*E',) int32 position of the reverse edge's weight (transposed aggregation)
    pattern: Tensor  # sparse CSR (B*V*H, B*V*H) with this pattern and zero values


class FixedGraph:
    """One undirected topology prepared for batched dense message passing.

    Holds the incoming neighbour lists of every node with one self loop each (CSR order: by target, then
    source), a padded neighbour table, and per-batch-size index tensors (built on first use, the last
    eight ``(B, heads)`` kept; about 50 MB for B=256 graphs of 468 nodes with 4 heads). All tensors live
    on the CPU, which this fast path is written for.

    Args:
        edge_index: ``(2, E)`` int64 edges of one graph holding both directions of every undirected edge
            (as :attr:`fer_graph.graphs.topology.Topology.edge_index`). Self loops in it are dropped: every
            node gets exactly one, as ``GCNConv`` and ``GATConv`` add them.
        num_nodes: V.

    Attributes:
        num_nodes: V.
        src, dst: ``(E',)`` int64 edges with self loops, ``E' = E - self loops + V``, sorted by ``(dst, src)``.
        rowptr: ``(V + 1,)`` CSR row pointer over ``dst``.
        deg: ``(V,)`` int64 in-degree including the self loop.
        max_degree: D, the width of the neighbour table.
        nbr: ``(V, D)`` int64 neighbour table (``nbr[i, k]`` = k-th source of node i; padding repeats i).
        valid: ``(V, D)`` bool, False on padding.
        is_self: ``(V, D)`` bool, True on each node's self-loop slot.
        gcn_weight: ``(E',)`` float32 ``deg[dst]^-1/2 * deg[src]^-1/2`` (Kipf & Welling 2017).

    Raises:
        ValueError: ``edge_index`` is not ``(2, E)`` integer, indexes outside ``[0, V)``, repeats an edge,
            or lacks the reverse of some edge.

    Example:
        >>> from fer_graph.graphs.topology import IBUG68
        >>> g = FixedGraph(IBUG68.edge_index, 68)
        >>> g.src.shape[0] == IBUG68.edge_index.shape[1] + 68, g.max_degree
        (True, 11)
    """

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        _check_edge_index(edge_index, num_nodes)
        v = num_nodes
        ei = edge_index.long().cpu()
        ei = ei[:, ei[0] != ei[1]]
        loops = torch.arange(v)
        src, dst = torch.cat([ei[0], loops]), torch.cat([ei[1], loops])
        key = dst * v + src
        order = torch.argsort(key)
        self.num_nodes = v
        self.src, self.dst = src[order].contiguous(), dst[order].contiguous()
        self.deg = torch.bincount(self.dst, minlength=v)
        self.rowptr = torch.cat([torch.zeros(1, dtype=torch.long), self.deg.cumsum(0)])
        self.max_degree = int(self.deg.max())
        self.slot = torch.arange(len(self.src)) - self.rowptr[self.dst]
        self.nbr = loops[:, None].repeat(1, self.max_degree)
        self.nbr[self.dst, self.slot] = self.src
        self.valid = torch.zeros(v, self.max_degree, dtype=torch.bool)
        self.valid[self.dst, self.slot] = True
        self.is_self = self.nbr == loops[:, None]
        self.is_self &= self.valid
        key = key[order]
        self.rev = torch.searchsorted(key, self.src * v + self.dst)  # CSR index of the reverse edge
        dis = self.deg.double().rsqrt()
        self.gcn_weight = (dis[self.dst] * dis[self.src]).float()
        self._batches: OrderedDict[tuple, _Batched | Tensor] = OrderedDict()

    def gcn_weights(self, num_graphs: int, dtype: torch.dtype) -> Tensor:
        """``gcn_weight`` repeated for ``num_graphs`` graphs, ``(num_graphs * E',)`` of ``dtype`` (cached with
        the batch index tensors; read-only)."""
        key = ("gcn", num_graphs, dtype)
        if key not in self._batches:
            self._batches[key] = self.gcn_weight.to(dtype).repeat(num_graphs)
            if len(self._batches) > _CACHE_SIZE:
                self._batches.popitem(last=False)
        self._batches.move_to_end(key)
        return self._batches[key]

    @property
    def num_entries(self) -> int:
        """E': directed edges plus self loops."""
        return len(self.src)

    def __repr__(self) -> str:
        return f"FixedGraph(nodes={self.num_nodes}, entries={self.num_entries}, max_degree={self.max_degree})"

    def batched(self, num_graphs: int, heads: int = 1) -> _Batched:
        """Index tensors for ``num_graphs`` graphs with ``heads`` heads (cached)."""
        key = (num_graphs, heads)
        if key in self._batches:
            self._batches.move_to_end(key)
            return self._batches[key]
        b_, h_, v, d, e = num_graphs, heads, self.num_nodes, self.max_degree, self.num_entries
        # one graph, bag-major: bag (i, h) holds the entries of row i; position of entry (e, h)
        row_start = self.rowptr[self.dst] * h_ + self.slot
        at = (row_start[:, None] + torch.arange(h_)[None, :] * self.deg[self.dst][:, None]).reshape(-1)
        ent = torch.empty(e * h_, dtype=torch.long)
        ent[at] = torch.arange(e).repeat_interleave(h_)
        head = torch.empty(e * h_, dtype=torch.long)
        head[at] = torch.arange(h_).repeat(e)
        j, i, k = self.src[ent], self.dst[ent], self.slot[ent]
        k_t = self.slot[self.rev[ent]]
        b = torch.arange(b_)[:, None]
        index = ((b * v + j) * h_ + head).reshape(-1).int()
        pos = (((i * d + k) * b_ + b) * h_ + head).reshape(-1).int()
        pos_t = (((j * d + k_t) * b_ + b) * h_ + head).reshape(-1).int()
        counts = self.deg.repeat_interleave(h_).repeat(b_)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]).int()
        rows = b_ * v * h_
        if rows * self.max_degree >= 2**31:
            raise ValueError(f"FixedGraph: {num_graphs} graphs x {heads} heads is too many for int32 indices")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            pattern = torch.sparse_csr_tensor(offsets, index, torch.zeros(len(index)), size=(rows, rows),
                                              check_invariants=False)
        out = _Batched(index, offsets, pos, pos_t, pattern)
        self._batches[key] = out
        if len(self._batches) > _CACHE_SIZE:
            self._batches.popitem(last=False)
        return out


def _check_edge_index(edge_index: Tensor, num_nodes: int) -> None:
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.shape[0] != 2 \
            or edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        got = tuple(edge_index.shape) if isinstance(edge_index, Tensor) else type(edge_index).__name__
        raise ValueError(f"edge_index: expected a (2, E) integer tensor, got {got}")
    if num_nodes < 1:
        raise ValueError(f"num_nodes={num_nodes}; expected >= 1")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index: node indices must lie in [0, {num_nodes}), got "
                         f"[{int(edge_index.min())}, {int(edge_index.max())}]")
    key = edge_index[0].long() * num_nodes + edge_index[1].long()
    if len(torch.unique(key)) != len(key):
        raise ValueError("edge_index: repeated edges; a fixed topology needs each directed edge once")
    reverse = edge_index[1].long() * num_nodes + edge_index[0].long()
    if not bool(torch.isin(reverse, key).all()):
        raise ValueError("edge_index: not symmetric; give both directions of every undirected edge")


_GRAPHS: OrderedDict[tuple, tuple[Tensor, FixedGraph]] = OrderedDict()


def fixed_graph(edge_index: Tensor | FixedGraph, num_nodes: int) -> FixedGraph:
    """The :class:`FixedGraph` of ``edge_index``, built once per tensor (cached, the last eight kept).

    The cache key is the tensor's storage, shape and version counter, and the cache holds a reference to
    it, so an edited or freed-and-reused tensor is never mistaken for a cached one.

    Raises:
        ValueError: as :class:`FixedGraph`, or a given ``FixedGraph`` has another node count.
    """
    if isinstance(edge_index, FixedGraph):
        if edge_index.num_nodes != num_nodes:
            raise ValueError(f"graph has {edge_index.num_nodes} nodes, the features have {num_nodes}")
        return edge_index
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"edge_index: expected a Tensor or FixedGraph, got {type(edge_index).__name__}")
    key = (edge_index.data_ptr(), tuple(edge_index.shape), tuple(edge_index.stride()), edge_index._version,
           num_nodes)
    hit = _GRAPHS.get(key)
    if hit is not None and hit[0] is edge_index:
        _GRAPHS.move_to_end(key)
        return hit[1]
    graph = FixedGraph(edge_index, num_nodes)
    _GRAPHS[key] = (edge_index, graph)
    if len(_GRAPHS) > _CACHE_SIZE:
        _GRAPHS.popitem(last=False)
    return graph


def _bag_sum(index: Tensor, table: Tensor, offsets: Tensor, weight: Tensor) -> Tensor:
    """``out[r] = sum(weight[e] * table[index[e]] for e in offsets[r]:offsets[r + 1])``."""
    return F.embedding_bag(index, table, offsets, mode="sum", per_sample_weights=weight, include_last_offset=True)


class SymmetricAggregate(torch.autograd.Function):
    """``out[b, i] = sum_j w[b, (i, j)] * y[b, j]`` over the neighbour lists, weights symmetric in (i, j).

    Forward and backward are the same ``embedding_bag`` (the weighted adjacency is symmetric), so the
    gradient never goes through ``embedding_bag``'s sort-based dense backward.

    Shapes:
        y: ``(B * V, F)``; weight: ``(B * E',)`` in entry order; index, offsets: ``FixedGraph.batched(B)``.
        returns: ``(B * V, F)``.
    """

    @staticmethod
    def forward(ctx, y: Tensor, weight: Tensor, index: Tensor, offsets: Tensor) -> Tensor:
        ctx.save_for_backward(weight, index, offsets)
        return _bag_sum(index, y, offsets, weight)

    @staticmethod
    def backward(ctx, grad: Tensor):
        weight, index, offsets = ctx.saved_tensors
        gy = _bag_sum(index, grad.contiguous(), offsets, weight)
        return gy, None, None, None


class Attend(torch.autograd.Function):
    """Attention-weighted neighbour sums, one weight per (graph, head, edge).

    ``out[(b, i, h)] = sum_k alpha[i, k, b, h] * feat[(b, nbr[i, k], h)]``.

    Backward: the feature gradient is the same sum over the reverse edges' weights (one
    ``embedding_bag``), and the weight gradient ``<grad[(b, i, h)], feat[(b, j, h)]>`` on every edge is
    one ``sampled_addmm`` on the block-diagonal pattern (zero on padding slots).

    Shapes:
        alpha: ``(V, D, B, H)`` contiguous (padding slots are never read); feat: ``(B * V * H, C)``;
        batched: ``FixedGraph.batched(B, H)``. Returns ``(B * V * H, C)``.
    """

    @staticmethod
    def forward(ctx, alpha: Tensor, feat: Tensor, batched: _Batched) -> Tensor:
        w = alpha.reshape(-1).index_select(0, batched.pos)
        ctx.save_for_backward(alpha, feat)
        ctx.batched = batched
        return _bag_sum(batched.index, feat, batched.offsets, w)

    @staticmethod
    def backward(ctx, grad: Tensor):
        alpha, feat = ctx.saved_tensors
        bt: _Batched = ctx.batched
        grad = grad.contiguous()
        g_alpha = g_feat = None
        if ctx.needs_input_grad[1]:
            w_t = alpha.reshape(-1).index_select(0, bt.pos_t)
            g_feat = _bag_sum(bt.index, grad, bt.offsets, w_t)
        if ctx.needs_input_grad[0]:
            pattern = bt.pattern if bt.pattern.dtype == grad.dtype else bt.pattern.to(grad.dtype)
            g_w = torch.sparse.sampled_addmm(pattern, grad, feat.t(), beta=0.0).values()
            g_alpha = alpha.new_zeros(alpha.numel()).scatter_(0, bt.pos, g_w).view_as(alpha)
        return g_alpha, g_feat, None
