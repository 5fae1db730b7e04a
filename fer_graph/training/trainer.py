"""Fit and apply one graph module on fixed-topology data: the module-level tools under
:class:`~fer_graph.models.gnn_estimator.GNNClassifier` (the loop lives in :mod:`fer_graph.models._gnn_fit`).

``fit_gnn(x (G, V, F), graph_attr (G, A) | None, y (G,), train_idx, val_idx, *, topology, num_classes, config,
dims, on_epoch=None) -> (module, epoch logs, builder kwargs)``; ``predict_proba(module, x, graph_attr,
topology, *, batch_size=256, mask=None, visible=None) -> (G, C)`` probabilities.
"""

from __future__ import annotations

from ..config import TrainConfig
from ..models._gnn_fit import EpochLog
from ..models._gnn_fit import fit_module as fit_gnn
from ..models._gnn_fit import module_proba as predict_proba

__all__ = ["TrainConfig", "EpochLog", "fit_gnn", "predict_proba"]
