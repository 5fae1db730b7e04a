"""Benchmark MediaPipe Face Landmarker extraction over an image folder.

Measures, on the same images:
  1. the full path, ``extract_image_folder`` with W worker processes and an empty temporary cache:
     images/s, time to the first finished task (pool start-up), detection rate, tiers, skip reasons;
  2. a re-run from that cache;
  3. optionally (``--no-pin-check`` skips it) the full path again with workers NOT pinned to CPUs;
  4. an in-process stage profile with one detector: decode, pad, detect per tier (MediaPipe call +
     landmark conversion), the rest of ``detect`` (mp.Image, IoU, blendshapes);
  5. start-up of a fresh process: ``import mediapipe`` and creation of every tier's landmarker.

Usage:
    python experiments/bench_extraction.py --root ../shared/data/fer2013/publictest --workers 2 \\
        --json reports/bench_extraction.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:
    import fer_graph  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from fer_graph.landmarks import _mediapipe_worker as worker  # noqa: E402
from fer_graph.landmarks import mediapipe_source as ms  # noqa: E402

DATA = Path(os.environ.get("FER_GRAPH_DATA", REPO.parent / "shared" / "data"))
SHARED_MODEL = Path(os.environ.get("FER_GRAPH_SHARED", REPO.parent / "shared")) / "models" / "face_landmarker.task"


def subset_folder(root: Path, limit: int | None, tmp: Path) -> Path:
    """``root`` itself, or a tree of symlinks to ``limit`` images spread evenly over its sorted list."""
    items = ms.scan_image_folder(root)
    if limit is None or limit >= len(items):
        return root
    step = len(items) / limit
    out = tmp / root.resolve().name  # same folder name: same split name for <root>/<label>/* layouts
    for k in range(limit):
        item = items[int(k * step)]
        link = out / item.sample_id
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(item.path.resolve())
    return out


def full_path(root: Path, workers: int, model: Path, pin: bool) -> dict:
    marks = []
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        ls = ms.extract_image_folder(root, cache_dir=cache, model=model, workers=workers, pin_workers=pin,
                                     on_progress=lambda done, total: marks.append((time.perf_counter(), done)))
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        ms.extract_image_folder(root, cache_dir=cache, model=model, workers=workers, pin_workers=pin)
        cached = time.perf_counter() - start
    items = ms.scan_image_folder(root)
    first = next((t for t, done in marks if done > 0), start) - (marks[0][0] if marks else start)
    return {
        "images": len(items), "workers": workers, "pinned": pin, "seconds": seconds,
        "images_per_s": len(items) / seconds, "first_task_s": first, "cached_rerun_s": cached,
        "detection_rate": ms.detection_rates(items, ls), "detected": len(ls),
        "tiers": {int(t): int(c) for t, c in zip(*np.unique(ls.tiers, return_counts=True))},
        "skipped": dict(collections.Counter(s.reason for s in ls.skipped)),
    }


def stage_profile(root: Path, model: Path, limit: int) -> dict:
    items = ms.scan_image_folder(root)
    items = items[:: max(1, len(items) // limit)][:limit]
    t = collections.defaultdict(float)
    with ms.FaceLandmarkDetector(model) as det:
        create = det.timings["create"]
        for item in items[:10]:  # warm-up
            det.detect(worker.load_image(str(item.path)))
        det.timings["detect"] = [0.0] * len(det.timings["detect"])
        det.timings["calls"] = [0] * len(det.timings["calls"])
        for item in items:
            t0 = time.perf_counter()
            image = worker.load_image(str(item.path))
            t1 = time.perf_counter()
            det.pad_image(image)
            t2 = time.perf_counter()
            det.detect(image)
            t3 = time.perf_counter()
            t["decode"] += t1 - t0
            t["pad"] += t2 - t1
            t["detect_total"] += t3 - t2
        n = len(items)
        per_tier = [{"calls": c, "ms_per_call": 1e3 * s / c if c else 0.0, "ms_per_image": 1e3 * s / n}
                    for s, c in zip(det.timings["detect"], det.timings["calls"])]
    other = t["detect_total"] - t["pad"] - sum(det.timings["detect"])
    return {
        "images": n, "create_in_warm_process_s": create,
        "ms_per_image": {"decode": 1e3 * t["decode"] / n, "pad": 1e3 * t["pad"] / n,
                         "detect_other": 1e3 * other / n, "total": 1e3 * (t["decode"] + t["detect_total"]) / n},
        "tiers": per_tier,
    }


def cold_start(model: Path) -> dict:
    code = (
        "import time; t=time.perf_counter(); import mediapipe; t1=time.perf_counter();"
        "from fer_graph.landmarks.mediapipe_source import FaceLandmarkDetector as D;"
        f"d=D({str(model)!r}); print(t1-t, d.timings['create']); d.close()"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    total = time.perf_counter() - start
    import_s, create_s = map(float, out.stdout.split())
    return {"process_total_s": total, "import_mediapipe_s": import_s, "create_all_tiers_s": create_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DATA / "fer2013" / "publictest")
    parser.add_argument("--limit", type=int, default=None, help="use N images spread over the folder")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--model", type=Path, default=SHARED_MODEL if SHARED_MODEL.is_file() else None,
                        help="face_landmarker.task (default: ../shared/models/, else resolve_model_path)")
    parser.add_argument("--profile-images", type=int, default=500, help="images for the in-process profile")
    parser.add_argument("--no-pin-check", action="store_true", help="skip the run with unpinned workers")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    model = ms.resolve_model_path(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        root = subset_folder(args.root, args.limit, Path(tmp))
        report = {
            "config": {"root": str(args.root), "limit": args.limit, "workers": args.workers,
                       "cpu_count": os.cpu_count(), "options": ms.DetectionOptions().as_dict(),
                       "python": platform.python_version(), "mediapipe": metadata.version("mediapipe"),
                       "numpy": np.__version__, "model": str(model),
                       "loadavg_before": os.getloadavg()},
            "full": full_path(root, args.workers, model, pin=True),
        }
        if not args.no_pin_check and args.workers > 1:
            report["full_unpinned"] = full_path(root, args.workers, model, pin=False)
        report["profile"] = stage_profile(root, model, args.profile_images)
    report["cold_start"] = cold_start(model)
    report["config"]["loadavg_after"] = os.getloadavg()

    f, p, c = report["full"], report["profile"], report["cold_start"]
    load = report["config"]["loadavg_before"][0], report["config"]["loadavg_after"][0]
    rows = [
        ("images", f"{f['images']}"),
        ("load average (1 min) before, after", f"{load[0]:.2f}, {load[1]:.2f} on {os.cpu_count()} CPUs"),
        (f"full path, {f['workers']} workers (pinned)", f"{f['images_per_s']:.1f} images/s ({f['seconds']:.1f} s)"),
    ]
    if "full_unpinned" in report:
        u = report["full_unpinned"]
        rows.append((f"full path, {u['workers']} workers, unpinned",
                     f"{u['images_per_s']:.1f} images/s ({u['seconds']:.1f} s)"))
    rows += [
        ("first task done after", f"{f['first_task_s']:.2f} s"),
        ("cached re-run", f"{f['cached_rerun_s']:.2f} s"),
        ("detection rate", ", ".join(f"{k} {v:.2%}" for k, v in f["detection_rate"].items())),
        ("faces per tier", str(f["tiers"])),
        ("skipped", str(f["skipped"])),
        (f"profile ({p['images']} images, 1 process)", f"{p['ms_per_image']['total']:.2f} ms/image"),
        ("  decode (Pillow)", f"{p['ms_per_image']['decode']:.2f} ms/image"),
        ("  pad to canvas", f"{p['ms_per_image']['pad']:.2f} ms/image"),
    ]
    rows += [(f"  detect tier {i} ({t['calls']} calls)",
              f"{t['ms_per_call']:.2f} ms/call, {t['ms_per_image']:.2f} ms/image") for i, t in enumerate(p["tiers"])]
    rows += [
        ("  detect, rest (mp.Image, IoU, blendshapes)", f"{p['ms_per_image']['detect_other']:.2f} ms/image"),
        ("create all tiers (warm process)", f"{p['create_in_warm_process_s']:.2f} s"),
        ("fresh process: import mediapipe", f"{c['import_mediapipe_s']:.2f} s"),
        ("fresh process: create all tiers", f"{c['create_all_tiers_s']:.2f} s"),
        ("fresh process: total", f"{c['process_total_s']:.2f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
