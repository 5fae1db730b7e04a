"""Plain-tensor formulations of the fast layers' message passing, for ONNX export.

The fast backend's message passing runs in Numba kernels and custom autograd Functions
(:mod:`fer_graph.models._kernels`, :mod:`fer_graph.models._fixed_graph`), which a tracer cannot see into.
While :func:`torch.onnx.is_in_onnx_export` is true, the layers compute the same values (eval mode, no node
mask) from the padded neighbour table of :class:`~fer_graph.models._fixed_graph.FixedGraph` with gathers, a
softmax and sums, which every ONNX runtime has. Never used for training: these are slower and keep large
intermediates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._fixed_graph import FixedGraph

__all__ = ["exporting", "gat_aggregate", "gcn_aggregate", "table_aggregate", "residual_norm_elu"]


def exporting(mask: Tensor | None = None, where: str = "") -> bool:
    """True while tracing for ONNX export.

    Raises:
        ValueError: exporting with a node mask (an exported model always sees every landmark).
    """
    if not torch.onnx.is_in_onnx_export():
        return False
    if mask is not None:
        raise ValueError(f"{where}: ONNX export supports no node mask")
    return True


def table_aggregate(alpha: Tensor, feat: Tensor, graph: FixedGraph) -> Tensor:
    """``out[b, i, h] = sum_k alpha[i, k, b, h] * feat[b, nbr[i, k], h]``.

    Shapes:
        alpha: ``(V, D, B, H)`` weights per neighbour-table slot (0 on padding); feat: ``(B, V, H, C)``.
        Returns ``(B, V, H, C)``.
    """
    nodes = feat.transpose(0, 1)  # (V, B, H, C)
    gathered = nodes[graph.nbr]  # (V, D, B, H, C)
    return (alpha[..., None] * gathered).sum(1).transpose(0, 1)


def gat_aggregate(comb: Tensor, graph: FixedGraph, heads: int, negative_slope: float) -> Tensor:
    """GAT message passing of :func:`fer_graph.models._kernels.gat_attend` (eval mode, no mask).

    Shapes:
        comb: ``(B, V, H*C + 2H)`` (features, source scores, target scores). Returns ``(B, V, H*C)``.
    """
    b, v, width = comb.shape
    c = (width - 2 * heads) // heads
    feat = comb[..., :heads * c].reshape(b, v, heads, c)
    src_score = comb[..., heads * c:heads * c + heads].transpose(0, 1)  # (V, B, H)
    dst_score = comb[..., heads * c + heads:].transpose(0, 1)
    logits = F.leaky_relu(src_score[graph.nbr] + dst_score[:, None], negative_slope)  # (V, D, B, H)
    bias = torch.zeros(graph.valid.shape, dtype=comb.dtype).masked_fill(~graph.valid, float("-inf"))
    alpha = (logits + bias[..., None, None]).softmax(1)
    return table_aggregate(alpha, feat, graph).reshape(b, v, heads * c)


def gcn_aggregate(y: Tensor, graph: FixedGraph) -> Tensor:
    """``out[b, i] = sum_j w_ij y[b, j]`` with the symmetric GCN weights of ``graph`` (no mask).

    Shapes:
        y: ``(B, V, F)``. Returns ``(B, V, F)``.
    """
    table = torch.zeros(graph.valid.shape, dtype=y.dtype)
    table[graph.dst, graph.slot] = graph.gcn_weight.to(y.dtype)
    alpha = table[:, :, None, None]  # (V, D, 1, 1): broadcasts over graphs and the one "head"
    return table_aggregate(alpha, y[:, :, None, :], graph)[:, :, 0]


def residual_norm_elu(y: Tensor, h: Tensor, norm: torch.nn.LayerNorm) -> Tensor:
    """``h + ELU(LayerNorm(y))``: :func:`fer_graph.models._kernels.residual_layer_norm_elu` in eval mode."""
    return h + F.elu(norm(y))
