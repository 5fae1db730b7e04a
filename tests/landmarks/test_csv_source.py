from __future__ import annotations

import numpy as np
import pytest

from fer_graph.exceptions import DatasetLayoutError, LandmarkFileError, UnknownLabelError
from fer_graph.labels import FER2013_CODES
from fer_graph.landmarks import read_ck_lands, read_landmark_csv


def _generic_csv(path, pts, labels, subjects, dims=2):
    cols = [f"{a}{i}" for i in range(pts.shape[1]) for a in "xyz"[:dims]]
    rows = ["sample_id,subject,label," + ",".join(cols)]
    for k, (p, lab, sub) in enumerate(zip(pts, labels, subjects)):
        rows.append(f"s{k},{sub},{lab}," + ",".join(f"{v:.3f}" for v in p.reshape(-1)))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_generic_2d_roundtrip_ck_lands_landmarks(tmp_path, ck_lands_small):
    ck = read_ck_lands(ck_lands_small)
    p = _generic_csv(tmp_path / "lm.csv", ck.points, ck.labels, ck.subjects)
    lms = read_landmark_csv(p)
    assert lms.points.shape == (24, 68, 2) and lms.points.dtype == np.float32
    np.testing.assert_allclose(lms.points, ck.points, atol=5e-4)  # written with 3 decimals
    assert lms.labels == ck.labels and lms.subjects == ck.subjects
    assert lms.sample_ids == [f"s{k}" for k in range(24)] and lms.source == "csv" and lms.units == "pixels"
    assert lms.onset is None and lms.splits is None and lms.skipped == []


def test_generic_3d_and_label_codes(tmp_path):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(3, 478, 3)).astype(np.float32)
    p = _generic_csv(tmp_path / "mp.csv", pts, ["3", "0", "6"], ["a", "b", "c"], dims=3)
    lms = read_landmark_csv(p, label_map=FER2013_CODES)
    assert lms.points.shape == (3, 478, 3)
    np.testing.assert_allclose(lms.points, pts, atol=1e-3)
    assert lms.labels == ["happiness", "anger", "neutral"]
    with pytest.raises(UnknownLabelError, match="label_map"):
        read_landmark_csv(p)


def test_openface_columns_and_failed_frames(tmp_path):
    # OpenFace 2.x FeatureExtraction header style: leading spaces, x_0..x_67 then y_0..y_67
    header = ["frame", " face_id", " timestamp", " confidence", " success"]
    header += [f" x_{i}" for i in range(68)] + [f" y_{i}" for i in range(68)]
    rows = [",".join(header)]
    for f, ok in ((1, 1), (2, 0), (3, 1)):
        rows.append(",".join([str(f), "0", "0.0", "0.98", str(ok)] + [str(i + f) for i in range(68)]
                             + [str(100 + i) for i in range(68)]))
    p = tmp_path / "clip01.csv"
    p.write_text("\n".join(rows) + "\n")
    lms = read_landmark_csv(p, label="happy", subject="S001")
    assert lms.points.shape == (2, 68, 2)
    np.testing.assert_array_equal(lms.points[1, :3], [[3, 100], [4, 101], [5, 102]])
    assert lms.labels == ["happiness", "happiness"] and lms.subjects == ["S001", "S001"]
    assert lms.sample_ids == ["clip01@1", "clip01@3"] and lms.sequence_ids == ["clip01", "clip01"]
    assert [(s.path.endswith("clip01.csv:3"), s.reason) for s in lms.skipped] == [(True, "no_face")]


def test_bad_inputs(tmp_path):
    pts = np.zeros((2, 68, 2), dtype=np.float32) + 1
    p = _generic_csv(tmp_path / "a.csv", pts, ["happy", "sad"], ["s1", "s2"])
    text = p.read_text().splitlines()
    bad = text[:]
    bad[2] = bad[2].replace(",1.000,", ",nan,", 1)
    p.write_text("\n".join(bad) + "\n")
    with pytest.raises(LandmarkFileError, match=r"a.csv:3: column 'x0' is 'nan'"):
        read_landmark_csv(p)
    bad = text[:]
    bad[1] = bad[1].replace(",happy,", ",ecstatic,")
    p.write_text("\n".join(bad) + "\n")
    with pytest.raises(UnknownLabelError, match=r"a.csv:2: unknown expression label 'ecstatic'"):
        read_landmark_csv(p)
    p.write_text("sample_id,label,x0,y0,x2,y2\n1,happy,1,2,3,4\n")
    with pytest.raises(LandmarkFileError, match=r"missing \['x1', 'y1'\]"):
        read_landmark_csv(p)
    p.write_text("sample_id,label,foo\n1,happy,2\n")
    with pytest.raises(LandmarkFileError, match="no landmark columns"):
        read_landmark_csv(p)
    with pytest.raises(DatasetLayoutError, match="not found"):
        read_landmark_csv(tmp_path / "missing.csv")


def test_empty_label_is_a_recorded_skip(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("sample_id,subject,label,x0,y0,x1,y1\na,s,happy,0,0,1,1\nb,s,,0,0,1,1\n")
    lms = read_landmark_csv(p)
    assert lms.sample_ids == ["a"] and lms.skipped[0].reason == "unlabelled"
    assert lms.skipped[0].path.endswith("b.csv:3")


def test_unlabelled_rows_kept_for_prediction(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("sample_id,x0,y0,x1,y1\na,0,0,1,1\n")
    assert read_landmark_csv(p).skipped[0].reason == "unlabelled"
    lms = read_landmark_csv(p, require_label=False)
    assert lms.labels == [""] and lms.sample_ids == ["a"]
