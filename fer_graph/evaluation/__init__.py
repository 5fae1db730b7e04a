"""Evaluation: metrics, confusion matrices, inference with trained models. Submodules load on first
attribute access, so prediction does not import scikit-learn's metrics."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "classification_metrics": "metrics", "save_confusion_matrix": "metrics",
    "ExpressionModel": "predictor", "RunNotFoundError": "predictor", "load_model": "predictor",
    "FaceRecord": "predictor", "ImagePredictions": "predictor",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
