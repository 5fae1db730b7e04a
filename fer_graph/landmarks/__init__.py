"""Landmark sources: CK+ lands 68-point CSVs, generic/OpenFace CSVs, MediaPipe Face Landmarker on images."""

from ._types import LandmarkSet, SkipRecord
from .ck_lands import CKLandsSequence, read_ck_lands, read_ck_lands_sequences
from .csv_source import read_landmark_csv

__all__ = [
    "LandmarkSet",
    "SkipRecord",
    "CKLandsSequence",
    "read_ck_lands",
    "read_ck_lands_sequences",
    "read_landmark_csv",
]
