"""scikit-learn baselines behind the :class:`~fer_graph.models.estimator.FaceClassifier` interface.

Coordinate baselines see the flattened node features followed by the graph attributes; blendshape
baselines see only the 52 blendshape scores. Hyper-parameters are chosen by ``GridSearchCV`` on a
``PredefinedSplit``: fitted on the inner-training subjects, scored on the inner-validation subjects, then
the best setting is refitted on both (never on a test fold). Models are saved with ``skops.io``, which
loads only an explicit list of trusted types and never runs code from the file (pickle and joblib do).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._io import atomic_path
from .._random import check_rng, undersample
from .estimator import FaceClassifier, ModelInputs, ModelLoadError
from .registry import get_model, get_model_entry

__all__ = ["SklearnClassifier", "flat_features", "TRUSTED_TYPES"]

#: Types beyond skops' defaults that the baselines' fitted estimators hold (tree arrays, the MLP optimiser).
TRUSTED_TYPES = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
)


def landmark_distances(x: Tensor, dims: int) -> Tensor:
    """``(G, V)`` distance of each landmark to the face's landmark centroid (its "centre of gravity"), from
    the first ``dims`` node feature channels ``x`` ``(G, V, F)`` (the normalized coordinates: IOD units)."""
    pos = x[..., :dims]
    return (pos - pos.mean(1, keepdim=True)).norm(dim=-1)


def flat_features(inputs: ModelInputs, *, kind: str = "flat", dims: int = 2) -> np.ndarray:
    """The input of scikit-learn models, by :attr:`~fer_graph.models.registry.ModelEntry.inputs`:
    ``"blendshapes"``: ``(G, 52)`` blendshapes; ``"flat"``: the flattened node features ``(G, V*F)``;
    ``"distances"``: :func:`landmark_distances` ``(G, V)`` of the first ``dims`` channels; the last two
    followed by the graph attributes ``(G, A)``.

    Raises:
        ValueError: blendshapes requested but the inputs have none (68-point landmark data); unknown ``kind``.
    """
    if kind == "blendshapes":
        if inputs.blendshapes is None:
            raise ValueError("this model uses the 52 MediaPipe blendshapes, which these inputs do not have "
                             "(landmark CSVs and 68-point data carry none)")
        return np.asarray(inputs.blendshapes, dtype=np.float32)
    if kind not in ("flat", "distances"):
        raise ValueError(f"flat_features: kind={kind!r}; expected 'flat', 'distances' or 'blendshapes'")
    nodes = inputs.x.reshape(len(inputs.x), -1) if kind == "flat" else landmark_distances(inputs.x, dims)
    parts = [nodes] + ([inputs.graph_attr] if inputs.graph_attr is not None else [])
    return torch.cat(parts, dim=1).numpy()


class SklearnClassifier(FaceClassifier):
    """A registered scikit-learn baseline (``logreg``, ``svm``, ``mlp``, ``blendshape-rf``...).

    Args:
        arch: registered name; config: :class:`fer_graph.config.TrainConfig` (``seed``, ``balance``).
        classes: class names. dims: coordinate channels of the node features (``dist-pca-svm``'s
            distances). topology, refit: accepted for a uniform signature, unused.

    Attributes:
        estimator_: the fitted estimator; best_params_: the grid setting chosen on inner validation.
    """

    kind = "sklearn"
    suffix = ".skops"

    def __init__(self, arch: str, config=None, *, classes: list[str], topology=None, dims: int = 2,
                 refit: bool = False) -> None:
        super().__init__(arch, classes)
        self.config = config
        self.inputs, self.dims = get_model_entry(arch).inputs, dims
        self.estimator_: Any = None
        self.best_params_: dict[str, Any] = {}

    def _resample(self, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``idx`` itself; with ``balance="oversample"`` every class drawn up to the largest one's count; with
        ``"undersample"`` a class-balanced subset (the final fit on training and validation graphs too)."""
        if self.config.balance == "undersample":
            return undersample(idx, y, self.config.seed)
        if self.config.balance != "oversample":
            return idx
        rng = check_rng(self.config.seed)
        counts = np.bincount(y[idx])
        parts = [rng.choice(idx[y[idx] == c], size=counts.max(), replace=True) for c in np.flatnonzero(counts)]
        return np.sort(np.concatenate(parts))

    def _search(self, est: Any, grid: dict[str, list], feats: np.ndarray, y: np.ndarray, train: np.ndarray,
                validation: np.ndarray) -> tuple[dict[str, Any], float | None]:
        """``(grid setting, its inner-validation accuracy)`` with the best accuracy (first on ties);
        ``({}, None)`` without a choice."""
        from sklearn.model_selection import GridSearchCV, ParameterGrid, PredefinedSplit

        if len(ParameterGrid(grid)) < 2 or not len(validation):
            return {}, None
        fit_idx = self._resample(train, y)
        idx = np.concatenate([fit_idx, validation])
        test_fold = np.concatenate([np.full(len(fit_idx), -1), np.zeros(len(validation), dtype=int)])
        search = GridSearchCV(est, grid, scoring="accuracy", cv=PredefinedSplit(test_fold), refit=False)
        search.fit(feats[idx], y[idx], **self._weights(est, y[idx]))
        return dict(search.best_params_), float(search.best_score_)

    def _weights(self, est: Any, y: np.ndarray) -> dict[str, np.ndarray]:
        """Fit keyword arguments: with ``balance="weighted"``, inverse-frequency ``sample_weight`` for an
        estimator without a ``class_weight`` parameter (scikit-learn's MLP), routed to a pipeline's last
        step; else none (the builder set ``class_weight="balanced"``)."""
        if self.config.balance != "weighted" or any(k.endswith("class_weight") for k in est.get_params()):
            return {}
        from sklearn.utils.class_weight import compute_sample_weight

        key = f"{est.steps[-1][0]}__sample_weight" if hasattr(est, "steps") else "sample_weight"
        return {key: compute_sample_weight("balanced", y)}

    def fit(self, inputs: ModelInputs, y: np.ndarray, *, train: np.ndarray, validation: np.ndarray,
            on_epoch: Callable[[Any], None] | None = None) -> SklearnClassifier:
        from sklearn.base import clone

        entry = get_model_entry(self.arch)
        est = get_model(self.arch, seed=self.config.seed,
                        class_weight="balanced" if self.config.balance == "weighted" else None)
        feats = flat_features(inputs, kind=self.inputs, dims=self.dims)
        self.best_params_, val_accuracy = self._search(est, dict(entry.grid), feats, y, train, validation)
        fit_idx = self._resample(np.concatenate([train, validation]), y)
        self.estimator_ = clone(est).set_params(**self.best_params_).fit(feats[fit_idx], y[fit_idx],
                                                                         **self._weights(est, y[fit_idx]))
        self.fit_info_ = {"params": self.best_params_, "val_accuracy": val_accuracy}
        return self

    def predict_proba(self, inputs: ModelInputs, *, mask: Tensor | None = None,
                      visible: Tensor | None = None) -> np.ndarray:
        """Probabilities from ``predict_proba`` where the estimator has it (its argmax is ``predict``), else
        one-hot predictions (SVC without ``probability=True``). ``mask`` / ``visible`` are not used: the
        features arrive already occluded (zero-filled or imputed)."""
        if mask is not None:
            raise ValueError(f"{self.arch}: a flat feature vector has no nodes to remove; use masking or imputation")
        feats = flat_features(inputs, kind=self.inputs, dims=self.dims)
        probs = np.zeros((len(feats), len(self.classes_)))
        est = self.estimator_
        if hasattr(est, "predict_proba"):
            try:
                probs[:, est.classes_] = est.predict_proba(feats)
                return probs
            except AttributeError:  # SVC exposes predict_proba only with probability=True
                pass
        probs[np.arange(len(feats)), est.predict(feats)] = 1.0
        return probs

    def save(self, path: str | os.PathLike, meta: dict[str, Any]) -> Path:
        import skops.io as sio

        path = Path(path).with_suffix(self.suffix)
        payload = {"model": self.estimator_, "params": self.best_params_,
                   "meta": {**meta, "arch": self.arch, "classes": self.classes_, "dims": self.dims}}
        with atomic_path(path) as tmp:
            sio.dump(payload, tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[SklearnClassifier, dict[str, Any]]:
        """``(classifier, meta)`` of a file written by :meth:`save`.

        Raises:
            ModelLoadError: unreadable file, or it holds types outside skops' defaults and
                :data:`TRUSTED_TYPES` (nothing from it is executed).
        """
        import skops.io as sio

        path = Path(path)
        try:
            untrusted = sio.get_untrusted_types(file=path)
            unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
            if unknown:
                raise ModelLoadError(f"{path}: refusing to load untrusted types {unknown}")
            payload = sio.load(path, trusted=list(untrusted))
        except ModelLoadError:
            raise
        except Exception as exc:  # zip, JSON or skops errors of a damaged file
            raise ModelLoadError(f"{path}: not a readable fer-graph model ({type(exc).__name__}: {exc})") from None
        if not isinstance(payload, dict) or "model" not in payload or "meta" not in payload:
            raise ModelLoadError(f"{path}: not a fer-graph model file (no model/meta)")
        meta = payload["meta"]
        clf = cls(meta["arch"], None, classes=list(meta["classes"]), dims=int(meta.get("dims", 2)))
        clf.estimator_, clf.best_params_ = payload["model"], dict(payload.get("params") or {})
        return clf, meta
