"""Graph construction: fixed topologies, landmark normalization, PyG datasets. Submodules load on first
attribute access, so normalizing landmarks does not import PyTorch Geometric."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SOURCES": "build", "build_graphs": "build",
    "FaceGraphDataset": "dataset", "CKLandsGraphs": "dataset", "LandmarkCSVGraphs": "dataset",
    "head_pose": "pose",
    "NormalizationParams": "normalize", "normalize_landmarks": "normalize", "normalize_for_topology": "normalize",
    "denormalize_landmarks": "normalize", "eye_centers": "normalize",
    "LandmarkSetGraphs": "synthetic", "make_face_landmarks": "synthetic", "write_ck_lands": "synthetic",
    "write_landmark_csv": "synthetic",
    "Topology": "topology", "IBUG68": "topology", "MEDIAPIPE468": "topology", "MEDIAPIPE478": "topology",
    "get_topology": "topology", "list_topologies": "topology", "topology_for_points": "topology",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
