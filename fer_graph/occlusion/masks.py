"""Occlusion masks over landmark graphs: named regions, contiguous BFS patches, random node dropout.

A mask here is an *occlusion* mask: ``(G, V)`` bool, ``True`` = the landmark is occluded (unavailable).
Models take the complement (``True`` = present, see :class:`fer_graph.models.gnn.GraphClassifier`).

Every generator draws from a :class:`numpy.random.Generator` (or an int seed), so one seed gives the same
masks for every model of a comparison.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

import numpy as np

from ..graphs.topology import Topology, get_topology, list_topologies
from .regions import get_region

__all__ = ["bfs_order", "patch_masks", "random_masks", "region_masks", "nodes_for_extent"]

def _topology(topology: Topology | str) -> Topology:
    return get_topology(topology) if isinstance(topology, str) else topology


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _bfs_table(topology: Topology) -> np.ndarray:
    # equal, not identical: a topology unpickled in a worker process is a copy of the registered one
    known = topology.name in list_topologies() and get_topology(topology.name) == topology
    return _bfs_table_cached(topology.name) if known else _build_bfs_table(topology)


@lru_cache(maxsize=None)
def _bfs_table_cached(name: str) -> np.ndarray:
    return _build_bfs_table(get_topology(name))


def _build_bfs_table(topology: Topology) -> np.ndarray:
    adj = topology.adjacency()
    neighbors = [np.flatnonzero(row) for row in adj]
    v = topology.num_nodes
    table = np.empty((v, v), dtype=np.int64)
    for seed in range(v):
        seen = np.zeros(v, dtype=bool)
        seen[seed] = True
        order, queue = [], deque([seed])
        while queue:
            node = queue.popleft()
            order.append(node)
            for nb in neighbors[node]:
                if not seen[nb]:
                    seen[nb] = True
                    queue.append(nb)
        if len(order) != v:
            raise ValueError(f"{topology.name}: the graph is not connected ({len(order)} of {v} nodes reachable "
                             f"from node {seed})")
        table[seed] = order
    table.setflags(write=False)
    return table


def bfs_order(topology: Topology | str, seed_node: int) -> np.ndarray:
    """``(V,)`` int64 nodes in breadth-first order over the topology's edges from ``seed_node``
    (neighbours visited in index order). Every prefix is a connected patch containing the seed.

    Raises:
        IndexError: ``seed_node`` outside ``0..V-1``.
    """
    topo = _topology(topology)
    if not 0 <= seed_node < topo.num_nodes:
        raise IndexError(f"seed_node={seed_node} outside 0..{topo.num_nodes - 1} ({topo.name})")
    return _bfs_table(topo)[seed_node].copy()


def nodes_for_extent(extent: float, num_nodes: int) -> int:
    """Node count of an extent: ``round(extent * V)``.

    Raises:
        ValueError: ``extent`` outside [0, 1).
    """
    if not 0.0 <= extent < 1.0:
        raise ValueError(f"extent={extent}: expected a fraction of nodes in [0, 1) (at least one node must stay)")
    return int(round(extent * num_nodes))


def patch_masks(topology: Topology | str, extent: float, n: int, seed: int | np.random.Generator | None = 0, *,
                seed_nodes: np.ndarray | None = None) -> np.ndarray:
    """Contiguous occlusion patches grown by breadth-first search from random seed nodes.

    Args:
        topology: the face topology (its edges define contiguity).
        extent: fraction of the V nodes occluded per graph, in [0, 1); the patch has
            ``round(extent * V)`` nodes, a BFS prefix, hence connected.
        n: number of masks G.
        seed: random seed or generator (seed nodes drawn uniformly).
        seed_nodes: ``(G,)`` explicit seed nodes instead of random ones.

    Returns:
        ``(G, V)`` bool, ``True`` = occluded.

    Raises:
        ValueError: extent outside [0, 1), or ``seed_nodes`` of the wrong length.
    """
    topo = _topology(topology)
    k = nodes_for_extent(extent, topo.num_nodes)
    if seed_nodes is None:
        seed_nodes = _rng(seed).integers(0, topo.num_nodes, size=n)
    seed_nodes = np.asarray(seed_nodes, dtype=np.int64)
    if seed_nodes.shape != (n,):
        raise ValueError(f"seed_nodes must have shape ({n},), got {seed_nodes.shape}")
    masks = np.zeros((n, topo.num_nodes), dtype=bool)
    if k:
        masks[np.arange(n)[:, None], _bfs_table(topo)[seed_nodes, :k]] = True
    return masks


def random_masks(num_nodes: int, extent: float, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """Independent random node dropout: ``round(extent * V)`` nodes drawn uniformly without replacement per
    graph (the same count as :func:`patch_masks`, so the two are compared at equal extent).

    Returns:
        ``(G, V)`` bool, ``True`` = occluded.
    """
    k = nodes_for_extent(extent, num_nodes)
    masks = np.zeros((n, num_nodes), dtype=bool)
    if k:
        chosen = np.argsort(_rng(seed).random((n, num_nodes)), axis=1)[:, :k]
        masks[np.arange(n)[:, None], chosen] = True
    return masks


def region_masks(topology: Topology | str, region: str, n: int) -> np.ndarray:
    """The named region (see :mod:`fer_graph.occlusion.regions`) occluded on all ``n`` graphs.

    Returns:
        ``(G, V)`` bool, ``True`` = occluded.

    Raises:
        ValueError: unknown region or topology.
    """
    topo = _topology(topology)
    masks = np.zeros((n, topo.num_nodes), dtype=bool)
    masks[:, get_region(region, topo)] = True
    return masks
