"""``train``: a full evaluation protocol for one model on one dataset, written to a run directory.

Run directory::

    RUN/config.json              TrainConfig + dataset + protocol
    RUN/metrics.json             arch, dataset, protocol, folds, accuracy_mean/std, macro_f1_mean/std,
                                 per_fold [{fold, accuracy, macro_f1, n}], pooled metrics (+ FER keys)
    RUN/predictions.csv          fold, sample_id, subject, y_true, y_pred, p_<class>...
    RUN/confusion.{csv,png}      pooled over folds
    RUN/curves.png               training loss / validation accuracy per fold (GNNs)
    RUN/checkpoints/fold_XX.pt   GNN weights + meta (torch.load(..., weights_only=True))
    RUN/checkpoints/fold_XX.joblib  fitted scikit-learn baselines
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._io import atomic_path, write_json
from ..evaluation.metrics import classification_metrics, save_confusion_matrix
from ..graphs.dataset import FaceGraphDataset
from ..graphs.features import FeatureSpec, default_features
from ..graphs.topology import Topology
from ..labels import apply_label_scheme
from ..models import get_model, get_model_entry
from .checkpoint import save_checkpoint
from .splits import groups_of, holdout_split, inner_split, subject_kfold
from .trainer import EpochLog, TrainConfig, fit_gnn, predict_proba

__all__ = ["train", "dataset_name", "flat_features"]


def dataset_name(ds: FaceGraphDataset) -> str:
    """Short dataset name for tables: the raw folder's name (``ck_lands``, ``ck48``, ``fer2013``)."""
    raw = Path(ds.meta["options"].get("raw_root", "dataset"))
    return raw.parent.name if raw.name == "CK+" else raw.stem if raw.is_file() or raw.suffix else raw.name


def _sklearn_fit(arch: str, feats: np.ndarray, y: np.ndarray, itr: np.ndarray, iva: np.ndarray,
                 config: TrainConfig) -> Any:
    """Grid-search on the inner validation split, then refit the best on all training samples."""
    from sklearn.base import clone

    est, grid = get_model(arch, seed=config.seed,
                          class_weight="balanced" if config.balance == "weighted" else None)
    train_idx = np.concatenate([itr, iva])
    best, best_params = -1.0, {}
    candidates = [dict(zip(grid, values)) for values in _product(grid)] or [{}]
    if len(candidates) > 1 and len(iva):
        fit_idx = _oversample(itr, y, config)
        for params in candidates:
            model = clone(est).set_params(**params).fit(feats[fit_idx], y[fit_idx])
            acc = float((model.predict(feats[iva]) == y[iva]).mean())
            if acc > best:
                best, best_params = acc, params
    fit_idx = _oversample(train_idx, y, config)
    return clone(est).set_params(**best_params).fit(feats[fit_idx], y[fit_idx]), best_params


def _product(grid: dict[str, list]) -> list[tuple]:
    import itertools

    return list(itertools.product(*grid.values())) if grid else []


def _oversample(idx: np.ndarray, y: np.ndarray, config: TrainConfig) -> np.ndarray:
    if config.balance != "oversample":
        return idx
    rng = np.random.default_rng(config.seed)
    counts = np.bincount(y[idx])
    target = counts.max()
    parts = [rng.choice(idx[y[idx] == c], size=target, replace=True) for c in np.flatnonzero(counts)]
    return np.sort(np.concatenate(parts))



def _fit_fold(x: Tensor, ga: Tensor | None, y: np.ndarray, itr: np.ndarray, iva: np.ndarray, topology: Topology,
              num_classes: int, config: TrainConfig, dims: int, refit: bool,
              on_epoch: Callable[[EpochLog], None] | None = None):
    """One fold's GNN: fit with early stopping on ``iva`` and, with ``refit``, retrain on ``itr + iva`` for
    the epoch count chosen. Returns ``(model, logs, model kwargs, best epoch, refit epochs)``."""
    model, logs, kwargs = fit_gnn(x, ga, y, itr, iva, topology=topology, num_classes=num_classes, config=config,
                                  dims=dims, on_epoch=on_epoch)
    best_epoch = int(max(logs, key=lambda l: (l.val_accuracy, -l.val_loss)).epoch)
    refit_epochs = 0
    if refit:
        # retrain on every training subject (inner-train + validation) for the epoch count the
        # validation split chose; the schedule is the same length, so the run ends where selection did
        model, refit_logs, kwargs = fit_gnn(
            x, ga, y, np.sort(np.concatenate([itr, iva])), np.array([], dtype=np.int64), topology=topology,
            num_classes=num_classes, config=replace(config, epochs=best_epoch), dims=dims)
        refit_epochs = len(refit_logs)
    return model, logs, kwargs, best_epoch, refit_epochs


def _fit_fold_in_worker(*args):
    """:func:`_fit_fold` in a worker process: returns the weights (CPU tensors pickle) instead of the model,
    and the fit's wall seconds."""
    start = time.perf_counter()
    model, logs, kwargs, best_epoch, refit_epochs = _fit_fold(*args)
    return model.state_dict(), logs, kwargs, best_epoch, refit_epochs, time.perf_counter() - start


def _init_fold_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _fold_pool(workers: int):
    """A ``spawn`` process pool for folds (``fork`` after torch's and Numba's OpenMP pools started can
    deadlock); each worker gets an even share of this process's torch threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by the workers before their torch loads
    threads = max(1, torch.get_num_threads() // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_fold_worker, initargs=(threads,))


def train(ds: FaceGraphDataset, config: TrainConfig, out_dir: str | os.PathLike, *,
          on_fold: Callable[[int, int], None] | None = None,
          on_epoch: Callable[[int, EpochLog], None] | None = None, refit: bool = False,
          workers: int = 1) -> dict[str, Any]:
    """Train and evaluate ``config.arch`` on ``ds`` under the dataset's protocol; write ``out_dir``.

    Protocols: datasets with ``train`` and a test split (FER-2013) are trained on ``train`` (inner
    validation carved from it) and tested on the test split; others use subject-independent stratified
    k-fold (``config.folds``) with an inner validation split of the training subjects per fold.
    Early stopping (GNNs) and hyper-parameter grids (baselines) only ever see inner validation data.

    Args:
        ds: a built graph dataset.
        config: hyper-parameters, label scheme, features, seed.
        out_dir: the run directory (created).
        on_fold: ``(fold, n_folds)`` callback when a fold starts.
        on_epoch: ``(fold, EpochLog)`` callback after each GNN epoch.
        refit: GNNs only: after early stopping picks an epoch count on the inner validation split,
            retrain from scratch on all training subjects for that many epochs (costs a second fit).
        workers: GNNs under k-fold: fit this many folds at once in worker processes (``spawn``), each
            with ``max(1, torch.get_num_threads() // workers)`` torch threads; the parent predicts, scores
            and checkpoints the folds in order. Every fold seeds its own generators, so results equal a
            sequential run's (thread counts can change float rounding). Small graphs gain most: a step on
            68-node graphs is dispatch-bound and barely uses a second thread, so two folds at a time on two
            cores nearly halve a CK+ lands study. ``on_epoch`` is not called for folds fitted in workers.

    Returns:
        The metrics dict written to ``metrics.json``.

    Raises:
        ValueError: unknown arch / feature token / label scheme, or a model needing attributes the
            dataset lacks (e.g. blendshape baselines on 68-point data).
    """
    start = time.perf_counter()
    out = Path(out_dir)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    entry = get_model_entry(config.arch)
    spec = FeatureSpec.parse(config.features) if config.features else default_features(ds)
    for need in entry.needs:
        if need not in ds.meta["attributes"]:
            raise ValueError(f"--arch {config.arch} needs {need!r}, which {dataset_name(ds)} "
                             f"({ds.meta['source']}) does not have")
    x_all = spec.node_features(ds)
    ga_all = spec.graph_features(ds)
    classes, y_kept, keep = apply_label_scheme(ds.classes, ds.tensor("y").numpy(), config.labels, config.exclude)
    kept = np.flatnonzero(keep)
    x, ga = x_all[kept], (ga_all[kept] if ga_all is not None else None)
    y = y_kept
    groups = groups_of(ds)[kept]
    all_ids = ds.sample_ids
    subjects_all = ds.tensor("subject").numpy()

    hold = holdout_split(ds)
    if hold is not None:
        position = {int(g): i for i, g in enumerate(kept)}
        tr = np.array([position[i] for i in hold[0] if i in position], dtype=np.int64)
        te = np.array([position[i] for i in hold[1] if i in position], dtype=np.int64)
        folds, protocol = [(tr, te)], f"holdout:train->{hold[2]}"
    else:
        folds, protocol = subject_kfold(y, groups, n_splits=config.folds, seed=config.seed), "subject-kfold"

    meta_common = {"arch": config.arch, "classes": classes, "topology": ds.meta["topology"],
                   "features": str(spec), "node_dims": int(ds.meta["node_dims"]),
                   "normalization": {"align": ds.meta["options"].get("align", True)},
                   "label_scheme": config.labels, "exclude": list(config.exclude),
                   "dataset_classes": ds.classes}
    write_json(out / "config.json", {"config": config.to_dict(), "refit": refit, "dataset": dataset_name(ds),
                                     "dataset_dir": ds.processed_dir, "protocol": protocol, **meta_common})
    per_fold, rows, curves = [], [], []
    pooled_true, pooled_pred = [], []
    dims = int(ds.meta["node_dims"])
    splits = []
    for tr, te in folds:
        itr_local, iva_local = inner_split(y[tr], groups[tr], val_fraction=config.val_fraction, seed=config.seed)
        splits.append((tr[itr_local], tr[iva_local]))
    fold_args = ([(x, ga, y, itr, iva, ds.topology, len(classes), config, dims, refit) for itr, iva in splits]
                 if entry.kind == "gnn" else [])
    pool = None
    if workers > 1 and fold_args and len(folds) > 1:
        pool = _fold_pool(min(workers, len(folds)))
        pending = [pool.submit(_fit_fold_in_worker, *a) for a in fold_args]
    try:
        for k, (tr, te) in enumerate(folds):
            if on_fold is not None:
                on_fold(k, len(folds))
            itr, iva = splits[k]
            fold_start = time.perf_counter()
            epochs_run = None
            if entry.kind == "gnn":
                if pool is not None:
                    state, logs, kwargs, best_epoch, refit_epochs, fit_seconds = pending[k].result()
                    model = get_model(config.arch, **{**kwargs, "backend": config.backend})
                    model.load_state_dict(state)
                    model.eval()
                else:
                    model, logs, kwargs, best_epoch, refit_epochs = _fit_fold(
                        *fold_args[k], on_epoch=(lambda log, k=k: on_epoch(k, log)) if on_epoch else None)
                    fit_seconds = time.perf_counter() - fold_start
                epochs_run = len(logs) + refit_epochs
                probs = predict_proba(model, x[te], ga[te] if ga is not None else None, ds.topology).numpy()
                curves.append(logs)
                save_checkpoint(out / "checkpoints" / f"fold_{k:02d}.pt", model,
                                {**meta_common, "model_kwargs": kwargs, "fold": k,
                                 "test_subjects": sorted({int(s) for s in subjects_all[kept[te]]}),
                                 "best_epoch": best_epoch, "refit": refit})
            else:
                import joblib

                feats = flat_features(x, ga, ds.tensor("blendshapes")[kept].numpy()
                                      if "blendshapes" in entry.needs else None)
                model, params = _sklearn_fit(config.arch, feats, y, itr, iva, config)
                fit_seconds = time.perf_counter() - fold_start
                probs = _sklearn_proba(model, feats[te], len(classes))
                with atomic_path(out / "checkpoints" / f"fold_{k:02d}.joblib") as tmp:
                    joblib.dump({"model": model, "params": params, "meta": {**meta_common, "fold": k}}, tmp)
            pred = probs.argmax(1)
            m = classification_metrics(y[te], pred, classes)
            per_fold.append({"fold": k, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"],
                             "fit_seconds": round(fit_seconds, 2), "epochs": epochs_run})
            pooled_true.append(y[te])
            pooled_pred.append(pred)
            for i, p, pr in zip(te, pred, probs):
                g = int(kept[i])
                s = int(subjects_all[g])
                rows.append([k, all_ids[g], ds.subjects[s] if s >= 0 else "", classes[y[i]], classes[p],
                             *[f"{v:.5f}" for v in pr]])
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    pooled = classification_metrics(np.concatenate(pooled_true), np.concatenate(pooled_pred), classes)
    accs = np.array([f["accuracy"] for f in per_fold])
    f1s = np.array([f["macro_f1"] for f in per_fold])
    metrics: dict[str, Any] = {
        "arch": config.arch, "dataset": dataset_name(ds), "protocol": protocol, "folds": len(folds),
        "accuracy_mean": float(accs.mean()), "accuracy_std": float(accs.std()),
        "macro_f1_mean": float(f1s.mean()), "macro_f1_std": float(f1s.std()),
        "per_fold": per_fold, "pooled": pooled, "classes": classes, "features": str(spec),
        "labels": config.labels, "balance": config.balance, "seed": config.seed, "refit": refit,
        "n_samples": int(len(y)), "wall_s": round(time.perf_counter() - start, 2),
    }
    if entry.kind == "gnn":
        metrics["seconds_per_epoch"] = round(sum(f["fit_seconds"] for f in per_fold)
                                             / max(sum(f["epochs"] for f in per_fold), 1), 4)
    if hold is not None:
        _holdout_extras(ds, metrics, hold[2], per_fold[0])
    with atomic_path(out / "predictions.csv") as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fold", "sample_id", "subject", "y_true", "y_pred", *[f"p_{c}" for c in classes]])
        w.writerows(rows)
    save_confusion_matrix(pooled["confusion"], classes, out / "confusion",
                          title=f"{config.arch} on {metrics['dataset']} ({protocol})")
    if curves:
        _plot_curves(curves, out / "curves.png")
    write_json(out / "metrics.json", metrics)
    return metrics


def flat_features(x: torch.Tensor, graph_attr: torch.Tensor | None,
                  blendshapes: np.ndarray | None = None) -> np.ndarray:
    """The input of scikit-learn models: ``blendshapes`` ``(N, 52)`` for blendshape-only baselines, else the
    flattened node features ``(N, V*F)`` followed by the graph attributes ``(N, A)``."""
    if blendshapes is not None:
        return blendshapes
    parts = [x.reshape(len(x), -1)] + ([graph_attr] if graph_attr is not None else [])
    return torch.cat(parts, dim=1).numpy()


def _sklearn_proba(model: Any, feats: np.ndarray, num_classes: int) -> np.ndarray:
    """``(N, C)`` class probabilities: ``predict_proba`` where the estimator has it (its argmax is
    ``predict``), else one-hot predictions (SVC without ``probability=True``)."""
    probs = np.zeros((len(feats), num_classes))
    if hasattr(model, "predict_proba"):
        try:
            probs[:, model.classes_] = model.predict_proba(feats)
            return probs
        except AttributeError:  # SVC exposes predict_proba only with probability=True
            pass
    probs[np.arange(len(feats)), model.predict(feats)] = 1.0
    return probs


def _holdout_extras(ds: FaceGraphDataset, metrics: dict[str, Any], test_split: str, fold: dict) -> None:
    attempted = (ds.meta.get("attempted_per_split") or {}).get(test_split)
    detected = fold["n"]
    metrics["accuracy_detected"] = fold["accuracy"]
    if attempted:
        metrics["detection_rate"] = ds.meta["per_split"][test_split] / attempted
        metrics["accuracy_all"] = fold["accuracy"] * detected / attempted
        metrics["attempted"] = attempted
    else:
        metrics["detection_rate"] = None
        metrics["accuracy_all"] = None


def _plot_curves(curves: list[list[EpochLog]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for k, logs in enumerate(curves):
        ep = [l.epoch for l in logs]
        a.plot(ep, [l.train_loss for l in logs], lw=0.8, label=f"fold {k}")
        b.plot(ep, [l.val_accuracy for l in logs], lw=0.8)
    a.set(xlabel="epoch", ylabel="training loss")
    b.set(xlabel="epoch", ylabel="inner-validation accuracy")
    if len(curves) <= 10:
        a.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
