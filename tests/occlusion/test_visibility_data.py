"""Patch features and synthetic visibility samples (a stand-in detector: no MediaPipe needed)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.graphs.canonical import canonical_face
from fer_graph.occlusion.occluders import hidden_landmarks, random_occluder
from fer_graph.occlusion.patches import GRID, RADII, num_patch_features, patch_features
from fer_graph.occlusion.visibility_data import CHUNK, CLEAN, FaceImage, VisibilitySamples, synthesize_samples


def _face(size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A textured RGB image and the canonical Face Mesh placed on it (pixels, y down)."""
    pts = canonical_face("mediapipe468")[:, :2].astype(np.float64)
    pts = pts - pts.min(0)
    pts = pts / pts.max() * size * 0.6 + size * 0.2
    if np.mean(pts[[13, 14], 1]) < np.mean(pts[[33, 263], 1]):
        pts[:, 1] = size - pts[:, 1]
    rng = np.random.default_rng(0)
    gray = np.clip(120 + rng.normal(0, 25, (size, size)), 0, 255).astype(np.uint8)
    return np.stack([gray] * 3, axis=-1), pts


def test_patch_features_shape_and_intensity_invariance():
    image, pts = _face()
    f = patch_features(image, pts)
    assert f.shape == (468, num_patch_features()) == (468, len(RADII) * GRID * GRID) and f.dtype == np.float32
    brighter = (image.astype(np.float32) * 0.5 + 60).astype(np.uint8)  # contrast and level change
    np.testing.assert_allclose(patch_features(brighter, pts), f, atol=0.15)


def test_patch_features_see_a_dark_occluder_under_its_landmarks():
    image, pts = _face()
    covered = np.zeros(image.shape[:2], bool)
    covered[120:, :] = True  # the lower part of the image painted black
    image[covered] = 0
    hidden = hidden_landmarks(covered, pts)
    assert 20 < hidden.sum() < 400
    centre = patch_features(image, pts)[:, RADII.index(min(RADII)) * GRID * GRID:][:, GRID * GRID // 2]
    assert centre[hidden].max() < centre[~hidden & (pts[:, 1] < 110)].min()


def test_patch_features_same_patch_for_a_photo_and_its_half_size_copy():
    from PIL import Image

    image, pts = _face(400)
    small = np.asarray(Image.fromarray(image).resize((200, 200), Image.Resampling.BILINEAR))
    a, b = patch_features(image, pts), patch_features(small, pts / 2)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8  # both resampled to the same IOD


def test_patch_features_errors_and_faces_off_the_image():
    image, pts = _face()
    with pytest.raises(ValueError, match="NaN"):
        patch_features(image, np.full_like(pts, np.nan))
    with pytest.raises(ValueError, match="uint8"):
        patch_features(image.astype(np.float32), pts)
    assert np.isfinite(patch_features(image, pts + 5000)).all()  # every point off the image: edge pixels


class _Detector:
    """Finds the clean landmarks back unless the occluder covers the nose tip; counts its calls."""

    def __init__(self, pts: np.ndarray, size: int) -> None:
        self.pts, self.size, self.calls = pts, size, 0

    def detect(self, image):
        from fer_graph.landmarks.mediapipe_source import FaceResult

        self.calls += 1
        tip = self.pts[1].astype(int)
        if (image[tip[1], tip[0]] != self.image0[tip[1], tip[0]]).any():
            return "no_face"
        lm = np.zeros((478, 3), np.float32)
        lm[:468, :2] = self.pts / self.size
        return FaceResult(lm, np.zeros(52, np.float32), np.eye(4, dtype=np.float32), 0)


def test_synthesize_labels_skips_and_resumes(tmp_path):
    image, pts = _face()
    det = _Detector(pts, 200)
    det.image0 = image
    faces = [FaceImage(f"f{i}", lambda: image, pts) for i in range(6)]
    plan = [CLEAN, "shape", "mask", "band", "blur", "mask"]
    out = synthesize_samples(faces, plan, detector=det, cache_dir=tmp_path / "c", seed=4)
    assert det.calls == 5  # clean faces are not re-detected
    lost = {(sid, fam) for sid, fam, reason in out.skipped if reason == "no_face"}
    assert len(out) + len(out.skipped) == 6 and out.features.shape[1:] == (468, num_patch_features())
    assert out.features.dtype == np.float16
    for k, sid in enumerate(out.sample_ids):
        i = int(sid[1:])
        assert out.families[k] == plan[i] and (sid, plan[i]) not in lost
        if plan[i] == CLEAN:
            assert not out.hidden[k].any()
        else:  # the label is the generator's occluder over the clean landmarks
            occ = random_occluder(image, pts, plan[i], np.random.default_rng([4, i]))
            np.testing.assert_array_equal(out.hidden[k], occ.hidden)
    assert all(fam == "mask" for _, fam in lost)  # masks cover the nose tip: the detector loses the face
    again = synthesize_samples(faces, plan, detector=None, cache_dir=tmp_path / "c", seed=4)  # cached: no detector
    np.testing.assert_array_equal(again.hidden, out.hidden)
    assert again.sample_ids == out.sample_ids and again.skipped == out.skipped


def test_synthesize_rejects_bad_plans(tmp_path):
    image, pts = _face()
    faces = [FaceImage("f", lambda: image, pts)]
    with pytest.raises(ValueError, match="unknown families"):
        synthesize_samples(faces, ["scarf"], detector=None, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="1 faces but 2"):
        synthesize_samples(faces, [CLEAN, CLEAN], detector=None, cache_dir=tmp_path)
    assert CHUNK >= 1


def test_samples_save_load_take(tmp_path):
    s = VisibilitySamples(np.ones((3, 468, 4), np.float16), np.eye(3, 468, dtype=bool), np.array(["a", "b", CLEAN]),
                          ["x", "y", "z"], [("w", "mask", "no_face")])
    s.save(tmp_path / "s.npz")
    t = VisibilitySamples.load(tmp_path / "s.npz").take(np.array([2, 0]))
    assert t.sample_ids == ["z", "x"] and t.families.tolist() == [CLEAN, "a"] and t.skipped == [("w", "mask", "no_face")]
    np.testing.assert_array_equal(t.hidden, s.hidden[[2, 0]])
