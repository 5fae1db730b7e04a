"""Evaluation protocols: subject-independent k-fold and hold-out, with inner validation splits.

Subject independence: every sample of a subject (all frames of all its sequences) lands on one side of
each split. Groups are subjects when the dataset has them, else sequences, else single samples.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

from .._random import undersample
from ..graphs.dataset import FaceGraphDataset

__all__ = ["groups_of", "subject_kfold", "inner_split", "holdout_split", "protocol_of", "undersample"]


def groups_of(ds: FaceGraphDataset) -> np.ndarray:
    """``(G,)`` int64 group ids for splitting: subject, else sequence, else the sample itself."""
    subject = ds.tensor("subject").numpy()
    if (subject >= 0).all():
        return subject.astype(np.int64)
    sequence = ds.tensor("sequence").numpy()
    if (sequence >= 0).all():
        return sequence.astype(np.int64)
    return np.arange(len(ds), dtype=np.int64)


def subject_kfold(y: np.ndarray, groups: np.ndarray, *, n_splits: int = 10, seed: int = 0
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified group k-fold (scikit-learn ``StratifiedGroupKFold``, shuffled with ``seed``).

    Returns:
        ``n_splits`` pairs ``(train_idx, test_idx)`` of sorted int64 indices; test folds partition all
        samples and no group is on both sides of a pair.

    Raises:
        ValueError: fewer groups than ``n_splits`` (scikit-learn's message).
    """
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(te)) for tr, te in cv.split(np.zeros(len(y)), y, groups)]


def inner_split(y: np.ndarray, groups: np.ndarray, *, val_fraction: float = 0.15, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Split training indices ``0..len(y)-1`` into inner-train and validation, group-disjoint.

    With real groups (fewer groups than samples) uses one fold of ``StratifiedGroupKFold`` with
    ``round(1 / val_fraction)`` folds; otherwise a stratified shuffle split.
    """
    if len(np.unique(groups)) < len(groups):
        # fewer folds on tiny data: scikit-learn needs some class with >= k members and >= k groups
        k = max(2, min(round(1 / val_fraction), len(np.unique(groups)), int(np.bincount(y).max())))
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        tr, va = next(cv.split(np.zeros(len(y)), y, groups))
    else:
        cv = StratifiedShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
        tr, va = next(cv.split(np.zeros(len(y)), y))
    return np.sort(tr), np.sort(va)


def holdout_split(ds: FaceGraphDataset) -> tuple[np.ndarray, np.ndarray, str] | None:
    """``(train_idx, test_idx, test_split_name)`` when the dataset has a ``train`` split and a test
    split (``publictest``, ``test``, ``val``...), else ``None``."""
    names = ds.splits
    if "train" not in names or len(names) < 2:
        return None
    test_name = next((n for n in ("publictest", "test", "privatetest", "val", "validation") if n in names),
                     [n for n in names if n != "train"][0])
    split = ds.tensor("split").numpy()
    return (np.flatnonzero(split == names.index("train")), np.flatnonzero(split == names.index(test_name)),
            test_name)


def protocol_of(ds: FaceGraphDataset) -> str:
    """``"holdout"`` for datasets with train/test splits (FER-2013), else ``"subject-kfold"``."""
    return "holdout" if holdout_split(ds) is not None else "subject-kfold"

