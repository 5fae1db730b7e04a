"""Landmark noise: Gaussian displacement of landmarks in inter-ocular-distance (IOD) units."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .._random import torch_generator

__all__ = ["landmark_noise"]


def landmark_noise(x: Tensor, sigma: float, *, dims: int, nodes: np.ndarray | Tensor | None = None,
                   seed: int | torch.Generator | None = 0) -> Tensor:
    """Displace landmarks by isotropic Gaussian noise.

    The noise models a jittery detector on the observed frame: one displacement per landmark and
    coordinate, added to every feature token of ``x`` alike (the apex coordinates and the apex − onset
    displacement move together; the neutral onset frame is taken as clean).

    Args:
        x: ``(G, V, F)`` float32 normalized features, F a multiple of ``dims`` (IOD units).
        sigma: standard deviation in IOD units (0.05 = 5% of the inter-ocular distance). 0 returns a copy.
        dims: coordinates per token (2 or 3; with 3, z is displaced too).
        nodes: landmark indices to displace (a region), ``None`` = all.
        seed: int seed or ``torch.Generator``.

    Returns:
        A new ``(G, V, F)`` tensor.

    Raises:
        ValueError: negative ``sigma`` or F not a multiple of ``dims``.
    """
    if sigma < 0:
        raise ValueError(f"sigma={sigma}: noise standard deviation must be >= 0 (IOD units)")
    if x.shape[-1] % dims:
        raise ValueError(f"landmark_noise: {x.shape[-1]} feature channels are not a multiple of dims={dims}")
    out = x.clone()
    if sigma == 0:
        return out
    gen = torch_generator(seed)
    g, v, f = x.shape
    delta = torch.randn((g, v, dims), generator=gen, dtype=x.dtype) * sigma
    if nodes is not None:
        keep = torch.zeros(v, dtype=torch.bool)
        keep[torch.as_tensor(nodes, dtype=torch.long)] = True
        delta = delta * keep[None, :, None]
    return out + delta.repeat(1, 1, f // dims)
