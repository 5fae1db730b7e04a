"""Balanced vs original training data: every model x every ``--balance`` mode on the same folds, with a paired
test across folds.

Usage:
    python experiments/balance_study.py --data data/processed/ck_lands --out reports/balance_ck_lands \
        --archs gat gcn logreg svm mlp [--balances none weighted oversample undersample] [--workers 2]

Each (arch, balance) pair is ``fer-graph train --data DATA --arch ARCH --balance MODE`` with the default recipe
of the dataset (``TrainConfig.for_topology``), trained into OUT/<arch>_<balance>/ (reused when complete, so an
interrupted study resumes). OUT/balance.md and OUT/balance.json give accuracy, macro-F1 and per-class recall
(pooled over the test folds), and for every mode but ``none`` the Wilcoxon signed-rank test of its per-fold
macro-F1 against the same model with ``none`` (two-sided, scipy's exact distribution for 10 folds; hold-out
datasets have one test split and get no test).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _report import write_table

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.training import TrainConfig, train  # noqa: E402
from fer_graph.training.rundir import is_complete_run  # noqa: E402

BALANCES = ("none", "weighted", "oversample", "undersample")


def _wilcoxon(a: list[float], b: list[float]) -> float | None:
    """Two-sided p of the Wilcoxon signed-rank test of paired per-fold scores; None without two folds or
    when every difference is 0."""
    from scipy.stats import wilcoxon

    if len(a) < 2 or all(x == y for x, y in zip(a, b)):
        return None
    return float(wilcoxon(a, b).pvalue)


def _run(ds, data: Path, out: Path, arch: str, balance: str, folds: int, workers: int) -> dict:
    run = out / f"{arch}_{balance}"
    if not is_complete_run(run):
        cfg = TrainConfig.for_topology(ds.meta["topology"], len(ds), arch=arch, balance=balance, folds=folds)
        train(ds, cfg, run, workers=workers, force=True)
        print(f"{arch} {balance}: done", flush=True)
    m = json.loads((run / "metrics.json").read_text())
    m["command"] = f"fer-graph train --data {data} --arch {arch} --balance {balance} --folds {folds} --out {run}"
    return m


def _rows(runs: dict[tuple[str, str], dict]) -> list[dict]:
    rows = []
    for (arch, balance), m in runs.items():
        f1 = [f["macro_f1"] for f in m["per_fold"]]
        ref = runs.get((arch, "none"))
        p = None if ref is None or balance == "none" else _wilcoxon(f1, [f["macro_f1"] for f in ref["per_fold"]])
        rows.append({"arch": arch, "balance": balance, "accuracy_mean": m["accuracy_mean"],
                     "accuracy_std": m["accuracy_std"], "macro_f1_mean": m["macro_f1_mean"],
                     "macro_f1_std": m["macro_f1_std"], "recall": m["pooled"]["per_class_recall"],
                     "wilcoxon_p_vs_none": p, "folds": m["folds"], "wall_s": m["wall_s"], "command": m["command"]})
    return rows


def _table(rows: list[dict], classes: list[str]) -> list[str]:
    lines = ["| model | balance | accuracy | macro-F1 | Wilcoxon p (macro-F1 vs none) | "
             + " | ".join(f"recall {c}" for c in classes) + " |",
             "|---|---|---:|---:|---:|" + "---:|" * len(classes)]
    for r in rows:
        p = "—" if r["wilcoxon_p_vs_none"] is None else f"{r['wilcoxon_p_vs_none']:.3f}"
        lines.append(f"| {r['arch']} | {r['balance']} | {r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} | "
                     f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} | {p} | "
                     + " | ".join(f"{r['recall'].get(c, float('nan')):.2f}" for c in classes) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--archs", nargs="+", default=["gat", "gcn", "logreg", "svm", "mlp"])
    p.add_argument("--balances", nargs="+", default=list(BALANCES), choices=BALANCES)
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--workers", type=int, default=1, help="folds fitted at once in worker processes")
    args = p.parse_args(argv)
    ds = load_processed(args.data)
    runs = {(a, b): _run(ds, args.data, args.out, a, b, args.folds, args.workers)
            for a in args.archs for b in args.balances}
    rows = _rows(runs)
    classes = next(iter(runs.values()))["classes"]
    write_table(args.out, "balance", rows, _table(rows, classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
