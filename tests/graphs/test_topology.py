from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay

from fer_graph.graphs import topology as T
from fer_graph.graphs._ibug68 import MEAN_SHAPE_68

TOPOLOGIES = [T.IBUG68, T.MEDIAPIPE468, T.MEDIAPIPE478]


@pytest.mark.parametrize("topo, edges", [(T.IBUG68, 180), (T.MEDIAPIPE468, 1322), (T.MEDIAPIPE478, 1370)])
def test_edge_counts(topo, edges):
    assert topo.num_edges == edges
    assert tuple(topo.edge_index.shape) == (2, 2 * edges)


@pytest.mark.parametrize("topo", TOPOLOGIES, ids=lambda t: t.name)
def test_edge_index_invariants(topo):
    ei = topo.edge_index
    assert ei.dtype.is_floating_point is False and int(ei.min()) >= 0 and int(ei.max()) < topo.num_nodes
    assert not bool((ei[0] == ei[1]).any()), "self loop"
    pairs = set(map(tuple, ei.t().tolist()))
    assert len(pairs) == ei.shape[1], "duplicate directed edge"
    assert all((j, i) in pairs for i, j in pairs), "not symmetric"
    a = sp.csr_matrix(topo.adjacency())
    assert connected_components(a, directed=False)[0] == 1
    assert all(i < j for i, j in topo.edges) and list(topo.edges) == sorted(topo.edges)


def test_tessellation_matches_mediapipe():
    fl = pytest.importorskip("mediapipe.tasks.python.vision.face_landmarker")
    conns = fl.FaceLandmarksConnections
    ours = set(T.MEDIAPIPE468.edges)
    theirs = {tuple(sorted((c.start, c.end))) for c in conns.FACE_LANDMARKS_TESSELATION}
    assert ours == theirs
    assert set(T.LEFT_EYE_468) == {i for c in conns.FACE_LANDMARKS_LEFT_EYE for i in (c.start, c.end)}
    assert 263 in T.LEFT_EYE_468 and 33 in T.RIGHT_EYE_468  # MediaPipe LEFT = subject's left


def test_delaunay_68_rederives_from_frozen_mean_shape():
    shape = np.asarray(MEAN_SHAPE_68)
    assert shape.shape == (68, 2)
    tri = Delaunay(shape)
    edges = {tuple(sorted((int(a), int(b)))) for s in tri.simplices for a, b in ((s[0], s[1]), (s[1], s[2]), (s[0], s[2]))}
    mirror = np.asarray(T.MIRROR_68)
    closed = edges | {tuple(sorted((int(mirror[a]), int(mirror[b])))) for a, b in edges}
    assert closed == set(T.IBUG68.edges)
    # the frozen mean shape is symmetric: mirroring maps it onto itself
    mirrored = shape[mirror] * [-1, 1]
    np.testing.assert_allclose(mirrored, shape, atol=1e-4)


def test_mirror_68_is_an_involution_preserving_the_graph():
    m = np.asarray(T.MIRROR_68)
    assert sorted(m) == list(range(68))
    assert (m[m] == np.arange(68)).all()
    assert [m[i] for i in T.RIGHT_EYE_68] and {int(m[i]) for i in T.RIGHT_EYE_68} == set(T.LEFT_EYE_68)
    assert {int(m[i]) for i in T.RIGHT_BROW_68} == set(T.LEFT_BROW_68)
    edges = set(T.IBUG68.edges)
    assert {tuple(sorted((int(m[a]), int(m[b])))) for a, b in edges} == edges


def test_region_indices_in_range_and_disjoint():
    regions = [T.JAW_68, T.RIGHT_BROW_68, T.LEFT_BROW_68, T.NOSE_68, T.RIGHT_EYE_68, T.LEFT_EYE_68, T.MOUTH_68]
    flat = [i for r in regions for i in r]
    assert sorted(flat) == list(range(68))  # the iBUG regions partition the 68 points
    for idx in (T.RIGHT_EYE_468, T.LEFT_EYE_468):
        assert len(idx) == 16 and max(idx) < 468
    assert not set(T.RIGHT_EYE_468) & set(T.LEFT_EYE_468)


def test_lookup_errors():
    assert T.get_topology("ibug68") is T.IBUG68
    assert T.topology_for_points(478) is T.MEDIAPIPE468
    assert T.topology_for_points(478, include_iris=True) is T.MEDIAPIPE478
    with pytest.raises(ValueError, match="unknown topology 'x'.*ibug68"):
        T.get_topology("x")
    with pytest.raises(ValueError, match="no face topology for 5 landmarks"):
        T.topology_for_points(5)


@pytest.mark.parametrize("topo", TOPOLOGIES, ids=lambda t: t.name)
def test_mirror_is_an_involution_swapping_eyes(topo):
    m = np.asarray(topo.mirror)
    assert sorted(m) == list(range(topo.num_nodes))
    assert (m[m] == np.arange(topo.num_nodes)).all()
    assert {int(m[i]) for i in topo.right_eye} == set(topo.left_eye)


def test_mirror_468_derives_from_the_canonical_face():
    from fer_graph.graphs._canonical_face import mirror_permutation
    from fer_graph.graphs.canonical import CANONICAL_FACE_468

    face = np.asarray(CANONICAL_FACE_468, dtype=np.float64)
    assert face.shape == (468, 3)
    assert mirror_permutation(face).tolist() == list(T.MIRROR_468)
    mirrored = face[list(T.MIRROR_468)] * [-1, 1, 1]
    np.testing.assert_allclose(mirrored, face, atol=1e-9)  # symmetric to the last rounded digit
    fixed = [i for i, j in enumerate(T.MIRROR_468) if i == j]
    assert len(fixed) > 0 and np.abs(face[fixed, 0]).max() == 0.0  # the midline points sit on x = 0
