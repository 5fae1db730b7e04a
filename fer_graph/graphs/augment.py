"""Geometric augmentation of dense landmark features ``(B, V, F)`` (F = tokens x coordinate dims).

Each feature token (apex coordinates, displacement) is a block of ``dims`` channels ``(x, y[, z])``;
geometric operations act on every block alike, so displacements stay consistent with coordinates.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["mirror", "random_augment", "random_flip", "attribute_mirror", "mirror_attributes"]

#: Graph attributes whose sign flips under a horizontal mirror (head yaw and roll); pitch is unchanged.
_SIGN_FLIPPED = frozenset({"yaw", "roll"})


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


def attribute_mirror(names: tuple[str, ...] | list[str]) -> tuple[Tensor, Tensor] | None:
    """How named graph attributes change under a horizontal mirror: ``*Left`` and ``*Right`` blendshapes
    (MediaPipe names, the subject's sides) swap, ``yaw`` and ``roll`` change sign.

    Returns:
        ``(perm, sign)``: ``(A,)`` int64 column permutation (an involution) and ``(A,)`` float32 signs, so
        the mirrored attributes are ``g[:, perm] * sign``; ``None`` for no names.
    """
    if not names:
        return None
    index = {n: i for i, n in enumerate(names)}

    def partner(n: str) -> str:
        for a, b in (("Left", "Right"), ("Right", "Left")):
            if n.endswith(a) and n[: -len(a)] + b in index:
                return n[: -len(a)] + b
        return n

    perm = torch.tensor([index[partner(n)] for n in names], dtype=torch.long)
    sign = torch.tensor([-1.0 if n in _SIGN_FLIPPED else 1.0 for n in names])
    return perm, sign


def mirror_attributes(g: Tensor, flip: Tensor, perm: Tensor, sign: Tensor) -> Tensor:
    """Mirror the graph attributes ``g`` ``(B, A)`` of the graphs where ``flip`` ``(B,)`` bool is True with
    ``(perm, sign)`` of :func:`attribute_mirror`; returns a new tensor."""
    out = g.clone()
    out[flip] = g[flip][:, perm] * sign
    return out


def random_flip(b: int, p_mirror: float, generator: torch.Generator) -> Tensor:
    """``(b,)`` bool: which graphs to mirror, each with probability ``p_mirror`` (no draw when it is 0)."""
    if p_mirror <= 0:
        return torch.zeros(b, dtype=torch.bool)
    return torch.rand(b, generator=generator) < p_mirror


def random_augment(x: Tensor, *, perm: Tensor, dims: int, generator: torch.Generator, p_mirror: float = 0.5,
                   rotate_deg: float = 10.0, scale: float = 0.05, noise: float = 0.02,
                   flip: Tensor | None = None) -> Tensor:
    """Random mirror, in-plane rotation, isotropic scaling and Gaussian coordinate noise, per graph.

    Args:
        x: ``(B, V, F)`` normalized features (IOD units).
        perm, dims: see :func:`mirror`.
        generator: seeded generator (reproducible draws).
        p_mirror: probability of mirroring each graph.
        rotate_deg: rotation angle drawn uniformly in ``[-rotate_deg, rotate_deg]`` degrees.
        scale: scale factor drawn uniformly in ``[1 - scale, 1 + scale]``.
        noise: std of Gaussian noise added to every coordinate, in IOD units.
        flip: ``(B,)`` bool, the graphs to mirror, drawn beforehand by :func:`random_flip` (to mirror their
            graph attributes alike); ``None`` draws it here, the same way.

    Returns:
        A new tensor of the same shape.
    """
    b = x.shape[0]
    out = x
    flip = random_flip(b, p_mirror, generator) if flip is None else flip
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
