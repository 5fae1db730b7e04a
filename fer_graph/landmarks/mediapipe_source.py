"""MediaPipe Face Landmarker extraction over image folders.

The Face Landmarker (MediaPipe Tasks) gives 478 landmarks (468 face mesh + 10 iris), 52 blendshape scores
and a 4×4 facial transformation matrix per face. Small face crops (FER-2013, CK+48: 48×48) are detected
far more often with a constant gray border around them and with a cascade of decreasing confidence
thresholds (measured here: raw 48×48 89.3% of FER-2013 publictest, gray 50% border 96.9%, cascade
0.5 → 0.1 → 0.01 ≈ 99.0%; CK+48 100%), so :class:`DetectionOptions` defaults to both.

Landmarks are returned in the ORIGINAL image's normalized frame: x / width, y / height (y down), z on
x's scale (MediaPipe's convention), whatever padding was added for detection.

Reference:
    MediaPipe Face Landmarker, https://ai.google.dev/edge/mediapipe/solutions/vision/face_landmarker
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pooch

from .._io import atomic_path, write_json
from ..exceptions import DatasetLayoutError, ModelFileError
from ..labels import canonical_label
from . import _mediapipe_worker as _worker
from ._quiet import quiet_stderr
from ._types import LandmarkSet, SkipRecord

__all__ = [
    "BLENDSHAPE_NAMES",
    "FACE_LANDMARKER_SHA256",
    "FACE_LANDMARKER_URL",
    "IMAGE_EXTENSIONS",
    "MODEL_ENV_VAR",
    "DetectionOptions",
    "FaceLandmarkDetector",
    "FaceResult",
    "ImageItem",
    "ImageScan",
    "detection_rates",
    "extract_image_folder",
    "resolve_model_path",
    "scan_image_folder",
    "scan_image_tree",
]

log = logging.getLogger(__name__)

#: Official download address of the Face Landmarker bundle (float16, version 1), from the MediaPipe
#: Face Landmarker guide (https://ai.google.dev/edge/mediapipe/solutions/vision/face_landmarker#models).
FACE_LANDMARKER_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
    "face_landmarker.task"
)
#: sha256 of the file at :data:`FACE_LANDMARKER_URL` (3,758,596 bytes), as checked in ``shared/models/SOURCE.md``.
FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
#: Environment variable naming a local ``face_landmarker.task`` (machines without internet).
MODEL_ENV_VAR = "FER_GRAPH_FACE_LANDMARKER"

#: The 52 blendshape category names in the order of the Face Landmarker's ``face_blendshapes`` output
#: (category index 0..51), as reported by ``face_landmarker.task`` float16/1 with mediapipe 1.2.3.
#: ``Left``/``Right`` are the subject's sides. ``_neutral`` is MediaPipe's spelling.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)

#: File name endings read as images (compared lower-cased).
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})

_SUBJECT_RE = re.compile(r"^(S\d+)_(\d+)_")  # CK+ file stems: S010_004_00000017 -> S010, S010_004
_CHUNK_SIZE = 256  # images per cache file
_TASK_SIZE = 32  # images per process-pool task (progress granularity, load balance)
_CACHE_FORMAT = 2  # bump when the chunk file content changes (2: images decoded by images.load_rgb)


# ----------------------------------------------------------------------------------------------- model
def _sha256(path: Path) -> str:
    return pooch.file_hash(str(path), alg="sha256")


def resolve_model_path(model: str | os.PathLike | None = None) -> Path:
    """Find the Face Landmarker model bundle, downloading it into the user cache only as a last resort.

    Order: ``model`` → environment variable ``FER_GRAPH_FACE_LANDMARKER`` → user cache
    ``pooch.os_cache("fer-graph") / "face_landmarker.task"`` if its sha256 is
    :data:`FACE_LANDMARKER_SHA256` → download from :data:`FACE_LANDMARKER_URL` into that cache
    (``pooch.retrieve``, hash-checked). Explicit paths (argument, variable) are not hash-checked, so a
    different model version can be used on purpose.

    Args:
        model: path to a ``face_landmarker.task`` file, or ``None``.

    Returns:
        the path of an existing model file.

    Raises:
        ModelFileError: an explicitly given path (argument or variable) is not a file, or the download
            failed (no internet, hash mismatch); the message names the path or the ways out.
    """
    if model is not None:
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelFileError(f"Face Landmarker model file not found: {path}")
        return path
    env = os.environ.get(MODEL_ENV_VAR, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ModelFileError(f"{MODEL_ENV_VAR}={env!r}: Face Landmarker model file not found: {path}")
        return path
    cache = Path(pooch.os_cache("fer-graph"))
    cached = cache / "face_landmarker.task"
    if cached.is_file() and _sha256(cached) == FACE_LANDMARKER_SHA256:
        return cached
    try:
        return Path(pooch.retrieve(FACE_LANDMARKER_URL, known_hash=f"sha256:{FACE_LANDMARKER_SHA256}",
                                   fname=cached.name, path=cache, progressbar=False))
    except Exception as exc:  # network errors of requests, hash mismatch (ValueError), disk errors
        raise ModelFileError(
            f"could not download the Face Landmarker model from {FACE_LANDMARKER_URL} to {cached} "
            f"({type(exc).__name__}: {exc}); pass model=PATH or set {MODEL_ENV_VAR}=PATH to a local "
            f"face_landmarker.task (sha256 {FACE_LANDMARKER_SHA256})"
        ) from exc


# --------------------------------------------------------------------------------------------- options
@dataclass(frozen=True)
class DetectionOptions:
    """Preprocessing and detection settings; they change the output, so they key the extraction cache.

    Args:
        pad: width of the constant border added on each edge, as a fraction of that axis' side
            (0.5: 48×48 → 96×96). Default 0.5 (FER-2013 publictest detection 89.3% → 96.9%).
        pad_value: gray level of the border, 0..255. Default 128.
        confidences: strictly decreasing detection tiers; an image without a face at one tier is
            retried at the next. Detection and presence confidence are both set to the tier value
            (tracking confidence plays no part in IMAGE mode). Default (0.5, 0.1, 0.01): ≈ 99.0% of
            FER-2013 publictest, 98.9% of train. Faces found at low tiers are poorer; see ``tiers``.
        num_faces: faces the landmarker may return. Default 2, to tell duplicates from crowds;
            :meth:`FaceLandmarkDetector.detect_all` returns up to this many distinct faces.
        duplicate_overlap: when several faces come back and the landmark bounding boxes of face 0 and
            another face overlap by at least this fraction of the smaller box (intersection over the
            smaller area), they are the same face detected twice — on FER-2013 a phantom face inside or
            across the real one, common at low confidence — and face 0 is kept; otherwise the image is
            skipped as ``"several_faces"``. IoU would miss these: the two boxes differ in size (all 9
            publictest images skipped under an IoU >= 0.5 rule were one face plus such a phantom).
        photo_side: images whose smaller side is larger than this (pixels) are photos, not tight face
            crops: the cascade tries each tier without the border first, then with it (a 50% border
            shrinks the faces of a photo until the detector misses them). Crops up to this size (FER-2013
            and CK+48 are 48×48) get the border only, as before. Default 160.
        tile_grids: ``detect_all(..., tiles=True)`` on a photo also looks for faces in each tile of these
            n × n grids (tiles overlap by a quarter of their side): the Face Landmarker's face detector
            sees the image at 128 × 128, so faces under about a tenth of a group photo's side are missed
            whole-image. Default (2, 3).

    Raises:
        ValueError: an argument is out of range; the message names it and its value.
    """

    pad: float = 0.5
    pad_value: int = 128
    confidences: tuple[float, ...] = (0.5, 0.1, 0.01)
    num_faces: int = 2
    duplicate_overlap: float = 0.5
    photo_side: int = 160
    tile_grids: tuple[int, ...] = (2, 3)

    def __post_init__(self) -> None:
        if not (isinstance(self.pad, (int, float)) and math.isfinite(self.pad) and self.pad >= 0):
            raise ValueError(f"pad={self.pad!r}; expected a finite number >= 0")
        if isinstance(self.pad_value, bool) or not isinstance(self.pad_value, int) \
                or not 0 <= self.pad_value <= 255:
            raise ValueError(f"pad_value={self.pad_value!r}; expected an int in 0..255")
        conf = tuple(float(c) for c in self.confidences)
        if not conf or any(not 0.0 <= c <= 1.0 for c in conf) or any(a <= b for a, b in zip(conf, conf[1:])):
            raise ValueError(f"confidences={self.confidences!r}; expected a non-empty, strictly decreasing "
                             f"sequence of values in [0, 1]")
        object.__setattr__(self, "confidences", conf)
        grids = tuple(self.tile_grids)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in grids):
            raise ValueError(f"tile_grids={self.tile_grids!r}; expected ints >= 2")
        object.__setattr__(self, "tile_grids", grids)
        if isinstance(self.num_faces, bool) or not isinstance(self.num_faces, int) or self.num_faces < 1:
            raise ValueError(f"num_faces={self.num_faces!r}; expected an int >= 1")
        if isinstance(self.photo_side, bool) or not isinstance(self.photo_side, int) or self.photo_side < 0:
            raise ValueError(f"photo_side={self.photo_side!r}; expected an int >= 0 (pixels)")
        if not 0.0 <= self.duplicate_overlap <= 1.0:
            raise ValueError(f"duplicate_overlap={self.duplicate_overlap!r}; expected a value in [0, 1]")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every option (``confidences`` as a list)."""
        d = asdict(self)
        d["confidences"] = list(self.confidences)
        d["tile_grids"] = list(self.tile_grids)
        return d


# -------------------------------------------------------------------------------------------- detector
@dataclass(frozen=True)
class FaceResult:
    """One detected face, in the original (unpadded) image's frame.

    Attributes:
        landmarks: (478, 3) float32; x / W, y / H of the original image (y down; mostly in [0, 1]),
            z on x's scale (relative depth, MediaPipe convention), rescaled like x.
        blendshapes: (52,) float32 scores in [0, 1], in :data:`BLENDSHAPE_NAMES` order.
        transform: (4, 4) float32 facial transformation matrix (canonical face model → camera, cm),
            as MediaPipe computes it on the padded canvas.
        tier: index into ``DetectionOptions.confidences`` of the tier that found the face.
        pad: the border the face was found with, as a fraction of each side (``DetectionOptions.pad`` or 0).
    """

    landmarks: np.ndarray
    blendshapes: np.ndarray
    transform: np.ndarray
    tier: int
    pad: float = 0.5

    def box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` in pixels of an image of that size: the landmarks' bounding box."""
        xy = self.landmarks[:, :2] * np.array([width, height], np.float32)
        (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def result_faces(result: Any, size: tuple[int, int], *, tier: int = 0, pad: float = 0.0,
                 duplicate_overlap: float = 0.5) -> list[FaceResult]:
    """The distinct faces of a MediaPipe ``FaceLandmarkerResult`` on an image of ``size`` (W, H) pixels, in
    that image's normalized frame, in the landmarker's order; a face whose landmark box overlaps an
    earlier one by ``duplicate_overlap`` or more is dropped (IMAGE and VIDEO mode results alike)."""
    scale = np.array(size, np.float32)
    kept: list[FaceResult] = []
    for i, face in enumerate(result.face_landmarks):
        pts = np.array([(p.x, p.y, p.z) for p in face], np.float32)
        if any(_box_overlap(pts[:, :2] * scale, k.landmarks[:, :2] * scale) >= duplicate_overlap for k in kept):
            continue
        blend = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
        for cat in result.face_blendshapes[i]:
            blend[cat.index] = cat.score
        transform = np.asarray(result.facial_transformation_matrixes[i], np.float32).reshape(4, 4)
        kept.append(FaceResult(pts, blend, transform, tier, pad))
    return kept


def _merge_faces(first: list[FaceResult], more: list[FaceResult], shape: tuple[int, int],
                 options: DetectionOptions) -> list[FaceResult]:
    """``first`` plus each face of ``more`` that overlaps none kept so far by ``options.duplicate_overlap``
    (boxes in pixels of an image of ``shape`` (H, W)), at most ``options.num_faces``."""
    scale = np.array([shape[1], shape[0]], np.float32)
    kept = list(first)
    for f in more:
        if len(kept) >= options.num_faces:
            break
        if all(_box_overlap(f.landmarks[:, :2] * scale, k.landmarks[:, :2] * scale) < options.duplicate_overlap
               for k in kept):
            kept.append(f)
    return kept


def _box_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of the axis-aligned bounding boxes of two (V, 2) point sets over the smaller box's area."""
    (ax0, ay0), (ax1, ay1) = a.min(0), a.max(0)
    (bx0, by0), (bx1, by1) = b.min(0), b.max(0)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return float(inter / smaller) if smaller > 0 else 0.0


class FaceLandmarkDetector:
    """One MediaPipe ``FaceLandmarker`` (IMAGE mode) per confidence tier, behind a pad-and-cascade ``detect``.

    Use as a context manager, or call :meth:`close`: MediaPipe graphs hold native resources.
    MediaPipe's C++ info and warning lines are kept off stderr (:func:`fer_graph.landmarks._quiet.quiet_stderr`);
    ``FER_GRAPH_VERBOSE=1`` in the environment shows them.

    Args:
        model: model bundle path, resolved by :func:`resolve_model_path` (``None``: env var, cache, download).
        options: preprocessing and cascade settings.

    Attributes:
        model_path: the resolved model file.
        options: the :class:`DetectionOptions` in use.
        timings: seconds spent, for profiling: ``"create"`` (building every landmarker), ``"detect"``
            (list, per tier, of time inside ``FaceLandmarker.detect`` plus result conversion) and
            ``"calls"`` (list, per tier, of detect calls).

    Raises:
        ModelFileError: the model file is missing or not a Face Landmarker bundle.

    Example:
        >>> with FaceLandmarkDetector("face_landmarker.task") as det:  # doctest: +SKIP
        ...     face = det.detect(load_rgb("S010_004_00000017.png"))
        ...     face.landmarks.shape, face.tier
        ((478, 3), 0)
    """

    def __init__(self, model: str | os.PathLike | None = None, *,
                 options: DetectionOptions = DetectionOptions()) -> None:
        self.model_path = resolve_model_path(model)
        self.options = options
        self._landmarkers: list[Any] = []
        self.timings: dict[str, Any] = {"create": 0.0, "detect": [0.0] * len(options.confidences),
                                        "calls": [0] * len(options.confidences)}
        with quiet_stderr():
            import mediapipe as mp  # imported here: scanning and cache reads do not need it

            self._mp = mp
            start = time.perf_counter()
            try:
                for conf in options.confidences:
                    self._landmarkers.append(self._create_landmarker(conf))
            except (RuntimeError, ValueError) as exc:
                self.close()
                raise ModelFileError(f"{self.model_path}: cannot load as a Face Landmarker model bundle "
                                     f"({type(exc).__name__}: {exc})") from exc
        self.timings["create"] = time.perf_counter() - start

    def _create_landmarker(self, confidence: float) -> Any:
        """One IMAGE-mode ``FaceLandmarker`` with detection and presence confidence ``confidence``."""
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        return vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=self.options.num_faces,
            min_face_detection_confidence=confidence,
            min_face_presence_confidence=confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        ))

    def __enter__(self) -> FaceLandmarkDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every landmarker; idempotent."""
        with quiet_stderr():
            while self._landmarkers:
                self._landmarkers.pop().close()

    def __repr__(self) -> str:
        return f"FaceLandmarkDetector({str(self.model_path)!r}, options={self.options!r})"

    def pad_image(self, image: np.ndarray, pad: float | None = None) -> tuple[np.ndarray, int, int]:
        """Place ``image`` on a ``pad_value`` canvas with ``round(pad·W)`` / ``round(pad·H)`` borders
        (``pad``: ``options.pad`` when None).

        Shape:
            image: (H, W) uint8 gray or (H, W, 3) uint8 RGB.
            returns: ((H + 2·top, W + 2·left, 3) uint8 RGB canvas, left, top) in pixels.
        Raises:
            ValueError: wrong shape or dtype, or an empty image.
        """
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) \
                or image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image must be (H, W) or (H, W, 3) uint8; got shape {image.shape}, "
                             f"dtype {image.dtype}")
        h, w = image.shape[:2]
        pad = self.options.pad if pad is None else pad
        left, top = round(pad * w), round(pad * h)
        canvas = np.full((h + 2 * top, w + 2 * left, 3), self.options.pad_value, np.uint8)
        # a GRAY8 mp.Image fails inside MediaPipe: gray is repeated into the 3 channels by broadcasting
        canvas[top:top + h, left:left + w] = image[..., None] if image.ndim == 2 else image
        return canvas, left, top

    def borders(self, image: np.ndarray) -> tuple[float, ...]:
        """The borders the cascade tries at each tier, in order: ``(pad,)`` for a tight crop, ``(0, pad)``
        for a photo (smaller side above ``options.photo_side`` pixels)."""
        if self.options.pad == 0 or min(image.shape[:2]) <= self.options.photo_side:
            return (self.options.pad,)
        return (0.0, self.options.pad)

    def detect_all(self, image: np.ndarray, *, tiles: bool = False) -> list[FaceResult] | str:
        """Every distinct face of ``image`` (up to ``options.num_faces``), left to right, or ``"no_face"``.

        Each confidence tier tries the :meth:`borders` in turn; the first (tier, border) that finds a face
        gives the result. A face whose landmark box overlaps an earlier one by ``duplicate_overlap`` or more
        (intersection over the smaller box) is the same face detected twice and is dropped. With ``tiles``,
        a photo is also searched tile by tile (:meth:`detect_tiles`), for faces too small to be found
        whole-image.

        Shape:
            image: (H, W) uint8 gray or (H, W, 3) uint8 RGB.
        Raises:
            ValueError: wrong shape or dtype.
            RuntimeError: MediaPipe failed, or the detector is closed.
        """
        if not self._landmarkers:
            raise RuntimeError("FaceLandmarkDetector is closed")
        faces: list[FaceResult] = []
        for tier, landmarker in enumerate(self._landmarkers):
            for pad in self.borders(image):
                faces = self._run(landmarker, tier, image, pad)
                if faces:
                    break
            if faces:
                break
        if tiles and min(image.shape[:2]) > self.options.photo_side:
            faces = _merge_faces(faces, self.detect_tiles(image), image.shape[:2], self.options)
        return sorted(faces, key=lambda f: float(f.landmarks[:, 0].min())) if faces else "no_face"

    def detect_tiles(self, image: np.ndarray) -> list[FaceResult]:
        """Faces found in the tiles of each ``options.tile_grids`` grid, at the first confidence tier and
        without a border, in the whole image's normalized frame (duplicates across tiles not yet merged)."""
        h, w = image.shape[:2]
        found: list[FaceResult] = []
        for n in self.options.tile_grids:
            th, tw = math.ceil(h / (n - (n - 1) / 4)), math.ceil(w / (n - (n - 1) / 4))  # 1/4 overlap
            for y0 in np.linspace(0, h - th, n).round().astype(int):
                for x0 in np.linspace(0, w - tw, n).round().astype(int):
                    for f in self._run(self._landmarkers[0], 0, np.ascontiguousarray(image[y0:y0 + th, x0:x0 + tw]), 0.0):
                        f.landmarks[:, 0] = (f.landmarks[:, 0] * tw + x0) / w
                        f.landmarks[:, 1] = (f.landmarks[:, 1] * th + y0) / h
                        f.landmarks[:, 2] *= tw / w
                        found.append(f)
        return found

    def detect(self, image: np.ndarray) -> FaceResult | str:
        """The one face of ``image``, or why there is none: ``"no_face"``, or ``"several_faces"`` when
        :meth:`detect_all` finds distinct faces (datasets expect one face per image).

        Shape:
            image: (H, W) uint8 gray or (H, W, 3) uint8 RGB.
        Returns:
            a :class:`FaceResult` in the original image's normalized frame, or the skip reason.
        Raises:
            ValueError: wrong shape or dtype.
            RuntimeError: MediaPipe failed, or the detector is closed.
        """
        faces = self.detect_all(image)
        if isinstance(faces, str):
            return faces
        return "several_faces" if len(faces) > 1 else faces[0]

    def _run(self, landmarker: Any, tier: int, image: np.ndarray, pad: float) -> list[FaceResult]:
        """One ``FaceLandmarker.detect`` on ``image`` with border ``pad``: its distinct faces, mapped back
        into the original image's frame."""
        canvas, left, top = self.pad_image(image, pad)
        ch, cw = canvas.shape[:2]
        h, w = image.shape[:2]
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=canvas)
        start = time.perf_counter()
        with quiet_stderr():
            result = landmarker.detect(mp_image)
        kept = result_faces(result, (cw, ch), tier=tier, pad=pad, duplicate_overlap=self.options.duplicate_overlap)
        for r in kept:  # canvas-normalized -> original-image-normalized
            r.landmarks[:, 0] = (r.landmarks[:, 0] * cw - left) / w
            r.landmarks[:, 1] = (r.landmarks[:, 1] * ch - top) / h
            r.landmarks[:, 2] *= cw / w
        self.timings["detect"][tier] += time.perf_counter() - start
        self.timings["calls"][tier] += 1
        return kept


# ------------------------------------------------------------------------------------------------ scan
@dataclass(frozen=True)
class ImageItem:
    """One image (or video clip, :func:`scan_image_tree` with ``kind="video"``) of a labelled folder tree.

    Attributes:
        path: the image file (``root`` joined with ``sample_id``).
        sample_id: path relative to the scanned root, POSIX style (``"publictest/angry/PublicTest_1.jpg"``).
        split: split folder name, or the root folder's name for a ``<root>/<label>/*`` layout.
        label: canonical label (:func:`fer_graph.labels.canonical_label` of the folder name).
        subject: CK+ subject id (``"S010"``) from a ``S010_004_...`` file stem, else ``None``.
        sequence: CK+ sequence id (``"S010_004"``), else ``None``.
    """

    path: Path
    sample_id: str
    split: str
    label: str
    subject: str | None = None
    sequence: str | None = None


@dataclass(frozen=True)
class ImageScan:
    """What :func:`scan_image_tree` found under a root.

    Attributes:
        items: the labelled images, sorted by path.
        skipped: a :class:`SkipRecord` per symlink the scan could not follow: ``"broken_link"`` (its
            target does not exist) or ``"link_loop"`` (it resolves to itself, or to a folder containing it).
    """

    items: list[ImageItem]
    skipped: list[SkipRecord]


def _visible(entries: Sequence[Path]) -> list[Path]:
    return sorted(p for p in entries if not p.name.startswith("."))


def _is_input(path: Path, extensions: frozenset[str] = IMAGE_EXTENSIONS) -> bool:
    return path.suffix.lower() in extensions and path.is_file()


def _kind_extensions(kind: str) -> frozenset[str]:
    """The file endings of ``kind``: ``"image"`` (:data:`IMAGE_EXTENSIONS`) or ``"video"``
    (:data:`fer_graph.landmarks.video.VIDEO_EXTENSIONS`).

    Raises:
        ValueError: another ``kind``.
    """
    if kind == "image":
        return IMAGE_EXTENSIONS
    if kind == "video":
        from .video import VIDEO_EXTENSIONS

        return VIDEO_EXTENSIONS
    raise ValueError(f"kind={kind!r}; expected 'image' or 'video'")


def _link_problem(path: Path) -> tuple[str, str] | None:
    """``(reason, detail)`` for a symlink that cannot be followed, else ``None`` (also for non-links)."""
    if not path.is_symlink():
        return None
    target = os.readlink(path)
    try:
        os.stat(path)
    except FileNotFoundError:
        return "broken_link", f"symlink to {target}, which does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link_loop", f"symlink to {target}: too many levels of symbolic links"
        return "broken_link", f"symlink to {target}: {exc.strerror}"
    real, parent = os.path.realpath(path), os.path.realpath(path.parent)
    if os.path.isdir(real) and (parent == real or parent.startswith(real.rstrip(os.sep) + os.sep)):
        return "link_loop", f"symlink to {target}, a folder that contains the link"
    return None


def _entries(folder: Path, skipped: list[SkipRecord], extensions: frozenset[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Visible entries of ``folder``, sorted; links it cannot follow are appended to ``skipped`` instead
    (those named like an input file or a folder: one of ``extensions`` or none)."""
    out = []
    for p in _visible(list(folder.iterdir())):
        problem = _link_problem(p)
        if problem is None:
            out.append(p)
        elif p.suffix == "" or p.suffix.lower() in extensions:
            skipped.append(SkipRecord(str(p), *problem))
    return out


def scan_image_tree(root: str | os.PathLike, *, label_of: Callable[..., str] = canonical_label,
                    kind: str = "image") -> ImageScan:
    """List the labelled images (or, ``kind="video"``, video clips) under ``root`` and the symlinks met that
    cannot be followed.

    Two layouts are recognised from where the images are::

        <root>/<split>/<label>/<image>     fer2013/{train,publictest}/angry/PublicTest_1.jpg
        <root>/<label>/<image>             ck48/anger/S010_004_00000017.png  (split = "ck48")

    Images must sit directly in label folders. Hidden entries, non-image files (``SOURCE.md``) and
    folders without images are ignored. Extensions: :data:`IMAGE_EXTENSIONS`, any case. Symlinks are
    followed; a dangling one, or one looping back to itself or a folder above it, is recorded in
    ``skipped`` (``"broken_link"`` / ``"link_loop"``) and never followed. ``label_of(folder_name, where=...)``
    maps a label folder's name to the label (expression labels by default; eye states:
    :func:`fer_graph.landmarks.eyes.eye_state_label`). ``kind="video"`` lists files of
    :data:`fer_graph.landmarks.video.VIDEO_EXTENSIONS` instead, in the same layouts (``clips/happy/a.mp4``).

    Raises:
        DatasetLayoutError: ``root`` is not a folder, has images directly in it, mixes label folders with
            split folders, or holds neither images nor links it could not follow.
        UnknownLabelError: a label folder's name is not a known label; the message names the folder.
        ValueError: ``kind`` is not ``"image"`` or ``"video"``.
    """
    root = Path(root)
    ext = _kind_extensions(kind)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a folder (expected <root>/<label>/* or <root>/<split>/<label>/*)")
    skipped: list[SkipRecord] = []
    top = _entries(root, skipped, ext)
    if any(_is_input(p, ext) for p in top):
        raise DatasetLayoutError(f"{root}: {kind}s directly in the root; expected <root>/<label>/<{kind}> or "
                                 f"<root>/<split>/<label>/<{kind}>")
    listed = {c: _entries(c, skipped, ext) for c in top if c.is_dir()}  # each folder listed once
    images = {c: [p for p in entries if _is_input(p, ext)] for c, entries in listed.items()}
    label_dirs = [c for c, found in images.items() if found]
    nested = {c: {g: [p for p in _entries(g, skipped, ext) if _is_input(p, ext)] for g in listed[c] if g.is_dir()}
              for c, found in images.items() if not found}
    split_dirs = [c for c, sub in nested.items() if any(sub.values())]
    if label_dirs and split_dirs:
        raise DatasetLayoutError(
            f"{root}: mixes label folders with {kind}s ({[p.name for p in label_dirs]}) and split folders "
            f"({[p.name for p in split_dirs]}); expected one layout")
    if split_dirs:
        groups = [(s.name, d, found) for s in split_dirs for d, found in nested[s].items() if found]
    else:
        groups = [(root.resolve().name, d, images[d]) for d in label_dirs]
    items = []
    for split, folder, found in groups:
        label = label_of(folder.name, where=str(folder))
        for path in found:
            m = _SUBJECT_RE.match(path.stem)
            items.append(ImageItem(path=path, sample_id=path.relative_to(root).as_posix(), split=split,
                                   label=label, subject=m.group(1) if m else None,
                                   sequence=f"{m.group(1)}_{m.group(2)}" if m else None))
    if not items and not skipped:
        raise DatasetLayoutError(f"{root}: no {kind}s found (extensions {sorted(ext)}); expected "
                                 f"<root>/<label>/<{kind}> or <root>/<split>/<label>/<{kind}>")
    return ImageScan(items, skipped)


def scan_image_folder(root: str | os.PathLike) -> list[ImageItem]:
    """The labelled images under ``root``, sorted by path (:func:`scan_image_tree` without the skips).

    Raises:
        DatasetLayoutError: as :func:`scan_image_tree`, and also when the only entries found are links
            that cannot be followed (the message counts them by reason).
        UnknownLabelError: a label folder's name is not a known label; the message names the folder.
    """
    scan = scan_image_tree(root)
    if not scan.items:
        counts = Counter(r.reason for r in scan.skipped)
        raise DatasetLayoutError(
            f"{root}: no images found, only symlinks that cannot be followed ("
            + ", ".join(f"{reason}: {n}" for reason, n in counts.most_common())
            + f"; e.g. {scan.skipped[0].path}: {scan.skipped[0].detail})")
    return scan.items


# ----------------------------------------------------------------------------------------------- cache
_FIELDS = ("image_sizes", "points", "blendshapes", "transforms", "tiers")


@dataclass
class _Chunk:
    """Consecutive items of one folder, cached together in one ``.npz``."""

    indices: list[int]
    path: Path
    sample_ids: list[str]
    result: dict[str, Any] | None = None
    parts: dict[int, dict[str, Any]] = field(default_factory=dict)


def _cache_folder(cache_dir: Path, options: DetectionOptions, model_path: Path) -> Path:
    """``cache_dir/mediapipe-<hash>``, the hash covering everything but the images that changes results."""
    try:
        mp_version = metadata.version("mediapipe")
    except metadata.PackageNotFoundError:
        mp_version = "unknown"
    meta = {"format": _CACHE_FORMAT, "options": options.as_dict(), "model_sha256": _sha256(model_path),
            "mediapipe": mp_version}
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir / f"mediapipe-{key}"
    if not (folder / "meta.json").is_file():
        write_json(folder / "meta.json", meta)
    return folder


def _make_chunks(items: Sequence[ImageItem], folder: Path) -> list[_Chunk]:
    """Split items into runs of at most ``_CHUNK_SIZE`` within each image folder, each keyed by its files.

    The key hashes each file's sample_id, size and mtime, so an edited, added or removed image only
    invalidates the chunks of its own folder from its position on.
    """
    chunks, start = [], 0
    while start < len(items):
        parent = items[start].path.parent
        stop = start
        while stop < len(items) and stop - start < _CHUNK_SIZE and items[stop].path.parent == parent:
            stop += 1
        h = hashlib.sha256()
        for item in items[start:stop]:
            try:
                st = item.path.stat()
                h.update(f"{item.sample_id}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{item.sample_id}\0missing\n".encode())
        ids = [it.sample_id for it in items[start:stop]]
        chunks.append(_Chunk(list(range(start, stop)), folder / f"chunk-{h.hexdigest()[:24]}.npz", ids))
        start = stop
    return chunks


def _load_chunk(chunk: _Chunk) -> dict[str, Any] | None:
    """The cached result of ``chunk``, or ``None`` if absent or unusable."""
    try:
        with np.load(chunk.path, allow_pickle=False) as z:
            if z["sample_ids"].tolist() != chunk.sample_ids:
                return None
            result = {name: z[name] for name in _FIELDS}
            result["reasons"], result["details"] = z["reasons"].tolist(), z["details"].tolist()
            return result
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def _save_chunk(chunk: _Chunk, result: dict[str, Any]) -> None:
    arrays = {name: result[name] for name in _FIELDS}
    with atomic_path(chunk.path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez adds no suffix
        np.savez(f, sample_ids=np.array(chunk.sample_ids, dtype=str), reasons=np.array(result["reasons"], dtype=str),
                 details=np.array(result["details"], dtype=str), **arrays)


def _merge(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = {name: np.concatenate([p[name] for p in parts]) for name in _FIELDS}
    out["reasons"] = [r for p in parts for r in p["reasons"]]
    out["details"] = [d for p in parts for d in p["details"]]
    return out


# ------------------------------------------------------------------------------------------- extraction
def _run_in_process(chunks: list[_Chunk], items: Sequence[ImageItem], model_path: Path,
                    options: DetectionOptions, progress: Callable[[int], None]) -> None:
    with FaceLandmarkDetector(model_path, options=options) as detector:
        for chunk in chunks:
            paths = [str(items[i].path) for i in chunk.indices]
            chunk.result = _worker.extract_batch(detector, paths, on_image=lambda: progress(1))
            _save_chunk(chunk, chunk.result)


def _run_in_pool(chunks: list[_Chunk], items: Sequence[ImageItem], model_path: Path,
                 options: DetectionOptions, progress: Callable[[int], None], workers: int,
                 pin_workers: bool = True) -> None:
    # "spawn": forking a process that has imported torch or mediapipe (threads, native state) is unsafe
    ctx = multiprocessing.get_context("spawn")
    # one CPU per worker when there are enough (see _mediapipe_worker.init_worker for the measurements)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = (cpus, ctx.Value("i", 0)) if pin_workers and 1 < workers <= len(cpus) else (None, None)
    executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker.init_worker,
                                   initargs=(str(model_path), options, *pin))
    try:
        pending = {}
        for chunk in chunks:  # submitted chunk by chunk, so chunks finish (and are cached) in order
            for start in range(0, len(chunk.indices), _TASK_SIZE):
                paths = [str(items[i].path) for i in chunk.indices[start:start + _TASK_SIZE]]
                pending[executor.submit(_worker.run_task, paths)] = (chunk, start)
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                chunk, start = pending.pop(future)
                part = future.result()
                chunk.parts[start] = part
                progress(len(part["reasons"]))
                if sum(len(p["reasons"]) for p in chunk.parts.values()) == len(chunk.indices):
                    chunk.result = _merge([chunk.parts[s] for s in sorted(chunk.parts)])
                    chunk.parts.clear()
                    _save_chunk(chunk, chunk.result)
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: drop queued tasks, finish running ones
        raise
    executor.shutdown(wait=True)


def extract_image_folder(
    root: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike,
    model: str | os.PathLike | None = None,
    workers: int | None = None,
    options: DetectionOptions = DetectionOptions(),
    on_progress: Callable[[int, int], None] | None = None,
    pin_workers: bool = True,
    label_of: Callable[..., str] = canonical_label,
) -> LandmarkSet:
    """Detect one face per image of a labelled folder tree with the MediaPipe Face Landmarker.

    Images are listed by :func:`scan_image_tree` and processed in chunks of 256 consecutive images of
    one folder. Each finished chunk is written atomically to
    ``cache_dir/mediapipe-<hash of options, model sha256, mediapipe version>/chunk-<hash of files>.npz``,
    so a re-run, or a run resumed after Ctrl-C or a kill, only processes missing chunks, and changed
    options, model or images never reuse stale results.

    Args:
        root: dataset folder (see :func:`scan_image_folder` for the layouts).
        cache_dir: folder for the chunk cache (created if needed).
        model: Face Landmarker bundle, resolved by :func:`resolve_model_path`.
        workers: worker processes (``"spawn"`` context), each building its detector once and, when
            there are enough CPUs, pinned to one of them. ``None``: ``os.cpu_count()``; 0 or 1: run in
            this process. Scripts using workers need the ``if __name__ == "__main__":`` guard.
        options: preprocessing and cascade settings (part of the cache key).
        on_progress: called as ``on_progress(done, total)`` with image counts, once after the cache is
            read and then as images complete (every image in-process, every 32 images with workers).
        pin_workers: pin each worker to one CPU when there are enough (see
            :func:`fer_graph.landmarks._mediapipe_worker.init_worker`); off to measure the difference.
        label_of: maps label folder names to labels (see :func:`scan_image_tree`).

    Returns:
        a :class:`LandmarkSet` with ``source="mediapipe"``, ``units="image-normalized"`` and, for the N
        images with a face, in scan order: ``points`` (N, 478, 3) float32, ``blendshapes`` (N, 52)
        float32, ``transforms`` (N, 4, 4) float32, ``image_sizes`` (N, 2) int32 (W, H), ``tiers`` (N,)
        int8, ``splits``, ``labels``, ``subjects``, ``sequence_ids`` and ``sample_ids`` (relative paths).
        ``skipped`` holds a :class:`SkipRecord` per symlink the scan could not follow (``"broken_link"``,
        ``"link_loop"``), then per other image, with reason ``"unreadable"`` (Pillow failed; detail = the
        error), ``"unsupported_mode"`` (see :func:`fer_graph.landmarks.images.load_rgb`), ``"no_face"``,
        ``"several_faces"`` or ``"detect_error"`` (MediaPipe raised). Images are decoded by
        :func:`~fer_graph.landmarks.images.load_rgb`. Use :func:`detection_rates` for detection rates.
        A tree whose only entries are links that cannot be followed gives an empty set with those skips.

    Raises:
        DatasetLayoutError, UnknownLabelError: see :func:`scan_image_tree`.
        ModelFileError: see :func:`resolve_model_path`.
        ValueError: ``workers`` < 0.
        concurrent.futures.process.BrokenProcessPool: a worker died (finished chunks stay cached).
    """
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 0:
        raise ValueError(f"workers={workers}; expected an int >= 0 (0 or 1: in this process)")
    scan = scan_image_tree(root, label_of=label_of)
    items = scan.items
    model_path = resolve_model_path(model)
    folder = _cache_folder(Path(cache_dir), options, model_path)
    chunks = _make_chunks(items, folder)
    for chunk in chunks:
        chunk.result = _load_chunk(chunk)
    todo = [c for c in chunks if c.result is None]
    total = len(items)
    done = total - sum(len(c.indices) for c in todo)
    log.info("%s: %d images, %d cached, %d chunks to extract", root, total, done, len(todo))

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(done, total)

    progress(0)
    if todo:
        n_tasks = sum(math.ceil(len(c.indices) / _TASK_SIZE) for c in todo)
        if workers <= 1 or n_tasks == 1:
            _run_in_process(todo, items, model_path, options, progress)
        else:
            _run_in_pool(todo, items, model_path, options, progress, min(workers, n_tasks), pin_workers)
    return _assemble(items, chunks, scan.skipped)


def _assemble(items: Sequence[ImageItem], chunks: Sequence[_Chunk], link_skips: Sequence[SkipRecord]) -> LandmarkSet:
    """The LandmarkSet of the detected faces; ``skipped`` = ``link_skips`` then the failed images in order."""
    merged = _merge([c.result for c in chunks]) if chunks else _worker.empty_batch(0)
    keep = np.array([r == "" for r in merged["reasons"]], dtype=bool)
    kept = [items[i] for i in np.flatnonzero(keep)]
    skipped = [*link_skips, *(SkipRecord(str(item.path), reason, detail)
                              for item, reason, detail in zip(items, merged["reasons"], merged["details"]) if reason)]
    return LandmarkSet(
        points=merged["points"][keep], labels=[it.label for it in kept], subjects=[it.subject for it in kept],
        sample_ids=[it.sample_id for it in kept], sequence_ids=[it.sequence for it in kept],
        units="image-normalized", source="mediapipe", splits=[it.split for it in kept],
        blendshapes=merged["blendshapes"][keep], transforms=merged["transforms"][keep],
        image_sizes=merged["image_sizes"][keep], tiers=merged["tiers"][keep], skipped=skipped,
    )


def detection_rates(items: Sequence[ImageItem], landmarks: LandmarkSet) -> dict[str, float]:
    """Fraction of each split's scanned images that have a sample in ``landmarks``.

    Args:
        items: what was attempted, from :func:`scan_image_folder` on the same root.
        landmarks: the result of :func:`extract_image_folder` (matched by ``sample_id``).

    Returns:
        ``{split: detected / attempted}`` in first-seen split order; unreadable files count as attempted.
    """
    found = set(landmarks.sample_ids)
    attempted: dict[str, int] = {}
    detected: dict[str, int] = {}
    for item in items:
        attempted[item.split] = attempted.get(item.split, 0) + 1
        detected[item.split] = detected.get(item.split, 0) + (item.sample_id in found)
    return {split: detected[split] / n for split, n in attempted.items()}
