"""Training: protocols (subject-independent k-fold, hold-out), run directories, the GNN fitting tools.
Submodules load on first attribute access (prediction needs only :mod:`.checkpoint`)."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "TrainConfig": "..config",
    "CheckpointMismatchError": ".checkpoint", "check_compatible": ".checkpoint", "load_checkpoint": ".checkpoint",
    "save_checkpoint": ".checkpoint",
    "Fold": ".run", "FoldJob": ".run", "TrainingData": ".run", "dataset_name": ".run", "fit_folds": ".run",
    "make_folds": ".run", "prepare_data": ".run", "train": ".run",
    "groups_of": ".splits", "holdout_split": ".splits", "inner_split": ".splits", "protocol_of": ".splits",
    "subject_kfold": ".splits",
    "EpochLog": ".trainer", "fit_gnn": ".trainer", "predict_proba": ".trainer",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
