"""68-point models on Face Mesh detections: the same CK+ frames, landmarks from CK+ lands or mapped from the mesh.

Usage:
    python experiments/mesh68_transfer.py --ck48 $FER_GRAPH_DATA/ck48 --ck-lands $FER_GRAPH_DATA/ck_lands/CK+ \
        --cache data/processed/ck48_pose/landmarks --data data/processed/ck_lands --out reports/mesh68_transfer

Trains apex-only models (``fer-graph train --data CK_LANDS --features apex``: no onset frame, since a photo
has none) on CK+ lands with its subject-independent 10 folds, into OUT/<arch>/ (reused when complete). Each
fold's model then scores the CK+48 images of its own test subjects (frames it never saw, of subjects it never
saw) three ways: the CK+ lands points of exactly those frames, the Face Landmarker mesh mapped to the iBUG
points with :func:`fer_graph.landmarks.mesh_to_ibug68`, and the bare mapped vertices (no offsets). Labels
are the CK+48 folders' (contempt, absent from CK+ lands, is left out); the accuracy gap between the first and
the other two rows is what the landmark source costs. Writes OUT/transfer.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from _report import write_table
from mesh68_fit import corrected, fit, offsets, pairs

from fer_graph.runtime import configure

configure()

from fer_graph.evaluation.predictor import ExpressionModel  # noqa: E402
from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.labels import canonical_label  # noqa: E402
from fer_graph.landmarks import mesh_to_ibug68  # noqa: E402
from fer_graph.training import TrainConfig, train  # noqa: E402
from fer_graph.training.rundir import is_complete_run  # noqa: E402

ARCHS = ("gat", "logreg")


def trained(data: Path, out: Path, arch: str, workers: int) -> Path:
    """The apex-only run of ``arch`` on CK+ lands (trained unless complete)."""
    target = out / arch
    if not is_complete_run(target):
        ds = load_processed(data)
        cfg = TrainConfig.for_topology(ds.meta["topology"], len(ds), arch=arch, features="apex")
        train(ds, cfg, target, workers=workers, force=True)
    return target


def fold_of_subject(run: Path) -> dict[str, int]:
    """Subject -> the fold whose test set holds it, from the run's ``predictions.csv``."""
    p = pd.read_csv(run / "predictions.csv", dtype={"subject": str})
    return dict(zip(p["subject"], p["fold"]))


def score(run: Path, sources: dict[str, np.ndarray], labels: np.ndarray, subjects: np.ndarray) -> dict[str, float]:
    """Accuracy of each fold's model on its test subjects' frames, pooled, per landmark source."""
    folds = fold_of_subject(run)
    fold = np.array([folds.get(s, -1) for s in subjects])
    right = {name: 0 for name in sources}
    for k in np.unique(fold[fold >= 0]):
        model = ExpressionModel(run, folds=[int(k)])
        m = fold == k
        for name, pts in sources.items():
            pred = np.asarray(model.classes)[model.predict_landmarks(pts[m]).argmax(1)]
            right[name] += int((pred == labels[m]).sum())
    n = int((fold >= 0).sum())
    return {"n": n, **{name: right[name] / n for name in sources}}


def cross_fitted(mesh: np.ndarray, ck: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """``(P, 68, 2)`` mapped points of each half of the subjects with the table and offsets fitted on the other
    half (:mod:`mesh68_fit`): the packaged table saw every frame scored here, this one did not."""
    names = np.unique(subjects)
    half = np.isin(subjects, names[::2])
    out = np.empty((len(mesh), 68, 2))
    for part in (half, ~half):
        table = fit(mesh[~part], ck[~part])
        out[part] = corrected(mesh[part], table, offsets(mesh[~part], ck[~part], table))
    return out.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ck48", required=True, type=Path)
    p.add_argument("--ck-lands", required=True, type=Path)
    p.add_argument("--cache", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path, help="processed CK+ lands dataset (build-graphs --source ck-lands)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    mesh, ck, subjects, ids = pairs(args.ck48, args.ck_lands, args.cache)
    labels = np.array([canonical_label(i.split("/")[0]) for i in ids])
    keep = labels != "contempt"
    sources = {"CK+ lands points of the same frames": ck[keep].astype(np.float32),
               "Face Mesh mapped, table fitted on the other half of the subjects": cross_fitted(mesh, ck, subjects)[keep],
               "Face Mesh mapped to iBUG 68 (vertex + offset)": mesh_to_ibug68(mesh[keep]),
               "Face Mesh mapped to iBUG 68 (vertex only)": mesh_to_ibug68(mesh[keep], offsets=False)}
    rows = []
    for arch in ARCHS:
        run = trained(args.data, args.out, arch, args.workers)
        rows.append({"model": arch, **score(run, sources, labels[keep], subjects[keep])})
    lines = ["| apex-only model (CK+ lands, 10 folds) | CK+48 frames scored | " + " | ".join(sources) + " |",
             "|---|---:|" + "---:|" * len(sources)]
    lines += [f"| {r['model']} | {r['n']} | " + " | ".join(f"{r[s]:.3f}" for s in sources) + " |" for r in rows]
    write_table(args.out, "transfer", rows, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
