"""fer-graph: facial expression recognition from face-landmark graphs."""

__version__ = "0.1.0"
