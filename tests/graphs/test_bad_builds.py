"""Builds that cannot succeed: clear errors, ``skipped.csv`` when nothing is left, no processed folder behind."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image

from fer_graph.exceptions import DatasetLayoutError, LandmarkFileError
from fer_graph.graphs import CKLandsGraphs, LandmarkCSVGraphs
from fer_graph.graphs.build import build_graphs
from fer_graph.graphs.dataset import NoSamplesError
from fer_graph.graphs.synthetic import make_face_landmarks, write_landmark_csv


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _no_processed_folder(out):
    return not out.exists() or list(out.glob("processed/*")) == []


def _csv(path, drop=()):
    """A valid 68-point generic CSV (synthetic faces), without the columns in ``drop``."""
    full = write_landmark_csv(path, make_face_landmarks(2, rng=0))
    lines = [ln.split(",") for ln in full.read_text().splitlines()]
    keep = [j for j, name in enumerate(lines[0]) if name not in drop]
    path.write_text("\n".join(",".join(ln[j] for j in keep) for ln in lines) + "\n")
    return path


# ------------------------------------------------------------------------------------ CSV build errors
def test_csv_without_label_column_is_named(tmp_path):
    path = _csv(tmp_path / "nolabel.csv", drop=("label",))
    with pytest.raises(LandmarkFileError, match=r"nolabel.csv:1: no 'label' column \(columns: sample_id, subject, "
                                                r"sequence_id, x0, .*\); a graph dataset needs a label per row.*"
                                                r"anger, contempt, disgust"):
        build_graphs("csv", path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_without_label_and_subject_columns_builds_with_one_label_and_subject(tmp_path):
    from typer.testing import CliRunner

    from fer_graph.cli import app

    path = _csv(tmp_path / "clip.csv", drop=("label", "subject"))
    result = CliRunner().invoke(app, ["build-graphs", "--source", "csv", "--root", str(path), "--out",
                                      str(tmp_path / "out"), "--label", "happy", "--subject", "P01"])
    assert result.exit_code == 0, result.output
    ds = LandmarkCSVGraphs(tmp_path / "out", path, label="happy", subject="P01")
    assert ds.classes == ["happiness"] and len(ds) == len(_rows(path)) and ds.subjects == ["P01"]
    with pytest.raises(ValueError, match="label / subject apply to csv sources"):
        build_graphs("ck-lands", None, tmp_path / "ck", label="happy")


def test_67_point_csv_says_expected_vs_got(tmp_path):
    path = _csv(tmp_path / "p67.csv", drop=("x67", "y67"))
    with pytest.raises(LandmarkFileError, match=r"p67.csv:1: the landmark columns hold 67 points per row: no face "
                                                r"topology for 67 landmarks; expected 68 \(iBUG\), 468 or 478"):
        build_graphs("csv", path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"", b"sample_id,subject,label,x0,y0\n"], ids=["0-bytes", "header-only"])
def test_empty_csv_build_names_file_and_line(tmp_path, content):
    (tmp_path / "e.csv").write_bytes(content)
    with pytest.raises(LandmarkFileError, match=r"e.csv:[12]: (empty file|no data rows after the header)"):
        build_graphs("csv", tmp_path / "e.csv", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_all_rows_unlabelled_writes_skipped_csv_and_counts_reasons(tmp_path):
    path = _csv(tmp_path / "lm.csv")
    lines = path.read_text().splitlines()
    li = lines[0].split(",").index("label")
    blanked = [lines[0]] + [",".join("" if j == li else c for j, c in enumerate(ln.split(","))) for ln in lines[1:]]
    path.write_text("\n".join(blanked) + "\n")
    out = tmp_path / "out"
    with pytest.raises(NoSamplesError, match=r"lm.csv: no samples to build a dataset from: all 12 input\(s\) were "
                                             r"skipped: unlabelled 12 \(e.g. .*lm.csv:2: empty label\)\. Every skipped "
                                             rf"input, with its reason, is listed in {out / 'skipped.csv'}") as info:
        build_graphs("csv", path, out)
    assert len(info.value.skipped) == 12 and info.value.skipped_csv == out / "skipped.csv"
    rows = _rows(out / "skipped.csv")
    assert len(rows) == 12 and {r["reason"] for r in rows} == {"unlabelled"} and rows[0]["path"].endswith("lm.csv:2")
    assert _no_processed_folder(out)


# --------------------------------------------------------------------------------- image folder builds
def _stub_detection(monkeypatch):
    """Replace the Face Landmarker by a stand-in that finds no face (images are still decoded)."""
    from fer_graph.graphs import image_dataset
    from fer_graph.landmarks import _mediapipe_worker as worker
    from fer_graph.landmarks import mediapipe_source as ms

    class NoFace:
        def detect(self, image):
            return "no_face"

    def run(chunks, items, model_path, options, progress, *args):
        for chunk in chunks:
            chunk.result = worker.extract_batch(NoFace(), [str(items[i].path) for i in chunk.indices])
            progress(len(chunk.indices))

    monkeypatch.setattr(ms, "_run_in_process", run)
    monkeypatch.setattr(ms, "_sha256", lambda path: "0" * 64)
    monkeypatch.setattr(image_dataset, "_sha256", lambda path: "0" * 64)


def _bad_image_tree(root):
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    for i in range(3):
        (root / "happy" / f"{i}.png").write_bytes(b"not a png")
    Image.new("LAB", (4, 4)).save(root / "sad" / "lab.tif")
    os.symlink("missing.png", root / "sad" / "gone.png")
    os.symlink("loop.png", root / "sad" / "loop.png")
    return root


def test_folder_of_unreadable_images_writes_skipped_csv_and_names_top_reasons(tmp_path, monkeypatch):
    _stub_detection(monkeypatch)
    model = tmp_path / "stand-in.task"
    model.write_bytes(b"")
    root, out = _bad_image_tree(tmp_path / "imgs"), tmp_path / "out"
    with pytest.raises(NoSamplesError) as info:
        build_graphs("mediapipe", root, out, model=model, workers=0)
    message = str(info.value)
    assert message.startswith(f"{root.resolve()}: no samples to build a dataset from: all 6 input(s) were skipped: ")
    assert "unreadable 3 (e.g. " in message and "UnidentifiedImageError" in message
    assert "broken_link 1 (e.g. " in message and "link_loop 1" in message and "and 1 other reason(s)" in message
    assert message.endswith(f"is listed in {out / 'skipped.csv'}")
    reasons = sorted(r["reason"] for r in _rows(out / "skipped.csv"))
    assert reasons == ["broken_link", "link_loop", "unreadable", "unreadable", "unreadable", "unsupported_mode"]
    assert _no_processed_folder(out)


@pytest.mark.mediapipe
def test_16bit_face_is_built_links_and_junk_are_skipped(tmp_path, ck48_subset, model_path):
    face = np.asarray(Image.open(sorted(ck48_subset.glob("happy/*.png"))[0]).convert("L"))
    root = tmp_path / "imgs"
    (root / "happy").mkdir(parents=True)
    Image.fromarray(face.astype(np.uint16) * 257).save(root / "happy" / "face16.png")
    (root / "happy" / "junk.png").write_bytes(b"junk")
    os.symlink("missing.png", root / "happy" / "gone.png")
    ds, summary = build_graphs("mediapipe", root, tmp_path / "out", model=model_path, workers=0)
    assert len(ds) == 1 and summary["skipped"] == {"broken_link": 1, "unreadable": 1}
    assert sorted(r["reason"] for r in _rows(tmp_path / "out" / "skipped.csv")) == ["broken_link", "unreadable"]


# ---------------------------------------------------------------------------- no folders left by failures
def test_failed_build_leaves_no_processed_folder(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sample_id,label,x0,y0\na,happy,1\n")
    out = tmp_path / "out"
    with pytest.raises(LandmarkFileError, match=r"bad.csv:2: 3 fields, expected 4"):
        LandmarkCSVGraphs(out, bad)
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # an existing OUT and its files stay
    with pytest.raises(LandmarkFileError):
        LandmarkCSVGraphs(out, bad)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_failed_rebuild_keeps_a_complete_earlier_build_and_drops_a_half_written_one(tmp_path, monkeypatch,
                                                                                      ck_lands_small):
    out = tmp_path / "out"
    folder = CKLandsGraphs(out, ck_lands_small).processed_dir
    om = ck_lands_small / "S001" / "omlands.csv"
    good = om.read_text()
    om.write_text(good + "001; oops\n")  # the raw data changed and is now broken: the rebuild fails early
    with pytest.raises(LandmarkFileError, match=r"S001/omlands.csv:25: expected a sequence id and 136 coordinates .*, got 1 coordinate"):
        CKLandsGraphs(out, ck_lands_small)
    assert sorted(os.listdir(folder)) == ["data.pt", "meta.json", "pre_filter.pt", "pre_transform.pt"]
    om.write_text(good)
    os.utime(om, (1, 1))  # changed again: rebuilt, and this time writing data.pt fails

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        CKLandsGraphs(out, ck_lands_small)
    assert not os.path.exists(folder) and not (out / "processed").exists()
    monkeypatch.undo()
    assert len(CKLandsGraphs(out, ck_lands_small)) == 24


def test_opening_an_incomplete_processed_folder_deletes_nothing(tmp_path, ck_lands_small):
    from fer_graph.graphs.load import ProcessedGraphs

    ds = CKLandsGraphs(tmp_path / "out", ck_lands_small)
    folder = ds.processed_dir
    os.remove(os.path.join(folder, "data.pt"))
    with pytest.raises(DatasetLayoutError, match="incomplete processed dataset"):
        ProcessedGraphs(folder)
    assert os.path.isfile(os.path.join(folder, "meta.json"))
