"""``train-visibility``: synthesize occluded faces from a Face Landmarker dataset, fit the visibility
estimator, and score it on held-out faces and on held-out occluder families.

Output folder::

    VIS/visibility.pt     the estimator (:meth:`~fer_graph.models.visibility.VisibilityEstimator.load`)
    VIS/gallery.png       held-out faces, one per occluder family, the mesh coloured by estimated visibility
    VIS/metrics.json      protocol, sample counts, skips, and the held-out scores: ``seen_families``
                          (held-out faces, training families), ``heldout_families`` (held-out faces,
                          families never trained on), ``clean`` (held-out faces without an occluder)
    VIS/samples/<key>/    cached synthetic samples (resumable)

Protocol: faces of the dataset's ``train`` split (every face when it has no such split) are shuffled with
``seed``; ``samples`` of them are used, split into fitting and held-out faces (by subject when the dataset
has subjects, so no subject is on both sides). Fitting faces get an occluder of a training family (or none,
with probability ``clean_fraction``); held-out faces one of *any* family (or none), so the score on families
left out of training (``holdout_families``; default: natural-texture patches) shows whether the estimator
learned occlusion or the look of its training occluders.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from .._io import write_json
from ..evaluation.visibility import visibility_report
from ..models.visibility import VisibilityConfig, VisibilityEstimator
from ..occlusion.occluders import FAMILIES
from ..occlusion.patches import GRID, IOD_PX, RADII
from ..occlusion.visibility_data import CLEAN, FaceImage, VisibilitySamples, synthesize_samples

__all__ = ["train_visibility", "visibility_plan", "VisibilityPlan", "source_faces", "save_visibility_gallery"]


def source_faces(ds, model_path: str | os.PathLike | None = None) -> tuple[list[FaceImage], np.ndarray, list]:
    """The dataset's faces as :class:`FaceImage` (clean landmarks of
    :func:`~fer_graph.graphs.image_dataset.built_landmarks`), with their split names and subjects.

    Raises:
        DatasetLayoutError: the dataset was not built from images with the Face Landmarker, or its images
            are gone.
    """
    from ..graphs.image_dataset import built_landmarks
    from ..landmarks.images import load_rgb

    lms = built_landmarks(ds, model_path)
    raw, px = Path(ds.meta["options"]["raw_root"]), lms.pixel_points()[:, :ds.topology.num_nodes, :2]
    faces = [FaceImage(sid, partial(load_rgb, raw / sid), px[i]) for i, sid in enumerate(lms.sample_ids)]
    splits = np.array(lms.splits if lms.splits is not None else [""] * len(faces), dtype=str)
    return faces, splits, list(lms.subjects)


def _plan(n_fit: int, n_val: int, train_families: Sequence[str], rng: np.random.Generator,
          clean_fraction: float) -> list[str]:
    """Occluder family per face: fitting faces from ``train_families``, held-out faces from all of them."""
    def draw(n: int, pool: Sequence[str]) -> list[str]:
        fam = rng.choice(np.array(pool), n)
        return np.where(rng.random(n) < clean_fraction, CLEAN, fam).tolist()

    return draw(n_fit, train_families) + draw(n_val, FAMILIES)


def _split(idx: np.ndarray, subjects: list, val_fraction: float, rng: np.random.Generator):
    """Fitting and held-out positions into ``idx``, by subject when every face has one."""
    subj = [subjects[i] for i in idx]
    if all(s is not None for s in subj):
        names = np.array(sorted(set(subj)))
        held = set(rng.choice(names, max(1, round(len(names) * val_fraction)), replace=False).tolist())
        is_val = np.array([s in held for s in subj])
    else:
        is_val = np.zeros(len(idx), bool)
        is_val[rng.permutation(len(idx))[:round(len(idx) * val_fraction)]] = True
    return idx[~is_val], idx[is_val]


def _cache_key(ids: Sequence[str], plan: Sequence[str], seed: int, ds) -> str:
    blob = json.dumps([list(ids), list(plan), seed, ds.meta["options"].get("model_sha256"), IOD_PX, RADII, GRID,
                       ds.topology.num_nodes])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class VisibilityPlan:
    """Which faces :func:`train_visibility` uses and how each is occluded.

    Attributes:
        faces: the fitting faces, then the held-out faces; families: one occluder family per face.
        n_fit: how many of ``faces`` are fitting faces; train_families: the families fitting faces get.
        heldout_subjects: subjects of the held-out faces (empty without subjects); key: the sample cache key.
    """

    faces: list[FaceImage]
    families: list[str]
    n_fit: int
    train_families: list[str]
    heldout_subjects: list[str]
    key: str


def visibility_plan(ds, *, holdout_families: Sequence[str] = ("texture",), samples: int = 8000,
                    val_fraction: float = 0.2, clean_fraction: float = 0.15, seed: int = 0,
                    model_path: str | os.PathLike | None = None) -> VisibilityPlan:
    """The faces and occluder plan of :func:`train_visibility` (see the module docstring for the protocol).

    Raises:
        DatasetLayoutError: not an image dataset, or its images are gone.
        ValueError: unknown family names, or every family held out.
    """
    bad = sorted(set(holdout_families) - set(FAMILIES))
    if bad:
        raise ValueError(f"--holdout-families: unknown {bad}; expected some of {list(FAMILIES)}")
    train_families = [f for f in FAMILIES if f not in holdout_families]
    if not train_families:
        raise ValueError("--holdout-families: every occluder family is held out; none is left to train on")
    faces, splits, subjects = source_faces(ds, model_path)
    rng = np.random.default_rng(seed)
    usable = np.flatnonzero(splits == "train") if (splits == "train").any() else np.arange(len(faces))
    fit_idx, val_idx = _split(rng.permutation(usable)[:samples], subjects, val_fraction, rng)
    plan = _plan(len(fit_idx), len(val_idx), train_families, rng, clean_fraction)
    chosen = [faces[i] for i in np.concatenate([fit_idx, val_idx])]
    return VisibilityPlan(chosen, plan, len(fit_idx), train_families,
                          sorted({subjects[i] for i in val_idx if subjects[i] is not None}),
                          _cache_key([f.sample_id for f in chosen], plan, seed, ds))


def train_visibility(data: str | os.PathLike, out: str | os.PathLike, *, holdout_families: Sequence[str] = ("texture",),
                     samples: int = 8000, val_fraction: float = 0.2, clean_fraction: float = 0.15, seed: int = 0,
                     config: VisibilityConfig = VisibilityConfig(), model_path: str | os.PathLike | None = None,
                     on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Train and score a visibility estimator (see the module docstring); returns ``metrics.json``'s content.

    Raises:
        DatasetLayoutError: not an image dataset, or its images are gone.
        ValueError: unknown family names, or every family held out.
    """
    from ..graphs.load import load_processed
    from ..landmarks.mediapipe_source import DetectionOptions, FaceLandmarkDetector

    ds = load_processed(data)
    vp = visibility_plan(ds, holdout_families=holdout_families, samples=samples, val_fraction=val_fraction,
                         clean_fraction=clean_fraction, seed=seed, model_path=model_path)
    options = DetectionOptions(**ds.meta["options"]["detection"])
    start = time.perf_counter()
    with FaceLandmarkDetector(model_path, options=options) as det:
        synth = synthesize_samples(vp.faces, vp.families, detector=det, cache_dir=Path(out) / "samples" / vp.key,
                                   seed=seed, num_nodes=ds.topology.num_nodes,
                                   on_progress=None if on_progress is None else partial(on_progress, "synthesize"))
    synth_s = time.perf_counter() - start
    fit_ids = {f.sample_id for f in vp.faces[:vp.n_fit]}
    is_fit = np.array([s in fit_ids for s in synth.sample_ids])
    fit, val = synth.take(np.flatnonzero(is_fit)), synth.take(np.flatnonzero(~is_fit))
    start = time.perf_counter()
    est = VisibilityEstimator(ds.topology.name, config).fit(
        fit.features, fit.hidden, on_epoch=None if on_progress is None else
        (lambda log: on_progress("fit", log["epoch"], config.epochs)))
    fit_s = time.perf_counter() - start
    est.save(Path(out) / "visibility.pt")
    metrics = _score(est, val, vp.train_families, holdout_families, ds.topology.name)
    gallery = save_visibility_gallery(vp.faces, vp.families, range(vp.n_fit, len(vp.faces)), est,
                                      Path(out) / "gallery.png", seed=seed, model_path=model_path, options=options)
    metrics.update(dataset=str(ds.processed_dir), train_families=vp.train_families,
                   holdout_families=list(holdout_families), seed=seed, config=asdict(config),
                   patches={"iod_px": IOD_PX, "radii": list(RADII), "grid": GRID},
                   faces={"fit": vp.n_fit, "heldout": len(vp.faces) - vp.n_fit},
                   samples={"fit": len(fit), "heldout": len(val), "skipped": len(synth.skipped)},
                   skipped_by_reason=_count(synth.skipped), seconds={"synthesize": synth_s, "fit": fit_s},
                   heldout_subjects=vp.heldout_subjects, gallery=str(gallery))
    write_json(Path(out) / "metrics.json", metrics)
    return metrics


def save_visibility_gallery(faces: Sequence[FaceImage], plan: Sequence[str], candidates, est: VisibilityEstimator,
                            path: str | os.PathLike, *, seed: int = 0, model_path=None, options=None) -> Path:
    """One panel per occluder family (the first held-out face of each in ``candidates`` positions): the
    occluded image (re-created from its generator) with the re-detected mesh coloured by estimated P(visible)
    (red: hidden) and the truly hidden landmarks ringed in black.

    Raises:
        ModelFileError: no Face Landmarker model.
    """
    from matplotlib.figure import Figure

    from ..landmarks.mediapipe_source import DetectionOptions, FaceLandmarkDetector
    from ..occlusion.occluders import random_occluder
    from ..occlusion.patches import patch_features

    first: dict[str, int] = {}
    for i in candidates:
        first.setdefault(plan[i], i)
    panels = []
    with FaceLandmarkDetector(model_path, options=options or DetectionOptions()) as det:
        for family in [f for f in (*FAMILIES, CLEAN) if f in first]:
            i = first[family]
            image, clean = faces[i].load(), np.asarray(faces[i].landmarks_px, np.float64)
            if family == CLEAN:
                panels.append((family, image, clean, np.zeros(len(clean), bool)))
                continue
            texture = faces[int(np.random.default_rng([seed, i, 1]).integers(len(faces)))].load()
            occ = random_occluder(image, clean, family, np.random.default_rng([seed, i]), texture=texture)
            found = det.detect(occ.image)
            if not isinstance(found, str):
                h, w = occ.image.shape[:2]
                panels.append((family, occ.image, found.landmarks[:len(clean), :2] * (w, h), occ.hidden))
    fig = Figure(figsize=(2.0 * max(len(panels), 1), 2.3), dpi=110)
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False,
                        gridspec_kw=dict(left=0.01, right=0.99, bottom=0.01, top=0.85, wspace=0.05))[0]
    for ax, (family, image, px, hidden) in zip(axes, panels):
        p = est.predict_proba(patch_features(image, px))
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.scatter(px[hidden, 0], px[hidden, 1], s=9, facecolors="none", edgecolors="black", linewidths=0.4)
        ax.scatter(px[:, 0], px[:, 1], c=p, cmap="RdYlGn", vmin=0, vmax=1, s=2, linewidths=0)
        ax.set_title(f"{family}\nflagged {np.mean(p < est.threshold):.0%}, hidden {hidden.mean():.0%}", fontsize=7)
        ax.axis("off")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _count(skipped: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, family, reason in skipped:
        out[f"{family}:{reason}"] = out.get(f"{family}:{reason}", 0) + 1
    return out


def _score(est: VisibilityEstimator, val: VisibilitySamples, train_families: Sequence[str],
           holdout_families: Sequence[str], topology: str) -> dict:
    """Held-out scores: seen families, held-out families, clean faces, and the estimator's cost per face."""
    start = time.perf_counter()
    p = est.predict_proba(val.features)
    per_face_ms = (time.perf_counter() - start) / max(len(val), 1) * 1e3
    out = {"estimator_ms_per_face": per_face_ms}
    for name, fams in (("seen_families", train_families), ("heldout_families", holdout_families), ("clean", [CLEAN])):
        sel = np.isin(val.families, list(fams))
        if sel.any():
            out[name] = visibility_report(p[sel], val.hidden[sel], val.families[sel], topology,
                                          threshold=est.threshold)
    return out
