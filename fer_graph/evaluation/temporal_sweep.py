"""Occlusion over time: score sequence models and frame-pair models on the same corrupted sequences.

Every held-out sequence of a sequence dataset is corrupted once per condition
(:func:`fer_graph.occlusion.temporal.corrupt_sequence`, seeded by condition and sequence), and each run's
features are rebuilt from the corrupted frames:

- ``seq`` runs (``--arch stgcn``) see every frame; a landmark hidden in a frame has that frame's features
  set to the fold's training mean (masking), and its displacements in every frame too when its onset is
  hidden (no reference left to measure them from);
- ``apex+disp`` runs (the frame-pair GAT) see the last frame as apex and the first as onset; a landmark
  hidden in either is masked (training mean, or removed from the graph with ``strategy="removal"``).

Metrics are pooled over the test folds (:func:`fer_graph.evaluation.metrics.classification_metrics`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..graphs.features import FeatureSpec
from ..occlusion.temporal import TemporalCondition, corrupt_sequence
from .metrics import classification_metrics
from .occlusion import RunEvaluator, SweepError

__all__ = ["corrupted_frames", "temporal_features", "temporal_sweep", "run_temporal_sweep"]


def corrupted_frames(frames: np.ndarray, cond: TemporalCondition, topology, *, seed: int = 0,
                     key: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, visible)`` ``(G, V, T, D)`` / ``(G, V, T)`` of every sequence under ``cond``; sequence g draws
    from ``default_rng([seed, key, g])``."""
    out = [corrupt_sequence(f, cond, topology, np.random.default_rng([seed, key, g])) for g, f in enumerate(frames)]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def temporal_features(spec: FeatureSpec, frames: np.ndarray, visible: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """A run's node features from (corrupted) frames and the per-node-feature visibility to mask them by.

    Returns:
        ``x`` ``(G, V, F)`` float32 and ``seen`` ``(G, V, F)`` bool (False: replace by the training mean).

    Raises:
        SweepError: features other than ``seq`` and ``apex+disp`` / ``apex`` / ``disp``.
    """
    f, vis = torch.from_numpy(frames), torch.from_numpy(visible)
    onset, onset_seen = f[:, :, 0], vis[:, :, 0]
    if "seq" in spec.node:
        x = spec.node_from(f[:, :, -1], onset, f)
        d = f.shape[-1]
        coords_seen = vis[..., None].expand(-1, -1, -1, d)
        disp_seen = (vis & onset_seen[:, :, None])[..., None].expand(-1, -1, -1, d)
        return x, torch.cat([coords_seen, disp_seen], -1).reshape(x.shape)
    if spec.graph or not set(spec.node) <= {"apex", "disp"}:
        raise SweepError(f"temporal sweeps take 'seq' or apex/disp node features; got {str(spec)!r}")
    x = spec.node_from(f[:, :, -1], onset)
    seen = vis[:, :, -1] & onset_seen
    return x, seen[:, :, None].expand_as(x).clone()


def _score(ev: RunEvaluator, x: torch.Tensor, seen: torch.Tensor, strategy: str) -> dict[str, Any]:
    preds = []
    for k, te, _ in ev.folds:
        xt, st = x[ev.sample_index[te]], seen[ev.sample_index[te]]
        if strategy == "removal":
            preds.append(ev.classify(k, xt, mask=st.all(-1)))
        else:
            preds.append(ev.classify(k, torch.where(st, xt, ev.mean_faces[k].expand_as(xt))))
    return classification_metrics(ev.y[ev.test_positions], np.concatenate(preds), ev.classes)


def temporal_sweep(runs: Sequence[str | os.PathLike], ds, conditions: Sequence[TemporalCondition], *,
                   strategies: dict[str, str] | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Score every run (trained on ``ds``, a sequence dataset, or on a frame dataset of the same sequences)
    under every condition.

    Args:
        runs: run directories; ``strategies``: run name -> ``"masking"`` (default) or ``"removal"``.
        ds: the sequence dataset (``frames`` per graph) whose held-out sequences are corrupted.

    Returns:
        Rows ``{model, arch, strategy, condition, kind, region, level, accuracy, macro_f1, n}``.

    Raises:
        SweepError: ``ds`` has no frames, or a run's features do not fit (see :func:`temporal_features`).
    """
    if "frames" not in ds.meta["attributes"]:
        raise SweepError(f"{ds.processed_dir}: not a sequence dataset (build-graphs --sequences)")
    evaluators = [RunEvaluator(r, ds) for r in runs]
    frames = ds.tensor("frames").numpy()
    rows = []
    for key, cond in enumerate(conditions):
        corrupted, visible = corrupted_frames(frames, cond, ds.topology, seed=seed, key=key)
        for ev in evaluators:
            strategy = (strategies or {}).get(ev.name, "masking")
            x, seen = temporal_features(ev.spec, corrupted, visible)
            m = _score(ev, x, seen, strategy)
            rows.append({"model": ev.name, "arch": ev.arch, "strategy": strategy, "condition": cond.name,
                         "kind": cond.kind, "region": cond.region, "level": cond.level, "accuracy": m["accuracy"],
                         "macro_f1": m["macro_f1"], "n": m["n"]})
    return rows


def run_temporal_sweep(runs: Sequence[str | os.PathLike], ds, out: str | os.PathLike,
                       conditions: Sequence[TemporalCondition], *, removal: Sequence[str] = (), seed: int = 0
                       ) -> dict[str, Any]:
    """:func:`temporal_sweep`, written to ``OUT/temporal.csv`` (one row per model x condition) and
    ``OUT/temporal.json`` (the rows, runs, dataset and seed), both atomically; returns the JSON's content.
    ``removal``: names of runs whose hidden landmarks are removed from the graph instead of masked."""
    import pandas as pd

    from .._io import atomic_path, write_json

    rows = temporal_sweep(runs, ds, conditions, strategies={n: "removal" for n in removal}, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "temporal.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    result = {"rows": rows, "runs": [str(r) for r in runs], "dataset": str(ds.processed_dir), "seed": seed,
              "conditions": [c.name for c in conditions]}
    write_json(out / "temporal.json", result)
    return result
