"""GNN expression classifiers behind the :class:`~fer_graph.models.estimator.FaceClassifier` interface."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import __version__
from .._io import atomic_path
from ..graphs.augment import attribute_mirror
from ..graphs.topology import Topology, get_topology
from ._gnn_fit import EpochLog, fit_module, mirrored_proba
from .estimator import FaceClassifier, ModelInputs, ModelLoadError
from .ensemble import ProbabilityAverage, build_module

__all__ = ["GNNClassifier", "save_checkpoint", "load_checkpoint"]

_REQUIRED_META = ("arch", "model_kwargs", "classes", "topology", "features", "node_dims")


class GNNClassifier(FaceClassifier):
    """A registered graph network (``gat``, ``gcn``) trained with early stopping on inner validation.

    Args:
        arch: registered GNN name; config: :class:`fer_graph.config.TrainConfig`.
        classes: class names; topology: the fixed graph topology; dims: coordinates per landmark (2 or 3).
        refit: after early stopping picks an epoch count, retrain from scratch on train + validation for
            that many epochs; with ``config.keep="last"`` (nothing chosen on validation), one fit of the
            whole schedule on train + validation.

    Attributes:
        module_: the fitted ``torch.nn.Module`` (eval mode); model_kwargs_: its builder arguments.
        mirror_tta: ``predict_proba`` averages the probabilities of each face and its mirror image
            (``config.mirror_tta``; stored in the checkpoint).
        graph_names_: names of the graph-attribute columns seen in ``fit`` (mirrored with the face).
        fit_info_: besides the :class:`FaceClassifier` keys, ``init`` (``"random"`` or the checkpoint that
            ``config.init_from`` named), ``init_skipped`` (tensors it could not fill) or ``reason``.
    """

    kind = "gnn"
    suffix = ".pt"
    supports_removal = True

    def __init__(self, arch: str, config=None, *, classes: list[str], topology: Topology, dims: int = 2,
                 refit: bool = False) -> None:
        super().__init__(arch, classes)
        self.config, self.topology, self.dims, self.refit = config, topology, dims, refit
        self.module_: torch.nn.Module | None = None
        self.model_kwargs_: dict[str, Any] = {}
        self.mirror_tta = bool(getattr(config, "mirror_tta", False))
        self.graph_names_: tuple[str, ...] = ()
        self.init_info_: dict[str, Any] = {}
        self.members_ = 1

    def fit(self, inputs: ModelInputs, y: np.ndarray, *, train: np.ndarray, validation: np.ndarray,
            on_epoch: Callable[[EpochLog], None] | None = None) -> GNNClassifier:
        """Early-stop on ``validation``; with ``refit``, retrain on ``train + validation``. With
        ``config.members`` = K > 1, fit K members from seeds ``seed`` … ``seed + K - 1`` one after the other
        and return their :meth:`combine` (``on_epoch`` follows the first)."""
        k = int(getattr(self.config, "members", 1))
        if k > 1:
            fitted = [self.member(m).fit(inputs, y, train=train, validation=validation,
                                         on_epoch=on_epoch if m == 0 else None) for m in range(k)]
            return self._set_members(fitted, inputs, y, validation)
        common = dict(topology=self.topology, num_classes=len(self.classes_), dims=self.dims,
                      graph_names=inputs.graph_names, warm_start=self._warm_start(inputs.graph_names))
        everything = np.sort(np.concatenate([train, validation]))
        if self.refit and self.config.keep == "last":
            # a fixed schedule selects nothing on validation: one fit on all training subjects
            module, logs, kwargs = fit_module(inputs.x, inputs.graph_attr, y, everything, np.array([], dtype=np.int64),
                                              config=self.config, on_epoch=on_epoch, **common)
            return self._fitted(module, kwargs, inputs, logs, logs[-1], len(logs))
        module, logs, kwargs = fit_module(inputs.x, inputs.graph_attr, y, train, validation, config=self.config,
                                          on_epoch=on_epoch, **common)
        best = logs[-1] if self.config.keep == "last" else max(logs, key=lambda l: (l.val_accuracy, -l.val_loss))
        refit_epochs = 0
        if self.refit:
            # same schedule length as selection, so the refit ends where selection did
            module, refit_logs, kwargs = fit_module(inputs.x, inputs.graph_attr, y, everything,
                                                    np.array([], dtype=np.int64),
                                                    config=replace(self.config, epochs=int(best.epoch)), **common)
            refit_epochs = len(refit_logs)
        return self._fitted(module, kwargs, inputs, logs, best, len(logs) + refit_epochs)

    def _fitted(self, module: torch.nn.Module, kwargs: dict[str, Any], inputs: ModelInputs, logs: list[EpochLog],
                kept: EpochLog, epochs: int) -> GNNClassifier:
        """Store the fitted ``module`` and ``fit_info_``: ``val_accuracy`` at the epoch ``kept`` (None when no
        validation data was seen) and ``val_accuracy_last`` at the last epoch of the selection fit."""
        def measured(value: float) -> float | None:
            return None if np.isnan(value) else float(value)

        self.module_, self.model_kwargs_, self.graph_names_ = module, kwargs, tuple(inputs.graph_names)
        self.fit_info_ = {"logs": logs, "best_epoch": int(kept.epoch), "epochs": epochs, "refit": self.refit,
                          "val_accuracy": measured(kept.val_accuracy),
                          "val_accuracy_last": measured(logs[-1].val_accuracy),
                          "n_parameters": sum(p.numel() for p in module.parameters()), **self.init_info_}
        return self

    def member(self, m: int) -> GNNClassifier:
        """The unfitted member ``m`` of this classifier's seed ensemble: the same settings, seed ``seed + m``."""
        return GNNClassifier(self.arch, replace(self.config, seed=self.config.seed + m, members=1),
                             classes=self.classes_, topology=self.topology, dims=self.dims, refit=self.refit)

    @classmethod
    def combine(cls, members: list[GNNClassifier], inputs: ModelInputs, y: np.ndarray,
                validation: np.ndarray) -> GNNClassifier:
        """A seed ensemble of fitted members (:meth:`member`): probabilities averaged
        (:class:`~fer_graph.models.ensemble.ProbabilityAverage`). ``fit_info_``: the first member's logs and
        best epoch, ``members`` (seed, best epoch, validation accuracy of each), ``val_accuracy`` of the
        ensemble on ``validation`` (the members' mean after a refit, which trained on it), epochs and
        parameters summed."""
        first = members[0]
        clf = cls(first.arch, replace(first.config, members=len(members)), classes=first.classes_,
                  topology=first.topology, dims=first.dims, refit=first.refit)
        return clf._set_members(members, inputs, y, validation)

    def _set_members(self, members: list[GNNClassifier], inputs: ModelInputs, y: np.ndarray,
                     validation: np.ndarray) -> GNNClassifier:
        """Become the ensemble of the fitted ``members`` (see :meth:`combine`)."""
        first = members[0]
        self.module_ = ProbabilityAverage([m.module_ for m in members]).eval()
        self.model_kwargs_, self.graph_names_, self.members_ = first.model_kwargs_, first.graph_names_, len(members)
        infos = [m.fit_info_ for m in members]
        known = [i["val_accuracy"] for i in infos if i["val_accuracy"] is not None]
        val = float(np.mean(known)) if known else None
        if len(validation) and not self.refit:
            val = float((self.predict_proba(inputs.take(validation)).argmax(1) == y[validation]).mean())
        last = val if self.config.keep == "last" else None
        self.fit_info_ = {**infos[0], "epochs": sum(i["epochs"] for i in infos), "val_accuracy": val,
                          "val_accuracy_last": last,
                          "n_parameters": sum(i["n_parameters"] for i in infos),
                          "members": [{"seed": m.config.seed, "best_epoch": i["best_epoch"],
                                       "val_accuracy": i["val_accuracy"]} for m, i in zip(members, infos)]}
        return self

    def _warm_start(self, graph_names: tuple[str, ...]) -> Callable[[torch.nn.Module], None] | None:
        """Weight initialisation from ``config.init_from``: a checkpoint path or bundled model name (an
        incompatible one raises), or ``"auto"``: the bundled default model when it fits the data, else the
        random initialisation (the outcome is recorded in ``fit_info_["init"]``)."""
        source = getattr(self.config, "init_from", None)
        self.init_info_ = {"init": "random"}
        if not source:
            return None
        from .pretrained import DEFAULT_PRETRAINED, resolve_pretrained
        from .transfer import transfer_weights

        def start(model: torch.nn.Module) -> None:
            name = DEFAULT_PRETRAINED if source == "auto" else source
            try:
                info = transfer_weights(model, resolve_pretrained(name), classes=self.classes_,
                                        topology=self.topology.name, node_dims=self.dims, graph_names=graph_names)
            except (ValueError, FileNotFoundError) as exc:
                if source != "auto":
                    raise
                self.init_info_ = {"init": "random", "reason": str(exc)}
                return
            self.init_info_ = {"init": str(name), "init_skipped": info["skipped"]}

        return start

    @torch.no_grad()
    def predict_proba(self, inputs: ModelInputs, *, mask: Tensor | None = None,
                      visible: Tensor | None = None) -> np.ndarray:
        return mirrored_proba(self.module_, inputs.x, inputs.graph_attr, self.topology, mask=mask, visible=visible,
                              mirror_dims=self.dims if self.mirror_tta else 0,
                              attr_mirror=attribute_mirror(self.graph_names_)).numpy()

    def save(self, path: str | os.PathLike, meta: dict[str, Any]) -> Path:
        path = Path(path).with_suffix(self.suffix)
        save_checkpoint(path, self.module_, {**meta, "arch": self.arch, "model_kwargs": self.model_kwargs_,
                                             "classes": self.classes_, "best_epoch": self.fit_info_.get("best_epoch"),
                                             "refit": self.refit, "mirror_tta": self.mirror_tta,
                                             "graph_names": list(self.graph_names_), "members": self.members_})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, backend: str = "fast") -> tuple[GNNClassifier, dict[str, Any]]:
        """``(classifier, meta)`` of a checkpoint written by :meth:`save` (see :func:`load_checkpoint`)."""
        module, meta = load_checkpoint(path, backend=backend)
        clf = cls(meta["arch"], None, classes=list(meta["classes"]), topology=get_topology(meta["topology"]),
                  dims=int(meta["node_dims"]), refit=bool(meta.get("refit", False)))
        clf.module_, clf.model_kwargs_ = module, dict(meta["model_kwargs"])
        clf.mirror_tta, clf.graph_names_ = bool(meta.get("mirror_tta", False)), tuple(meta.get("graph_names", ()))
        clf.members_ = int(meta.get("members", 1))
        return clf, meta

    def __getstate__(self) -> dict[str, Any]:  # the module pickles as its weights (worker processes)
        state = dict(self.__dict__)
        if self.module_ is not None:
            state["module_"] = ({**self.model_kwargs_, "backend": getattr(self.module_, "backend", "fast")},
                                self.module_.state_dict(), self.members_)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        packed = state.get("module_")
        if isinstance(packed, tuple):
            kwargs, weights, members = packed
            module = build_module(state["arch"], kwargs, members)
            module.load_state_dict(weights)
            state["module_"] = module.eval()
        self.__dict__.update(state)


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Write ``{"state_dict", "meta"}`` atomically (plain tensors and builtins: ``weights_only`` loading);
    identical inputs give identical bytes.

    Raises:
        ValueError: ``meta`` lacks one of arch, model_kwargs, classes, topology, features, node_dims.
    """
    for key in _REQUIRED_META:
        if key not in meta:
            raise ValueError(f"checkpoint meta lacks {key!r}")
    payload = {"state_dict": model.state_dict(), "meta": {**meta, "fer_graph_version": __version__}}
    # through a file object, torch names the archive "archive" instead of after the temporary file, so
    # identical models give identical bytes
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        torch.save(payload, fh)


def load_checkpoint(path: str | os.PathLike, *, backend: str | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a checkpoint's module in eval mode, reading it with ``torch.load(weights_only=True)``.

    ``backend`` (``"pyg"`` or ``"fast"``) picks the layer implementation; both load the same weights;
    ``None`` keeps the builder's default (PyG). A seed ensemble (``meta["members"] > 1``) comes back as a
    :class:`~fer_graph.models.ensemble.ProbabilityAverage`.

    Raises:
        FileNotFoundError: no such file.
        ModelLoadError: unreadable or truncated file, objects other than tensors and builtins, or not a
            fer-graph checkpoint (no state_dict / meta, weights of another shape).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused an object: say so, without torch's bypass advice
        raise ModelLoadError(f"{path}: refused: the file holds objects other than tensors and plain Python "
                             "values, which fer-graph never loads") from None
    except Exception as exc:  # RuntimeError, EOFError... for truncated or foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path}: not a readable fer-graph checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(payload, dict) or "state_dict" not in payload or "meta" not in payload:
        raise ModelLoadError(f"{path}: not a fer-graph checkpoint (no state_dict/meta)")
    meta = payload["meta"]
    missing = [k for k in _REQUIRED_META if k not in meta]
    if missing:
        raise ModelLoadError(f"{path}: checkpoint meta lacks {missing}")
    kwargs = dict(meta["model_kwargs"]) | ({"backend": backend} if backend is not None else {})
    model = build_module(meta["arch"], kwargs, int(meta.get("members", 1)))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ModelLoadError(f"{path}: weights do not fit a {meta['arch']} model: {str(exc).splitlines()[0]}") from None
    model.eval()
    return model, meta
