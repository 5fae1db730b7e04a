"""Reader for 300-W / iBUG ``.pts`` landmark files (Sagonas et al., "300 Faces in-the-Wild", 2013)::

    version: 1
    n_points:  68
    {
    x0 y0
    ...
    }

Coordinates are pixels (the 68 iBUG points of the ``ibug68`` topology; the format starts counting at 1,
which a pixel-unit reader can ignore).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..exceptions import LandmarkFileError
from ._text import read_text

__all__ = ["read_pts"]


def read_pts(path: str | os.PathLike) -> np.ndarray:
    """The points of one ``.pts`` file: ``(n_points, 2)`` float32 pixels.

    Raises:
        LandmarkFileError: no ``n_points`` header, no ``{ }`` block, a line that is not two finite
            numbers, or a point count other than ``n_points`` (``path:line`` in each message).
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    n = next((int(ln.split(":", 1)[1]) for ln in lines if ln.strip().startswith("n_points:")
              and ln.split(":", 1)[1].strip().isdigit()), None)
    if n is None:
        raise LandmarkFileError(f"{path}:1: not a 300-W .pts file: no 'n_points: N' line")
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "{") + 1
        stop = next(i for i in range(start, len(lines)) if lines[i].strip() == "}")
    except StopIteration:
        raise LandmarkFileError(f"{path}: not a 300-W .pts file: no '{{' ... '}}' block of points") from None
    points = []
    for i in range(start, stop):
        parts = lines[i].split()
        try:
            xy = [float(v) for v in parts]
        except ValueError:
            xy = []
        if len(xy) != 2 or not all(np.isfinite(xy)):
            raise LandmarkFileError(f"{path}:{i + 1}: expected two numbers 'x y', got {lines[i].strip()!r}")
        points.append(xy)
    if len(points) != n:
        raise LandmarkFileError(f"{path}:{stop + 1}: n_points is {n}, the block holds {len(points)} points")
    return np.asarray(points, np.float32)
