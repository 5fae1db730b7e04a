"""Classification metrics and confusion matrices (thin layer over scikit-learn, which we test against)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from .._io import atomic_path

__all__ = ["classification_metrics", "save_confusion_matrix"]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and the confusion matrix.

    Args:
        y_true, y_pred: ``(N,)`` int class indices into ``classes``.
        classes: class names; every class counts in macro-F1, even if absent from ``y_true``
            (its F1 is then 0 when predicted, and sklearn's zero_division=0 applies).

    Returns:
        ``{"accuracy", "macro_f1", "per_class_recall": {name: recall or None}, "confusion": C x C list
        (rows true, columns predicted), "n"}``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = list(range(len(classes)))
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    present = np.bincount(y_true, minlength=len(classes)) > 0
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class_recall": {c: (float(r) if present[i] else None) for i, (c, r) in enumerate(zip(classes, recall))},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "n": int(len(y_true)),
    }


def save_confusion_matrix(confusion: list[list[int]], classes: list[str], out: str | os.PathLike,
                          *, title: str = "") -> tuple[Path, Path]:
    """Write ``out.csv`` (counts, rows true) and ``out.png`` (row-normalized heat map with counts).

    Returns:
        The two paths written (both atomically).
    """
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone, renders with Agg

    out = Path(out)
    cm = np.asarray(confusion)
    csv_path, png_path = out.with_suffix(".csv"), out.with_suffix(".png")
    with atomic_path(csv_path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["true\\pred", *classes])
        for c, row in zip(classes, cm):
            w.writerow([c, *row.tolist()])
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(1.0 + 0.8 * len(classes), 0.8 + 0.7 * len(classes)))
    ax = fig.subplots()
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{cm[i, j]}\n{rates[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    return csv_path, png_path
