"""Random occlusion for robust training (``fer-graph train --mask-augment P``)."""

from __future__ import annotations

import numpy as np

from ..graphs.topology import Topology
from .masks import patch_masks, random_masks
from .regions import REGION_NAMES, region_mask

__all__ = ["random_occlusion"]


def random_occlusion(topology: Topology, n: int, p: float, rng: np.random.Generator, *,
                     max_extent: float = 0.6) -> np.ndarray:
    """Occlusion masks for a training batch: each graph is occluded with probability ``p``.

    An occluded graph gets, with equal chance, a named region preset (uniform over
    :data:`~fer_graph.occlusion.regions.REGION_NAMES`), a contiguous BFS patch or independent random node
    dropout, the last two with an extent drawn uniformly from ``[0.05, max_extent]``.

    Args:
        topology: the face topology.
        n: batch size G.
        p: probability that a graph is occluded, in [0, 1].
        rng: numpy generator (seeded by the trainer).
        max_extent: largest patch / dropout fraction.

    Returns:
        ``(G, V)`` bool, True = occluded; every graph keeps at least one node.

    Raises:
        ValueError: ``p`` outside [0, 1].
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"mask-augment probability {p} outside [0, 1]")
    v = topology.num_nodes
    out = np.zeros((n, v), dtype=bool)
    hit = np.flatnonzero(rng.random(n) < p)
    shapes = rng.integers(0, 3, size=len(hit))  # 0 region preset, 1 BFS patch, 2 random dropout
    extents = rng.uniform(0.05, max_extent, size=len(hit))
    regions = rng.integers(0, len(REGION_NAMES), size=len(hit))
    for i, shape, extent, region in zip(hit, shapes, extents, regions):
        if shape == 0:
            out[i] = region_mask(REGION_NAMES[region], topology)
        elif shape == 1:
            out[i] = patch_masks(topology, float(extent), 1, rng)[0]
        else:
            out[i] = random_masks(v, float(extent), 1, rng)[0]
    return out
