"""GNN checkpoints: weights plus the metadata needed to use them safely (class names, topology, features).

Saved as plain tensors and builtins, so ``torch.load(path, weights_only=True)`` reads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from .._io import atomic_path
from ..exceptions import FerGraphError
from ..models import get_model

__all__ = ["CheckpointMismatchError", "save_checkpoint", "load_checkpoint", "check_compatible"]


class CheckpointMismatchError(FerGraphError, ValueError):
    """A checkpoint does not fit the data it is applied to (topology, node features, dims)."""


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Write ``{"state_dict", "meta"}`` atomically; ``meta`` must hold ``arch`` and ``model_kwargs``."""
    for key in ("arch", "model_kwargs", "classes", "topology", "features", "node_dims"):
        if key not in meta:
            raise ValueError(f"checkpoint meta lacks {key!r}")
    payload = {"state_dict": model.state_dict(), "meta": {**meta, "fer_graph_version": __version__}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike, *, backend: str | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint (``weights_only=True``) in eval mode.

    ``backend`` (``"pyg"`` or ``"fast"``) picks the layer implementation; both load the same weights.
    ``None`` keeps the model's default (PyG).

    Raises:
        FileNotFoundError: no such file.
        CheckpointMismatchError: the file is not a fer-graph checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "state_dict" not in payload or "meta" not in payload:
        raise CheckpointMismatchError(f"{path}: not a fer-graph checkpoint (no state_dict/meta)")
    meta = payload["meta"]
    kwargs = dict(meta["model_kwargs"])
    if backend is not None:
        kwargs["backend"] = backend
    model = get_model(meta["arch"], **kwargs)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, meta


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
