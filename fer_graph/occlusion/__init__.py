"""Occlusion of face-landmark graphs: named region presets (:mod:`fer_graph.occlusion.regions`)."""

from .regions import REGION_NAMES, RegionError, draw_region_gallery, get_region, list_regions, region_mask

__all__ = ["REGION_NAMES", "RegionError", "get_region", "list_regions", "region_mask", "draw_region_gallery"]
