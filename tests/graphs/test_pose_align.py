"""3-D pose alignment onto the canonical face (``build-graphs --include-z --pose-align``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fer_graph.graphs.canonical import canonical_face
from fer_graph.graphs.normalize import normalize_for_topology, pose_align
from fer_graph.graphs.topology import get_topology


def _posed(face: np.ndarray, euler_deg, scale=60.0, shift=(320.0, 240.0, 10.0)) -> np.ndarray:
    return face @ Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix().T * scale + np.array(shift)


def test_pose_align_undoes_a_head_rotation():
    ref = canonical_face("mediapipe468")
    faces = np.stack([_posed(ref, e) for e in ([25, -35, 12], [-10, 40, -5], [0, 0, 0])])
    out = pose_align(faces, ref)
    for f in out:  # rotation removed; translation and scale untouched
        np.testing.assert_allclose((f - f.mean(0)) / 60.0, ref, atol=1e-9)
    x, params = normalize_for_topology(faces, get_topology("mediapipe468"), dims=3, align="pose")
    np.testing.assert_allclose(x, np.broadcast_to(ref, x.shape), atol=1e-6)  # IOD units, canonical frame
    np.testing.assert_allclose(params.scale, 60.0, rtol=1e-6)
    assert (params.angle == 0).all()


def test_pose_align_never_reflects():
    ref = canonical_face("mediapipe468")
    mirrored = ref * np.array([-1.0, 1.0, 1.0])  # a mirror image is not a rotation of the face
    out = pose_align(mirrored[None], ref)[0]
    rot = np.linalg.lstsq(mirrored - mirrored.mean(0), out - out.mean(0), rcond=None)[0]
    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-9)


def test_pose_align_needs_z_and_a_known_mode():
    pts = np.zeros((1, 468, 3)) + np.arange(468)[None, :, None]
    with pytest.raises(ValueError, match="needs z"):
        normalize_for_topology(pts, get_topology("mediapipe468"), dims=2, align="pose")
    with pytest.raises(ValueError, match="align='tilt'"):
        normalize_for_topology(pts, get_topology("mediapipe468"), dims=3, align="tilt")
