from __future__ import annotations

import numpy as np
import pytest

from fer_graph.graphs import _mediapipe_mesh as mp
from fer_graph.graphs import topology as T
from fer_graph.occlusion import regions as R
from fer_graph.occlusion.regions import REGION_NAMES, get_region, list_regions, region_mask

TOPOLOGIES = [T.IBUG68, T.MEDIAPIPE468, T.MEDIAPIPE478]
PAIRS = [("left_eye", "right_eye"), ("left_brow", "right_brow"), ("left_half", "right_half")]
SYMMETRIC = ["eyes", "brows", "nose", "mouth", "lower_face", "upper_face", "jaw"]
DISJOINT = [("left_eye", "right_eye"), ("left_half", "right_half"), ("left_brow", "left_eye"),
            ("right_brow", "right_eye"), ("mouth", "eyes"), ("lower_face", "eyes"), ("lower_face", "upper_face")]
by_name = pytest.mark.parametrize("topo", TOPOLOGIES, ids=lambda t: t.name)


def S(name, topo) -> set[int]:
    return set(get_region(name, topo).tolist())


def points(connections) -> set[int]:
    return {i for edge in connections for i in edge}


def test_names():
    assert list_regions() == list(REGION_NAMES) and len(set(REGION_NAMES)) == 13
    assert REGION_NAMES[:3] == ("left_eye", "right_eye", "eyes") and REGION_NAMES[-1] == "jaw"


@by_name
@pytest.mark.parametrize("name", REGION_NAMES)
def test_every_preset_is_sorted_unique_in_range(topo, name):
    idx = get_region(name, topo)
    assert idx.dtype == np.int64 and idx.ndim == 1 and len(idx) > 0
    assert (np.diff(idx) > 0).all() and idx[0] >= 0 and idx[-1] < topo.num_nodes
    assert np.array_equal(idx, get_region(name, topo.name))  # object or name


@by_name
def test_left_presets_mirror_onto_right_ones(topo):
    m = np.asarray(topo.mirror)
    for left, right in PAIRS:
        assert set(m[get_region(left, topo)].tolist()) == S(right, topo), (left, right)


@by_name
@pytest.mark.parametrize("name", SYMMETRIC)
def test_symmetric_presets_are_closed_under_mirror(topo, name):
    assert set(np.asarray(topo.mirror)[get_region(name, topo)].tolist()) == S(name, topo)


@by_name
def test_disjoint_and_nested_presets(topo):
    for a, b in DISJOINT:
        assert not S(a, topo) & S(b, topo), (a, b)
    assert S("eyes", topo) == S("left_eye", topo) | S("right_eye", topo)
    assert S("brows", topo) == S("left_brow", topo) | S("right_brow", topo)
    assert S("upper_face", topo) >= S("eyes", topo) | S("brows", topo)
    assert S("lower_face", topo) >= S("mouth", topo)


@by_name
def test_midline_nodes_are_in_neither_half(topo):
    # midline = the mirror's fixed points (nose bridge, nose tip, lip centres, chin)
    neither = set(range(topo.num_nodes)) - S("left_half", topo) - S("right_half", topo)
    assert neither == {i for i, j in enumerate(topo.mirror) if i == j}
    assert S("left_half", topo) >= S("left_eye", topo) | S("left_brow", topo)
    assert S("right_half", topo) >= S("right_eye", topo) | S("right_brow", topo)


def test_ibug68_exact():
    t = "ibug68"
    assert S("right_eye", t) == set(range(36, 42)) and S("left_eye", t) == set(range(42, 48))
    assert S("right_brow", t) == set(range(17, 22)) and S("left_brow", t) == set(range(22, 27))
    assert S("nose", t) == set(range(27, 36)) and S("mouth", t) == set(range(48, 68))
    assert S("jaw", t) == set(range(17))
    # medical mask: jaw 3-15 1-based (below the nose tip, point 31), lower nose 31-36, mouth 49-68
    assert S("lower_face", t) == set(range(2, 15)) | set(range(30, 36)) | set(range(48, 68))
    assert S("upper_face", t) == set(range(17, 30)) | set(range(36, 48))
    assert S("left_half", t) == {*range(9, 17), *range(22, 27), 34, 35, *range(42, 48),
                                 52, 53, 54, 55, 56, 63, 64, 65}


@pytest.mark.parametrize("topo", [T.MEDIAPIPE468, T.MEDIAPIPE478], ids=lambda t: t.name)
def test_mediapipe_presets_contain_their_connection_sets(topo):
    assert S("left_eye", topo) >= points(mp.LEFT_EYE_CONNECTIONS)
    assert S("right_eye", topo) >= points(mp.RIGHT_EYE_CONNECTIONS)
    assert S("left_brow", topo) == points(mp.LEFT_EYEBROW_CONNECTIONS)
    assert S("right_brow", topo) == points(mp.RIGHT_EYEBROW_CONNECTIONS)
    assert S("nose", topo) >= points(mp.NOSE_CONNECTIONS)
    assert S("mouth", topo) >= points(mp.LIPS_CONNECTIONS)
    assert S("lower_face", topo) >= S("mouth", topo) | S("jaw", topo) | {1, 4}  # 1, 4: nose tip
    assert S("jaw", topo) >= {152, 148, 377}  # chin on the face oval
    assert not S("jaw", topo) & S("mouth", topo)
    assert S("left_eye", topo) >= {263, 362} and 362 not in S("right_half", topo)  # subject's left eye


def test_mediapipe478_adds_the_irises_to_their_side():
    right, left = set(T.RIGHT_IRIS_478), set(T.LEFT_IRIS_478)
    assert right - {468} == points(mp.RIGHT_IRIS_CONNECTIONS) and left - {473} == points(mp.LEFT_IRIS_CONNECTIONS)
    assert {T.MIRROR_478[i] for i in right} == left
    for name in REGION_NAMES:
        s468, s478 = S(name, "mediapipe468"), S(name, "mediapipe478")
        assert {i for i in s478 if i < 468} == s468, name
        added = s478 - s468
        if name in ("right_eye", "right_half"):
            assert added == right, name
        elif name in ("left_eye", "left_half"):
            assert added == left, name
        elif name in ("eyes", "upper_face"):
            assert added == right | left, name
        else:
            assert not added, name


@by_name
def test_region_mask(topo):
    for name in REGION_NAMES:
        mask = region_mask(name, topo)
        assert mask.dtype == bool and mask.shape == (topo.num_nodes,)
        assert mask.sum() == len(get_region(name, topo))
        assert np.array_equal(np.flatnonzero(mask), get_region(name, topo))


def test_get_region_returns_a_fresh_array():
    get_region("mouth", "ibug68")[:] = 0
    assert get_region("mouth", "ibug68")[0] == 48


def test_unknown_region_or_topology_raise_value_error():
    with pytest.raises(ValueError, match=r"'nostril'.*left_eye"):
        get_region("nostril", "ibug68")
    with pytest.raises(ValueError, match=r"'dlib5'.*ibug68"):
        get_region("mouth", "dlib5")
    with pytest.raises(ValueError, match="'dlib5'"):
        region_mask("mouth", "dlib5")
    with pytest.raises(R.RegionError):
        get_region("nostril", T.MEDIAPIPE468)


def test_frozen_mediapipe_regions_rederive_from_the_canonical_face():
    from fer_graph.graphs.canonical import CANONICAL_FACE_468

    face = np.asarray(CANONICAL_FACE_468, dtype=np.float64)
    assert int(np.argmax(face[:, 2])) == R.NOSE_TIP_468  # the most anterior point
    derived = R.derive_regions_468(face)
    frozen = R._regions("mediapipe468")
    assert set(derived) == set(REGION_NAMES) - {"eyes", "brows"}
    for name, nodes in derived.items():
        assert nodes == frozen[name], name


def _red(img: np.ndarray) -> np.ndarray:
    """Pixels drawn in the region colour (red), not the grey mesh."""
    return (img[..., 0] - img[..., 1] > 0.3) & (img[..., 0] - img[..., 2] > 0.3)


def test_gallery_png_has_the_expected_size(tmp_path):
    import matplotlib.image as mpimg

    out = R.draw_region_gallery(tmp_path / "sub" / "g.png", ("ibug68",), dpi=40)
    assert out == tmp_path / "sub" / "g.png"
    img = mpimg.imread(out)
    assert img.shape[:2] == (round(2.0 * 40), round(1.6 * 13 * 40))
    red = _red(img)
    # one panel per preset, 13 side by side: every panel has red nodes
    width = img.shape[1] / 13
    assert all(red[:, round(k * width):round((k + 1) * width)].any() for k in range(13))


def test_gallery_mediapipe_rows(tmp_path, monkeypatch):
    """MediaPipe rows draw the canonical face read from the model bundle (here the frozen copy)."""
    import matplotlib.image as mpimg

    from fer_graph.graphs import _canonical_face
    from fer_graph.graphs.canonical import CANONICAL_FACE_468

    read = []
    monkeypatch.setattr(_canonical_face, "read_canonical_face",
                        lambda path: read.append(path) or np.asarray(CANONICAL_FACE_468, dtype=np.float64))
    bundle = tmp_path / "face_landmarker.task"
    bundle.write_bytes(b"stand-in")
    out = R.draw_region_gallery(tmp_path / "g.png", ("ibug68", "mediapipe468", "mediapipe478"),
                                model=bundle, dpi=20)
    img = mpimg.imread(out)
    assert img.shape[:2] == (round(2.0 * 3 * 20), round(1.6 * 13 * 20))
    assert read == [bundle, bundle]  # one read per MediaPipe row
    rows = np.array_split(_red(img), 3, axis=0)
    assert all(r.any() for r in rows)


@pytest.mark.mediapipe
def test_gallery_from_the_model_file(tmp_path, model_path):
    import matplotlib.image as mpimg

    out = R.draw_region_gallery(tmp_path / "g.png", ("mediapipe468",), model=model_path, dpi=20)
    assert mpimg.imread(out).shape[:2] == (round(2.0 * 20), round(1.6 * 13 * 20))


def test_gallery_without_model_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.task"):
        R.draw_region_gallery(tmp_path / "g.png", ("mediapipe468",), model=tmp_path / "nope.task")
