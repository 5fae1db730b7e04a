"""Fit and measure the Face Mesh -> iBUG 68-point correspondence on the same CK+ frames seen both ways.

Usage:
    python experiments/mesh68_fit.py --ck48 $FER_GRAPH_DATA/ck48 --ck-lands $FER_GRAPH_DATA/ck_lands/CK+ \
        --cache data/processed/ck48_pose/landmarks --out reports/mesh68

CK+48 images are CK+ frames (``S010_004_00000017.png``: subject S010, sequence 004, frame 17) whose 68
iBUG landmarks CK+ lands holds (``S010/omlands.csv``, sequence 004, row 17). For every such pair, the Face
Landmarker mesh (cached detections of ``build-graphs``) and the 68 points are each brought to eye-centred
coordinates (midpoint of the eye centres at 0, eye line level, inter-ocular distance 1). Each iBUG point is
assigned the mesh vertex nearest to it on average over the fitting subjects, jointly with its mirror point
(iBUG point j and its mirror take mesh vertices v and mirror(v), so the table is left/right consistent;
midline points take midline vertices); two rounds refine it after a per-face similarity (Procrustes) fit of
the mapped points. Fitted on half the subjects, the error is measured on the other half, in IOD after
``normalize_landmarks`` of each point set (what a model sees), per iBUG region, next to the size of the
expression signal (mean apex-onset displacement of CK+ lands). The final table is fitted on all subjects.
Writes OUT/mesh68.json (the table, errors) and OUT/mesh68.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from _report import write_table

from fer_graph.graphs.normalize import eye_centers, normalize_landmarks
from fer_graph.graphs.topology import LEFT_EYE_68, LEFT_EYE_468, MIRROR_68, MIRROR_468, RIGHT_EYE_68, RIGHT_EYE_468
from fer_graph.landmarks.ck_lands import read_omlands
from fer_graph.landmarks.mediapipe_source import extract_image_folder
from fer_graph.landmarks.mesh68 import apply_offsets

REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68)}
_NAME = re.compile(r"(S\d+)_(\d+)_(\d+)\.png$")


def pairs(ck48: Path, ck_lands: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Mesh ``(P, 468, 2)`` and iBUG ``(P, 68, 2)`` pixel landmarks of the same frames, their subjects ``(P,)``
    and CK+48 sample ids (``anger/S010_004_00000017.png``)."""
    mesh = extract_image_folder(ck48, cache_dir=cache, workers=1)
    sizes = mesh.image_sizes.astype(np.float64)
    lands: dict[str, dict[str, np.ndarray]] = {}
    m, c, s, ids = [], [], [], []
    for i, sid in enumerate(mesh.sample_ids):
        subject, seq, frame = _NAME.search(sid).groups()
        if subject not in lands:
            f = ck_lands / subject / "omlands.csv"
            lands[subject] = read_omlands(f) if f.is_file() else {}
        frames = lands[subject].get(seq)
        if frames is None or int(frame) > len(frames):
            continue
        m.append(mesh.points[i, :468, :2] * sizes[i])  # image-normalized -> pixels (isotropic)
        c.append(frames[int(frame) - 1])
        s.append(subject)
        ids.append(sid)
    return np.asarray(m), np.asarray(c, dtype=np.float64), np.asarray(s), ids


def eye_frame(points: np.ndarray, right: tuple[int, ...], left: tuple[int, ...]) -> np.ndarray:
    """``(N, V, 2)`` points with the eye midpoint at 0, the eye line level and an IOD of 1."""
    r, l = eye_centers(points, right, left)
    d = l - r
    angle, iod = np.arctan2(d[:, 1], d[:, 0]), np.linalg.norm(d, axis=1)
    p = points - ((r + l) / 2)[:, None]
    cos, sin = np.cos(-angle)[:, None], np.sin(-angle)[:, None]
    return np.stack([cos * p[..., 0] - sin * p[..., 1], sin * p[..., 0] + cos * p[..., 1]], -1) / iod[:, None, None]


def similarity_apply(anchors: np.ndarray, target: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` ``(N, V, 2)`` moved by each face's least-squares similarity transform (Umeyama, no
    reflection) that maps ``anchors`` ``(N, K, 2)`` onto ``target`` ``(N, K, 2)``."""
    out = np.empty_like(points)
    for i, (a, b) in enumerate(zip(anchors, target)):
        ma, mb = a.mean(0), b.mean(0)
        a0, b0 = a - ma, b - mb
        u, sv, vt = np.linalg.svd(b0.T @ a0)
        d = np.sign(np.linalg.det(u @ vt))
        rot = u @ np.diag([1.0, d]) @ vt
        scale = (sv * [1.0, d]).sum() / (a0 ** 2).sum()
        out[i] = scale * (points[i] - ma) @ rot.T + mb
    return out


def choose(mesh: np.ndarray, ck: np.ndarray) -> np.ndarray:
    """The mirror-consistent vertex of each iBUG point: ``(68,)`` indices into the 468 mesh vertices."""
    cost = np.linalg.norm(mesh[:, None, :, :] - ck[:, :, None, :], axis=-1).mean(0)  # (68, 468)
    mir68, mir468 = np.asarray(MIRROR_68), np.asarray(MIRROR_468)
    midline = np.flatnonzero(mir468 == np.arange(468))
    table = np.full(68, -1)
    for j in range(68):
        if table[j] >= 0:
            continue
        if mir68[j] == j:
            table[j] = midline[cost[j, midline].argmin()]
        else:
            v = (cost[j] + cost[mir68[j], mir468]).argmin()
            table[j], table[mir68[j]] = v, mir468[v]
    return table


def fit(mesh: np.ndarray, ck: np.ndarray, rounds: int = 2) -> np.ndarray:
    """The table from eye-frame coordinates, refined ``rounds`` times: each face's mesh is moved by the
    similarity that maps its current 68 mapped points onto its iBUG points, and the vertices re-chosen."""
    me, ce = eye_frame(mesh, RIGHT_EYE_468, LEFT_EYE_468), eye_frame(ck, RIGHT_EYE_68, LEFT_EYE_68)
    table = choose(me, ce)
    for _ in range(rounds):
        table = choose(similarity_apply(me[:, table], ce, me), ce)
    return table


def offsets(mesh: np.ndarray, ck: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``(68, 2)`` mean offset, in the eye frame of the mapped points (IOD units, eye line level), from each
    mapped vertex to its iBUG point after a per-face similarity fit: the systematic part of the error."""
    mapped = eye_frame(mesh[:, table], RIGHT_EYE_68, LEFT_EYE_68)
    target = similarity_apply(eye_frame(ck, RIGHT_EYE_68, LEFT_EYE_68), mapped, eye_frame(ck, RIGHT_EYE_68, LEFT_EYE_68))
    off = (target - mapped).mean(0)
    mirrored = off[list(MIRROR_68)] * [-1.0, 1.0]  # the mirror point's offset, x flipped
    return (off + mirrored) / 2  # left/right symmetric, like the table


def corrected(mesh: np.ndarray, table: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Mapped points ``(N, 68, 2)`` plus ``offset`` in each face's eye frame (pixels out), as the package maps."""
    return apply_offsets(mesh[:, table], offset)


def errors(mesh: np.ndarray, ck: np.ndarray, table: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Per-face, per-point distance ``(N, 68)`` in IOD after ``normalize_landmarks`` of each point set."""
    pts = mesh[:, table] if offset is None else corrected(mesh, table, offset)
    a, _ = normalize_landmarks(pts, right_eye=RIGHT_EYE_68, left_eye=LEFT_EYE_68)
    b, _ = normalize_landmarks(ck, right_eye=RIGHT_EYE_68, left_eye=LEFT_EYE_68)
    return np.linalg.norm(a - b, axis=-1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ck48", required=True, type=Path)
    p.add_argument("--ck-lands", required=True, type=Path)
    p.add_argument("--cache", required=True, type=Path, help="build-graphs' landmarks/ folder of the CK+48 dataset")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    mesh, ck, subjects, _ = pairs(args.ck48, args.ck_lands, args.cache)
    names = np.unique(subjects)
    fit_half = np.isin(subjects, names[::2])
    half = fit(mesh[fit_half], ck[fit_half])
    held = errors(mesh[~fit_half], ck[~fit_half], half)
    held_corr = errors(mesh[~fit_half], ck[~fit_half], half, offsets(mesh[fit_half], ck[fit_half], half))
    table = fit(mesh, ck)
    signal = expression_signal(args.ck_lands, subjects)
    return _report(args.out, table, offsets(mesh, ck, table), held, held_corr, signal, subjects, fit_half)


def _report(out: Path, table: np.ndarray, offset: np.ndarray, held: np.ndarray, held_corr: np.ndarray,
            signal: np.ndarray, subjects: np.ndarray, fit_half: np.ndarray) -> int:
    """Write OUT/mesh68.{json,md}: per-region held-out error next to CK+ lands' expression displacement."""
    rows = []
    for name, idx in {**REGIONS, "all 68": range(68)}.items():
        idx = list(idx)
        e, ec = held[:, idx], held_corr[:, idx]
        rows.append({"region": name, "points": len(idx), "error_mean_iod": float(e.mean()),
                     "corrected_error_mean_iod": float(ec.mean()), "corrected_error_p90_iod": float(np.percentile(ec, 90)),
                     "error_median_iod": float(np.median(e)), "error_p90_iod": float(np.percentile(e, 90)),
                     "displacement_mean_iod": float(signal[idx].mean())})
    lines = [f"Frame pairs: {len(subjects)} ({len(np.unique(subjects))} subjects); fitted on "
             f"{int(fit_half.sum())} pairs, errors on the other {int((~fit_half).sum())} (held-out subjects).", "",
             "| region | points | error (IOD): vertex only, mean | median | 90th pct. | vertex + offset, mean | 90th pct. "
             "| apex-onset displacement, CK+ lands (IOD) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['region']} | {r['points']} | {r['error_mean_iod']:.3f} | {r['error_median_iod']:.3f} | "
              f"{r['error_p90_iod']:.3f} | {r['corrected_error_mean_iod']:.3f} | {r['corrected_error_p90_iod']:.3f} | "
              f"{r['displacement_mean_iod']:.3f} |" for r in rows]
    lines += ["", "MESH_TO_IBUG68 = (" + ", ".join(map(str, table.tolist())) + ")",
              "IBUG68_OFFSETS = (" + ", ".join(f"({x:.4f}, {y:.4f})" for x, y in offset) + ")"]
    write_table(out, "mesh68", [{"table": table.tolist(), "offsets": offset.round(4).tolist()}, *rows], lines)
    return 0


def expression_signal(root: Path, subjects: np.ndarray) -> np.ndarray:
    """Mean distance ``(68,)`` in IOD between the last (apex) and first (onset) frames of every CK+ lands
    sequence under ``root`` of the subjects in ``subjects``, after ``normalize_landmarks``: the size of what
    the expression models read, to set the mapping error against."""
    d = []
    for subject in np.unique(subjects):
        f = root / subject / "omlands.csv"
        for frames in (read_omlands(f) if f.is_file() else {}).values():
            x, _ = normalize_landmarks(frames[[0, -1]].astype(np.float64), right_eye=RIGHT_EYE_68, left_eye=LEFT_EYE_68)
            d.append(np.linalg.norm(x[1] - x[0], axis=-1))
    return np.mean(d, axis=0)


if __name__ == "__main__":
    sys.exit(main())
