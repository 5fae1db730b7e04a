"""Models: GCN/GAT graph classifiers and classical baselines, behind one registry."""

from . import baselines as _baselines  # noqa: F401  (registers the sklearn baselines)
from .fast import FastGATConv, FastGATv2Conv, FastGCNConv
from .gnn import GraphClassifier, gat, gcn
from .registry import ModelEntry, get_model, get_model_entry, list_models, register_model

__all__ = ["FastGCNConv", "FastGATConv", "FastGATv2Conv", "GraphClassifier", "gcn", "gat", "ModelEntry", "get_model", "get_model_entry", "list_models",
           "register_model"]
