"""Two-tier valence -> granular classification against the flat model and a valence-only model, same split.

Usage:
    python experiments/hierarchy_study.py --data data/processed/fer2013_pose --out reports/hierarchy_fer \
        --archs logreg blendshape-rf [--workers 2] [--gnn-epochs 30 --gnn-members 1] [--class-sets all]

For every arch, with and without ``--exclude disgust``, three runs of ``fer-graph train`` on the same folds or
split: the flat classifier (``--labels native``), ``--hierarchy valence`` and ``--labels valence3``. The table
(OUT/hierarchy.md, OUT/hierarchy.json) gives the granular accuracy and macro-F1 of the first two and the
valence accuracy of all three (granular predictions counted right when their valence group,
:data:`fer_graph.labels.VALENCE3`, is the true one; from the pooled confusion matrix). GNN runs take the
dataset's default recipe unless ``--gnn-epochs`` / ``--gnn-members`` override it (a cheaper recipe: each
hierarchy trains up to three models).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from _report import write_table

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.labels import VALENCE3  # noqa: E402
from fer_graph.models import get_model_entry  # noqa: E402
from fer_graph.training import TrainConfig, train  # noqa: E402
from fer_graph.training.rundir import is_complete_run  # noqa: E402

#: run kind -> TrainConfig fields
KINDS = {"flat": {}, "hierarchy": {"hierarchy": "valence"}, "valence3": {"labels": "valence3"}}


def valence_accuracy(confusion: list[list[int]], classes: list[str]) -> float:
    """Share of graphs whose predicted class has the true class's valence group (rows: true classes)."""
    cm = np.asarray(confusion)
    group = np.array([VALENCE3.get(c, c) for c in classes])
    same = group[:, None] == group[None, :]
    return float(cm[same].sum() / cm.sum())


def _run(ds, args, arch: str, kind: str, exclude: tuple[str, ...]) -> dict:
    tag = f"{arch}_{kind}" + ("_no-" + "-".join(exclude) if exclude else "")
    run = args.out / tag
    gnn = get_model_entry(arch).kind == "gnn"
    extra = {"epochs": args.gnn_epochs, "members": args.gnn_members} if gnn else {}
    if not is_complete_run(run):
        cfg = TrainConfig.for_topology(ds.meta["topology"], len(ds), arch=arch, exclude=exclude, folds=args.folds,
                                       **KINDS[kind], **extra)
        train(ds, cfg, run, workers=args.workers, force=True)
        print(f"{tag}: done", flush=True)
    m = json.loads((run / "metrics.json").read_text())
    flags = " ".join(f"--{k} {v}" for k, v in {**KINDS[kind], **extra}.items() if v is not None)
    m["command"] = (f"fer-graph train --data {args.data} --arch {arch} {flags}"
                    + "".join(f" --exclude {e}" for e in exclude) + f" --out {run}")
    return m


def _row(arch: str, exclude: tuple[str, ...], runs: dict[str, dict]) -> dict:
    row = {"arch": arch, "exclude": list(exclude), "commands": {k: m["command"] for k, m in runs.items()}}
    for kind, m in runs.items():
        pooled = m["pooled"]
        row[kind] = {"valence_accuracy": valence_accuracy(pooled["confusion"], m["classes"]),
                     **({} if kind == "valence3" else {"accuracy": m["accuracy_mean"], "macro_f1": m["macro_f1_mean"]})}
    return row


def _table(rows: list[dict]) -> list[str]:
    lines = ["| model | classes | flat: accuracy | flat: macro-F1 | hierarchy: accuracy | hierarchy: macro-F1 | "
             "valence accuracy: flat / hierarchy / valence3 |", "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        f, h, v = r["flat"], r["hierarchy"], r["valence3"]
        classes = "all" if not r["exclude"] else "without " + ", ".join(r["exclude"])
        lines.append(f"| {r['arch']} | {classes} | {f['accuracy']:.3f} | {f['macro_f1']:.3f} | {h['accuracy']:.3f} | "
                     f"{h['macro_f1']:.3f} | {f['valence_accuracy']:.3f} / {h['valence_accuracy']:.3f} / "
                     f"{v['valence_accuracy']:.3f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--archs", nargs="+", default=["logreg", "blendshape-rf"])
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--gnn-epochs", type=int, default=None)
    p.add_argument("--gnn-members", type=int, default=None)
    p.add_argument("--class-sets", nargs="+", choices=("all", "no-disgust"), default=["all", "no-disgust"],
                   help="the class sets to run: all classes, and without disgust")
    args = p.parse_args(argv)
    ds = load_processed(args.data)
    rows = []
    for arch in args.archs:
        for exclude in (() if name == "all" else ("disgust",) for name in args.class_sets):
            rows.append(_row(arch, exclude, {k: _run(ds, args, arch, k, exclude) for k in KINDS}))
    write_table(args.out, "hierarchy", rows, _table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
