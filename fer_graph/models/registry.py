"""Model registry (after torchvision ``models/_api.py``): ``--arch`` choices come from one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ModelEntry", "register_model", "get_model", "get_model_entry", "list_models"]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model builder.

    Attributes:
        name: the ``--arch`` name.
        kind: ``"gnn"`` (a torch module trained by :mod:`fer_graph.training`) or ``"sklearn"``
            (an estimator fitted on flattened features).
        builder: callable returning the model.
        description: one line for ``--help`` and tables.
        needs: graph attributes the model requires (``("blendshapes",)`` for blendshape baselines).
    """

    name: str
    kind: str
    builder: Callable[..., Any]
    description: str
    needs: tuple[str, ...] = ()


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, *, kind: str, description: str, needs: tuple[str, ...] = ()):
    """Decorator registering ``builder`` under ``name``.

    Raises:
        ValueError: ``name`` is already registered or ``kind`` is unknown.
    """
    if kind not in ("gnn", "sklearn"):
        raise ValueError(f"kind={kind!r}; expected 'gnn' or 'sklearn'")

    def wrap(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, kind, builder, description, needs)
        return builder

    return wrap


def list_models(kind: str | None = None) -> list[str]:
    """Registered model names (optionally of one kind), in registration order."""
    return [n for n, e in _REGISTRY.items() if kind is None or e.kind == kind]


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``.

    Raises:
        ValueError: unknown name; the message lists the registered ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {list_models()}") from None


def get_model(name: str, **kwargs: Any) -> Any:
    """Build model ``name`` with keyword arguments (see each builder)."""
    return get_model_entry(name).builder(**kwargs)
