"""Geometric augmentation of dense landmark features ``(B, V, F)`` (F = tokens x coordinate dims).

Each feature token (apex coordinates, displacement) is a block of ``dims`` channels ``(x, y[, z])``;
geometric operations act on every block alike, so displacements stay consistent with coordinates.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["mirror", "random_augment"]


def mirror(x: Tensor, perm: Tensor, dims: int) -> Tensor:
    """Horizontal mirror: permute landmarks with the topology's mirror permutation and negate x.

    Args:
        x: ``(B, V, F)`` features, F a multiple of ``dims``.
        perm: ``(V,)`` int64 mirror permutation (an involution, see ``Topology.mirror``).
        dims: coordinate dims per token (2 or 3).

    Returns:
        A new ``(B, V, F)`` tensor; ``mirror(mirror(x)) == x``.
    """
    out = x[:, perm, :].clone()
    out[..., 0::dims] = -out[..., 0::dims]
    return out


def random_augment(x: Tensor, *, perm: Tensor, dims: int, generator: torch.Generator, p_mirror: float = 0.5,
                   rotate_deg: float = 10.0, scale: float = 0.05, noise: float = 0.02) -> Tensor:
    """Random mirror, in-plane rotation, isotropic scaling and Gaussian coordinate noise, per graph.

    Args:
        x: ``(B, V, F)`` normalized features (IOD units).
        perm, dims: see :func:`mirror`.
        generator: seeded generator (reproducible draws).
        p_mirror: probability of mirroring each graph.
        rotate_deg: rotation angle drawn uniformly in ``[-rotate_deg, rotate_deg]`` degrees.
        scale: scale factor drawn uniformly in ``[1 - scale, 1 + scale]``.
        noise: std of Gaussian noise added to every coordinate, in IOD units.

    Returns:
        A new tensor of the same shape.
    """
    b = x.shape[0]
    out = x
    if p_mirror > 0:
        flip = torch.rand(b, generator=generator) < p_mirror
        if flip.any():
            out = out.clone()
            out[flip] = mirror(out[flip], perm, dims)
    theta = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(rotate_deg)
    s = 1 + (torch.rand(b, generator=generator) * 2 - 1) * scale
    c, si = (torch.cos(theta) * s)[:, None], (torch.sin(theta) * s)[:, None]
    out = out.clone()
    xs, ys = out[..., 0::dims].clone(), out[..., 1::dims].clone()
    out[..., 0::dims] = c[..., None] * xs - si[..., None] * ys
    out[..., 1::dims] = si[..., None] * xs + c[..., None] * ys
    if dims == 3:
        out[..., 2::dims] = out[..., 2::dims] * s[:, None, None]
    if noise > 0:
        out = out + noise * torch.randn(out.shape, generator=generator)
    return out
