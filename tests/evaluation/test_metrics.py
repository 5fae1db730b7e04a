from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from fer_graph.evaluation import classification_metrics, save_confusion_matrix


def test_metrics_match_sklearn(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    p = np.where(rng.random(200) < 0.7, y, rng.integers(0, 4, 200))
    classes = ["anger", "fear", "happiness", "sadness"]
    m = classification_metrics(y, p, classes)
    assert m["accuracy"] == accuracy_score(y, p)
    assert np.isclose(m["macro_f1"], f1_score(y, p, average="macro"))
    assert m["confusion"] == confusion_matrix(y, p).tolist() and m["n"] == 200
    assert np.isclose(m["per_class_recall"]["fear"], ((p == 1) & (y == 1)).sum() / (y == 1).sum())
    csv_path, png_path = save_confusion_matrix(m["confusion"], classes, tmp_path / "cm")
    rows = csv_path.read_text().splitlines()
    assert rows[0].split(",")[1:] == classes and len(rows) == 5
    assert png_path.read_bytes()[:4] == b"\x89PNG"


def test_absent_class_has_no_recall():
    m = classification_metrics(np.array([0, 0, 1]), np.array([0, 1, 1]), ["a", "b", "c"])
    assert m["per_class_recall"]["c"] is None and m["per_class_recall"]["a"] == 0.5
