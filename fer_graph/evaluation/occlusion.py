"""Occlusion sweeps: a trained run evaluated under region occlusion, occlusion extent and landmark noise.

Every condition is applied to the held-out samples of each fold and scored with that fold's model, so the
numbers are as subject-independent as the run itself (CK+ k-fold: each fold's test subjects with that
fold's model; FER-2013 hold-out: publictest with the one model). Masks and noise are seeded by the
condition, not by the model, so every model of a comparison sees the very same occlusions.

Every run is scored through its fold models' common interface. Graph models are evaluated through the
dense fixed-topology layers (node removal is a node mask there); models on flattened coordinates take
``masking`` (zero-fill) and ``imputation`` — removal does not exist for a fixed-length vector, so those
rows are absent. Graph-level attributes (blendshapes, head
pose) are left as detected: graph masking simulates missing landmarks, not a re-detection (use the
image-level occlusion for that).
"""

from __future__ import annotations

import csv
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import read_json
from ..config import DEFAULT_EXTENTS, DEFAULT_NOISE
from ..exceptions import FerGraphError
from ..graphs.features import FeatureSpec
from ..labels import apply_label_scheme
from ..models.estimator import FaceClassifier, ModelInputs
from ..occlusion.masks import patch_masks, random_masks, region_masks
from ..occlusion.noise import landmark_noise
from ..occlusion.regions import REGION_NAMES, get_region
from ..occlusion.strategies import STRATEGIES, check_strategy, occlude
from ..training.checkpoint import check_compatible
from ..training.splits import holdout_split
from .metrics import classification_metrics
from .predictor import load_fold_models

__all__ = ["Condition", "make_conditions", "RunEvaluator", "occlusion_sweep", "summarize_sweep", "auc_extent",
           "IMAGE_STRATEGY", "ORACLE_STRATEGY", "VISIBILITY_STRATEGY", "IMAGE_STRATEGIES", "SWEEP_COLUMNS",
           "DEFAULT_EXTENTS", "DEFAULT_NOISE"]

#: Column order of ``sweep.csv`` (scripts read these names).
SWEEP_COLUMNS = ("model", "strategy", "region", "extent", "noise", "accuracy", "macro_f1", "n")
#: ``strategy`` of image-occlusion rows (:mod:`fer_graph.evaluation.image_occlusion`).
IMAGE_STRATEGY = "image"
#: Painted occluder, the landmarks under the paint removed from the re-detected mesh (a perfect estimate).
ORACLE_STRATEGY = "image+oracle"
#: Painted occluder, the landmarks a visibility estimator calls hidden removed.
VISIBILITY_STRATEGY = "image+visibility"
#: Every image-occlusion strategy, in table order.
IMAGE_STRATEGIES = (IMAGE_STRATEGY, VISIBILITY_STRATEGY, ORACLE_STRATEGY)


@dataclass(frozen=True)
class Condition:
    """One evaluation condition (a row of ``sweep.csv`` per model).

    Attributes:
        strategy: ``none`` (clean or noise only), ``removal``, ``masking`` or ``imputation``.
        region: ``none`` (clean), a region preset, ``patch`` (BFS patches), ``random`` (node dropout) or
            ``all`` (noise on every landmark).
        extent: fraction of nodes occluded (region presets: their share of the V nodes).
        noise: Gaussian landmark noise sigma in IOD units (0 = none).
        noise_region: the region the noise is restricted to (``all`` = every landmark).
    """

    strategy: str
    region: str
    extent: float = 0.0
    noise: float = 0.0
    noise_region: str = "all"

    @property
    def seed_key(self) -> int:
        """A stable per-condition seed (the same for every model and strategy)."""
        return zlib.crc32(f"{self.region}|{self.extent:.4f}|{self.noise:.4f}|{self.noise_region}".encode())


def make_conditions(topology, *, regions: Sequence[str] = REGION_NAMES, strategies: Sequence[str] = STRATEGIES,
                    extents: Sequence[float] = DEFAULT_EXTENTS, noise: Sequence[float] = DEFAULT_NOISE,
                    noise_region: str = "all", random_dropout: bool = True) -> list[Condition]:
    """The condition grid of a sweep: clean; every region x strategy; BFS patches (and random dropout)
    at every extent x strategy; noise at every sigma.

    Raises:
        ValueError: unknown region or strategy, extents outside [0, 1), negative sigma.
    """
    for s in strategies:
        check_strategy(s)
    v = topology.num_nodes
    out = [Condition("none", "none")]
    for region in regions:
        share = len(get_region(region, topology)) / v  # validates the name for this topology
        out += [Condition(s, region, round(share, 4)) for s in strategies]
    for extent in extents:
        if not 0.0 <= extent < 1.0:
            raise ValueError(f"extent {extent} outside [0, 1)")
        if extent == 0:
            continue
        kinds = ("patch", "random") if random_dropout else ("patch",)
        out += [Condition(s, kind, float(extent)) for kind in kinds for s in strategies]
    if noise_region != "all":
        get_region(noise_region, topology)
    for sigma in noise:
        if sigma < 0:
            raise ValueError(f"noise sigma {sigma} must be >= 0")
        if sigma > 0:
            out.append(Condition("none", "all" if noise_region == "all" else noise_region, 0.0, float(sigma),
                                 noise_region))
    return out


def occlusion_masks(condition: Condition, topology, n: int, seed: int = 0) -> np.ndarray | None:
    """``(n, V)`` bool occlusion masks of ``condition`` for ``n`` samples (None when nothing is occluded)."""
    if condition.strategy == "none":
        return None
    rng = np.random.default_rng([seed, condition.seed_key])
    if condition.region == "patch":
        return patch_masks(topology, condition.extent, n, rng)
    if condition.region == "random":
        return random_masks(topology.num_nodes, condition.extent, n, rng)
    return region_masks(topology, condition.region, n)


class SweepError(FerGraphError, ValueError):
    """A run cannot be swept on this dataset (other dataset, no checkpoints, unknown model kind)."""


class RunEvaluator:
    """A trained run's fold models and held-out samples on a processed dataset, ready to be scored under
    occlusion conditions. Any model family: each fold model is a
    :class:`~fer_graph.models.estimator.FaceClassifier`.

    Args:
        run: run directory written by ``fer-graph train``.
        ds: the processed dataset the run was trained on.
        name: model name in the sweep table (default: the run directory's name).

    Attributes:
        kind: the fold models' family (``"gnn"`` / ``"sklearn"``), for tables.
        reference_strategy: the strategy that suits the model (``removal`` for graph models, else
            ``imputation``).

    Raises:
        SweepError: no fold models, or ``predictions.csv`` names samples the dataset lacks.
        CheckpointMismatchError: other topology / features.
        ModelLoadError: a fold model that cannot be loaded safely.
    """

    def __init__(self, run: str | os.PathLike, ds, *, name: str | None = None) -> None:
        self.run = Path(run)
        cfg_path = self.run / "config.json"
        if not cfg_path.is_file():
            raise SweepError(f"{self.run}: not a fer-graph run directory (no config.json)")
        cfg = read_json(cfg_path)
        self.name = name or self.run.name
        self.arch = cfg["arch"]
        self.topology = ds.topology
        self.spec = FeatureSpec.parse(cfg["features"])
        check_compatible(cfg, topology=ds.meta["topology"], features=str(self.spec),
                         node_dims=int(ds.meta["node_dims"]), where=str(self.run))
        self.dims = int(ds.meta["node_dims"])
        conf = cfg["config"]
        self.classes, y, keep = apply_label_scheme(ds.classes, ds.tensor("y").numpy(), conf["labels"],
                                                   conf.get("exclude", []))
        kept = np.flatnonzero(keep)
        #: dataset index of each kept sample (positions below index these)
        self.sample_index = kept
        inputs = ModelInputs.from_dataset(ds, self.spec, kept)
        self.x, self.graph_attr, self.blendshapes = inputs.x, inputs.graph_attr, inputs.blendshapes
        self.y = np.asarray(y)
        self.folds = self._read_folds(ds, kept)
        self.models = self._load_models()
        first = next(iter(self.models.values()))
        self.kind, self.reference_strategy, self.supports_removal = (first.kind, first.reference_strategy,
                                                                     first.supports_removal)
        self.mean_faces = {k: self.x[tr].mean(0) for k, _, tr in self.folds}
        #: ``(V, 2)`` mean normalized landmark positions (IOD units, y down), for drawing
        self.mean_shape = ds.tensor("pos")[kept][..., :2].mean(0).numpy()
        self.test_positions = np.concatenate([te for _, te, _ in self.folds])

    def _read_folds(self, ds, kept: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """``(fold, test positions, train positions)`` per fold, from the run's ``predictions.csv``."""
        position = {sid: i for i, sid in enumerate(np.asarray(ds.sample_ids)[kept])}
        folds: dict[int, list[int]] = {}
        with (self.run / "predictions.csv").open(newline="") as fh:
            for line, row in enumerate(csv.DictReader(fh), start=2):
                if row["sample_id"] not in position:
                    raise SweepError(f"{self.run / 'predictions.csv'}:{line}: sample {row['sample_id']!r} is not in "
                                     f"{ds.processed_dir}; sweep a run on the dataset it was trained on")
                folds.setdefault(int(row["fold"]), []).append(position[row["sample_id"]])
        hold = holdout_split(ds)
        train_pool = None if hold is None else np.flatnonzero(np.isin(kept, hold[0]))
        out = []
        for k in sorted(folds):
            te = np.sort(np.asarray(folds[k], dtype=np.int64))
            out.append((k, te, train_pool if train_pool is not None else np.setdiff1d(np.arange(len(kept)), te)))
        return out

    def _load_models(self) -> dict[int, FaceClassifier]:
        from .predictor import RunNotFoundError

        wanted = [k for k, _, _ in self.folds]
        try:
            models, _ = load_fold_models(self.run, folds=wanted)
        except RunNotFoundError as exc:
            raise SweepError(str(exc)) from None
        return models

    def supports(self, strategy: str) -> bool:
        """Whether the model can be evaluated under ``strategy`` (removal needs a graph model)."""
        return strategy != "removal" or self.supports_removal

    @torch.no_grad()
    def predict(self, occluded: np.ndarray | None, strategy: str, *, noise: float = 0.0,
                noise_nodes: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        """Predicted class indices for every held-out sample (in ``test_positions`` order).

        Args:
            occluded: ``(G, V)`` bool over all kept samples, or ``None`` for no occlusion.
            strategy: how occluded landmarks are handled (ignored without ``occluded``).
            noise: landmark noise sigma (IOD units), applied before occlusion.
            noise_nodes: restrict noise to these landmarks.
            seed: noise seed.
        """
        x = self.x
        if noise > 0:
            x = landmark_noise(x, noise, dims=self.dims, nodes=noise_nodes, seed=seed)
        preds = []
        for k, te, _ in self.folds:
            xt = x[te]
            batch = None if occluded is None else occlude(xt, torch.from_numpy(occluded[te]), strategy,
                                                          mean_face=self.mean_faces[k])
            ga = self.graph_attr[te] if self.graph_attr is not None else None
            bs = self.blendshapes[te] if self.blendshapes is not None else None
            if batch is None:
                preds.append(self.classify(k, xt, ga, bs))
            else:
                visible = batch.visible if strategy == "masking" else None
                preds.append(self.classify(k, batch.x, ga, bs, mask=batch.present, visible=visible))
        return np.concatenate(preds)

    @torch.no_grad()
    def classify(self, fold: int, x: torch.Tensor, graph_attr: torch.Tensor | None = None,
                 blendshapes: torch.Tensor | None = None, *, mask: torch.Tensor | None = None,
                 visible: torch.Tensor | None = None) -> np.ndarray:
        """Predicted class indices ``(n,)`` of fold ``fold``'s model for ``n`` samples' features.

        Args:
            x: ``(n, V, F)`` node features (the run's feature spec).
            graph_attr: ``(n, A)`` graph attributes, when the spec has graph tokens.
            blendshapes: ``(n, 52)``, for models that use them.
            mask, visible: ``(n, V)`` bool node masks (see :meth:`FaceClassifier.predict_proba`).
        """
        inputs = ModelInputs(x, graph_attr, None if blendshapes is None else torch.as_tensor(blendshapes))
        return self.models[fold].predict(inputs, mask=mask, visible=visible)

    def score(self, condition: Condition, *, seed: int = 0) -> dict[str, Any]:
        """Accuracy, macro-F1, per-class recall and n of the pooled held-out samples under ``condition``."""
        occluded = occlusion_masks(condition, self.topology, len(self.x), seed)
        noise_nodes = None if condition.noise_region == "all" else get_region(condition.noise_region, self.topology)
        pred = self.predict(occluded, condition.strategy, noise=condition.noise, noise_nodes=noise_nodes,
                            seed=seed * 1_000_003 + condition.seed_key)
        return classification_metrics(self.y[self.test_positions], pred, self.classes)


def occlusion_sweep(evaluators: Iterable[RunEvaluator], conditions: Sequence[Condition], *, seed: int = 0,
                    on_progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Score every model under every condition it supports.

    Returns:
        Tidy rows ``{model, strategy, region, extent, noise, accuracy, macro_f1, n, arch, kind,
        per_class_recall}``, one per model x condition (see :data:`SWEEP_COLUMNS`).
    """
    evaluators = list(evaluators)
    jobs = [(e, c) for e in evaluators for c in conditions if c.strategy == "none" or e.supports(c.strategy)]
    rows = []
    for i, (ev, cond) in enumerate(jobs):
        if on_progress is not None:
            on_progress(i, len(jobs))
        m = ev.score(cond, seed=seed)
        rows.append({"model": ev.name, "strategy": cond.strategy, "region": cond.region, "extent": cond.extent,
                     "noise": cond.noise, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"],
                     "arch": ev.arch, "kind": ev.kind, "reference_strategy": ev.reference_strategy,
                     "noise_region": cond.noise_region,
                     "per_class_recall": m["per_class_recall"]})
    if on_progress is not None:
        on_progress(len(jobs), len(jobs))
    return rows


def auc_extent(extents: np.ndarray, accuracies: np.ndarray) -> float:
    """Normalized area under accuracy vs extent: the trapezoid area (``sklearn.metrics.auc``) divided by
    the extent range, so in [0, 1]; the single accuracy when all extents coincide."""
    from sklearn.metrics import auc

    e, a = np.asarray(extents, dtype=float), np.asarray(accuracies, dtype=float)
    order = np.argsort(e, kind="stable")
    e, a = e[order], a[order]
    span = e[-1] - e[0]
    return float(auc(e, a) / span) if span > 0 else float(a[0])


def _extent_aucs(mine, clean_accuracy: float) -> dict[str, dict[str, float]]:
    """``{strategy: {"patch" | "random": AUC}}`` with the clean accuracy as the extent-0 point."""
    out: dict[str, dict[str, float]] = {}
    curves = mine[mine["region"].isin(["patch", "random"]) & mine["strategy"].isin(STRATEGIES)]
    for (strategy, region), g in curves.groupby(["strategy", "region"], sort=False):
        e = np.concatenate([[0.0], g["extent"].to_numpy()])
        a = np.concatenate([[clean_accuracy], g["accuracy"].to_numpy()])
        out.setdefault(strategy, {})[region] = round(auc_extent(e, a), 4)
    return {s: out[s] for s in STRATEGIES if s in out}


def summarize_sweep(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-model summary of a sweep (``summary.json``).

    For each model: ``clean_accuracy``; ``auc_extent`` — :func:`auc_extent` of accuracy vs the extent of
    contiguous BFS patches (extent 0 = clean) under the model's reference strategy (``removal`` for graph
    models, ``imputation`` for models on flattened coordinates); ``auc_extent_by_strategy`` for every
    strategy and for random dropout; ``region_accuracy`` per preset (reference strategy) and
    ``region_accuracy_by_strategy`` per preset and strategy, including ``image`` (painted occluder,
    re-detected: :mod:`fer_graph.evaluation.image_occlusion`) when the rows hold it; ``noise_accuracy`` per sigma.
    """
    import pandas as pd

    df = pd.DataFrame(list(rows))
    out: dict[str, Any] = {}
    for model, mine in df.groupby("model", sort=False):
        clean = mine[mine["region"] == "none"].iloc[0]
        ref = clean.get("reference_strategy", "imputation")
        by_strategy = _extent_aucs(mine, float(clean["accuracy"]))
        regional = mine[~mine["region"].isin(["none", "patch", "random", "all"])
                        & mine["strategy"].isin([*STRATEGIES, *IMAGE_STRATEGIES])]
        regions = {reg: dict(zip(g["strategy"], g["accuracy"].astype(float)))
                   for reg, g in regional.groupby("region", sort=False)}
        noisy = mine[mine["noise"] > 0]
        out[model] = {
            "arch": clean["arch"], "kind": clean["kind"], "clean_accuracy": float(clean["accuracy"]),
            "clean_macro_f1": float(clean["macro_f1"]), "reference_strategy": ref,
            "auc_extent": by_strategy.get(ref, {}).get("patch"),
            "auc_extent_by_strategy": by_strategy,
            "region_accuracy": {reg: v.get(ref) for reg, v in regions.items()},
            "region_accuracy_by_strategy": regions,
            "noise_accuracy": {str(n): float(a) for n, a in zip(noisy["noise"], noisy["accuracy"])},
        }
        image_clean = mine[(mine["region"] == "none") & mine["strategy"].isin(IMAGE_STRATEGIES)]
        if len(image_clean):  # clean images through a visibility estimator: what it costs when nothing is hidden
            out[model]["image_clean_accuracy_by_strategy"] = dict(zip(image_clean["strategy"],
                                                                      image_clean["accuracy"].astype(float)))
    return out
