"""Ordinal eye-state model: closed < narrowed < open < wide, per eye.

An all-threshold logistic model (Rennie & Srebro, "Loss functions for preference levels", IJCAI 2005 workshop;
fitted with the ``mord`` package's ``LogisticAT``) on standardized per-eye features
(:data:`fer_graph.landmarks.eyes.EYE_FEATURES`): one linear openness score ``s = w . z`` and ordered
thresholds ``theta``, ``P(state <= k) = sigmoid(theta_k - s)``. Ordinal rather than multinomial because the
states are levels of one quantity: a model with one direction and K - 1 cuts needs few labels and cannot
put "wide" between "closed" and "narrowed". Saved as JSON (the numbers only), so it loads without pickle.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from .._io import read_json, write_json
from ..landmarks.eyes import EYE_FEATURES, EYE_STATES, EYES, eye_features
from .estimator import ModelLoadError

__all__ = ["EyeStateModel", "DEFAULT_EYE_MODEL"]

#: The packaged default model (fitted on hand-labelled FER-2013 faces; see docs/eye_state.md).
DEFAULT_EYE_MODEL = "eye_state.json"
_FORMAT = "fer-graph-eye-state/1"


class EyeStateModel:
    """Ordinal classifier of per-eye feature rows.

    Args:
        features: the columns of :data:`EYE_FEATURES` the model uses (inputs always carry all of them).
        alpha: L2 penalty of ``LogisticAT`` on the standardized features.

    Attributes (after :meth:`fit` or :meth:`load`):
        classes_: the states seen in training, least to most open (subset of :data:`EYE_STATES`).
        coef_: ``(F,)`` weights on standardized features; theta_: ``(K - 1,)`` increasing thresholds;
        mean_, scale_: ``(F,)`` standardization.
    """

    def __init__(self, features: Sequence[str] = EYE_FEATURES, alpha: float = 1.0) -> None:
        unknown = [f for f in features if f not in EYE_FEATURES]
        if unknown or not features:
            raise ValueError(f"features {list(features)}: expected a non-empty subset of {list(EYE_FEATURES)}")
        self.features = tuple(features)
        self.alpha = float(alpha)
        self._cols = [EYE_FEATURES.index(f) for f in self.features]

    def _z(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float64)
        if X.ndim != 2 or X.shape[1] != len(EYE_FEATURES):
            raise ValueError(f"X must be (M, {len(EYE_FEATURES)}) rows of {list(EYE_FEATURES)}; got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X holds NaN or infinite features")
        return X[:, self._cols]

    def fit(self, X: np.ndarray, y: Sequence[str]) -> EyeStateModel:
        """Fit on ``(M, 5)`` feature rows and their ``M`` states (names of :data:`EYE_STATES`).

        Raises:
            ValueError: an unknown state, fewer than two states present, or bad shapes / NaN.
        """
        import mord

        Z = self._z(X)
        y = list(y)
        if len(y) != len(Z):
            raise ValueError(f"{len(y)} labels for {len(Z)} rows")
        bad = sorted({s for s in y if s not in EYE_STATES})
        if bad:
            raise ValueError(f"unknown eye states {bad}; expected {list(EYE_STATES)}")
        self.classes_ = [s for s in EYE_STATES if s in set(y)]
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two eye states to fit; got {self.classes_}")
        self.mean_, self.scale_ = Z.mean(0), np.where(Z.std(0) > 0, Z.std(0), 1.0)
        codes = np.array([self.classes_.index(s) for s in y])
        with warnings.catch_warnings():  # mord passes L-BFGS-B options SciPy deprecates; the fit is unaffected
            warnings.simplefilter("ignore", DeprecationWarning)
            m = mord.LogisticAT(alpha=self.alpha).fit((Z - self.mean_) / self.scale_, codes)
        self.coef_, self.theta_ = np.asarray(m.coef_, float), np.asarray(m.theta_, float)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """``(M,)`` openness score ``s`` (higher = more open; the states' thresholds are :attr:`theta_`)."""
        return ((self._z(X) - self.mean_) / self.scale_) @ self.coef_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(M, K)`` state probabilities, columns in :attr:`classes_` order; rows sum to 1."""
        cum = 1.0 / (1.0 + np.exp(-(self.theta_[None, :] - self.decision_function(X)[:, None])))
        edges = np.hstack([np.zeros((len(cum), 1)), cum, np.ones((len(cum), 1))])
        return np.clip(np.diff(edges, axis=1), 0.0, 1.0)

    def predict(self, X: np.ndarray) -> list[str]:
        """The most probable state of each row."""
        return [self.classes_[i] for i in self.predict_proba(X).argmax(1)]

    def expected_level(self, X: np.ndarray) -> np.ndarray:
        """``(M,)`` expected position on the scale, 0 = closed ... 3 = wide (:data:`EYE_STATES` indices)."""
        levels = np.array([EYE_STATES.index(c) for c in self.classes_], float)
        return self.predict_proba(X) @ levels

    def face_states(self, points: np.ndarray, blendshapes: np.ndarray) -> list[dict[str, dict]]:
        """Both eyes' state and score of ``N`` faces: ``[{"left": {"state", "score"}, "right": ...}]``.

        Args:
            points: ``(N, 478, D)`` pixel-proportional landmarks; blendshapes: ``(N, 52)``
                (see :func:`~fer_graph.landmarks.eyes.eye_features`).

        ``score`` is :meth:`expected_level` (0 closed, 1 narrowed, 2 open, 3 wide; fractional in between).
        """
        if len(points) == 0:
            return []
        X = eye_features(points, blendshapes).reshape(-1, len(EYE_FEATURES))
        states, scores = self.predict(X), self.expected_level(X)
        return [{eye: {"state": states[2 * i + j], "score": round(float(scores[2 * i + j]), 3)}
                 for j, eye in enumerate(EYES)} for i in range(len(points))]

    def to_dict(self) -> dict:
        return {"format": _FORMAT, "features": list(self.features), "alpha": self.alpha,
                "classes": self.classes_, "mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                "coef": self.coef_.tolist(), "theta": self.theta_.tolist()}

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as JSON, atomically."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> EyeStateModel:
        """A saved model; ``None``: the packaged default (:data:`DEFAULT_EYE_MODEL`).

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ModelLoadError: not an eye-state model file, or inconsistent numbers.
        """
        if path is None:
            d = read_json(resources.files("fer_graph.models") / "weights" / DEFAULT_EYE_MODEL)
        else:
            if not Path(path).is_file():
                raise FileNotFoundError(f"{path}: no such eye-state model file")
            try:
                d = read_json(path)
            except ValueError as exc:
                raise ModelLoadError(f"{path}: not JSON ({exc})") from None
        where = path or DEFAULT_EYE_MODEL
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ModelLoadError(f"{where}: not a fer-graph eye-state model (format {_FORMAT!r})")
        m = cls(d["features"], d["alpha"])
        m.classes_ = list(d["classes"])
        m.mean_, m.scale_, m.coef_, m.theta_ = (np.asarray(d[k], float) for k in ("mean", "scale", "coef", "theta"))
        if len(m.theta_) != len(m.classes_) - 1 or len(m.coef_) != len(m.features) or np.any(np.diff(m.theta_) < 0):
            raise ModelLoadError(f"{where}: inconsistent eye-state model (thresholds, classes or weights)")
        return m
