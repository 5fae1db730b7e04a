from __future__ import annotations

import numpy as np
import pytest

from fer_graph.graphs.topology import IBUG68, MEDIAPIPE468
from fer_graph.occlusion.augment import random_occlusion
from fer_graph.occlusion.masks import bfs_order, nodes_for_extent, patch_masks, random_masks, region_masks
from fer_graph.occlusion.regions import get_region


def _connected(adj: np.ndarray, nodes: np.ndarray) -> bool:
    nodes = set(nodes.tolist())
    start = next(iter(nodes))
    seen, stack = {start}, [start]
    while stack:
        n = stack.pop()
        for nb in np.flatnonzero(adj[n]):
            if nb in nodes and nb not in seen:
                seen.add(int(nb))
                stack.append(int(nb))
    return seen == nodes


@pytest.mark.parametrize("topology", [IBUG68, MEDIAPIPE468], ids=lambda t: t.name)
@pytest.mark.parametrize("extent", [0.05, 0.1, 0.33, 0.6])
def test_bfs_patches_are_connected_and_cover_the_extent(topology, extent):
    masks = patch_masks(topology, extent, 12, seed=3)
    adj = topology.adjacency()
    assert masks.shape == (12, topology.num_nodes) and masks.dtype == bool
    for m in masks:
        assert abs(m.sum() - extent * topology.num_nodes) <= 1
        assert _connected(adj, np.flatnonzero(m))


def test_bfs_order_starts_at_seed_and_grows_by_rings():
    order = bfs_order(IBUG68, 30)  # nose tip
    assert order[0] == 30 and sorted(order.tolist()) == list(range(68))
    ring1 = set(np.flatnonzero(IBUG68.adjacency()[30]).tolist())
    assert set(order[1:1 + len(ring1)].tolist()) == ring1
    with pytest.raises(IndexError, match="seed_node"):
        bfs_order(IBUG68, 68)


def test_explicit_seed_node_patch_contains_it():
    m = patch_masks(IBUG68, 0.1, 3, seed_nodes=np.array([0, 30, 60]))
    assert m[0, 0] and m[1, 30] and m[2, 60]


def test_extent_zero_occludes_nothing_and_bad_extents_fail():
    assert not patch_masks(IBUG68, 0.0, 4).any() and not random_masks(68, 0.0, 4).any()
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="extent"):
            nodes_for_extent(bad, 68)


def test_random_dropout_has_the_same_count_and_seeds_reproduce():
    a = random_masks(468, 0.3, 5, seed=7)
    assert (a.sum(1) == round(0.3 * 468)).all()
    np.testing.assert_array_equal(a, random_masks(468, 0.3, 5, seed=7))
    assert not np.array_equal(a, random_masks(468, 0.3, 5, seed=8))
    np.testing.assert_array_equal(patch_masks(MEDIAPIPE468, 0.2, 5, seed=1), patch_masks(MEDIAPIPE468, 0.2, 5, seed=1))


def test_region_masks_match_the_preset():
    m = region_masks(IBUG68, "mouth", 3)
    assert (m.sum(1) == 20).all() and m[:, 48:68].all()
    with pytest.raises(ValueError, match="nostril"):
        region_masks(IBUG68, "nostril", 1)


def test_random_occlusion_probability_and_keeps_a_node():
    rng = np.random.default_rng(0)
    none = random_occlusion(IBUG68, 50, 0.0, rng)
    assert not none.any()
    every = random_occlusion(IBUG68, 200, 1.0, rng)
    assert every.any(1).all() and (~every).any(1).all()
    some = random_occlusion(IBUG68, 400, 0.5, np.random.default_rng(1))
    assert 150 < some.any(1).sum() < 250
    regions = {tuple(get_region("eyes", IBUG68))}
    assert any(tuple(np.flatnonzero(r)) in regions for r in every)  # region presets are among the draws
    with pytest.raises(ValueError):
        random_occlusion(IBUG68, 2, 1.5, rng)


def test_a_copy_of_a_registered_topology_reuses_its_bfs_table(monkeypatch):
    """Fold workers receive the topology pickled: its BFS table must come from the cache, not be rebuilt
    (0.3 s for the 468-node mesh) for every patch drawn."""
    import pickle

    import fer_graph.occlusion.masks as masks
    from fer_graph.graphs.topology import get_topology

    copy = pickle.loads(pickle.dumps(get_topology("mediapipe468")))
    assert copy is not get_topology("mediapipe468")
    masks._bfs_table(get_topology("mediapipe468"))  # cached once
    built = []
    monkeypatch.setattr(masks, "_build_bfs_table", lambda t: built.append(t) or np.zeros((1, 1)))
    patch_masks(copy, 0.1, 3, 0)
    assert built == []
