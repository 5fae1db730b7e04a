"""Balanced vs original training data: every model x every ``--balance`` mode on the same folds, with a paired
test across folds.

Usage:
    python experiments/balance_study.py --data data/processed/ck_lands --out reports/balance_ck_lands \
        --archs gat gcn logreg svm mlp [--balances none weighted oversample undersample] [--workers 2]

Each (arch, balance) pair is ``fer-graph train --data DATA --arch ARCH --balance MODE`` with the default recipe
of the dataset (``TrainConfig.for_topology``), trained into OUT/<arch>_<balance>/ (reused when complete, so an
interrupted study resumes). OUT/balance.md and OUT/balance.json give accuracy, macro-F1 and per-class recall
(pooled over the test folds), and for every mode but ``none`` the Wilcoxon signed-rank test of its per-fold
macro-F1 against the same model with ``none`` (two-sided, scipy's exact distribution for 10 folds). Hold-out
datasets (FER-2013: one test split) get McNemar's exact test instead: the images one run classifies right
and the other wrong, paired by sample id, against a fair coin (two-sided binomial test).

``--members`` / ``--epochs`` override the GNN recipe (e.g. one 50-epoch GAT instead of FER-2013's 4-member
ensemble, to keep 4 balance modes within an hour); the run names then carry them (``gat_m1_none``).
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


def _mcnemar(run: Path, ref: Path) -> float | None:
    """Two-sided exact McNemar p of two runs' test predictions (paired by sample id); None without
    discordant pairs."""
    import pandas as pd
    from scipy.stats import binomtest

    a, b = (pd.read_csv(r / "predictions.csv").set_index("sample_id") for r in (run, ref))
    both = a.join(b, lsuffix="_a", rsuffix="_b", how="inner")
    right_a, right_b = both.y_pred_a == both.y_true_a, both.y_pred_b == both.y_true_b
    n01, n10 = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    return None if n01 + n10 == 0 else float(binomtest(n01, n01 + n10).pvalue)


def _gnn_overrides(arch: str, members: int | None, epochs: int | None) -> tuple[dict, str]:
    from fer_graph.models.registry import get_model_entry

    if get_model_entry(arch).kind != "gnn":
        return {}, ""
    over = {k: v for k, v in (("members", members), ("epochs", epochs)) if v is not None}
    return over, "".join(f"_{k[0]}{v}" for k, v in over.items())


def _run(ds, data: Path, out: Path, arch: str, balance: str, folds: int, workers: int,
         members: int | None = None, epochs: int | None = None) -> dict:
    over, tag = _gnn_overrides(arch, members, epochs)
    run = out / f"{arch}{tag}_{balance}"
    if not is_complete_run(run):
        cfg = TrainConfig.for_topology(ds.meta["topology"], len(ds), arch=arch, balance=balance, folds=folds, **over)
        train(ds, cfg, run, workers=workers, force=True)
        print(f"{arch}{tag} {balance}: done", flush=True)
    m = json.loads((run / "metrics.json").read_text())
    flags = "".join(f" --{k} {v}" for k, v in over.items())
    m["command"] = f"fer-graph train --data {data} --arch {arch} --balance {balance} --folds {folds}{flags} --out {run}"
    m["run_dir"] = str(run)
    return m


def _rows(runs: dict[tuple[str, str], dict]) -> list[dict]:
    rows = []
    for (arch, balance), m in runs.items():
        f1 = [f["macro_f1"] for f in m["per_fold"]]
        ref = runs.get((arch, "none"))
        if ref is None or balance == "none":
            p, test = None, None
        elif len(f1) == 1:
            p, test = _mcnemar(Path(m["run_dir"]), Path(ref["run_dir"])), "mcnemar"
        else:
            p, test = _wilcoxon(f1, [f["macro_f1"] for f in ref["per_fold"]]), "wilcoxon"
        rows.append({"arch": arch, "balance": balance, "accuracy_mean": m["accuracy_mean"],
                     "accuracy_std": m["accuracy_std"], "macro_f1_mean": m["macro_f1_mean"],
                     "macro_f1_std": m["macro_f1_std"], "recall": m["pooled"]["per_class_recall"],
                     "p_vs_none": p, "test": test,
                     "wilcoxon_p_vs_none": p if test == "wilcoxon" else None, "folds": m["folds"], "wall_s": m["wall_s"], "command": m["command"]})
    return rows


def _table(rows: list[dict], classes: list[str]) -> list[str]:
    test = next((r["test"] for r in rows if r["test"]), "wilcoxon")
    head = "Wilcoxon p (macro-F1 vs none)" if test == "wilcoxon" else "McNemar p (accuracy vs none)"
    lines = [f"| model | balance | accuracy | macro-F1 | {head} | "
             + " | ".join(f"recall {c}" for c in classes) + " |",
             "|---|---|---:|---:|---:|" + "---:|" * len(classes)]
    for r in rows:
        p = "—" if r["p_vs_none"] is None else f"{r['p_vs_none']:.3f}"
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
    p.add_argument("--members", type=int, default=None, help="GNNs: seed-ensemble size instead of the recipe's")
    p.add_argument("--epochs", type=int, default=None, help="GNNs: epochs instead of the recipe's")
    args = p.parse_args(argv)
    ds = load_processed(args.data)
    runs = {(a, b): _run(ds, args.data, args.out, a, b, args.folds, args.workers, args.members, args.epochs)
            for a in args.archs for b in args.balances}
    rows = _rows(runs)
    classes = next(iter(runs.values()))["classes"]
    write_table(args.out, "balance", rows, _table(rows, classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
