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


def test_apex_and_onset_are_last_and_first_rows(ck_lands_subset):
    lms = read_ck_lands(ck_lands_subset)
    i = lms.sample_ids.index("S010_001@13")  # S010 session 001 has 14 frames
    first = np.array([527, 475, 527, 536], dtype=np.float32)  # from the CK+ lands course brief
    np.testing.assert_array_equal(lms.onset[i].reshape(-1)[:4], first)
    by_id = read_omlands(ck_lands_subset / "S010" / "omlands.csv")
    np.testing.assert_array_equal(lms.points[i], by_id["001"][-1])
    assert [len(by_id[k]) for k in sorted(by_id)] == [14, 14, 18, 19, 16, 15]  # as the brief says


def test_rows_are_grouped_by_id_not_position(ck_lands_subset):
    # S122 lists its sequences in the order 001, 003, 002, 004, 005
    seqs = [s for s in read_ck_lands_sequences(ck_lands_subset) if s.subject == "S122"]
    assert [s.sequence for s in seqs] == sorted(s.sequence for s in seqs)
    assert all(isinstance(s.sequence, str) and len(s.sequence) == 3 for s in seqs)


def test_apex_frames_k(ck_lands_subset):
    one = read_ck_lands(ck_lands_subset)
    three = read_ck_lands(ck_lands_subset, apex_frames=3)
    assert len(three) == 3 * len(one)
    # all samples of a sequence share subject and sequence id, and the last is the apex
    sid = one.sequence_ids[0]
    idx = [i for i, s in enumerate(three.sequence_ids) if s == sid]
    assert len(idx) == 3 and len({three.subjects[i] for i in idx}) == 1
    np.testing.assert_array_equal(three.points[idx[-1]], one.points[0])
    with pytest.raises(ValueError, match="apex_frames"):
        read_ck_lands(ck_lands_subset, apex_frames=0)


def _line(root: Path, subject: str = "S005") -> tuple[Path, list[str]]:
    path = root / subject / "omlands.csv"
    return path, path.read_text().splitlines()


def test_wrong_column_count_names_file_and_line(ck_lands_subset):
    path, lines = _line(ck_lands_subset)
    lines[3] = "; ".join(lines[3].split("; ")[:-5]) + "; "
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LandmarkFileError, match=r"S005/omlands.csv:4: expected .* 136 coordinates"):
        read_ck_lands(ck_lands_subset)


@pytest.mark.parametrize("bad, message", [("abc", "not a number"), ("nan", "NaN")])
def test_bad_coordinate_names_file_line_field(ck_lands_subset, bad, message):
    path, lines = _line(ck_lands_subset)
    fields = lines[1].split("; ")
    fields[7] = bad
    lines[1] = "; ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LandmarkFileError, match=rf"omlands.csv:2: field 8 .*{message}"):
        read_ck_lands(ck_lands_subset)


def test_unknown_emotion_code(ck_lands_subset):
    p = ck_lands_subset / "emotion.csv"
    lines = p.read_text().splitlines()
    lines[2] = lines[2][:-1] + "9"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(UnknownLabelError, match=r"emotion.csv:3: unknown emotion code '9'.*1=happiness"):
        read_ck_lands(ck_lands_subset)


def test_missing_emotion_csv_and_missing_sequence(ck_lands_subset, tmp_path):
    (ck_lands_subset / "emotion.csv").rename(tmp_path / "moved.csv")
    with pytest.raises(DatasetLayoutError, match="emotion.csv not found"):
        read_ck_lands(ck_lands_subset)
    text = (tmp_path / "moved.csv").read_text() + "S005;042;1\n"
    (ck_lands_subset / "emotion.csv").write_text(text)
    with pytest.raises(DatasetLayoutError, match="S005_042"):
        read_ck_lands(ck_lands_subset)


def test_bad_emotion_header(tmp_path):
    p = tmp_path / "emotion.csv"
    p.write_text("a;b;c\nS005;001;5\n")
    with pytest.raises(LandmarkFileError, match="emotion.csv:1: expected header"):
        read_emotion_csv(p)
