"""Inference with a trained run: images, landmark arrays or datasets -> class probabilities."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import read_json
from ..exceptions import FerGraphError
from ..graphs.features import FeatureSpec
from ..graphs.normalize import normalize_for_topology
from ..graphs.topology import get_topology
from ..landmarks._types import SkipRecord
from ..training.checkpoint import check_compatible, load_checkpoint
from ..training.trainer import predict_proba

__all__ = ["ExpressionModel", "load_model", "RunNotFoundError"]


class RunNotFoundError(FerGraphError, FileNotFoundError):
    """The run directory is missing or holds no GNN checkpoint."""


class ExpressionModel:
    """A trained run ready for prediction.

    The run's fold models (k-fold protocols) are all loaded and their probabilities averaged — each was
    trained on 90% of the subjects, so the ensemble uses every training subject.

    Args:
        run: a run directory written by ``fer-graph train`` (GNN architectures).
        folds: load only these fold models (e.g. ``[0]``: one graph pass per face instead of k);
            ``None`` = all.
        backend: layer implementation, ``"fast"`` (default; dense fixed-topology layers) or ``"pyg"``.

    Attributes:
        classes: class names, in the order of probability columns.
        topology: :class:`~fer_graph.graphs.topology.Topology` the models expect.
        features: the :class:`~fer_graph.graphs.features.FeatureSpec` they were trained on.

    Raises:
        RunNotFoundError: no such run, no ``checkpoints/fold_*.pt`` in it, or a requested fold missing.
    """

    def __init__(self, run: str | os.PathLike, *, folds: Sequence[int] | None = None,
                 backend: str = "fast") -> None:
        run = Path(run)
        if not (run / "config.json").is_file():
            raise RunNotFoundError(f"{run}: not a fer-graph run directory (no config.json)")
        files = sorted((run / "checkpoints").glob("fold_*.pt"))
        if not files:
            raise RunNotFoundError(f"{run}: no GNN checkpoints (checkpoints/fold_*.pt); predict needs a gcn/gat run")
        if folds is not None:
            wanted = {int(k) for k in folds}
            files = [f for f in files if int(f.stem.split("_")[1]) in wanted]
            if len(files) != len(wanted):
                raise RunNotFoundError(f"{run}: folds {sorted(wanted)} requested, checkpoints exist for "
                                       f"{[f.stem for f in sorted((run / 'checkpoints').glob('fold_*.pt'))]}")
        loaded = [load_checkpoint(f, backend=backend) for f in files]
        self.run = run
        self.models = [m for m, _ in loaded]
        self.meta: dict[str, Any] = loaded[0][1]
        self.classes: list[str] = list(self.meta["classes"])
        self.topology = get_topology(self.meta["topology"])
        self.features = FeatureSpec.parse(self.meta["features"])
        self.dims = int(self.meta["node_dims"])
        self.align = bool(self.meta.get("normalization", {}).get("align", True))

    def __repr__(self) -> str:
        return f"ExpressionModel({str(self.run)!r}, {len(self.models)} model(s), classes={self.classes})"

    @torch.no_grad()
    def _predict_features(self, x: torch.Tensor, graph_attr: torch.Tensor | None) -> np.ndarray:
        probs = sum(predict_proba(m, x, graph_attr, self.topology) for m in self.models) / len(self.models)
        return probs.numpy()

    def predict_landmarks(self, points: np.ndarray, *, onset: np.ndarray | None = None,
                          blendshapes: np.ndarray | None = None, head_pose: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``(N, C)`` for raw landmarks.

        Args:
            points: ``(N, V, D)`` landmarks in isotropic units (pixels; MediaPipe x·W, y·H, z·W), V the
                run's node count (478-point input is cut to 468 for ``mediapipe468`` runs).
            onset: ``(N, V, D)`` neutral frames, required when the run uses displacement features.
            blendshapes: ``(N, 52)``, required by runs trained with blendshapes.
            head_pose: ``(N, 3)`` degrees, required by runs trained with pose.

        Raises:
            ValueError: missing inputs the run's features need, or a point count of another topology.
        """
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim == 2:
            pts = pts[None]
        if pts.shape[1] < self.topology.num_nodes:
            raise ValueError(f"points have {pts.shape[1]} landmarks; this run expects {self.topology.num_nodes} "
                             f"({self.topology.name})")

        def norm(p: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(normalize_for_topology(p, self.topology, dims=self.dims, align=self.align)[0])

        def per_face(a: np.ndarray | None) -> torch.Tensor | None:
            return None if a is None else torch.as_tensor(np.asarray(a, np.float32).reshape(len(pts), -1))

        onset_n = None if onset is None else norm(np.asarray(onset, np.float32).reshape(pts.shape))
        x = self.features.node_from(norm(pts), onset_n)
        ga = self.features.graph_from(per_face(blendshapes), per_face(head_pose))
        return self._predict_features(x, ga)

    def predict_dataset(self, ds) -> np.ndarray:
        """Probabilities ``(G, C)`` for a processed dataset of the same topology and features.

        Raises:
            CheckpointMismatchError: other topology, feature set or coordinate dims.
        """
        check_compatible(self.meta, topology=ds.meta["topology"], features=str(self.features),
                         node_dims=int(ds.meta["node_dims"]), where=str(ds.processed_dir))
        return self._predict_features(self.features.node_features(ds), self.features.graph_features(ds))

    def predict_images(self, images: Sequence[str | os.PathLike], *, model: str | os.PathLike | None = None,
                       on_progress: Callable[[int, int], None] | None = None
                       ) -> tuple[np.ndarray, list[str], list[SkipRecord], list[np.ndarray]]:
        """Detect faces with the Face Landmarker and classify them.

        Returns:
            ``(probs (M, C), paths of the M images with a face, skipped images with reasons,
            M landmark arrays (478, 3) in image-normalized units)``.

        Raises:
            ValueError: the run was trained on 68-point landmarks (images give MediaPipe Face Mesh).
        """
        from ..graphs.dataset import head_pose
        from ..landmarks._mediapipe_worker import load_image
        from ..landmarks.mediapipe_source import FaceLandmarkDetector

        if not self.topology.name.startswith("mediapipe"):
            raise ValueError(f"this run was trained on {self.topology.name} landmarks; images yield MediaPipe "
                             "Face Mesh landmarks, so predict images with a run trained on a mediapipe dataset")
        pts, blends, poses, kept, skipped, raw = [], [], [], [], [], []
        with FaceLandmarkDetector(model) as det:
            for i, path in enumerate(images):
                if on_progress is not None:
                    on_progress(i, len(images))
                try:
                    arr = load_image(str(path))  # EXIF-oriented, gray or RGB uint8
                except (OSError, ValueError) as exc:
                    skipped.append(SkipRecord(str(path), "unreadable", str(exc)))
                    continue
                face = det.detect(arr)
                if isinstance(face, str):
                    skipped.append(SkipRecord(str(path), face))
                    continue
                h, w = arr.shape[:2]
                p = face.landmarks.copy()
                p[:, 0] *= w
                p[:, 1] *= h
                p[:, 2] *= w
                pts.append(p)
                blends.append(face.blendshapes)
                poses.append(head_pose(face.transform[None])[0])
                kept.append(str(path))
                raw.append(face.landmarks)
        if on_progress is not None:
            on_progress(len(images), len(images))
        if not pts:
            return np.zeros((0, len(self.classes))), kept, skipped, raw
        probs = self.predict_landmarks(np.stack(pts), blendshapes=np.stack(blends), head_pose=np.stack(poses))
        return probs, kept, skipped, raw


def load_model(run: str | os.PathLike, *, folds: Sequence[int] | None = None, backend: str = "fast") -> ExpressionModel:
    """Load a trained run for prediction: ``fer_graph.load_model("runs/gat").predict_images([...])``.

    ``folds=[0]`` loads one fold model instead of averaging all k (k times less graph compute per face).
    """
    return ExpressionModel(run, folds=folds, backend=backend)
