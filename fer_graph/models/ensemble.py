"""Seed ensembles of graph networks: several copies of one architecture, trained from different seeds,
whose class probabilities are averaged (Lakshminarayanan et al., NeurIPS 2017, "Deep Ensembles")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .registry import get_model

__all__ = ["ProbabilityAverage", "build_module", "first_member"]


class ProbabilityAverage(torch.nn.Module):
    """Wraps trained graph classifiers of one architecture; ``forward`` takes their arguments and returns
    ``log(mean_k softmax(member_k(...)))`` — logits whose softmax is the members' mean probability, so
    code that applies a softmax to a classifier's output gets the ensemble's probabilities.

    Shape: as a member's forward; returns ``(G, C)`` float32.

    Raises:
        ValueError: no members.
    """

    def __init__(self, members: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("ProbabilityAverage needs at least one member")
        self.members = torch.nn.ModuleList(members)
        self.backend = getattr(members[0], "backend", "pyg")
        self.num_classes = getattr(members[0], "num_classes", 0)

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        probs = torch.stack([torch.softmax(m(*args, **kwargs), dim=-1) for m in self.members]).mean(0)
        return torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny))


def build_module(arch: str, kwargs: dict[str, Any], members: int = 1) -> torch.nn.Module:
    """An untrained registered model (``members == 1``) or a :class:`ProbabilityAverage` of ``members``
    of them, to load a state dict into."""
    if members == 1:
        return get_model(arch, **kwargs)
    return ProbabilityAverage([get_model(arch, **kwargs) for _ in range(members)])


def first_member(module: torch.nn.Module) -> torch.nn.Module:
    """The first member of an ensemble, or ``module`` itself (its weights seed fine-tuning)."""
    return module.members[0] if isinstance(module, ProbabilityAverage) else module
