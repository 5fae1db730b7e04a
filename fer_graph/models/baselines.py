"""Classical baselines on the same data path and folds as the GNNs (scikit-learn estimators).

Coordinate baselines see the flattened node features (plus graph attributes when the feature spec has
them); blendshape baselines see only the 52 MediaPipe blendshape scores. Each builder returns an
unfitted estimator and a small hyper-parameter grid searched on inner validation folds of the training
subjects (never on the test fold).
"""

from __future__ import annotations

from typing import Any

from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .registry import register_model

__all__ = ["logreg", "mlp", "svm", "pca_svm", "blendshape_svm", "blendshape_rf", "blendshape_gb"]

Grid = dict[str, list[Any]]


@register_model("logreg", kind="sklearn", description="logistic regression on flattened normalized coordinates")
def logreg(*, seed: int = 0, class_weight: str | None = None) -> tuple[Pipeline, Grid]:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", LogisticRegression(max_iter=3000, class_weight=class_weight, random_state=seed))])
    return est, {"clf__C": [0.01, 0.1, 1.0]}


@register_model("mlp", kind="sklearn", description="MLP (256-128, early stopping) on flattened coordinates")
def mlp(*, seed: int = 0, class_weight: str | None = None) -> tuple[Pipeline, Grid]:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", MLPClassifier(hidden_layer_sizes=(256, 128), alpha=1e-3, early_stopping=True,
                                          max_iter=500, random_state=seed))])
    return est, {"clf__alpha": [1e-3, 1e-1]}


@register_model("svm", kind="sklearn", description="RBF-SVM on flattened normalized coordinates")
def svm(*, seed: int = 0, class_weight: str | None = None) -> tuple[Pipeline, Grid]:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", SVC(kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed))])
    return est, {"clf__C": [1.0, 10.0]}


@register_model("pca-svm", kind="sklearn", description="PCA(50) + RBF-SVM on flattened coordinates")
def pca_svm(*, seed: int = 0, class_weight: str | None = None) -> tuple[Pipeline, Grid]:
    est = Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=50, random_state=seed)),
                    ("clf", SVC(kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed))])
    return est, {"clf__C": [1.0, 10.0]}


@register_model("blendshape-svm", kind="sklearn", description="RBF-SVM on the 52 blendshapes",
                needs=("blendshapes",))
def blendshape_svm(*, seed: int = 0, class_weight: str | None = None) -> tuple[Pipeline, Grid]:
    est = Pipeline([("scale", StandardScaler()),
                    ("clf", SVC(kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed))])
    return est, {"clf__C": [1.0, 10.0]}


@register_model("blendshape-rf", kind="sklearn", description="random forest on the 52 blendshapes",
                needs=("blendshapes",))
def blendshape_rf(*, seed: int = 0, class_weight: str | None = None) -> tuple[RandomForestClassifier, Grid]:
    est = RandomForestClassifier(n_estimators=300, class_weight=class_weight, n_jobs=-1, random_state=seed)
    return est, {"min_samples_leaf": [1, 3]}


@register_model("blendshape-gb", kind="sklearn", description="HistGradientBoosting on the 52 blendshapes",
                needs=("blendshapes",))
def blendshape_gb(*, seed: int = 0, class_weight: str | None = None) -> tuple[HistGradientBoostingClassifier, Grid]:
    est = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, early_stopping=True,
                                         class_weight=class_weight, random_state=seed)
    return est, {"learning_rate": [0.05, 0.1]}
