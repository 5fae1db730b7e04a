from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fer_graph.graphs.normalize import denormalize_landmarks, eye_centers, normalize_landmarks
from fer_graph.graphs.synthetic import make_face_landmarks
from fer_graph.graphs.topology import LEFT_EYE_68, RIGHT_EYE_68

EYES = {"right_eye": RIGHT_EYE_68, "left_eye": LEFT_EYE_68}


@pytest.fixture(scope="module")
def faces():
    """20 synthetic 68-point faces in pixels (4 subjects, random head roll and position)."""
    return make_face_landmarks(4, rng=0).points[:20].astype(np.float64)


def _rotate(p, theta):
    c, s = np.cos(theta), np.sin(theta)
    return p @ np.array([[c, s], [-s, c]])


@given(dx=st.floats(-1e4, 1e4), dy=st.floats(-1e4, 1e4), scale=st.floats(0.01, 100), theta=st.floats(-3.1, 3.1))
def test_similarity_invariance(faces, dx, dy, scale, theta):
    ref, _ = normalize_landmarks(faces, **EYES)
    moved = _rotate(faces, theta) * scale + np.array([dx, dy])
    out, params = normalize_landmarks(moved, **EYES)
    np.testing.assert_allclose(out, ref, atol=2e-4)
    np.testing.assert_allclose(params.scale, normalize_landmarks(faces, **EYES)[1].scale * scale, rtol=1e-4)


@given(dx=st.floats(-1e3, 1e3), scale=st.floats(0.1, 10))
def test_translation_scale_invariance_without_alignment(faces, dx, scale):
    ref, _ = normalize_landmarks(faces, **EYES, align=False)
    out, _ = normalize_landmarks(faces * scale + dx, **EYES, align=False)
    np.testing.assert_allclose(out, ref, atol=2e-4)


def test_normalized_frame(faces):
    r0, l0 = eye_centers(faces, RIGHT_EYE_68, LEFT_EYE_68)
    assert np.abs(np.degrees(np.arctan2(*(l0 - r0)[:, ::-1].T))).max() > 0.5  # tilted eye lines to start with
    out, params = normalize_landmarks(faces, **EYES)
    np.testing.assert_allclose(params.scale, np.linalg.norm(l0 - r0, axis=1), rtol=1e-5)  # IOD in pixels
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-5)
    r, l = eye_centers(out, RIGHT_EYE_68, LEFT_EYE_68)
    np.testing.assert_allclose(np.linalg.norm(l - r, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(l[:, 1] - r[:, 1], 0, atol=1e-5)  # eye line horizontal
    assert (l[:, 0] > r[:, 0]).all()  # subject's left eye stays on the image right
    assert out.dtype == np.float32
    np.testing.assert_allclose(denormalize_landmarks(out, params), faces, atol=1e-2)


def test_z_is_scaled_not_rotated(faces):
    z = np.random.default_rng(0).normal(size=faces.shape[:2] + (1,))
    pts = np.concatenate([faces, z], axis=-1)
    out, params = normalize_landmarks(pts, **EYES)
    expected = (z[..., 0] - z[..., 0].mean(axis=1, keepdims=True)) / params.scale[:, None]
    np.testing.assert_allclose(out[..., 2], expected, atol=1e-5)
    np.testing.assert_allclose(out[..., :2], normalize_landmarks(faces, **EYES)[0], atol=1e-5)


def test_errors(faces):
    with pytest.raises(ValueError, match=r"\(N, V, 2\|3\)"):
        normalize_landmarks(faces[0], **EYES)
    bad = faces.copy()
    bad[3, 10, 0] = np.nan
    with pytest.raises(ValueError, match=r"points\[3\] holds NaN"):
        normalize_landmarks(bad, **EYES)
    flat = np.ones_like(faces[:2])
    with pytest.raises(ValueError, match=r"points\[0\]: eye centres coincide"):
        normalize_landmarks(flat, **EYES)
