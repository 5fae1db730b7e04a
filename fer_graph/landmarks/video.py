"""Video and webcam input: frames read with OpenCV, faces tracked by the Face Landmarker in VIDEO mode.

OpenCV (``opencv-contrib-python``, which MediaPipe already installs) reads files and cameras through one
``cv2.VideoCapture`` call, so a webcam takes the same code path as a video file. In VIDEO mode the Face
Landmarker runs its face detector only until it has faces, then tracks their landmarks from frame to frame
(MediaPipe ``face_landmarker`` task: ``RunningMode.VIDEO``, ``detect_for_video``), which is what makes
video fast; every frame costs the same, however long the video.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import FerGraphError, ModelFileError
from ._quiet import quiet_stderr
from .mediapipe_source import FaceResult, resolve_model_path, result_faces

__all__ = ["Frame", "VideoReadError", "VideoFaceTracker", "read_frames", "track_faces", "video_info",
           "VIDEO_EXTENSIONS"]

#: File suffixes treated as video.
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".wmv", ".mpg", ".mpeg"})


class VideoReadError(FerGraphError, OSError):
    """A video file or camera that OpenCV cannot open or decode."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``index`` (0-based), ``time_s`` (seconds from the start) and ``rgb``
    ``(H, W, 3)`` uint8."""

    index: int
    time_s: float
    rgb: np.ndarray


def _capture(source: str | os.PathLike | int) -> Any:
    import cv2

    cap = cv2.VideoCapture(source if isinstance(source, int) else str(source))
    if not cap.isOpened():
        what = f"camera {source}" if isinstance(source, int) else str(source)
        raise VideoReadError(f"{what}: OpenCV cannot open it as a video"
                             + ("" if isinstance(source, int) else " (missing, not a video, or an unknown codec)"))
    return cap


def video_info(source: str | os.PathLike | int) -> dict[str, Any]:
    """``{"fps", "frames", "width", "height"}`` as the container reports them (``frames`` 0 when unknown,
    as for cameras; ``fps`` 30 when the container gives none).

    Raises:
        VideoReadError: OpenCV cannot open ``source``.
    """
    import cv2

    cap = _capture(source)
    try:
        return {"fps": cap.get(cv2.CAP_PROP_FPS) or 30.0, "frames": max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
                "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}
    finally:
        cap.release()


def read_frames(source: str | os.PathLike | int, *, max_frames: int | None = None) -> Iterator[Frame]:
    """The frames of a video file, or of camera ``source`` (an int, e.g. 0), in order, as RGB.

    Times come from the frame index and the container's frame rate (30 when it gives none), so they rise
    steadily even for variable-rate files. The capture is released when the iterator is closed.

    Raises:
        VideoReadError: OpenCV cannot open ``source``.
    """
    import cv2

    cap = _capture(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    try:
        index = 0
        while max_frames is None or index < max_frames:
            ok, bgr = cap.read()
            if not ok:
                return
            yield Frame(index, index / fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        cap.release()


class VideoFaceTracker:
    """A Face Landmarker in VIDEO mode: landmarks, blendshapes and transforms of up to ``num_faces`` faces
    per frame, tracked between frames. Use as a context manager, or call :meth:`close`.

    Args:
        model: Face Landmarker ``.task`` file (:func:`~fer_graph.landmarks.mediapipe_source.resolve_model_path`).
        num_faces: faces per frame at most.
        confidence: detection, presence and tracking confidence (MediaPipe's default 0.5).

    Raises:
        ModelFileError: the model file is missing or not a Face Landmarker bundle.
    """

    def __init__(self, model: str | os.PathLike | None = None, *, num_faces: int = 10,
                 confidence: float = 0.5) -> None:
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        self.model_path = resolve_model_path(model)
        self.num_faces = num_faces
        with quiet_stderr():
            import mediapipe as mp

            self._mp = mp
            try:
                self._landmarker = vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(self.model_path)),
                    running_mode=vision.RunningMode.VIDEO, num_faces=num_faces,
                    min_face_detection_confidence=confidence, min_face_presence_confidence=confidence,
                    min_tracking_confidence=confidence, output_face_blendshapes=True,
                    output_facial_transformation_matrixes=True))
            except (RuntimeError, ValueError) as exc:
                raise ModelFileError(f"{self.model_path}: cannot load as a Face Landmarker model bundle "
                                     f"({type(exc).__name__}: {exc})") from exc
        self._last_ms = -1

    def __enter__(self) -> VideoFaceTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the landmarker; idempotent."""
        if self._landmarker is not None:
            with quiet_stderr():
                self._landmarker.close()
            self._landmarker = None

    def detect(self, frame: Frame) -> list[FaceResult]:
        """The faces of one frame, left to right, in its normalized frame (``tier`` 0, ``pad`` 0).

        Frames must come in time order (MediaPipe requires rising timestamps; equal ones are nudged by 1 ms).

        Raises:
            RuntimeError: MediaPipe failed, or the tracker is closed.
        """
        if self._landmarker is None:
            raise RuntimeError("VideoFaceTracker is closed")
        ms = max(int(round(frame.time_s * 1000)), self._last_ms + 1)
        self._last_ms = ms
        h, w = frame.rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame.rgb))
        with quiet_stderr():
            result = self._landmarker.detect_for_video(image, ms)
        faces = result_faces(result, (w, h))
        return sorted(faces, key=lambda f: float(f.landmarks[:, 0].min()))


def track_faces(source: str | os.PathLike | int, *, model: str | os.PathLike | None = None, max_faces: int = 10,
                max_frames: int | None = None) -> Iterator[tuple[Frame, list[tuple[int, FaceResult]]]]:
    """Detect and track faces through a video file or camera ``source`` (an int): yields ``(frame, faces)``
    per decoded frame, ``faces`` the ``(track id, face)`` pairs of that frame left to right, the ids from
    :class:`~fer_graph.landmarks.tracks.FaceTracks` (a face keeps its id while it stays in view).

    Raises:
        VideoReadError: OpenCV cannot open ``source``. ModelFileError: no Face Landmarker model.
    """
    from .tracks import FaceTracks

    tracks = FaceTracks()
    with VideoFaceTracker(model, num_faces=max_faces) as tracker:
        for frame in read_frames(source, max_frames=max_frames):
            h, w = frame.rgb.shape[:2]
            found = tracker.detect(frame)
            yield frame, list(zip(tracks.assign([f.box(w, h) for f in found], frame.index), found))
