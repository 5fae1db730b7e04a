"""Worker side of MediaPipe extraction: decode images, run one detector over a batch, process-pool hooks.

Kept apart from :mod:`fer_graph.landmarks.mediapipe_source` so that a spawned worker only imports what it
runs. Workers receive image paths and send back compact float32 arrays (never MediaPipe objects).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing import util as _mp_util
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

import numpy as np

from ._types import SkipRecord
from .images import ImageReadError, load_rgb

if TYPE_CHECKING:
    from .mediapipe_source import DetectionOptions, FaceLandmarkDetector, FaceResult

#: Landmarks per face of the Face Landmarker: 468 mesh points + 10 iris points.
NUM_LANDMARKS = 478
#: Blendshape scores per face of the Face Landmarker (``face_blendshapes.tflite``).
NUM_BLENDSHAPES = 52

_DETECTOR: FaceLandmarkDetector | None = None  # one per worker process, made by init_worker()


def load_image(path: str) -> np.ndarray:
    """:func:`fer_graph.landmarks.images.load_rgb` keeping gray files gray (for painting on gray images).

    Shape:
        returns: (H, W) uint8 for single-channel files, else (H, W, 3) uint8 RGB.
    Raises:
        FileNotFoundError, ImageReadError: see :func:`~fer_graph.landmarks.images.load_rgb`.
    """
    return load_rgb(path, keep_gray=True)


def empty_batch(n: int) -> dict[str, Any]:
    """Per-image results for ``n`` images, filled as "not detected" (NaN, tier -1, empty reason)."""
    return {
        "reasons": [""] * n,
        "details": [""] * n,
        "image_sizes": np.zeros((n, 2), np.int32),
        "points": np.full((n, NUM_LANDMARKS, 3), np.nan, np.float32),
        "blendshapes": np.full((n, NUM_BLENDSHAPES), np.nan, np.float32),
        "transforms": np.full((n, 4, 4), np.nan, np.float32),
        "tiers": np.full(n, -1, np.int8),
    }


def extract_batch(detector: FaceLandmarkDetector, paths: Sequence[str],
                  on_image: Callable[[], None] | None = None) -> dict[str, Any]:
    """Decode and detect each image of ``paths``; one row per path, in order.

    Images are decoded by :func:`fer_graph.landmarks.images.load_rgb`. A row with ``reasons[i] == ""``
    holds a detected face; otherwise the reason is ``"unreadable"`` (Pillow could not decode the file),
    ``"unsupported_mode"`` (pixels without a known scale, e.g. float outside [0, 1]), ``"no_face"``,
    ``"several_faces"`` or ``"detect_error"`` (MediaPipe raised), with ``details[i]`` giving the cause,
    and the arrays hold NaN / -1.

    Shape:
        returns: dict of ``reasons`` and ``details``, lists of n str, ``image_sizes`` (n, 2) int32 (W, H),
        ``points`` (n, 478, 3) float32 image-normalized, ``blendshapes`` (n, 52) float32,
        ``transforms`` (n, 4, 4) float32, ``tiers`` (n,) int8.
    """
    out = empty_batch(len(paths))
    for i, path in enumerate(paths):
        try:
            image = load_rgb(path)
        except ImageReadError as exc:
            out["reasons"][i], out["details"][i] = exc.reason, exc.detail[:300]
        except OSError as exc:  # vanished or unreadable since the scan (permissions, I/O error)
            out["reasons"][i], out["details"][i] = "unreadable", f"{type(exc).__name__}: {exc}"[:300]
        else:
            out["image_sizes"][i] = image.shape[1], image.shape[0]
            try:
                face = detector.detect(image)
            except (RuntimeError, ValueError) as exc:
                out["reasons"][i], out["details"][i] = "detect_error", f"{type(exc).__name__}: {exc}"[:200]
            else:
                if isinstance(face, str):
                    out["reasons"][i] = face
                else:
                    out["points"][i], out["blendshapes"][i] = face.landmarks, face.blendshapes
                    out["transforms"][i], out["tiers"][i] = face.transform, face.tier
        if on_image is not None:
            on_image()
    return out


def init_worker(model_path: str, options: DetectionOptions, cpus: Sequence[int] | None = None,
                slot: Synchronized | None = None) -> None:
    """Process-pool initializer: build this worker's detector once; leave Ctrl-C to the parent.

    With ``cpus`` and a shared counter ``slot``, the n-th worker pins itself to ``cpus[n % len(cpus)]``.
    One detect crosses several threads (the Python caller, MediaPipe's dispatcher thread, the graph's
    calculator threads); unpinned, each hand-over may wait for a core busy with the other worker:
    measured 14.5 ms wall for 11 ms CPU per image with 2 workers on 2 cores, 11.3–12.5 ms pinned;
    FER-2013 publictest with 2 workers beside other load: 120–167 images/s pinned, 86–110 unpinned.
    """
    global _DETECTOR
    from .mediapipe_source import FaceLandmarkDetector

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:  # a killed parent (SIGKILL) would otherwise leave this worker blocked forever
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()
    if cpus and slot is not None and hasattr(os, "sched_setaffinity"):
        with slot.get_lock():
            index, slot.value = slot.value, slot.value + 1
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    _DETECTOR = FaceLandmarkDetector(model_path, options=options)
    # pool workers leave through os._exit, which skips atexit; multiprocessing finalizers still run
    _mp_util.Finalize(None, _DETECTOR.close, exitpriority=10)


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def run_task(paths: Sequence[str]) -> dict[str, Any]:
    """Process-pool task: :func:`extract_batch` with this worker's detector."""
    if _DETECTOR is None:
        raise RuntimeError("run_task called in a process that did not run init_worker")
    return extract_batch(_DETECTOR, paths)


def detect_faces(detector: FaceLandmarkDetector, path: str, tiles: bool = False
                 ) -> tuple[list[FaceResult], tuple[int, int]] | SkipRecord:
    """Every face of one image file (:meth:`FaceLandmarkDetector.detect_all`) with the image's ``(W, H)``,
    or why there is none: ``unreadable``, ``unsupported_mode``, ``no_face``, ``detect_error``."""
    try:
        image = load_rgb(path, keep_gray=True)  # EXIF-oriented, gray or RGB uint8
    except ImageReadError as exc:
        return SkipRecord(str(path), exc.reason, exc.detail)
    except OSError as exc:
        return SkipRecord(str(path), "unreadable", str(exc))
    try:
        found = detector.detect_all(image, tiles=tiles)
    except (RuntimeError, ValueError) as exc:
        return SkipRecord(str(path), "detect_error", f"{type(exc).__name__}: {exc}"[:200])
    if isinstance(found, str):
        return SkipRecord(str(path), found)
    return found, (image.shape[1], image.shape[0])


def detect_task(paths: Sequence[str], tiles: bool) -> list[tuple[list[FaceResult], tuple[int, int]] | SkipRecord]:
    """Process-pool task: :func:`detect_faces` of each path with this worker's detector."""
    if _DETECTOR is None:
        raise RuntimeError("detect_task called in a process that did not run init_worker")
    return [detect_faces(_DETECTOR, p, tiles) for p in paths]
