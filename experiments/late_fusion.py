"""Late fusion of finished runs: the mean of their test probabilities, scored per fold like a run.

Usage:
    python experiments/late_fusion.py --runs runs/ck48_gat reports/ck48/logreg_apex-blendshapes_weighted \
        --out reports/fusion_ck48

Each run's ``predictions.csv`` (fold, sample_id, y_true, p_<class>) must hold the same samples in the same
folds with the same classes: runs of one dataset with the same protocol and seed. The fused prediction of a
sample is the argmax of the runs' unweighted mean probability — equal weights fixed in advance, so nothing
is chosen on the test folds. OUT/fusion.json and OUT/fusion.md give accuracy and macro-F1 (mean ± std over
folds, as ``metrics.json``), per-class recall pooled over folds, for each run and for the fusion.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from _report import write_table
from sklearn.metrics import accuracy_score, f1_score, recall_score


def load_predictions(run: Path) -> pd.DataFrame:
    """The run's ``predictions.csv`` indexed by (fold, sample_id); raises FileNotFoundError naming it."""
    path = run / "predictions.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no predictions (is {run} a finished run directory?)")
    return pd.read_csv(path).set_index(["fold", "sample_id"]).sort_index()


def aligned(frames: list[pd.DataFrame], runs: list[Path]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Classes, folds ``(n,)``, true labels ``(n,)`` and probabilities ``(R, n, C)`` of runs over the same samples.

    Raises:
        ValueError: the runs differ in samples, folds, labels or classes (names the first differing run).
    """
    classes = [c[2:] for c in frames[0].columns if c.startswith("p_")]
    for run, f in zip(runs[1:], frames[1:]):
        if not f.index.equals(frames[0].index) or not (f["y_true"] == frames[0]["y_true"]).all():
            raise ValueError(f"{run}: not the same samples, folds and labels as {runs[0]}")
        if [c[2:] for c in f.columns if c.startswith("p_")] != classes:
            raise ValueError(f"{run}: classes differ from {runs[0]}'s {classes}")
    probs = np.stack([f[[f"p_{c}" for c in classes]].to_numpy(float) for f in frames])
    return classes, frames[0].index.get_level_values("fold").to_numpy(), frames[0]["y_true"].to_numpy(), probs


def score(name: str, folds: np.ndarray, y_true: np.ndarray, pred: np.ndarray, classes: list[str]) -> dict:
    """Accuracy / macro-F1 mean and std over folds (population std, as ``metrics.json``), pooled recall."""
    acc, f1 = [], []
    for k in np.unique(folds):
        m = folds == k
        acc.append(accuracy_score(y_true[m], pred[m]))
        f1.append(f1_score(y_true[m], pred[m], labels=classes, average="macro", zero_division=0))
    recall = recall_score(y_true, pred, labels=classes, average=None, zero_division=0)
    return {"model": name, "accuracy_mean": float(np.mean(acc)), "accuracy_std": float(np.std(acc)),
            "macro_f1_mean": float(np.mean(f1)), "macro_f1_std": float(np.std(f1)), "folds": len(acc),
            "recall": dict(zip(classes, map(float, recall)))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    if len(args.runs) < 2:
        p.error("--runs: at least two run directories")
    classes, folds, y_true, probs = aligned([load_predictions(r) for r in args.runs], args.runs)
    names = np.asarray(classes, dtype=object)
    rows = [score(str(r), folds, y_true, names[pr.argmax(1)], classes) for r, pr in zip(args.runs, probs)]
    rows.append(score("late fusion (mean probability)", folds, y_true, names[probs.mean(0).argmax(1)], classes))
    lines = ["| model | accuracy | macro-F1 | " + " | ".join(classes) + " |",
             "|---|---:|---:|" + "---:|" * len(classes)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} | "
                     f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} | "
                     + " | ".join(f"{r['recall'][c]:.2f}" for c in classes) + " |")
    write_table(args.out, "fusion", rows, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
