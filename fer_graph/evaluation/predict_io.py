"""File-level prediction behind ``fer-graph predict``: images, folders, landmark CSVs; CSV and plot out."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from .predictor import ExpressionModel

__all__ = ["predict_path", "plot_prediction"]

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def predict_path(inputs: str | os.PathLike, run: str | os.PathLike | None = None, *,
                 model: str | os.PathLike | None = None,
                 plot: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
                 on_progress=None) -> dict[str, Any]:
    """Predict an image, every image below a folder (sorted), or every row of a landmark CSV.

    Args:
        inputs: an image, a folder of images, or a landmark CSV.
        run: any ``fer-graph train`` run, a model file or a bundled model name; ``None``: the bundled
            default model (:class:`~fer_graph.evaluation.predictor.ExpressionModel`).
        model: Face Landmarker ``.task`` file; plot: PNG of the first image's mesh and prediction;
        out: CSV of every prediction (written only when given).

    Returns:
        ``{"predictions": [{"input", "label", "probabilities": {class: p}}], "skipped": [...], "classes"}``
        plus ``"csv"`` / ``"plot"`` when written.

    Raises:
        ValueError: ``out`` or ``plot`` is an existing folder, or a folder without images.
        RunNotFoundError, IncompleteRunError, ModelLoadError: see
            :func:`fer_graph.evaluation.predictor.load_fold_models`.
    """
    inputs = Path(inputs)
    for name, target in (("--out", out), ("--plot", plot)):
        if target is not None and Path(target).is_dir():
            raise ValueError(f"{target}: is a folder; {name} takes a file path")
    em = ExpressionModel(run)
    if inputs.suffix.lower() == ".csv":
        from ..landmarks.csv_source import read_landmark_csv

        lms = read_landmark_csv(inputs, require_label=False)
        probs = em.predict_landmarks(lms.pixel_points())
        names, skipped, raw = lms.sample_ids, [s.__dict__ for s in lms.skipped], []
    else:
        files = [inputs] if inputs.is_file() else sorted(
            p for p in inputs.rglob("*") if p.suffix.lower() in _IMAGE_EXT and not p.name.startswith("."))
        if not files:
            raise ValueError(f"{inputs}: no images found (extensions {sorted(_IMAGE_EXT)})")
        probs, names, skipped_records, raw = em.predict_images(files, model=model, on_progress=on_progress)
        skipped = [s.__dict__ for s in skipped_records]
    rows = [{"input": n, "label": em.classes[int(p.argmax())],
             "probabilities": {c: float(v) for c, v in zip(em.classes, p)}} for n, p in zip(names, probs)]
    result: dict[str, Any] = {"predictions": rows, "skipped": skipped, "classes": em.classes}
    if out is not None:
        target = Path(out)
        with atomic_path(target) as tmp, tmp.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["input", "label", *[f"p_{c}" for c in em.classes]])
            for r in rows:
                w.writerow([r["input"], r["label"], *[f"{r['probabilities'][c]:.5f}" for c in em.classes]])
        result["csv"] = str(target)
    if plot is not None and raw:
        plot_prediction(names[0], raw[0], rows[0]["probabilities"], em.topology.edges, plot)
        result["plot"] = str(plot)
    return result


def plot_prediction(image_path: str, landmarks: np.ndarray, probabilities: dict[str, float],
                    edges, out: str | os.PathLike) -> None:
    """Draw the face mesh over the image with the class probabilities as a bar chart (PNG, atomic)."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone, renders with Agg

    from ..landmarks.images import load_rgb

    img = load_rgb(image_path)  # the detector's conversion: 16-bit scaled, alpha on white, EXIF applied
    h, w = img.shape[:2]
    xy = landmarks[:, :2] * np.array([w, h])
    fig = Figure(figsize=(8, 4))
    a, b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
    a.imshow(img)
    a.add_collection(LineCollection([[xy[i], xy[j]] for i, j in edges], colors="lime", linewidths=0.3))
    a.set_axis_off()
    names = list(probabilities)
    values = [probabilities[n] for n in names]
    best = int(np.argmax(values))
    b.barh(names, values, color=["tab:orange" if i == best else "tab:blue" for i in range(len(names))])
    b.set_xlim(0, 1)
    b.set_title(f"{names[best]} ({values[best]:.0%})")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
