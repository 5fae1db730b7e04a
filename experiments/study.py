"""Results tables: GNNs and baselines side by side on the same folds of one processed dataset.

Usage:
    python experiments/study.py --data data/processed/ck_lands --out reports/ck_lands \
        --archs gat gcn svm pca-svm logreg mlp --features apex disp apex+disp [--epochs 150] [--quick]

Each (arch, features) pair is trained with ``fer_graph.training.train`` into OUT/<arch>_<features>/
(skipped when its metrics.json exists, so an interrupted study resumes); OUT/results.md and
OUT/results.json collect accuracy and macro-F1 (mean ± std over folds, and pooled) with the command that
reproduces each row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.models import get_model_entry  # noqa: E402
from fer_graph.training import TrainConfig, train  # noqa: E402
from fer_graph.training.rundir import is_complete_run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--archs", nargs="+", default=["gat", "gcn", "svm", "pca-svm", "logreg", "mlp"])
    p.add_argument("--features", nargs="+", default=[None])
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--balance", default="none")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--backend", default="fast", choices=["fast", "pyg"])
    p.add_argument("--standardize", default="node", choices=["node", "channel"],
                   help="GNNs: per-landmark (node, as fer-graph train) or per-channel statistics (run folders of "
                        "channel runs get a _chanstd suffix)")
    p.add_argument("--refit", action="store_true", help="GNNs: retrain on all training subjects at the chosen epoch")
    p.add_argument("--quick", action="store_true", help="3 folds, 5 epochs: a smoke run")
    p.add_argument("--workers", type=int, default=1, help="GNNs: folds fitted at once in worker processes")
    args = p.parse_args(argv)
    if args.threads:
        configure(threads=args.threads)
    if args.quick:
        args.folds, args.epochs = 3, 5
    ds = load_processed(args.data)
    rows = []
    seen = set()
    for feats in args.features:
        for arch in args.archs:
            entry = get_model_entry(arch)
            if any(n not in ds.meta["attributes"] for n in entry.needs):
                continue
            if "blendshapes" in entry.needs:  # blendshape baselines ignore the node features: run once
                if arch in seen:
                    continue
                seen.add(arch)
            refit = args.refit and entry.kind == "gnn"
            tag = (f"{arch}_{feats or 'default'}_{args.balance}{'_refit' if refit else ''}"
                   f"{'_pyg' if args.backend == 'pyg' and entry.kind == 'gnn' else ''}"
                   f"{'_chanstd' if args.standardize == 'channel' and entry.kind == 'gnn' else ''}").replace("+", "-")
            run = args.out / tag
            cmd = (f"fer-graph train --data {args.data} --arch {arch} --folds {args.folds} --epochs {args.epochs} "
                   f"--balance {args.balance} --seed {args.seed} --backend {args.backend} --standardize {args.standardize}" + (f" --features {feats}" if feats else "")
                   + (" --refit" if refit else "") + (f" --workers {args.workers}" if args.workers > 1 else "") + f" --out {run}")
            if is_complete_run(run):
                m = json.loads((run / "metrics.json").read_text())
            else:
                start = time.perf_counter()
                cfg = TrainConfig(arch=arch, features=feats, epochs=args.epochs, folds=args.folds,
                                  balance=args.balance, seed=args.seed, backend=args.backend,
                                  standardize=args.standardize)
                m = train(ds, cfg, run, refit=refit, workers=args.workers, force=True)  # incomplete: replaced
                print(f"{tag}: {m['accuracy_mean']:.4f} ± {m['accuracy_std']:.4f} "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
            rows.append({"arch": arch + (" (refit)" if refit else ""), "kind": entry.kind, "balance": args.balance,
                         "features": "blendshapes" if "blendshapes" in entry.needs else m["features"],
                         "accuracy_mean": m["accuracy_mean"], "accuracy_std": m["accuracy_std"],
                         "macro_f1_mean": m["macro_f1_mean"], "macro_f1_std": m["macro_f1_std"],
                         "pooled_accuracy": m["pooled"]["accuracy"], "accuracy_all": m.get("accuracy_all"),
                         "protocol": m["protocol"], "folds": m["folds"], "wall_s": m["wall_s"], "command": cmd})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| model | features | balance | accuracy (mean ± std over folds) | macro-F1 | pooled acc. | "
             "acc. all images | wall s |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["features"], -r["accuracy_mean"])):
        lines.append(f"| {r['arch']} | {r['features']} | {r['balance']} | "
                     f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} | "
                     f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} | {r['pooled_accuracy']:.3f} | "
                     + (f"{r['accuracy_all']:.3f}" if r["accuracy_all"] is not None else "—")
                     + f" | {r['wall_s']:.0f} |")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
