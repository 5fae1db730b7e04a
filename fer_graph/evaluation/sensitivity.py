"""Landmark importance by occlusion sensitivity: the accuracy drop when a small patch of the mesh is removed.

The graph counterpart of Zeiler & Fergus's occlusion sensitivity maps (ECCV 2014): slide a small occluder
(a BFS patch of the mesh around each seed landmark) over the face, score the held-out samples with it
removed, and credit every landmark of the patch with the drop in accuracy (overall and per-class recall).
A landmark's importance is the mean drop over the patches that contain it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, write_json
from ..occlusion.masks import bfs_order, nodes_for_extent
from .occlusion import RunEvaluator

__all__ = ["occlusion_sensitivity", "plot_sensitivity", "write_sensitivity_report"]


def occlusion_sensitivity(evaluator: RunEvaluator, *, extent: float = 0.05, strategy: str | None = None,
                          max_patches: int | None = 120, seed: int = 0) -> dict[str, Any]:
    """Per-landmark accuracy drop under small patch occlusions.

    Args:
        evaluator: a run ready to be scored (each fold's held-out samples with its model).
        extent: patch size as a fraction of the V landmarks (at least one landmark).
        strategy: ``removal`` / ``masking`` / ``imputation``; default ``removal`` for GNNs, ``imputation``
            for models on flattened coordinates.
        max_patches: seed landmarks used (a seeded random subset when V exceeds it; all when ``None``).
        seed: chooses that subset.

    Returns:
        ``{"classes", "strategy", "patch_nodes", "seeds", "clean_accuracy", "importance": (V,) accuracy
        drop, "class_importance": {class: (V,) recall drop}, "coverage": (V,) patches per landmark}``;
        landmarks in no patch get NaN.
    """
    topo = evaluator.topology
    v = topo.num_nodes
    strategy = strategy or evaluator.reference_strategy
    k = max(1, nodes_for_extent(extent, v))
    seeds = np.arange(v)
    if max_patches is not None and v > max_patches:
        seeds = np.sort(np.random.default_rng(seed).choice(v, size=max_patches, replace=False))
    y = evaluator.y[evaluator.test_positions]
    clean = evaluator.predict(None, "none")
    classes = evaluator.classes
    present = [c for c in range(len(classes)) if (y == c).any()]

    def recalls(pred: np.ndarray) -> np.ndarray:
        return np.array([(pred[y == c] == c).mean() for c in present])

    clean_acc, clean_rec = float((clean == y).mean()), recalls(clean)
    drop = np.zeros(v)
    class_drop = np.zeros((len(present), v))
    coverage = np.zeros(v)
    n = len(evaluator.x)
    for s in seeds:
        nodes = bfs_order(topo, int(s))[:k]
        occ = np.zeros((n, v), dtype=bool)
        occ[:, nodes] = True
        pred = evaluator.predict(occ, strategy)
        drop[nodes] += clean_acc - float((pred == y).mean())
        class_drop[:, nodes] += (clean_rec - recalls(pred))[:, None]
        coverage[nodes] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        importance = np.where(coverage > 0, drop / coverage, np.nan)
        per_class = np.where(coverage > 0, class_drop / coverage, np.nan)
    return {"classes": classes, "strategy": strategy, "patch_nodes": k, "seeds": seeds.tolist(),
            "clean_accuracy": clean_acc, "importance": importance,
            "class_importance": {classes[c]: per_class[i] for i, c in enumerate(present)},
            "coverage": coverage}


def plot_sensitivity(result: dict[str, Any], mean_shape: np.ndarray, edges, path: str | os.PathLike, *,
                     title: str = "") -> None:
    """Draw the importance maps (overall + one panel per class) as coloured landmarks on the mean face.

    Args:
        result: :func:`occlusion_sensitivity` output.
        mean_shape: ``(V, 2)`` landmark positions (IOD units, y down).
        edges: the topology's undirected edges ``(i, j)``, drawn in light grey.
        path: PNG file (written atomically).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone, renders with Agg

    maps = [("all classes (accuracy)", result["importance"])] + [
        (f"{c} (recall)", m) for c, m in result["class_importance"].items()]
    finite = np.concatenate([m[np.isfinite(m)] for _, m in maps])
    vmax = max(float(np.abs(finite).max()) if finite.size else 0.0, 1e-3)
    cols = min(4, len(maps))
    rows = -(-len(maps) // cols)
    fig = Figure(figsize=(3.2 * cols, 3.4 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    pts = np.asarray(mean_shape)[:, :2]
    segs = [(pts[i], pts[j]) for i, j in edges]
    size = 30 if len(pts) <= 100 else 7
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (name, m) in zip(axes.ravel(), maps):
        ax.add_collection(LineCollection(segs, colors="0.85", linewidths=0.5))
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=np.nan_to_num(m, nan=0.0), cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                        s=size, edgecolors="none")
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
        ax.invert_yaxis()
    fig.colorbar(sc, ax=axes.ravel().tolist(), shrink=0.6, label="drop when the patch is removed")
    fig.suptitle(title or f"occlusion sensitivity ({result['strategy']}, patches of {result['patch_nodes']} landmarks)",
                 fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def write_sensitivity_report(evaluators, out_dir: str | os.PathLike, *, seed: int = 0) -> dict[str, Any]:
    """For each run, :func:`occlusion_sensitivity` drawn to ``OUT/sensitivity_<model>.png``; all maps in
    ``OUT/sensitivity.json`` (``{model: {strategy, patch_nodes, clean_accuracy, importance: V values,
    class_importance: {class: V values}}}``, NaN as null). Returns that dict."""
    out = Path(out_dir)

    def values(a: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else round(float(v), 5) for v in a]

    maps = {}
    for ev in evaluators:
        res = occlusion_sensitivity(ev, seed=seed)
        plot_sensitivity(res, ev.mean_shape, ev.topology.edges, out / f"sensitivity_{ev.name}.png",
                         title=f"{ev.name}: accuracy drop when a patch of {res['patch_nodes']} landmarks is "
                               f"removed ({res['strategy']})")
        maps[ev.name] = {"strategy": res["strategy"], "patch_nodes": res["patch_nodes"],
                         "clean_accuracy": res["clean_accuracy"], "importance": values(res["importance"]),
                         "class_importance": {c: values(m) for c, m in res["class_importance"].items()}}
    write_json(out / "sensitivity.json", maps)
    return maps
