from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_graph.exceptions import DatasetLayoutError, LandmarkFileError, UnknownLabelError
from fer_graph.landmarks import read_ck_lands, read_ck_lands_sequences
from fer_graph.landmarks.ck_lands import read_emotion_csv, read_omlands


def test_full_dataset_counts(ck_lands_root):
    lms = read_ck_lands(ck_lands_root)
    assert lms.points.shape == (357, 68, 2)
    assert lms.onset.shape == (357, 68, 2)
    assert lms.points.dtype == np.float32
    assert len(set(lms.subjects)) == 99
    counts = {c: lms.labels.count(c) for c in set(lms.labels)}
    assert counts == {"happiness": 94, "fear": 53, "surprise": 77, "anger": 36, "disgust": 38, "sadness": 59}
    seqs = read_ck_lands_sequences(ck_lands_root)
    assert len(seqs) == 598 and sum(s.label is None for s in seqs) == 241


def _generated():
    """The LandmarkSet written as ``ck_lands_small`` (same arguments, same seed)."""
    from fer_graph.graphs.synthetic import make_face_landmarks

    return make_face_landmarks(4, frames=3, rng=3)


def test_apex_and_onset_are_last_and_first_rows(ck_lands_small):
    lms = read_ck_lands(ck_lands_small)
    gen = _generated()
    assert len(lms) == 24 and lms.points.shape == lms.onset.shape == (24, 68, 2)
    assert lms.points.dtype == np.float32 and lms.units == "pixels" and lms.source == "ck-lands"
    i = lms.sample_ids.index("S002_003@3")  # 4 rows: onset, then 3 expression frames
    by_id = read_omlands(ck_lands_small / "S002" / "omlands.csv")
    assert sorted(by_id) == ["001", "002", "003", "004", "005", "006"]
    assert [len(by_id[k]) for k in sorted(by_id)] == [4] * 6
    np.testing.assert_array_equal(lms.onset[i], by_id["003"][0])
    np.testing.assert_array_equal(lms.points[i], by_id["003"][-1])
    # the rows read back bit for bit what was written: the apex frame and the shared onset
    j = gen.sample_ids.index("S002_003@3")
    np.testing.assert_array_equal(lms.points[i], gen.points[j])
    np.testing.assert_array_equal(lms.onset[i], gen.onset[j])
    assert lms.labels[i] == gen.labels[j] and lms.subjects[i] == "S002" and lms.sequence_ids[i] == "S002_003"


@pytest.mark.data
def test_apex_and_onset_of_real_sequences(ck_lands_subset):
    lms = read_ck_lands(ck_lands_subset)
    i = lms.sample_ids.index("S010_001@13")  # S010 session 001 has 14 frames
    first = np.array([527, 475, 527, 536], dtype=np.float32)  # from the CK+ lands course brief
    np.testing.assert_array_equal(lms.onset[i].reshape(-1)[:4], first)
    by_id = read_omlands(ck_lands_subset / "S010" / "omlands.csv")
    np.testing.assert_array_equal(lms.points[i], by_id["001"][-1])
    assert [len(by_id[k]) for k in sorted(by_id)] == [14, 14, 18, 19, 16, 15]  # as the brief says


def test_rows_are_grouped_by_id_not_position(ck_lands_small):
    path = ck_lands_small / "S001" / "omlands.csv"
    original = read_omlands(path)
    lines = path.read_text().splitlines()
    block = {seq: [ln for ln in lines if ln.startswith(seq + ";")] for seq in original}
    # 001's first two frames, 003, 002, then 001's last two frames, 004 to 006
    shuffled = (block["001"][:2] + block["003"] + block["002"] + block["001"][2:]
                + block["004"] + block["005"] + block["006"])
    path.write_text("\n".join(shuffled) + "\n")
    again = read_omlands(path)
    assert list(again) == ["001", "003", "002", "004", "005", "006"]  # first-seen order
    for seq in original:
        np.testing.assert_array_equal(again[seq], original[seq])  # each sequence in time order
    seqs = [s for s in read_ck_lands_sequences(ck_lands_small) if s.subject == "S001"]
    assert [s.sequence for s in seqs] == ["001", "002", "003", "004", "005", "006"]
    assert all(isinstance(s.sequence, str) and len(s.sequence) == 3 for s in seqs)
    np.testing.assert_array_equal(seqs[0].frames, original["001"])


@pytest.mark.data
def test_real_rows_are_grouped_by_id_not_position(ck_lands_subset):
    # S122 lists its sequences in the order 001, 003, 002, 004, 005
    seqs = [s for s in read_ck_lands_sequences(ck_lands_subset) if s.subject == "S122"]
    assert [s.sequence for s in seqs] == sorted(s.sequence for s in seqs)
    assert all(isinstance(s.sequence, str) and len(s.sequence) == 3 for s in seqs)


def test_unlabelled_sequences_are_read_but_not_samples(ck_lands_small):
    path = ck_lands_small / "S003" / "omlands.csv"
    rows = [ln.replace("001; ", "099; ", 1) for ln in path.read_text().splitlines() if ln.startswith("001;")]
    path.write_text(path.read_text() + "\n".join(rows) + "\n")
    seqs = read_ck_lands_sequences(ck_lands_small)
    assert len(seqs) == 25 and [s.sequence_id for s in seqs if s.label is None] == ["S003_099"]
    extra = next(s for s in seqs if s.label is None)
    assert extra.frames.shape == (4, 68, 2)
    lms = read_ck_lands(ck_lands_small)
    assert len(lms) == 24 and "S003_099" not in lms.sequence_ids
    counts = {c: lms.labels.count(c) for c in set(lms.labels)}
    assert counts == {c: 4 for c in ("anger", "disgust", "fear", "happiness", "sadness", "surprise")}


def test_apex_frames_k(ck_lands_small):
    one = read_ck_lands(ck_lands_small)
    three = read_ck_lands(ck_lands_small, apex_frames=3)
    assert len(three) == 3 * len(one) == 72
    np.testing.assert_array_equal(three.points, _generated().points)  # the 3 expression frames of each sequence
    assert three.sample_ids == _generated().sample_ids
    # all samples of a sequence share subject, sequence id and onset, and the last is the apex
    sid = one.sequence_ids[0]
    idx = [i for i, s in enumerate(three.sequence_ids) if s == sid]
    assert len(idx) == 3 and len({three.subjects[i] for i in idx}) == 1
    np.testing.assert_array_equal(three.points[idx[-1]], one.points[0])
    np.testing.assert_array_equal(three.onset[idx[0]], three.onset[idx[-1]])
    # asking for more frames than a sequence has stops before its onset row
    np.testing.assert_array_equal(read_ck_lands(ck_lands_small, apex_frames=10).points, three.points)
    with pytest.raises(ValueError, match="apex_frames"):
        read_ck_lands(ck_lands_small, apex_frames=0)


def _line(root: Path, subject: str = "S001") -> tuple[Path, list[str]]:
    path = root / subject / "omlands.csv"
    return path, path.read_text().splitlines()


def test_wrong_column_count_names_file_and_line(ck_lands_small):
    path, lines = _line(ck_lands_small)
    lines[3] = "; ".join(lines[3].split("; ")[:-5]) + "; "  # 4 coordinates (and the empty tail) dropped
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LandmarkFileError, match=r"S001/omlands.csv:4: expected .* 136 coordinates .*got 132 coordinates"):
        read_ck_lands(ck_lands_small)


@pytest.mark.parametrize("bad, message", [("abc", "not a number"), ("nan", "NaN")])
def test_bad_coordinate_names_file_line_field(ck_lands_small, bad, message):
    path, lines = _line(ck_lands_small)
    fields = lines[1].split("; ")
    fields[7] = bad
    lines[1] = "; ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LandmarkFileError, match=rf"omlands.csv:2: field 8 .*{message}"):
        read_ck_lands(ck_lands_small)


def test_unknown_emotion_code(ck_lands_small):
    p = ck_lands_small / "emotion.csv"
    lines = p.read_text().splitlines()
    lines[2] = lines[2][:-1] + "9"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(UnknownLabelError, match=r"emotion.csv:3: unknown emotion code '9'.*1=happiness"):
        read_ck_lands(ck_lands_small)


def test_missing_emotion_csv_and_missing_sequence(ck_lands_small, tmp_path):
    (ck_lands_small / "emotion.csv").rename(tmp_path / "moved.csv")
    with pytest.raises(DatasetLayoutError, match="emotion.csv not found"):
        read_ck_lands(ck_lands_small)
    text = (tmp_path / "moved.csv").read_text() + "S001;042;1\n"
    (ck_lands_small / "emotion.csv").write_text(text)
    with pytest.raises(DatasetLayoutError, match="S001_042"):
        read_ck_lands(ck_lands_small)


def test_bad_emotion_header(tmp_path):
    p = tmp_path / "emotion.csv"
    p.write_text("a;b;c\nS001;001;5\n")
    with pytest.raises(LandmarkFileError, match="emotion.csv:1: expected header"):
        read_emotion_csv(p)
