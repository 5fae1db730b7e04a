from __future__ import annotations

import numpy as np
import pytest

from fer_graph.exceptions import UnknownLabelError
from fer_graph.labels import CANONICAL_LABELS, VALENCE3, apply_label_scheme, canonical_label, sort_labels


def test_synonyms_and_errors():
    assert canonical_label(" Happy ") == "happiness" and canonical_label("angry") == "anger"
    assert canonical_label("sad") == "sadness"
    with pytest.raises(UnknownLabelError, match="'ecstatic'.*anger"):
        canonical_label("ecstatic")
    assert sort_labels(["surprise", "anger", "surprise"]) == ["anger", "surprise"]


def test_label_schemes():
    classes = ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    y = np.arange(7)
    names, new_y, keep = apply_label_scheme(classes, y, "valence3")
    assert names == ["negative", "neutral", "positive"] and keep.all()
    assert [names[i] for i in new_y] == [VALENCE3[c] for c in classes]
    names, new_y, keep = apply_label_scheme(classes, y, "basic6", exclude=["disgust"])
    assert names == ["anger", "fear", "happiness", "sadness", "surprise"]
    assert keep.tolist() == [True, False, True, True, False, True, True]
    assert [names[i] for i in new_y] == ["anger", "fear", "happiness", "sadness", "surprise"]
    with pytest.raises(ValueError, match="not classes of this dataset"):
        apply_label_scheme(classes, y, exclude=["contempt"])
    with pytest.raises(ValueError, match="labels='x'"):
        apply_label_scheme(classes, y, "x")
    assert set(VALENCE3) == set(CANONICAL_LABELS)
