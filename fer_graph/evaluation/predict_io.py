"""File-level prediction behind ``fer-graph predict``: images, folders, landmark CSVs; CSV and plot out."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from ..landmarks.eyes import EYES
from ..landmarks.video import VIDEO_EXTENSIONS
from ..models.eye_state import EyeStateModel
from .predictor import ExpressionModel

__all__ = ["predict_path", "predict_files", "plot_prediction", "write_predictions_csv", "csv_header", "csv_face_row",
           "csv_skip_row", "face_eye_states", "CSV_HEAD", "CSV_TAIL"]

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}


#: Columns of the predictions CSV before the probabilities (``p_<class>``) and after them.
CSV_HEAD = ("input", "frame", "time_s", "face", "x", "y", "w", "h", "label")
CSV_TAIL = ("detection_tier", "border", "hidden_landmarks", "left_eye", "left_eye_score", "right_eye", "right_eye_score",
            "skipped")


def predict_path(inputs: str | os.PathLike | int, run: str | os.PathLike | None = None, *,
                 model: str | os.PathLike | None = None, plot: str | os.PathLike | None = None,
                 out: str | os.PathLike | None = None, max_faces: int = 10, tiles: bool = False,
                 force: bool = False, annotate: str | os.PathLike | None = None, smooth: float = 0.0,
                 max_frames: int | None = None, workers: int = 1, visibility_model: str | os.PathLike | None = None,
                 eye_model: str | os.PathLike | None = None, window: int = 16, stride: int = 4,
                 on_progress=None) -> dict[str, Any]:
    """:func:`predict_files`, or for a video file or a camera index (an int)
    :func:`fer_graph.evaluation.predict_video.predict_video_path` (``annotate``, ``smooth``, ``max_frames``
    apply to those; ``plot`` and ``tiles`` to images; ``visibility_model`` and ``eye_model`` to both;
    ``window`` and ``stride`` to videos classified by a sequence run).

    Raises:
        ValueError: video-only options given for images, or image-only options for a video.
    """
    video = isinstance(inputs, int) or Path(inputs).suffix.lower() in VIDEO_EXTENSIONS
    if not video:
        if annotate is not None or smooth or max_frames is not None:
            raise ValueError(f"{inputs}: --annotate, --smooth and --max-frames apply to videos and cameras")
        return predict_files(inputs, run, model=model, plot=plot, out=out, max_faces=max_faces, tiles=tiles,
                             force=force, workers=workers, visibility_model=visibility_model, eye_model=eye_model,
                             on_progress=on_progress)
    if plot is not None or tiles:
        raise ValueError(f"{inputs}: --plot and --tiles apply to images; --annotate draws on a video")
    from .predict_video import predict_video_path

    return predict_video_path(inputs, run, model=model, out=out, annotate=annotate, smooth=smooth,
                              max_faces=max_faces, max_frames=max_frames, force=force, window=window, stride=stride,
                              visibility_model=visibility_model, eye_model=eye_model, on_progress=on_progress)


def load_predictors(run: str | os.PathLike | None, visibility_model: str | os.PathLike | None = None):
    """``(ExpressionModel, visibility estimator or None)`` for ``predict``: with a visibility model, the
    expression model runs its PyTorch checkpoint (an ONNX export takes no node mask).

    Raises:
        as :class:`~fer_graph.evaluation.predictor.ExpressionModel` and
        :func:`~fer_graph.models.visibility.load_visibility`.
    """
    visibility = None
    if visibility_model is not None:
        from ..models.visibility import load_visibility

        visibility = load_visibility(visibility_model)
    return ExpressionModel(run, onnx=visibility is None), visibility


def predict_files(inputs: str | os.PathLike, run: str | os.PathLike | None = None, *,
                  model: str | os.PathLike | None = None, plot: str | os.PathLike | None = None,
                  out: str | os.PathLike | None = None, max_faces: int = 10, tiles: bool = False,
                  force: bool = False, workers: int = 1, visibility_model: str | os.PathLike | None = None,
                  eye_model: str | os.PathLike | None = None, on_progress=None) -> dict[str, Any]:
    """Predict every face of an image, of every image below a folder (sorted), or every row of a landmark CSV.

    Args:
        inputs: an image, a folder of images (other files there are recorded as skipped), a landmark CSV
            (labels optional) or a 300-W ``.pts`` file.
        run: any ``fer-graph train`` run, a model file or a bundled model name; ``None``: the bundled
            default model (:class:`~fer_graph.evaluation.predictor.ExpressionModel`).
        model: Face Landmarker ``.task`` file; plot: PNG of the first image with a face: every face's mesh
            and prediction; out: CSV, one row per face and one per skipped input (:data:`CSV_HEAD`,
            ``p_<class>``..., :data:`CSV_TAIL`); max_faces, tiles, workers: see
            :meth:`~fer_graph.evaluation.predictor.ExpressionModel.predict_images`; force: replace an existing
            ``out`` / ``plot`` file.
        visibility_model: a ``train-visibility`` output: the landmarks it estimates hidden are removed
            before classification (graph models; a bundled model then runs its PyTorch checkpoint) and each
            face's count is reported (``hidden_landmarks``).
        eye_model: a ``train-eye-state`` model (``None``: the packaged default) giving each face's ``eyes``
            (``{"left": {"state", "score"}, "right": ...}``; ``None`` for 68-point landmark inputs).

    Returns:
        ``{"predictions": [{"input", "face", "box", "detection_tier", "border", "hidden_landmarks", "eyes",
        "label", "probabilities"}],
        "skipped": [{"path", "reason", "detail"}], "classes"}`` plus ``"csv"`` / ``"plot"`` when written.

    Raises:
        ValueError: ``out`` or ``plot`` is a folder, or an existing file without ``force``; a folder
            without images.
        LandmarkFileError: a malformed CSV or ``.pts`` file (``path:line``).
        RunNotFoundError, IncompleteRunError, ModelLoadError: see :class:`~fer_graph.evaluation.predictor.ExpressionModel`.
    """
    inputs = Path(inputs)
    for name, target in (("--out", out), ("--plot", plot)):
        if target is not None and Path(target).is_dir():
            raise ValueError(f"{target}: is a folder; {name} takes a file path")
        if target is not None and Path(target).exists() and not force:
            raise ValueError(f"{target}: exists; choose another {name} file or pass --force to replace it")
    em, visibility = load_predictors(run, visibility_model)
    if inputs.suffix.lower() in (".csv", ".pts"):
        if visibility is not None:
            raise ValueError(f"{inputs}: --visibility-model needs images (landmark files carry no pixels)")
        (rows, skipped), first = _predict_landmark_file(em, inputs), None
    else:
        files, others = _folder_files(inputs)
        found = em.predict_images(files, model=model, max_faces=max_faces, tiles=tiles, workers=workers,
                                  on_progress=on_progress, visibility=visibility)
        eyes = face_eye_states(found.faces, EyeStateModel.load(eye_model))
        rows = [_face_row(em.classes, f, p, e) for f, p, e in zip(found.faces, found.probs, eyes)]
        skipped = [s.__dict__ for s in found.skipped] + others
        first = [(f, r) for f, r in zip(found.faces, rows) if f.input == found.faces[0].input] if found.faces else None
    result: dict[str, Any] = {"predictions": rows, "skipped": skipped, "classes": em.classes}
    if out is not None:
        write_predictions_csv(out, rows, skipped, em.classes)
        result["csv"] = str(out)
    if plot is not None and first:
        plot_prediction(first[0][0].input, [(f.landmarks, r["probabilities"]) for f, r in first], em.topology.edges, plot)
        result["plot"] = str(plot)
    return result


def _face_row(classes: list[str], face, probs: np.ndarray, eyes: dict[str, dict] | None) -> dict[str, Any]:
    return {"input": face.input, "face": face.face, "box": [round(v, 1) for v in face.box],
            "detection_tier": face.tier, "border": face.pad, "frame": face.frame, "time_s": face.time_s,
            "hidden_landmarks": None if face.hidden is None else int(face.hidden.sum()), "eyes": eyes,
            "label": classes[int(probs.argmax())], "probabilities": {c: float(v) for c, v in zip(classes, probs)}}


def face_eye_states(faces, model) -> list[dict[str, dict] | None]:
    """Each detected face's eye states under ``model`` (an
    :class:`~fer_graph.models.eye_state.EyeStateModel`; see its ``face_states``); ``None`` for faces without
    the 478 iris-refined landmarks."""
    if not faces:
        return []
    full = [i for i, f in enumerate(faces) if len(f.landmarks) >= 478]
    out: list[dict[str, dict] | None] = [None] * len(faces)
    states = model.face_states(np.stack([faces[i].pixel_landmarks() for i in full]),
                               np.stack([faces[i].blendshapes for i in full])) if full else []
    for i, s in zip(full, states):
        out[i] = s
    return out


def _folder_files(inputs: Path) -> tuple[list[Path], list[dict[str, Any]]]:
    """The images to predict (one file, or every image below a folder, sorted) and, for a folder, a skip
    record for each other visible file.

    Raises:
        ValueError: a folder without images.
    """
    if inputs.is_file():
        return [inputs], []
    files = sorted(p for p in inputs.rglob("*") if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in _IMAGE_EXT]
    if not images:
        raise ValueError(f"{inputs}: no images found (extensions {sorted(_IMAGE_EXT)})")
    others = [{"path": str(p), "reason": "unsupported_type",
               "detail": "a video: predict it on its own" if p.suffix.lower() in VIDEO_EXTENSIONS else "not an image"}
              for p in files if p.suffix.lower() not in _IMAGE_EXT]
    return images, others


def _predict_landmark_file(em: ExpressionModel, path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(prediction rows, skipped rows)`` of a landmark CSV (labels not needed) or a 300-W ``.pts`` file."""
    from ..landmarks.csv_source import read_landmark_csv
    from ..landmarks.pts import read_pts

    if path.suffix.lower() == ".pts":
        points, ids, skipped = read_pts(path)[None], [str(path)], []
    else:
        lms = read_landmark_csv(path, require_label=False)
        points, ids, skipped = lms.pixel_points(), lms.sample_ids, [s.__dict__ for s in lms.skipped]
    probs = em.predict_landmarks(points) if len(ids) else np.zeros((0, len(em.classes)))
    rows = [{"input": n, "face": 0, "box": None, "detection_tier": None, "border": None, "frame": None,
             "time_s": None, "eyes": None, "label": em.classes[int(p.argmax())],
             "probabilities": {c: float(v) for c, v in zip(em.classes, p)}} for n, p in zip(ids, probs)]
    return rows, skipped


def write_predictions_csv(path: str | os.PathLike, rows: list[dict[str, Any]], skipped: list[dict[str, Any]],
                          classes: list[str]) -> None:
    """The predictions CSV (atomic): a row per face, then a row per skipped input (``skipped``: reason and
    detail; no label or probabilities)."""
    with atomic_path(Path(path)) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(csv_header(classes))
        for r in rows:
            w.writerow(csv_face_row(r["input"], r["frame"], r["time_s"], r["face"], r["box"], r["label"],
                                    [r["probabilities"][c] for c in classes], r["detection_tier"], r["border"],
                                    r.get("hidden_landmarks"), r.get("eyes")))
        for s in skipped:
            reason = s["reason"] + (f": {s['detail']}" if s.get("detail") else "")
            w.writerow(csv_skip_row(s["path"], None, None, reason, len(classes)))


def csv_header(classes: list[str]) -> list[str]:
    """:data:`CSV_HEAD`, ``p_<class>`` per class, :data:`CSV_TAIL`: the columns of every predictions CSV."""
    return [*CSV_HEAD, *[f"p_{c}" for c in classes], *CSV_TAIL]


def csv_face_row(input: str, frame: int | None, time_s: float | None, face: int, box, label: str, probs,
                 tier: int | None, border: float | None, hidden: int | None = None,
                 eyes: dict[str, dict] | None = None) -> list[str]:
    """One face's row of a predictions CSV (empty cells for what an input lacks: frame, box, tier, the
    hidden-landmark count of a visibility estimator, eye states of 68-point landmarks)."""
    eye_cells = [c for e in EYES for c in ((eyes[e]["state"], f"{eyes[e]['score']:.3f}") if eyes else ("", ""))]
    return [input, _blank(frame), "" if time_s is None else f"{time_s:.3f}", str(face),
            *([f"{v:.1f}" for v in box] if box is not None else [""] * 4), label, *[f"{v:.5f}" for v in probs],
            _blank(tier), _blank(border), _blank(hidden), *eye_cells, ""]


def csv_skip_row(input: str, frame: int | None, time_s: float | None, reason: str, n_classes: int) -> list[str]:
    """The row of an input (or video frame) without a prediction: only where it is and why."""
    return [input, _blank(frame), "" if time_s is None else f"{time_s:.3f}", *[""] * (6 + n_classes + len(CSV_TAIL) - 1),
            reason]


def _blank(v) -> str:
    return "" if v is None else str(v)


def plot_prediction(image_path: str, faces: list[tuple[np.ndarray, dict[str, float]]], edges,
                    out: str | os.PathLike) -> None:
    """Draw every face's mesh over the image, numbered, with each face's class probabilities as bars (PNG,
    atomic). ``faces``: ``(landmarks (V, 2+) image-normalized, {class: p})`` per face; the image is read
    as the detector read it (EXIF orientation applied), so meshes and photo line up."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone, renders with Agg

    from ..landmarks.images import load_rgb

    img = load_rgb(image_path)  # the detector's conversion: 16-bit scaled, alpha on white, EXIF applied
    h, w = img.shape[:2]
    fig = Figure(figsize=(8, max(4, 1.6 * len(faces))))
    grid = fig.add_gridspec(len(faces), 2, width_ratios=[1, 1])
    a = fig.add_subplot(grid[:, 0])
    a.imshow(img)
    a.set_axis_off()
    for k, (landmarks, probabilities) in enumerate(faces):
        xy = landmarks[:, :2] * np.array([w, h])
        a.add_collection(LineCollection([[xy[i], xy[j]] for i, j in edges], colors="lime", linewidths=0.3))
        a.text(xy[:, 0].min(), xy[:, 1].min(), str(k), color="yellow", fontsize=9, va="bottom")
        names = list(probabilities)
        values = [probabilities[n] for n in names]
        best = int(np.argmax(values))
        b = fig.add_subplot(grid[k, 1])
        b.barh(names, values, color=["tab:orange" if i == best else "tab:blue" for i in range(len(names))])
        b.set_xlim(0, 1)
        b.set_title(f"face {k}: {names[best]} ({values[best]:.0%})", fontsize=9)
        b.tick_params(labelsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
