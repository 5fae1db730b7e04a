"""Bad inputs on the landmark side: image modes, symlinks under image folders, BOMs and malformed CSVs.

Every input is made in ``tmp_path``: images with Pillow (or a hand-written PNG where Pillow cannot write the
mode), CSVs by hand or with :mod:`fer_graph.graphs.synthetic`.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fer_graph.landmarks import _mediapipe_worker as worker
from fer_graph.landmarks.images import ImageReadError, load_rgb
from fer_graph.landmarks.mediapipe_source import scan_image_folder, scan_image_tree

LEVELS = np.array([0, 1, 128, 255], np.uint8)  # what 16-bit 0, 257, 32896, 65535 must become


class _Recorder:
    """Stands in for FaceLandmarkDetector: keeps the pixels it is given, finds no face."""

    def __init__(self) -> None:
        self.images: list[np.ndarray] = []

    def detect(self, image: np.ndarray) -> str:
        self.images.append(image.copy())
        return "no_face"


def _png(path, width, height, color_type, rows16):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB): ``rows16`` (H, W, C) uint16."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rows16)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


# ------------------------------------------------------------------------------------------ image modes
def test_16bit_png_reaches_the_detector_scaled_not_clipped(tmp_path):
    path = tmp_path / "g16.png"
    Image.fromarray(np.array([[0, 257, 32896, 65535]] * 2, np.uint16)).save(path)
    assert Image.open(path).mode == "I;16"
    det = _Recorder()
    out = worker.extract_batch(det, [str(path)])
    assert out["reasons"] == ["no_face"]
    (image,) = det.images
    assert image.shape == (2, 4, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[0, :, 0], LEVELS)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_16bit_gray_modes_divide_by_257(tmp_path, mode):
    values = np.array([[0, 257, 32896, 65535]], np.uint16)
    im = (Image.fromarray(values.astype(np.int32)) if mode == "I"
          else Image.frombytes(mode, (4, 1), values.astype(">u2" if mode.endswith("B") else "<u2").tobytes()))
    path = tmp_path / "g.tif"
    im.save(path)
    assert Image.open(path).mode == mode
    rgb = load_rgb(path)
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0], np.repeat(LEVELS[:, None], 3, 1))
    np.testing.assert_array_equal(load_rgb(path, keep_gray=True), LEVELS[None])


def test_32bit_integer_outside_16_bits_is_refused(tmp_path):
    path = tmp_path / "i32.tif"
    Image.fromarray(np.array([[0, 70000]], np.int32)).save(path)
    with pytest.raises(ImageReadError, match=r"i32.tif: unsupported_mode: .*'I' pixels span 0..70000") as info:
        load_rgb(path)
    assert info.value.reason == "unsupported_mode"


def test_16bit_rgb_png_keeps_the_high_byte(tmp_path):
    rows = np.zeros((1, 2, 3), np.uint16)
    rows[0, 0] = (65535, 32896, 257)
    rows[0, 1] = (0, 25700, 65535)
    rgb = load_rgb(_png(tmp_path / "rgb16.png", 2, 1, 2, rows))
    np.testing.assert_array_equal(rgb[0], [[255, 128, 1], [0, 100, 255]])


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    im = Image.new("P", (3, 1))
    im.putpalette([255, 0, 0, 0, 0, 255, 10, 20, 30])
    im.putpixel((1, 0), 1)
    im.putpixel((2, 0), 2)
    im.save(tmp_path / "p.png", transparency=0)
    np.testing.assert_array_equal(load_rgb(tmp_path / "p.png")[0], [[255, 255, 255], [0, 0, 255], [10, 20, 30]])
    im.save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "opaque.png")[0, 0], [255, 0, 0])


@pytest.mark.parametrize("mode, pixel, expected", [
    ("RGBA", (200, 100, 0, 0), (255, 255, 255)),         # fully transparent -> white
    ("RGBA", (200, 100, 0, 255), (200, 100, 0)),         # opaque -> as is
    ("RGBA", (0, 0, 0, 128), (127, 127, 127)),           # 50% black on white
    ("LA", (100, 128), (177, 177, 177)),                 # 100·a + 255·(1 - a), a = 128/255
    ("CMYK", (0, 255, 0, 0), (255, 0, 255)),             # Pillow's CMYK -> RGB: magenta
    ("1", 1, (255, 255, 255)),
    ("L", 77, (77, 77, 77)),
])
def test_alpha_cmyk_bilevel_modes(tmp_path, mode, pixel, expected):
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    Image.new(mode, (2, 2), pixel).save(path)
    rgb = load_rgb(path)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[1, 1], expected)


def test_float_images_in_unit_range_scale_by_255_others_are_refused(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32)).save(tmp_path / "f.tif")
    np.testing.assert_array_equal(load_rgb(tmp_path / "f.tif")[0, :, 0], [0, 128, 255])
    Image.fromarray(np.array([[0.0, 200.0]], np.float32)).save(tmp_path / "f255.tif")
    with pytest.raises(ImageReadError, match=r"'F' pixels span \[0, 200\]; expected values in \[0, 1\]"):
        load_rgb(tmp_path / "f255.tif")
    Image.fromarray(np.array([[0.0, np.nan]], np.float32)).save(tmp_path / "nan.tif")
    with pytest.raises(ImageReadError, match="NaN or inf"):
        load_rgb(tmp_path / "nan.tif")


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (3, 2), (0, 0, 0))
    im.putpixel((0, 0), (255, 0, 0))  # top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    im.save(tmp_path / "rot.png", exif=exif)
    rgb = load_rgb(tmp_path / "rot.png")
    assert rgb.shape == (3, 2, 3)
    np.testing.assert_array_equal(rgb[0, 1], [255, 0, 0])  # stored top-left is now top-right


def test_unknown_mode_and_non_image_are_skips_with_the_cause(tmp_path):
    Image.new("LAB", (2, 2)).save(tmp_path / "lab.tif")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:2000])  # stops inside IDAT
    paths = [str(tmp_path / n) for n in ("lab.tif", "junk.png", "cut.png")]
    out = worker.extract_batch(_Recorder(), paths)
    assert out["reasons"] == ["unsupported_mode", "unreadable", "unreadable"]
    assert "'LAB'" in out["details"][0] and "readable modes: 1, L" in out["details"][0]
    assert out["details"][1].startswith("UnidentifiedImageError")
    with pytest.raises(FileNotFoundError):
        load_rgb(tmp_path / "missing.png")


@pytest.mark.mediapipe
def test_16bit_and_float_copies_of_a_face_give_the_8bit_landmarks(tmp_path, ck48_subset, model_path):
    from fer_graph.landmarks.mediapipe_source import FaceLandmarkDetector

    gray = np.asarray(Image.open(sorted(ck48_subset.glob("happy/*.png"))[0]).convert("L"))
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "face16.png")
    Image.fromarray(gray.astype(np.float32) / 255).save(tmp_path / "facef.tif")
    Image.fromarray(gray).save(tmp_path / "face8.png")
    with FaceLandmarkDetector(model_path) as det:
        found = [det.detect(load_rgb(tmp_path / n)) for n in ("face8.png", "face16.png", "facef.tif")]
    assert not any(isinstance(f, str) for f in found)
    for other in found[1:]:
        np.testing.assert_allclose(other.landmarks, found[0].landmarks, atol=1e-6)


# ------------------------------------------------------------------------------------- symlinks in a scan
def _tree_with_links(root):
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    Image.new("L", (4, 4), 90).save(root / "happy" / "a.png")
    Image.new("L", (4, 4), 90).save(root / "sad" / "b.png")
    os.symlink("missing.png", root / "happy" / "gone.png")
    os.symlink("self.png", root / "happy" / "self.png")
    os.symlink("..", root / "sad" / "up")
    os.symlink("nowhere", root / "angry")
    os.symlink("notes-missing.txt", root / "happy" / "notes.txt")  # not an image name: ignored
    return root


def test_broken_and_looping_links_are_recorded_skips(tmp_path):
    scan = scan_image_tree(_tree_with_links(tmp_path / "tree"))
    assert [i.sample_id for i in scan.items] == ["happy/a.png", "sad/b.png"]
    got = {os.path.relpath(r.path, tmp_path / "tree"): r.reason for r in scan.skipped}
    assert got == {"angry": "broken_link", "happy/gone.png": "broken_link", "happy/self.png": "link_loop",
                   "sad/up": "link_loop"}
    assert all(r.detail.startswith("symlink to ") for r in scan.skipped)
    assert [i.sample_id for i in scan_image_folder(tmp_path / "tree")] == ["happy/a.png", "sad/b.png"]


def test_links_reach_extraction_skips(tmp_path, monkeypatch):
    """extract_image_folder puts the scan's link skips in LandmarkSet.skipped (no model needed: the
    detection stage is replaced by one that finds no face)."""
    from fer_graph.landmarks import mediapipe_source as ms

    def no_faces(chunks, items, model_path, options, progress, *args):
        for chunk in chunks:
            chunk.result = worker.extract_batch(_Recorder(), [str(items[i].path) for i in chunk.indices])

    monkeypatch.setattr(ms, "_run_in_process", no_faces)
    monkeypatch.setattr(ms, "_sha256", lambda path: "0" * 64)
    model = tmp_path / "fake.task"
    model.write_bytes(b"")
    lms = ms.extract_image_folder(_tree_with_links(tmp_path / "tree"), cache_dir=tmp_path / "cache", model=model,
                                  workers=0)
    assert len(lms) == 0
    assert sorted(r.reason for r in lms.skipped) == ["broken_link", "broken_link", "link_loop", "link_loop",
                                                     "no_face", "no_face"]


def test_tree_of_broken_links_only_says_so(tmp_path):
    (tmp_path / "t" / "happy").mkdir(parents=True)
    os.symlink("x.png", tmp_path / "t" / "happy" / "b.png")
    with pytest.raises(Exception, match=r"no images found, only symlinks that cannot be followed "
                                        r"\(broken_link: 1; e.g. .*happy/b.png: symlink to x.png"):
        scan_image_folder(tmp_path / "t")
    assert [r.reason for r in scan_image_tree(tmp_path / "t").skipped] == ["broken_link"]


# ------------------------------------------------------------------------------------- byte-order marks
BOM = b"\xef\xbb\xbf"


def _ck_lands(root):
    from fer_graph.graphs.synthetic import make_face_landmarks, write_ck_lands

    return write_ck_lands(root, make_face_landmarks(2, frames=2, rng=0))


def test_bom_in_omlands_and_emotion_csv_changes_nothing(tmp_path):
    from fer_graph.landmarks import read_ck_lands

    clean = read_ck_lands(_ck_lands(tmp_path / "clean"), apex_frames=2)
    root = _ck_lands(tmp_path / "bom")
    for f in (root / "emotion.csv", *root.glob("*/omlands.csv")):
        f.write_bytes(BOM + f.read_bytes())
    got = read_ck_lands(root, apex_frames=2)
    assert got.sample_ids == clean.sample_ids and got.sequence_ids == clean.sequence_ids
    assert "S001_001@1" in got.sample_ids and not any("\ufeff" in s for s in got.sample_ids)
    np.testing.assert_array_equal(got.onset, clean.onset)


def test_bom_in_generic_and_openface_csv_changes_nothing(tmp_path):
    from fer_graph.graphs.synthetic import make_face_landmarks, write_landmark_csv
    from fer_graph.landmarks import read_landmark_csv
    from fer_graph.landmarks.csv_source import read_csv_header

    path = write_landmark_csv(tmp_path / "g.csv", make_face_landmarks(2, rng=0))
    clean = read_landmark_csv(path)
    path.write_bytes(BOM + path.read_bytes())
    assert read_csv_header(path)[0] == "sample_id"
    assert read_landmark_csv(path).sample_ids == clean.sample_ids
    header = ["frame", " success"] + [f" x_{i}" for i in range(68)] + [f" y_{i}" for i in range(68)]
    row = ["1", "1"] + [str(i) for i in range(136)]
    (tmp_path / "of.csv").write_bytes(BOM + (",".join(header) + "\n" + ",".join(row) + "\n").encode())
    assert read_landmark_csv(tmp_path / "of.csv", label="happy").sample_ids == ["of@1"]


# ----------------------------------------------------------------------------------- malformed CSV files
def _generic(path, rows=3, points=68, extra_line=None):
    """A generic 2-D CSV with ``rows`` rows of ``points`` points; ``extra_line`` replaces a data line."""
    cols = [f"{a}{i}" for i in range(points) for a in "xy"]
    lines = ["sample_id,subject,label," + ",".join(cols)]
    lines += [f"s{k},p{k},happy," + ",".join(str(10 + j) for j in range(2 * points)) for k in range(rows)]
    if extra_line is not None:
        lines[extra_line[0]] = extra_line[1](lines[extra_line[0]])
    path.write_text("\n".join(lines) + "\n")
    return path


def test_empty_and_header_only_csv_name_file_line_and_cause(tmp_path):
    from fer_graph.exceptions import LandmarkFileError
    from fer_graph.landmarks import read_landmark_csv

    (tmp_path / "zero.csv").write_bytes(b"")
    with pytest.raises(LandmarkFileError, match=r"zero.csv:1: empty file \(0 bytes\); expected a header line"):
        read_landmark_csv(tmp_path / "zero.csv")
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(LandmarkFileError, match=r"blank.csv:1: blank first line; expected the header line"):
        read_landmark_csv(tmp_path / "blank.csv")
    (tmp_path / "head.csv").write_text("sample_id,label,x0,y0\n\n")
    with pytest.raises(LandmarkFileError, match=r"head.csv:2: no data rows after the header \(line 1\)"):
        read_landmark_csv(tmp_path / "head.csv")


def test_extra_field_in_first_data_row_is_blamed_on_its_line(tmp_path):
    from fer_graph.exceptions import LandmarkFileError
    from fer_graph.landmarks import read_landmark_csv

    path = _generic(tmp_path / "a.csv", extra_line=(1, lambda s: s + ",999"))
    with pytest.raises(LandmarkFileError, match=r"a.csv:2: 140 fields, expected 139 as in the header \(line 1\); "
                                                r"the extra values start with \['999'\]"):
        read_landmark_csv(path)
    path = _generic(tmp_path / "b.csv", extra_line=(3, lambda s: s + ",7"))
    with pytest.raises(LandmarkFileError, match=r"b.csv:4: 140 fields, expected 139"):
        read_landmark_csv(path)
    path = _generic(tmp_path / "c.csv", extra_line=(2, lambda s: s.rsplit(",", 1)[0]))
    with pytest.raises(LandmarkFileError, match=r"c.csv:3: 138 fields, expected 139"):
        read_landmark_csv(path)
    path = _generic(tmp_path / "d.csv", extra_line=(1, lambda s: s + ","))  # a trailing delimiter is tolerated
    assert len(read_landmark_csv(path)) == 3


def test_blank_lines_do_not_shift_line_numbers(tmp_path):
    from fer_graph.exceptions import LandmarkFileError
    from fer_graph.landmarks import read_landmark_csv

    path = tmp_path / "gaps.csv"
    path.write_text("sample_id,label,x0,y0,x1,y1\n\na,happy,0,0,1,1\n\n\nb,sad,0,oops,1,1\n")
    with pytest.raises(LandmarkFileError, match=r"gaps.csv:6: column 'y0' is 'oops'"):
        read_landmark_csv(path)
    path.write_text("sample_id,label,x0,y0,x1,y1\n\na,happy,0,0,1,1\n\nb,,0,0,1,1\n")
    assert [s.path.rsplit(":", 1)[1] for s in read_landmark_csv(path).skipped] == ["5"]


def test_duplicate_column_and_non_utf8_bytes_are_located(tmp_path):
    from fer_graph.exceptions import LandmarkFileError
    from fer_graph.landmarks import read_landmark_csv

    (tmp_path / "dup.csv").write_text("sample_id,label,x0,y0,x1,y1,x0\na,happy,0,0,1,1,5\n")
    with pytest.raises(LandmarkFileError, match=r"dup.csv:1: column 'x0' appears twice \(fields 3 and 7\)"):
        read_landmark_csv(tmp_path / "dup.csv")
    (tmp_path / "latin1.csv").write_bytes(b"sample_id,label,x0,y0\na,happy,0,0\nb,f\xe9e,0,0\n")
    with pytest.raises(LandmarkFileError, match=r"latin1.csv:3: byte 0xe9 at column 4 is not UTF-8"):
        read_landmark_csv(tmp_path / "latin1.csv")
    (tmp_path / "u16.csv").write_bytes("sample_id,label,x0,y0\n".encode("utf-16"))
    with pytest.raises(LandmarkFileError, match=r"u16.csv:1: UTF-16/UTF-32 text"):
        read_landmark_csv(tmp_path / "u16.csv")


def test_openface_csv_with_67_points_says_expected_68(tmp_path):
    from fer_graph.exceptions import LandmarkFileError
    from fer_graph.landmarks import read_landmark_csv

    header = ["frame", "success"] + [f"x_{i}" for i in range(67)] + [f"y_{i}" for i in range(67)]
    (tmp_path / "of.csv").write_text(",".join(header) + "\n" + ",".join(["1", "1"] + ["0"] * 134) + "\n")
    with pytest.raises(LandmarkFileError, match=r"of.csv:1: OpenFace landmark columns hold 67 points "
                                                r"\(x_0..x_66, y_0..y_66\); expected 68"):
        read_landmark_csv(tmp_path / "of.csv", label="happy")


def test_omlands_problems_name_the_file_and_line(tmp_path):
    from fer_graph.exceptions import LandmarkFileError
    from fer_graph.landmarks import read_ck_lands

    root = _ck_lands(tmp_path / "CK+")
    om = root / "S002" / "omlands.csv"
    lines = om.read_text().splitlines()
    om.write_text("\n".join(lines[:2] + ["; ".join(lines[2].split("; ")[:-3]) + "; "] + lines[3:]) + "\n")
    with pytest.raises(LandmarkFileError, match=r"S002/omlands.csv:3: expected a sequence id and 136 coordinates "
                                                r"\(68 x;y pairs\), got 134 coordinates \(67 points\)"):
        read_ck_lands(root)
    om.write_bytes(b"")
    with pytest.raises(LandmarkFileError, match=r"S002/omlands.csv:1: no landmark rows \(empty file\)"):
        read_ck_lands(root)
    om.write_bytes(b"001; 1\xff; 2;\n")
    with pytest.raises(LandmarkFileError, match=r"S002/omlands.csv:1: byte 0xff at column 7 is not UTF-8"):
        read_ck_lands(root)


def test_header_only_emotion_csv_names_the_file(tmp_path):
    from fer_graph.exceptions import LandmarkFileError
    from fer_graph.landmarks import read_ck_lands

    root = _ck_lands(tmp_path / "CK+")
    (root / "emotion.csv").write_text("subject;file;emotion\n")
    with pytest.raises(LandmarkFileError, match=r"emotion.csv:2: no subject;file;emotion rows after the header"):
        read_ck_lands(root)
