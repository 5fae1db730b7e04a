"""Image-level occlusion: paint a real occluder on each held-out face image, re-run the Face Landmarker,
classify — next to graph masking of the same region, to show how far the graph simulation is from a real
occluder.

Graph masking removes the region's landmarks. A painted occluder does not: the Face Landmarker never
reports a landmark as missing, it predicts all 478 points anyway, so the occluded landmarks are
*displaced* (guessed), the others may move with them, and blendshapes and head pose change too; or the
face is no longer found at all. Each row says how often the face was still detected (``detected``) and
how far the re-detected landmarks moved from the clean ones (``shift_iod``, ``region_shift_iod``).

Protocol, as in :func:`~fer_graph.evaluation.occlusion.occlusion_sweep`: each fold's held-out samples
(optionally ``limit`` per fold, seeded) scored with that fold's model. For each sample and region:

1. the original image (``meta options raw_root / sample_id``) and its clean landmarks, taken from the
   dataset (the stored coordinates de-normalized: the Face Landmarker's x·W, y·H in the ORIGINAL image,
   the detector's padding already removed — equal to a re-detection of the clean image to 1e-5 px);
2. :func:`~fer_graph.occlusion.image.paint_occluder` with the region's
   :func:`~fer_graph.occlusion.image.occluder_style` (sunglasses, medical mask, half-face cover...);
3. :class:`~fer_graph.landmarks.mediapipe_source.FaceLandmarkDetector` with the dataset build's
   :class:`~fer_graph.landmarks.mediapipe_source.DetectionOptions` (padding, confidence cascade) and model
   (checked by sha256);
4. node features exactly as the build makes them (``normalize_for_topology`` with the dataset's ``align``
   and ``node_dims``), blendshapes and head pose from the new detection when the run uses them;
5. the fold's model.

Undetected faces count as errors: ``accuracy`` (the headline, = ``accuracy_all``), ``macro_f1`` and
``per_class_recall`` are over all ``n`` samples, an undetected face being a wrong prediction — an occluder
that hides the face from the detector defeats the whole pipeline, and scoring detected faces only would
reward models for the detector's failures. ``accuracy_detected`` is over the ``detected`` faces only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..graphs.pose import head_pose
from ..graphs.normalize import NormalizationParams, denormalize_landmarks, normalize_for_topology
from ..occlusion.image import fill_area, occluder_area, occluder_style
from ..occlusion.occluders import hidden_landmarks
from ..occlusion.patches import patch_features
from ..occlusion.regions import get_region
from ..occlusion.strategies import occlude
from .metrics import classification_metrics
from .occlusion import IMAGE_STRATEGIES, IMAGE_STRATEGY, ORACLE_STRATEGY, VISIBILITY_STRATEGY, RunEvaluator, SweepError

__all__ = ["IMAGE_STRATEGY", "ORACLE_STRATEGY", "VISIBILITY_STRATEGY", "IMAGE_STRATEGIES", "Redetection",
           "OccludedDetections", "image_occlusion_rows", "select_samples"]


@dataclass(frozen=True)
class Redetection:
    """The Face Landmarker's result on one (occluded) image, ready for the models.

    Attributes:
        pos: ``(V, D)`` float32 node coordinates, normalized like the dataset's ``pos``.
        blendshapes: ``(52,)`` float32.
        head_pose: ``(3,)`` float32 degrees (pitch, yaw, roll), as the dataset's ``head_pose``.
        tier: confidence tier that found the face.
        shift_iod: mean distance between the re-detected and the clean landmarks (the V topology nodes,
            image pixels, x and y), in clean inter-ocular distances.
        region_shift_iod: the same over the occluded region's nodes (``nan`` for a clean re-detection).
        oracle_hidden: ``(V,)`` bool, the landmarks whose clean position the painted occluder covers (all
            False for a clean image): what a perfect visibility estimate would say.
        patches: ``(V, P)`` float16 patch features at the re-detected landmarks
            (:func:`~fer_graph.occlusion.patches.patch_features`), when the detections were asked for them.
    """

    pos: np.ndarray
    blendshapes: np.ndarray
    head_pose: np.ndarray
    tier: int
    shift_iod: float
    region_shift_iod: float
    oracle_hidden: np.ndarray
    patches: np.ndarray | None = None


class OccludedDetections:
    """Occluded images of a Face Landmarker dataset and their re-detections, cached in memory per
    (sample, region), so a sweep of several runs detects each occluded image once.

    Args:
        ds: a processed dataset built from images (meta ``source`` ``"mediapipe"``).
        model_path: Face Landmarker ``.task`` (default: ``$FER_GRAPH_FACE_LANDMARKER``, then the user cache;
            see :func:`~fer_graph.landmarks.mediapipe_source.resolve_model_path`); must be the build's model.
        margin: occluder growth in inter-ocular distances (:func:`~fer_graph.occlusion.image.paint_occluder`).
        patches: also compute each re-detection's patch features (for a visibility estimator).

    Attributes:
        detect_seconds: wall time spent painting and detecting (cache misses).
        detections: occluded images detected so far (cache misses).

    Raises:
        SweepError: the dataset is not image-sourced, or the model differs from the build's.
        ModelFileError: no model file.
    """

    def __init__(self, ds, *, model_path: str | os.PathLike | None = None, margin: float = 0.15,
                 patches: bool = False) -> None:
        from ..landmarks.mediapipe_source import DetectionOptions, _sha256, resolve_model_path

        if ds.meta.get("source") != "mediapipe":
            raise SweepError(f"{ds.processed_dir}: image occlusion needs a dataset built from images with the Face "
                             f"Landmarker (source 'mediapipe'); this one has source {ds.meta.get('source')!r}")
        opts = ds.meta["options"]
        self.ds = ds
        self.margin = float(margin)
        self.patches = bool(patches)
        self.raw_root = Path(opts["raw_root"])
        self.options = DetectionOptions(**opts["detection"])
        self.model_path = resolve_model_path(model_path)
        if opts.get("model_sha256") and _sha256(self.model_path) != opts["model_sha256"]:
            raise SweepError(f"{self.model_path}: not the Face Landmarker model {ds.processed_dir} was built with "
                             f"(sha256 {opts['model_sha256']}); occluded and clean landmarks would not compare")
        self.topology = ds.topology
        self.align = opts.get("align", True)
        #: pose-aligned coordinates cannot be turned back into image landmarks: read the build's landmarks
        self._built = self._built_landmarks(ds, model_path) if self.align == "pose" else None
        self.dims = int(ds.meta["node_dims"])
        self.sample_ids = list(ds.sample_ids)
        self._pos, self._center = ds.tensor("pos"), ds.tensor("norm_center").numpy()
        self._angle = ds.tensor("norm_angle").numpy()
        #: (G,) clean inter-ocular distances in pixels
        self.iod = ds.tensor("norm_scale").numpy()
        self._cache: dict[tuple[str, str | None], Redetection | None] = {}
        self._detector = None
        self.detect_seconds = 0.0
        self.detections = 0

    def __enter__(self) -> OccludedDetections:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the detector (the cache stays); idempotent."""
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    @staticmethod
    def _built_landmarks(ds, model_path) -> dict[str, np.ndarray]:
        """``{sample_id: (V, 2) float32 pixels}`` from the build's landmark cache."""
        from ..graphs.image_dataset import built_landmarks

        lms = built_landmarks(ds, model_path)
        px = lms.pixel_points()[:, :ds.topology.num_nodes, :2].astype(np.float32)
        return dict(zip(lms.sample_ids, px))

    def clean_landmarks(self, index: int) -> np.ndarray:
        """``(V, 2)`` float32 clean landmarks of dataset sample ``index`` in pixels of its original image."""
        if self._built is not None:
            return self._built[self.sample_ids[index]]
        sl = slice(index, index + 1)
        params = NormalizationParams(self._center[sl], self.iod[sl], self._angle[sl])
        return denormalize_landmarks(self._pos[sl].numpy(), params)[0, :, :2]

    def image(self, index: int) -> np.ndarray:
        """The original image of dataset sample ``index`` (``(H, W)`` or ``(H, W, 3)`` uint8).

        Raises:
            SweepError: the image is gone (raw data moved since the build).
        """
        from ..landmarks.images import load_rgb

        path = self.raw_root / self.sample_ids[index]
        try:
            return load_rgb(path, keep_gray=True)
        except FileNotFoundError as exc:
            raise SweepError(f"{path}: image of sample {self.sample_ids[index]!r} not found; image occlusion needs "
                             f"the raw images the dataset was built from (meta raw_root {self.raw_root})") from exc

    def painted(self, index: int, region: str) -> np.ndarray:
        """Sample ``index``'s image with ``region``'s occluder painted on it."""
        return self._painted(index, region)[0]

    def _painted(self, index: int, region: str) -> tuple[np.ndarray, np.ndarray]:
        """``(painted image, (H, W) bool painted pixels)``."""
        style = occluder_style(region, self.topology)
        image = self.image(index)
        area = occluder_area(image, self.clean_landmarks(index), style.nodes, margin=self.margin, shape=style.shape,
                             iod=float(self.iod[index]))
        return fill_area(image, area, style.color), area

    def get(self, index: int, region: str | None) -> Redetection | None:
        """The re-detection of sample ``index`` occluded by ``region`` (``None``: the clean image), or
        ``None`` when the Face Landmarker finds no face (or several distinct ones)."""
        key = (self.sample_ids[index], region)
        if key not in self._cache:
            self._cache[key] = self._detect(index, region)
        return self._cache[key]

    def _detect(self, index: int, region: str | None) -> Redetection | None:
        from ..landmarks.mediapipe_source import FaceLandmarkDetector

        start = time.perf_counter()
        if self._detector is None:
            self._detector = FaceLandmarkDetector(self.model_path, options=self.options)
        clean = self.clean_landmarks(index)
        if region is None:
            image, hidden = self.image(index), np.zeros(len(clean), bool)
        else:
            image, area = self._painted(index, region)
            hidden = hidden_landmarks(area, clean)
        face = self._detector.detect(image)
        self.detect_seconds += time.perf_counter() - start
        self.detections += 1
        if isinstance(face, str):
            return None
        h, w = image.shape[:2]
        px = face.landmarks * np.array([w, h, w], np.float32)  # x·W, y·H, z·W: the build's pixel_points
        pos = normalize_for_topology(px[None], self.topology, dims=self.dims, align=self.align)[0][0]
        v = self.topology.num_nodes
        dist = np.linalg.norm(px[:v, :2] - clean, axis=1) / float(self.iod[index])
        region_shift = float("nan") if region is None else float(dist[get_region(region, self.topology)].mean())
        patches = patch_features(image, px[:v, :2]).astype(np.float16) if self.patches else None
        return Redetection(pos, face.blendshapes, head_pose(face.transform[None])[0], int(face.tier),
                           float(dist.mean()), region_shift, hidden, patches)


def _features(evaluator: RunEvaluator, found: Sequence[Redetection]
              ) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray]:
    """The run's node features, graph attributes and blendshapes of re-detected faces, as the build and
    :class:`RunEvaluator` make them."""
    if "disp" in evaluator.spec.node:  # needs a neutral onset frame: no image dataset has one
        raise SweepError(f"{evaluator.run}: features {evaluator.spec} use 'disp', which image occlusion "
                         "cannot recompute from one image")
    x = evaluator.spec.node_from(torch.from_numpy(np.stack([r.pos for r in found])))
    blend = np.stack([r.blendshapes for r in found]).astype(np.float32)
    pose = torch.from_numpy(np.stack([r.head_pose for r in found]).astype(np.float32))
    return x, evaluator.spec.graph_from(torch.from_numpy(blend), pose), blend


def select_samples(evaluator: RunEvaluator, limit: int | None = None, seed: int = 0
                   ) -> list[tuple[int, np.ndarray]]:
    """``[(fold, held-out positions)]`` in evaluator order: all of each fold's held-out samples, or a seeded
    choice of ``limit`` of them (sorted; seeded by ``(seed, fold)``, so runs with the same folds get the
    same samples)."""
    out = []
    for k, te, _ in evaluator.folds:
        if limit is not None and len(te) > limit:
            te = np.sort(np.random.default_rng([seed, k]).choice(te, size=limit, replace=False))
        out.append((k, te))
    return out


def _hidden(strategy: str, found: Sequence[Redetection], visibility) -> np.ndarray | None:
    """``(n, V)`` bool landmarks a strategy treats as hidden, or None (``image``: none)."""
    if strategy == ORACLE_STRATEGY:
        return np.stack([r.oracle_hidden for r in found])
    if strategy == VISIBILITY_STRATEGY:
        return visibility.predict_hidden(np.stack([r.patches for r in found]))
    return None


def _classify_found(evaluator: RunEvaluator, fold: int, found: Sequence[Redetection], strategy: str,
                    visibility) -> tuple[np.ndarray, float]:
    """Predictions for re-detected faces under ``strategy`` and the mean fraction of landmarks it hid: the
    hidden landmarks go through the run's reference strategy (node removal for graph models, mean-face
    imputation for models on flattened coordinates), as graph occlusion does."""
    x, ga, blend = _features(evaluator, found)
    hidden = _hidden(strategy, found, visibility)
    if hidden is None or not hidden.any():
        return evaluator.classify(fold, x, ga, blend), 0.0
    hidden[hidden.all(1)] = False  # a face with every landmark hidden keeps them all, as no face cannot be scored
    ref = evaluator.reference_strategy
    batch = occlude(x, torch.from_numpy(hidden), ref, mean_face=evaluator.mean_faces[fold])
    pred = evaluator.classify(fold, batch.x, ga, blend, mask=batch.present,
                              visible=batch.visible if ref == "masking" else None)
    return pred, float(hidden.mean())


def _conditions(regions: Sequence[str], visibility) -> list[tuple[str | None, str]]:
    """(region or None for the clean image, strategy) pairs scored by :func:`image_occlusion_rows`."""
    strategies = [IMAGE_STRATEGY, ORACLE_STRATEGY] + ([VISIBILITY_STRATEGY] if visibility is not None else [])
    clean = [(None, VISIBILITY_STRATEGY)] if visibility is not None else []
    return clean + [(r, s) for r in regions for s in strategies]


def image_occlusion_rows(evaluator: RunEvaluator, ds, regions: Sequence[str], *,
                         model_path: str | os.PathLike | None = None, margin: float = 0.15,
                         limit: int | None = None, seed: int = 0,
                         on_progress: Callable[[int, int], None] | None = None,
                         detections: OccludedDetections | None = None, visibility=None) -> list[dict[str, Any]]:
    """Score a run on its held-out images with each region painted over and the faces re-detected.

    Args:
        evaluator: the run (its folds, fold models, feature spec and labels).
        ds: the image-sourced dataset it was trained on.
        regions: region presets (:data:`~fer_graph.occlusion.regions.REGION_NAMES`).
        model_path: Face Landmarker (see :class:`OccludedDetections`); ignored with ``detections``.
        margin: occluder growth in inter-ocular distances.
        limit: at most this many held-out samples per fold (seeded choice, :func:`select_samples`).
        seed: seeds that choice.
        on_progress: ``(done, total)`` over faces x conditions.
        detections: a shared :class:`OccludedDetections` of ``ds`` (pass the same one for every run of a
            sweep: each occluded image is then detected once); default: a private one, closed on return.
        visibility: a :class:`~fer_graph.models.visibility.VisibilityEstimator`: adds the strategy
            ``image+visibility`` (landmarks it estimates hidden are removed), on every region and on the
            clean images (region ``"none"``); ``detections`` must then compute patches.

    Returns:
        one row per region and strategy in the sweep's schema — ``model, strategy, region, extent`` (the
        region's share of the V nodes), ``noise=0.0, accuracy, macro_f1, n, arch, kind, noise_region="all",
        per_class_recall`` — plus ``detected`` (faces found), ``accuracy_all`` (= ``accuracy``: undetected
        faces count as errors), ``accuracy_detected``, ``shift_iod`` and ``region_shift_iod`` (means over
        detected faces, ``nan`` if none; see :class:`Redetection`), ``hidden_fraction`` (mean share of
        landmarks the strategy hid), ``clean_accuracy`` (the stored clean landmarks on the same samples) and
        ``margin``. Strategies: ``image`` (the re-detected mesh as it is), ``image+oracle`` (the landmarks
        under the paint removed) and ``image+visibility``.

    Raises:
        SweepError: not an image dataset, another model file, a missing image, ``disp`` features,
            ``detections`` of another dataset or margin, or without patches for ``visibility``.
        RegionError: unknown region.
    """
    topo = ds.topology
    extents = {r: round(len(get_region(r, topo)) / topo.num_nodes, 4) for r in regions}  # validates names
    own = detections is None
    det = OccludedDetections(ds, model_path=model_path, margin=margin, patches=visibility is not None) if own \
        else detections
    if det.ds.processed_dir != ds.processed_dir or det.margin != float(margin):
        raise SweepError(f"detections were made for {det.ds.processed_dir} with margin {det.margin}; "
                         f"this call asks for {ds.processed_dir} with margin {margin}")
    if visibility is not None and not det.patches:
        raise SweepError("a visibility estimator needs detections with patches (OccludedDetections(patches=True))")
    chosen = select_samples(evaluator, limit, seed)
    y_true = np.concatenate([evaluator.y[te] for _, te in chosen])
    clean_pred = np.concatenate([
        evaluator.classify(k, evaluator.x[te], None if evaluator.graph_attr is None else evaluator.graph_attr[te],
                           None if evaluator.blendshapes is None else evaluator.blendshapes[te])
        for k, te in chosen])
    clean_acc = float((clean_pred == y_true).mean()) if len(y_true) else float("nan")
    conditions = _conditions(list(regions), visibility)
    progress = _Progress(len(conditions) * len(y_true), on_progress)
    rows = []
    try:
        for region, strategy in conditions:
            pred, found_all, hid = _condition_predictions(evaluator, det, chosen, region, strategy, visibility, progress)
            m = classification_metrics(y_true, pred, evaluator.classes)
            hit = pred >= 0
            rows.append({
                "model": evaluator.name, "strategy": strategy, "region": region or "none",
                "extent": extents[region] if region else 0.0, "noise": 0.0, "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"], "n": m["n"], "arch": evaluator.arch, "kind": evaluator.kind,
                "reference_strategy": evaluator.reference_strategy, "noise_region": "all",
                "per_class_recall": m["per_class_recall"], "detected": int(hit.sum()), "accuracy_all": m["accuracy"],
                "accuracy_detected": float((pred[hit] == y_true[hit]).mean()) if hit.any() else float("nan"),
                "shift_iod": _mean([r.shift_iod for r in found_all]),
                "region_shift_iod": _mean([r.region_shift_iod for r in found_all]),
                "hidden_fraction": hid, "clean_accuracy": clean_acc, "margin": float(margin),
            })
    finally:
        if own:
            det.close()
    return rows


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


class _Progress:
    """Counts faces scored and reports ``(done, total)``."""

    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


def _condition_predictions(evaluator: RunEvaluator, det: OccludedDetections, chosen, region: str | None,
                           strategy: str, visibility, progress: _Progress
                           ) -> tuple[np.ndarray, list[Redetection], float]:
    """Predictions of every chosen face (-1: no face, always wrong), the re-detections, the hidden share."""
    preds, found_all, hidden = [], [], []
    for k, te in chosen:
        found, where = [], []
        for j, pos in enumerate(te):
            r = det.get(int(evaluator.sample_index[pos]), region)
            progress.step()
            if r is not None:
                found.append(r)
                where.append(j)
        pred = np.full(len(te), -1, dtype=np.int64)
        if found:
            pred[where], share = _classify_found(evaluator, k, found, strategy, visibility)
            hidden.append((share, len(found)))
        preds.append(pred)
        found_all += found
    n = sum(c for _, c in hidden)
    return np.concatenate(preds), found_all, (sum(s * c for s, c in hidden) / n) if n else float("nan")
