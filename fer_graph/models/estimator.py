"""One interface for every expression model: GNNs and scikit-learn baselines alike.

Every model is a :class:`FaceClassifier` (in the spirit of scikit-learn estimators and skorch): ``fit``,
``predict_proba``, ``classes_``, ``save`` / :func:`load_classifier`. Inputs are :class:`ModelInputs`, the
features of G face graphs; each model takes the parts it uses (node features, graph attributes, blendshapes).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # torch is imported where tensors are made: ONNX models predict without it
    from torch import Tensor

from ..exceptions import FerGraphError

__all__ = ["ModelInputs", "FaceClassifier", "ModelLoadError", "make_classifier", "load_classifier",
           "CHECKPOINT_SUFFIXES"]


class ModelLoadError(FerGraphError, ValueError):
    """A saved model cannot be loaded: not a fer-graph model file, truncated, or holding untrusted objects."""


@dataclass(frozen=True)
class ModelInputs:
    """Features of G face graphs: torch tensors, or numpy arrays for ONNX models
    (:class:`~fer_graph.models.onnx_model.OnnxClassifier`, which accepts either).

    Attributes:
        x: ``(G, V, F)`` float32 node features (normalized coordinates, IOD units; displacements).
        graph_attr: ``(G, A)`` float32 graph attributes (blendshapes, head pose) or ``None``.
        blendshapes: ``(G, 52)`` float32 MediaPipe blendshape scores in [0, 1], or ``None``.
        graph_names: names of the ``A`` graph-attribute columns (blendshape names, ``pitch``/``yaw``/``roll``);
            empty when unknown. Training mirrors the attributes with the landmarks only when they are named.
    """

    x: Tensor
    graph_attr: Tensor | None = None
    blendshapes: Tensor | None = None
    graph_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.x)

    @classmethod
    def from_dataset(cls, ds, spec, index: np.ndarray | None = None) -> ModelInputs:
        """The inputs of a :class:`~fer_graph.graphs.dataset.FaceGraphDataset` (or of its graphs ``index``)
        under feature spec ``spec`` (:class:`~fer_graph.graphs.features.FeatureSpec`); blendshapes when the
        dataset has them."""
        bs = ds.tensor("blendshapes") if "blendshapes" in ds.meta["attributes"] else None
        inputs = cls(spec.node_features(ds), spec.graph_features(ds), bs, spec.graph_names())
        return inputs if index is None else inputs.take(index)

    def take(self, idx: np.ndarray | Tensor | slice) -> ModelInputs:
        """The inputs of the graphs ``idx`` (same order)."""
        if not isinstance(idx, slice) and not isinstance(self.x, np.ndarray):
            import torch

            idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        return ModelInputs(self.x[idx], None if self.graph_attr is None else self.graph_attr[idx],
                           None if self.blendshapes is None else self.blendshapes[idx], self.graph_names)


class FaceClassifier(ABC):
    """An expression classifier for face graphs.

    Attributes:
        arch: the registered model name.
        classes_: class names, the column order of :meth:`predict_proba`.
        kind: ``"gnn"`` or ``"sklearn"`` (reported in tables, never branched on outside the model layer).
        supports_removal: whether occluded nodes can be removed (graph models) rather than masked or imputed.
        fit_info_: after ``fit``: ``{"epochs", "best_epoch", "logs", "params"}`` as far as they apply.
    """

    kind: ClassVar[str]
    suffix: ClassVar[str]
    supports_removal: ClassVar[bool] = False

    def __init__(self, arch: str, classes: list[str]) -> None:
        self.arch = arch
        self.classes_ = list(classes)
        self.fit_info_: dict[str, Any] = {}

    @property
    def reference_strategy(self) -> str:
        """The occlusion strategy that suits the model: node ``removal`` for graph models, else mean-shape
        ``imputation`` (zero-filling a flat vector sends linear and kernel models to one class)."""
        return "removal" if self.supports_removal else "imputation"

    @abstractmethod
    def fit(self, inputs: ModelInputs, y: np.ndarray, *, train: np.ndarray, validation: np.ndarray,
            on_epoch: Callable[[Any], None] | None = None) -> FaceClassifier:
        """Fit on the graphs ``train`` of ``inputs``; choose epochs or hyper-parameters on ``validation``
        (disjoint subjects, never a test fold). ``y``: ``(G,)`` class indices into :attr:`classes_`."""

    @abstractmethod
    def predict_proba(self, inputs: ModelInputs, *, mask: Tensor | None = None,
                      visible: Tensor | None = None) -> np.ndarray:
        """``(G, C)`` float class probabilities. ``mask`` ``(G, V)`` bool (False = node removed) needs
        :attr:`supports_removal`; ``visible`` ``(G, V)`` bool marks occluded landmarks for models that use it."""

    def predict(self, inputs: ModelInputs, **kwargs: Any) -> np.ndarray:
        """``(G,)`` predicted class indices (argmax of :meth:`predict_proba`)."""
        return self.predict_proba(inputs, **kwargs).argmax(1)

    @abstractmethod
    def save(self, path: str | os.PathLike, meta: dict[str, Any]) -> Path:
        """Write the fitted model and ``meta`` (class names, topology, features) to ``path`` + :attr:`suffix`,
        atomically. Returns the file written."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.arch!r}, classes={self.classes_})"


def make_classifier(arch: str, config, *, classes: list[str], topology, dims: int, refit: bool = False
                    ) -> FaceClassifier:
    """An unfitted classifier of registered model ``arch`` with ``config``'s hyper-parameters.

    Args:
        arch: registered name (:func:`fer_graph.models.list_models`).
        config: :class:`fer_graph.config.TrainConfig`.
        classes: class names; topology: the graphs' :class:`~fer_graph.graphs.topology.Topology`;
        dims: coordinates per landmark (2 or 3).
        refit: GNNs: retrain on all training subjects for the epoch count early stopping chose.
        ``config.hierarchy`` other than ``"none"`` gives a :class:`~fer_graph.models.hierarchy.HierarchicalClassifier`
        of ``arch`` models.

    Raises:
        ValueError: unknown ``arch`` (the message lists the registered names); ``config.members > 1`` for
            a model that is not a GNN.
    """
    from .gnn_estimator import GNNClassifier
    from .registry import get_model_entry
    from .sklearn_estimator import SklearnClassifier

    entry = get_model_entry(arch)
    if getattr(config, "hierarchy", "none") != "none":
        from .hierarchy import HierarchicalClassifier

        return HierarchicalClassifier(arch, config, classes=classes, topology=topology, dims=dims, refit=refit)
    cls = GNNClassifier if entry.kind == "gnn" else SklearnClassifier
    if entry.kind != "gnn" and getattr(config, "members", 1) > 1:
        raise ValueError(f"members={config.members}: seed ensembles are for GNNs; {arch} is a {entry.kind} model")
    return cls(arch, config, classes=classes, topology=topology, dims=dims, refit=refit)


#: File suffixes of saved models, one per model family.
CHECKPOINT_SUFFIXES = (".pt", ".skops", ".onnx", ".hier")


def load_classifier(path: str | os.PathLike, *, backend: str = "fast") -> tuple[FaceClassifier, dict[str, Any]]:
    """Load a model written by :meth:`FaceClassifier.save`: ``(classifier, meta)``. Never runs code from
    the file: torch weights load with ``weights_only=True``, scikit-learn models through ``skops.io`` with
    an explicit list of trusted types.

    Args:
        path: a ``.pt`` (GNN), ``.skops`` (scikit-learn), ``.onnx`` (GNN exported by
            :func:`fer_graph.models.onnx_export.export_onnx`; ONNX Runtime, no PyTorch) or ``.hier``
            (:class:`~fer_graph.models.hierarchy.HierarchicalClassifier`) file.
        backend: GNN layer implementation, ``"fast"`` or ``"pyg"`` (same weights).

    Raises:
        FileNotFoundError: no such file. ModelLoadError: unknown suffix, unreadable, or untrusted content.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    if path.suffix == ".pt":
        from .gnn_estimator import GNNClassifier  # scikit-learn is not imported for a GNN

        return GNNClassifier.load(path, backend=backend)
    if path.suffix == ".skops":
        from .sklearn_estimator import SklearnClassifier

        return SklearnClassifier.load(path)
    if path.suffix == ".onnx":
        from .onnx_model import OnnxClassifier

        return OnnxClassifier.load(path)
    if path.suffix == ".hier":
        from .hierarchy import HierarchicalClassifier

        return HierarchicalClassifier.load(path, backend=backend)
    raise ModelLoadError(f"{path}: unknown model file type {path.suffix!r}; expected one of {list(CHECKPOINT_SUFFIXES)}")
