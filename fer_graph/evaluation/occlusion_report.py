"""Sweep outputs: ``sweep.csv`` (tidy), ``summary.json`` and the robustness plots."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, write_json
from .occlusion import SWEEP_COLUMNS, summarize_sweep

__all__ = ["write_sweep_report"]


def write_sweep_report(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike, *,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``sweep.csv``, ``summary.json``, ``regions.png``, ``extent.png`` and ``noise.png``.

    ``sweep.csv`` has the columns of :data:`~fer_graph.evaluation.occlusion.SWEEP_COLUMNS` first, then
    ``arch, kind, noise_region`` and one ``recall_<class>`` column per class. ``summary.json`` maps model
    names to :func:`~fer_graph.evaluation.occlusion.summarize_sweep` entries (plus ``extra`` under
    ``"sweep"``).

    Returns:
        The summary dict.
    """
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flat = []
    for r in rows:
        row = {k: v for k, v in r.items() if k != "per_class_recall"}
        row.update({f"recall_{c}": v for c, v in (r.get("per_class_recall") or {}).items()})
        flat.append(row)
    df = pd.DataFrame(flat)
    df = df[list(SWEEP_COLUMNS) + [c for c in df.columns if c not in SWEEP_COLUMNS]]
    with atomic_path(out / "sweep.csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    summary = summarize_sweep(rows)
    write_json(out / "summary.json", {**summary, **({"sweep": extra} if extra else {})})
    _plot_regions(df, out / "regions.png")
    _plot_curve(df, out / "extent.png", axis="extent")
    _plot_curve(df, out / "noise.png", axis="noise")
    return summary


def _figure(rows: int, cols: int, figsize: tuple[float, float]):
    """A pyplot-free ``Figure`` (renders with Agg, leaves the caller's backend alone) and its axes grid."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=False)


def _plot_regions(df, path: Path) -> None:
    regs = df[~df.region.isin(["none", "patch", "random", "all"]) & (df.noise == 0)]
    if regs.empty:
        return
    models = list(dict.fromkeys(df.model))
    strategies = list(dict.fromkeys(regs.strategy))
    regions = list(dict.fromkeys(regs.region))
    fig, axes = _figure(len(strategies), 1, (max(8, 0.75 * len(regions) * max(1, len(models) / 2)),
                                             3.2 * len(strategies)))
    width = 0.8 / len(models)
    for ax, strategy in zip(axes[:, 0], strategies):
        for i, model in enumerate(models):
            sub = regs[(regs.model == model) & (regs.strategy == strategy)].set_index("region")
            acc = [sub.accuracy.get(r, np.nan) for r in regions]
            bars = ax.bar(np.arange(len(regions)) + (i - (len(models) - 1) / 2) * width, acc, width, label=model)
            clean = df[(df.model == model) & (df.region == "none")].accuracy
            if len(clean):
                ax.axhline(float(clean.iloc[0]), color=bars.patches[0].get_facecolor(), ls="--", lw=1)
        ax.set_xticks(np.arange(len(regions)), regions, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy")
        ax.set_title(f"occluded region, strategy: {strategy} (dashed: clean)")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(models)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def _plot_curve(df, path: Path, *, axis: str) -> None:
    """Accuracy vs occlusion extent (``axis="extent"``: one panel per region kind and strategy) or vs noise."""
    from matplotlib.lines import Line2D

    if axis == "extent":
        panels = [(k, s) for k in ("patch", "random") for s in dict.fromkeys(df[df.region == k].strategy)]
    else:
        panels = [("all", "none")] if (df.noise > 0).any() else []
    if not panels:
        return
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = _figure(rows, cols, (4.2 * cols, 3.4 * rows + 0.6))
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    models = list(dict.fromkeys(df.model))
    colors = {m: f"C{i % 10}" for i, m in enumerate(models)}
    for ax, (region, strategy) in zip(axes.ravel(), panels):
        for model in models:
            clean = df[(df.model == model) & (df.region == "none")]
            if axis == "extent":
                sub = df[(df.model == model) & (df.region == region) & (df.strategy == strategy)]
                xs, ys = sub.extent, sub.accuracy
            else:
                sub = df[(df.model == model) & (df.noise > 0)]
                xs, ys = sub.noise, sub.accuracy
            if sub.empty:
                continue
            x = np.concatenate([[0.0], xs.to_numpy()])
            y = np.concatenate([clean.accuracy.to_numpy()[:1], ys.to_numpy()])
            order = np.argsort(x)
            ax.plot(x[order], y[order], marker="o", ms=3, label=model, color=colors[model])
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.set_ylabel("accuracy")
        if axis == "extent":
            ax.set_xlabel("fraction of landmarks occluded")
            ax.set_title(f"{'contiguous BFS patch' if region == 'patch' else 'random dropout'} — {strategy}", fontsize=9)
        else:
            ax.set_xlabel("landmark noise sigma (IOD)")
            ax.set_title("Gaussian landmark noise", fontsize=9)
    handles = [Line2D([], [], color=colors[m], marker="o", ms=3, label=m) for m in models]
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(models)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.6 / (3.4 * rows + 0.6) + 0.02, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
