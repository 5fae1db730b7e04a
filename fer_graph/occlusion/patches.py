"""Local image patches around each landmark: the appearance input of the visibility estimator.

The face is first resampled so that its inter-ocular distance (IOD) spans :data:`IOD_PX` pixels (photos are
shrunk with an antialiasing filter, FER-2013's 48×48 crops enlarged), so a patch covers the same part of
every face whatever the image size. Around each landmark a ``grid × grid`` lattice is sampled (bilinear) at
each radius of :data:`RADII` (in IOD): a small patch (the skin or occluder under the point) and a wider
one (its surroundings). Intensities are gray levels standardized per face (median and MAD over all
samples of that face), so lighting and contrast drop out but an occluder's colour, which differs from the
face's, stays visible.
"""

from __future__ import annotations

import numpy as np

from .image import _iod

__all__ = ["IOD_PX", "RADII", "GRID", "patch_features", "num_patch_features"]

#: Inter-ocular distance, in pixels, of the resampled face the patches are cut from.
IOD_PX = 24.0
#: Half-widths of the sampled lattices, in IOD.
RADII = (0.12, 0.35)
#: Lattice points per side.
GRID = 5


def num_patch_features(radii=RADII, grid: int = GRID) -> int:
    """Features per landmark of :func:`patch_features`: ``len(radii) * grid**2``."""
    return len(radii) * grid * grid


def _gray(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (3, 4))):
        raise ValueError(f"image must be (H, W) or (H, W, 3|4) uint8; got shape {img.shape}, dtype {img.dtype}")
    if img.ndim == 2:
        return img.astype(np.float32)
    return img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _face_crop(gray: np.ndarray, lm: np.ndarray, iod: float) -> tuple[np.ndarray, np.ndarray]:
    """The face region of ``gray`` resampled to :data:`IOD_PX` pixels per IOD, and ``lm`` in its pixels."""
    from PIL import Image

    margin = iod * (max(RADII) + 0.1)
    lo = np.floor(lm.min(0) - margin).astype(int)
    hi = np.ceil(lm.max(0) + margin).astype(int)
    h, w = gray.shape
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(max(hi[0], x0 + 1), w), min(max(hi[1], y0 + 1), h)
    if x1 <= x0 or y1 <= y0:  # the face lies outside the image: a one-pixel crop of the nearest corner
        x0, y0 = min(max(lo[0], 0), w - 1), min(max(lo[1], 0), h - 1)
        x1, y1 = x0 + 1, y0 + 1
    crop = gray[y0:y1, x0:x1]
    s = IOD_PX / iod
    size = (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s)))
    # Pillow's bilinear filter widens with the scale factor, so shrinking a photo is antialiased
    out = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR), np.float32)
    return out, (lm - (x0, y0)) * (size[0] / crop.shape[1], size[1] / crop.shape[0])


def patch_features(image: np.ndarray, landmarks_px: np.ndarray, *, radii=RADII, grid: int = GRID) -> np.ndarray:
    """Standardized gray-level lattices around each landmark.

    Args:
        image: ``(H, W)`` gray or ``(H, W, 3|4)`` RGB(A) uint8 image.
        landmarks_px: ``(V, 2|3)`` landmarks in that image's pixels (x right, y down); z is ignored.
        radii, grid: lattice half-widths (IOD) and points per side.

    Returns:
        ``(V, len(radii) * grid**2)`` float32, row-major lattices, one radius after the other; points outside
        the image read the nearest edge pixel.

    Raises:
        ValueError: bad image, NaN landmarks, or a degenerate face (IOD 0).
    """
    from scipy.ndimage import map_coordinates

    gray = _gray(image)
    lm = np.asarray(landmarks_px, np.float64)[:, :2]
    if not np.isfinite(lm).all():
        raise ValueError("landmarks_px holds NaN or inf")
    iod = _iod(lm)
    if not iod > 0:
        raise ValueError("degenerate landmarks: inter-ocular distance 0")
    crop, pts = _face_crop(gray, lm, iod)
    offsets = np.linspace(-1.0, 1.0, grid)
    oy, ox = np.meshgrid(offsets, offsets, indexing="ij")
    cols = []
    for r in radii:
        d = r * IOD_PX
        xs = pts[:, 0, None] + d * ox.ravel()[None]
        ys = pts[:, 1, None] + d * oy.ravel()[None]
        cols.append(map_coordinates(crop, [ys.ravel(), xs.ravel()], order=1, mode="nearest").reshape(len(lm), -1))
    feats = np.concatenate(cols, axis=1)
    med = np.median(feats)
    mad = np.median(np.abs(feats - med)) * 1.4826
    return ((feats - med) / max(mad, 1.0)).astype(np.float32)  # 1 gray level: flat faces
