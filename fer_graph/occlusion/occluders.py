"""Random occluders of several families, with the landmarks each one hides: training labels for visibility.

A face image and its landmarks (detected on the clean image) go in; an occluded copy, the occluded pixels and
which landmarks lie under them come out. A landmark is *hidden* when the pixel under its clean position is
covered, so the label needs no annotation (the approach of synthetic-occlusion training in landmark
research, e.g. LUVLi, Kumar et al., CVPR 2020, trains and evaluates on such visibility labels).

Families (:data:`FAMILIES`), each placed at a random position over the face with random size and colour:

- ``shape``: a filled ellipse or rectangle (a cup, a phone, a sticker);
- ``band``: a horizontal-ish band across the eye line (sunglasses, a scarf over the eyes);
- ``mask``: the lower face from a random height near the nose bridge down (medical masks, scarves);
- ``hand``: a palm ellipse with four finger ellipses in a skin tone;
- ``texture``: a patch cut from another image (natural texture: hair, clothes, background);
- ``blur``: a patch of the image itself, heavily blurred or drowned in noise (motion, low light).

Sizes are in inter-ocular distances (IOD) of the face, positions relative to its landmark bounding box;
pixels follow :mod:`fer_graph.occlusion.image` (x·W, y·H, top-left corner at 0).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .image import _iod

__all__ = ["FAMILIES", "Occlusion", "random_occluder", "hidden_landmarks"]

#: Occluder families of :func:`random_occluder`.
FAMILIES = ("shape", "band", "mask", "hand", "texture", "blur")
_SKIN = ((255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 56, 30))


class Occlusion(NamedTuple):
    """One occluded face: ``image`` (uint8, the input's shape), ``covered`` ``(H, W)`` bool pixels,
    ``hidden`` ``(V,)`` bool landmarks under them, and the ``family``."""

    image: np.ndarray
    covered: np.ndarray
    hidden: np.ndarray
    family: str


def hidden_landmarks(covered: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """``(V,)`` bool: the landmarks whose pixel (``floor`` of x, y) is covered; outside the image: False.

    Shapes: covered ``(H, W)`` bool; landmarks_px ``(V, 2|3)`` pixels.
    """
    h, w = covered.shape
    col = np.floor(landmarks_px[:, 0]).astype(np.int64)
    row = np.floor(landmarks_px[:, 1]).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = np.zeros(len(landmarks_px), dtype=bool)
    out[inside] = covered[row[inside], col[inside]]
    return out


def _ellipse(draw, cx: float, cy: float, rx: float, ry: float, angle: float, fill) -> None:
    """A rotated filled ellipse as a 36-gon (PIL draws axis-aligned ellipses only)."""
    t = np.linspace(0, 2 * math.pi, 36, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    draw.polygon(list(zip(cx + c * x - s * y, cy + s * x + c * y)), fill=fill)


def _area(family: str, size: tuple[int, int], lm: np.ndarray, iod: float, rng: np.random.Generator):
    """``(H, W)`` bool area of one occluder of ``family`` over the face ``lm`` (pixels)."""
    from PIL import Image, ImageDraw

    w, h = size
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    lo, hi = lm.min(0), lm.max(0)
    cx, cy = rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])
    angle = rng.uniform(-0.4, 0.4)
    if family in ("shape", "texture", "blur"):
        rx, ry = iod * rng.uniform(0.25, 0.9, 2)
        if rng.random() < 0.5:
            _ellipse(draw, cx, cy, rx, ry, angle, 1)
        else:
            c, s = math.cos(angle), math.sin(angle)
            corners = [(-rx, -ry), (rx, -ry), (rx, ry), (-rx, ry)]
            draw.polygon([(cx + c * x - s * y, cy + s * x + c * y) for x, y in corners], fill=1)
    elif family == "band":
        eye_y = lo[1] + (hi[1] - lo[1]) * 0.4 + iod * rng.uniform(-0.3, 0.3)
        half = iod * rng.uniform(0.2, 0.45)
        draw.polygon([(lo[0] - iod, eye_y - half), (hi[0] + iod, eye_y - half + (hi[0] - lo[0]) * angle * 0.3),
                      (hi[0] + iod, eye_y + half + (hi[0] - lo[0]) * angle * 0.3), (lo[0] - iod, eye_y + half)], fill=1)
    elif family == "mask":
        top = lo[1] + (hi[1] - lo[1]) * rng.uniform(0.45, 0.65)
        draw.rectangle([lo[0] - 0.3 * iod, top, hi[0] + 0.3 * iod, hi[1] + 0.5 * iod], fill=1)
    elif family == "hand":
        palm = iod * rng.uniform(0.45, 0.8)
        _ellipse(draw, cx, cy, palm, palm * 1.2, angle, 1)
        for k in range(4):
            off = (k - 1.5) * palm * 0.5
            fx = cx + off * math.cos(angle) + palm * 1.6 * math.sin(angle)
            fy = cy + off * math.sin(angle) - palm * 1.6 * math.cos(angle)
            _ellipse(draw, fx, fy, palm * 0.2, palm * 0.75, angle, 1)
    else:
        raise ValueError(f"family={family!r}; expected one of {list(FAMILIES)}")
    return np.asarray(canvas, dtype=bool)


def _fill(image: np.ndarray, covered: np.ndarray, family: str, rng: np.random.Generator,
          texture: np.ndarray | None) -> np.ndarray:
    """``image`` with the ``covered`` pixels painted as ``family`` paints them."""
    from PIL import Image, ImageFilter

    out = image.copy()
    rgb = image.ndim == 3
    if family == "texture":
        if texture is None:
            raise ValueError("family 'texture' needs a texture image (another photo to cut patches from)")
        src = np.asarray(Image.fromarray(texture).convert("RGB" if rgb else "L").resize(image.shape[1::-1]))
        out[covered] = np.roll(src, tuple(rng.integers(0, image.shape[:2])), axis=(0, 1))[covered]
    elif family == "blur":
        if rng.random() < 0.5:
            radius = max(2.0, 0.05 * max(image.shape[:2]))
            out[covered] = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))[covered]
        else:
            noise = rng.normal(0, 80, image.shape) + image
            out[covered] = np.clip(noise, 0, 255).astype(np.uint8)[covered]
    else:
        color = _SKIN[rng.integers(len(_SKIN))] if family == "hand" else tuple(int(c) for c in rng.integers(0, 256, 3))
        out[covered] = (np.dot(color, (0.299, 0.587, 0.114)).round().astype(np.uint8) if not rgb
                        else np.array(color, np.uint8))
    return out


def random_occluder(image: np.ndarray, landmarks_px: np.ndarray, family: str, rng: np.random.Generator, *,
                    texture: np.ndarray | None = None) -> Occlusion:
    """Paint one random occluder of ``family`` over the face and label the landmarks it hides.

    Args:
        image: ``(H, W)`` gray or ``(H, W, 3)`` RGB uint8 face image. Not modified.
        landmarks_px: ``(V, 2|3)`` landmarks of the clean image in its pixels (V = 68, 468 or 478).
        family: one of :data:`FAMILIES`.
        rng: the source of every random choice.
        texture: ``family="texture"``: an image (any size, uint8) to cut the patch from.

    Raises:
        ValueError: unknown family, bad image or landmarks, ``texture`` missing for ``"texture"``.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)) or 0 in img.shape[:2]:
        raise ValueError(f"image must be (H, W) or (H, W, 3) uint8; got shape {img.shape}, dtype {img.dtype}")
    lm = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    if not np.isfinite(lm).all():
        raise ValueError("landmarks_px holds NaN or inf")
    covered = _area(family, (img.shape[1], img.shape[0]), lm, _iod(lm), rng)
    return Occlusion(_fill(img, covered, family, rng, texture), covered, hidden_landmarks(covered, lm), family)
