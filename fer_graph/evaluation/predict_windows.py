"""Sequence models on video: ``fer-graph predict clip.mp4 --run STGCN_RUN`` classifies sliding windows of each
tracked face's frames and writes a per-window CSV."""

from __future__ import annotations

import csv
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from .predictor import ExpressionModel, FaceRecord, track_video

__all__ = ["sliding_windows", "predict_video_windows", "WINDOW_COLUMNS"]

#: Columns of the per-window CSV before the ``p_<class>`` probabilities.
WINDOW_COLUMNS = ("input", "face", "start_frame", "end_frame", "start_s", "end_s", "frames", "label")


def sliding_windows(tracked: Iterable[tuple[Any, list[FaceRecord]]], window: int, stride: int
                    ) -> Iterator[tuple[int, list[FaceRecord]]]:
    """``(track id, records)`` windows: the last ``window`` detections of a face track, once it has that
    many and then every ``stride`` further detections (frames where the face was not found are skipped,
    not padded).

    Raises:
        ValueError: ``window`` < 2 or ``stride`` < 1.
    """
    if window < 2 or stride < 1:
        raise ValueError(f"window={window} (>= 2 frames), stride={stride} (>= 1)")
    recent: dict[int, deque] = {}
    since: dict[int, int] = {}
    for _, faces in tracked:
        for f in faces:
            q = recent.setdefault(f.face, deque(maxlen=window))
            q.append(f)
            since[f.face] = since.get(f.face, stride - 1) + 1
            if len(q) == window and since[f.face] >= stride:
                since[f.face] = 0
                yield f.face, list(q)


def predict_video_windows(source: str | os.PathLike | int, run: str | os.PathLike | ExpressionModel, *, model: str | os.PathLike | None = None,
                          out: str | os.PathLike | None = None, window: int = 16, stride: int = 4,
                          max_faces: int = 10, max_frames: int | None = None, force: bool = False,
                          on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Classify sliding windows of every tracked face of a video file or camera with a sequence run.

    Each window (:func:`sliding_windows`) is one sequence for
    :meth:`~fer_graph.evaluation.predictor.ExpressionModel.predict_sequences`: its first frame is taken as the
    neutral onset and its last as the apex, as in the CK+ sequences such runs are trained on — windows that
    start mid-expression read displacements from a non-neutral face.

    Args:
        run: a sequence run (``fer-graph train --arch stgcn`` on a ``--sequences`` dataset), or that run
            already loaded.
        out: the per-window CSV (:data:`WINDOW_COLUMNS`, then ``p_<class>``); default
            ``<video stem>_windows.csv``.
        window, stride: detections per window (>= 2) and between windows (>= 1).

    Returns:
        ``{"input", "frames", "windows", "seconds", "csv", "classes"}``.

    Raises:
        ValueError: an existing ``out`` without ``force``; not a sequence run; see :func:`sliding_windows`.
        VideoReadError, ModelFileError: see :func:`~fer_graph.evaluation.predictor.track_video`.
    """
    em = run if isinstance(run, ExpressionModel) else ExpressionModel(run)
    if not em.sequence_frames:
        raise ValueError(f"{run}: not a sequence run (features {str(em.features)!r}); windows need --arch stgcn")
    em.require_detections(sequences=True)
    name = f"camera{source}" if isinstance(source, int) else Path(source).stem
    out = Path(out) if out is not None else Path(f"{name}_windows.csv")
    if out.exists() and not force:
        raise ValueError(f"{out}: exists; choose another --out file or pass --force to replace it")
    counts, start = {"frames": 0, "windows": 0}, time.perf_counter()

    def frames() -> Iterator[tuple[Any, list[FaceRecord]]]:
        for item in track_video(source, model=model, max_faces=max_faces, max_frames=max_frames):
            counts["frames"] += 1
            if on_progress is not None:
                on_progress(counts["frames"], max_frames or 0)
            yield item

    with ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(out))
        writer = csv.writer(stack.enter_context(tmp.open("w", newline="")))
        writer.writerow([*WINDOW_COLUMNS, *(f"p_{c}" for c in em.classes)])
        try:
            for face, records in sliding_windows(frames(), window, stride):
                probs = em.predict_sequences(np.stack([r.pixel_landmarks() for r in records])[None])[0]
                first, last = records[0], records[-1]
                writer.writerow([first.input, face, first.frame, last.frame, f"{first.time_s:.3f}", f"{last.time_s:.3f}",
                                 len(records), em.classes[int(probs.argmax())], *(f"{p:.5f}" for p in probs)])
                counts["windows"] += 1
        except KeyboardInterrupt:  # a camera stops with Ctrl-C: keep what was written
            pass
    return {"input": str(source), **counts, "seconds": time.perf_counter() - start, "csv": str(out),
            "classes": em.classes}
