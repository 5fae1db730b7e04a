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


def test_undersample_draws_a_balanced_subset_without_replacement():
    from fer_graph.training.splits import undersample

    y = np.array([0] * 10 + [1] * 4 + [2] * 6)
    idx = np.arange(2, 20)  # class 0 keeps 8 candidates, class 1 four, class 2 six
    sub = undersample(idx, y, seed=3)
    assert np.bincount(y[sub]).tolist() == [4, 4, 4]
    assert set(sub) <= set(idx) and len(set(sub)) == len(sub) and (np.diff(sub) > 0).all()
    assert set(sub[y[sub] == 1]) == {10, 11, 12, 13}  # the rarest class is kept whole
    np.testing.assert_array_equal(sub, undersample(idx, y, seed=3))
    assert undersample(np.array([], dtype=int), y).size == 0


def test_undersampled_folds_balance_inner_training_only(synthetic_ck):
    from dataclasses import replace

    from fer_graph.config import TrainConfig
    from fer_graph.training.run import make_folds, prepare_data

    data = prepare_data(synthetic_ck, TrainConfig(arch="logreg", folds=4))
    y = data.y.copy()
    y[(y == 1) & (np.arange(len(y)) % 3 != 0)] = 0  # class 1 loses two thirds of its graphs to class 0
    data = replace(data, y=y)
    _, plain = make_folds(synthetic_ck, data, TrainConfig(arch="logreg", folds=4))
    _, under = make_folds(synthetic_ck, data, TrainConfig(arch="logreg", folds=4, balance="undersample"))
    for a, b in zip(plain, under):
        np.testing.assert_array_equal(a.validation, b.validation)
        np.testing.assert_array_equal(a.test, b.test)
        counts = np.bincount(y[b.train], minlength=6)
        assert len(set(counts.tolist())) == 1 and counts[0] == np.bincount(y[a.train])[1]
        assert set(b.train) < set(a.train)
