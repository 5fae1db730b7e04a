"""Draw the faces of the eye-state labelling set and render them as numbered contact sheets.

Usage:
    python experiments/eye_state_sample.py --root $FER_GRAPH_DATA/fer2013 --cache data/processed/fer2013_pose/landmarks \
        --out reports/eye_labelling [--per-split 160] [--seed 0]

Per split (``train`` faces become the development set, ``publictest`` faces the validation set), faces are
drawn without replacement from five strata of the mean iris ratio of both eyes (0-5 %, 5-15 %, 15-85 %,
85-95 %, 95-100 % of that split), an equal share each: closed and wide eyes are a few percent of FER-2013, and
a uniform draw would leave them with a handful of examples. The annotator sees only the number of a face,
never its expression label or any score. Writes OUT/index.csv (number, sample_id, split, stratum) and
OUT/sheet_NN.png (20 faces per sheet: the face upscaled 4x and a strip of both eyes upscaled 8x below it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from fer_graph.landmarks.eyes import eye_features
from fer_graph.landmarks.images import load_rgb
from fer_graph.landmarks.mediapipe_source import extract_image_folder

STRATA = (0.0, 0.05, 0.15, 0.85, 0.95, 1.0)
PER_SHEET, COLS, FACE, STRIP_H = 20, 5, 192, 96


def draw(score: np.ndarray, n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(index, stratum) of ``n`` faces, ``n // 5`` per quantile stratum of ``score``."""
    edges = np.quantile(score, STRATA)
    stratum = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, len(STRATA) - 2)
    picked = []
    for s in range(len(STRATA) - 1):
        pool = np.flatnonzero(stratum == s)
        picked += [(int(i), s) for i in rng.choice(pool, n // (len(STRATA) - 1), replace=False)]
    return picked


def tile(path: Path, points: np.ndarray, number: int) -> Image.Image:
    """The face upscaled to FACE pixels with a strip of both eyes below it and its number in the corner."""
    im = Image.fromarray(load_rgb(path))
    w, h = im.size
    face = im.resize((FACE, FACE), Image.Resampling.BICUBIC)
    eyes = points[[33, 133, 362, 263, 159, 145, 386, 374], :2] * (w, h)
    x0, x1 = eyes[:, 0].min(), eyes[:, 0].max()
    cy, half = eyes[:, 1].mean(), (x1 - x0) * 0.25
    pad = (x1 - x0) * 0.12
    box = (x0 - pad, cy - half, x1 + pad, cy + half)
    strip = im.transform((FACE, STRIP_H), Image.Transform.EXTENT, box, Image.Resampling.BICUBIC)  # black outside
    out = Image.new("RGB", (FACE, FACE + STRIP_H), "white")
    out.paste(face, (0, 0))
    out.paste(strip, (0, FACE))
    d = ImageDraw.Draw(out)
    d.rectangle((0, 0, 44, 18), fill="yellow")
    d.text((3, 3), str(number), fill="black")
    return out


def sheets(rows: pd.DataFrame, root: Path, points: dict[str, np.ndarray], out: Path) -> None:
    for k in range(0, len(rows), PER_SHEET):
        part = rows.iloc[k:k + PER_SHEET]
        n_rows = -(-len(part) // COLS)
        sheet = Image.new("RGB", (COLS * (FACE + 8), n_rows * (FACE + STRIP_H + 8)), "gray")
        for j, r in enumerate(part.itertuples()):
            t = tile(root / r.sample_id, points[r.sample_id], r.number)
            sheet.paste(t, ((j % COLS) * (FACE + 8), (j // COLS) * (FACE + STRIP_H + 8)))
        sheet.save(out / f"sheet_{k // PER_SHEET:02d}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-split", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ls = extract_image_folder(args.root, cache_dir=args.cache, model=args.model, workers=0)
    score = eye_features(ls.pixel_points(), ls.blendshapes)[:, :, 1].mean(axis=1)
    splits = np.asarray(ls.splits)
    rng = np.random.default_rng(args.seed)
    rows = []
    for split in ("train", "publictest"):
        idx = np.flatnonzero(splits == split)
        rows += [(ls.sample_ids[idx[i]], split, s) for i, s in draw(score[idx], args.per_split, rng)]
    order = rng.permutation(len(rows))  # mix strata and splits on the sheets
    table = pd.DataFrame([rows[i] for i in order], columns=["sample_id", "split", "stratum"])
    table.insert(0, "number", np.arange(len(table)))
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "index.csv", index=False)
    points = {sid: ls.points[i] for i, sid in enumerate(ls.sample_ids) if sid in set(table.sample_id)}
    sheets(table, args.root, points, args.out)
    print(f"{len(table)} faces on {-(-len(table) // PER_SHEET)} sheets in {args.out}")


if __name__ == "__main__":
    main()
