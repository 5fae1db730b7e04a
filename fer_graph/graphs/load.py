"""Open a processed dataset by path, whatever the source, without the raw data."""

from __future__ import annotations

import os
from pathlib import Path

from .._io import read_json
from ..exceptions import DatasetLayoutError
from .dataset import FaceGraphDataset

__all__ = ["load_processed", "ProcessedGraphs"]


class ProcessedGraphs(FaceGraphDataset):
    """A processed dataset opened read-only from its ``processed/<source>-<hash>`` folder."""

    def __init__(self, processed_dir: str | os.PathLike) -> None:
        processed_dir = Path(processed_dir)
        meta = read_json(processed_dir / "meta.json")
        self.source = meta["source"]
        self._fixed_dir = processed_dir
        self._fingerprint = meta.get("fingerprint")
        super().__init__(processed_dir.parent.parent, options={k: v for k, v in meta["options"].items()
                                                               if k != "source"})

    @property
    def processed_dir(self) -> str:
        return str(self._fixed_dir)

    @property
    def raw_dir(self) -> str:
        return str(self._fixed_dir)

    def raw_fingerprint(self) -> str:
        return self._fingerprint

    def process(self) -> None:  # pragma: no cover - the folder is complete by construction
        raise DatasetLayoutError(f"{self._fixed_dir}: incomplete processed dataset; rebuild it with build-graphs")


def load_processed(path: str | os.PathLike) -> FaceGraphDataset:
    """Open a processed dataset from a ``build-graphs`` output folder (``OUT``) or from its
    ``OUT/processed/<source>-<hash>`` folder, wherever ``OUT`` has been moved.

    In ``OUT``, the dataset named by ``summary.json`` (its folder name, under ``OUT/processed``) is
    opened, else the only processed dataset there.

    Raises:
        DatasetLayoutError: no processed dataset there, or several (name the one you mean).
    """
    path = Path(path)
    if (path / "meta.json").is_file() and (path / "data.pt").is_file():
        return ProcessedGraphs(path)
    if (path / "summary.json").is_file():
        # the recorded path may be absolute or relative to another cwd; the folder is always OUT/processed/<name>
        target = path / "processed" / Path(read_json(path / "summary.json")["processed_dir"]).name
        if (target / "meta.json").is_file():
            return ProcessedGraphs(target)
    candidates = sorted(p.parent for p in path.glob("processed/*/meta.json") if (p.parent / "data.pt").is_file())
    if len(candidates) == 1:
        return ProcessedGraphs(candidates[0])
    if not candidates:
        raise DatasetLayoutError(f"{path}: no processed dataset (expected OUT of build-graphs, or OUT/processed/<name>)")
    raise DatasetLayoutError(f"{path}: {len(candidates)} processed datasets; pass one of "
                             + ", ".join(str(c) for c in candidates))
