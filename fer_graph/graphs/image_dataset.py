"""Graphs from image folders through the MediaPipe Face Landmarker (FER-2013, CK+48, any labelled folder)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..exceptions import DatasetLayoutError
from ..landmarks._types import LandmarkSet
from ..landmarks.mediapipe_source import (
    DetectionOptions,
    _sha256,
    extract_image_folder,
    resolve_model_path,
    scan_image_tree,
)
from .dataset import FaceGraphDataset

__all__ = ["ImageFolderGraphs", "built_landmarks"]


class ImageFolderGraphs(FaceGraphDataset):
    """Face Mesh graphs (468 nodes, or 478 with iris) of the faces the Face Landmarker finds in a folder.

    Args:
        root: output folder (``OUT``); the extraction cache lives in ``OUT/landmarks`` so an interrupted
            build resumes without redoing finished images.
        raw_root: ``<root>/<split>/<label>/*`` or ``<root>/<label>/*`` image tree
            (see :func:`fer_graph.landmarks.mediapipe_source.scan_image_tree`).
        model: Face Landmarker ``.task`` file (resolution order in ``resolve_model_path``).
        workers: extraction processes (default: all cores).
        detection: preprocessing and confidence cascade; the default (gray 50% border, tiers 0.5 -> 0.1 ->
            0.01) is the best measured on FER-2013 (``README.md``, Landmark extraction).
        align, include_z, include_iris: node-feature options (``align``: True, False or "pose", see
            :func:`fer_graph.graphs.normalize.normalize_for_topology`).
        ibug68: map each detected mesh to the 68 iBUG points (:func:`fer_graph.landmarks.mesh68.mesh_to_ibug68`):
            graphs of the ``ibug68`` topology, as 68-point landmark sources give (no pose alignment).
        on_progress: ``(done, total)`` callback during extraction.

    Items carry ``blendshapes`` (1, 52), ``transform`` (1, 4, 4), ``head_pose`` (1, 3) and ``tier`` (1,).
    ``meta["attempted_per_split"]`` counts every image tried, so detection rates are detected/attempted;
    symlinks that cannot be followed are not images tried, they are in ``meta["skipped"]`` only.
    """

    source = "mediapipe"

    def __init__(self, root: str | os.PathLike, raw_root: str | os.PathLike, *, model: str | os.PathLike | None = None,
                 workers: int | None = None, detection: DetectionOptions | None = None, align: bool | str = True,
                 include_z: bool = False, include_iris: bool = False, transform: Callable | None = None,
                 force_reload: bool = False, on_progress: Callable[[int, int], None] | None = None,
                 ibug68: bool = False) -> None:
        if ibug68 and (align == "pose" or include_iris):
            raise ValueError("ibug68 graphs have no canonical face or iris points: use align=True/False and "
                             "include_iris=False")
        self._raw_root = Path(raw_root)
        if not self._raw_root.is_dir():
            raise DatasetLayoutError(f"{self._raw_root}: image folder not found")
        self._model_path = resolve_model_path(model)
        self._workers = workers
        self._detection = detection or DetectionOptions()
        self._on_progress = on_progress
        super().__init__(root, options={"align": align, "include_z": include_z, "include_iris": include_iris,
                                        "detection": self._detection.as_dict(),
                                        "model_sha256": _sha256(self._model_path),
                                        "raw_root": str(self._raw_root.resolve()),
                                        **({"ibug68": True} if ibug68 else {})},
                         transform=transform, force_reload=force_reload)

    def read_landmarks(self) -> LandmarkSet:
        items = scan_image_tree(self._raw_root).items
        cached: list[int] = []

        def progress(done: int, total: int) -> None:
            if not cached:
                cached.append(done)  # the first call reports what the cache already held
            if self._on_progress is not None:
                self._on_progress(done, total)

        start = time.perf_counter()
        lms = extract_image_folder(self._raw_root, cache_dir=Path(self.root) / "landmarks", model=self._model_path,
                                   workers=self._workers, options=self._detection, on_progress=progress)
        wall = time.perf_counter() - start
        attempted: dict[str, int] = {}
        for item in items:
            attempted[item.split] = attempted.get(item.split, 0) + 1
        self._extra_meta = {
            "attempted_per_split": attempted,
            "extraction": {"images": len(items), "cached_images": cached[0] if cached else 0,
                           "extracted_images": len(items) - (cached[0] if cached else 0),
                           "wall_s": round(wall, 3), "workers": self._workers or os.cpu_count(),
                           "model": str(self._model_path)},
        }
        return _as_ibug68(lms) if self.options.get("ibug68") else lms


def _as_ibug68(lms: LandmarkSet) -> LandmarkSet:
    """``lms`` with its meshes mapped to the 68 iBUG points (image-normalized in, image-normalized out)."""
    from dataclasses import replace

    from ..landmarks.mesh68 import mesh_to_ibug68

    w = lms.image_sizes[:, 0].astype(np.float32)[:, None]
    h = lms.image_sizes[:, 1].astype(np.float32)[:, None]
    pts = mesh_to_ibug68(lms.pixel_points())
    pts[..., 0] /= w
    pts[..., 1] /= h
    if pts.shape[-1] > 2:
        pts[..., 2] /= w
    return replace(lms, points=pts)


def built_landmarks(ds: FaceGraphDataset, model: str | os.PathLike | None = None) -> LandmarkSet:
    """The Face Landmarker results a processed image dataset was built from, in the original images' frames
    (``points`` image-normalized, ``image_sizes`` W, H): read from the build's landmark cache
    (``OUT/landmarks``), re-detected with the build's options only where the cache is gone.

    Raises:
        DatasetLayoutError: not built from images (meta ``source`` not ``"mediapipe"``), or the image folder
            is gone.
        ModelFileError: no model file (needed only for a re-detection).
    """
    if ds.meta.get("source") != "mediapipe":
        raise DatasetLayoutError(f"{ds.processed_dir}: not built from images with the Face Landmarker "
                                 f"(source {ds.meta.get('source')!r})")
    opts = ds.meta["options"]
    raw = Path(opts["raw_root"])
    if not raw.is_dir():
        raise DatasetLayoutError(f"{raw}: the image folder {ds.processed_dir} was built from is gone")
    det = DetectionOptions(**opts["detection"])
    return extract_image_folder(raw, cache_dir=Path(ds.processed_dir).parent.parent / "landmarks",
                                model=resolve_model_path(model), options=det, workers=0)
