"""rich tables of the command line's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_build_summary", "print_bundled_models", "print_metrics", "print_predictions", "print_sweep",
           "print_video_summary"]


def print_build_summary(console: Console, s: dict[str, Any]) -> None:
    """Classes x splits of a ``build-graphs`` summary, then subjects, detection, skips and speed."""
    splits = list(s["per_class_split"])
    table = Table(title=f"{s['source']}: {s['graphs']} graphs, {s['nodes']} nodes, {s['edges']} edges "
                        f"({s['topology']})")
    table.add_column("class")
    for sp in splits:
        table.add_column(sp, justify="right")
    table.add_column("total", justify="right")
    for c in s["classes"]:
        table.add_row(c, *[str(s["per_class_split"][sp][c]) for sp in splits], str(s["per_class"][c]))
    table.add_row("[bold]total", *[f"[bold]{s['per_split'][sp]}" for sp in splits], f"[bold]{s['graphs']}")
    console.print(table)
    facts = [f"subjects: {s['subjects'] if s['subjects'] is not None else 'n/a'}"]
    if s["detection_rate"]:
        facts.append("detection: " + ", ".join(f"{k} {v:.2%}" for k, v in s["detection_rate"].items() if v is not None))
    facts.append("skipped: " + (", ".join(f"{k} {v}" for k, v in s["skipped"].items()) or "none"))
    facts.append(f"wall: {s['wall_s']:.1f} s" + (" (rebuilt)" if s["rebuilt"] else " (up to date, loaded)"))
    if s["images_per_s"]:
        facts.append(f"{s['images_per_s']:.1f} images/s")
    console.print("   ".join(facts))


def print_metrics(console: Console, m: dict[str, Any]) -> None:
    """Accuracy and macro-F1 (mean ± std over folds), per-class recall, FER detection figures."""
    table = Table(title=f"{m['arch']} on {m['dataset']} — {m['protocol']} ({m['folds']} fold(s)), features {m['features']}")
    for col in ("accuracy", "macro-F1", "n"):
        table.add_column(col, justify="right")
    table.add_row(f"{m['accuracy_mean']:.4f} ± {m['accuracy_std']:.4f}",
                  f"{m['macro_f1_mean']:.4f} ± {m['macro_f1_std']:.4f}", str(m["n_samples"]))
    console.print(table)
    recall = m["pooled"]["per_class_recall"]
    console.print("per-class recall: " + ", ".join(f"{c} {r:.2f}" for c, r in recall.items() if r is not None))
    if m.get("accuracy_all") is not None:
        console.print(f"detected faces: {m['accuracy_detected']:.4f}   all images (undetected = error): "
                      f"{m['accuracy_all']:.4f}   detection rate {m['detection_rate']:.4f}")


def print_predictions(console: Console, result: dict[str, Any]) -> None:
    """The first 50 predictions, the skipped inputs and the CSV written."""
    table = Table(title=f"{len(result['predictions'])} prediction(s)")
    table.add_column("input")
    table.add_column("face", justify="right")
    table.add_column("box (x, y, w, h)")
    table.add_column("prediction")
    table.add_column("probability", justify="right")
    table.add_column("eyes (left / right)")
    for row in result["predictions"][:50]:
        box = "" if row.get("box") is None else ", ".join(f"{v:.0f}" for v in row["box"])
        eyes = row.get("eyes")
        table.add_row(Path(row["input"]).name, str(row.get("face", 0)), box, row["label"],
                      f"{row['probabilities'][row['label']]:.3f}",
                      f"{eyes['left']['state']} / {eyes['right']['state']}" if eyes else "")
    console.print(table)
    for s in result["skipped"]:
        console.print(f"skipped {s['path']}: {s['reason']}")
    if result.get("csv"):
        console.print(f"predictions: {result['csv']}")
    elif len(result["predictions"]) > 50:
        console.print(f"{len(result['predictions'])} predictions; --out FILE.csv saves them all")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def print_sweep(console: Console, result, regions: list[str], topology: str, out: Path) -> None:
    """Clean accuracy, extent AUC and four headline regions per model; the painted-occluder table."""
    table = Table(title=f"occlusion sweep on {topology} ({result.conditions} conditions, {result.wall_s:.1f} s)")
    shown = [r for r in ("eyes", "mouth", "left_half", "lower_face") if r in regions]
    for col in ("model", "clean", "AUC extent", *shown):
        table.add_column(col, justify="right")
    for model, s in result.summary.items():
        table.add_row(model, _fmt(s["clean_accuracy"]), _fmt(s["auc_extent"]),
                      *[_fmt(s["region_accuracy"].get(r)) for r in shown])
    console.print(table)
    console.print("regions use each model's reference strategy (GNN: removal; flat-vector baselines: imputation); "
                  f"all rows in {out / 'sweep.csv'}")
    if not result.image_rows:
        return
    table = Table(title="painted occluder, faces re-detected (undetected = wrong) vs graph occlusion")
    for col in ("model", "region", "graph (ref.)", "image", "clean (same images)", "detected", "shift IOD",
                "region shift IOD"):
        table.add_column(col, justify="right")
    for r in result.image_rows:
        table.add_row(r["model"], r["region"], _fmt(result.summary[r["model"]]["region_accuracy"].get(r["region"])),
                      _fmt(r["accuracy"]), _fmt(r["clean_accuracy"]), f"{r['detected']}/{r['n']}",
                      _fmt(r["shift_iod"]), _fmt(r["region_shift_iod"]))
    console.print(table)
    stats = result.image_stats
    console.print(f"image occlusion: {stats['detections']} occluded images detected in "
                  f"{stats['detect_seconds']:.1f} s; gallery {stats['gallery']}")


def print_bundled_models(console: Console, records: list[dict[str, Any]]) -> None:
    """A field / value table per bundled model: classes, inputs, training data, test scores, licence, files."""
    for r in records:
        ev = r["evaluation"]
        table = Table(title=r["name"] + (" (default of fer-graph predict)" if r["default"] else ""),
                      show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for key, value in (
                ("model", r["description"]), ("classes", ", ".join(r["classes"])),
                ("inputs", f"{r['topology']} landmarks, {r['node_dims']}-D, features {r['features']}"),
                ("trained on", r["trained_on"]),
                ("test", f"{ev['dataset']}: accuracy {ev['accuracy_detected_faces']:.3f} on detected faces, "
                         f"{ev['accuracy_all_images']:.3f} on all images, macro-F1 {ev['macro_f1']:.3f}"),
                ("licence", r["licence"]), ("file", f"{r['path']} ({r['size_bytes'] / 1e6:.2f} MB)"),
                ("model card", f"{r['card']} (fer-graph models {r['name']})")):
            table.add_row(key, value)
        console.print(table)


def print_video_summary(console: Console, r: dict[str, Any]) -> None:
    """Frames read, frames with a face, faces classified (or windows of a sequence run), speed, files written."""
    if "windows" in r:
        console.print(f"{r['input']}: {r['frames']} frames, {r['windows']} windows classified in {r['seconds']:.1f} s",
                      highlight=False)
        console.print(f"predictions: {r['csv']}", highlight=False)
        return
    rate = f"{r['frames_per_s']:.1f} frames/s" if r.get("frames_per_s") else ""
    console.print(f"{r['input']}: {r['frames']} frames, {r['frames_with_face']} with a face, {r['faces']} faces "
                  f"classified in {r['seconds']:.1f} s ({rate})", highlight=False)
    console.print(f"predictions: {r['csv']}" + (f"   annotated video: {r['annotated']}" if r.get("annotated") else ""),
                  highlight=False)
