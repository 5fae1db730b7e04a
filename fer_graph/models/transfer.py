"""Transfer learning: initialise a new graph classifier from a trained GNN checkpoint (fine-tuning).

Every tensor whose name and shape match is copied, the standardization buffers included (the new model sees
its input in the space the checkpoint learned it in); the output layer's rows are copied for the classes
both share, by name, and the others keep their fresh initialisation. Layers the checkpoint lacks (a deeper
model) or has in another shape (another width) keep theirs too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from .ensemble import first_member
from .gnn_estimator import load_checkpoint

__all__ = ["transfer_weights"]


def _output_layer(model: torch.nn.Module) -> str:
    """State-dict prefix of the last linear layer of ``model.head`` (the class logits)."""
    names = [n for n, m in model.head.named_modules() if isinstance(m, torch.nn.Linear)]
    return f"head.{names[-1]}"


@torch.no_grad()
def transfer_weights(model: torch.nn.Module, path: str | os.PathLike, *, classes: Sequence[str], topology: str,
                     node_dims: int, graph_names: Sequence[str] = ()) -> dict[str, int]:
    """Copy the weights of the GNN checkpoint ``path`` into ``model`` in place (see the module docstring).

    Args:
        model: a freshly built graph classifier (:mod:`fer_graph.models.gnn`) with ``len(classes)`` outputs.
        classes: the new model's class names, in output order.
        topology, node_dims, graph_names: the new data's topology name, coordinates per landmark and
            graph-attribute columns; they must equal the checkpoint's.

    Returns:
        ``{"tensors": copied tensors, "skipped": tensors left as initialised, "classes": output rows copied}``.

    Raises:
        FileNotFoundError, fer_graph.models.ModelLoadError: as :func:`fer_graph.models.gnn_estimator.load_checkpoint`.
        ValueError: the checkpoint was trained on another topology, coordinate count or graph attributes,
            or shares no class with ``classes``.
    """
    source, meta = load_checkpoint(path, backend="fast")  # only its weights are read
    source = first_member(source)  # a seed ensemble starts its fine-tuning from its first member
    path = Path(path)
    theirs = (meta["topology"], int(meta["node_dims"]), tuple(meta.get("graph_names", ())))
    ours = (topology, int(node_dims), tuple(graph_names))
    for what, a, b in zip(("topology", "coordinates per landmark", "graph attributes"), theirs, ours):
        if a != b:
            shown = (f"{len(a)} columns", f"{len(b)} columns") if what == "graph attributes" else (a, b)
            raise ValueError(f"{path}: cannot initialise from this checkpoint: its {what} is {shown[0]}, "
                             f"the data's {shown[1]}")
    shared = [c for c in classes if c in meta["classes"]]
    if not shared:
        raise ValueError(f"{path}: the checkpoint's classes {list(meta['classes'])} share none with {list(classes)}")
    rows = torch.tensor([list(classes).index(c) for c in shared])  # output rows, ours and theirs
    their_rows = torch.tensor([list(meta["classes"]).index(c) for c in shared])
    src, dst = source.state_dict(), model.state_dict()
    out = _output_layer(model)
    copied = 0
    for name, tensor in dst.items():
        theirs_t = src.get(name)
        if name.startswith(out + "."):
            if theirs_t is None or theirs_t.shape[1:] != tensor.shape[1:]:
                continue
            tensor[rows] = theirs_t[their_rows]
            copied += 1
        elif theirs_t is not None and theirs_t.shape == tensor.shape:
            tensor.copy_(theirs_t)
            copied += 1
    return {"tensors": copied, "skipped": len(dst) - copied, "classes": len(shared)}

