"""Evaluation: metrics, confusion matrices, inference with trained runs."""

from .metrics import classification_metrics, save_confusion_matrix
from .predictor import ExpressionModel, RunNotFoundError, load_model

__all__ = ["classification_metrics", "save_confusion_matrix", "ExpressionModel", "RunNotFoundError", "load_model"]
