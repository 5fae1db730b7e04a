"""Models that ship with the package (``fer_graph/models/weights/``): names, files and lookup."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["BUNDLED_MODELS", "DEFAULT_MODEL", "DEFAULT_PRETRAINED", "WEIGHTS_DIR", "bundled_models",
           "resolve_pretrained", "bundled_onnx"]

#: Folder of the bundled checkpoints and their model cards.
WEIGHTS_DIR = Path(__file__).parent / "weights"
#: Bundled model name -> checkpoint file in :data:`WEIGHTS_DIR`; its model card has the same stem, ``.md`` for
#: people and ``.json`` for tools (training data, publictest scores, licence), and ``.onnx`` is its export
#: for prediction without PyTorch (:func:`fer_graph.models.onnx_export.export_onnx`).
BUNDLED_MODELS: dict[str, str] = {"fer2013-gat": "fer2013_gat.pt"}
#: The bundled model that ``init_from="auto"`` fine-tunes from.
DEFAULT_PRETRAINED = "fer2013-gat"
#: The bundled model that ``fer-graph predict`` and ``fer_graph.load_model()`` use when no run is given.
DEFAULT_MODEL = "fer2013-gat"


def resolve_pretrained(source: str | os.PathLike) -> Path:
    """The checkpoint path of a bundled model name (:data:`BUNDLED_MODELS`) or of a checkpoint file path.

    Raises:
        FileNotFoundError: no such file (for a bundled name: the installed package lacks its weights).
    """
    name = str(source)
    path = WEIGHTS_DIR / BUNDLED_MODELS[name] if name in BUNDLED_MODELS else Path(source)
    if not path.is_file():
        what = f"bundled model {name!r}" if name in BUNDLED_MODELS else "checkpoint"
        raise FileNotFoundError(f"{path}: {what} not found (bundled models: {sorted(BUNDLED_MODELS)})")
    return path


def bundled_onnx(name: str) -> Path | None:
    """The ONNX export of bundled model ``name`` when the package has it and ONNX Runtime is installed,
    else None (prediction then runs the ``.pt`` checkpoint in PyTorch)."""
    from .onnx_model import onnx_available

    if name not in BUNDLED_MODELS:
        return None
    path = (WEIGHTS_DIR / BUNDLED_MODELS[name]).with_suffix(".onnx")
    return path if path.is_file() and onnx_available() else None


def bundled_models() -> list[dict[str, Any]]:
    """One record per bundled model, :data:`DEFAULT_MODEL` first: its model card's JSON fields (``name``,
    ``description``, ``trained_on``, ``evaluation``, ``licence``) plus ``path``, ``card`` (the Markdown
    card's path), ``size_bytes``, ``default``, and from the checkpoint ``classes``, ``topology``,
    ``features``, ``node_dims``.

    Raises:
        FileNotFoundError: a bundled checkpoint or card the installed package lacks.
    """
    from .gnn_estimator import load_checkpoint

    records = []
    for name in sorted(BUNDLED_MODELS, key=lambda n: (n != DEFAULT_MODEL, n)):
        path = resolve_pretrained(name)
        card = json.loads(path.with_suffix(".json").read_text())
        meta = load_checkpoint(path)[1]
        records.append({**card, "name": name, "path": str(path), "card": str(path.with_suffix(".md")),
                        "size_bytes": path.stat().st_size, "default": name == DEFAULT_MODEL,
                        **{k: meta[k] for k in ("classes", "topology", "features", "node_dims")}})
    return records
