"""Exception types of fer-graph.

They subclass built-in exceptions (as scikit-learn's ``exceptions.py`` does), so callers may catch either
the specific type or the built-in one. Messages name the file and line (``path:line``) where they can.
"""

from __future__ import annotations

__all__ = [
    "FerGraphError",
    "LandmarkFileError",
    "UnknownLabelError",
    "DatasetLayoutError",
    "ModelFileError",
]


class FerGraphError(Exception):
    """Base class of every error raised on purpose by fer-graph."""


class LandmarkFileError(FerGraphError, ValueError):
    """A landmark file is malformed: wrong column count, non-numeric or NaN values, missing rows.

    The message starts with ``path:line:`` (1-based line numbers, as editors show them).
    """


class UnknownLabelError(FerGraphError, ValueError):
    """A label (code or name) is not in the dataset's label map; the message lists the valid ones."""


class DatasetLayoutError(FerGraphError, FileNotFoundError):
    """A dataset folder or file is missing, empty, or not laid out as documented in ``data/README.md``."""


class ModelFileError(FerGraphError, FileNotFoundError):
    """The MediaPipe Face Landmarker model file cannot be found, read, or verified."""
