"""GNN checkpoints (weights plus the metadata needed to use them safely) and the data-compatibility check.

Saved as plain tensors and builtins, so ``torch.load(path, weights_only=True)`` reads them.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import FerGraphError
from ..models.gnn_estimator import load_checkpoint, save_checkpoint

__all__ = ["CheckpointMismatchError", "save_checkpoint", "load_checkpoint", "check_compatible"]


class CheckpointMismatchError(FerGraphError, ValueError):
    """A checkpoint does not fit the data it is applied to (topology, node features, dims)."""


def check_compatible(meta: dict[str, Any], *, topology: str, features: str, node_dims: int,
                     where: str = "") -> None:
    """Refuse data whose topology, feature spec or coordinate dims differ from the checkpoint's.

    Raises:
        CheckpointMismatchError: naming both values.
    """
    prefix = f"{where}: " if where else ""
    for name, want, got in (("topology", meta["topology"], topology), ("features", meta["features"], features),
                            ("node_dims", meta["node_dims"], node_dims)):
        if want != got:
            raise CheckpointMismatchError(
                f"{prefix}checkpoint was trained on {name}={want!r}, the data has {name}={got!r}")
