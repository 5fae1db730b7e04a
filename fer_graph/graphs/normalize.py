"""Landmark normalization: centre on the face centroid, scale by inter-ocular distance, level the eyes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NormalizationParams", "normalize_landmarks", "denormalize_landmarks", "eye_centers", "pose_align",
           "ALIGN_MODES"]

#: ``align`` values of :func:`normalize_for_topology`: True / "eyes" (level the eye line), False / "none",
#: "pose" (rotate in 3-D onto the topology's canonical face).
ALIGN_MODES = ("eyes", "none", "pose")


@dataclass(frozen=True)
class NormalizationParams:
    """What :func:`normalize_landmarks` removed from each face, so it can be put back.

    Attributes:
        center: ``(N, D)`` float32 face centroid in the input units.
        scale: ``(N,)`` float32 inter-ocular distance (IOD) in the input units (x, y only).
        angle: ``(N,)`` float32 eye-line angle in radians that was rotated away (0 without alignment).
    """

    center: np.ndarray
    scale: np.ndarray
    angle: np.ndarray


def eye_centers(
    points: np.ndarray, right_eye: Sequence[int], left_eye: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean x, y of each eye's landmarks.

    Args:
        points: ``(N, V, D)`` landmarks, D >= 2.
        right_eye, left_eye: indices of the subject's right eye (image left) and left eye (image right),
            e.g. iBUG 36-41 and 42-47 (0-based), or MediaPipe ``FACE_LANDMARKS_RIGHT_EYE`` / ``LEFT_EYE``.

    Returns:
        Two ``(N, 2)`` float64 arrays: right-eye and left-eye centres.
    """
    pts = np.asarray(points, dtype=np.float64)
    return pts[:, list(right_eye), :2].mean(axis=1), pts[:, list(left_eye), :2].mean(axis=1)


def normalize_landmarks(
    points: np.ndarray,
    *,
    right_eye: Sequence[int],
    left_eye: Sequence[int],
    align: bool = True,
) -> tuple[np.ndarray, NormalizationParams]:
    """Centre landmarks on their centroid, divide by inter-ocular distance, optionally level the eyes.

    The result is invariant to translation and uniform scaling of the input, and with ``align=True``
    to in-plane rotation too. Eyes are used because they barely move with expression. A third
    coordinate (MediaPipe z) is centred on its mean and divided by the same IOD; rotation acts on x, y.

    Args:
        points: ``(N, V, D)`` landmarks, D in {2, 3}, in isotropic units (pixels, or image-normalized
            values multiplied back by width/height); y points down.
        right_eye, left_eye: eye landmark indices (see :func:`eye_centers`).
        align: rotate about the centroid so the line from the right-eye centre to the left-eye centre
            (image left to image right) is horizontal.

    Returns:
        ``(N, V, D)`` float32 coordinates in IOD units, and the :class:`NormalizationParams`.

    Raises:
        ValueError: ``points`` is not ``(N, V, 2|3)``, holds NaN/inf, or a face has a zero
            inter-ocular distance (index given).

    Reference:
        Inter-ocular normalization as in the 300-W benchmark (Sagonas et al., 2013).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] not in (2, 3):
        raise ValueError(f"points must be (N, V, 2|3); got shape {tuple(pts.shape)}")
    if not np.isfinite(pts).all():
        bad = int(np.flatnonzero(~np.isfinite(pts).reshape(len(pts), -1).all(axis=1))[0])
        raise ValueError(f"points[{bad}] holds NaN or inf")
    right, left = eye_centers(pts, right_eye, left_eye)
    eye_vec = left - right
    iod = np.linalg.norm(eye_vec, axis=1)
    tiny = iod <= 1e-12 * np.maximum(1.0, np.abs(pts).reshape(len(pts), -1).max(axis=1))
    if tiny.any():
        raise ValueError(f"points[{int(np.flatnonzero(tiny)[0])}]: eye centres coincide (zero inter-ocular distance)")
    center = pts.mean(axis=1)
    out = (pts - center[:, None, :]) / iod[:, None, None]
    angle = np.arctan2(eye_vec[:, 1], eye_vec[:, 0]) if align else np.zeros(len(pts))
    if align:
        c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
        x, y = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0] = c * x + s * y
        out[..., 1] = -s * x + c * y
    params = NormalizationParams(center.astype(np.float32), iod.astype(np.float32), angle.astype(np.float32))
    return out.astype(np.float32), params


def denormalize_landmarks(points: np.ndarray, params: NormalizationParams) -> np.ndarray:
    """Invert :func:`normalize_landmarks`: ``(N, V, D)`` IOD units back to the input units (float32)."""
    out = np.asarray(points, dtype=np.float64).copy()
    c, s = np.cos(params.angle)[:, None], np.sin(params.angle)[:, None]
    x, y = out[..., 0].copy(), out[..., 1].copy()
    out[..., 0] = c * x - s * y
    out[..., 1] = s * x + c * y
    out = out * params.scale[:, None, None] + params.center[:, None, :]
    return out.astype(np.float32)


def pose_align(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate each face about its centroid onto ``reference`` (Kabsch / orthogonal Procrustes, proper
    rotations only), removing head pose (yaw, pitch, roll); translation and scale are left to
    :func:`normalize_landmarks`.

    Shapes:
        points: ``(N, V, 3)`` landmarks in isotropic units, image frame (y down). reference: ``(V, 3)``
        (e.g. :func:`fer_graph.graphs.canonical.canonical_face`). Returns ``(N, V, 3)`` float64.

    Raises:
        ValueError: shapes that do not match.

    Reference:
        Kabsch, "A solution for the best rotation to relate two sets of vectors", Acta Cryst. A32 (1976).
    """
    pts = np.asarray(points, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[2] != 3 or ref.shape != pts.shape[1:]:
        raise ValueError(f"pose_align: points (N, V, 3) and reference (V, 3) needed; got {pts.shape}, {ref.shape}")
    center = pts.mean(axis=1, keepdims=True)
    p = pts - center
    q = ref - ref.mean(axis=0)
    u, _, vt = np.linalg.svd(np.einsum("nvi,vj->nij", p, q))  # covariance of each face with the reference
    d = np.sign(np.linalg.det(u @ vt))  # -1: the best orthogonal map is a reflection; flip its last axis
    u[:, :, 2] *= d[:, None]
    rot = u @ vt  # (N, 3, 3): row vectors p @ rot best match q
    return p @ rot + center


def normalize_for_topology(points: np.ndarray, topology, *, dims: int = 2, align: bool | str = True
                           ) -> tuple[np.ndarray, NormalizationParams]:
    """Cut landmarks to a topology's nodes and coordinate dims, then :func:`normalize_landmarks` them with
    its eye indices. The one place datasets and inference turn raw landmarks into node coordinates.

    Args:
        points: ``(N, V', D')`` landmarks in isotropic units with ``V' >= topology.num_nodes`` (478-point
            Face Landmarker output for a 468-node topology) and ``D' >= dims``.
        topology: a :class:`fer_graph.graphs.topology.Topology`.
        dims: 2 (x, y) or 3 (x, y, z).
        align: ``True`` / ``"eyes"``: level the eye line; ``False`` / ``"none"``; ``"pose"``: rotate in 3-D
            onto the topology's canonical face (:func:`pose_align`; head pose removed, needs ``dims=3``).

    Raises:
        ValueError: fewer points or dims than needed, an unknown ``align``, ``"pose"`` without z, or see
            :func:`normalize_landmarks`.
    """
    pts = np.asarray(points)
    if pts.ndim != 3 or pts.shape[1] < topology.num_nodes or pts.shape[2] < dims:
        raise ValueError(f"points of shape {tuple(pts.shape)} do not fit topology {topology.name} "
                         f"({topology.num_nodes} nodes, {dims} dims)")
    mode = "eyes" if align is True else "none" if align is False else align
    if mode not in ALIGN_MODES:
        raise ValueError(f"align={align!r}; expected one of {list(ALIGN_MODES)}")
    pts = pts[:, : topology.num_nodes, :dims]
    if mode == "pose":
        if dims != 3:
            raise ValueError("align='pose' rotates faces in 3-D: it needs z (dims=3, --include-z)")
        from .canonical import canonical_face

        pts = pose_align(pts, canonical_face(topology.name))
    return normalize_landmarks(pts, right_eye=topology.right_eye, left_eye=topology.left_eye, align=mode == "eyes")
