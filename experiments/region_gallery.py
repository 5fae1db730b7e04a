"""Draw the named occlusion region presets on the mean face of each topology, one PNG.

Usage:
    python experiments/region_gallery.py --out reports/regions.png [--topologies ibug68 mediapipe468]
        [--model face_landmarker.task] [--dpi 100]

One row per topology, one panel per preset (red nodes over the gray mesh), faces as seen (the subject's
left on the image right). MediaPipe rows need the canonical face of ``face_landmarker.task``
(``--model``, else ``$FER_GRAPH_FACE_LANDMARKER``, else ``../shared/models/face_landmarker.task``).
See :mod:`fer_graph.occlusion.regions` for the definitions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_graph.occlusion.regions import draw_region_gallery


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("reports/regions.png"))
    p.add_argument("--topologies", nargs="+", default=["ibug68", "mediapipe468"])
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--dpi", type=int, default=100)
    args = p.parse_args(argv)
    print(draw_region_gallery(args.out, args.topologies, model=args.model, dpi=args.dpi))


if __name__ == "__main__":
    main()
