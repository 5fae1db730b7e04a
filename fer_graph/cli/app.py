"""Typer application; each command parses options and calls one library function."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..exceptions import FerGraphError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Facial expression recognition from face-landmark graphs.")
console = Console()


class Source(str, Enum):
    ck_lands = "ck-lands"
    mediapipe = "mediapipe"
    csv = "csv"


@app.callback()
def _root() -> None:
    """fer-graph: landmarks -> graphs -> GNNs."""


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=1)


@app.command("build-graphs")
def build_graphs_cmd(
    source: Annotated[Source, typer.Option("--source", "-s", help="landmark source")],
    root: Annotated[Optional[Path], typer.Option(
        "--root", help="dataset folder (or CSV file); relative names are also looked up under $FER_GRAPH_DATA")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder (default: data/processed/<name>)")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=0, help="extraction processes (default: all cores)")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="Face Landmarker .task file (default: $FER_GRAPH_FACE_LANDMARKER, cache, download)")] = None,
    align: Annotated[bool, typer.Option("--align/--no-align", help="rotate faces so the eye line is horizontal")] = True,
    include_z: Annotated[bool, typer.Option("--include-z", help="MediaPipe z as a third node coordinate")] = False,
    include_iris: Annotated[bool, typer.Option("--include-iris", help="keep the 10 iris points (478 nodes)")] = False,
    apex_frames: Annotated[int, typer.Option("--apex-frames", min=1, help="CK+ lands: last K frames of each sequence as samples")] = 1,
    force: Annotated[bool, typer.Option("--force", help="rebuild even if an up-to-date dataset exists")] = False,
) -> None:
    """Turn a landmark source into a PyG graph dataset; print and save a summary (OUT/summary.json)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..graphs.build import build_graphs

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("Face Landmarker", total=None, rate="")
        t0 = time.perf_counter()

        def on_progress(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - t0, 1e-9)
            progress.update(task, completed=done, total=total, rate=f"{rate:.0f} img/s")

        try:
            ds, summary = build_graphs(source.value, root, out, workers=workers, model=model, align=align,
                                       include_z=include_z, include_iris=include_iris, apex_frames=apex_frames,
                                       force=force, on_progress=on_progress)
        except (FerGraphError, ValueError, FileNotFoundError) as exc:
            progress.stop()
            _fail(exc)
    _print_summary(summary)
    out_dir = Path(summary["processed_dir"]).parent.parent
    console.print(f"summary: {out_dir / 'summary.json'}   skipped inputs: {out_dir / 'skipped.csv'}")


def _print_summary(s: dict) -> None:
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


class Balance(str, Enum):
    none = "none"
    weighted = "weighted"
    oversample = "oversample"


class LabelScheme(str, Enum):
    native = "native"
    basic6 = "basic6"
    valence3 = "valence3"


def _arch_help() -> str:
    from ..models import list_models

    return "model: " + ", ".join(list_models())


def _load_processed(path: Path):
    from ..graphs.load import load_processed

    return load_processed(path)


@app.command("train")
def train_cmd(
    data: Annotated[Path, typer.Option("--data", "-d", help="processed dataset: a build-graphs OUT folder or its processed/<...> folder")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run directory")],
    arch: Annotated[str, typer.Option("--arch", "-a", help=_arch_help())] = "gat",
    folds: Annotated[int, typer.Option("--folds", "-k", min=2, help="subject-independent folds (CK+ protocols)")] = 10,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 150,
    balance: Annotated[Balance, typer.Option("--balance")] = Balance.none,
    labels: Annotated[LabelScheme, typer.Option("--labels")] = LabelScheme.native,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="drop a class (repeatable)")] = None,
    features: Annotated[Optional[str], typer.Option("--features", help="e.g. apex, disp, apex+disp, apex+blendshapes")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    hidden: Annotated[int, typer.Option("--hidden", min=4)] = 64,
    layers: Annotated[int, typer.Option("--layers", min=1)] = 3,
    readout: Annotated[Optional[str], typer.Option("--readout", help="mean+max, attention, flatten, mean+max+flatten")] = None,
    augment: Annotated[bool, typer.Option("--augment/--no-augment")] = True,
    standardize: Annotated[str, typer.Option("--standardize", help="node: deviations from the training mean face, per landmark (default); channel: one mean/std per coordinate channel")] = "node",
    backend: Annotated[str, typer.Option("--backend", help="GNN layers: fast (dense fixed-topology, default) or pyg")] = "fast",
    refit: Annotated[bool, typer.Option("--refit", help="GNNs: retrain on all training subjects at the epoch early stopping chose")] = False,
    mask_augment: Annotated[float, typer.Option("--mask-augment", min=0.0, max=1.0, help="GNNs: probability of occluding a training graph (random region, BFS patch or node dropout; removal or masking); adds a visibility input")] = 0.0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="GNNs under k-fold: folds fitted at once in worker processes, each with an even share of the torch threads (same results; 2 nearly halves a CK+ lands study on 2 cores)")] = 1,
) -> None:
    """Train and evaluate a model under the dataset's protocol; writes RUN/metrics.json and friends."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..models import list_models
    from ..training import TrainConfig, train

    if arch not in list_models():
        _fail(ValueError(f"--arch {arch!r}; expected one of {list_models()}"))
    try:
        ds = _load_processed(data)
        cfg = TrainConfig(arch=arch, folds=folds, epochs=epochs, balance=balance.value, labels=labels.value,
                          exclude=tuple(exclude or ()), features=features, seed=seed, batch_size=batch_size,
                          hidden=hidden, layers=layers, augment=augment, backend=backend, standardize=standardize,
                          mask_augment=mask_augment, **({"readout": readout} if readout else {}))
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task(arch, total=None, info="")

            def on_fold(k: int, n: int) -> None:
                progress.update(task, description=f"{arch} fold {k + 1}/{n}", completed=0, total=epochs)

            def on_epoch(k: int, log) -> None:
                progress.update(task, completed=log.epoch,
                                info=f"epoch {log.epoch} loss {log.train_loss:.3f} val acc {log.val_accuracy:.3f}")

            metrics = train(ds, cfg, out, on_fold=on_fold, on_epoch=on_epoch, refit=refit, workers=workers)
    except (FerGraphError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    _print_metrics(metrics)
    console.print(f"run: {out}")


def _print_metrics(m: dict) -> None:
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


@app.command("evaluate")
def evaluate_cmd(
    run: Annotated[Path, typer.Argument(help="run directory of fer-graph train (gcn/gat)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="processed dataset of the same topology and features")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="folder for metrics.json, predictions.csv, confusion")] = None,
) -> None:
    """Apply a trained run to another processed dataset (cross-dataset), mapping labels by canonical name."""
    from ..evaluation.cross import evaluate_run

    try:
        metrics = evaluate_run(run, _load_processed(data), out or run / "evaluate")
    except (FerGraphError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    console.print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  n {metrics['n']}"
                  f"  (on classes the run knows)")
    if metrics["absent_from_training"]:
        console.print(f"classes absent from training, not scored: {metrics['absent_from_training']} "
                      f"({metrics['n_unscorable']} samples)")


@app.command("predict")
def predict_cmd(
    inputs: Annotated[Path, typer.Argument(exists=True, help="an image, a folder of images, or a landmark CSV")],
    run: Annotated[Path, typer.Option("--run", "-r", help="run directory of fer-graph train (gcn/gat)")],
    plot: Annotated[Optional[Path], typer.Option("--plot", help="PNG drawing the mesh and prediction (first image)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    model: Annotated[Optional[Path], typer.Option("--model", help="Face Landmarker .task file")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="CSV of predictions (folders, CSVs)")] = None,
) -> None:
    """Image(s) -> Face Landmarker -> graph -> class probabilities."""
    import json

    from ..evaluation.predict_io import predict_path

    from rich.progress import Progress

    try:
        with Progress(console=console, transient=True, disable=inputs.is_file()) as progress:
            task = progress.add_task("predict", total=None)
            result = predict_path(inputs, run, model=model, plot=plot, out=out,
                                  on_progress=lambda done, total: progress.update(task, completed=done, total=total))
    except (FerGraphError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"{len(result['predictions'])} prediction(s)")
    table.add_column("input")
    table.add_column("prediction")
    table.add_column("probability", justify="right")
    for row in result["predictions"][:50]:
        table.add_row(Path(row["input"]).name, row["label"], f"{row['probabilities'][row['label']]:.3f}")
    console.print(table)
    for s in result["skipped"]:
        console.print(f"skipped {s['path']}: {s['reason']}")
    if result.get("csv"):
        console.print(f"predictions: {result['csv']}")


@app.command("occlusion-sweep")
def occlusion_sweep_cmd(
    run: Annotated[list[Path], typer.Option("--run", "-r", help="run directory of fer-graph train (repeat --run to compare models on the same occlusions)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="the processed dataset the runs were trained on")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for sweep.csv, summary.json and plots")],
    regions: Annotated[Optional[str], typer.Option("--regions", help="comma-separated region presets (default: all), or 'none'")] = None,
    strategy: Annotated[Optional[str], typer.Option("--strategy", help="comma-separated: removal, masking, imputation (default: all three)")] = None,
    extents: Annotated[str, typer.Option("--extents", help="comma-separated fractions of nodes for BFS patches and random dropout; '' for none")] = "0.1,0.2,0.3,0.4,0.5,0.6",
    noise: Annotated[str, typer.Option("--noise", help="comma-separated landmark noise sigmas (IOD units); '' for none")] = "0.02,0.05,0.1,0.2",
    noise_region: Annotated[str, typer.Option("--noise-region", help="restrict noise to a region preset")] = "all",
    random_dropout: Annotated[bool, typer.Option("--random-dropout/--no-random-dropout", help="also independent random node dropout at each extent")] = True,
    name: Annotated[Optional[list[str]], typer.Option("--name", help="model names in the table, one per --run (default: run folder names)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seeds patches, dropout and noise (the same for every model)")] = 0,
    sensitivity: Annotated[bool, typer.Option("--sensitivity", help="also map landmark importance: accuracy drop per small removed patch (OUT/sensitivity_<model>.png)")] = False,
    image_occlusion: Annotated[bool, typer.Option("--image-occlusion", help="image datasets: also paint each region's occluder on the held-out images, re-run the Face Landmarker and classify (strategy 'image'; OUT/occluders.png)")] = False,
    image_limit: Annotated[Optional[int], typer.Option("--image-limit", min=1, help="--image-occlusion: at most N held-out images per fold (seeded choice)")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="--image-occlusion: Face Landmarker .task file, the one the dataset was built with (default: $FER_GRAPH_FACE_LANDMARKER)")] = None,
) -> None:
    """Evaluate trained runs under region occlusion, occlusion extent and landmark noise (CK+ protocols: each
    fold's held-out subjects with that fold's model); writes OUT/sweep.csv, OUT/summary.json and plots."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..evaluation.occlusion import RunEvaluator, make_conditions, occlusion_sweep
    from ..evaluation.occlusion_report import write_sweep_report
    from ..occlusion.regions import REGION_NAMES
    from ..occlusion.strategies import STRATEGIES

    def floats(text: str, what: str) -> list[float]:
        try:
            return [float(t) for t in text.split(",") if t.strip()]
        except ValueError:
            _fail(ValueError(f"{what}={text!r}: expected comma-separated numbers"))

    names = list(name or [])
    if names and len(names) != len(run):
        _fail(ValueError(f"--name given {len(names)} time(s) for {len(run)} --run(s)"))
    region_list = (list(REGION_NAMES) if regions is None else
                   [] if regions.strip().lower() == "none" else [r.strip() for r in regions.split(",") if r.strip()])
    strategies = list(STRATEGIES) if strategy is None else [s.strip() for s in strategy.split(",") if s.strip()]
    start = time.perf_counter()
    try:
        ds = _load_processed(data)
        if image_occlusion and ds.meta.get("source") != "mediapipe":
            raise ValueError(f"--image-occlusion needs a dataset built from images by the Face Landmarker (source "
                             f"'mediapipe'); {data} has source {ds.meta.get('source')!r}")
        if image_occlusion and not region_list:
            raise ValueError("--image-occlusion needs at least one region (--regions)")
        evaluators = [RunEvaluator(r, ds, name=names[i] if names else None) for i, r in enumerate(run)]
        conditions = make_conditions(ds.topology, regions=region_list, strategies=strategies,
                                     extents=floats(extents, "--extents"), noise=floats(noise, "--noise"),
                                     noise_region=noise_region, random_dropout=random_dropout)
        with Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("sweep", total=None)
            rows = occlusion_sweep(evaluators, conditions, seed=seed,
                                   on_progress=lambda i, n: progress.update(task, completed=i, total=n))
        image_rows = (_image_occlusion(evaluators, ds, region_list, model, image_limit, seed, out)
                      if image_occlusion else [])
        rows = rows + image_rows
        summary = write_sweep_report(rows, out, extra={
            "runs": [str(r) for r in run], "data": str(data), "seed": seed, "conditions": len(conditions),
            "wall_s": round(time.perf_counter() - start, 2)})
        if sensitivity:
            from ..evaluation.sensitivity import write_sensitivity_report

            write_sensitivity_report(evaluators, out, seed=seed)
    except (FerGraphError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    table = Table(title=f"occlusion sweep on {ds.topology.name} ({len(conditions)} conditions, "
                        f"{time.perf_counter() - start:.1f} s)")
    shown = [r for r in ("eyes", "mouth", "left_half", "lower_face") if r in region_list]
    for col in ("model", "clean", "AUC extent", *shown):
        table.add_column(col, justify="right")
    for model, s in summary.items():
        auc = s["auc_extent"]
        table.add_row(model, f"{s['clean_accuracy']:.3f}", "-" if auc is None else f"{auc:.3f}",
                      *["-" if s["region_accuracy"].get(r) is None else f"{s['region_accuracy'][r]:.3f}" for r in shown])
    console.print(table)
    console.print(f"regions use each model's reference strategy (GNN: removal; flat-vector baselines: imputation); "
                  f"all rows in {out / 'sweep.csv'}")
    if image_rows:
        table = Table(title="painted occluder, faces re-detected (undetected = wrong) vs graph occlusion")
        for col in ("model", "region", "graph (ref.)", "image", "clean (same images)", "detected", "shift IOD",
                    "region shift IOD"):
            table.add_column(col, justify="right")
        for r in image_rows:
            graph = summary[r["model"]]["region_accuracy"].get(r["region"])
            table.add_row(r["model"], r["region"], "-" if graph is None else f"{graph:.3f}", f"{r['accuracy']:.3f}",
                          f"{r['clean_accuracy']:.3f}", f"{r['detected']}/{r['n']}", f"{r['shift_iod']:.3f}",
                          f"{r['region_shift_iod']:.3f}")
        console.print(table)


def _image_occlusion(evaluators, ds, regions, model, limit, seed, out: Path) -> list[dict]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..evaluation.image_occlusion import OccludedDetections, image_occlusion_rows, select_samples
    from ..occlusion.image import save_occluder_gallery

    rows = []
    with OccludedDetections(ds, model_path=model) as det, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True) as progress:
        first = int(evaluators[0].sample_index[select_samples(evaluators[0], limit, seed)[0][1][0]])
        save_occluder_gallery(det.image(first), det.clean_landmarks(first), regions, out / "occluders.png",
                              topology=ds.topology, margin=det.margin)
        for ev in evaluators:
            task = progress.add_task(f"image occlusion {ev.name}", total=None)
            rows += image_occlusion_rows(ev, ds, regions, limit=limit, seed=seed, detections=det,
                                         on_progress=lambda i, n, t=task: progress.update(t, completed=i, total=n))
    console.print(f"image occlusion: {det.detections} occluded images detected in {det.detect_seconds:.1f} s; "
                  f"gallery {out / 'occluders.png'}")
    return rows
