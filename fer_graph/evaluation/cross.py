"""Cross-dataset evaluation: a trained run applied to another processed dataset of the same topology."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, write_json
from ..labels import apply_label_scheme
from .metrics import classification_metrics, save_confusion_matrix
from .predictor import ExpressionModel

__all__ = ["evaluate_run"]


def run_label_names(ds, meta: dict[str, Any]) -> np.ndarray:
    """``(G,)`` object array: each sample's label under the run's label scheme and exclusions (meta
    ``label_scheme`` / ``exclude``), ``None`` for samples the scheme drops."""
    y = ds.tensor("y").numpy()
    exclude = [e for e in meta.get("exclude", []) if e in ds.classes]  # classes this dataset may not have
    classes, y_new, keep = apply_label_scheme(ds.classes, y, meta.get("label_scheme", "native"), exclude)
    names = np.full(len(y), None, dtype=object)
    names[keep] = np.asarray(classes, dtype=object)[np.asarray(y_new, dtype=np.int64)]
    return names


def evaluate_run(run: str | os.PathLike, ds, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Score ``run`` on ``ds``: labels go through the run's label scheme, then are matched by canonical
    name; samples of classes the run never saw are counted in ``n_unscorable`` and listed in
    ``absent_from_training``, samples the scheme drops in ``n_dropped_by_scheme``; neither is scored.

    Writes ``metrics.json``, ``predictions.csv`` and ``confusion.{csv,png}`` to ``out_dir``.

    Raises:
        RunNotFoundError, CheckpointMismatchError: see :class:`ExpressionModel`.
    """
    model = ExpressionModel(run)
    probs = model.predict_dataset(ds)
    pred = probs.argmax(1)
    names = run_label_names(ds, model.meta)
    dropped = np.array([n is None for n in names])
    known = np.array([n is not None and n in model.classes for n in names])
    y = np.array([model.classes.index(n) if n in model.classes else -1 for n in names])
    m = classification_metrics(y[known], pred[known], model.classes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {"run": str(run), "dataset_dir": ds.processed_dir, "accuracy": m["accuracy"],
               "macro_f1": m["macro_f1"], "n": m["n"], "per_class_recall": m["per_class_recall"],
               "confusion": m["confusion"], "classes": model.classes,
               "absent_from_training": sorted({n for n in names if n is not None and n not in model.classes}),
               "n_unscorable": int((~known & ~dropped).sum()), "n_dropped_by_scheme": int(dropped.sum())}
    ids = ds.sample_ids
    with atomic_path(out / "predictions.csv") as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample_id", "y_true", "y_pred", *[f"p_{c}" for c in model.classes]])
        for i in range(len(ds)):
            w.writerow([ids[i], names[i] or "", model.classes[pred[i]], *[f"{v:.5f}" for v in probs[i]]])
    save_confusion_matrix(m["confusion"], model.classes, out / "confusion", title=f"{Path(run).name} on {ds}")
    write_json(out / "metrics.json", metrics)
    return metrics
