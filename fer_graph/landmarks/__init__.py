"""Landmark sources: CK+ lands 68-point CSVs, generic/OpenFace CSVs, MediaPipe Face Landmarker on images.
Submodules load on first attribute access, so detecting faces does not import pandas."""

from __future__ import annotations

import importlib
from typing import Any

from ._types import LandmarkSet, SkipRecord

_LAZY = {"CKLandsSequence": "ck_lands", "read_ck_lands": "ck_lands", "read_ck_lands_sequences": "ck_lands",
         "read_landmark_csv": "csv_source", "mesh_to_ibug68": "mesh68"}

__all__ = ["LandmarkSet", "SkipRecord", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
