"""``train-eye-state``: fit the ordinal eye-state model on image folders named for eye states.

Input layout: ``ROOT/eye_closed/*``, ``ROOT/eye_narrowed/*``, ``ROOT/eye_open/*``, ``ROOT/eye_wide/*``
(``eye_`` optional; a ``ROOT/<split>/<state>/*`` level is accepted too). A folder's state applies to both eyes
of its image, so every face gives two rows (left and right eye features). Output folder::

    OUT/eye_state.json    the model (:meth:`~fer_graph.models.eye_state.EyeStateModel.load`; ``predict --eye-model``)
    OUT/metrics.json      counts, skips with reasons, and the cross-validated agreement
    OUT/landmarks/        the Face Landmarker cache (an interrupted run resumes)

Agreement is estimated by stratified group k-fold over images (both eyes of a face on one side): accuracy,
mean absolute error in ordinal steps, quadratic-weighted Cohen's kappa, and the confusion matrix.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .._io import write_json
from ..landmarks.eyes import EYE_FEATURES, EYE_STATES, eye_features, eye_state_label
from ..models.eye_state import EyeStateModel

__all__ = ["train_eye_state", "eye_agreement", "cross_val_states"]


def eye_agreement(truth: Sequence[str], pred: Sequence[str]) -> dict:
    """Agreement of two eye-state labellings of the same eyes: ``{"n", "accuracy", "mae_steps",
    "kappa_quadratic", "confusion"}`` (confusion rows: ``truth``, columns: ``pred``, in :data:`EYE_STATES`
    order; ``mae_steps``: mean distance on the ordinal scale)."""
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    t = np.array([EYE_STATES.index(s) for s in truth])
    p = np.array([EYE_STATES.index(s) for s in pred])
    kappa = cohen_kappa_score(t, p, weights="quadratic", labels=range(len(EYE_STATES))) if len(t) else float("nan")
    return {"n": int(len(t)), "accuracy": float((t == p).mean()) if len(t) else float("nan"),
            "mae_steps": float(np.abs(t - p).mean()) if len(t) else float("nan"), "kappa_quadratic": float(kappa),
            "confusion": confusion_matrix(t, p, labels=range(len(EYE_STATES))).tolist()}


def cross_val_states(X: np.ndarray, y: Sequence[str], groups: np.ndarray, *, folds: int = 5, seed: int = 0,
                     features: Sequence[str] = EYE_FEATURES) -> list[str]:
    """Out-of-fold predicted states of ``(M, 5)`` rows: stratified group k-fold (scikit-learn), groups kept
    whole (both eyes of a face); ``folds`` is lowered to the smallest state's group count when needed.

    Raises:
        ValueError: fewer than two groups in some state, so no fold could hold it out.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(y)
    smallest = min(len(set(groups[y == s])) for s in set(y))
    k = min(folds, smallest)
    if k < 2:
        raise ValueError(f"cannot cross-validate: a state has {smallest} face(s); need at least 2 per state")
    pred = np.empty(len(y), dtype=object)
    for fit, test in StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(X, y, groups):
        pred[test] = EyeStateModel(features).fit(X[fit], y[fit]).predict(X[test])
    return list(pred)


def train_eye_state(root: str | os.PathLike, out: str | os.PathLike, *, model_path: str | os.PathLike | None = None,
                    workers: int | None = 1, features: Sequence[str] = EYE_FEATURES, alpha: float = 1.0,
                    folds: int = 5, seed: int = 0,
                    on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Detect the faces of an eye-state image tree, fit :class:`EyeStateModel`, write ``OUT`` (module
    docstring); returns ``metrics.json``'s content.

    Raises:
        DatasetLayoutError: ``root`` is not an image tree; UnknownLabelError: a folder is not an eye state;
        ModelFileError: no Face Landmarker model; ValueError: fewer than two states with a detected face.
    """
    out = Path(out)
    start = time.perf_counter()
    from ..landmarks.mediapipe_source import extract_image_folder

    lms = extract_image_folder(root, cache_dir=out / "landmarks", model=model_path, workers=workers,
                               on_progress=on_progress, label_of=eye_state_label)
    if len(lms) == 0:
        raise ValueError(f"{root}: no face detected in any image ({len(lms.skipped)} skipped)")
    X = eye_features(lms.pixel_points(), lms.blendshapes).reshape(-1, len(EYE_FEATURES))
    y = np.repeat(np.asarray(lms.labels), 2)
    groups = np.repeat(np.arange(len(lms)), 2)
    model = EyeStateModel(features, alpha).fit(X, y)
    metrics = {"root": str(root), "features": list(features), "alpha": alpha, "faces": len(lms),
               "eyes_per_state": {s: int((y == s).sum()) for s in model.classes_},
               "skipped": len(lms.skipped), "skipped_by_reason": dict(Counter(s.reason for s in lms.skipped)),
               "skipped_files": [{"path": s.path, "reason": s.reason, "detail": s.detail} for s in lms.skipped],
               "coef": dict(zip(features, model.coef_.tolist())), "theta": model.theta_.tolist()}
    try:
        pred = cross_val_states(X, y, groups, folds=folds, seed=seed, features=features)
        metrics["cross_validation"] = {"folds": folds, "seed": seed, **eye_agreement(y, pred)}
    except ValueError as exc:
        metrics["cross_validation"] = {"skipped": str(exc)}
    model.save(out / "eye_state.json")
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    write_json(out / "metrics.json", metrics)
    return metrics
