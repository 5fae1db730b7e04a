"""fer-graph: facial expression recognition from face-landmark graphs.

Stages: :mod:`fer_graph.landmarks` (sources) -> :mod:`fer_graph.graphs` (topology, normalization,
datasets) -> :mod:`fer_graph.occlusion` -> :mod:`fer_graph.models` -> :mod:`fer_graph.training` /
:mod:`fer_graph.evaluation` -> :mod:`fer_graph.cli`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__version__ = "0.1.0"


def load_model(source: str | os.PathLike | None = None, *, folds: Sequence[int] | None = None,
               backend: str = "fast"):
    """Load a model for prediction (a run of any model family, a model file, or a bundled model name;
    ``None``: the bundled default): ``fer_graph.load_model().predict_images(["face.jpg"])``.

    See :class:`fer_graph.evaluation.ExpressionModel` for the arguments and errors.
    """
    from .evaluation.predictor import ExpressionModel

    return ExpressionModel(source, folds=folds, backend=backend)


def run_occlusion_study(data: str | os.PathLike, out_dir: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """Train several models on one dataset's folds and sweep them over the same occlusions: see
    :func:`fer_graph.evaluation.study.run_occlusion_study`."""
    from .evaluation.study import run_occlusion_study as _run

    return _run(data, out_dir, **kwargs)


__all__ = ["__version__", "load_model", "run_occlusion_study"]
