"""Synthetic face landmarks and graph datasets with a learnable expression signal, for tests and demos.

In the spirit of scikit-learn's ``make_classification`` and PyG's ``FakeDataset``: no private data, no
model file. :func:`make_face_landmarks` draws subjects (a canonical face with random scale, shape
jitter and head pose) and deforms facial regions per expression class; :class:`LandmarkSetGraphs` turns
any :class:`~fer_graph.landmarks.LandmarkSet` into a :class:`~fer_graph.graphs.FaceGraphDataset` without
files; :func:`write_ck_lands` and :func:`write_landmark_csv` write the CK+ lands folder and the generic
landmark CSV that ``fer-graph build-graphs --source ck-lands|csv`` read.

Neutral faces: :func:`fer_graph.graphs.canonical.canonical_face` (iBUG 68 mean shape; the MediaPipe
canonical face model, frozen, so no model file is needed).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..labels import CANONICAL_LABELS, CK_LANDS_CODES
from ..landmarks._types import LandmarkSet
from . import topology as T
from .canonical import canonical_face
from .dataset import FaceGraphDataset

__all__ = [
    "make_face_landmarks", "LandmarkSetGraphs", "write_ck_lands", "write_landmark_csv",
    "landmarks_fingerprint", "EXPRESSIONS", "SYNTHETIC_TOPOLOGIES",
]

#: Topologies :func:`make_face_landmarks` can draw.
SYNTHETIC_TOPOLOGIES: tuple[str, ...] = ("ibug68", "mediapipe468", "mediapipe478")

#: Expression class -> {facial action: weight}. Each action is a displacement field of peak size about
#: 1 (times ``class_sep``, in IOD units) on the nodes of a region (see :func:`_action_fields`).
EXPRESSIONS: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "anger": {"brow_lower": 0.8, "brow_together": 1.0, "eye_narrow": 0.6, "lip_press": 0.8},
    "contempt": {"smile_left": 1.0, "lip_press": 0.3},
    "disgust": {"upper_lip_up": 1.0, "nose_wrinkle": 1.0, "brow_lower": 0.5, "eye_narrow": 0.4},
    "fear": {"brow_raise": 0.5, "brow_inner_up": 0.7, "eye_widen": 0.8, "mouth_stretch": 1.0, "jaw_open": 0.3},
    "happiness": {"smile_left": 1.0, "smile_right": 1.0, "eye_narrow": 0.4},
    "neutral": {},
    "sadness": {"brow_inner_up": 1.0, "frown": 1.0, "lip_press": 0.3},
    "surprise": {"brow_raise": 1.0, "eye_widen": 0.6, "jaw_open": 1.0},
})
_ACTIONS: tuple[str, ...] = (
    "smile_left", "smile_right", "frown", "jaw_open", "upper_lip_up", "lip_press", "mouth_stretch",
    "brow_raise", "brow_lower", "brow_together", "brow_inner_up", "eye_widen", "eye_narrow", "nose_wrinkle",
)
#: Action -> the MediaPipe blendshapes (:data:`fer_graph.landmarks.mediapipe_source.BLENDSHAPE_NAMES`) it drives.
_ACTION_BLENDSHAPES: Mapping[str, tuple[tuple[str, float], ...]] = MappingProxyType({
    "smile_left": (("mouthSmileLeft", 1.0), ("cheekSquintLeft", 0.5)),
    "smile_right": (("mouthSmileRight", 1.0), ("cheekSquintRight", 0.5)),
    "frown": (("mouthFrownLeft", 1.0), ("mouthFrownRight", 1.0)),
    "jaw_open": (("jawOpen", 1.0), ("mouthLowerDownLeft", 0.5), ("mouthLowerDownRight", 0.5)),
    "upper_lip_up": (("mouthUpperUpLeft", 1.0), ("mouthUpperUpRight", 1.0)),
    "lip_press": (("mouthPressLeft", 1.0), ("mouthPressRight", 1.0)),
    "mouth_stretch": (("mouthStretchLeft", 1.0), ("mouthStretchRight", 1.0)),
    "brow_raise": (("browOuterUpLeft", 1.0), ("browOuterUpRight", 1.0), ("browInnerUp", 0.5)),
    "brow_lower": (("browDownLeft", 1.0), ("browDownRight", 1.0)),
    "brow_together": (("browDownLeft", 0.5), ("browDownRight", 0.5)),
    "brow_inner_up": (("browInnerUp", 1.0),),
    "eye_widen": (("eyeWideLeft", 1.0), ("eyeWideRight", 1.0)),
    "eye_narrow": (("eyeSquintLeft", 1.0), ("eyeSquintRight", 1.0)),
    "nose_wrinkle": (("noseSneerLeft", 1.0), ("noseSneerRight", 1.0)),
})
_DEFAULT_CLASSES = {
    "ibug68": tuple(sorted(CK_LANDS_CODES.values())),  # the 6 CK+ lands classes
    "mediapipe468": ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"),  # FER-2013
}
_BLEND_SEP = 0.1  # class_sep at which an action of intensity 1 adds 0.25 to its blendshapes

# Lips, 0-based. iBUG: upper/lower outer and inner lips; MediaPipe: FACEMESH_LIPS polylines.
_LIPS = {
    "ibug68": ((49, 50, 51, 52, 53, 61, 62, 63), (55, 56, 57, 58, 59, 65, 66, 67), (48, 54, 60, 64)),
    "mediapipe": ((185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415),
                  (146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324),
                  (61, 291, 78, 308)),
}


# ------------------------------------------------------------------------------------------ geometry
def _mouth_frame(face: np.ndarray, topology: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mouth nodes, their x relative to the mouth half-width ``u``, lower-lip weight (1 lower lip, 0 upper,
    0.5 corners; other mouth nodes take their nearest lip point's) and the mouth centre ``(x, y)``."""
    from ..occlusion.regions import get_region

    mouth = get_region("mouth", topology)
    upper, lower, corners = _LIPS["ibug68" if topology == "ibug68" else "mediapipe"]
    centre = face[list(corners), :2].mean(0)
    half_width = np.abs(face[list(corners), 0] - centre[0]).max()
    u = (face[mouth, 0] - centre[0]) / half_width
    lips = np.array(upper + lower + corners)
    side = np.r_[np.zeros(len(upper)), np.ones(len(lower)), np.full(len(corners), 0.5)]
    dist = np.linalg.norm(face[mouth, None, :2] - face[None, lips, :2], axis=-1)
    return mouth, u, side[dist.argmin(1)], centre


def _mouth_fields(d: dict[str, np.ndarray], face: np.ndarray, topology: str) -> None:
    from ..occlusion.regions import get_region

    m, u, low, centre = _mouth_frame(face, topology)
    up, uu = 1.0 - low, np.minimum(u**2, 1.0)
    left, right = np.clip(u, 0, None) ** 2, np.clip(-u, 0, None) ** 2
    d["smile_left"][m, 0], d["smile_left"][m, 1] = 0.3 * left, -left
    d["smile_right"][m, 0], d["smile_right"][m, 1] = -0.3 * right, -right
    d["frown"][m, 1] = 0.8 * uu
    d["jaw_open"][m, 1] = low * (1.0 - 0.5 * uu)
    jaw = get_region("jaw", topology)
    below = np.clip((face[jaw, 1] - centre[1]) / (face[jaw, 1].max() - centre[1]), 0, 1)
    d["jaw_open"][jaw, 1] = np.maximum(d["jaw_open"][jaw, 1], 0.9 * below)
    d["upper_lip_up"][m, 1] = -up * (1.0 - 0.5 * uu)
    d["lip_press"][m, 0], d["lip_press"][m, 1] = -0.2 * u, 0.5 * (up - low)
    d["mouth_stretch"][m, 0], d["mouth_stretch"][m, 1] = 0.6 * u, 0.2 * uu


def _upper_fields(d: dict[str, np.ndarray], face: np.ndarray, topology: str) -> None:
    from ..occlusion.regions import get_region

    topo = T.get_topology(topology)
    for side, contour in (("left", topo.left_eye), ("right", topo.right_eye)):
        b = get_region(f"{side}_brow", topology)
        ax = np.abs(face[b, 0])
        inner = 1.0 - (ax - ax.min()) / (ax.max() - ax.min())  # 1 at the inner end, 0 at the outer
        d["brow_raise"][b, 1] = -1.0
        d["brow_lower"][b, 1] = 0.7
        d["brow_together"][b, 0], d["brow_together"][b, 1] = -np.sign(face[b, 0]) * 0.6 * inner, 0.4 * inner
        d["brow_inner_up"][b, 1] = -inner
        e, ys = get_region(f"{side}_eye", topology), face[list(contour), 1]
        v = (face[e, 1] - ys.mean()) / ((ys.max() - ys.min()) / 2)
        lid = np.clip(v, -1, 1) * np.exp(-np.maximum(np.abs(v) - 1, 0))  # upper lid < 0, lower lid > 0
        d["eye_widen"][e, 1], d["eye_narrow"][e, 1] = 0.35 * lid, -0.3 * lid
    n = get_region("nose", topology)
    yn = face[n, 1]
    low = (yn - yn.min()) / (yn.max() - yn.min())
    d["nose_wrinkle"][n, 0], d["nose_wrinkle"][n, 1] = 0.25 * np.sign(face[n, 0]) * low, -0.5 * low


@lru_cache(maxsize=None)
def _action_fields(topology: str) -> np.ndarray:
    """``(A, V, 3)`` float64 displacement field of each action of ``_ACTIONS`` on the canonical face,
    image frame, peak about 1 (IOD units per unit of ``class_sep``); read-only."""
    face = canonical_face(topology)
    d = {a: np.zeros_like(face) for a in _ACTIONS}
    _mouth_fields(d, face, topology)
    _upper_fields(d, face, topology)
    fields = np.stack([d[a] for a in _ACTIONS])
    fields.setflags(write=False)
    return fields


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """``(3, 3)`` rotation of the canonical (y up) frame, ``Rotation.from_euler("xyz")`` in degrees, as
    :func:`fer_graph.graphs.head_pose` reads it back."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("xyz", [pitch, yaw, roll], degrees=True).as_matrix()


# ----------------------------------------------------------------------------------------- generator
def make_face_landmarks(
    n_subjects: int = 12,
    *,
    topology: str = "ibug68",
    classes: Sequence[str] | None = None,
    samples_per_class: int = 1,
    frames: int = 1,
    class_sep: float = 0.12,
    noise: float = 0.02,
    identity: float = 0.03,
    split: str | None = None,
    image_size: tuple[int, int] = (192, 192),
    rng: int | np.random.Generator = 0,
) -> LandmarkSet:
    """Synthetic labelled face landmarks: every subject shows every class ``samples_per_class`` times.

    Each subject is the canonical face (module docstring) scaled per axis by ``1 + N(0, 0.05)``, with
    ``N(0, identity)`` IOD jitter per coordinate, a head pose of ``N(0, 4/5/3)`` degrees pitch/yaw/roll
    (``N(0, 1.5)`` more per sequence, ``N(0, 0.5)`` per frame), a face size and image position. A sample
    adds ``class_sep`` times the weighted sum of the class's facial actions (:data:`EXPRESSIONS`, intensity
    ``U(0.6, 1.2)``, every action also ``N(0, 0.1)``), then ``N(0, noise)`` IOD per coordinate. Actions:
    ``smile_left/right`` (mouth corner up and out), ``frown`` (corners down), ``jaw_open`` (lower lip and
    chin down), ``upper_lip_up``, ``lip_press`` (lips together, mouth narrower), ``mouth_stretch``
    (corners out), ``brow_raise``, ``brow_lower``, ``brow_together`` (inner brows in and down),
    ``brow_inner_up``, ``eye_widen`` / ``eye_narrow`` (lids apart / together), ``nose_wrinkle`` (lower
    nose up, nostrils out). So happiness = both smiles + narrow eyes, surprise = brows up + eyes wide +
    jaw open, anger = brows down and together + narrow eyes + pressed lips, sadness = inner brows up +
    frown, fear = brows up (inner more) + eyes wide + stretched mouth, disgust = upper lip up + nose
    wrinkle + brows down, contempt = one-sided (subject's left) smile, neutral = none.

    Args:
        n_subjects: subjects ``"S001"``, ``"S002"``...
        topology: ``"ibug68"`` (2-D, pixels, with ``onset``) or ``"mediapipe468"`` / ``"mediapipe478"``
            (3-D, image-normalized, with ``blendshapes``, ``transforms``, ``image_sizes``).
        classes: canonical label names; default the 6 CK+ lands classes for ibug68, the 7 FER-2013 ones
            for MediaPipe.
        samples_per_class: sequences per subject and class (ids ``"S001_001"``...).
        frames: samples per sequence, its last frames ``"S001_001@1"``... (intensity ramping from 0.6 to 1
            of the apex's); frame 0 is the neutral onset.
        class_sep: action size, IOD units (0: no class signal; blendshape signal scales with it too).
        noise: per-coordinate landmark noise, IOD units (blendshape noise is ``5 * noise``).
        identity: per-subject shape jitter, IOD units.
        split: ``None`` (subject k-fold protocol) or ``"holdout"`` (the last quarter of the subjects, at
            least one, is ``"publictest"``, the rest ``"train"``).
        image_size: MediaPipe image (width, height) in pixels.
        rng: seed or generator; the same seed gives identical arrays.

    Returns:
        :class:`LandmarkSet` with ``source="synthetic"`` and ``N = n_subjects * len(classes) *
        samples_per_class * frames`` samples: ``points`` float32 ``(N, 68, 2)`` pixels (IOD 200-280 px)
        plus ``onset`` ``(N, 68, 2)``; or ``(N, 468|478, 3)`` image-normalized (x / W, y / H, z / W; IOD
        0.22-0.28 of the shorter image side) plus ``blendshapes`` ``(N, 52)`` in [0, 1], ``transforms``
        ``(N, 4, 4)`` (rotation of the pose, translation in cm) and ``image_sizes`` ``(N, 2)`` int32.

    Raises:
        ValueError: unknown topology, class or split name (the message lists the valid ones), duplicate
            or no classes, counts below 1, negative ``class_sep`` / ``noise`` / ``identity``.
    """
    classes = _check_args(topology, classes, split, n_subjects, samples_per_class, frames,
                          class_sep, noise, identity)
    gen = np.random.default_rng(rng)
    n_test = max(1, round(n_subjects / 4)) if split == "holdout" else 0
    out: dict[str, list] = {k: [] for k in ("points", "onset", "labels", "subjects", "sample_ids",
                                            "sequence_ids", "splits", "blendshapes", "transforms")}
    for i in range(n_subjects):
        subject = _draw_subject(gen, topology, identity, image_size, f"S{i + 1:03d}")
        subject["split"] = "publictest" if i >= n_subjects - n_test else "train"
        number = 0
        for label in classes:
            for _ in range(samples_per_class):
                number += 1
                _draw_sequence(gen, out, subject, label, number, frames, class_sep, noise, image_size)
    return _assemble(out, topology, split is not None, image_size)


def _check_args(topology, classes, split, n_subjects, samples_per_class, frames, class_sep, noise,
                identity) -> tuple[str, ...]:
    if topology not in SYNTHETIC_TOPOLOGIES:
        raise ValueError(f"topology={topology!r}; expected one of {list(SYNTHETIC_TOPOLOGIES)}")
    if classes is None:
        classes = _DEFAULT_CLASSES["ibug68" if topology == "ibug68" else "mediapipe468"]
    classes = tuple(classes)
    unknown = [c for c in classes if c not in CANONICAL_LABELS]
    if unknown:
        raise ValueError(f"unknown class name(s) {unknown}; expected canonical labels {list(CANONICAL_LABELS)}")
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes={classes!r}; expected at least one class, no duplicates")
    if split not in (None, "holdout"):
        raise ValueError(f"split={split!r}; expected None (subject k-fold) or 'holdout'")
    for name, value in (("n_subjects", n_subjects), ("samples_per_class", samples_per_class), ("frames", frames)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name}={value!r}; expected an integer >= 1")
    for name, value in (("class_sep", class_sep), ("noise", noise), ("identity", identity)):
        if not value >= 0:
            raise ValueError(f"{name}={value!r}; expected a number >= 0")
    return classes


def _draw_subject(gen: np.random.Generator, topology: str, identity: float, image_size: tuple[int, int],
                  name: str) -> dict:
    """Identity shape (IOD units, image frame), head pose (degrees), size and position of one subject."""
    base = canonical_face(topology)
    depth = 0.0 if topology == "ibug68" else 1.0  # the 68-point face stays flat
    face = base * (1.0 + gen.normal(0, 0.05, 3)) + gen.normal(0, identity, base.shape) * (1.0, 1.0, depth)
    pose = gen.normal(0, (4.0, 5.0, 3.0))
    if topology == "ibug68":
        scale, centre = gen.uniform(200, 280), np.array([700.0, 600.0]) + gen.normal(0, 25, 2)
    else:
        w, h = image_size
        scale = min(w, h) * gen.uniform(0.22, 0.28)
        centre = np.array([w / 2, h / 2]) + gen.normal(0, 0.02 * min(w, h), 2)
    translation = np.r_[gen.normal(0, 1.0, 2), -gen.uniform(35, 55)]
    return {"name": name, "topology": topology, "face": face, "pose": pose, "scale": scale,
            "centre": centre, "translation": translation}


def _render(subject: dict, pts: np.ndarray, pose: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Rotate an IOD-unit face by ``pose`` and place it in the image: ``(V, 2)`` pixels (ibug68) or
    ``(V, 3)`` image-normalized (MediaPipe)."""
    flip = np.diag([1.0, -1.0, -1.0])  # image frame <-> canonical (y up, z to camera) frame
    p = pts @ (flip @ _rotation(*pose) @ flip).T
    xy = subject["centre"] + subject["scale"] * p[:, :2]
    if subject["topology"] == "ibug68":
        return xy
    w, h = image_size
    return np.c_[xy[:, 0] / w, xy[:, 1] / h, subject["scale"] * p[:, 2] / w]


def _draw_sequence(gen: np.random.Generator, out: dict[str, list], subject: dict, label: str, number: int,
                   frames: int, class_sep: float, noise: float, image_size: tuple[int, int]) -> None:
    """Append the ``frames`` samples of one sequence (and, for ibug68, its onset) to ``out``."""
    face, topology = subject["face"], subject["topology"]
    seq = f"{subject['name']}_{number:03d}"
    pose = subject["pose"] + gen.normal(0, 1.5, 3)
    weights = np.array([EXPRESSIONS[label].get(a, 0.0) for a in _ACTIONS])
    acts = weights * gen.uniform(0.6, 1.2) + gen.normal(0, 0.1, len(_ACTIONS))
    flat = np.array([1.0, 1.0, 0.0 if topology == "ibug68" else 1.0])
    onset = None
    if topology == "ibug68":
        onset = _render(subject, face + gen.normal(0, noise, face.shape) * flat, pose + gen.normal(0, 0.5, 3),
                        image_size)
    for k, factor in enumerate(np.linspace(0.6, 1.0, frames) if frames > 1 else [1.0], start=1):
        a = acts * factor
        pts = face + class_sep * np.tensordot(a, _action_fields(topology), 1) * flat
        frame_pose = pose + gen.normal(0, 0.5, 3)
        out["points"].append(_render(subject, pts + gen.normal(0, noise, face.shape) * flat, frame_pose,
                                     image_size))
        out["onset"].append(onset)
        out["labels"].append(label)
        out["subjects"].append(subject["name"])
        out["sample_ids"].append(f"{seq}@{k}")
        out["sequence_ids"].append(seq)
        out["splits"].append(subject["split"])
        if topology != "ibug68":
            out["blendshapes"].append(_blendshapes(gen, a, class_sep, noise))
            m = np.eye(4)
            m[:3, :3], m[:3, 3] = _rotation(*frame_pose), subject["translation"]
            out["transforms"].append(m)


@lru_cache(maxsize=None)
def _blend_matrix() -> np.ndarray:
    """``(A, 52)`` action -> blendshape gains (:data:`_ACTION_BLENDSHAPES`)."""
    from ..landmarks.mediapipe_source import BLENDSHAPE_NAMES

    m = np.zeros((len(_ACTIONS), len(BLENDSHAPE_NAMES)))
    for i, action in enumerate(_ACTIONS):
        for name, gain in _ACTION_BLENDSHAPES[action]:
            m[i, BLENDSHAPE_NAMES.index(name)] += gain
    m.setflags(write=False)
    return m


def _blendshapes(gen: np.random.Generator, acts: np.ndarray, class_sep: float, noise: float) -> np.ndarray:
    """``(52,)`` scores in [0, 1]: ``0.25 * class_sep / 0.1`` times the positive action intensities through
    :func:`_blend_matrix`, plus a small positive floor and ``N(0, 5 * noise)``."""
    b = np.abs(gen.normal(0, 0.03, 52)) + gen.normal(0, 5.0 * noise, 52)
    b += 0.25 * class_sep / _BLEND_SEP * (np.clip(acts, 0, None) @ _blend_matrix())
    b[0] = abs(gen.normal(0, 1e-3))  # _neutral: near 0, as the Face Landmarker reports it
    return np.clip(b, 0.0, 1.0)


def _assemble(out: dict[str, list], topology: str, with_splits: bool, image_size: tuple[int, int]) -> LandmarkSet:
    n = len(out["points"])
    mesh = topology != "ibug68"
    return LandmarkSet(
        points=np.stack(out["points"]).astype(np.float32),
        onset=None if mesh else np.stack(out["onset"]).astype(np.float32),
        labels=out["labels"], subjects=out["subjects"], sample_ids=out["sample_ids"],
        sequence_ids=out["sequence_ids"], units="image-normalized" if mesh else "pixels", source="synthetic",
        splits=out["splits"] if with_splits else None,
        blendshapes=np.stack(out["blendshapes"]).astype(np.float32) if mesh else None,
        transforms=np.stack(out["transforms"]).astype(np.float32) if mesh else None,
        image_sizes=np.tile(np.asarray(image_size, dtype=np.int32), (n, 1)) if mesh else None,
    )


# ------------------------------------------------------------------------------------ dataset, files
def landmarks_fingerprint(landmarks: LandmarkSet) -> str:
    """16-hex-digit sha256 of a LandmarkSet's arrays, labels and ids (changes whenever the data does)."""
    h = hashlib.sha256()
    for name in ("points", "onset", "blendshapes", "transforms", "image_sizes", "tiers"):
        value = getattr(landmarks, name)
        h.update(f"{name}:{None if value is None else value.shape}:".encode())
        if value is not None:
            h.update(np.ascontiguousarray(value).tobytes())
    for name in ("labels", "subjects", "sample_ids", "sequence_ids", "splits"):
        h.update(f"{name}:{getattr(landmarks, name)!r}".encode())
    h.update(f"{landmarks.units}:{landmarks.source}".encode())
    return h.hexdigest()[:16]


class LandmarkSetGraphs(FaceGraphDataset):
    """Graphs of an in-memory :class:`~fer_graph.landmarks.LandmarkSet` (no raw files), e.g. of
    :func:`make_face_landmarks`.

    Args:
        root: output folder (``OUT``) for ``processed/synthetic-<hash>/``; open it again with
            :func:`fer_graph.graphs.load.load_processed`.
        landmarks: the samples; their ``source`` becomes the meta's ``source`` and their optional arrays
            the graph attributes (``onset``, ``blendshapes``, ``transform`` + ``head_pose``).
        align, include_z, include_iris: node-feature options (see :class:`~fer_graph.graphs.FaceGraphDataset`).
        name: the dataset name in run tables (recorded as option ``raw_root``).
        transform, force_reload: as for the other datasets; a changed :func:`landmarks_fingerprint`
            rebuilds.

    Raises:
        ValueError: ``include_z`` on 2-D landmarks. DatasetLayoutError: an empty LandmarkSet.
    """

    source = "synthetic"

    def __init__(self, root: str | os.PathLike, landmarks: LandmarkSet, *, align: bool = True,
                 include_z: bool = False, include_iris: bool = False, name: str = "synthetic",
                 transform: Callable | None = None, force_reload: bool = False) -> None:
        self._landmarks = landmarks
        self._fingerprint = landmarks_fingerprint(landmarks)
        self._root = Path(root)
        super().__init__(root, options={"align": align, "include_z": include_z, "include_iris": include_iris,
                                        "raw_root": name}, transform=transform, force_reload=force_reload)

    @property
    def raw_dir(self) -> str:
        return str(self._root / "raw")

    def raw_fingerprint(self) -> str:
        return self._fingerprint

    def read_landmarks(self) -> LandmarkSet:
        return self._landmarks


def _fmt(values: np.ndarray) -> list[str]:
    """Shortest decimal strings that read back to the same float32 values."""
    return [np.format_float_positional(v, unique=True, trim="-") for v in np.asarray(values, np.float32).ravel()]


def write_ck_lands(root: str | os.PathLike, landmarks: LandmarkSet) -> Path:
    """Write 68-point samples as a CK+ lands folder (``emotion.csv`` + ``SXXX/omlands.csv``).

    Each sequence becomes its ``onset`` row (frame 0) followed by its samples in order (frames 1..K), so
    :func:`fer_graph.landmarks.read_ck_lands` with ``apex_frames=K`` gives back the points, onsets, labels
    and subjects (and, for :func:`make_face_landmarks` output, the sample ids). Coordinates are written
    as the shortest decimals that read back to the same float32 values. Format:
    :mod:`fer_graph.landmarks.ck_lands`.

    Args:
        root: the ``CK+`` folder to create (existing files there are overwritten).
        landmarks: ``(N, 68, 2)`` pixel points with ``onset``, subjects and sequence ids; labels among the
            6 CK+ lands classes; one label per sequence.

    Returns:
        ``root`` as a Path.

    Raises:
        ValueError: not 68 2-D pixel points, no onset / subject / sequence id, a class outside the CK+
            lands codes (they are listed), or a sequence with several labels.
    """
    sequences = _ck_sequences(landmarks)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    codes = {name: code for code, name in CK_LANDS_CODES.items()}
    by_subject: dict[str, list[str]] = {}
    emotion = ["subject;file;emotion"]
    for (subject, number), (label, rows) in sequences.items():
        emotion.append(f"{subject};{number};{codes[label]}")
        frames = [landmarks.onset[rows[0]], *landmarks.points[rows]]
        by_subject.setdefault(subject, []).extend("; ".join([number, *_fmt(f)]) + "; " for f in frames)
    (root / "emotion.csv").write_text("\n".join(emotion) + "\n", encoding="utf-8")
    for subject, lines in by_subject.items():
        (root / subject).mkdir(exist_ok=True)
        (root / subject / "omlands.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _ck_sequences(lms: LandmarkSet) -> dict[tuple[str, str], tuple[str, list[int]]]:
    """``{(subject, 3-digit sequence number): (label, sample rows)}`` in order of appearance."""
    if lms.points.shape[1:] != (68, 2) or lms.units != "pixels" or lms.onset is None:
        raise ValueError(f"write_ck_lands needs (N, 68, 2) pixel points with onset; got {lms.points.shape[1:]} "
                         f"{lms.units}, onset {'present' if lms.onset is not None else 'missing'}")
    bad = sorted(set(lms.labels) - set(CK_LANDS_CODES.values()))
    if bad:
        raise ValueError(f"classes {bad} have no CK+ lands code; expected {dict(CK_LANDS_CODES)}")
    out: dict[tuple[str, str], tuple[str, list[int]]] = {}
    numbers: dict[tuple[str, str], str] = {}
    for i, (subject, seq, label) in enumerate(zip(lms.subjects, lms.sequence_ids, lms.labels)):
        if subject is None or seq is None:
            raise ValueError(f"sample {lms.sample_ids[i]!r} has no subject or sequence id")
        if (subject, seq) not in numbers:
            tail = seq.rsplit("_", 1)[-1]
            numbers[(subject, seq)] = tail if tail.isdigit() and len(tail) == 3 else f"{len(numbers) + 1:03d}"
        key = (subject, numbers[(subject, seq)])
        if key in out and out[key][0] != label:
            raise ValueError(f"sequence {seq!r} has labels {out[key][0]!r} and {label!r}; expected one")
        out.setdefault(key, (label, []))[1].append(i)
    return out


def write_landmark_csv(path: str | os.PathLike, landmarks: LandmarkSet, *, pixels: bool = True) -> Path:
    """Write samples in fer-graph's generic landmark CSV schema (:mod:`fer_graph.landmarks.csv_source`).

    Columns ``sample_id, subject, label, sequence_id[, split], x0, y0[, z0], x1, ...``, one row per sample;
    coordinates as the shortest decimals that read back to the same float32 values.

    Args:
        path: the CSV file to write (parent folders are created).
        landmarks: any LandmarkSet.
        pixels: write :meth:`~fer_graph.landmarks.LandmarkSet.pixel_points` (readable with the default
            ``units="pixels"``, as ``build-graphs --source csv`` does); ``False`` writes ``points`` as they
            are (image-normalized data then needs ``units=`` and ``image_size=`` to be read).

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: ``pixels`` and image-normalized landmarks without ``image_sizes``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pts = landmarks.pixel_points() if pixels else landmarks.points
    n, v, dims = pts.shape
    coords = [f"{a}{i}" for i in range(v) for a in "xyz"[:dims]]
    header = ["sample_id", "subject", "label", "sequence_id", *(["split"] if landmarks.splits else []), *coords]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(n):
            meta = [landmarks.sample_ids[i], landmarks.subjects[i] or "", landmarks.labels[i],
                    landmarks.sequence_ids[i] or ""]
            w.writerow([*meta, *([landmarks.splits[i]] if landmarks.splits else []), *_fmt(pts[i])])
    return path
