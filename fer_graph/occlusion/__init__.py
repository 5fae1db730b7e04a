"""Occlusion of face-landmark graphs: named regions, masks, strategies, noise and PyG transforms.

- :mod:`~fer_graph.occlusion.regions`: region presets (eyes, mouth, lower_face, left_half...) for both topologies;
- :mod:`~fer_graph.occlusion.masks`: occlusion masks — regions, contiguous BFS patches, random node dropout;
- :mod:`~fer_graph.occlusion.strategies`: node removal, feature masking, mean-shape imputation on dense batches;
- :mod:`~fer_graph.occlusion.noise`: Gaussian landmark noise in IOD units;
- :mod:`~fer_graph.occlusion.transforms`: the same as PyG ``BaseTransform`` s on single graphs;
- :mod:`~fer_graph.occlusion.augment`: random occlusion for ``--mask-augment`` training;
- :mod:`~fer_graph.occlusion.image`: occluders painted on images (sunglasses, medical mask, half-face cover).
"""

from .image import OccluderStyle, occluder_style, paint_occluder, save_occluder_gallery
from .masks import bfs_order, patch_masks, random_masks, region_masks
from .noise import landmark_noise
from .regions import REGION_NAMES, RegionError, draw_region_gallery, get_region, list_regions, region_mask
from .strategies import STRATEGIES, OccludedBatch, occlude
from .transforms import LandmarkNoise, Occlude, RandomNodeDropout, RandomPatchOcclusion, occlude_graph

__all__ = ["REGION_NAMES", "RegionError", "get_region", "list_regions", "region_mask", "draw_region_gallery",
           "bfs_order", "patch_masks", "random_masks", "region_masks", "landmark_noise", "STRATEGIES",
           "OccludedBatch", "occlude", "Occlude", "RandomPatchOcclusion", "RandomNodeDropout", "LandmarkNoise",
           "occlude_graph", "OccluderStyle", "occluder_style", "paint_occluder", "save_occluder_gallery"]
