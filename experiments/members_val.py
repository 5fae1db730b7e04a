"""Inner-validation accuracy of the seed ensembles inside a k-fold GNN run, member by member.

    python experiments/members_val.py --run reports/mesh_ck48pose_last/e80_last_m4 --data data/processed/ck48_pose

The run must keep the last epoch (``TrainConfig.keep="last"``) and not refit, so each member's weights were
chosen on nothing and its inner-validation accuracy is unbiased. For every fold the script rebuilds the
run's folds from its ``config.json``, loads the fold's ensemble checkpoint, and scores each member's
probabilities on that fold's inner-validation subjects, with and without mirror test-time augmentation.
It prints (and writes RUN/members_val.json) the accuracy pooled over the folds' validation faces of
ensembles of k = 1 … K members: the first k seeds, and the mean over every k-subset. No test data is read.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

import numpy as np  # noqa: E402

from fer_graph.config import TrainConfig  # noqa: E402
from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.models.estimator import load_classifier  # noqa: E402
from fer_graph.training.run import make_folds, prepare_data  # noqa: E402


def member_probabilities(run: Path, data_dir: Path) -> tuple[dict[bool, list[np.ndarray]], np.ndarray]:
    """``({mirror_tta: [(N_val, C) probabilities per member]}, (N_val,) labels)``, validation faces of every
    fold concatenated in fold order."""
    saved = json.loads((run / "config.json").read_text())
    config = TrainConfig(**saved["config"])
    if config.keep != "last" or saved.get("refit"):
        raise SystemExit(f"{run}: needs a run with keep='last' and no refit (its validation must be unseen)")
    ds = load_processed(data_dir)
    data = prepare_data(ds, config)
    _, folds = make_folds(ds, data, config)
    probs: dict[bool, list[list[np.ndarray]]] = {False: [], True: []}
    labels = []
    for fold in folds:
        clf, _ = load_classifier(run / "checkpoints" / f"fold_{fold.index:02d}.pt")
        inputs = data.inputs.take(fold.validation)
        members = list(getattr(clf.module_, "members", [clf.module_]))
        for tta in (False, True):
            clf.mirror_tta = tta
            per = []
            for member in members:
                clf.module_ = member
                per.append(clf.predict_proba(inputs))
            probs[tta].append(per)
        labels.append(data.y[fold.validation])
    joined = {tta: [np.concatenate([fold[m] for fold in p]) for m in range(len(p[0]))] for tta, p in probs.items()}
    return joined, np.concatenate(labels)


def ensemble_table(probs: list[np.ndarray], y: np.ndarray) -> dict[int, dict[str, float]]:
    """``{k: {"first_k", "mean_over_subsets"}}`` accuracies of k-member probability averages."""
    def acc(ps: list[np.ndarray]) -> float:
        return float((np.mean(ps, 0).argmax(1) == y).mean())

    return {k: {"first_k": acc(probs[:k]),
                "mean_over_subsets": float(np.mean([acc(list(c)) for c in itertools.combinations(probs, k)]))}
            for k in range(1, len(probs) + 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path)
    args = ap.parse_args(argv)
    probs, y = member_probabilities(args.run, args.data)
    report = {"n_validation": int(len(y)),
              **{("mirror_tta" if tta else "plain"): ensemble_table(p, y) for tta, p in probs.items()}}
    print(json.dumps(report, indent=1))
    (args.run / "members_val.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
