"""Per-face latency of ``predict``: Face Landmarker detection vs the graph model (one fold or the k-fold ensemble).

    python experiments/bench_predict.py --run runs/occ/ck48/gat --images ../shared/data/ck48 --n 200 --json lat.json

Times, on ``--n`` images (sorted, every label folder), one image at a time as ``fer-graph predict`` does:
``detect_ms`` (decode + padding + Face Landmarker cascade), ``graph_ms_one_fold`` / ``graph_ms_ensemble``
(normalization + features + graph model at batch 1, fast layers), medians over images after 5 warm-up
calls; and ``end_to_end_ms``: ``predict_images`` on up to 100 images with the ensemble (one detector, as
``fer-graph predict DIR`` runs), wall time divided by the image count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from fer_graph.runtime import configure

configure()  # OpenMP settings before torch loads

import numpy as np  # noqa: E402

from fer_graph.evaluation.predictor import load_model  # noqa: E402
from fer_graph.graphs.pose import head_pose  # noqa: E402
from fer_graph.landmarks._mediapipe_worker import load_image  # noqa: E402
from fer_graph.landmarks.mediapipe_source import FaceLandmarkDetector  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the graph model (default 1)")
    ap.add_argument("--model", default=os.environ.get("FER_GRAPH_FACE_LANDMARKER"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    configure(threads=args.threads)
    files = sorted(p for p in Path(args.images).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    files = files[:: max(1, len(files) // args.n)][: args.n]
    ensemble, one = load_model(args.run), load_model(args.run, folds=[0])
    detect, g_one, g_all, faces = [], [], [], []
    with FaceLandmarkDetector(args.model) as det:
        for path in files:
            t0 = time.perf_counter()
            arr = load_image(str(path))
            face = det.detect(arr)
            detect.append(time.perf_counter() - t0)
            if isinstance(face, str):
                continue
            h, w = arr.shape[:2]
            p = face.landmarks.copy() * np.array([w, h, w], dtype=np.float32)
            faces.append((p[None], face.blendshapes[None], head_pose(face.transform[None])))
    for model, out in ((one, g_one), (ensemble, g_all)):
        for i, (p, b, hp) in enumerate(faces[:5] + faces):
            t0 = time.perf_counter()
            model.predict_landmarks(p, blendshapes=b, head_pose=hp)
            if i >= 5:
                out.append(time.perf_counter() - t0)
    batch = files[: min(len(files), 100)]
    ensemble.predict_images(batch[:5], model=args.model)  # warm-up
    t0 = time.perf_counter()
    ensemble.predict_images(batch, model=args.model)
    e2e_ms = round(1000 * (time.perf_counter() - t0) / len(batch), 3)

    def ms(xs):
        return round(1000 * statistics.median(xs), 3)

    res = {"images": len(files), "faces": len(faces), "folds": len(ensemble.models), "threads": args.threads,
           "detect_ms": ms(detect[5:]), "graph_ms_one_fold": ms(g_one), "graph_ms_ensemble": ms(g_all),
           "end_to_end_ms": e2e_ms, "run": args.run}
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
