"""Video and webcam prediction behind ``fer-graph predict clip.mp4`` / ``--camera 0``: a per-frame CSV
(streamed), optional temporal smoothing, optional annotated video."""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from .._io import _umask, atomic_path
from ..models.eye_state import EyeStateModel
from .predict_io import csv_face_row, csv_header, csv_skip_row, face_eye_states, load_predictors

__all__ = ["predict_video_path", "smooth_probabilities", "default_video_output"]


def default_video_output(source: str | os.PathLike | int) -> Path:
    """``<video stem>_predictions.csv`` (``camera<N>_predictions.csv``) in the working directory."""
    return Path(f"camera{source}_predictions.csv" if isinstance(source, int) else f"{Path(source).stem}_predictions.csv")


def smooth_probabilities(state: dict[int, tuple[float, np.ndarray]], face: int, time_s: float,
                         probs: np.ndarray, seconds: float) -> np.ndarray:
    """Exponential smoothing of one face's probabilities over time (time constant ``seconds``): the new
    value is ``a·probs + (1 − a)·previous`` with ``a = 1 − exp(−Δt / seconds)``, so the weight of the past
    follows elapsed time, not frame count. ``state`` maps face index -> (time, smoothed) and is updated;
    ``seconds <= 0`` returns ``probs``."""
    if seconds <= 0:
        return probs
    last = state.get(face)
    out = probs if last is None else last[1] + (1 - math.exp(-(time_s - last[0]) / seconds)) * (probs - last[1])
    state[face] = (time_s, out)
    return out


def predict_video_path(source: str | os.PathLike | int, run: str | os.PathLike | None = None, *,
                       model: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
                       annotate: str | os.PathLike | None = None, smooth: float = 0.0, max_faces: int = 10,
                       max_frames: int | None = None, force: bool = False,
                       visibility_model: str | os.PathLike | None = None, eye_model: str | os.PathLike | None = None,
                       window: int = 16, stride: int = 4,
                       on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Predict every face of every frame of a video file or camera ``source`` (an int); a sequence run
    classifies sliding windows instead (:func:`~fer_graph.evaluation.predict_windows.predict_video_windows`,
    with ``window`` and ``stride``; ``out`` defaults to ``<video stem>_windows.csv``).

    Args:
        run: a run, a model file or a bundled model name (``None``: the bundled default).
        out: the per-frame CSV (``input, frame, time_s, face, x, y, w, h, label, p_<class>…``; a row per
            face, a row with an empty face for a frame without one); default :func:`default_video_output`.
        annotate: also write this MP4 with each face's box and label drawn.
        smooth: time constant in seconds of :func:`smooth_probabilities` (0: none).
        max_frames: stop after this many frames (cameras run until then, or until Ctrl-C).
        force: replace existing ``out`` / ``annotate`` files.
        visibility_model: a ``train-visibility`` output: the landmarks it estimates hidden in each frame are
            removed before a graph model classifies the face (its PyTorch checkpoint runs); each face's
            count is in the CSV's ``hidden_landmarks``.
        eye_model: a ``train-eye-state`` model for the CSV's eye-state columns (``None``: the packaged default).

    Returns:
        ``{"input", "frames", "frames_with_face", "faces", "seconds", "frames_per_s", "csv", "annotated", "classes"}``.

    Raises:
        ValueError: an existing output without ``force``; a 68-point model that needs an onset frame.
        VideoReadError, ModelFileError: see :meth:`~fer_graph.evaluation.predictor.ExpressionModel.predict_video`.
    """
    from ..landmarks.video import video_info

    em, visibility = load_predictors(run, visibility_model)
    if em.sequence_frames:
        if annotate is not None or smooth or visibility is not None:
            raise ValueError(f"{em.source}: a sequence run classifies windows; --annotate, --smooth and "
                             "--visibility-model apply to frame runs")
        from .predict_windows import predict_video_windows

        return predict_video_windows(source, em, model=model, out=out, window=window, stride=stride,
                                     max_faces=max_faces, max_frames=max_frames, force=force, on_progress=on_progress)
    out = Path(out) if out is not None else default_video_output(source)
    for name, target in (("--out", out), ("--annotate", annotate)):
        if target is not None and Path(target).exists() and not force:
            raise ValueError(f"{target}: exists; choose another {name} file or pass --force to replace it")
    eyes_of = EyeStateModel.load(eye_model)
    info = video_info(source)
    total = info["frames"] if max_frames is None else min(info["frames"] or max_frames, max_frames)
    counts = {"frames": 0, "frames_with_face": 0, "faces": 0}
    start = time.perf_counter()
    with ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(out))
        writer = csv.writer(stack.enter_context(tmp.open("w", newline="")))
        writer.writerow(csv_header(em.classes))
        video = stack.enter_context(_Annotator(annotate, info["fps"], em.classes)) if annotate else None
        state: dict[int, tuple[float, np.ndarray]] = {}
        name = f"camera:{source}" if isinstance(source, int) else str(source)
        try:
            for frame, faces, probs in em.predict_video(source, model=model, max_faces=max_faces, max_frames=max_frames,
                                                        visibility=visibility):
                probs = np.stack([smooth_probabilities(state, f.face, frame.time_s, p, smooth)
                                  for f, p in zip(faces, probs)]) if faces else probs
                _write_frame(writer, name, frame, faces, probs, em.classes, face_eye_states(faces, eyes_of))
                if video is not None:
                    video.write(frame.rgb, faces, probs)
                counts["frames"] += 1
                counts["frames_with_face"] += bool(faces)
                counts["faces"] += len(faces)
                if on_progress is not None:
                    on_progress(counts["frames"], total)
        except KeyboardInterrupt:  # a camera stops with Ctrl-C: keep what was written
            pass
    seconds = time.perf_counter() - start
    return {"input": name, **counts, "seconds": seconds, "frames_per_s": counts["frames"] / seconds if seconds else None,
            "csv": str(out), "annotated": None if annotate is None else str(annotate), "classes": em.classes}


def _write_frame(writer, name: str, frame, faces, probs: np.ndarray, classes: list[str], eyes: list) -> None:
    if not faces:
        writer.writerow(csv_skip_row(name, frame.index, frame.time_s, "no_face", len(classes)))
    for f, p, e in zip(faces, probs, eyes):
        writer.writerow(csv_face_row(name, frame.index, frame.time_s, f.face, f.box, classes[int(p.argmax())], p,
                                     f.tier, f.pad, None if f.hidden is None else int(f.hidden.sum()), e))


class _Annotator:
    """An MP4 writer (OpenCV, ``mp4v``) drawing each face's box, label and probability on its frame;
    written beside ``path`` under a hidden name and renamed into place when complete (OpenCV picks the
    container from the suffix, so the temporary name keeps ``.mp4``)."""

    def __init__(self, path: str | os.PathLike, fps: float, classes: list[str]) -> None:
        self.path, self.fps, self.classes = Path(path), fps, classes
        self._writer = None
        self._tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.mp4")

    def __enter__(self) -> _Annotator:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, rgb: np.ndarray, faces, probs: np.ndarray) -> None:
        import cv2

        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if self._writer is None:
            h, w = bgr.shape[:2]
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot write an mp4v video here")
        for f, p in zip(faces, probs):
            x, y, w, h = (int(round(v)) for v in f.box)
            k = int(p.argmax())
            cv2.rectangle(bgr, (x, y), (x + w, y + h), (0, 220, 0), 2)
            cv2.putText(bgr, f"{self.classes[k]} {p[k]:.0%}", (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, (0, 220, 0), 1, cv2.LINE_AA)
        self._writer.write(bgr)

    def __exit__(self, exc_type, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.release()
        if exc_type is None and self._tmp.exists():
            os.chmod(self._tmp, 0o666 & ~_umask())
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
