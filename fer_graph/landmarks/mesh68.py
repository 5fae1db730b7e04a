"""Face Mesh -> iBUG 68-point landmarks: run 68-point models (CK+ lands, OpenFace, py-feat layouts) on
Face Landmarker detections.

Each iBUG point (Sagonas et al., 300-W, 0-based: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth
48-67) is one Face Mesh vertex (:data:`MESH_TO_IBUG68`) plus a fixed offset (:data:`IBUG68_OFFSETS`, in
inter-ocular distances in the face's eye frame). Both were fitted by ``experiments/mesh68_fit.py`` on 981
CK+ frames seen both ways (the Face Landmarker on the CK+48 crops; the 68 CK+ lands points of the same
frames): per point the vertex nearest on average after a similarity fit, jointly with its mirror point so
the table is left/right consistent, and the mean residual offset, symmetrized. Residual error on held-out
subjects, and what it means for 68-point models: docs/extraction.md.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MESH_TO_IBUG68", "IBUG68_OFFSETS", "mesh_to_ibug68", "apply_offsets"]

#: Face Mesh vertex of each iBUG point, in iBUG order (68 indices into the 468 mesh vertices).
MESH_TO_IBUG68: tuple[int, ...] = (
    127, 234, 177, 215, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 401, 454, 356,
    70, 63, 105, 66, 55, 285, 296, 334, 293, 300, 168, 197, 195, 4, 240, 97, 2,
    326, 460, 33, 159, 158, 133, 153, 144, 362, 385, 386, 263, 373, 380, 61, 39, 37,
    0, 267, 269, 291, 404, 314, 17, 84, 180, 78, 82, 13, 312, 308, 317, 14, 87,
)
#: Offset of each iBUG point from its vertex: (along the eye line towards the subject's left eye,
#: downwards), in inter-ocular distances of the mapped points' eye centres (iBUG 36-41, 42-47).
IBUG68_OFFSETS: tuple[tuple[float, float], ...] = (
    (0.0037, -0.0198), (0.0192, 0.0511), (-0.0128, -0.0946), (-0.0136, -0.0208), (-0.0232, -0.0476), (0.0216, 0.0486),
    (-0.0329, 0.0332), (-0.0841, 0.0534), (0.0000, 0.0832), (0.0841, 0.0534), (0.0329, 0.0332), (-0.0216, 0.0486),
    (0.0232, -0.0476), (0.0136, -0.0208), (0.0128, -0.0946), (-0.0192, 0.0511), (-0.0037, -0.0198), (-0.0007, 0.0629),
    (0.0415, 0.0059), (0.0953, 0.0053), (0.1043, 0.0219), (0.0368, -0.0634), (-0.0368, -0.0634), (-0.1043, 0.0219),
    (-0.0953, 0.0053), (-0.0415, 0.0059), (0.0007, 0.0629), (0.0000, 0.0071), (0.0000, -0.0366), (0.0000, 0.0481),
    (0.0000, 0.0098), (0.0116, -0.0064), (0.0122, -0.0037), (0.0000, 0.0202), (-0.0122, -0.0037), (-0.0116, -0.0064),
    (0.0270, 0.0067), (-0.0342, 0.0052), (0.0320, -0.0004), (-0.0023, 0.0030), (0.0054, 0.0069), (0.0177, 0.0041),
    (0.0023, 0.0030), (-0.0320, -0.0004), (0.0342, 0.0052), (-0.0270, 0.0067), (-0.0177, 0.0041), (-0.0054, 0.0069),
    (0.0044, -0.0085), (-0.0288, 0.0085), (0.0119, -0.0091), (0.0000, 0.0004), (-0.0119, -0.0091), (0.0288, 0.0085),
    (-0.0044, -0.0085), (0.0387, -0.0049), (-0.0144, -0.0196), (0.0000, -0.0216), (0.0144, -0.0196), (-0.0387, -0.0049),
    (0.0324, -0.0090), (-0.0110, -0.0062), (0.0000, 0.0041), (0.0110, -0.0062), (-0.0324, -0.0090), (0.0058, -0.0426),
    (0.0000, -0.0349), (-0.0058, -0.0426),
)


_RIGHT_EYE, _LEFT_EYE = slice(36, 42), slice(42, 48)


def mesh_to_ibug68(points: np.ndarray, *, offsets: bool = True) -> np.ndarray:
    """The 68 iBUG points of Face Mesh landmarks.

    Args:
        points: ``(N, V, D)`` or ``(V, D)`` Face Landmarker landmarks, V = 468 or 478 (iris points ignored),
            D >= 2, in isotropic units (pixels; image-normalized coordinates only for square images —
            multiply by the image size otherwise), y down.
        offsets: add :data:`IBUG68_OFFSETS` (scaled by each face's inter-ocular distance, rotated with its
            eye line) to x, y; ``False`` returns the bare vertices. z, when present, is the vertex's.

    Returns:
        ``(N, 68, D)`` (or ``(68, D)``) float32, same units.

    Raises:
        ValueError: not 468/478 points, fewer than 2 coordinates, or non-finite values.
    """
    p = np.asarray(points, dtype=np.float64)
    single = p.ndim == 2
    p = p[None] if single else p
    if p.ndim != 3 or p.shape[1] not in (468, 478) or p.shape[2] < 2:
        raise ValueError(f"mesh_to_ibug68: expected (N, 468 or 478, D >= 2) Face Mesh landmarks, got shape "
                         f"{np.shape(points)}")
    if not np.isfinite(p).all():
        raise ValueError("mesh_to_ibug68: landmarks contain NaN or infinite values")
    out = p[:, list(MESH_TO_IBUG68)]
    out = (apply_offsets(out, np.asarray(IBUG68_OFFSETS)) if offsets else out).astype(np.float32)
    return out[0] if single else out


def apply_offsets(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``points`` ``(N, 68, D)`` (isotropic units) moved by ``offsets`` ``(68, 2)``, given in IOD units in each
    face's eye frame (x along the line from the right eye centre, iBUG 36-41, to the left, 42-47; y
    perpendicular, down): scaled by the face's inter-ocular distance and rotated with its eye line. z, when
    present, is unchanged. Returns float64."""
    out = np.array(points, dtype=np.float64)
    d = out[:, _LEFT_EYE, :2].mean(1) - out[:, _RIGHT_EYE, :2].mean(1)  # (N, 2): the eye line, length IOD
    off = np.asarray(offsets, dtype=np.float64)[None]  # (1, 68, 2)
    out[..., 0] += d[:, None, 0] * off[..., 0] - d[:, None, 1] * off[..., 1]
    out[..., 1] += d[:, None, 1] * off[..., 0] + d[:, None, 0] * off[..., 1]
    return out
