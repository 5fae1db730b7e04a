from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.mediapipe


def _subjects(root):
    return {p.name.split("_")[0] for p in root.rglob("*.png")}


def test_image_folder_graphs(ck48_graphs, ck48_subset):
    ds = ck48_graphs
    assert len(ds) == 18 and ds.meta["topology"] == "mediapipe468"
    d = ds[0]
    assert d.x.shape == (468, 2) and d.blendshapes.shape == (1, 52) and d.head_pose.shape == (1, 3)
    assert d.edge_index.shape == (2, 2644)
    assert ds.classes == ["happiness", "sadness", "surprise"]
    assert ds.subjects == sorted(_subjects(ck48_subset)) and ds.meta["attempted_per_split"] == {"ck48": 18}
    assert np.abs(ds.tensor("head_pose").numpy()).max() < 45  # frontal CK+ faces
    assert ((ds.tensor("blendshapes") >= 0) & (ds.tensor("blendshapes") <= 1)).all()


def test_build_graphs_summary_for_images(tmp_path, ck48_subset, model_path):
    from fer_graph.graphs.build import build_graphs

    ds, summary = build_graphs("mediapipe", ck48_subset, tmp_path / "o", workers=0, model=model_path)
    assert summary["detection_rate"] == {"ck48": 1.0} and summary["subjects"] == len(_subjects(ck48_subset))
    assert summary["images_per_s"] > 0 and summary["nodes"] == 468 and summary["edges"] == 1322
    # Face Mesh builds default to 3-D graphs rotated onto the canonical face
    assert summary["node_dims"] == 3 and ds.meta["options"]["align"] == "pose" and ds.tensor("pos").shape[-1] == 3
    again, s2 = build_graphs("mediapipe", ck48_subset, tmp_path / "o", workers=0, model=model_path)
    assert not s2["rebuilt"]
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["graphs"] == 18


def test_meshes_map_to_ibug68_in_image_normalized_units():
    from fer_graph.graphs.image_dataset import _as_ibug68
    from fer_graph.graphs.synthetic import make_face_landmarks
    from fer_graph.landmarks import mesh_to_ibug68

    lms = make_face_landmarks(2, topology="mediapipe478", rng=5)
    lms.image_sizes[:] = [160, 90]  # non-square images: the mapping works in pixels
    lms.image_sizes[1::2] = [64, 64]
    out = _as_ibug68(lms)
    assert out.points.shape == (len(lms.points), 68, 3) and out.blendshapes is lms.blendshapes
    expected = mesh_to_ibug68(lms.pixel_points())
    np.testing.assert_allclose(out.pixel_points(), expected, rtol=1e-5, atol=1e-4)


def test_ibug68_builds_only_from_meshes(tmp_path):
    from fer_graph.graphs.build import build_graphs

    with pytest.raises(ValueError, match="ibug68 maps Face Mesh"):
        build_graphs("ck-lands", tmp_path, tmp_path / "out", ibug68=True)


@pytest.mark.mediapipe
@pytest.mark.data
def test_ibug68_graphs_from_images(tmp_path, ck48_subset, model_path):
    from fer_graph.graphs.build import build_graphs

    ds, summary = build_graphs("mediapipe", ck48_subset, tmp_path / "out", model=model_path, workers=1, ibug68=True)
    assert summary["topology"] == "ibug68" and summary["nodes"] == 68 and ds[0].pos.shape == (68, 2)
    assert ds[0].blendshapes.shape == (1, 52)
