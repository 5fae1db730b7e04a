"""Random occluder families and their visibility labels."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.graphs.canonical import canonical_face
from fer_graph.occlusion.occluders import FAMILIES, hidden_landmarks, random_occluder


def _face(size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A gray-gradient RGB image and the canonical Face Mesh placed on it (pixels, y down)."""
    pts = canonical_face("mediapipe468")[:, :2].astype(np.float64)
    pts = pts - pts.min(0)
    pts = pts / pts.max() * size * 0.6 + size * 0.2
    if np.mean(pts[[13, 14], 1]) < np.mean(pts[[33, 263], 1]):  # canonical y up: flip to image y down
        pts[:, 1] = size - pts[:, 1]
    grad = np.linspace(40, 220, size, dtype=np.uint8)
    return np.stack([np.tile(grad, (size, 1))] * 3, axis=-1), pts


def test_hidden_landmarks_by_hand():
    covered = np.zeros((10, 10), bool)
    covered[2:5, 3:7] = True  # rows 2..4, columns 3..6
    pts = np.array([[3.0, 2.0], [6.99, 4.99], [7.0, 3.0], [2.9, 3.0], [-1.0, 3.0], [50.0, 50.0]])
    assert hidden_landmarks(covered, pts).tolist() == [True, True, False, False, False, False]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_paints_only_what_it_labels(family):
    image, pts = _face()
    texture = np.random.default_rng(9).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    occ = random_occluder(image, pts, family, np.random.default_rng(3), texture=texture)
    assert occ.image.shape == image.shape and occ.image.dtype == np.uint8 and occ.family == family
    assert occ.covered.any() and not occ.covered.all()
    np.testing.assert_array_equal(occ.image[~occ.covered], image[~occ.covered])  # nothing else changes
    assert occ.hidden.shape == (468,)
    assert occ.hidden.tolist() == hidden_landmarks(occ.covered, pts).tolist()
    again = random_occluder(image, pts, family, np.random.default_rng(3), texture=texture)
    np.testing.assert_array_equal(again.image, occ.image)  # the generator decides everything


def test_a_medical_mask_hides_the_mouth_and_never_the_eyes():
    image, pts = _face()
    lips, eyes = [13, 14, 0, 17], [33, 133, 263, 362]
    for seed in range(20):
        occ = random_occluder(image, pts, "mask", np.random.default_rng(seed))
        assert occ.hidden[lips].all() and not occ.hidden[eyes].any(), seed


def test_sizes_vary_with_the_seed_and_gray_images_work():
    image, pts = _face()
    gray = image[..., 0]
    areas = {int(random_occluder(gray, pts, "shape", np.random.default_rng(s)).covered.sum()) for s in range(8)}
    assert len(areas) == 8
    assert random_occluder(gray, pts, "hand", np.random.default_rng(0)).image.ndim == 2


def test_bad_calls_are_refused():
    image, pts = _face()
    with pytest.raises(ValueError, match="family"):
        random_occluder(image, pts, "hat", np.random.default_rng(0))
    with pytest.raises(ValueError, match="texture"):
        random_occluder(image, pts, "texture", np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8"):
        random_occluder(image.astype(np.float32), pts, "shape", np.random.default_rng(0))
