"""Typer application; each command parses options and calls one library function.

Imports of the library's heavy parts (torch, PyG, MediaPipe, Numba, scikit-learn) happen inside the
commands, so ``fer-graph --help`` starts at once.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..config import (DEFAULT_EXTENTS, DEFAULT_NOISE, STUDY_MASK_AUGMENT, STUDY_MODEL_NAMES, Backend, Balance,
                      Hierarchy, LabelScheme, Standardize, TrainConfig)
from ..exceptions import FerGraphError
from ..models.pretrained import BUNDLED_MODELS
from ..models.registry import list_models
from ._progress import rate_progress, task_progress, train_progress
from ._tables import (print_build_summary, print_bundled_models, print_metrics, print_predictions, print_sweep,
                      print_video_summary)

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Facial expression recognition from face-landmark graphs.")
console = Console()
_D = TrainConfig  # defaults of the training options
_ERRORS = (FerGraphError, ValueError, OSError)


class Source(str, Enum):
    ck_lands = "ck-lands"
    mediapipe = "mediapipe"
    csv = "csv"


#: options of the current invocation, set by the root callback every time the command line runs
_INVOCATION = {"debug": False}


@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show MediaPipe's C++ log lines")] = False,
          debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False) -> None:
    """fer-graph: landmarks -> graphs -> GNNs."""
    from ..runtime import configure

    configure(verbose=verbose)
    _INVOCATION["debug"] = debug


def _fail(exc: Exception) -> None:
    """One line naming the cause (and the file), exit code 1; the traceback only with ``--debug``."""
    if _INVOCATION["debug"]:
        raise exc
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=1)


def _csv_floats(text: str, what: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{what}={text!r}: expected comma-separated numbers") from None


def _csv_names(text: str | None, default: list[str]) -> list[str]:
    if text is None:
        return list(default)
    return [] if text.strip().lower() == "none" else [t.strip() for t in text.split(",") if t.strip()]


def _build_align(source: str, pose_align: bool | None, align: bool, include_z: bool | None, ibug68: bool = False
                 ) -> bool | str:
    """``align`` of :func:`~fer_graph.graphs.build.build_graphs` for the flags: ``--pose-align`` /
    ``--no-pose-align`` when given, ``--no-align`` (raw coordinates), else the source's default
    (:func:`~fer_graph.graphs.build.resolve_alignment`)."""
    from ..graphs.build import resolve_alignment

    if pose_align is not None or not align:
        return "pose" if pose_align else align
    return resolve_alignment(source, None, include_z, ibug68=ibug68)[0]


@app.command("build-graphs")
def build_graphs_cmd(
    source: Annotated[Source, typer.Option("--source", "-s", help="landmark source")],
    root: Annotated[Optional[Path], typer.Option(
        "--root", help="dataset folder (or CSV file); relative names are also looked up under $FER_GRAPH_DATA")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder (default: data/processed/<name>)")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=0, help="extraction processes (default: all cores)")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="Face Landmarker .task file (default: $FER_GRAPH_FACE_LANDMARKER, cache, download)")] = None,
    align: Annotated[bool, typer.Option("--align/--no-align", help="rotate faces so the eye line is horizontal (2-D graphs)")] = True,
    pose_align: Annotated[Optional[bool], typer.Option("--pose-align/--no-pose-align", help="rotate faces in 3-D onto the canonical face (head pose removed; Face Mesh only; implies --include-z) [default: on for --source mediapipe]")] = None,
    include_z: Annotated[Optional[bool], typer.Option("--include-z/--no-include-z", help="MediaPipe z as a third node coordinate [default: with --pose-align]")] = None,
    include_iris: Annotated[bool, typer.Option("--include-iris", help="keep the 10 iris points (478 nodes)")] = False,
    ibug68: Annotated[bool, typer.Option("--ibug68", help="--source mediapipe: map each mesh to the 68 iBUG points (68-node graphs, 2-D eye-aligned unless --include-z)")] = False,
    apex_frames: Annotated[int, typer.Option("--apex-frames", min=1, help="CK+ lands: last K frames of each sequence as samples")] = 1,
    sequences: Annotated[bool, typer.Option("--sequences", help="a sequence dataset, every graph with its frames from onset to apex (for --arch stgcn): CK+ lands, or --source mediapipe over ROOT/<label>/*.mp4 video clips (one sequence per clip)")] = False,
    frames: Annotated[int, typer.Option("--frames", min=2, help="with --sequences: frames per sequence")] = 16,
    frame_sampling: Annotated[str, typer.Option("--frame-sampling", help="with --sequences: 'uniform' (resampled over the sequence) or 'ends' (the first and last frames/2 as recorded)")] = "uniform",
    label: Annotated[Optional[str], typer.Option("--label", help="--source csv: the label of every row of a file without a label column (one OpenFace video)")] = None,
    subject: Annotated[Optional[str], typer.Option("--subject", help="--source csv: the subject of every row of a file without a subject column")] = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild even if an up-to-date dataset exists")] = False,
) -> None:
    """Turn a landmark source into a PyG graph dataset; print and save a summary (OUT/summary.json)."""
    from ..graphs.build import build_graphs

    try:
        unit = "clips" if sequences and source is Source.mediapipe else "img"
        with rate_progress(console, "Face Landmarker", unit) as on_progress:
            _, summary = build_graphs(source.value, root, out, workers=workers, model=model,
                                      align=_build_align(source.value, pose_align, align, include_z, ibug68),
                                      include_z=include_z, include_iris=include_iris, ibug68=ibug68,
                                      apex_frames=apex_frames,
                                      sequences=frames if sequences else 0, frame_sampling=frame_sampling,
                                      label=label, subject=subject, force=force, on_progress=on_progress)
    except _ERRORS as exc:
        _fail(exc)
    print_build_summary(console, summary)
    out_dir = Path(summary["processed_dir"]).parent.parent
    console.print(f"summary: {out_dir / 'summary.json'}   skipped inputs: {out_dir / 'skipped.csv'}")


_RECIPE = "default: the dataset topology's GNN recipe (fer_graph.config.GNN_RECIPES)"


@app.command("train")
def train_cmd(
    data: Annotated[Path, typer.Option("--data", "-d", help="processed dataset: a build-graphs OUT folder or its processed/<...> folder")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run directory")],
    arch: Annotated[str, typer.Option("--arch", "-a", help="model: " + ", ".join(list_models()))] = _D.arch,
    folds: Annotated[int, typer.Option("--folds", "-k", min=2, help="subject-independent folds (CK+ protocols)")] = _D.folds,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help=_RECIPE)] = None,
    balance: Annotated[Balance, typer.Option("--balance")] = Balance(_D.balance),
    labels: Annotated[LabelScheme, typer.Option("--labels")] = LabelScheme(_D.labels),
    hierarchy: Annotated[Hierarchy, typer.Option("--hierarchy", help="valence: a valence (positive / negative / neutral) classifier, then one per valence group; P(class) = P(group) P(class | group)")] = Hierarchy(_D.hierarchy),
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="drop a class (repeatable)")] = None,
    features: Annotated[Optional[str], typer.Option("--features", help="e.g. apex, disp, apex+disp, apex+blendshapes")] = None,
    seed: Annotated[int, typer.Option("--seed")] = _D.seed,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help=_RECIPE)] = None,
    hidden: Annotated[Optional[int], typer.Option("--hidden", min=4, help=_RECIPE)] = None,
    layers: Annotated[Optional[int], typer.Option("--layers", min=1, help=_RECIPE)] = None,
    readout: Annotated[Optional[str], typer.Option("--readout", help="flatten, mean+max, attention, mean+max+flatten; " + _RECIPE)] = None,
    augment: Annotated[bool, typer.Option("--augment/--no-augment")] = _D.augment,
    standardize: Annotated[Standardize, typer.Option("--standardize", help="node: deviations from the training mean face, per landmark; channel: one mean/std per coordinate channel")] = Standardize(_D.standardize),
    backend: Annotated[Backend, typer.Option("--backend", help="GNN layers: fast (dense fixed-topology) or pyg")] = Backend(_D.backend),
    refit: Annotated[Optional[bool], typer.Option("--refit/--no-refit", help="GNNs: the final model of each fold trains on all its training subjects (inner validation included), for the epoch count early stopping chose or the whole schedule; " + _RECIPE)] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing run directory whole (kept until the new run is complete)")] = False,
    mask_augment: Annotated[Optional[float], typer.Option("--mask-augment", min=0.0, max=1.0, help="GNNs: probability of occluding a training graph (random region, BFS patch or node dropout; removal or masking); adds a visibility input; " + _RECIPE)] = None,
    occluded_attrs: Annotated[Optional[float], typer.Option("--occluded-attrs", min=0.0, max=1.0, help="GNNs: graphs with at least this share of landmarks occluded (mask augmentation; removed or masked at prediction) use the training mean instead of their blendshapes; 0: off; " + _RECIPE)] = None,
    occluded_attrs_scope: Annotated[Optional[str], typer.Option("--occluded-attrs-scope", help="face: the share of all landmarks occluded decides for every blendshape; region: each blendshape by its own region (a masked mouth keeps the eye blendshapes); " + _RECIPE)] = None,
    init_from: Annotated[Optional[str], typer.Option("--init-from", help="GNNs: fine-tune from a checkpoint (.pt path, or a bundled model: " + ", ".join(BUNDLED_MODELS) + "); none: random initialisation; " + _RECIPE)] = None,
    members: Annotated[Optional[int], typer.Option("--members", min=1, help="GNNs: a seed ensemble of N models (seeds seed..seed+N-1) whose probabilities are averaged; " + _RECIPE)] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, help="folds (and ensemble members) fitted at once in worker processes, each with an even share of the torch threads (same results up to float rounding) [default: one per CPU core]")] = None,
) -> None:
    """Train and evaluate a model under the dataset's protocol; writes RUN/metrics.json and friends."""
    from ..graphs.load import load_processed
    from ..training import train

    if arch not in list_models():
        _fail(ValueError(f"--arch {arch!r}; expected one of {list_models()}"))
    try:
        ds = load_processed(data)
        cfg = TrainConfig.for_topology(ds.meta["topology"], len(ds), arch=arch, folds=folds, epochs=epochs, balance=balance,
                                       labels=labels, exclude=tuple(exclude or ()), features=features, seed=seed,
                                       batch_size=batch_size, hidden=hidden, layers=layers, augment=augment,
                                       backend=backend, standardize=standardize, mask_augment=mask_augment,
                                       readout=readout, init_from=init_from, members=members,
                                       occluded_attrs=occluded_attrs, occluded_attrs_scope=occluded_attrs_scope,
                                       hierarchy=hierarchy.value, refit=refit)
        with train_progress(console, arch, cfg.epochs) as (on_fold, on_epoch):
            metrics = train(ds, cfg, out, on_fold=on_fold, on_epoch=on_epoch, workers=workers,
                            force=force)
    except _ERRORS as exc:
        _fail(exc)
    print_metrics(console, metrics)
    console.print(f"run: {out}")


@app.command("evaluate")
def evaluate_cmd(
    run: Annotated[Path, typer.Argument(help="run directory of fer-graph train (any model)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="processed dataset of the same topology and features")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="folder for metrics.json, predictions.csv, confusion (default: RUN/evaluate)")] = None,
) -> None:
    """Apply a trained run to a processed dataset (e.g. cross-dataset), mapping labels by canonical name."""
    from ..evaluation.cross import evaluate_run
    from ..graphs.load import load_processed

    try:
        metrics = evaluate_run(run, load_processed(data), out or run / "evaluate")
    except _ERRORS as exc:
        _fail(exc)
    console.print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  n {metrics['n']}"
                  f"  (on classes the run knows)")
    if metrics["absent_from_training"]:
        console.print(f"classes absent from training, not scored: {metrics['absent_from_training']} "
                      f"({metrics['n_unscorable']} samples)")


@app.command("predict")
def predict_cmd(
    inputs: Annotated[Optional[Path], typer.Argument(exists=True, help="an image, a folder of images, a video, a landmark CSV (labels optional) or a 300-W .pts file")] = None,
    run: Annotated[Optional[str], typer.Option("--run", "-r", help="run directory of fer-graph train (any model), a model file, or a bundled model name (default: the bundled FER-2013 model; see fer-graph models)")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="PNG drawing every face's mesh and prediction (first image with a face)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    model: Annotated[Optional[Path], typer.Option("--model", help="Face Landmarker .task file")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="CSV, a row per face and per skipped input (without it, the table shows the first 50)")] = None,
    max_faces: Annotated[int, typer.Option("--max-faces", min=1, help="faces per image at most")] = 10,
    tiles: Annotated[bool, typer.Option("--tiles", help="also search photos tile by tile for small faces (group photos; about 10x slower)")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace existing --out / --plot / --annotate files")] = False,
    camera: Annotated[Optional[int], typer.Option("--camera", min=0, help="read this camera (0: the first) instead of a file; stop with Ctrl-C or --max-frames")] = None,
    annotate: Annotated[Optional[Path], typer.Option("--annotate", help="video / camera: also write this MP4 with boxes and labels")] = None,
    smooth: Annotated[float, typer.Option("--smooth", min=0.0, help="video / camera: smooth probabilities over this many seconds (0: none)")] = 0.0,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=1, help="video / camera: stop after N frames")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="images: detect faces in N worker processes")] = 1,
    visibility_model: Annotated[Optional[Path], typer.Option("--visibility-model", help="images and videos: a train-visibility output; landmarks it estimates hidden are removed before a graph model classifies the face")] = None,
    eye_model: Annotated[Optional[Path], typer.Option("--eye-model", help="eye_state.json of train-eye-state for the eye-state columns (default: the packaged model)")] = None,
    window: Annotated[int, typer.Option("--window", min=2, help="video with a sequence run (--arch stgcn): frames of a face per classified window, its first taken as the neutral onset")] = 16,
    stride: Annotated[int, typer.Option("--stride", min=1, help="video with a sequence run: frames between windows")] = 4,
) -> None:
    """Image(s), video or camera -> Face Landmarker -> graph -> class probabilities, a row per face (or
    landmark CSV rows -> probabilities). Without --run: the bundled FER-2013 model."""
    from ..evaluation.predict_io import predict_path

    if (inputs is None) == (camera is None):
        _fail(ValueError("give an input file or folder, or --camera N (not both)"))
    source = camera if camera is not None else inputs
    try:
        with task_progress(console, disable=camera is None and inputs.is_file() and not _is_video(inputs)) as update:
            result = predict_path(source, run, model=model, plot=plot, out=out, max_faces=max_faces, tiles=tiles,
                                  force=force, annotate=annotate, smooth=smooth, max_frames=max_frames,
                                  workers=workers, visibility_model=visibility_model, eye_model=eye_model,
                                  window=window, stride=stride,
                                  on_progress=lambda done, total: update("predict", done, total))
    except _ERRORS as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(result, indent=2))
    elif "frames" in result:
        print_video_summary(console, result)
    else:
        print_predictions(console, result)
    if "windows" in result:
        if not result["windows"]:
            _fail(ValueError(f"{result['input']}: no face tracked for {window} frames in {result['frames']} frame(s)"))
    elif "frames" in result:
        if not result["faces"]:
            _fail(ValueError(f"{result['input']}: no face in {result['frames']} frame(s)"))
    elif not result["predictions"]:
        reasons = ", ".join(sorted({s["reason"] for s in result["skipped"]})) or "no inputs found"
        _fail(ValueError(f"{inputs}: nothing was predicted ({reasons})"))


def _is_video(path: Path) -> bool:
    from ..landmarks.video import VIDEO_EXTENSIONS

    return path.suffix.lower() in VIDEO_EXTENSIONS


@app.command("models")
def models_cmd(
    name: Annotated[Optional[str], typer.Argument(help="print this bundled model's card")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """The models that ship with the package (predict uses the default one when no --run is given)."""
    from ..models.pretrained import bundled_models

    try:
        records = bundled_models()
        if name is not None and name not in {r["name"] for r in records}:
            raise ValueError(f"{name!r}: no such bundled model; bundled: {[r['name'] for r in records]}")
    except _ERRORS as exc:
        _fail(exc)
    if name is not None:
        card = next(r for r in records if r["name"] == name)["card"]
        print(json.dumps(next(r for r in records if r["name"] == name), indent=2) if as_json else Path(card).read_text())
    elif as_json:
        print(json.dumps(records, indent=2))
    else:
        print_bundled_models(console, records)


@app.command("export")
def export_cmd(
    source: Annotated[str, typer.Argument(help="a GNN checkpoint (.pt), a run directory of fer-graph train, or a bundled model name")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the .onnx file to write")],
    fold: Annotated[Optional[int], typer.Option("--fold", help="the fold model of a run with several")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> None:
    """Export a graph model to ONNX: predict --run FILE.onnx then runs in ONNX Runtime, without PyTorch."""
    from ..models.onnx_export import export_onnx

    target = out.with_suffix(".onnx")
    if target.exists() and not force:
        _fail(FileExistsError(f"{target} exists; pass --force to replace it"))
    try:
        path = export_onnx(source, target, fold=fold)
    except (*_ERRORS, ImportError) as exc:
        _fail(exc)
    console.print(f"exported: {path} ({path.stat().st_size / 1e6:.1f} MB; probabilities checked against PyTorch)")


@app.command("train-visibility")
def train_visibility_cmd(
    data: Annotated[Path, typer.Option("--data", "-d", help="processed dataset built from images with the Face Landmarker")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for visibility.pt, metrics.json and the sample cache")],
    holdout_families: Annotated[str, typer.Option("--holdout-families", help="comma-separated occluder families left out of training and scored on held-out faces ('none': train on all)")] = "texture",
    samples: Annotated[int, typer.Option("--samples", min=10, help="faces used (the dataset's train split, seeded choice)")] = 8000,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="training epochs (default: the estimator's, 24)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seeds the choice of faces, occluders and the model")] = 0,
    model: Annotated[Optional[Path], typer.Option("--model", help="Face Landmarker .task file the dataset was built with (default: $FER_GRAPH_FACE_LANDMARKER)")] = None,
) -> None:
    """Train a per-landmark visibility estimator on occluders painted over the dataset's faces (re-detected by
    the Face Landmarker), and score it on held-out faces and held-out occluder families."""
    from ..models.visibility import VisibilityConfig
    from ..training.visibility import train_visibility

    config = VisibilityConfig(seed=seed) if epochs is None else VisibilityConfig(epochs=epochs, seed=seed)
    try:
        with task_progress(console) as update:
            metrics = train_visibility(data, out, holdout_families=_csv_names(holdout_families, []), samples=samples,
                                       seed=seed, config=config, model_path=model,
                                       on_progress=update)
    except _ERRORS as exc:
        _fail(exc)
    for part in ("seen_families", "heldout_families", "clean"):
        if part in metrics:
            s = metrics[part]["all"]
            console.print(f"{part}: ROC-AUC {s['auc']:.3f}  F1 {s.get('f1', float('nan')):.3f}  "
                          f"flagged {s['flagged_rate']:.3f}  (n landmarks {s['n']})", highlight=False)
    console.print(f"model: {out / 'visibility.pt'}   metrics: {out / 'metrics.json'}", highlight=False)


@app.command("train-eye-state")
def train_eye_state_cmd(
    root: Annotated[Path, typer.Option("--root", help="image folders eye_closed/ eye_narrowed/ eye_open/ eye_wide/ (the eye_ prefix is optional)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for eye_state.json, metrics.json and the landmark cache")],
    features: Annotated[str, typer.Option("--features", help="comma-separated per-eye features: ear, iris_ratio, blink, squint, wide")] = "ear,iris_ratio,blink,squint,wide",
    folds: Annotated[int, typer.Option("--folds", min=2, help="cross-validation folds for the agreement estimate (grouped by image)")] = 5,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="face detection worker processes")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="seeds the cross-validation folds")] = 0,
    model: Annotated[Optional[Path], typer.Option("--model", help="Face Landmarker .task file (default: $FER_GRAPH_FACE_LANDMARKER)")] = None,
) -> None:
    """Fit the ordinal eye-state model (closed < narrowed < open < wide) on labelled face images; use it
    with predict --eye-model OUT/eye_state.json."""
    from ..training.eye_state import train_eye_state

    try:
        with task_progress(console) as update:
            metrics = train_eye_state(root, out, model_path=model, workers=workers, folds=folds, seed=seed,
                                      features=_csv_names(features, []),
                                      on_progress=lambda done, total: update("detect", done, total))
    except _ERRORS as exc:
        _fail(exc)
    cv = metrics["cross_validation"]
    console.print(f"{metrics['faces']} faces ({metrics['skipped']} skipped); eyes per state: {metrics['eyes_per_state']}",
                  highlight=False)
    if "accuracy" in cv:
        console.print(f"cross-validated: accuracy {cv['accuracy']:.3f}  MAE {cv['mae_steps']:.3f} steps  "
                      f"quadratic kappa {cv['kappa_quadratic']:.3f}", highlight=False)
    else:
        console.print(f"no cross-validation: {cv['skipped']}", highlight=False)
    console.print(f"model: {out / 'eye_state.json'}   metrics: {out / 'metrics.json'}", highlight=False)


@app.command("occlusion-sweep")
def occlusion_sweep_cmd(
    run: Annotated[list[Path], typer.Option("--run", "-r", help="run directory of fer-graph train (repeat --run to compare models on the same occlusions)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="the processed dataset the runs were trained on")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for sweep.csv, summary.json and plots")],
    regions: Annotated[Optional[str], typer.Option("--regions", help="comma-separated region presets (default: all), or 'none'")] = None,
    strategy: Annotated[Optional[str], typer.Option("--strategy", help="comma-separated: removal, masking, imputation (default: all three)")] = None,
    extents: Annotated[str, typer.Option("--extents", help="comma-separated fractions of nodes for BFS patches and random dropout; '' for none")] = ",".join(map(str, DEFAULT_EXTENTS)),
    noise: Annotated[str, typer.Option("--noise", help="comma-separated landmark noise sigmas (IOD units); '' for none")] = ",".join(map(str, DEFAULT_NOISE)),
    noise_region: Annotated[str, typer.Option("--noise-region", help="restrict noise to a region preset")] = "all",
    random_dropout: Annotated[bool, typer.Option("--random-dropout/--no-random-dropout", help="also independent random node dropout at each extent")] = True,
    name: Annotated[Optional[list[str]], typer.Option("--name", help="model names in the table, one per --run (default: run folder names)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seeds patches, dropout and noise (the same for every model)")] = 0,
    sensitivity: Annotated[bool, typer.Option("--sensitivity", help="also map landmark importance: accuracy drop per small removed patch (OUT/sensitivity_<model>.png)")] = False,
    image_occlusion: Annotated[bool, typer.Option("--image-occlusion", help="image datasets: also paint each region's occluder on the held-out images, re-run the Face Landmarker and classify (strategy 'image'; OUT/occluders.png)")] = False,
    image_limit: Annotated[Optional[int], typer.Option("--image-limit", min=1, help="--image-occlusion: at most N held-out images per fold (seeded choice)")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="--image-occlusion: Face Landmarker .task file, the one the dataset was built with (default: $FER_GRAPH_FACE_LANDMARKER)")] = None,
    visibility_model: Annotated[Optional[Path], typer.Option("--visibility-model", help="--image-occlusion: a train-visibility output; adds strategy 'image+visibility' (landmarks estimated hidden are removed)")] = None,
) -> None:
    """Evaluate trained runs under region occlusion, occlusion extent and landmark noise (CK+ protocols: each
    fold's held-out subjects with that fold's model); writes OUT/sweep.csv, OUT/summary.json and plots."""
    from ..evaluation.sweep import run_occlusion_sweep
    from ..graphs.load import load_processed
    from ..occlusion.regions import REGION_NAMES
    from ..occlusion.strategies import STRATEGIES

    try:
        region_list = _csv_names(regions, list(REGION_NAMES))
        ds = load_processed(data)
        with task_progress(console) as update:
            result = run_occlusion_sweep(
                run, ds, out, names=name, regions=region_list, strategies=_csv_names(strategy, list(STRATEGIES)),
                extents=_csv_floats(extents, "--extents"), noise=_csv_floats(noise, "--noise"),
                noise_region=noise_region, random_dropout=random_dropout, seed=seed, sensitivity=sensitivity,
                image_occlusion=image_occlusion, image_limit=image_limit, model=model,
                visibility_model=visibility_model, extra={"data": str(data)}, on_progress=update)
    except _ERRORS as exc:
        _fail(exc)
    print_sweep(console, result, region_list, ds.topology.name, out)


@app.command("temporal-sweep")
def temporal_sweep_cmd(
    run: Annotated[list[Path], typer.Option("--run", "-r", help="run directory: a sequence model (stgcn) or a frame-pair model of the same sequences (repeat --run)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="the sequence dataset (build-graphs --sequences) whose held-out sequences are corrupted")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for temporal.csv and temporal.json")],
    regions: Annotated[str, typer.Option("--regions", help="comma-separated region presets hidden in a fraction of the frames")] = "eyes,mouth",
    fractions: Annotated[str, typer.Option("--fractions", help="comma-separated fractions of frames a region is hidden in")] = "0.25,0.5,1.0",
    drops: Annotated[str, typer.Option("--drops", help="comma-separated fractions of frames dropped (repeated from the last kept)")] = "0.25,0.5",
    noise: Annotated[str, typer.Option("--noise", help="comma-separated noise sigmas over every frame (IOD units)")] = "0.05,0.1",
    removal: Annotated[Optional[list[str]], typer.Option("--removal", help="run folder name whose hidden landmarks are removed from the graph instead of masked (repeatable)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seeds the corruptions (the same for every model)")] = 0,
) -> None:
    """Occlusion over time: a region hidden in part of the frames, dropped frames, noise over time; every run
    scored on the same corrupted held-out sequences (OUT/temporal.csv)."""
    from ..evaluation.temporal_sweep import run_temporal_sweep
    from ..graphs.load import load_processed
    from ..occlusion.temporal import temporal_conditions

    try:
        conds = temporal_conditions(_csv_names(regions, []), _csv_floats(fractions, "--fractions"),
                                    _csv_floats(drops, "--drops"), _csv_floats(noise, "--noise"))
        result = run_temporal_sweep(run, load_processed(data), out, conds, removal=removal or [], seed=seed)
    except _ERRORS as exc:
        _fail(exc)
    models = list(dict.fromkeys(r["model"] for r in result["rows"]))
    console.print("condition".ljust(28) + "".join(m[:14].rjust(16) for m in models), highlight=False, emoji=False)
    for c in result["conditions"]:
        acc = {r["model"]: r["accuracy"] for r in result["rows"] if r["condition"] == c}
        console.print(c.ljust(28) + "".join(f"{acc[m]:16.3f}" for m in models), highlight=False, emoji=False)
    console.print(f"table: {out / 'temporal.csv'}", highlight=False)


@app.command("occlusion-study")
def occlusion_study_cmd(
    data: Annotated[Path, typer.Option("--data", "-d", help="processed dataset (build-graphs OUT folder)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="study folder: one run per model, sweep/, occlusion.md")],
    models: Annotated[str, typer.Option("--models", help="comma-separated subset of " + ", ".join(STUDY_MODEL_NAMES))] = ",".join(STUDY_MODEL_NAMES),
    mask_augment: Annotated[float, typer.Option("--mask-augment", min=0.0, max=1.0, help="P of the mask-augmented GAT")] = STUDY_MASK_AUGMENT,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = _D.epochs,
    folds: Annotated[int, typer.Option("--folds", "-k", min=2)] = _D.folds,
    standardize: Annotated[Standardize, typer.Option("--standardize")] = Standardize(_D.standardize),
    features: Annotated[Optional[str], typer.Option("--features")] = None,
    refit: Annotated[bool, typer.Option("--refit/--no-refit", help="GNNs: retrain on all training subjects at the epoch early stopping chose")] = True,
    seed: Annotated[int, typer.Option("--seed")] = _D.seed,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="folds fitted at once in worker processes")] = 1,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="torch threads (default: torch's)")] = None,
    sensitivity: Annotated[bool, typer.Option("--sensitivity", help="also draw occlusion-sensitivity maps")] = False,
) -> None:
    """Train (or reuse) a GAT, a mask-augmented GAT and baselines on the same folds, sweep them over the same
    occlusions and write OUT/occlusion.md (the report tables) with OUT/sweep/."""
    from ..evaluation.study import run_occlusion_study
    from ..runtime import configure

    configure(threads=threads)
    try:
        run_occlusion_study(data, out, models=_csv_names(models, []), mask_augment=mask_augment, epochs=epochs,
                            folds=folds, standardize=standardize.value, features=features, refit=refit, seed=seed,
                            workers=workers, sensitivity=sensitivity,
                            on_message=lambda line: console.print(line, highlight=False, markup=False))
    except _ERRORS as exc:
        _fail(exc)
