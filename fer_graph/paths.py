"""Where fer-graph looks for data: ``--root`` option, else ``$FER_GRAPH_DATA``, else ``./data``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "data_root", "resolve_dataset_path", "default_output_dir"]

#: Environment variable naming the folder that holds the datasets (``ck_lands/``, ``ck48/``, ``fer2013/``).
DATA_ENV = "FER_GRAPH_DATA"


def data_root() -> Path:
    """``$FER_GRAPH_DATA`` if set, else ``./data``."""
    return Path(os.environ.get(DATA_ENV) or "data")


def resolve_dataset_path(path: str | os.PathLike | None, default: str | None = None) -> Path:
    """Resolve a dataset folder: an existing ``path`` as given, else ``path`` (or ``default``) under
    :func:`data_root`. Returns the candidate even if it does not exist (callers raise with context)."""
    if path is not None:
        p = Path(path)
        if p.exists() or p.is_absolute():
            return p
        under = data_root() / p
        return under if under.exists() else p
    if default is None:
        raise ValueError("no dataset path given and this source has no default location")
    return data_root() / default


def default_output_dir(dataset_path: Path) -> Path:
    """``data/processed/<name>`` for a dataset folder (``CK+`` becomes ``ck_lands``)."""
    name = dataset_path.stem if dataset_path.is_file() else dataset_path.name
    if name == "CK+" and dataset_path.parent.name:
        name = dataset_path.parent.name
    return Path("data") / "processed" / name
