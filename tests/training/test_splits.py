from __future__ import annotations

import numpy as np
import pytest

from fer_graph.graphs import CKLandsGraphs
from fer_graph.training.splits import groups_of, holdout_split, inner_split, protocol_of, subject_kfold


def _check_kfold(ds, n_subjects: int, n_splits: int, frames: int) -> None:
    y, g = ds.tensor("y").numpy(), groups_of(ds)
    assert len(np.unique(g)) == n_subjects and protocol_of(ds) == "subject-kfold" and holdout_split(ds) is None
    seq = ds.tensor("sequence").numpy()
    assert np.bincount(seq).tolist() == [frames] * (len(ds) // frames)  # each sequence gives `frames` samples
    folds = subject_kfold(y, g, n_splits=n_splits, seed=0)
    assert len(folds) == n_splits
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(len(ds)))  # test folds partition the samples
    for tr, te in folds:
        assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(ds)))
        assert not set(g[tr]) & set(g[te])  # no subject on both sides
        assert not set(seq[tr]) & set(seq[te])  # hence no sequence (apex frames) either
        itr, iva = inner_split(y[tr], g[tr], seed=0)
        assert len(iva) > 0 and not set(g[tr][itr]) & set(g[tr][iva])
        assert sorted(np.concatenate([itr, iva]).tolist()) == list(range(len(tr)))
    again = subject_kfold(y, g, n_splits=n_splits, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))  # seeded
    other = subject_kfold(y, g, n_splits=n_splits, seed=1)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


@pytest.fixture(scope="module")
def synthetic_ck(tmp_path_factory):
    """12 synthetic subjects x 6 classes, 3 apex frames per sequence: 216 graphs."""
    from fer_graph.graphs.synthetic import make_face_landmarks, write_ck_lands

    tmp = tmp_path_factory.mktemp("splits")
    root = write_ck_lands(tmp / "CK+", make_face_landmarks(12, frames=3, rng=0))
    return CKLandsGraphs(tmp / "ck", root, apex_frames=3)


def test_kfold_is_subject_independent_and_covers_everything(synthetic_ck):
    assert len(synthetic_ck) == 216
    _check_kfold(synthetic_ck, n_subjects=12, n_splits=6, frames=3)


def test_stratification_keeps_every_class_in_every_test_fold(synthetic_ck):
    y, g = synthetic_ck.tensor("y").numpy(), groups_of(synthetic_ck)
    for _, te in subject_kfold(y, g, n_splits=4, seed=0):
        # every subject shows every class once (3 frames): 3 subjects per fold, 9 samples of each class
        assert np.bincount(y[te], minlength=6).tolist() == [9] * 6


def test_too_few_subjects_for_the_folds_is_an_error(synthetic_ck):
    y, g = synthetic_ck.tensor("y").numpy(), groups_of(synthetic_ck)
    with pytest.raises(ValueError):
        subject_kfold(y, g, n_splits=13, seed=0)


def test_holdout_protocol(synthetic_mesh_holdout):
    tr, te, name = holdout_split(synthetic_mesh_holdout)
    assert name == "publictest" and protocol_of(synthetic_mesh_holdout) == "holdout"
    assert len(tr) == 63 and len(te) == 21 and not set(tr) & set(te)
    g = groups_of(synthetic_mesh_holdout)
    assert not set(g[tr]) & set(g[te]) and len(set(g[te])) == 3


@pytest.mark.data
def test_kfold_on_the_real_ck_lands(tmp_path_factory, ck_lands_root):
    ds = CKLandsGraphs(tmp_path_factory.mktemp("ck"), ck_lands_root, apex_frames=3)
    _check_kfold(ds, n_subjects=99, n_splits=10, frames=3)
