"""The sequence model on CK+ lands: ST-GCN variants ranked on inner validation, the chosen one and the
PST-BLN protocol row scored on the test folds, next to the frame-pair GAT on the same 10 subject folds.

Usage:
    python experiments/stgcn_study.py --out reports/stgcn [--variants t8,t8_flatten,t16] [--workers 2]

Each variant is ``fer-graph train --arch stgcn`` on a sequence dataset built by ``fer-graph build-graphs
--source ck-lands --sequences --frames T [--frame-sampling ends]`` (built into data/processed/ck_lands_seq<T>
when missing), trained into OUT/<variant>/ (complete runs are reused: the study resumes). Variants are
ranked on ``val_accuracy_mean`` (the inner-validation subjects of each fold), never on a test fold; test
accuracy is shown for the best-ranked variant, for the ``ends6`` protocol row (first and last 3 frames, as
OpenDR's PST-BLN is evaluated: a protocol, not a candidate) and for the frame-pair GAT (``gat_frames``,
the CK+ lands default, on the apex + onset dataset). Writes OUT/stgcn.md and OUT/stgcn.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _report import write_table

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

from fer_graph.graphs.build import build_graphs  # noqa: E402
from fer_graph.graphs.load import load_processed  # noqa: E402
from fer_graph.training import TrainConfig, train  # noqa: E402
from fer_graph.training.rundir import is_complete_run  # noqa: E402

#: variant -> (what it is, frames, frame sampling, TrainConfig overrides); frames 0 = the frame-pair dataset
VARIANTS: dict[str, tuple[str, int, str, dict]] = {
    "t8": ("8 frames (uniform), 3 blocks of width 32, temporal kernel 3, temporal augmentation, mean over frames "
           "then the flatten readout", 8, "uniform", {"readout": "flatten", "extra": {"temporal_pool": "mean"}}),
    "t8_mean": ("8 frames, mean over frames and landmarks (ST-GCN's global average pooling)", 8, "uniform",
                {"readout": "mean", "extra": {"temporal_pool": "mean"}}),
    "t8_h16": ("8 frames, width 16", 8, "uniform", {"hidden": 16, "readout": "flatten", "extra": {"temporal_pool": "mean"}}),
    "t8_last": ("8 frames, the last (apex) frame's features into the flatten readout instead of the mean over "
                "frames", 8, "uniform", {"readout": "flatten", "extra": {"temporal_pool": "last"}}),
    "t8_notemporal": ("8 frames, no temporal augmentation", 8, "uniform",
                      {"readout": "flatten", "extra": {"temporal_pool": "mean", "temporal_augment": False}}),
    "t16": ("16 frames (uniform), temporal kernel 5", 16, "uniform",
            {"readout": "flatten", "extra": {"temporal_pool": "mean", "temporal_kernel": 5}}),
    "t8_last_notemporal": ("t8_last without temporal augmentation", 8, "uniform",
                           {"readout": "flatten", "extra": {"temporal_pool": "last", "temporal_augment": False}}),
    "t16_last": ("t8_last on 16 frames, temporal kernel 5", 16, "uniform",
                 {"readout": "flatten", "extra": {"temporal_pool": "last", "temporal_kernel": 5}}),
    "ends6": ("first and last 3 frames as recorded (PST-BLN protocol), the t8_last recipe", 6, "ends",
              {"readout": "flatten", "extra": {"temporal_pool": "last"}}),
}
PROTOCOL_ROWS = ("ends6",)


def dataset(frames: int, sampling: str):
    name = "ck_lands" if not frames else f"ck_lands_seq{frames}" + ("_ends" if sampling == "ends" else "")
    out = Path("data/processed") / name
    if not (out / "summary.json").is_file():
        build_graphs("ck-lands", None, out, sequences=frames, frame_sampling=sampling)
    return load_processed(out), out


def run(name: str, out: Path, workers: int) -> dict:
    if name == "gat_frames":
        what, frames, sampling, over, arch = "frame-pair GAT (apex + onset; the CK+ lands default)", 0, "", {}, "gat"
    else:
        (what, frames, sampling, over), arch = VARIANTS[name], "stgcn"
    ds, data = dataset(frames, sampling)
    target = out / name
    if not is_complete_run(target):
        cfg = TrainConfig.for_topology(ds.meta["topology"], len(ds), arch=arch, **over)
        train(ds, cfg, target, workers=workers, force=True)
    m = json.loads((target / "metrics.json").read_text())
    n_params = (m.get("per_fold") or [{}])[0].get("n_parameters")
    return {"variant": name, "what": what, "data": str(data), "val_accuracy": m["val_accuracy_mean"],
            "accuracy_mean": m["accuracy_mean"], "accuracy_std": m["accuracy_std"], "macro_f1_mean": m["macro_f1_mean"],
            "macro_f1_std": m["macro_f1_std"], "wall_s": m["wall_s"], "parameters": n_params}


def table(rows: list[dict], best: str) -> list[str]:
    shown = {best, *PROTOCOL_ROWS, "gat_frames"}
    lines = ["| variant | what | inner-val accuracy | test accuracy | test macro-F1 | parameters | 10-fold wall (s) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        test = (f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}", f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f}") \
            if r["variant"] in shown else ("—", "—")
        mark = " **(chosen)**" if r["variant"] == best else ""
        lines.append(f"| {r['variant']}{mark} | {r['what']} | {r['val_accuracy']:.3f} | {test[0]} | {test[1]} "
                     f"| {r['parameters'] or 0:,} | {r['wall_s']:.0f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {list(VARIANTS)}")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    names = [v for v in args.variants.split(",") if v] + ["gat_frames"]
    rows = [run(n, args.out, args.workers) for n in names]
    candidates = [r for r in rows if r["variant"] in VARIANTS and r["variant"] not in PROTOCOL_ROWS]
    best = max(candidates, key=lambda r: r["val_accuracy"])["variant"]
    for r in rows:
        if r["variant"] not in {best, *PROTOCOL_ROWS, "gat_frames"}:  # test scores of the others stay unread
            r.update(dict.fromkeys(("accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std")))
    write_table(args.out, "stgcn", rows, table(rows, best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
