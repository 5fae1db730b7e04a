"""Per-eye openness measures from Face Mesh landmarks and blendshapes.

Two geometric measures per eye, computed in the image plane (pixel-proportional x, y):

- eye aspect ratio (EAR; Soukupová & Čech, "Real-time eye blink detection using facial landmarks", CVWW
  2016) on the six-point eyelid contour: ``(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)``, with the usual Face
  Mesh points (corners 33/133 and 362/263);
- iris ratio: the eyelid opening at the middle of the eye (upper/lower lid points 159/145 and 386/374)
  divided by the iris diameter (twice the mean distance of the four iris contour points to the iris
  centre, points 468-477 of the 478-point Face Landmarker output). The iris is a near-constant 11.7 mm
  across adults, so the ratio is in "iris diameters" and does not depend on face size; a wide-open eye
  shows sclera above or below the iris (ratio > 1).

The blendshapes ``eyeBlink*``, ``eyeSquint*`` and ``eyeWide*`` of the same eye complete the feature vector.
Left/right are the subject's (MediaPipe's ``FACE_LANDMARKS_LEFT_EYE`` is the subject's left eye).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import UnknownLabelError

__all__ = ["EYES", "EYE_FEATURES", "EYE_STATES", "eye_features", "eye_state_label"]

#: Eyes in output order (the subject's left and right).
EYES: tuple[str, ...] = ("left", "right")

#: Ordered eye states, least to most open (the ordinal scale of the eye-state model).
EYE_STATES: tuple[str, ...] = ("closed", "narrowed", "open", "wide")

#: Names of the per-eye features, in column order of :func:`eye_features`.
EYE_FEATURES: tuple[str, ...] = ("ear", "iris_ratio", "blink", "squint", "wide")

# Face Mesh indices per eye: EAR points p1..p6 (corner, upper, upper, corner, lower, lower),
# mid-lid pair (upper, lower), iris centre then its four contour points.
_POINTS = {
    "left": {"ear": (362, 385, 387, 263, 373, 380), "lids": (386, 374), "iris": (473, 474, 475, 476, 477)},
    "right": {"ear": (33, 160, 158, 133, 153, 144), "lids": (159, 145), "iris": (468, 469, 470, 471, 472)},
}
_BLENDSHAPES = {"left": ("eyeBlinkLeft", "eyeSquintLeft", "eyeWideLeft"),
                "right": ("eyeBlinkRight", "eyeSquintRight", "eyeWideRight")}


def _dist(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[:, a, :2] - points[:, b, :2], axis=-1)


def _one_eye(points: np.ndarray, blend: np.ndarray, eye: str) -> np.ndarray:
    from .mediapipe_source import BLENDSHAPE_NAMES

    p1, p2, p3, p4, p5, p6 = _POINTS[eye]["ear"]
    width = np.maximum(_dist(points, p1, p4), 1e-9)
    ear = (_dist(points, p2, p6) + _dist(points, p3, p5)) / (2 * width)
    centre, *contour = _POINTS[eye]["iris"]
    radius = np.mean([_dist(points, centre, c) for c in contour], axis=0)
    ratio = _dist(points, *_POINTS[eye]["lids"]) / np.maximum(2 * radius, 1e-9)
    scores = blend[:, [BLENDSHAPE_NAMES.index(n) for n in _BLENDSHAPES[eye]]]
    return np.column_stack([ear, ratio, scores]).astype(np.float32)


def eye_features(points: np.ndarray, blendshapes: np.ndarray) -> np.ndarray:
    """Openness features of both eyes of ``N`` faces.

    Args:
        points: ``(N, 478, D)`` landmarks, ``D`` >= 2, in pixel-proportional units (x and y on the same
            scale, e.g. :meth:`LandmarkSet.pixel_points`); only x and y are used.
        blendshapes: ``(N, 52)`` blendshape scores in MediaPipe order.

    Returns:
        ``(N, 2, 5)`` float32: eyes in :data:`EYES` order, features in :data:`EYE_FEATURES` order
        (EAR, iris ratio in iris diameters, blink, squint, wide scores in [0, 1]).

    Raises:
        ValueError: fewer than 478 points (the iris points are needed), or mismatched shapes.
    """
    points = np.asarray(points, np.float32)
    blendshapes = np.asarray(blendshapes, np.float32)
    if points.ndim != 3 or points.shape[1] < 478 or points.shape[2] < 2:
        raise ValueError(f"points must be (N, 478, D>=2) with the iris points; got {tuple(points.shape)}")
    if blendshapes.shape != (len(points), 52):
        raise ValueError(f"blendshapes must be ({len(points)}, 52); got {tuple(blendshapes.shape)}")
    return np.stack([_one_eye(points, blendshapes, eye) for eye in EYES], axis=1)


def eye_state_label(name: str, *, where: str = "") -> str:
    """The eye state a folder or cell names: ``"eye_closed"`` or ``"closed"`` (any case) -> ``"closed"``.

    Raises:
        UnknownLabelError: not one of :data:`EYE_STATES`, with or without the ``eye_`` prefix.
    """
    key = str(name).strip().lower()
    key = key[4:] if key.startswith("eye_") else key
    if key in EYE_STATES:
        return key
    prefix = f"{where}: " if where else ""
    raise UnknownLabelError(f"{prefix}unknown eye state {name!r}; expected one of "
                            f"{['eye_' + s for s in EYE_STATES]} (the eye_ prefix is optional)")
