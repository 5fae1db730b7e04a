"""The files of a run directory: ``metrics.json``, ``predictions.csv``, ``confusion.{csv,png}``, ``curves.png``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io import atomic_path, write_json
from ..config import TrainConfig
from ..evaluation.metrics import classification_metrics, save_confusion_matrix

if TYPE_CHECKING:
    from ..graphs.dataset import FaceGraphDataset
    from .run import Fold, TrainingData

__all__ = ["write_report", "plot_curves"]


def _per_fold(results: list, data: TrainingData) -> list[dict[str, Any]]:
    rows = []
    for fold, clf, seconds, probs in results:
        m = classification_metrics(data.y[fold.test], probs.argmax(1), data.classes)
        rows.append({"fold": fold.index, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"],
                     "fit_seconds": round(seconds, 2), "epochs": clf.fit_info_.get("epochs"),
                     "val_accuracy": clf.fit_info_.get("val_accuracy"),
                     **{k: clf.fit_info_[k] for k in ("val_accuracy_last", "best_epoch") if k in clf.fit_info_},
                     "n_parameters": clf.fit_info_.get("n_parameters"),
                     **({"init": clf.fit_info_["init"]} if "init" in clf.fit_info_ else {})})
    return rows


def _write_predictions(ds: FaceGraphDataset, data: TrainingData, results: list, path: Path) -> None:
    """``predictions.csv``: fold, sample_id, subject, y_true, y_pred, p_<class> (5 decimals)."""
    import pandas as pd

    ids, subjects = np.asarray(ds.sample_ids, dtype=object), ds.tensor("subject").numpy()
    frames = []
    for fold, _, _, probs in results:
        g = data.kept[fold.test]
        s = subjects[g]
        frame = pd.DataFrame({"fold": fold.index, "sample_id": ids[g],
                              "subject": [ds.subjects[v] if v >= 0 else "" for v in s],
                              "y_true": np.asarray(data.classes, dtype=object)[data.y[fold.test]],
                              "y_pred": np.asarray(data.classes, dtype=object)[probs.argmax(1)]})
        for c, name in enumerate(data.classes):
            frame[f"p_{name}"] = [f"{v:.5f}" for v in probs[:, c]]
        frames.append(frame)
    with atomic_path(path) as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)


def _holdout_extras(ds: FaceGraphDataset, metrics: dict[str, Any], protocol: str, fold: dict) -> None:
    """FER-style keys: accuracy on detected faces, detection rate, accuracy counting undetected as wrong."""
    test_split = protocol.split("->", 1)[1]
    attempted = (ds.meta.get("attempted_per_split") or {}).get(test_split)
    metrics["accuracy_detected"] = fold["accuracy"]
    metrics["detection_rate"] = ds.meta["per_split"][test_split] / attempted if attempted else None
    metrics["accuracy_all"] = fold["accuracy"] * fold["n"] / attempted if attempted else None
    if attempted:
        metrics["attempted"] = attempted


def write_report(ds: FaceGraphDataset, data: TrainingData, config: TrainConfig, protocol: str,
                 results: list[tuple[Fold, Any, float, np.ndarray]], out: Path, *, wall_s: float,
                 name: str) -> dict[str, Any]:
    """Score every fold's test predictions, write the run files, return the ``metrics.json`` dict.

    ``results``: ``(fold, fitted classifier, fit seconds, (n_test, C) probabilities)`` per fold.
    """
    per_fold = _per_fold(results, data)
    y_true = np.concatenate([data.y[f.test] for f, *_ in results])
    y_pred = np.concatenate([p.argmax(1) for *_, p in results])
    pooled = classification_metrics(y_true, y_pred, data.classes)
    accs, f1s = np.array([f["accuracy"] for f in per_fold]), np.array([f["macro_f1"] for f in per_fold])
    metrics: dict[str, Any] = {
        "arch": config.arch, "dataset": name, "protocol": protocol, "folds": len(results),
        "accuracy_mean": float(accs.mean()), "accuracy_std": float(accs.std()),
        "macro_f1_mean": float(f1s.mean()), "macro_f1_std": float(f1s.std()),
        "per_fold": per_fold, "pooled": pooled, "classes": data.classes, "features": str(data.spec),
        "labels": config.labels, "balance": config.balance, "hierarchy": config.hierarchy, "seed": config.seed,
        "refit": config.refit,
        "n_samples": int(len(data.y)), "wall_s": round(wall_s, 2),
    }
    vals = [f["val_accuracy"] for f in per_fold if f["val_accuracy"] is not None]
    metrics["val_accuracy_mean"] = float(np.mean(vals)) if vals else None  # inner validation: for choosing
    last = [f.get("val_accuracy_last") for f in per_fold]
    if any(v is not None for v in last):  # GNNs: at the last epoch, which nothing was chosen on
        metrics["val_accuracy_last_mean"] = float(np.mean([v for v in last if v is not None]))
    epochs = [f["epochs"] for f in per_fold if f["epochs"] is not None]
    if epochs:
        metrics["seconds_per_epoch"] = round(sum(f["fit_seconds"] for f in per_fold) / max(sum(epochs), 1), 4)
    if protocol.startswith("holdout:"):
        _holdout_extras(ds, metrics, protocol, per_fold[0])
    _write_predictions(ds, data, results, out / "predictions.csv")
    save_confusion_matrix(pooled["confusion"], data.classes, out / "confusion",
                          title=f"{config.arch} on {name} ({protocol})")
    curves = [clf.fit_info_["logs"] for _, clf, _, _ in results if clf.fit_info_.get("logs")]
    if curves:
        plot_curves(curves, out / "curves.png")
    write_json(out / "metrics.json", metrics)
    return metrics


def plot_curves(curves: list[list[Any]], path: Path) -> None:
    """Training loss and inner-validation accuracy per epoch, one line per fold (PNG, atomic)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.5))
    a, b = fig.subplots(1, 2)
    for k, logs in enumerate(curves):
        ep = [log.epoch for log in logs]
        a.plot(ep, [log.train_loss for log in logs], lw=0.8, label=f"fold {k}")
        b.plot(ep, [log.val_accuracy for log in logs], lw=0.8)
    a.set(xlabel="epoch", ylabel="training loss")
    b.set(xlabel="epoch", ylabel="inner-validation accuracy")
    if len(curves) <= 10:
        a.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
