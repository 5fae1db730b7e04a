"""Model registry (after torchvision ``models/_api.py``): ``--arch`` choices come from one place.

Names are known without importing the model code (torch, PyG, Numba, scikit-learn load only when a
model is built), so listing models is cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["ModelEntry", "register_model", "get_model", "get_model_entry", "list_models"]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model builder.

    Attributes:
        name: the ``--arch`` name.
        kind: ``"gnn"`` (a torch module, :class:`~fer_graph.models.gnn_estimator.GNNClassifier`) or
            ``"sklearn"`` (an estimator on flattened features, :class:`~fer_graph.models.sklearn_estimator.SklearnClassifier`).
        builder: callable returning the unfitted model (a ``torch.nn.Module`` or a scikit-learn estimator).
        description: one line for ``--help`` and tables.
        needs: graph attributes the model requires (``("blendshapes",)`` for blendshape baselines).
        inputs: what a scikit-learn model sees (:func:`~fer_graph.models.sklearn_estimator.flat_features`):
            ``"flat"`` (flattened node features and graph attributes), ``"blendshapes"``, or ``"distances"``
            (each landmark's distance to the face centroid, then the graph attributes).
        grid: scikit-learn hyper-parameter grid searched on inner validation (empty for GNNs).
        features: the feature spec the model trains on when ``--features`` is not given (``"seq"`` for the
            sequence model); ``None``: the dataset's default.
    """

    name: str
    kind: str
    builder: Callable[..., Any]
    description: str
    needs: tuple[str, ...] = ()
    grid: Mapping[str, tuple] = field(default_factory=dict)
    inputs: str = "flat"
    features: str | None = None


_REGISTRY: dict[str, ModelEntry] = {}
#: modules whose import registers the built-in models
_BUILTIN_MODULES = ("fer_graph.models.gnn", "fer_graph.models.baselines", "fer_graph.models.stgcn")
#: the built-in names, in registration order, so listing them imports nothing
BUILTIN_MODELS = ("gcn", "gat", "logreg", "mlp", "svm", "pca-svm", "dist-pca-svm", "blendshape-svm",
                  "blendshape-rf", "blendshape-gb", "stgcn")
#: values of :attr:`ModelEntry.inputs`
MODEL_INPUTS = ("flat", "blendshapes", "distances")


def _load_builtins(name: str | None = None) -> None:
    """Import the module registering built-in model ``name`` (the GNNs or the scikit-learn baselines, so
    loading a GNN does not import scikit-learn), or every built-in module for other names."""
    modules = (_BUILTIN_MODULES[:1] if name in ("gcn", "gat") else _BUILTIN_MODULES[2:] if name == "stgcn"
               else _BUILTIN_MODULES[1:2] if name in BUILTIN_MODELS else _BUILTIN_MODULES)
    for module in modules:
        importlib.import_module(module)


def register_model(name: str, *, kind: str, description: str, needs: tuple[str, ...] = (),
                   grid: Mapping[str, list] | None = None, inputs: str | None = None, features: str | None = None):
    """Decorator registering ``builder`` under ``name`` (``inputs``, ``features``: see :class:`ModelEntry`;
    ``inputs`` defaults to ``"blendshapes"`` when ``needs`` has them, else ``"flat"``).

    Raises:
        ValueError: ``name`` is already registered, or ``kind`` or ``inputs`` is unknown.
    """
    if kind not in ("gnn", "sklearn"):
        raise ValueError(f"kind={kind!r}; expected 'gnn' or 'sklearn'")
    inputs = inputs or ("blendshapes" if "blendshapes" in needs else "flat")
    if inputs not in MODEL_INPUTS:
        raise ValueError(f"inputs={inputs!r}; expected one of {MODEL_INPUTS}")

    def wrap(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        frozen = MappingProxyType({k: tuple(v) for k, v in (grid or {}).items()})
        _REGISTRY[name] = ModelEntry(name, kind, builder, description, tuple(needs), frozen, inputs, features)
        return builder

    return wrap


def list_models() -> list[str]:
    """Registered model names: the built-in ones, then any registered by user code."""
    return list(BUILTIN_MODELS) + [n for n in _REGISTRY if n not in BUILTIN_MODELS]


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``.

    Raises:
        ValueError: unknown name; the message lists the registered ones.
    """
    if name not in _REGISTRY:
        _load_builtins(name)  # cached imports: cheap after the first call
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {list_models()}") from None


def get_model(name: str, **kwargs: Any) -> Any:
    """Build the unfitted model ``name`` with keyword arguments (see each builder)."""
    return get_model_entry(name).builder(**kwargs)
