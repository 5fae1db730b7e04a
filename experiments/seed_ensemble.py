"""How much does a seed ensemble of the large-dataset GAT recipe gain on FER-2013 inner validation?

    python experiments/seed_ensemble.py --data data/processed/fer2013_pose --out reports/seed_ensemble \\
        --seeds 0,1 --threads 1 &  python experiments/seed_ensemble.py ... --seeds 2,3 --threads 1
    python experiments/seed_ensemble.py --data data/processed/fer2013_pose --out reports/seed_ensemble --report

Each seed trains the recipe fer-graph train uses on the dataset (``TrainConfig.for_topology``, one member,
``--epochs`` to override, ``--train-subset N`` for the 8,000-graph ranking protocol) on the fixed inner split
and saves its inner-validation probabilities to ``OUT/val_seed<S>.npy`` (runs are reused; two processes
with different seeds can share OUT). ``--report`` prints the accuracy of each seed and of the ensembles of
K = 2, 3, 4... members: the first K seeds, and the mean over every K-subset. No test data is read.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

import numpy as np  # noqa: E402

from fer_graph.config import TrainConfig  # noqa: E402
from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.training.run import FoldJob, make_folds, prepare_data  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--train-subset", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args(argv)
    configure(threads=args.threads)
    ds = load_processed(args.data)
    base = replace(TrainConfig.for_topology(ds.meta["topology"], len(ds), epochs=args.epochs), members=1, refit=False)
    data = prepare_data(ds, base)
    _, (fold,) = make_folds(ds, data, base)
    yv = data.y[fold.validation]
    train = fold.train
    if args.train_subset:
        from sklearn.model_selection import train_test_split

        train = train_test_split(fold.train, train_size=args.train_subset, stratify=data.y[fold.train],
                                 random_state=0)[0]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report:
        return _report(args.out, yv)
    for seed in (int(s) for s in args.seeds.split(",")):
        path = args.out / f"val_seed{seed}.npy"
        if path.is_file():
            continue
        job = FoldJob(replace(base, seed=seed), data.classes, ds.topology, int(ds.meta["node_dims"]),
                      data.inputs, data.y, replace(fold, train=train, test=fold.test[:0]))
        start = time.perf_counter()
        clf, _ = job.run()
        np.save(path, clf.predict_proba(data.inputs.take(fold.validation)))
        print(f"seed {seed}: {time.perf_counter() - start:.0f} s, val {clf.fit_info_['val_accuracy']:.4f}", flush=True)
    return 0


def _report(out: Path, yv: np.ndarray) -> int:
    probs = {int(p.stem.removeprefix("val_seed")): np.load(p) for p in sorted(out.glob("val_seed*.npy"))}
    seeds = sorted(probs)

    def acc(ps: list[np.ndarray]) -> float:
        return float((np.mean(ps, 0).argmax(1) == yv).mean())

    rows = {"seeds": {s: acc([probs[s]]) for s in seeds}, "ensembles": {}}
    for k in range(2, len(seeds) + 1):
        subsets = [acc([probs[s] for s in c]) for c in itertools.combinations(seeds, k)]
        rows["ensembles"][k] = {"first_k": acc([probs[s] for s in seeds[:k]]), "mean_over_subsets": float(np.mean(subsets))}
    print(json.dumps(rows, indent=1))
    (out / "report.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
