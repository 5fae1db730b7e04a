"""Eye-state features, the ordinal model and its agreement measures, on hand-built inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_graph.exceptions import UnknownLabelError
from fer_graph.landmarks.eyes import EYE_FEATURES, EYE_STATES, eye_features, eye_state_label
from fer_graph.landmarks.mediapipe_source import BLENDSHAPE_NAMES
from fer_graph.models.estimator import ModelLoadError
from fer_graph.models.eye_state import EyeStateModel
from fer_graph.training.eye_state import cross_val_states, eye_agreement


def _face(opening: float = 6.0) -> np.ndarray:
    """(1, 478, 3): the subject's left eye drawn by hand (corners 10 px apart, iris diameter 5 px), the right
    eye the same at half the lid opening."""
    p = np.zeros((1, 478, 3), np.float32)

    def eye(corners, upper, lower, lids, iris, dx, scale):
        p[0, corners[0], :2], p[0, corners[1], :2] = (dx, 0), (dx + 10, 0)
        p[0, upper[0], :2], p[0, upper[1], :2] = (dx + 3, -2 * scale), (dx + 7, -2 * scale)
        p[0, lower[0], :2], p[0, lower[1], :2] = (dx + 7, 2 * scale), (dx + 3, 2 * scale)
        p[0, lids[0], :2], p[0, lids[1], :2] = (dx + 5, -opening / 2 * scale), (dx + 5, opening / 2 * scale)
        c, *ring = iris
        p[0, c, :2] = (dx + 5, 0)
        for k, (ux, uy) in zip(ring, ((2.5, 0), (0, -2.5), (-2.5, 0), (0, 2.5))):
            p[0, k, :2] = (dx + 5 + ux, uy)

    eye((362, 263), (385, 387), (373, 380), (386, 374), (473, 474, 475, 476, 477), 40, 1.0)
    eye((33, 133), (160, 158), (153, 144), (159, 145), (468, 469, 470, 471, 472), 0, 0.5)
    return p


def test_eye_features_by_hand():
    blend = np.zeros((1, 52), np.float32)
    blend[0, BLENDSHAPE_NAMES.index("eyeBlinkLeft")] = 0.7
    blend[0, BLENDSHAPE_NAMES.index("eyeWideRight")] = 0.3
    f = eye_features(_face(), blend)
    assert f.shape == (1, 2, len(EYE_FEATURES)) and f.dtype == np.float32
    # left: EAR = (4 + 4) / (2 * 10); iris ratio = 6 / 5
    np.testing.assert_allclose(f[0, 0], [0.4, 1.2, 0.7, 0.0, 0.0], atol=1e-6)
    # right: half the opening everywhere
    np.testing.assert_allclose(f[0, 1], [0.2, 0.6, 0.0, 0.0, 0.3], atol=1e-6)


def test_eye_features_need_iris_points_and_matching_blendshapes():
    with pytest.raises(ValueError, match="478"):
        eye_features(np.zeros((2, 468, 3)), np.zeros((2, 52)))
    with pytest.raises(ValueError, match="blendshapes"):
        eye_features(np.zeros((2, 478, 3)), np.zeros((3, 52)))


def test_eye_state_labels():
    assert eye_state_label("eye_closed") == "closed" and eye_state_label(" Wide ") == "wide"
    with pytest.raises(UnknownLabelError, match="eye_narrowed"):
        eye_state_label("blink", where="root/blink")


def _ordinal_data(n: int = 400, seed: int = 0):
    """Rows whose state is a cut of iris_ratio + noise (the true order closed < ... < wide)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(EYE_FEATURES)))
    level = np.digitize(X[:, 1] + 0.2 * rng.normal(size=n), [-1.0, 0.0, 1.2])
    return X, [EYE_STATES[k] for k in level]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mord calls SciPy with deprecated options
def test_model_recovers_an_ordinal_cut_and_saves_exactly(tmp_path):
    import mord

    X, y = _ordinal_data()
    m = EyeStateModel().fit(X, y)
    assert m.classes_ == list(EYE_STATES) and np.all(np.diff(m.theta_) > 0)
    assert np.argmax(np.abs(m.coef_)) == EYE_FEATURES.index("iris_ratio") and m.coef_[1] > 0
    p = m.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert np.mean(np.array(m.predict(X)) == np.array(y)) > 0.85
    ref = mord.LogisticAT(alpha=1.0).fit((X - m.mean_) / m.scale_, np.array([EYE_STATES.index(s) for s in y]))
    np.testing.assert_allclose(p, ref.predict_proba((X - m.mean_) / m.scale_), atol=1e-9)
    m.save(tmp_path / "m.json")
    back = EyeStateModel.load(tmp_path / "m.json")
    np.testing.assert_array_equal(back.predict_proba(X), p)
    level = back.expected_level(X)
    assert level.min() >= 0 and level.max() <= 3


def test_model_subset_of_states_and_features():
    X, y = _ordinal_data()
    keep = [i for i, s in enumerate(y) if s != "wide"]
    m = EyeStateModel(features=("iris_ratio",)).fit(X[keep], [y[i] for i in keep])
    assert m.classes_ == ["closed", "narrowed", "open"] and len(m.theta_) == 2 and m.coef_.shape == (1,)
    assert m.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match="subset"):
        EyeStateModel(features=("pupil",))
    with pytest.raises(ValueError, match="unknown eye states"):
        EyeStateModel().fit(X[:3], ["open", "shut", "open"])
    with pytest.raises(ValueError, match="two eye states"):
        EyeStateModel().fit(X[:3], ["open"] * 3)
    with pytest.raises(ValueError, match="NaN"):
        m.predict(np.full((1, 5), np.nan))


def test_load_rejects_other_files(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "something"}))
    with pytest.raises(ModelLoadError, match="not a fer-graph eye-state model"):
        EyeStateModel.load(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{")
    with pytest.raises(ModelLoadError, match="not JSON"):
        EyeStateModel.load(tmp_path / "y.json")
    with pytest.raises(FileNotFoundError):
        EyeStateModel.load(tmp_path / "missing.json")


def test_default_model_is_monotone_in_the_opening():
    m = EyeStateModel.load()
    faces = np.concatenate([_face(o) for o in (0.5, 3.0, 5.0, 7.0)])
    blend = np.zeros((4, 52), np.float32)
    blend[0, BLENDSHAPE_NAMES.index("eyeBlinkLeft")] = 0.9
    blend[3, BLENDSHAPE_NAMES.index("eyeWideLeft")] = 0.6
    states = m.face_states(faces, blend)
    scores = [s["left"]["score"] for s in states]
    assert scores == sorted(scores) and states[0]["left"]["state"] == "closed"
    assert set(states[0]) == {"left", "right"} and all(s["right"]["state"] in EYE_STATES for s in states)


def test_agreement_by_hand():
    a = eye_agreement(["open", "open", "closed", "wide"], ["open", "narrowed", "closed", "open"])
    assert a["n"] == 4 and a["accuracy"] == 0.5 and a["mae_steps"] == 0.5
    assert a["confusion"][2] == [0, 1, 1, 0] and sum(map(sum, a["confusion"])) == 4
    assert eye_agreement(["open", "wide"], ["open", "wide"])["kappa_quadratic"] == 1.0


def test_cross_validation_keeps_both_eyes_of_a_face_together():
    X, y = _ordinal_data(200)
    groups = np.repeat(np.arange(100), 2)
    y = [y[2 * (i // 2)] for i in range(200)]  # both eyes of a face share its label
    X[1::2] = X[::2]  # and its features: a leak across folds would be perfect memorization
    pred = cross_val_states(X, y, groups, folds=4)
    assert len(pred) == 200 and set(pred) <= set(EYE_STATES)
    with pytest.raises(ValueError, match="at least 2"):
        cross_val_states(X[:4], ["open", "open", "wide", "wide"], np.array([0, 0, 1, 1]))
