"""Graph construction: fixed topologies, landmark normalization, PyG datasets."""

from .build import SOURCES, build_graphs
from .dataset import CKLandsGraphs, FaceGraphDataset, LandmarkCSVGraphs, head_pose
from .normalize import NormalizationParams, denormalize_landmarks, eye_centers, normalize_for_topology, normalize_landmarks
from .synthetic import LandmarkSetGraphs, make_face_landmarks, write_ck_lands, write_landmark_csv
from .topology import IBUG68, MEDIAPIPE468, MEDIAPIPE478, Topology, get_topology, list_topologies, topology_for_points

__all__ = [
    "SOURCES", "build_graphs",
    "FaceGraphDataset", "CKLandsGraphs", "LandmarkCSVGraphs", "head_pose",
    "NormalizationParams", "normalize_landmarks", "normalize_for_topology", "denormalize_landmarks", "eye_centers",
    "Topology", "IBUG68", "MEDIAPIPE468", "MEDIAPIPE478", "get_topology", "list_topologies", "topology_for_points",
]
