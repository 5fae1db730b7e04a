"""How a model sees occluded landmarks: node removal, feature masking or mean-shape imputation.

These functions act on dense batches ``(G, V, F)`` of one topology (the layout of
:func:`fer_graph.graphs.features.FeatureSpec.node_features`), which is what the fast GNN path and the
scikit-learn baselines consume. :mod:`fer_graph.occlusion.transforms` offers the same operations as PyG
transforms on single ``Data`` graphs.

Strategies:

- ``removal``: the occluded nodes and their edges are deleted (a true subgraph). Expressed as a node mask
  that the fast GNN layers honour exactly as the PyG layers on the subgraph; coordinates of removed nodes
  are zeroed so nothing can leak. Not defined for models on flattened coordinates (SVM, MLP...).
- ``masking``: coordinates of occluded nodes are set to 0, the topology is kept, and a binary visibility
  feature (1 = seen) goes with them. GNNs receive ``visible`` and zero the occluded landmarks in their
  standardized input space (the training mean; with per-landmark statistics a raw 0 would be an outlier of
  tens of standard deviations) and feed the visibility to models built with a visibility input; models on
  flattened coordinates see the raw zero-fill (0 = the face centre in IOD units).
- ``imputation``: occluded coordinates are replaced by the aligned mean face of the training data
  (``mean_face`` ``(V, F)``, per fold under k-fold protocols).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["STRATEGIES", "OccludedBatch", "occlude", "check_strategy"]

STRATEGIES: tuple[str, ...] = ("removal", "masking", "imputation")


def check_strategy(strategy: str) -> str:
    """Return ``strategy`` if known.

    Raises:
        ValueError: unknown strategy (the valid ones listed).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown occlusion strategy {strategy!r}; expected one of {list(STRATEGIES)}")
    return strategy


@dataclass
class OccludedBatch:
    """A batch as a model should receive it.

    Attributes:
        x: ``(G, V, F)`` float32 node features.
        present: ``(G, V)`` bool node mask for ``removal`` (True = node kept), else ``None``.
        visible: ``(G, V)`` bool visibility (True = seen), for models with a visibility input.
    """

    x: Tensor
    present: Tensor | None
    visible: Tensor


def occlude(x: Tensor, occluded: Tensor, strategy: str, *, mean_face: Tensor | None = None) -> OccludedBatch:
    """Apply one strategy to the occluded landmarks of a dense batch.

    Args:
        x: ``(G, V, F)`` float32 normalized node features (IOD units).
        occluded: ``(G, V)`` bool, True = occluded (see :mod:`fer_graph.occlusion.masks`).
        strategy: ``removal``, ``masking`` or ``imputation``.
        mean_face: ``(V, F)`` mean training features, required by ``imputation``.

    Returns:
        An :class:`OccludedBatch`; ``x`` is a new tensor (the input is never modified).

    Raises:
        ValueError: unknown strategy, shapes that do not match, a graph with every node removed, or
            ``imputation`` without ``mean_face``.
    """
    check_strategy(strategy)
    occluded = torch.as_tensor(occluded, dtype=torch.bool)
    if x.dim() != 3 or tuple(occluded.shape) != tuple(x.shape[:2]):
        raise ValueError(f"occlude: x must be (G, V, F) and occluded (G, V); got {tuple(x.shape)} and "
                         f"{tuple(occluded.shape)}")
    visible = ~occluded
    if strategy == "imputation":
        if mean_face is None:
            raise ValueError("occlude: strategy 'imputation' needs mean_face (V, F) of the training data")
        if tuple(mean_face.shape) != tuple(x.shape[1:]):
            raise ValueError(f"occlude: mean_face must be {tuple(x.shape[1:])}, got {tuple(mean_face.shape)}")
        return OccludedBatch(torch.where(occluded[..., None], mean_face.to(x.dtype), x), None, visible)
    out = x.masked_fill(occluded[..., None], 0.0)
    if strategy == "masking":
        return OccludedBatch(out, None, visible)
    if not visible.any(1).all():
        raise ValueError("occlude: removal would delete every node of a graph; keep at least one node")
    return OccludedBatch(out, visible, visible)
