"""Explicit random generators (scikit-learn's ``check_random_state`` habit): library code never seeds globals."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

__all__ = ["check_rng", "torch_generator", "seeded_call", "undersample"]

T = TypeVar("T")


def check_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A :class:`numpy.random.Generator`: ``seed`` itself if it is one, else ``np.random.default_rng(seed)``."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def torch_generator(seed: int | torch.Generator | None) -> torch.Generator:
    """A CPU :class:`torch.Generator`: ``seed`` itself if it is one, else a new one seeded with ``seed`` (0 if None)."""
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator()
    gen.manual_seed(int(seed or 0))
    return gen


def seeded_call(fn: Callable[[], T], generator: torch.Generator) -> T:
    """Call ``fn()`` with torch's default generator temporarily in ``generator``'s state, then advance
    ``generator`` past the draws ``fn`` made and restore the default generator.

    Modules initialise their parameters from the default generator (``nn.Linear.reset_parameters``); this
    makes that initialisation (and PyG's functional dropout) a function of ``generator`` alone, without touching global state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        out = fn()
        generator.set_state(torch.get_rng_state())
    return out


def undersample(idx: np.ndarray, y: np.ndarray, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A class-balanced subset of ``idx``: every class present drawn without replacement down to the rarest
    class's count (random undersampling), returned sorted.

    Shapes:
        idx: ``(n,)`` int positions into ``y`` (labels ``(N,)`` int). Returns ``(k * min count,)`` int64.
    """
    idx = np.asarray(idx, dtype=np.int64)
    if not len(idx):
        return idx
    rng = check_rng(seed)
    labels = y[idx]
    classes, counts = np.unique(labels, return_counts=True)
    parts = [rng.choice(idx[labels == c], size=counts.min(), replace=False) for c in classes]
    return np.sort(np.concatenate(parts))
