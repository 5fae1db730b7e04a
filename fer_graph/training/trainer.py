"""Fit and apply one graph module on fixed-topology data; the loop lives in :mod:`fer_graph.models._gnn_fit`.

Most code uses the :class:`~fer_graph.models.estimator.FaceClassifier` interface instead; these functions
are the module-level tools underneath it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..config import TrainConfig
from ..graphs.topology import Topology
from ..models._gnn_fit import EpochLog, fit_module, module_proba

__all__ = ["TrainConfig", "EpochLog", "fit_gnn", "predict_proba"]


def fit_gnn(x: Tensor, graph_attr: Tensor | None, y: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
            *, topology: Topology, num_classes: int, config: TrainConfig, dims: int,
            on_epoch: Callable[[EpochLog], None] | None = None) -> tuple[torch.nn.Module, list[EpochLog], dict]:
    """Train a registered GNN on ``train_idx``, early-stopping on ``val_idx``: see
    :func:`fer_graph.models._gnn_fit.fit_module` (shapes: x ``(G, V, F)``, graph_attr ``(G, A)``, y ``(G,)``)."""
    return fit_module(x, graph_attr, y, train_idx, val_idx, topology=topology, num_classes=num_classes,
                      config=config, dims=dims, on_epoch=on_epoch)


def predict_proba(model: torch.nn.Module, x: Tensor, graph_attr: Tensor | None, topology: Topology,
                  *, batch_size: int = 256, mask: Tensor | None = None, visible: Tensor | None = None) -> Tensor:
    """Class probabilities ``(G, C)`` of a graph module for dense features ``x`` ``(G, V, F)``: see
    :func:`fer_graph.models._gnn_fit.module_proba`."""
    return module_proba(model, x, graph_attr, topology, batch_size=batch_size, mask=mask, visible=visible)
