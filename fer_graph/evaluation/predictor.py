"""Inference with a trained model (a run, a model file or a bundled model): images, landmark arrays or
datasets -> class probabilities."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import read_json
from ..exceptions import FerGraphError
from ..graphs.features import FeatureSpec
from ..graphs.normalize import normalize_for_topology
from ..graphs.topology import get_topology
from ..landmarks._types import SkipRecord
from ..models.estimator import CHECKPOINT_SUFFIXES, FaceClassifier, ModelInputs, load_classifier
from ..models.pretrained import BUNDLED_MODELS, DEFAULT_MODEL, bundled_onnx, resolve_pretrained
from ..training.rundir import IncompleteRunError, verify_run

__all__ = ["ExpressionModel", "FaceRecord", "ImagePredictions", "estimate_hidden", "load_model", "load_fold_models",
           "track_video",
           "RunNotFoundError"]


class RunNotFoundError(FerGraphError, FileNotFoundError):
    """The run directory is missing or holds no fold model."""


def _fold_of(path: Path) -> int:
    return int(path.stem.split("_")[1])


def load_fold_models(run: str | os.PathLike, *, folds: Sequence[int] | None = None, backend: str = "fast"
                     ) -> tuple[dict[int, FaceClassifier], dict[str, Any]]:
    """The fold models of a run directory: ``({fold: classifier}, meta of the first)``, any model family
    (``checkpoints/fold_XX.pt`` GNNs, ``fold_XX.skops`` scikit-learn baselines).

    Args:
        run: a run directory written by ``fer-graph train``.
        folds: load only these folds; ``None`` = all.
        backend: GNN layers, ``"fast"`` or ``"pyg"``.

    Raises:
        RunNotFoundError: no such run, no fold model in it, or a requested fold missing.
        IncompleteRunError: no manifest (an interrupted run), files missing or changed, or fold models
            other than the folds the run lists; only the files the manifest lists are ever loaded.
        ModelLoadError: a model file that cannot be loaded safely.
    """
    run = Path(run)
    if not (run / "config.json").is_file():
        raise RunNotFoundError(f"{run}: not a fer-graph run directory (no config.json)")
    manifest = verify_run(run)
    files = sorted(run / f for f in manifest["files"]
                   if f.startswith("checkpoints/fold_") and Path(f).suffix in CHECKPOINT_SUFFIXES)
    if not files:
        raise RunNotFoundError(f"{run}: no fold models (checkpoints/fold_*{{{','.join(CHECKPOINT_SUFFIXES)}}})")
    expected = read_json(run / "config.json").get("fold_indices")
    if expected is not None and sorted(expected) != sorted(_fold_of(f) for f in files):
        raise IncompleteRunError(f"{run}: config.json lists folds {expected}, the run holds models of "
                                 f"{[f.stem for f in files]}")
    if folds is not None:
        wanted = {int(k) for k in folds}
        if not wanted:
            raise ValueError(f"{run}: folds=[] selects no model; give fold numbers or None for all")
        chosen = [f for f in files if _fold_of(f) in wanted]
        if len(chosen) != len(wanted):
            raise RunNotFoundError(f"{run}: folds {sorted(wanted)} requested, models exist for "
                                   f"{[f.stem for f in files]}")
        files = chosen
    loaded = {_fold_of(f): load_classifier(f, backend=backend) for f in files}
    return {k: clf for k, (clf, _) in loaded.items()}, next(iter(loaded.values()))[1]


def _load_source(source: str | os.PathLike | None, folds: Sequence[int] | None, backend: str, onnx: bool = True
                 ) -> tuple[list[FaceClassifier], dict[str, Any], str]:
    """``(models, meta, description)`` of a run directory, a model file or a bundled model name."""
    name = DEFAULT_MODEL if source is None else str(source)
    if name in BUNDLED_MODELS:
        source = (backend == "fast" and onnx and bundled_onnx(name)) or resolve_pretrained(name)
    path = Path(source)
    if path.is_dir():
        by_fold, meta = load_fold_models(path, folds=folds, backend=backend)
        return list(by_fold.values()), meta, str(path)
    if path.suffix in CHECKPOINT_SUFFIXES and path.is_file():
        if folds is not None:
            raise ValueError(f"{path}: folds={list(folds)} selects fold models of a run directory; "
                             "a model file holds one model")
        clf, meta = load_classifier(path, backend=backend)
        return [clf], meta, name
    raise RunNotFoundError(f"{source}: not a fer-graph run directory, a model file ({', '.join(CHECKPOINT_SUFFIXES)}) "
                           f"or a bundled model name ({', '.join(sorted(BUNDLED_MODELS))})")


class ExpressionModel:
    """A trained model ready for prediction: any model family (GNN or scikit-learn baseline).

    A run's fold models (k-fold protocols) are all loaded and their probabilities averaged — each was
    trained on 90% of the subjects, so the ensemble uses every training subject.

    Args:
        source: a run directory written by ``fer-graph train``, one model file (``.pt``, ``.skops``), or
            the name of a model that ships with the package (:data:`fer_graph.models.pretrained.BUNDLED_MODELS`);
            ``None``: the bundled default (:data:`~fer_graph.models.pretrained.DEFAULT_MODEL`).
        folds: run directories only: load only these fold models (e.g. ``[0]``: one model per face
            instead of k); ``None`` = all.
        backend: GNN layer implementation of ``.pt`` checkpoints, ``"fast"`` (default; dense fixed-topology
            layers) or ``"pyg"``. With ``"fast"``, a bundled model runs its ONNX export in ONNX Runtime when
            that is installed (the same probabilities to 1e-4, without importing PyTorch); ``.onnx`` files
            always do.
        onnx: with ``backend="fast"``, let a bundled model run its ONNX export; False loads its PyTorch
            checkpoint (node masks for a visibility estimator need it).

    Attributes:
        source: what was loaded (the run directory, the file, or the bundled name).
        classes: class names, in the order of probability columns.
        topology: :class:`~fer_graph.graphs.topology.Topology` the models expect.
        features: the :class:`~fer_graph.graphs.features.FeatureSpec` they were trained on.
        models: the fold models (:class:`~fer_graph.models.estimator.FaceClassifier`).

    Raises:
        RunNotFoundError: ``source`` is none of the above; see also :func:`load_fold_models`.
        ValueError: ``folds`` given with a model file or bundled name.
        FileNotFoundError: a bundled model whose weights the installed package lacks.
    """

    def __init__(self, source: str | os.PathLike | None = None, *, folds: Sequence[int] | None = None,
                 backend: str = "fast", onnx: bool = True) -> None:
        self.models, meta, self.source = _load_source(source, folds, backend, onnx)
        self.meta: dict[str, Any] = meta
        self.classes: list[str] = list(meta["classes"])
        self.topology = get_topology(meta["topology"])
        self.features = FeatureSpec.parse(meta["features"])
        self.dims = int(meta["node_dims"])
        self.align = meta.get("normalization", {}).get("align", True)  # True, False or "pose"

    def __repr__(self) -> str:
        return f"ExpressionModel({self.source!r}, {len(self.models)} model(s), classes={self.classes})"

    def predict_inputs(self, inputs: ModelInputs, *, hidden: np.ndarray | None = None) -> np.ndarray:
        """``(G, C)`` probabilities averaged over the fold models (numpy inputs become tensors for models
        other than ONNX exports). ``hidden`` ``(G, V)`` bool: landmarks to remove (node removal), for graph
        models (PyTorch checkpoints) only.

        Raises:
            ValueError: ``hidden`` with a model that cannot remove nodes.
        """
        if isinstance(inputs.x, np.ndarray) and not self.numpy_inputs:
            inputs = _as_tensors(inputs)
        if hidden is None or not np.asarray(hidden).any():
            return sum(m.predict_proba(inputs) for m in self.models) / len(self.models)
        if self.numpy_inputs or not all(getattr(m, "supports_removal", False) for m in self.models):
            raise ValueError(f"{self.source}: removing hidden landmarks needs a graph model's PyTorch checkpoint "
                             "(a GNN run or .pt file, or a bundled model loaded with onnx=False)")
        import torch

        keep = torch.from_numpy(~np.asarray(hidden, bool))
        keep[~keep.any(1)] = True  # a face with every landmark hidden keeps them all
        return sum(m.predict_proba(inputs, mask=keep) for m in self.models) / len(self.models)

    @property
    def numpy_inputs(self) -> bool:
        """Whether every model takes numpy arrays (ONNX exports: prediction without importing PyTorch)."""
        return all(m.suffix == ".onnx" for m in self.models)

    def predict_landmarks(self, points: np.ndarray, *, onset: np.ndarray | None = None,
                          blendshapes: np.ndarray | None = None, head_pose: np.ndarray | None = None,
                          hidden: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``(N, C)`` for raw landmarks.

        Args:
            points: ``(N, V, D)`` landmarks in isotropic units (pixels; MediaPipe x·W, y·H, z·W), V the
                run's node count (478-point input is cut to 468 for ``mediapipe468`` runs).
            onset: ``(N, V, D)`` neutral frames, required when the run uses displacement features.
            blendshapes: ``(N, 52)``, required by runs trained with blendshapes and blendshape baselines.
            head_pose: ``(N, 3)`` degrees, required by runs trained with pose.
            hidden: ``(N, V)`` bool landmarks to remove (see :meth:`predict_inputs`).

        Raises:
            ValueError: missing inputs the run's features need, or a point count of another topology.
        """
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim == 2:
            pts = pts[None]
        if pts.shape[1] < self.topology.num_nodes:
            raise ValueError(f"points have {pts.shape[1]} landmarks; this run expects {self.topology.num_nodes} "
                             f"({self.topology.name})")

        def norm(p: np.ndarray) -> np.ndarray:
            return normalize_for_topology(p, self.topology, dims=self.dims, align=self.align)[0]

        def per_face(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.asarray(a, np.float32).reshape(len(pts), -1)

        onset_n = None if onset is None else norm(np.asarray(onset, np.float32).reshape(pts.shape))
        x = self.features.node_from(norm(pts), onset_n)
        ga = self.features.graph_from(per_face(blendshapes), per_face(head_pose))
        v = self.topology.num_nodes
        return self.predict_inputs(ModelInputs(x, ga, per_face(blendshapes)),
                                   hidden=None if hidden is None else np.asarray(hidden, bool).reshape(len(pts), -1)[:, :v])

    @property
    def sequence_frames(self) -> int:
        """Frames per sequence T of a sequence run (``seq`` features, e.g. ``--arch stgcn``); 0 for frame runs."""
        return int(self.meta.get("model_kwargs", {}).get("frames") or 0) if "seq" in self.features.node else 0

    def predict_sequences(self, frames: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, C)`` of landmark sequences, for a sequence run.

        Args:
            frames: ``(N, T0, V, D)`` landmarks of ``T0 >= 2`` frames per sequence, onset first, in isotropic
                units (pixels); Face Mesh landmarks (V >= 468) given to a 68-point run are mapped to the iBUG
                points (:func:`~fer_graph.landmarks.mesh68.mesh_to_ibug68`). Each sequence is resampled to the
                run's T frames (``uniform``) and every frame normalized as the sequence datasets do; the first
                frame is the onset the displacements are measured from.

        Raises:
            ValueError: not a sequence run, fewer than 2 frames, or a point count of another topology.
        """
        from ..landmarks.frames import resample_frames

        t = self.sequence_frames
        seq = np.asarray(frames, np.float32)
        if not t or seq.ndim != 4 or seq.shape[1] < 2:
            raise ValueError(f"{self.source}: predict_sequences needs a sequence run (features 'seq') and (N, T0 >= 2, "
                             f"V, D) frames; got features {str(self.features)!r}, frames of shape {seq.shape}")
        n, t0, v, d = seq.shape
        if self.topology.name == "ibug68" and v >= 468:
            from ..landmarks.mesh68 import mesh_to_ibug68

            seq = mesh_to_ibug68(seq.reshape(n * t0, v, d)).reshape(n, t0, 68, d)
        seq = np.stack([resample_frames(s, t) for s in seq])  # (N, T, V, D)
        norm = normalize_for_topology(seq.reshape(n * t, *seq.shape[2:]), self.topology, dims=self.dims,
                                      align=self.align)[0].reshape(n, t, self.topology.num_nodes, self.dims)
        per_node = np.ascontiguousarray(norm.transpose(0, 2, 1, 3))  # (N, V, T, D)
        x = self.features.node_from(per_node[:, :, -1], per_node[:, :, 0], per_node)
        return self.predict_inputs(ModelInputs(x.astype(np.float32)))

    def predict_dataset(self, ds) -> np.ndarray:
        """Probabilities ``(G, C)`` for a processed dataset of the same topology and features.

        Raises:
            CheckpointMismatchError: other topology, feature set or coordinate dims.
        """
        from ..training.checkpoint import check_compatible

        check_compatible(self.meta, topology=ds.meta["topology"], features=str(self.features),
                         node_dims=int(ds.meta["node_dims"]), where=str(ds.processed_dir))
        return self.predict_inputs(ModelInputs.from_dataset(ds, self.features))

    def predict_images(self, images: Sequence[str | os.PathLike], *, model: str | os.PathLike | None = None,
                       max_faces: int = 10, tiles: bool = False, workers: int = 1,
                       on_progress: Callable[[int, int], None] | None = None, visibility=None) -> ImagePredictions:
        """Detect every face (up to ``max_faces`` per image) with the Face Landmarker and classify them.

        Args:
            images: image files; EXIF orientation is applied (:func:`fer_graph.landmarks.images.load_rgb`).
            model: Face Landmarker ``.task`` file (``None``: :func:`~fer_graph.landmarks.mediapipe_source.resolve_model_path`).
            max_faces: faces per image the landmarker may return.
            tiles: also search photos tile by tile for small faces (group photos; about 10× the detection
                time; :meth:`~fer_graph.landmarks.mediapipe_source.FaceLandmarkDetector.detect_tiles`).
            workers: detectors working at once, one per process: this one and ``workers - 1`` ``spawn``
                worker processes sharing the images (folders of more than 8); the graph model runs once,
                in this process, over every face.
            on_progress: ``(done, total)`` callback.
            visibility: a :class:`~fer_graph.models.visibility.VisibilityEstimator`: each face's landmarks it
                estimates hidden (:attr:`FaceRecord.hidden`) are removed before classification.

        Returns:
            :class:`ImagePredictions`: one probability row and one :class:`FaceRecord` per face found, and
            the images without a face or unreadable as skip records, in input order.

        Raises:
            ValueError: a 68-point model that needs an onset frame or blendshapes (images give Face Mesh
                landmarks, mapped to the iBUG points for apex-only 68-point models).
            ModelFileError: no Face Landmarker model file.
        """
        from ..landmarks._mediapipe_worker import detect_faces
        from ..landmarks.mediapipe_source import DetectionOptions, FaceLandmarkDetector, resolve_model_path

        self.require_detections()
        paths = [str(p) for p in images]
        options = DetectionOptions(num_faces=max_faces)
        if workers > 1 and len(paths) > 8:  # more than one chunk of 8 paths to share
            found = _detect_in_pool(paths, str(resolve_model_path(model)), options, tiles, workers, on_progress)
        else:
            found = []
            with FaceLandmarkDetector(model, options=options) as det:
                for i, path in enumerate(paths):
                    if on_progress is not None:
                        on_progress(i, len(paths))
                    found.append(detect_faces(det, path, tiles))
        if on_progress is not None:
            on_progress(len(paths), len(paths))
        faces: list[FaceRecord] = []
        for path, result in zip(paths, found):
            if not isinstance(result, SkipRecord):
                (w, h) = result[1]
                faces += [FaceRecord.of(path, k, (w, h), f) for k, f in enumerate(result[0])]
        if visibility is not None:
            faces = estimate_hidden(faces, visibility, self._mesh_nodes)
        return ImagePredictions(self.predict_faces(faces), faces, [r for r in found if isinstance(r, SkipRecord)])

    def predict_video(self, source: str | os.PathLike | int, *, model: str | os.PathLike | None = None,
                      max_faces: int = 10, max_frames: int | None = None, batch_frames: int = 32,
                      visibility=None) -> Iterator[tuple[Any, list[FaceRecord], np.ndarray]]:
        """Track faces through a video file or camera (an int) and classify them, ``batch_frames`` frames
        per graph-model call; with a ``visibility`` estimator (as :meth:`predict_images`), each face's
        landmarks estimated hidden in its frame are removed before classification.

        Yields:
            ``(frame, faces, probs)`` per frame, in order: the :class:`~fer_graph.landmarks.video.Frame`, its
            :class:`FaceRecord` list (left to right; ``frame`` and ``time_s`` set; ``face`` the track id, which
            stays with a person from frame to frame, :class:`~fer_graph.landmarks.tracks.FaceTracks`; empty
            when no face is seen) and their
            ``(len(faces), C)`` probabilities. Memory holds one batch of frames at a time.

        Raises:
            ValueError: a 68-point model that needs an onset frame or blendshapes (see :meth:`predict_images`).
            VideoReadError: OpenCV cannot open ``source``. ModelFileError: no Face Landmarker model.
        """
        self.require_detections()
        pending: list[tuple[Any, list[FaceRecord]]] = []
        for frame, faces in track_video(source, model=model, max_faces=max_faces, max_frames=max_frames):
            pending.append((frame, faces))
            if len(pending) == batch_frames:
                yield from self._classify_frames(pending, visibility)
                pending = []
        yield from self._classify_frames(pending, visibility)

    def _classify_frames(self, pending: list, visibility=None) -> Iterator[tuple[Any, list[FaceRecord], np.ndarray]]:
        faces = [f for _, fs in pending for f in fs]
        if visibility is not None:  # one estimate over the batch, each face in its own frame
            faces = estimate_hidden(faces, visibility, self._mesh_nodes,
                                    images=[frame.rgb for frame, fs in pending for _ in fs])
        probs = self.predict_faces(faces)
        start = 0
        for frame, fs in pending:
            yield frame, faces[start:start + len(fs)], probs[start:start + len(fs)]
            start += len(fs)

    @property
    def _mesh_nodes(self) -> int:
        """Face Mesh landmarks a detection must supply: the run's nodes, or the 468 mapped to 68 points."""
        return 468 if self.topology.name == "ibug68" else self.topology.num_nodes

    def require_detections(self, sequences: bool = False) -> None:
        """Check that this run can classify Face Landmarker detections: Face Mesh runs take them, 68-point runs
        through :func:`~fer_graph.landmarks.mesh68.mesh_to_ibug68` if they need no onset frame (apex-only
        features) or, for windows of video frames (``sequences``), are sequence runs.

        Raises:
            ValueError: a sequence run outside ``sequences``, or a run that cannot read detections (why).
        """
        if "seq" in self.features.node and not sequences:
            raise ValueError(f"{self.source} is a sequence run (features 'seq'): it classifies windows of video "
                             "frames (predict clip.mp4), not single images or frames")
        if self.topology.name.startswith("mediapipe"):
            return
        node_ok = self.features.node == ("apex",) or (sequences and "seq" in self.features.node)
        if self.topology.name != "ibug68" or not node_ok or self.features.graph:
            raise ValueError(f"this model was trained on {self.topology.name} landmarks with features "
                             f"{str(self.features)!r}; images yield MediaPipe Face Mesh landmarks, which feed a "
                             "model trained on a mediapipe dataset, or a 68-point model trained on apex "
                             "coordinates alone (--features apex: a photo has no onset frame)")

    def predict_faces(self, faces: Sequence[FaceRecord]) -> np.ndarray:
        """``(M, C)`` probabilities of detected faces (their landmarks, blendshapes and, for models that use
        it, head pose)."""
        if not faces:
            return np.zeros((0, len(self.classes)))
        pose = None
        if "pose" in self.features.graph:  # scipy's rotations load only for models that use them
            from ..graphs.pose import head_pose

            pose = head_pose(np.stack([f.transform for f in faces]))
        pts = np.stack([f.pixel_landmarks() for f in faces])
        hidden = None
        if any(f.hidden is not None for f in faces):
            v = self._mesh_nodes
            hidden = np.stack([np.zeros(v, bool) if f.hidden is None else f.hidden[:v] for f in faces])
        if self.topology.name == "ibug68":  # a 68-point run on Face Mesh detections
            from ..landmarks.mesh68 import MESH_TO_IBUG68, mesh_to_ibug68

            pts = mesh_to_ibug68(pts)
            hidden = None if hidden is None else hidden[:, list(MESH_TO_IBUG68)]
        return self.predict_landmarks(pts, blendshapes=np.stack([f.blendshapes for f in faces]), head_pose=pose,
                                      hidden=hidden)


def track_video(source: str | os.PathLike | int, *, model: str | os.PathLike | None = None, max_faces: int = 10,
                max_frames: int | None = None) -> Iterator[tuple[Any, list[FaceRecord]]]:
    """Detect and track faces through a video file or camera (an int): yields ``(frame, faces)`` per frame,
    the :class:`FaceRecord` list left to right with ``face`` the track id
    (:func:`~fer_graph.landmarks.video.track_faces`), ``frame`` and ``time_s`` set.

    Raises:
        VideoReadError: OpenCV cannot open ``source``. ModelFileError: no Face Landmarker model.
    """
    from ..landmarks.video import track_faces

    name = f"camera:{source}" if isinstance(source, int) else str(source)
    for frame, faces in track_faces(source, model=model, max_faces=max_faces, max_frames=max_frames):
        size = (frame.rgb.shape[1], frame.rgb.shape[0])
        yield frame, [FaceRecord.of(name, k, size, f, frame.index, frame.time_s) for k, f in faces]


def _as_tensors(inputs: ModelInputs) -> ModelInputs:
    """``inputs`` with torch tensors in place of numpy arrays."""
    import torch

    def t(a: np.ndarray | None):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    return ModelInputs(t(inputs.x), t(inputs.graph_attr), t(inputs.blendshapes), inputs.graph_names)


@dataclass(frozen=True)
class FaceRecord:
    """One face found in an input image (or video frame).

    Attributes:
        input: the image path; face: index in that image, left to right; size: ``(W, H)`` pixels.
        box: ``(x, y, w, h)`` pixels, the landmarks' bounding box.
        landmarks: (478, 3) float32 image-normalized (x / W, y / H, z on x's scale).
        blendshapes: (52,) float32; transform: (4, 4) float32 facial transformation matrix.
        tier: detection confidence tier that found it; pad: the border it was found with (fraction of a side).
        frame, time_s: video frame index and time in seconds (``None`` for images).
        hidden: ``(V,)`` bool landmarks a visibility estimator calls hidden, or ``None`` without one.
    """

    input: str
    face: int
    size: tuple[int, int]
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    blendshapes: np.ndarray
    transform: np.ndarray
    tier: int
    pad: float
    frame: int | None = None
    time_s: float | None = None
    hidden: np.ndarray | None = None

    @classmethod
    def of(cls, input: str, face: int, size: tuple[int, int], found, frame: int | None = None,
           time_s: float | None = None) -> FaceRecord:
        """The record of detected face ``found`` (a :class:`~fer_graph.landmarks.mediapipe_source.FaceResult`)
        of an image of ``size`` (W, H) pixels."""
        return cls(input, face, size, found.box(*size), found.landmarks, found.blendshapes, found.transform,
                   found.tier, found.pad, frame, time_s)

    def pixel_landmarks(self) -> np.ndarray:
        """(478, 3) float32 in pixels (x·W, y·H, z·W): the isotropic units :meth:`ExpressionModel.predict_landmarks` takes."""
        return self.landmarks * np.array([self.size[0], self.size[1], self.size[0]], np.float32)


@dataclass
class ImagePredictions:
    """What :meth:`ExpressionModel.predict_images` found: ``probs`` (M, C) and ``faces`` (M records), row
    for row; ``skipped``: inputs without a prediction, with the reason."""

    probs: np.ndarray
    faces: list[FaceRecord]
    skipped: list[SkipRecord]


def _detect_in_pool(paths: list[str], model_path: str, options, tiles: bool, workers: int,
                    on_progress: Callable[[int, int], None] | None) -> list:
    """:func:`~fer_graph.landmarks._mediapipe_worker.detect_faces` of every path by ``workers`` detectors:
    this process and ``workers - 1`` ``spawn`` processes share chunks of 8 paths — the workers take chunks
    from the front, this process from the back, so it detects while they start. Results in input order."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from ..landmarks import _mediapipe_worker as worker
    from ..landmarks.mediapipe_source import FaceLandmarkDetector

    todo = deque(enumerate(paths[i:i + 8] for i in range(0, len(paths), 8)))
    results: dict[int, list] = {}
    running: dict = {}
    helpers = min(workers - 1, len(todo) - 1)

    def collect(futures) -> None:
        for fut in futures:
            results[running.pop(fut)] = fut.result()
        if on_progress is not None:
            on_progress(min(len(paths), 8 * len(results)), len(paths))

    with ProcessPoolExecutor(max_workers=helpers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=worker.init_worker, initargs=(model_path, options)) as pool, \
            FaceLandmarkDetector(model_path, options=options) as det:
        while todo or running:
            while todo and len(running) < 2 * helpers:  # two chunks queued per helper: none waits idle
                k, chunk = todo.popleft()
                running[pool.submit(worker.detect_task, chunk, tiles)] = k
            if todo:
                k, chunk = todo.pop()
                results[k] = [worker.detect_faces(det, p, tiles) for p in chunk]
            collect(wait(running, timeout=0 if todo else None, return_when=FIRST_COMPLETED)[0])
    return [r for k in sorted(results) for r in results[k]]


def estimate_hidden(faces: Sequence[FaceRecord], visibility, num_nodes: int, *,
                    images: Sequence[np.ndarray] | None = None) -> list[FaceRecord]:
    """``faces`` with :attr:`FaceRecord.hidden` set by ``visibility`` (one network call) from the patches
    around their first ``num_nodes`` landmarks, in ``images`` (one ``(H, W, 3)`` uint8 RGB array per face: the
    video frames they were found in) or, without them, in each face's image read again (EXIF-oriented, as
    for detection).

    Raises:
        ImageReadError: an image cannot be read again.
    """
    from dataclasses import replace

    from ..landmarks.images import load_rgb
    from ..occlusion.patches import patch_features

    if not faces:
        return []
    patches, last, pixels = [], None, None
    for i, f in enumerate(faces):
        if images is not None:
            pixels = images[i]
        elif f.input != last:  # faces come image by image: read each once
            pixels, last = load_rgb(f.input, keep_gray=True), f.input
        patches.append(patch_features(pixels, f.pixel_landmarks()[:num_nodes, :2]))
    hidden = visibility.predict_hidden(np.stack(patches))
    return [replace(f, hidden=h) for f, h in zip(faces, hidden)]


def load_model(source: str | os.PathLike | None = None, *, folds: Sequence[int] | None = None,
               backend: str = "fast") -> ExpressionModel:
    """Load a model for prediction: ``fer_graph.load_model("runs/gat").predict_images([...])``; with no
    argument, the bundled default model (FER-2013, 7 classes). ``folds=[0]`` loads one fold model of a run
    instead of averaging all k (k times less compute per face). Works for every model family (GNN and
    scikit-learn runs). Arguments and errors: :class:`ExpressionModel`.
    """
    return ExpressionModel(source, folds=folds, backend=backend)
