"""``train``: a full evaluation protocol for one model on one dataset, written to a run directory.

Run directory::

    RUN/config.json              TrainConfig + dataset + protocol
    RUN/metrics.json             arch, dataset, protocol, folds, accuracy_mean/std, macro_f1_mean/std,
                                 per_fold [{fold, accuracy, macro_f1, n, val_accuracy...}], pooled
                                 metrics, val_accuracy_mean (+ val_accuracy_last_mean: GNNs; FER keys)
    RUN/predictions.csv          fold, sample_id, subject, y_true, y_pred, p_<class>...
    RUN/confusion.{csv,png}      pooled over folds
    RUN/curves.png               training loss / validation accuracy per fold (GNNs)
    RUN/checkpoints/fold_XX.pt   GNN weights + meta (torch.load(..., weights_only=True))
    RUN/checkpoints/fold_XX.skops  fitted scikit-learn baselines (skops.io, trusted types only)

``train`` is a composition of named steps: :func:`prepare_data` (features, label scheme) ->
:func:`make_folds` (protocol) -> :func:`fit_folds` (one :class:`FoldJob` per fold, optionally in worker
processes) -> per-fold predictions -> :func:`write_report`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import write_json
from ..config import TrainConfig
from ..graphs.dataset import FaceGraphDataset
from ..graphs.features import FeatureSpec, default_features
from ..graphs.topology import Topology
from ..labels import apply_label_scheme
from ..models import get_model_entry
from ..models.estimator import FaceClassifier, ModelInputs, make_classifier
from .report import write_report
from .rundir import staged_run
from .splits import groups_of, holdout_split, inner_split, subject_kfold, undersample

__all__ = ["train", "dataset_name", "TrainingData", "Fold", "FoldJob", "prepare_data", "make_folds", "fit_folds"]


def dataset_name(ds: FaceGraphDataset) -> str:
    """Short dataset name for tables: the raw folder's name (``ck_lands``, ``ck48``, ``fer2013``)."""
    raw = Path(ds.meta["options"].get("raw_root", "dataset"))
    return raw.parent.name if raw.name == "CK+" else raw.stem if raw.is_file() or raw.suffix else raw.name


@dataclass(frozen=True)
class TrainingData:
    """The samples a run uses, after the label scheme.

    Attributes:
        inputs: features of the kept samples; y: ``(G,)`` class indices into ``classes``;
        groups: ``(G,)`` subject (else sequence) ids for splitting; kept: dataset index of each sample;
        spec: the feature spec.
    """

    inputs: ModelInputs
    y: np.ndarray
    groups: np.ndarray
    classes: list[str]
    kept: np.ndarray
    spec: FeatureSpec


@dataclass(frozen=True)
class Fold:
    """One fold: inner-train, inner-validation and test positions into :class:`TrainingData`."""

    index: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def prepare_data(ds: FaceGraphDataset, config: TrainConfig) -> TrainingData:
    """Features, label scheme and split groups of ``ds`` for ``config``.

    Raises:
        ValueError: unknown feature token or label scheme, or a model needing attributes the dataset
            lacks (blendshape baselines on 68-point data).
    """
    for need in get_model_entry(config.arch).needs:
        if need not in ds.meta["attributes"]:
            raise ValueError(f"--arch {config.arch} needs {need!r}, which {dataset_name(ds)} "
                             f"({ds.meta['source']}) does not have")
    features = config.features or get_model_entry(config.arch).features
    spec = FeatureSpec.parse(features) if features else default_features(ds)
    classes, y, keep = apply_label_scheme(ds.classes, ds.tensor("y").numpy(), config.labels, config.exclude)
    kept = np.flatnonzero(keep)
    return TrainingData(ModelInputs.from_dataset(ds, spec, kept), np.asarray(y), groups_of(ds)[kept], classes, kept, spec)


def with_sequence_frames(config: TrainConfig, spec: FeatureSpec, ds: FaceGraphDataset) -> TrainConfig:
    """``config`` with the dataset's frames per sequence in its model kwargs (``extra["frames"]``) when the
    features are the ``seq`` frame stacks (a sequence model reshapes ``(V, T * C)`` by it); else unchanged."""
    if "seq" not in spec.node:
        return config
    return replace(config, extra={**config.extra, "frames": int(ds.meta["options"]["sequence_frames"])})


def make_folds(ds: FaceGraphDataset, data: TrainingData, config: TrainConfig) -> tuple[str, list[Fold]]:
    """``(protocol, folds)``: the dataset's hold-out (``train`` -> test split) when it has one, else
    subject-independent stratified k-fold; each fold's training subjects split again into inner-train and
    inner-validation (group-disjoint). With ``balance="undersample"`` the inner-train part is a class-balanced
    subset (:func:`~fer_graph.training.splits.undersample`); validation and test keep every graph."""
    hold = holdout_split(ds)
    if hold is not None:
        position = {int(g): i for i, g in enumerate(data.kept)}
        tr = np.array([position[i] for i in hold[0] if i in position], dtype=np.int64)
        te = np.array([position[i] for i in hold[1] if i in position], dtype=np.int64)
        pairs, protocol = [(tr, te)], f"holdout:train->{hold[2]}"
    else:
        pairs = subject_kfold(data.y, data.groups, n_splits=config.folds, seed=config.seed)
        protocol = "subject-kfold"
    folds = []
    for k, (tr, te) in enumerate(pairs):
        itr, iva = inner_split(data.y[tr], data.groups[tr], val_fraction=config.val_fraction, seed=config.seed)
        train = undersample(tr[itr], data.y, config.seed + k) if config.balance == "undersample" else tr[itr]
        folds.append(Fold(k, train, tr[iva], te))
    return protocol, folds


@dataclass(frozen=True)
class FoldJob:
    """Everything needed to fit one fold's model; picklable, so it can run in a worker process."""

    config: TrainConfig
    classes: list[str]
    topology: Topology
    dims: int
    inputs: ModelInputs
    y: np.ndarray
    fold: Fold

    def run(self, on_epoch: Callable[[Any], None] | None = None) -> tuple[FaceClassifier, float]:
        """``(fitted classifier, wall seconds of the fit)``."""
        start = time.perf_counter()
        clf = make_classifier(self.config.arch, self.config, classes=self.classes, topology=self.topology,
                              dims=self.dims, refit=self.config.refit)
        clf.fit(self.inputs, self.y, train=self.fold.train, validation=self.fold.validation, on_epoch=on_epoch)
        return clf, time.perf_counter() - start


def _run_job(job: FoldJob) -> tuple[FaceClassifier, float]:
    return job.run()


def _init_fold_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _fold_pool(workers: int):
    """A ``spawn`` process pool (``fork`` after torch's and Numba's OpenMP pools started can deadlock); each
    worker gets an even share of this process's torch threads. Workers inherit the environment, so the
    OpenMP settings of :func:`fer_graph.runtime.configure` (set by the CLI before torch loads) apply there too."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, torch.get_num_threads() // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_fold_worker, initargs=(threads,))


def fit_folds(jobs: list[FoldJob], *, workers: int = 1, on_fold: Callable[[int, int], None] | None = None,
              on_epoch: Callable[[int, Any], None] | None = None) -> Iterator[tuple[Fold, FaceClassifier, float]]:
    """Fit every job, yielding ``(fold, classifier, fit seconds)`` in fold order.

    With ``workers > 1`` and several folds, the fits run at once in worker processes (each job seeds its
    own generators, so results equal a sequential run's; thread counts can change float rounding);
    ``on_epoch`` is then not called.
    """
    pool = _fold_pool(min(workers, len(jobs))) if workers > 1 and len(jobs) > 1 else None
    try:
        pending = [pool.submit(_run_job, job) for job in jobs] if pool is not None else None
        for i, job in enumerate(jobs):
            if on_fold is not None:
                on_fold(job.fold.index, len(jobs))
            if pending is not None:
                clf, seconds = pending[i].result()
            else:
                k = job.fold.index
                clf, seconds = job.run(on_epoch=(lambda log, k=k: on_epoch(k, log)) if on_epoch else None)
            yield job.fold, clf, seconds
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _fit_ensembles(jobs: list[FoldJob], data: TrainingData, *, workers: int, on_fold, on_epoch
                   ) -> Iterator[tuple[Fold, FaceClassifier, float]]:
    """:func:`fit_folds`, with the members of GNN seed ensembles (``config.members > 1``) fitted as jobs
    of their own when there are several workers, so they run at once too; each fold's members are then
    combined (:meth:`~fer_graph.models.gnn_estimator.GNNClassifier.combine`; same seeds as a sequential fit)."""
    k = jobs[0].config.members if jobs and get_model_entry(jobs[0].config.arch).kind == "gnn" else 1
    if k == 1 or workers == 1:
        yield from fit_folds(jobs, workers=workers, on_fold=on_fold, on_epoch=on_epoch)
        return
    from ..models.gnn_estimator import GNNClassifier

    split = [replace(job, config=replace(job.config, seed=job.config.seed + m, members=1))
             for job in jobs for m in range(k)]
    members, seconds = [], 0.0
    for fold, clf, s in fit_folds(split, workers=workers,
                                  on_fold=None if on_fold is None else lambda i, _: on_fold(i, len(jobs))):
        members.append(clf)
        seconds += s
        if len(members) == k:
            yield fold, GNNClassifier.combine(members, data.inputs, data.y, fold.validation), seconds
            members, seconds = [], 0.0


def _checkpoint_meta(ds: FaceGraphDataset, data: TrainingData, config: TrainConfig) -> dict[str, Any]:
    return {"arch": config.arch, "classes": data.classes, "topology": ds.meta["topology"],
            "features": str(data.spec), "node_dims": int(ds.meta["node_dims"]),
            "normalization": {"align": ds.meta["options"].get("align", True)},
            "label_scheme": config.labels, "exclude": list(config.exclude), "dataset_classes": ds.classes}


def train(ds: FaceGraphDataset, config: TrainConfig, out_dir: str | os.PathLike, *,
          on_fold: Callable[[int, int], None] | None = None,
          on_epoch: Callable[[int, Any], None] | None = None, refit: bool | None = None,
          workers: int | None = 1, force: bool = False) -> dict[str, Any]:
    """Train and evaluate ``config.arch`` on ``ds`` under the dataset's protocol; write ``out_dir``.

    Protocols: datasets with ``train`` and a test split (FER-2013) are trained on ``train`` (inner
    validation carved from it) and tested on the test split; others use subject-independent stratified
    k-fold (``config.folds``) with an inner validation split of the training subjects per fold.
    Early stopping (GNNs) and hyper-parameter grids (baselines) only ever see inner validation data.

    Args:
        ds: a built graph dataset; config: hyper-parameters, label scheme, features, seed.
        out_dir: the run directory: written in a hidden sibling and renamed into place when complete
            (:mod:`fer_graph.training.rundir`), with a ``manifest.json`` of every file's sha256.
        on_fold: ``(fold, n_folds)`` callback when a fold starts.
        on_epoch: ``(fold, EpochLog)`` callback after each GNN epoch.
        refit: GNNs: the final model trains on all training subjects (``TrainConfig.refit``); ``None``:
            ``config.refit``, else it overrides it (and ``config.json`` records the value used).
        workers: fit this many folds (and seed-ensemble members) at once in ``spawn`` worker processes
            (see :func:`fit_folds`); ``None``: one per CPU core.
        force: replace an existing ``out_dir`` whole (it is left untouched until the new run is complete).

    Returns:
        The metrics dict written to ``metrics.json``.

    Raises:
        ValueError: see :func:`prepare_data`.
        RunExistsError: ``out_dir`` exists and is not empty, without ``force``.
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    config = config if refit is None else replace(config, refit=bool(refit))
    with staged_run(out_dir, force=force) as work:
        return _train_into(ds, config, work, on_fold=on_fold, on_epoch=on_epoch, workers=workers)


def _train_into(ds: FaceGraphDataset, config: TrainConfig, out: Path, *, on_fold, on_epoch, workers: int
                ) -> dict[str, Any]:
    """:func:`train`'s steps, writing into the folder ``out``."""
    start = time.perf_counter()
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    data = prepare_data(ds, config)
    config = with_sequence_frames(config, data.spec, ds)
    protocol, folds = make_folds(ds, data, config)
    meta = _checkpoint_meta(ds, data, config)
    write_json(out / "config.json", {"config": config.to_dict(), "refit": config.refit, "dataset": dataset_name(ds),
                                     "dataset_dir": ds.processed_dir, "protocol": protocol, **meta,
                                     "fold_indices": [f.index for f in folds]})
    jobs = [FoldJob(config, data.classes, ds.topology, int(ds.meta["node_dims"]), data.inputs, data.y, f)
            for f in folds]
    subjects = ds.tensor("subject").numpy()
    results = []
    for fold, clf, seconds in _fit_ensembles(jobs, data, workers=workers, on_fold=on_fold, on_epoch=on_epoch):
        probs = clf.predict_proba(data.inputs.take(fold.test))
        test_subjects = sorted({int(s) for s in subjects[data.kept[fold.test]]})
        clf.save(out / "checkpoints" / f"fold_{fold.index:02d}", {**meta, "fold": fold.index,
                                                                 "test_subjects": test_subjects})
        results.append((fold, clf, seconds, probs))
    return write_report(ds, data, config, protocol, results, out,
                        wall_s=time.perf_counter() - start, name=dataset_name(ds))
