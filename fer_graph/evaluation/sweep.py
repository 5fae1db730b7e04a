"""``run_occlusion_sweep``: trained runs scored under every occlusion condition, written as a report.

The library function behind ``fer-graph occlusion-sweep`` and the occlusion study; the command line only
parses options and draws progress.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..occlusion.regions import REGION_NAMES
from ..occlusion.strategies import STRATEGIES
from .occlusion import DEFAULT_EXTENTS, DEFAULT_NOISE, RunEvaluator, make_conditions, occlusion_sweep
from .occlusion_report import write_sweep_report

__all__ = ["SweepResult", "run_occlusion_sweep", "image_occlusion_report"]

Progress = Callable[[str, int, int], None]


@dataclass
class SweepResult:
    """What a sweep wrote and measured.

    Attributes:
        summary: per-model ``summary.json`` entries (:func:`~fer_graph.evaluation.occlusion.summarize_sweep`).
        rows: every sweep row (graph conditions, then image-occlusion rows).
        image_rows: the painted-occluder rows (empty without image occlusion).
        conditions: number of graph conditions; wall_s: seconds; evaluators: the scored runs.
    """

    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    image_rows: list[dict[str, Any]]
    conditions: int
    wall_s: float
    evaluators: list[RunEvaluator] = field(default_factory=list)
    image_stats: dict[str, Any] = field(default_factory=dict)


def _check_image_occlusion(ds, regions: Sequence[str]) -> None:
    if ds.meta.get("source") != "mediapipe":
        raise ValueError(f"image occlusion needs a dataset built from images by the Face Landmarker (source "
                         f"'mediapipe'); {ds.processed_dir} has source {ds.meta.get('source')!r}")
    if not regions:
        raise ValueError("image occlusion needs at least one region")


def run_occlusion_sweep(runs: Sequence[str | os.PathLike], ds, out_dir: str | os.PathLike, *,
                        names: Sequence[str] | None = None, regions: Sequence[str] = REGION_NAMES,
                        strategies: Sequence[str] = STRATEGIES, extents: Sequence[float] = DEFAULT_EXTENTS,
                        noise: Sequence[float] = DEFAULT_NOISE, noise_region: str = "all",
                        random_dropout: bool = True, seed: int = 0, sensitivity: bool = False,
                        image_occlusion: bool = False, image_limit: int | None = None,
                        model: str | os.PathLike | None = None, visibility_model: str | os.PathLike | None = None,
                        extra: dict[str, Any] | None = None, on_progress: Progress | None = None) -> SweepResult:
    """Score ``runs`` on ``ds`` under the same occlusions and write ``OUT/sweep.csv``, ``OUT/summary.json``
    and plots (:func:`~fer_graph.evaluation.occlusion_report.write_sweep_report`).

    Args:
        runs: run directories trained on ``ds``; names: their table names (default: folder names).
        regions, strategies, extents, noise, noise_region, random_dropout: the condition grid
            (:func:`~fer_graph.evaluation.occlusion.make_conditions`).
        seed: seeds patches, dropout and noise (the same for every model).
        sensitivity: also write occlusion-sensitivity maps (``OUT/sensitivity_<model>.png``, ``sensitivity.json``).
        image_occlusion: image datasets: also paint each region's occluder on the held-out images, re-run
            the Face Landmarker (``model``, the one the dataset was built with) and classify
            (strategies ``image`` and ``image+oracle``; ``OUT/occluders.png``); image_limit: at most N images
            per fold (seeded).
        visibility_model: with ``image_occlusion``: a ``train-visibility`` output (folder or ``visibility.pt``):
            adds the strategy ``image+visibility`` (landmarks it estimates hidden removed) and its clean row.
        extra: added to ``summary.json`` under ``"sweep"``.
        on_progress: ``(task, done, total)`` callback.

    Raises:
        ValueError: ``names`` of another length than ``runs``, unknown regions / strategies, bad extents,
            image occlusion on a landmark-CSV dataset. SweepError, CheckpointMismatchError: see
            :class:`~fer_graph.evaluation.occlusion.RunEvaluator`.
    """
    start = time.perf_counter()
    if names and len(names) != len(runs):
        raise ValueError(f"{len(names)} name(s) for {len(runs)} run(s)")
    if image_occlusion:
        _check_image_occlusion(ds, regions)
    evaluators = [RunEvaluator(r, ds, name=names[i] if names else None) for i, r in enumerate(runs)]
    conditions = make_conditions(ds.topology, regions=regions, strategies=strategies, extents=extents,
                                 noise=noise, noise_region=noise_region, random_dropout=random_dropout)
    rows = occlusion_sweep(evaluators, conditions, seed=seed,
                           on_progress=(lambda i, n: on_progress("sweep", i, n)) if on_progress else None)
    if visibility_model is not None and not image_occlusion:
        raise ValueError("--visibility-model needs --image-occlusion")
    image_rows, stats = (image_occlusion_report(evaluators, ds, regions, out_dir, model=model, limit=image_limit,
                                                seed=seed, on_progress=on_progress, visibility_model=visibility_model)
                         if image_occlusion else ([], {}))
    summary = write_sweep_report(rows + image_rows, out_dir, extra={
        "runs": [str(r) for r in runs], "data": str(ds.processed_dir), "seed": seed, "conditions": len(conditions),
        "wall_s": round(time.perf_counter() - start, 2), **(extra or {})})
    if sensitivity:
        from .sensitivity import write_sensitivity_report

        write_sensitivity_report(evaluators, out_dir, seed=seed)
    return SweepResult(summary, rows + image_rows, image_rows, len(conditions), time.perf_counter() - start,
                       evaluators, stats)


def image_occlusion_report(evaluators: Sequence[RunEvaluator], ds, regions: Sequence[str],
                           out_dir: str | os.PathLike, *, model: str | os.PathLike | None = None,
                           limit: int | None = None, seed: int = 0, on_progress: Progress | None = None,
                           visibility_model: str | os.PathLike | None = None
                           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Painted-occluder rows for every run (:func:`~fer_graph.evaluation.image_occlusion.image_occlusion_rows`)
    and ``OUT/occluders.png``; returns ``(rows, {"detections", "detect_seconds", "gallery"})``."""
    from ..models.visibility import load_visibility
    from ..occlusion.image import save_occluder_gallery
    from .image_occlusion import OccludedDetections, image_occlusion_rows, select_samples

    out, rows = Path(out_dir), []
    visibility = None if visibility_model is None else load_visibility(visibility_model, ds.topology.name)
    with OccludedDetections(ds, model_path=model, patches=visibility is not None) as det:
        first = int(evaluators[0].sample_index[select_samples(evaluators[0], limit, seed)[0][1][0]])
        save_occluder_gallery(det.image(first), det.clean_landmarks(first), regions, out / "occluders.png",
                              topology=ds.topology, margin=det.margin)
        for ev in evaluators:
            task = f"image occlusion {ev.name}"
            rows += image_occlusion_rows(ev, ds, regions, limit=limit, seed=seed, detections=det, visibility=visibility,
                                         on_progress=(lambda i, n, t=task: on_progress(t, i, n)) if on_progress
                                         else None)
    return rows, {"detections": det.detections, "detect_seconds": det.detect_seconds,
                  "gallery": str(out / "occluders.png")}
