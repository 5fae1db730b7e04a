"""Throughput of ``fer-graph predict`` on photos and video with the bundled default model.

    python experiments/bench_media.py --out docs/bench_media.json

Measures, on media composed from scikit-image's public-domain ``data.astronaut()`` photo (no dataset needed):

- ``video``: a 640×480 one-face clip of ``--frames`` frames (the face sliding across), through
  ``predict_video_path`` (VIDEO-mode tracking, batched graph model, CSV streamed): frames per second overall
  and per third of the clip, and the resident memory after each third — flat numbers mean a long video
  does not slow down or grow.
- ``photos``: a folder of ``--photos`` 512×512 portraits (flips and crops of the photo; PNG, and JPEG at
  quality 90 as cameras and phones write them) through
  ``predict_files``: faces per second with one process and with ``--workers`` detector processes (pool
  start included).
- ``one_photo_s``: ``fer-graph predict astronaut.png --json`` as a new process, wall seconds (median of 3),
  process start and model loading included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _clip(path: Path, frames: int) -> None:
    import cv2
    from skimage import data

    head = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[0:300, 80:380], (240, 240))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for i in range(frames):
        frame = np.full((480, 640, 3), 80, np.uint8)
        x = int(200 + 150 * np.sin(i / 40))
        frame[120:360, x:x + 240] = head
        writer.write(frame)
    writer.release()


def _photos(folder: Path, n: int, fmt: str = "png") -> None:
    from PIL import Image
    from skimage import data

    photo = data.astronaut()
    folder.mkdir()
    for i in range(n):
        img = photo[:, ::-1] if i % 2 else photo
        crop = 8 * (i % 5)
        Image.fromarray(np.ascontiguousarray(img[crop:512 - crop, crop:512 - crop])).save(folder / f"p{i:03d}.{fmt}",
                                                                                  **({"quality": 90} if fmt == "jpg" else {}))


def bench_video(tmp: Path, frames: int, model: str | None) -> dict:
    from fer_graph.evaluation.predict_video import predict_video_path

    clip = tmp / "clip.mp4"
    _clip(clip, frames)
    marks: list[tuple[int, float, float]] = []
    thirds = {frames // 3, 2 * frames // 3, frames}

    def on_progress(done: int, total: int) -> None:
        if done in thirds:
            marks.append((done, time.perf_counter(), _rss_mb()))

    start = time.perf_counter()
    r = predict_video_path(clip, model=model, out=tmp / "clip.csv", on_progress=on_progress)
    edges = [(0, start)] + [(d, t) for d, t, _ in marks]
    per_third = [round((d1 - d0) / (t1 - t0), 1) for (d0, t0), (d1, t1) in zip(edges, edges[1:])]
    return {"frames": r["frames"], "frames_with_face": r["frames_with_face"], "size": "640x480",
            "frames_per_s": round(r["frames_per_s"], 1), "frames_per_s_by_third": per_third,
            "rss_mb_by_third": [round(m, 1) for _, _, m in marks]}


def bench_photos(tmp: Path, n: int, model: str | None, workers: int, fmt: str = "png") -> dict:
    from fer_graph.evaluation.predict_io import predict_files

    folder = tmp / f"photos_{fmt}"
    _photos(folder, n, fmt)
    predict_files(folder / f"p000.{fmt}", model=model)  # warm-up: imports and model loading not counted
    res = {"photos": n, "size": "496-512 px", "format": fmt}
    for w in (1, workers):
        start = time.perf_counter()
        r = predict_files(folder, model=model, workers=w)
        seconds = time.perf_counter() - start
        res[f"workers_{w}"] = {"faces": len(r["predictions"]), "seconds": round(seconds, 2),
                               "faces_per_s": round(len(r["predictions"]) / seconds, 1)}
    return res


def bench_one_photo(tmp: Path, model: str | None) -> float:
    from PIL import Image
    from skimage import data

    photo = tmp / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    cli = Path(sys.executable).with_name("fer-graph")
    cmd = [str(cli), "predict", str(photo), "--json"] + (["--model", model] if model else [])
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=900)
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--formats", default="png,jpg", help="comma-separated photo file formats (png, jpg)")
    ap.add_argument("--model", default=os.environ.get("FER_GRAPH_FACE_LANDMARKER"))
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        res = {"video": bench_video(tmp, args.frames, args.model), "photos": [bench_photos(tmp, args.photos, args.model, args.workers, f)
                                                                    for f in args.formats.split(",")],
               "one_photo_s": bench_one_photo(tmp, args.model), "cpu_count": os.cpu_count()}
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
