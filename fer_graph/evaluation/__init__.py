"""Evaluation: metrics, confusion matrices."""

from .metrics import classification_metrics, save_confusion_matrix

__all__ = ["classification_metrics", "save_confusion_matrix"]
