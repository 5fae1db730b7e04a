"""Two-tier classification (``--hierarchy valence``): a classifier of the class groups (valence), then one
classifier of the classes inside each group of two or more classes; ``P(class) = P(group) P(class | group)``.

The groups are those of :data:`fer_graph.labels.VALENCE3` (happiness positive; anger, contempt, disgust,
fear and sadness negative; neutral and surprise neutral). Every tier is a model of the same registered
architecture and recipe, fitted on the same inner-training graphs (the inner tier on its group's graphs
only) and choosing its epochs or grid on the same inner-validation subjects.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from ..labels import VALENCE3
from .estimator import FaceClassifier, ModelInputs, ModelLoadError, load_classifier, make_classifier

__all__ = ["HierarchicalClassifier", "HIERARCHIES", "class_groups"]

#: ``--hierarchy`` name -> class name -> group name.
HIERARCHIES: Mapping[str, Mapping[str, str]] = {"valence": VALENCE3}


def class_groups(classes: list[str], grouping: Mapping[str, str]) -> dict[str, list[int]]:
    """Group name -> indices into ``classes``, groups in order of their first class.

    Raises:
        ValueError: a class the grouping does not place (names the class and the grouping's classes).
    """
    unknown = [c for c in classes if c not in grouping]
    if unknown:
        raise ValueError(f"hierarchy: classes {unknown} have no group; grouped classes: {sorted(grouping)}")
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(classes):
        groups.setdefault(grouping[c], []).append(i)
    return groups


class HierarchicalClassifier(FaceClassifier):
    """Group classifier + per-group classifiers of one registered architecture (see the module docstring).

    Args:
        arch, config, classes, topology, dims, refit: as :func:`~fer_graph.models.estimator.make_classifier`;
            ``config.hierarchy`` names the grouping (:data:`HIERARCHIES`).

    Attributes:
        groups_: group name -> class indices; top_: the group classifier (classes = group names);
        inner_: group name -> classifier of that group's classes (groups of one class have none).

    Raises:
        ValueError: unknown hierarchy, or a class without a group.
    """

    suffix = ".hier"

    def __init__(self, arch: str, config, *, classes: list[str], topology=None, dims: int = 2,
                 refit: bool = False) -> None:
        super().__init__(arch, classes)
        name = getattr(config, "hierarchy", "valence") if config is not None else "valence"
        if name not in HIERARCHIES:
            raise ValueError(f"hierarchy={name!r}; expected one of {list(HIERARCHIES)}")
        self.hierarchy, self.config = name, config
        self.topology, self.dims, self.refit = topology, dims, refit
        self.groups_ = class_groups(self.classes_, HIERARCHIES[name])
        self.top_: FaceClassifier | None = None
        self.inner_: dict[str, FaceClassifier] = {}

    def _tier(self, names: list[str]) -> FaceClassifier:
        """An unfitted flat classifier of ``names`` with this model's architecture and recipe."""
        return make_classifier(self.arch, replace(self.config, hierarchy="none"), classes=names,
                               topology=self.topology, dims=self.dims, refit=self.refit)

    @property
    def kind(self) -> str:  # the tiers' family
        return self.top_.kind if self.top_ is not None else "hierarchy"

    @property
    def supports_removal(self) -> bool:
        return bool(self.top_ is not None and self.top_.supports_removal)

    def fit(self, inputs: ModelInputs, y: np.ndarray, *, train: np.ndarray, validation: np.ndarray,
            on_epoch: Callable[[Any], None] | None = None) -> HierarchicalClassifier:
        y = np.asarray(y)
        group_of = np.zeros(len(self.classes_), dtype=np.int64)
        for g, members in enumerate(self.groups_.values()):
            group_of[members] = g
        self.top_ = self._tier(list(self.groups_)).fit(inputs, group_of[y], train=train, validation=validation,
                                                       on_epoch=on_epoch)
        self.inner_ = {}
        for name, members in self.groups_.items():
            if len(members) < 2:
                continue
            local = np.full(len(self.classes_), -1, dtype=np.int64)
            local[members] = np.arange(len(members))
            tr, va = train[np.isin(y[train], members)], validation[np.isin(y[validation], members)]
            self.inner_[name] = self._tier([self.classes_[i] for i in members]).fit(
                inputs, local[y], train=tr, validation=va)
        pred = self.predict_proba(inputs.take(validation)).argmax(1) if len(validation) else None
        self.fit_info_ = {**self.top_.fit_info_,
                          "val_accuracy": None if pred is None else float((pred == y[validation]).mean()),
                          "tiers": {"group": self.top_.fit_info_.get("val_accuracy"),
                                    **{g: c.fit_info_.get("val_accuracy") for g, c in self.inner_.items()}}}
        return self

    def predict_proba(self, inputs: ModelInputs, *, mask=None, visible=None) -> np.ndarray:
        """``(G, C)``: ``P(group) P(class | group)``; rows sum to 1. ``mask`` / ``visible`` go to every tier.

        Raises:
            ValueError: not fitted.
        """
        if self.top_ is None:
            raise ValueError("HierarchicalClassifier: fit or load it first")
        occlusion = {"mask": mask, "visible": visible}
        p_group = self.top_.predict_proba(inputs, **occlusion)
        out = np.zeros((len(p_group), len(self.classes_)))
        for g, (name, members) in enumerate(self.groups_.items()):
            inner = self.inner_.get(name)
            within = np.ones((len(p_group), 1)) if inner is None else inner.predict_proba(inputs, **occlusion)
            out[:, members] = p_group[:, g:g + 1] * within
        return out

    def save(self, path: str | os.PathLike, meta: dict[str, Any]) -> Path:
        """One zip file: ``manifest.json`` and each tier's own model file."""
        path = Path(path).with_suffix(self.suffix)
        with tempfile.TemporaryDirectory() as tmp:
            files = {"group": self.top_.save(Path(tmp) / "group", meta).name}
            files.update({g: c.save(Path(tmp) / f"inner_{i}", meta).name
                          for i, (g, c) in enumerate(self.inner_.items())})
            manifest = {**meta, "arch": self.arch, "classes": self.classes_, "hierarchy": self.hierarchy,
                        "groups": self.groups_, "files": files, "fit_info": {"tiers": self.fit_info_.get("tiers")}}
            with atomic_path(path) as out, zipfile.ZipFile(out, "w") as zf:
                zf.writestr("manifest.json", json.dumps(manifest, indent=1))
                for name in files.values():
                    zf.write(Path(tmp) / name, name)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, backend: str = "fast") -> tuple[HierarchicalClassifier, dict[str, Any]]:
        """``(classifier, meta)`` of a file written by :meth:`save`; each tier loads as
        :func:`~fer_graph.models.estimator.load_classifier` loads it (nothing from the file is executed).

        Raises:
            ModelLoadError: not a readable hierarchy file, or a tier that cannot be loaded.
        """
        path = Path(path)
        try:
            with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as tmp:
                meta = json.loads(zf.read("manifest.json"))
                tiers = {}
                for tier, name in meta["files"].items():
                    if Path(name).name != name:
                        raise ModelLoadError(f"{path}: tier file name {name!r} is not a plain name")
                    zf.extract(name, tmp)
                    tiers[tier] = load_classifier(Path(tmp) / name, backend=backend)[0]
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{path}: not a readable fer-graph hierarchy ({type(exc).__name__}: {exc})") from None
        clf = cls(meta["arch"], None, classes=list(meta["classes"]))
        clf.hierarchy, clf.groups_ = meta["hierarchy"], {g: list(m) for g, m in meta["groups"].items()}
        clf.top_ = tiers.pop("group")
        clf.inner_ = tiers
        return clf, meta
