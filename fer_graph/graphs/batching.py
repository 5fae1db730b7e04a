"""Batching for fixed-topology graphs without ``Batch.from_data_list``: slicing dense tensors.

All graphs of a dataset share one ``edge_index``, so a batch of ``B`` graphs is the node features
``X[idx]`` reshaped to ``(B * V, F)`` plus a block-diagonal ``edge_index`` that depends only on ``B``
(cached), a ``batch`` vector and per-node landmark ids.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["FixedTopologyBatcher"]


class FixedTopologyBatcher:
    """Build PyG-style batches of ``B`` graphs that share one topology.

    Args:
        edge_index: ``(2, E)`` int64 edges of one graph (both directions).
        num_nodes: V.

    Example:
        >>> from fer_graph.graphs.topology import IBUG68
        >>> b = FixedTopologyBatcher(IBUG68.edge_index, 68)
        >>> x, ei, batch, node_id = b(torch.zeros(4, 68, 2))
        >>> tuple(x.shape), tuple(ei.shape), int(batch.max()), int(node_id.max())
        ((272, 2), (2, 1440), 3, 67)
    """

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        self.edge_index = edge_index
        self.num_nodes = num_nodes
        self._cache: dict[int, tuple[Tensor, Tensor, Tensor]] = {}

    def structure(self, num_graphs: int) -> tuple[Tensor, Tensor, Tensor]:
        """``(edge_index (2, B*E), batch (B*V,), node_id (B*V,))`` for ``B`` graphs, cached per ``B``."""
        if num_graphs not in self._cache:
            v, e = self.num_nodes, self.edge_index
            offsets = (torch.arange(num_graphs) * v).repeat_interleave(e.shape[1])
            ei = e.repeat(1, num_graphs) + offsets
            batch = torch.arange(num_graphs).repeat_interleave(v)
            node_id = torch.arange(v).repeat(num_graphs)
            self._cache[num_graphs] = (ei, batch, node_id)
        return self._cache[num_graphs]

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``x`` ``(B, V, F)`` -> ``(x (B*V, F), edge_index, batch, node_id)``."""
        b, v, f = x.shape
        if v != self.num_nodes:
            raise ValueError(f"x has {v} nodes per graph; this batcher's topology has {self.num_nodes}")
        ei, batch, node_id = self.structure(b)
        return x.reshape(b * v, f), ei, batch, node_id
