"""Models that ship with the package (``fer_graph/models/weights/``): names, files and lookup."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BUNDLED_MODELS", "DEFAULT_PRETRAINED", "WEIGHTS_DIR", "resolve_pretrained"]

#: Folder of the bundled checkpoints and their model cards.
WEIGHTS_DIR = Path(__file__).parent / "weights"
#: Bundled model name -> checkpoint file in :data:`WEIGHTS_DIR` (its model card: same stem, ``.md``).
BUNDLED_MODELS: dict[str, str] = {"fer2013-gat": "fer2013_gat.pt"}
#: The bundled model that ``init_from="auto"`` fine-tunes from.
DEFAULT_PRETRAINED = "fer2013-gat"


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
