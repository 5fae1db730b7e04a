"""Models: GCN/GAT graph classifiers and scikit-learn baselines, behind one registry and one interface
(:class:`FaceClassifier`). Heavy modules (torch, PyG, Numba, scikit-learn) load on first attribute access."""

from __future__ import annotations

import importlib
from typing import Any

from .registry import BUILTIN_MODELS, ModelEntry, get_model, get_model_entry, list_models, register_model

_LAZY = {
    "FastGATConv": "fast", "FastGATv2Conv": "fast", "FastGCNConv": "fast",
    "GraphClassifier": "gnn", "DenseGraphClassifier": "gnn", "gcn": "gnn", "gat": "gnn",
    "ModelInputs": "estimator", "FaceClassifier": "estimator", "ModelLoadError": "estimator",
    "make_classifier": "estimator", "load_classifier": "estimator",
    "GNNClassifier": "gnn_estimator", "SklearnClassifier": "sklearn_estimator", "flat_features": "sklearn_estimator",
    "EpochLog": "_gnn_fit",
}

__all__ = ["BUILTIN_MODELS", "ModelEntry", "get_model", "get_model_entry", "list_models", "register_model",
           *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
