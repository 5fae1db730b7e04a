"""Sequence graphs from labelled video clips through the MediaPipe Face Landmarker in VIDEO mode."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from ..exceptions import DatasetLayoutError
from ..landmarks._types import LandmarkSet
from ..landmarks.frames import check_frame_options
from ..landmarks.mediapipe_source import _sha256, resolve_model_path
from .dataset import FaceGraphDataset

__all__ = ["VideoFolderGraphs"]


class VideoFolderGraphs(FaceGraphDataset):
    """Face Mesh sequence graphs (468 nodes, or 478 with iris), one per labelled clip of a video folder.

    Each clip becomes one sequence of the face followed through it (:mod:`fer_graph.landmarks.video_clips`:
    track seen in most frames, frames without it skipped, resampled to ``sequence_frames``), laid out as the
    CK+ lands sequence datasets (``CKLandsGraphs(sequence_frames=T)``), so ``--arch stgcn`` trains on it.

    Args:
        root: output folder (``OUT``).
        raw_root: ``<root>/<label>/<clip>`` or ``<root>/<split>/<label>/<clip>`` video tree.
        sequence_frames: frames per sequence T (>= 2).
        frame_sampling: ``"uniform"`` or ``"ends"`` (:func:`fer_graph.landmarks.frames.resample_frames`).
        model: Face Landmarker ``.task`` file (resolution order in ``resolve_model_path``).
        align, include_z, include_iris: node-feature options, as for image folders
            (:func:`fer_graph.graphs.normalize.normalize_for_topology`; ``"pose"`` needs ``include_z``).
        on_progress: ``(clips done, clips)`` callback during extraction.

    Items carry ``frames`` ``(V, T, D)``, ``pos`` (the last frame, the apex) and ``onset`` (the first), every
    frame normalized on its own as the image datasets' faces are; ``blendshapes`` (1, 52), ``transform``
    (1, 4, 4) and ``head_pose`` (1, 3) are the apex frame's. ``meta["attempted_per_split"]`` counts every
    clip tried; ``meta["skipped"]`` gives each clip without a sequence and why.

    Raises:
        DatasetLayoutError: ``raw_root`` is not a folder. ValueError: see
            :func:`~fer_graph.landmarks.frames.check_frame_options`. ModelFileError: no model file.
    """

    source = "mediapipe-video"

    def __init__(self, root: str | os.PathLike, raw_root: str | os.PathLike, *, sequence_frames: int,
                 frame_sampling: str = "uniform", model: str | os.PathLike | None = None, align: bool | str = True,
                 include_z: bool = False, include_iris: bool = False, transform: Callable | None = None,
                 force_reload: bool = False, on_progress: Callable[[int, int], None] | None = None) -> None:
        check_frame_options(sequence_frames, frame_sampling)
        self._raw_root = Path(raw_root)
        if not self._raw_root.is_dir():
            raise DatasetLayoutError(f"{self._raw_root}: video folder not found")
        self._model_path = resolve_model_path(model)
        self._on_progress = on_progress
        super().__init__(root, options={"align": align, "include_z": include_z, "include_iris": include_iris,
                                        "sequence_frames": sequence_frames, "frame_sampling": frame_sampling,
                                        "model_sha256": _sha256(self._model_path),
                                        "raw_root": str(self._raw_root.resolve())},
                         transform=transform, force_reload=force_reload)

    def read_landmarks(self) -> LandmarkSet:
        from ..landmarks.video_clips import extract_video_clips

        start = time.perf_counter()
        lms, counts = extract_video_clips(self._raw_root, frames=self.options["sequence_frames"],
                                          sampling=self.options["frame_sampling"], model=self._model_path,
                                          on_progress=self._on_progress)
        self._extra_meta = {"attempted_per_split": counts.pop("attempted_per_split"),
                            "extraction": {**counts, "wall_s": round(time.perf_counter() - start, 3),
                                           "model": str(self._model_path)}}
        return lms
