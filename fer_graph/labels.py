"""Canonical expression labels shared by every dataset, and each dataset's own label map.

Class indices follow :data:`CANONICAL_LABELS` order restricted to the classes a dataset has, so two
datasets built with fer-graph agree on the names and can be compared or combined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from .exceptions import UnknownLabelError

__all__ = [
    "CANONICAL_LABELS",
    "CK_LANDS_CODES",
    "CKPLUS_CODES",
    "FER2013_CODES",
    "LABEL_SYNONYMS",
    "canonical_label",
    "sort_labels",
    "VALENCE3",
    "BASIC6",
    "LABEL_SCHEMES",
    "apply_label_scheme",
]

#: The eight expression classes fer-graph knows (six basic emotions of Ekman, plus neutral and contempt),
#: in alphabetical order. Class indices of a dataset are positions in this tuple restricted to its classes.
CANONICAL_LABELS: tuple[str, ...] = (
    "anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
)

#: CK+ "lands" course labelling (Université de Lille, ``emotion.csv``): 1=happy 2=fear 3=surprise
#: 4=anger 5=disgust 6=sadness. NOT the official CK+ coding (see :data:`CKPLUS_CODES`).
CK_LANDS_CODES: Mapping[int, str] = MappingProxyType(
    {1: "happiness", 2: "fear", 3: "surprise", 4: "anger", 5: "disgust", 6: "sadness"}
)

#: Official CK+ Emotion coding (Lucey et al., 2010): 0=neutral 1=anger 2=contempt 3=disgust 4=fear
#: 5=happy 6=sadness 7=surprise.
CKPLUS_CODES: Mapping[int, str] = MappingProxyType(
    {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness", 6: "sadness",
     7: "surprise"}
)

#: fer2013.csv integer codes (Goodfellow et al., 2013): 0=angry 1=disgust 2=fear 3=happy 4=sad
#: 5=surprise 6=neutral.
FER2013_CODES: Mapping[int, str] = MappingProxyType(
    {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise", 6: "neutral"}
)

#: Folder and column spellings met in the wild (FER-2013 and CK+48 folders, AffectNet, RAF-DB, py-feat),
#: lower-cased, mapped to canonical names.
LABEL_SYNONYMS: Mapping[str, str] = MappingProxyType({
    **{name: name for name in CANONICAL_LABELS},
    "angry": "anger", "anger": "anger",
    "disgusted": "disgust", "disgust": "disgust",
    "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happiness", "joy": "happiness", "happiness": "happiness",
    "sad": "sadness", "sadness": "sadness",
    "surprised": "surprise", "suprise": "surprise",
    "neutrality": "neutral", "calm": "neutral",
    "contemptuous": "contempt",
})


def canonical_label(name: str, *, where: str = "") -> str:
    """Map a label spelling (``"happy"``, ``"Angry"``, ``"sad"``) to its canonical name.

    Args:
        name: a label as written in a folder name or a CSV cell; case and surrounding spaces ignored.
        where: context for the error message, e.g. ``"data.csv:12"``.

    Raises:
        UnknownLabelError: ``name`` is not a known spelling; the message lists the canonical names.
    """
    key = str(name).strip().lower()
    try:
        return LABEL_SYNONYMS[key]
    except KeyError:
        prefix = f"{where}: " if where else ""
        raise UnknownLabelError(
            f"{prefix}unknown expression label {name!r}; expected one of {list(CANONICAL_LABELS)} "
            f"(or a synonym such as 'happy', 'angry', 'sad')"
        ) from None


def sort_labels(labels: Iterable[str]) -> list[str]:
    """Distinct canonical labels in :data:`CANONICAL_LABELS` order (the class-index order)."""
    present = set(labels)
    unknown = present - set(CANONICAL_LABELS)
    if unknown:
        raise UnknownLabelError(f"not canonical labels: {sorted(unknown)}; expected {list(CANONICAL_LABELS)}")
    return [name for name in CANONICAL_LABELS if name in present]


#: Valence grouping for ``--labels valence3``: happiness is positive; anger, contempt, disgust, fear and
#: sadness are negative; neutral is neutral. Surprise can be pleasant or unpleasant (its valence is
#: ambiguous without context), so it is grouped with neutral.
VALENCE3: Mapping[str, str] = MappingProxyType({
    "happiness": "positive",
    "anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative", "sadness": "negative",
    "neutral": "neutral", "surprise": "neutral",
})
#: The six basic emotions (Ekman): ``--labels basic6`` drops neutral and contempt samples.
BASIC6: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
LABEL_SCHEMES: tuple[str, ...] = ("native", "basic6", "valence3")


def apply_label_scheme(classes: list[str], y, scheme: str = "native", exclude: Iterable[str] = ()):
    """Relabel class indices ``y`` under a label scheme, dropping excluded classes.

    Args:
        classes: the dataset's canonical class names (index order of ``y``).
        y: ``(N,)`` int class indices.
        scheme: ``"native"`` (keep), ``"basic6"`` (drop neutral/contempt) or ``"valence3"``
            (positive/negative/neutral, see :data:`VALENCE3`).
        exclude: canonical class names whose samples are dropped (before mapping), e.g. ``["disgust"]``.

    Returns:
        ``(new_classes, new_y, keep)``: names, ``(M,)`` int64 indices, ``(N,)`` bool mask of kept samples.

    Raises:
        ValueError: unknown scheme, or an excluded name that is not a class of the dataset.
    """
    import numpy as np

    y = np.asarray(y)
    if scheme not in LABEL_SCHEMES:
        raise ValueError(f"labels={scheme!r}; expected one of {list(LABEL_SCHEMES)}")
    exclude = [canonical_label(e) for e in exclude]
    missing = [e for e in exclude if e not in classes]
    if missing:
        raise ValueError(f"exclude={missing}: not classes of this dataset {classes}")
    drop = set(exclude) | ({"neutral", "contempt"} if scheme == "basic6" else set())
    keep = np.array([classes[i] not in drop for i in y], dtype=bool)
    names = [c for c in classes if c not in drop]
    if scheme == "valence3":
        mapped = [VALENCE3[c] for c in names]
        new_classes = [v for v in ("negative", "neutral", "positive") if v in mapped]
        lookup = {c: new_classes.index(VALENCE3[c]) for c in names}
    else:
        new_classes = names
        lookup = {c: names.index(c) for c in names}
    new_y = np.array([lookup[classes[i]] for i in y[keep]], dtype=np.int64)
    return new_classes, new_y, keep
