"""Labelled video clips as landmark sequences: the face the Face Landmarker (VIDEO mode) follows through
each clip, its frames resampled from onset to apex.

Layout: the image folders' (:func:`~fer_graph.landmarks.mediapipe_source.scan_image_tree`, ``kind="video"``;
extensions :data:`~fer_graph.landmarks.video.VIDEO_EXTENSIONS`), one labelled clip per file::

    <root>/<label>/<clip>            clips/happy/S010_004_take1.mp4
    <root>/<split>/<label>/<clip>    clips/train/happy/alice_01.mp4

A clip runs from a neutral first frame (onset) to the expression's apex (last frame), as a CK+ sequence.
Per clip:

- frames are decoded by OpenCV, timestamps from the frame rate (:func:`~fer_graph.landmarks.video.read_frames`);
  the Face Landmarker tracks one face at a time (``num_faces=1``: the first face it finds is followed until
  it is lost) and every detection gets a track id (:func:`~fer_graph.landmarks.video.track_faces`);
- the face kept is the track seen in most frames (ties: the larger mean landmark box); frames without it
  are skipped, not filled;
- the kept frames are resampled to T (:func:`~fer_graph.landmarks.frames.resample_frames`): the first is the
  first detection (onset), the last the last detection (apex);
- a clip OpenCV cannot open or decode, or with fewer than 2 frames with the face, is skipped with its reason.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._types import LandmarkSet, SkipRecord
from .frames import check_frame_options, resample_frames
from .mediapipe_source import FaceResult, ImageItem, resolve_model_path, scan_image_tree
from .video import Frame, VideoReadError, track_faces

__all__ = ["ClipTrack", "follow_face", "read_clip", "clip_landmarks", "extract_video_clips"]


@dataclass(frozen=True)
class ClipTrack:
    """The face followed through one clip.

    Attributes:
        faces: that face in every frame it was found in, time order; each ``landmarks`` (478, 3) float32
            image-normalized (x / W, y / H, z on x's scale).
        frame_indices: the 0-based frame of each face.
        size: ``(W, H)`` of the frames, pixels.
        frames: frames decoded.
    """

    faces: tuple[FaceResult, ...]
    frame_indices: tuple[int, ...]
    size: tuple[int, int]
    frames: int


def follow_face(tracked: Iterable[tuple[Frame, list[tuple[int, FaceResult]]]]) -> ClipTrack:
    """The track seen in most frames of ``tracked`` (``(frame, [(track id, face), ...])`` per frame, as
    :func:`~fer_graph.landmarks.video.track_faces` yields them); ties go to the larger mean landmark box
    (pixels²), then the lower id. No face in any frame: a track of no faces."""
    seen: dict[int, list[tuple[int, FaceResult]]] = {}
    frames, size = 0, (0, 0)
    for frame, faces in tracked:
        frames, size = frames + 1, (frame.rgb.shape[1], frame.rgb.shape[0])
        for tid, face in faces:
            seen.setdefault(tid, []).append((frame.index, face))

    def rank(tid: int) -> tuple[int, float, int]:
        area = float(np.mean([w * h for _, _, w, h in (f.box(*size) for _, f in seen[tid])]))
        return len(seen[tid]), area, -tid

    best = seen[max(seen, key=rank)] if seen else []
    return ClipTrack(tuple(f for _, f in best), tuple(i for i, _ in best), size, frames)


def read_clip(path: str | os.PathLike, *, model: str | os.PathLike | None = None) -> ClipTrack | SkipRecord:
    """The face followed through the video file ``path`` (module docstring), or why there is none:
    ``"unreadable"`` (OpenCV cannot open it; detail: the error naming the file) or ``"detect_error"``
    (MediaPipe raised).

    Raises:
        ModelFileError: no Face Landmarker model, or not a model bundle.
    """
    try:
        return follow_face(track_faces(path, model=model, max_faces=1))
    except VideoReadError as exc:
        return SkipRecord(str(path), "unreadable", str(exc))
    except RuntimeError as exc:
        return SkipRecord(str(path), "detect_error", f"{type(exc).__name__}: {exc}")


def _clip_problem(path: Path, track: ClipTrack) -> SkipRecord | None:
    """The skip of a clip whose track cannot make a sequence (no frame decoded, fewer than 2 faces), else ``None``."""
    if track.frames == 0:
        return SkipRecord(str(path), "unreadable", f"{path}: OpenCV decoded no frame (empty, truncated or an "
                                                   "unknown codec)")
    if len(track.faces) < 2:
        return SkipRecord(str(path), "no_face" if not track.faces else "too_few_frames",
                          f"a face in {len(track.faces)} of {track.frames} frames; a sequence needs an onset "
                          "and an apex (>= 2)")
    return None


def clip_landmarks(items: Sequence[ImageItem], tracks: Sequence[ClipTrack | SkipRecord], *, frames: int,
                   sampling: str = "uniform", skipped: Sequence[SkipRecord] = ()) -> LandmarkSet:
    """The landmark sequences of labelled clips from the face followed through each (``tracks[i]`` is
    ``items[i]``'s :class:`ClipTrack`, or the :class:`SkipRecord` of a clip that could not be read).

    Shapes, for the N clips with at least 2 frames with the face, in ``items`` order:
        points: (N, 478, 3) float32 image-normalized, the last detection (apex); onset: the first detection.
        frames: (N, frames, 478, 3), resampled with ``sampling`` (first = onset, last = apex).
        blendshapes (N, 52), transforms (N, 4, 4): the apex frame's (the label is the apex's expression).
        image_sizes: (N, 2) int32 (W, H) pixels.

    Subjects are parsed from the file stem as for images (``S010_004_...`` -> ``S010``), else the stem itself
    (one group per clip name); ``sequence_ids`` and ``sample_ids`` are the paths relative to the root.
    ``skipped``: the given records, then one per clip: its own :class:`SkipRecord`, or ``"unreadable"`` (no
    frame decoded), ``"no_face"`` / ``"too_few_frames"`` (0 / 1 frames with the face).

    Raises:
        ValueError: ``frames`` < 2, an unknown ``sampling``, or ``items`` and ``tracks`` of different lengths.
    """
    if len(items) != len(tracks):
        raise ValueError(f"{len(items)} clips but {len(tracks)} tracks; expected one track per clip")
    check_frame_options(frames, sampling)
    kept: list[tuple[ImageItem, ClipTrack]] = []
    skips = list(skipped)
    for item, track in zip(items, tracks):
        problem = track if isinstance(track, SkipRecord) else _clip_problem(item.path, track)
        if problem is None:
            kept.append((item, track))
        else:
            skips.append(problem)
    seqs = [resample_frames(np.stack([f.landmarks for f in tr.faces]), frames, sampling) for _, tr in kept]
    seq = np.stack(seqs) if seqs else np.zeros((0, frames, 478, 3), np.float32)
    apex = [tr.faces[-1] for _, tr in kept]
    return LandmarkSet(
        points=seq[:, -1].copy(), onset=seq[:, 0].copy(), frames=seq, labels=[it.label for it, _ in kept],
        subjects=[it.subject or it.path.stem for it, _ in kept], sample_ids=[it.sample_id for it, _ in kept],
        sequence_ids=[it.sample_id for it, _ in kept], units="image-normalized", source="mediapipe-video",
        splits=[it.split for it, _ in kept],
        blendshapes=np.array([f.blendshapes for f in apex], np.float32).reshape(-1, 52),
        transforms=np.array([f.transform for f in apex], np.float32).reshape(-1, 4, 4),
        image_sizes=np.array([tr.size for _, tr in kept], np.int32).reshape(-1, 2), skipped=skips)


def extract_video_clips(root: str | os.PathLike, *, frames: int, sampling: str = "uniform",
                        model: str | os.PathLike | None = None,
                        on_progress: Callable[[int, int], None] | None = None) -> tuple[LandmarkSet, dict[str, Any]]:
    """Read every labelled clip under ``root`` (module docstring), one after another in this process.

    Args:
        frames, sampling: frames per sequence T and how they are taken (:func:`clip_landmarks`).
        model: Face Landmarker ``.task`` file (:func:`~fer_graph.landmarks.mediapipe_source.resolve_model_path`).
        on_progress: ``(clips done, clips)`` after each clip.

    Returns:
        The :func:`clip_landmarks` set (skips: links the scan could not follow, then clips) and counts
        ``{"clips", "frames", "frames_with_face", "attempted_per_split"}`` (decoded frames, frames of the
        faces kept, clips tried per split).

    Raises:
        DatasetLayoutError, UnknownLabelError: see :func:`~fer_graph.landmarks.mediapipe_source.scan_image_tree`.
        ModelFileError: no Face Landmarker model. ValueError: see :func:`clip_landmarks`.
    """
    check_frame_options(frames, sampling)
    scan = scan_image_tree(root, kind="video")
    model_path = resolve_model_path(model)
    tracks: list[ClipTrack | SkipRecord] = []
    for item in scan.items:
        tracks.append(read_clip(item.path, model=model_path))
        if on_progress is not None:
            on_progress(len(tracks), len(scan.items))
    read = [t for t in tracks if isinstance(t, ClipTrack)]
    counts = {"clips": len(scan.items), "frames": sum(t.frames for t in read),
              "frames_with_face": sum(len(t.faces) for t in read),
              "attempted_per_split": dict(Counter(it.split for it in scan.items))}
    return clip_landmarks(scan.items, tracks, frames=frames, sampling=sampling, skipped=scan.skipped), counts
