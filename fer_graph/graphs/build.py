"""``build_graphs``: one call from a dataset folder to a processed graph dataset and its summary."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._io import write_json
from ..paths import default_output_dir, resolve_dataset_path
from .dataset import CKLandsGraphs, FaceGraphDataset, LandmarkCSVGraphs, write_skipped_csv

__all__ = ["SOURCES", "build_graphs", "resolve_alignment", "summarize"]

#: Landmark sources accepted by :func:`build_graphs` (and ``fer-graph build-graphs --source``).
SOURCES: tuple[str, ...] = ("ck-lands", "mediapipe", "csv")
_DEFAULT_ROOTS = {"ck-lands": "ck_lands/CK+"}


def build_graphs(
    source: str,
    root: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    *,
    workers: int | None = None,
    model: str | os.PathLike | None = None,
    align: bool | str | None = None,
    include_z: bool | None = None,
    include_iris: bool = False,
    ibug68: bool = False,
    apex_frames: int = 1,
    sequences: int = 0,
    frame_sampling: str = "uniform",
    label: str | None = None,
    subject: str | None = None,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[FaceGraphDataset, dict[str, Any]]:
    """Build (or load, when up to date) the graph dataset of a landmark source and summarize it.

    Args:
        source: ``"ck-lands"`` (68-point CSV sequences), ``"mediapipe"`` (Face Landmarker over an image
            folder) or ``"csv"`` (generic / OpenFace landmark CSV).
        root: the dataset folder itself (``.../ck_lands/CK+``, ``.../ck48``, ``.../fer2013``, a split
            folder such as ``.../fer2013/publictest``) or the CSV file. A relative path that does not exist
            is looked up under ``$FER_GRAPH_DATA`` (else ``./data``); ck-lands defaults to ``ck_lands/CK+``.
        out: output folder; default ``data/processed/<dataset name>``. Receives ``processed/``,
            ``summary.json`` and ``skipped.csv`` (every skipped input with its reason).
        workers: extraction processes for image sources (default: all cores); video clips are read one
            after another in this process.
        model: Face Landmarker ``.task`` file (see :func:`fer_graph.landmarks.mediapipe_source.resolve_model_path`).
        align, include_z, include_iris, apex_frames: build options (see the dataset classes; ``align="pose"``
            rotates faces in 3-D onto the canonical face, :func:`fer_graph.graphs.normalize.normalize_for_topology`).
            Defaults (``None``): ``"mediapipe"`` builds 3-D pose-aligned graphs (``align="pose"``,
            ``include_z=True``: the better inputs in docs/results.md), other sources 2-D eye-aligned ones;
            ``align="pose"`` implies ``include_z``.
        ibug68: ``"mediapipe"``: graphs of the 68 iBUG points mapped from each mesh
            (:func:`fer_graph.landmarks.mesh68.mesh_to_ibug68`); 2-D eye-aligned unless ``include_z``.
        sequences, frame_sampling: > 0 builds a sequence dataset, every graph also carrying its sequence as
            ``frames`` of that many frames: ``"ck-lands"``, ``CKLandsGraphs``' ``sequence_frames``;
            ``"mediapipe"``, ``root`` is a folder of labelled video clips, one sequence per clip
            (:class:`~fer_graph.graphs.video_dataset.VideoFolderGraphs`, source ``"mediapipe-video"``).
        label, subject: ``"csv"`` sources: the label and subject of every row of a file without those
            columns (one OpenFace / py-feat video, say).
        force: rebuild even when an up-to-date processed dataset exists.
        on_progress: ``(done, total)`` callback during landmark extraction.

    Returns:
        The dataset and the summary dict written to ``OUT/summary.json`` (keys ``source``, ``graphs``,
        ``subjects``, ``nodes``, ``edges``, ``per_class``, ``per_split``, ``skipped``, ``detection_rate``,
        ``wall_s``, ``images_per_s``, plus ``classes``, ``topology``, ``per_class_split``, ``options``,
        ``processed_dir``, ``rebuilt``).

    Raises:
        ValueError: unknown ``source``; ``label`` or ``subject`` for a source other than ``"csv"``;
            ``sequences`` for ``"csv"`` or with ``ibug68``.
        NoSamplesError: every input was skipped; ``OUT/skipped.csv`` is written first and the message
            gives the top reasons with counts and that path. A failed build leaves no processed folder.
        DatasetLayoutError, LandmarkFileError, UnknownLabelError, ModelFileError: from the sources.
    """
    if source not in SOURCES:
        raise ValueError(f"source={source!r}; expected one of {list(SOURCES)}")
    if source != "csv" and (label is not None or subject is not None):
        raise ValueError(f"label / subject apply to csv sources; {source} takes labels from its layout")
    if sequences and (source == "csv" or ibug68):
        raise ValueError(f"sequences apply to ck-lands and mediapipe (video clips) sources, without ibug68; "
                         f"got {source}" + (" with ibug68" if ibug68 else ""))
    if ibug68 and source != "mediapipe":
        raise ValueError(f"ibug68 maps Face Mesh detections (source mediapipe); {source} landmarks are not meshes")
    align, include_z = resolve_alignment(source, align, include_z, ibug68=ibug68)
    path = resolve_dataset_path(root, _DEFAULT_ROOTS.get(source))
    out_dir = Path(out) if out is not None else default_output_dir(path)
    start = time.perf_counter()
    if source == "ck-lands":
        ds: FaceGraphDataset = CKLandsGraphs(out_dir, path, apex_frames=apex_frames, align=align, force_reload=force,
                                             sequence_frames=sequences, frame_sampling=frame_sampling)
    elif sequences:
        from .video_dataset import VideoFolderGraphs

        ds = VideoFolderGraphs(out_dir, path, sequence_frames=sequences, frame_sampling=frame_sampling, model=model,
                               align=align, include_z=include_z, include_iris=include_iris, force_reload=force,
                               on_progress=on_progress)
    elif source == "csv":
        ds = LandmarkCSVGraphs(out_dir, path, align=align, include_z=include_z, include_iris=include_iris,
                               label=label, subject=subject, force_reload=force)
    else:
        from .image_dataset import ImageFolderGraphs

        ds = ImageFolderGraphs(out_dir, path, model=model, workers=workers, align=align, include_z=include_z,
                               include_iris=include_iris, force_reload=force, on_progress=on_progress,
                               ibug68=ibug68)
    wall = time.perf_counter() - start
    summary = summarize(ds, wall_s=wall)
    write_json(out_dir / "summary.json", summary)
    write_skipped_csv(out_dir / "skipped.csv", ds.meta.get("skipped", []))
    return ds, summary


def resolve_alignment(source: str, align: bool | str | None, include_z: bool | None, *, ibug68: bool = False
                      ) -> tuple[bool | str, bool]:
    """``(align, include_z)`` of a build: ``None`` values take the source's defaults — ``"mediapipe"``:
    ``("pose", True)`` unless ``include_z`` is False or the meshes become 68 iBUG points (``ibug68``, which
    have no canonical face); other sources ``(True, False)``; ``"pose"`` implies z."""
    if align is None:
        align = "pose" if source == "mediapipe" and include_z is not False and not ibug68 else True
    return align, align == "pose" if include_z is None else include_z


def summarize(ds: FaceGraphDataset, *, wall_s: float) -> dict[str, Any]:
    """The ``summary.json`` dict of a built dataset (see :func:`build_graphs` for the keys)."""
    meta = ds.meta
    extraction = meta.get("extraction") or {}
    attempted = meta.get("attempted_per_split")
    detection = None
    if attempted:
        detection = {s: (meta["per_split"].get(s, 0) / n if n else None) for s, n in attempted.items()}
    extracted = extraction.get("extracted_images", 0)
    ex_wall = extraction.get("wall_s")
    return {
        "source": meta["source"],
        "graphs": meta["graphs"],
        "subjects": len(meta["subjects"]) if meta["subjects"] else None,
        "nodes": meta["num_nodes"],
        "edges": meta["num_edges"],
        "per_class": meta["per_class"],
        "per_split": meta["per_split"],
        "skipped": dict(Counter(r["reason"] for r in meta.get("skipped", []))),
        "detection_rate": detection,
        "wall_s": round(wall_s, 3),
        "images_per_s": round(extracted / ex_wall, 2) if extracted and ex_wall else None,
        "classes": meta["classes"],
        "topology": meta["topology"],
        "node_dims": meta["node_dims"],
        "per_class_split": meta["per_class_split"],
        "attempted_per_split": attempted,
        "extraction": extraction or None,
        "options": meta["options"],
        "processed_dir": str(Path(ds.processed_dir)),
        "rebuilt": ds.build_seconds is not None,
    }
