"""The occlusion robustness study: clean-trained and mask-augmented GNNs next to baselines, trained on the
same subject-independent folds and swept over the same occlusions, written as one report.

Layout of ``OUT``::

    OUT/<model>/                 one run directory per model (``fer-graph train`` layout), reused when
                                 it is complete (its manifest verifies), else trained again
    OUT/sweep/                   sweep.csv, summary.json, plots (+ sensitivity maps)
    OUT/occlusion.md             the tables: clean accuracy, regions, extent AUCs, every strategy
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_path, read_json
from ..config import STUDY_MASK_AUGMENT, STUDY_MODELS, TrainConfig
from .sweep import run_occlusion_sweep

__all__ = ["STUDY_MODELS", "study_configs", "run_occlusion_study", "REPORT_REGIONS"]

#: Region columns of ``occlusion.md``.
REPORT_REGIONS = ("eyes", "mouth", "left_half", "right_half", "lower_face", "upper_face", "nose", "brows", "jaw")


def study_configs(models: Sequence[str], *, mask_augment: float = STUDY_MASK_AUGMENT, epochs: int = 150, folds: int = 10,
                  standardize: str = "node", features: str | None = None, seed: int = 0
                  ) -> dict[str, TrainConfig]:
    """The :class:`TrainConfig` of each study model (GNN settings apply to the GNNs only).

    Raises:
        ValueError: an unknown model name (the valid ones listed).
    """
    unknown = [m for m in models if m not in STUDY_MODELS]
    if unknown:
        raise ValueError(f"unknown study models {unknown}; expected some of {list(STUDY_MODELS)}")
    common = dict(folds=folds, seed=seed, features=features)
    out = {}
    for name in models:
        arch, masked = STUDY_MODELS[name]
        gnn = dict(epochs=epochs, standardize=standardize, mask_augment=mask_augment if masked else 0.0)
        out[name] = TrainConfig(arch=arch, **common, **(gnn if arch == "gat" else {}))
    return out


def run_occlusion_study(data: str | os.PathLike, out_dir: str | os.PathLike, *,
                        models: Sequence[str] = tuple(STUDY_MODELS), mask_augment: float = STUDY_MASK_AUGMENT, epochs: int = 150,
                        folds: int = 10, standardize: str = "node", features: str | None = None, refit: bool = True,
                        seed: int = 0, workers: int = 1, sensitivity: bool = False,
                        on_message: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or reuse) every model on ``data``'s folds, sweep them all, write ``OUT/occlusion.md``.

    Args:
        data: a processed dataset (``fer-graph build-graphs`` output).
        out_dir: the study folder (see the module docstring).
        models: names from :data:`STUDY_MODELS`; mask_augment: P of the mask-augmented GAT.
        epochs, folds, standardize, features, seed: training settings (:class:`TrainConfig`).
        refit: GNNs retrain on all training subjects at the epoch early stopping chose (baselines always
            refit on them after the grid search).
        workers: GNN folds fitted at once in worker processes.
        sensitivity: also draw occlusion-sensitivity maps.
        on_message: called with one line per finished step.

    Returns:
        The sweep summary (``OUT/sweep/summary.json``).
    """
    from ..graphs.load import load_processed
    from ..training.run import train
    from ..training.rundir import is_complete_run

    say = on_message or (lambda _msg: None)
    ds, out = load_processed(data), Path(out_dir)
    configs = study_configs(models, mask_augment=mask_augment, epochs=epochs, folds=folds,
                            standardize=standardize, features=features, seed=seed)
    train_s = {}
    for name, cfg in configs.items():
        run = out / name
        if is_complete_run(run):
            say(f"{name}: reusing {run}")
            continue
        t0 = time.perf_counter()
        m = train(ds, cfg, run, refit=refit, workers=workers, force=True)  # an incomplete run is replaced
        train_s[name] = round(time.perf_counter() - t0, 1)
        say(f"{name}: accuracy {m['accuracy_mean']:.4f} ± {m['accuracy_std']:.4f} ({train_s[name]} s)")
    result = run_occlusion_sweep([out / n for n in configs], ds, out / "sweep", names=list(configs), seed=seed,
                                 sensitivity=sensitivity, extra={"models": list(configs), "mask_augment": mask_augment,
                                                                  "train_wall_s": train_s})
    lines = occlusion_tables(out, list(configs), result.summary, data=str(data), conditions=result.conditions,
                             sweep_s=result.wall_s)
    with atomic_path(out / "occlusion.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    say("\n".join(lines))
    return result.summary


def _fmt(value: float | None) -> str:
    return "nan" if value is None else f"{value:.3f}"


def occlusion_tables(out: Path, names: list[str], summary: dict[str, Any], *, data: str, conditions: int,
                     sweep_s: float) -> list[str]:
    """The Markdown lines of ``occlusion.md``: clean accuracy per run, the reference-strategy table and
    every strategy's region accuracies."""
    lines = ["Clean accuracy on the run's own protocol (mean ± std over folds):", "",
             "| model | accuracy | macro-F1 | train s |", "|---|---:|---:|---:|"]
    for name in names:
        m = read_json(out / name / "metrics.json")
        lines.append(f"| {name} | {m['accuracy_mean']:.3f} ± {m['accuracy_std']:.3f} | "
                     f"{m['macro_f1_mean']:.3f} ± {m['macro_f1_std']:.3f} | {m.get('wall_s', float('nan')):.0f} |")
    regions = list(REPORT_REGIONS)
    lines += ["", f"Occlusion sweep of {data}: {conditions} conditions x {len(names)} models in {sweep_s:.1f} s. "
              "Region columns: accuracy with that region occluded under each model's reference strategy (GNN: "
              "node removal; flattened-coordinate baselines: mean-shape imputation). AUC extent: normalized area "
              "under accuracy vs contiguous-patch extent (0-60% of landmarks).", "",
              "| model | clean | AUC extent | AUC random | " + " | ".join(regions) + " | noise 0.05 | noise 0.1 |",
              "|---|" + "---:|" * (4 + len(regions)) + "---:|"]
    for name, s in summary.items():
        ref = s["reference_strategy"]
        rnd = s["auc_extent_by_strategy"].get(ref, {}).get("random")
        cells = [_fmt(s["region_accuracy"].get(r)) for r in regions]
        lines.append(f"| {name} ({ref}) | {_fmt(s['clean_accuracy'])} | {_fmt(s['auc_extent'])} | {_fmt(rnd)} | "
                     + " | ".join(cells) + f" | {_fmt(s['noise_accuracy'].get('0.05'))} | "
                     f"{_fmt(s['noise_accuracy'].get('0.1'))} |")
    lines += ["", "Every strategy (accuracy with the region occluded):", "",
              "| model | strategy | " + " | ".join(regions) + " |", "|---|---|" + "---:|" * len(regions)]
    for name, s in summary.items():
        by: dict[str, dict[str, float]] = {}
        for region, per in s["region_accuracy_by_strategy"].items():
            for strategy, acc in per.items():
                by.setdefault(strategy, {})[region] = acc
        for strategy, regs in by.items():
            lines.append(f"| {name} | {strategy} | " + " | ".join(_fmt(regs.get(r)) for r in regions) + " |")
    return lines
