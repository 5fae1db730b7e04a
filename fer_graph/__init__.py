"""fer-graph: facial expression recognition from face-landmark graphs.

Stages: :mod:`fer_graph.landmarks` (sources) -> :mod:`fer_graph.graphs` (topology, normalization,
datasets) -> :mod:`fer_graph.models` -> :mod:`fer_graph.training` / :mod:`fer_graph.evaluation`.
"""

__version__ = "0.1.0"


def load_model(run):
    """Load a trained run for prediction (see :class:`fer_graph.evaluation.ExpressionModel`)."""
    from .evaluation.predictor import load_model as _load

    return _load(run)


__all__ = ["__version__", "load_model"]
