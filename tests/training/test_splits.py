from __future__ import annotations

import numpy as np
import pytest

from fer_graph.graphs import CKLandsGraphs
from fer_graph.training.splits import groups_of, inner_split, protocol_of, subject_kfold


@pytest.fixture(scope="module")
def ck(tmp_path_factory, ck_lands_root):
    return CKLandsGraphs(tmp_path_factory.mktemp("ck"), ck_lands_root, apex_frames=3)


def test_kfold_is_subject_independent_and_covers_everything(ck):
    y, g = ck.tensor("y").numpy(), groups_of(ck)
    assert len(np.unique(g)) == 99 and protocol_of(ck) == "subject-kfold"
    folds = subject_kfold(y, g, n_splits=10, seed=0)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(len(ck)))  # test folds partition the samples
    seq = ck.tensor("sequence").numpy()
    for tr, te in folds:
        assert not set(g[tr]) & set(g[te])  # no subject on both sides
        assert not set(seq[tr]) & set(seq[te])  # hence no sequence (apex frames) either
        itr, iva = inner_split(y[tr], g[tr], seed=0)
        assert len(iva) > 0 and not set(g[tr][itr]) & set(g[tr][iva])
        assert sorted(np.concatenate([itr, iva]).tolist()) == list(range(len(tr)))
    again = subject_kfold(y, g, n_splits=10, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))  # seeded
