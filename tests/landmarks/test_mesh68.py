from __future__ import annotations

import numpy as np
import pytest

from fer_graph.graphs.topology import MIRROR_68, MIRROR_468
from fer_graph.landmarks import mesh_to_ibug68
from fer_graph.landmarks.mesh68 import IBUG68_OFFSETS, MESH_TO_IBUG68


def test_table_is_a_left_right_consistent_choice_of_mesh_vertices():
    table = np.asarray(MESH_TO_IBUG68)
    assert table.shape == (68,) and table.min() >= 0 and table.max() < 468 and len(set(table)) == 68
    # the mirror of iBUG point j is the mirror vertex of j's vertex; midline points sit on midline vertices
    assert all(MIRROR_468[table[j]] == table[MIRROR_68[j]] for j in range(68))
    off = np.asarray(IBUG68_OFFSETS)
    np.testing.assert_allclose(off[list(MIRROR_68)], off * [-1, 1], atol=1e-4)
    assert np.abs(off).max() < 0.15  # a correction, not a relocation (IOD units)


def test_bare_vertices_and_iris_points_ignored():
    rng = np.random.default_rng(0)
    mesh = rng.normal(size=(3, 478, 3)).astype(np.float32)
    out = mesh_to_ibug68(mesh, offsets=False)
    assert out.shape == (3, 68, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, mesh[:, list(MESH_TO_IBUG68)])
    np.testing.assert_array_equal(mesh_to_ibug68(mesh[0, :468, :2], offsets=False), mesh[0, list(MESH_TO_IBUG68), :2])


def test_offsets_follow_the_face_similarity_transform():
    rng = np.random.default_rng(1)
    mesh = rng.normal(size=(468, 2)) * 50 + 200
    base = mesh_to_ibug68(mesh)
    # a similarity transform of the face moves its 68 points the same way (offsets scale and rotate with IOD)
    a, s, t = 0.4, 2.5, np.array([30.0, -12.0])
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = mesh_to_ibug68(s * mesh @ rot.T + t)
    np.testing.assert_allclose(moved, s * base @ rot.T + t, rtol=1e-4, atol=1e-3)
    # hand-computed: with the eye line along +x at length L, point j moves by L * offset_j
    flat = np.zeros((468, 2))
    flat[list(MESH_TO_IBUG68[42:48])] = [10.0, 0.0]  # left-eye vertices at x = 10, right-eye ones at 0
    out = mesh_to_ibug68(flat)
    np.testing.assert_allclose(out[8], flat[MESH_TO_IBUG68[8]] + 10.0 * np.asarray(IBUG68_OFFSETS[8]), atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 68, 2), (468, 1), (2, 2, 468, 2)])
def test_wrong_shapes_raise(shape):
    with pytest.raises(ValueError, match="468 or 478"):
        mesh_to_ibug68(np.zeros(shape))


def test_non_finite_raises():
    mesh = np.zeros((468, 2))
    mesh[5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mesh_to_ibug68(mesh)
