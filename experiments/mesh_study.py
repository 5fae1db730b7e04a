"""Ablation study of graph-model recipes on a Face Landmarker dataset (CK+48, FER-2013), chosen honestly.

Every variant is trained with ``fer_graph.training.train`` under the dataset's protocol into
``OUT/<variant>/`` (complete runs are reused, so an interrupted study resumes). Variants are RANKED on their
inner-validation accuracy (``val_accuracy_mean`` of metrics.json: the validation subjects of each fold, or
the fixed validation split carved from FER-2013 ``train/``), never on a test fold or on publictest. Test
accuracy is shown only for the ``--finalists`` best variants and for the baselines (each a final model
chosen by its own grid search on inner validation).

    python experiments/study.py ...            # baselines, or:
    python experiments/mesh_study.py --data data/processed/ck48 --out reports/mesh_ck48 \\
        --variants default,meanmax,drop05 --baselines logreg,blendshape-rf --finalists 2 --workers 2
    python experiments/mesh_study.py --data data/processed/fer2013_pose --out reports/mesh_fer_s8k \\
        --train-subset 8000 --epochs 20 --variants hidden32,hidden32_mix --baselines blendshape-rf

``--train-subset N`` (FER-2013) is the fast ranking protocol: each variant trains on a stratified subset of N
inner-training graphs and is scored on the whole fixed inner-validation split (cached in OUT/<variant>/
rank.json, with the mirror test-time-augmented validation accuracy of the same GNN); no test data is read.

``--rank last`` ranks on the last epoch's validation accuracy instead (GNNs: nothing was chosen on it, so
it is not flattered by early stopping's pick of the best of many epochs).

Writes OUT/ablation.md and OUT/ablation.json (variant, what it changes, validation accuracy at the epoch
kept and at the last epoch, test accuracy and macro-F1 for finalists, parameters, train seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from _report import write_table

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

from fer_graph._io import write_json  # noqa: E402
from fer_graph.config import TrainConfig  # noqa: E402
from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.training import train  # noqa: E402
from fer_graph.training.run import FoldJob, dataset_name, make_folds, prepare_data  # noqa: E402
from fer_graph.training.rundir import is_complete_run  # noqa: E402

#: name -> (what it changes, TrainConfig overrides); "default" is TrainConfig() as fer-graph train uses it
#: mirror augmentation only (pose-aligned faces need no rotation; noise is the size of an expression's deviations)
_MIRROR_ONLY = {"rotate_deg": 0.0, "scale": 0.0, "noise": 0.0}
#: width 32, mirror augmentation only, no dropout: the lightly regularized Face Mesh variants
_LIGHT = {"hidden": 32, **_MIRROR_ONLY, "dropout": 0.0}
#: initialised from the bundled FER-2013 model (fer_graph.models.pretrained), width 32 as it
_FT = {"hidden": 32, "init_from": "fer2013-gat"}

VARIANTS: dict[str, tuple[str, dict]] = {
    "default": ("flatten readout (1.9 M parameters on 468 nodes), hidden 64, 3 GAT layers", {}),
    "meanmax": ("mean+max readout: no landmark-indexed projection", {"readout": "mean+max"}),
    "meanmax_flatten": ("mean+max and flatten readouts", {"readout": "mean+max+flatten"}),
    "attention": ("attention readout", {"readout": "attention"}),
    "drop05": ("dropout 0.5 (blocks, attention, readout, head)", {"dropout": 0.5}),
    "wd01": ("AdamW weight decay 0.1", {"weight_decay": 0.1}),
    "hidden32": ("hidden 32: a quarter of the flatten readout", {"hidden": 32}),
    "layers2": ("2 GAT layers", {"layers": 2}),
    "noaug": ("no mirror / rotation / scale / noise augmentation", {"augment": False}),
    "mask05": ("random occlusion of half the training graphs (+ visibility input)", {"mask_augment": 0.5}),
    "weighted": ("class-weighted loss", {"balance": "weighted"}),
    "gatv2": ("GATv2 attention", {"extra": {"v2": True}}),
    "lr1e3": ("learning rate 1e-3", {"lr": 1e-3}),
    "hidden16": ("hidden 16", {"hidden": 16}),
    "hidden32_mmf": ("hidden 32, mean+max and flatten readouts", {"hidden": 32, "readout": "mean+max+flatten"}),
    "hidden32_mask": ("hidden 32, random occlusion of half the training graphs", {"hidden": 32, "mask_augment": 0.5}),
    "hidden32_e80": ("hidden 32, 80 epochs", {"hidden": 32, "epochs": 80}),
    "hidden32_e80_m2": ("hidden 32, 80 epochs, seed ensemble of 2", {"hidden": 32, "epochs": 80, "members": 2}),
    # the weights after the whole schedule (nothing chosen on validation: an unbiased validation accuracy)
    "e80_last": ("hidden 32, 80 epochs, last epoch kept", {"hidden": 32, "epochs": 80, "keep": "last"}),
    "e80_last_m2": ("hidden 32, 80 epochs, last epoch kept, seed ensemble of 2",
                    {"hidden": 32, "epochs": 80, "keep": "last", "members": 2}),
    "e80_last_ema": ("hidden 32, 80 epochs, last epoch kept, weight average (EMA 0.995)",
                     {"hidden": 32, "epochs": 80, "keep": "last", "ema": 0.995}),
    "e80_last_mix_ema": ("hidden 32, 80 epochs, last epoch kept, mixup (Beta 0.2) and weight average",
                         {"hidden": 32, "epochs": 80, "keep": "last", "mixup": 0.2, "ema": 0.995}),
    "e80_last_l2": ("hidden 32, 80 epochs, last epoch kept, 2 GAT layers",
                    {"hidden": 32, "epochs": 80, "keep": "last", "layers": 2}),
    "e80_last_l2_m4": ("hidden 32, 80 epochs, last epoch kept, 2 GAT layers, seed ensemble of 4",
                       {"hidden": 32, "epochs": 80, "keep": "last", "layers": 2, "members": 4}),
    "e80_last_m4": ("hidden 32, 80 epochs, last epoch kept, seed ensemble of 4",
                    {"hidden": 32, "epochs": 80, "keep": "last", "members": 4}),
    "hidden32_bs64": ("hidden 32, blendshape branch (MLP 64-64) fused before the head",
                      {"hidden": 32, "graph_hidden": 64}),
    "hidden32_ema": ("hidden 32, weight average (EMA decay 0.995)", {"hidden": 32, "ema": 0.995}),
    "hidden32_bs64_ema": ("hidden 32, blendshape branch, weight average",
                          {"hidden": 32, "graph_hidden": 64, "ema": 0.995}),
    "hidden16_bs64": ("hidden 16, blendshape branch", {"hidden": 16, "graph_hidden": 64}),
    "hidden32_mix": ("hidden 32, mixup (Beta 0.2) of coordinates, blendshapes and targets",
                     {"hidden": 32, "mixup": 0.2}),
    "hidden32_mix_ema": ("hidden 32, mixup, weight average", {"hidden": 32, "mixup": 0.2, "ema": 0.995}),
    "hidden32_asinh": ("hidden 32, blendshapes through asinh(b / 0.01) before standardization",
                       {"hidden": 32, "graph_asinh": 0.01}),
    "hidden32_asinh_bs64": ("hidden 32, asinh blendshapes, blendshape branch",
                            {"hidden": 32, "graph_asinh": 0.01, "graph_hidden": 64}),
    "hidden32_gatv2": ("hidden 32, GATv2 attention", {"hidden": 32, "extra": {"v2": True}}),
    "hidden32_weighted": ("hidden 32, class-weighted loss", {"hidden": 32, "balance": "weighted"}),
    "hidden32_e80_weighted": ("hidden 32, 80 epochs, class-weighted loss",
                              {"hidden": 32, "epochs": 80, "balance": "weighted"}),
    "hidden32_tta": ("hidden 32, mirror test-time augmentation (validation and test)",
                     {"hidden": 32, "mirror_tta": True}),
    "hidden64_bs64": ("hidden 64, blendshape branch", {"graph_hidden": 64}),
    "hidden32_mirror": ("hidden 32, mirror augmentation only (no rotation, scaling or noise)",
                        {"hidden": 32, **_MIRROR_ONLY}),
    "hidden32_noaug": ("hidden 32, no augmentation", {"hidden": 32, "augment": False}),
    "hidden32_light": ("hidden 32, light augmentation (mirror, rotation 3°, scale 2%, noise 0.005 IOD)",
                       {"hidden": 32, "rotate_deg": 3.0, "scale": 0.02, "noise": 0.005}),
    "hidden32_mirror_drop0": ("hidden 32, mirror augmentation only, no dropout",
                              _LIGHT),
    "hidden32_mirror_lr5e3": ("hidden 32, mirror augmentation only, learning rate 5e-3",
                              {"hidden": 32, **_MIRROR_ONLY, "lr": 5e-3}),
    "hidden32_mirror_drop0_e40": ("hidden 32, mirror augmentation only, no dropout, twice the epochs",
                                  {"hidden": 32, **_MIRROR_ONLY, "dropout": 0.0,
                                   "epochs": 40}),
    "hidden64_mirror_drop0": ("hidden 64, mirror augmentation only, no dropout",
                              {**_LIGHT, "hidden": 64}),
    "hidden32_mirror_drop0_layers0": ("as hidden32_mirror_drop0 without graph convolutions (per-landmark "
                                      "input layer, flatten readout, head: a control)",
                                      {"hidden": 32, **_MIRROR_ONLY, "dropout": 0.0,
                                       "layers": 0}),
    "hidden32_mirror_drop0_layers1": ("hidden 32, mirror augmentation only, no dropout, 1 GAT layer",
                                      {"hidden": 32, **_MIRROR_ONLY, "dropout": 0.0,
                                       "layers": 1}),
    "l1_e60": ("as hidden32_mirror_drop0_layers1, 60 epochs", {**_LIGHT, "layers": 1, "epochs": 60}),
    "l2": ("hidden 32, mirror augmentation only, no dropout, 2 GAT layers", {**_LIGHT, "layers": 2}),
    "l1_bs64": ("as hidden32_mirror_drop0_layers1, blendshape branch (MLP 64-64)",
                {**_LIGHT, "layers": 1, "graph_hidden": 64}),
    "l1_bs64_e60": ("as l1_bs64, 60 epochs", {**_LIGHT, "layers": 1, "graph_hidden": 64, "epochs": 60}),
    "l1_h48": ("as hidden32_mirror_drop0_layers1, width 48", {**_LIGHT, "layers": 1, "hidden": 48}),
    "l1_h48_e60": ("as l1_h48, 60 epochs", {**_LIGHT, "layers": 1, "hidden": 48, "epochs": 60}),
    "l1_ls0": ("as hidden32_mirror_drop0_layers1, no label smoothing", {**_LIGHT, "layers": 1, "label_smoothing": 0.0}),
    "l1_wd0": ("as hidden32_mirror_drop0_layers1, no weight decay", {**_LIGHT, "layers": 1, "weight_decay": 0.0}),
    "l1_mix_ema": ("as hidden32_mirror_drop0_layers1, mixup and weight average",
                   {**_LIGHT, "layers": 1, "mixup": 0.2, "ema": 0.995}),
    "hidden32_layers1": ("hidden 32, 1 GAT layer", {"hidden": 32, "layers": 1}),
    "hidden32_layers1_e80": ("hidden 32, 1 GAT layer, 80 epochs", {"hidden": 32, "layers": 1, "epochs": 80}),
    "hidden32_layers2": ("hidden 32, 2 GAT layers", {"hidden": 32, "layers": 2}),
    "hidden32_layers2_e80": ("hidden 32, 2 GAT layers, 80 epochs", {"hidden": 32, "layers": 2, "epochs": 80}),
    # fine-tuning the bundled FER-2013 model (1 GAT layer, width 32) on a small dataset
    "ft_l1": ("fine-tuned from the FER-2013 GAT: 1 layer, full augmentation, dropout 0.2",
              {**_FT, "layers": 1}),
    "ft_l1_light": ("fine-tuned from the FER-2013 GAT, its own recipe (mirror only, no dropout)",
                    {**_FT, **_LIGHT, "layers": 1}),
    "ft_l1_lr5e4": ("fine-tuned from the FER-2013 GAT, full augmentation, learning rate 5e-4",
                    {**_FT, "layers": 1, "lr": 5e-4}),
    "ft_l2": ("fine-tuned from the FER-2013 GAT with a second, new GAT layer", {**_FT, "layers": 2}),
}


def _row(name: str, what: str, m: dict, finalist: bool) -> dict:
    params = [f.get("n_parameters") for f in m["per_fold"] if f.get("n_parameters")]
    return {"variant": name, "changes": what, "val_accuracy": m.get("val_accuracy_mean"),
            "val_accuracy_last": m.get("val_accuracy_last_mean"),
            "test_accuracy": m["accuracy_mean"] if finalist else None,
            "test_accuracy_std": m["accuracy_std"] if finalist else None,
            "test_macro_f1": m["macro_f1_mean"] if finalist else None,
            "parameters": params[0] if params else None, "train_s": m["wall_s"], "folds": m["folds"],
            "protocol": m["protocol"]}


def _fmt(v, spec=".3f") -> str:
    return "—" if v is None else format(v, spec)


def _table(rows: list[dict]) -> list[str]:
    lines = ["| variant | changes | val. accuracy | val. at the last epoch | test accuracy | test macro-F1 | "
             "parameters | train s |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        test = "—" if r["test_accuracy"] is None else f"{r['test_accuracy']:.3f} ± {r['test_accuracy_std']:.3f}"
        lines.append(f"| {r['variant']} | {r['changes']} | {_fmt(r['val_accuracy'])} | "
                     f"{_fmt(r.get('val_accuracy_last'))} | {test} | "
                     f"{_fmt(r['test_macro_f1'])} | {_fmt(r['parameters'], ',')} | {r['train_s']:.0f} |")
    return lines


def _subset_rank(ds, name: str, cfg: TrainConfig, out: Path, n_train: int) -> dict:
    """Fit one variant on a stratified subset of ``n_train`` inner-training graphs of a hold-out dataset and
    score it on the whole fixed inner-validation split (no test data touched); cached in OUT/rank.json."""
    cached = out / "rank.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    from sklearn.model_selection import train_test_split

    data = prepare_data(ds, cfg)
    protocol, (fold,) = make_folds(ds, data, cfg)
    if not protocol.startswith("holdout"):
        raise SystemExit(f"--train-subset needs a hold-out dataset (FER-2013); {dataset_name(ds)} is k-fold")
    sub = fold.train if n_train >= len(fold.train) else train_test_split(
        fold.train, train_size=n_train, stratify=data.y[fold.train], random_state=cfg.seed)[0]
    job = FoldJob(cfg, data.classes, ds.topology, int(ds.meta["node_dims"]), data.inputs, data.y,
                  replace(fold, train=sub, test=fold.test[:0]))
    clf, seconds = job.run()
    info = clf.fit_info_
    tta = None
    if hasattr(clf, "mirror_tta"):  # the same fitted GNN, predicting each face and its mirror image
        clf.mirror_tta = True
        probs = clf.predict_proba(data.inputs.take(fold.validation))
        tta = float((probs.argmax(1) == data.y[fold.validation]).mean())
    result = {"val_accuracy_mean": info["val_accuracy"], "per_fold": [{"n_parameters": info.get("n_parameters")}],
              "wall_s": seconds, "folds": 1, "protocol": f"{protocol}, inner-train subset {len(sub)}, "
              f"validation {len(fold.validation)}", "best_epoch": info.get("best_epoch"), "epochs": info.get("epochs"),
              "val_accuracy_mirror_tta": tta,
              "train_loss_last": info["logs"][-1].train_loss if info.get("logs") else None}
    out.mkdir(parents=True, exist_ok=True)
    write_json(cached, result)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--variants", default="default", help=f"comma-separated, from {list(VARIANTS)}")
    p.add_argument("--baselines", default="", help="comma-separated registered baselines (e.g. logreg,blendshape-rf)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--finalists", type=int, default=1, help="reveal the test accuracy of the K best variants")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--rank", choices=("best", "last"), default="best",
                   help="rank on the validation accuracy of the epoch kept (best: early stopping chose it, "
                        "which flatters it) or of the last epoch (nothing chosen on it)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--train-subset", type=int, default=None,
                   help="hold-out datasets: rank on N inner-training graphs (stratified) and the whole "
                        "inner-validation split; no test accuracy")
    args = p.parse_args(argv)
    configure(threads=args.threads)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    ds = load_processed(args.data)
    runs: dict[str, tuple[str, dict]] = {}
    jobs = [(n, VARIANTS[n][0], TrainConfig(**{"epochs": args.epochs, "folds": args.folds, "seed": args.seed,
                                               **VARIANTS[n][1]})) for n in names]
    jobs += [(b, "baseline (grid search on inner validation)", TrainConfig(arch=b, folds=args.folds, seed=args.seed))
             for b in args.baselines.split(",") if b]
    for name, what, cfg in jobs:
        run = args.out / name
        if args.train_subset:
            runs[name] = (what, _subset_rank(ds, name, cfg, run, args.train_subset))
            print(f"{name}: val {runs[name][1]['val_accuracy_mean']:.3f}, {runs[name][1]['wall_s']:.0f} s", flush=True)
            continue
        if not is_complete_run(run):
            start = time.perf_counter()
            train(ds, cfg, run, workers=args.workers, force=True)
            print(f"{name}: trained in {time.perf_counter() - start:.0f} s", flush=True)
        runs[name] = (what, json.loads((run / "metrics.json").read_text()))
    key = "val_accuracy_last_mean" if args.rank == "last" else "val_accuracy_mean"
    ranked = sorted(names, key=lambda n: -(runs[n][1].get(key) or 0.0))
    finalists = set() if args.train_subset else set(ranked[: args.finalists]) | {b for b in runs if b not in names}
    rows = [_row(n, runs[n][0], runs[n][1], n in finalists) for n in ranked + [b for b in runs if b not in names]]
    write_table(args.out, "ablation", rows, _table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
