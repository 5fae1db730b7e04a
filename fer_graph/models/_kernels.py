"""Fused CPU kernels (Numba) of the fast backend: GAT message passing on B graphs that share one topology,
the residual LayerNorm block tail, and dropout from a counter-based random stream.

One GAT layer's message passing -- attention logits, LeakyReLU, neighbour softmax (present nodes only),
attention dropout and the weighted neighbour sum -- is one pass over the CSR neighbour lists per target
node, and its backward is two such passes, both run for one graph by one parallel task. Every entry of
the ``B * E' * H`` attention tensors is touched once or twice, where an eager formulation (padded neighbour
table, softmax, ``embedding_bag``, ``sampled_addmm``, scatters) runs eight to twelve memory-bound ops.

Layout: the layer's projection output ``comb`` is ``(B, V, H*C + 2H)``: each node's H*C features
(head-major, ``C`` channels per head), then its H source scores ``a_src . W x`` and H target scores
``a_dst . W x``. Entries ``e`` follow :class:`~fer_graph.models._fixed_graph.FixedGraph` CSR order (by
target ``dst[e]``, then source ``src[e]``; one self loop per node), ``rev[e]`` is the reverse edge's entry.

Arithmetic stays in the data's dtype (Numba promotes ``float32 op Python float`` to float64, so scalars
are typed explicitly); kernels compile on first use and are cached on disk by Numba (``cache=True``); they
run on ``torch.get_num_threads()`` threads. Dropout seeds come from a ``torch.Generator`` passed down by the
caller (None: torch's default generator).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import torch
from numba import njit, prange, types
from numba.extending import overload
from torch import Tensor

__all__ = ["GATAttend", "gat_attend", "HashDropout", "hash_dropout", "ResidualLayerNormELU",
           "residual_layer_norm_elu"]

# no "nnan"/"ninf": -inf marks excluded softmax entries; no "afn": no approximate division or sqrt
_FAST = {"contract", "reassoc", "nsz", "arcp"}


# ---------------------------------------------------------------------------------------------------------
# Counter-based dropout and the fused residual LayerNorm block tail

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(inline="always")
def _splitmix64(x):
    """SplitMix64 finalizer (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
    OOPSLA 2014): a bijective hash whose outputs for consecutive inputs pass BigCrush."""
    z = x * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def _keep16(seed, n, drop):
    """Element ``n`` of the stream ``seed`` is kept iff its 16 random bits are >= ``drop``: bits of element n
    are the (n mod 4)-th 16-bit lane of ``splitmix64(seed + n // 4)``."""
    word = _splitmix64(seed + np.uint64(n >> 2))
    bits = (word >> np.uint64((n & 3) * 16)) & np.uint64(0xFFFF)
    return bits >= np.uint64(drop)


# exp on the non-positive half line, branch-free so that loops calling it vectorize: Numba's np.exp is a
# scalar libm call (no SVML in the llvmlite wheels) and would dominate the fused block.
# Typed per dtype (an overload): float32 arithmetic for float32 inputs, so loops stay 16 lanes wide.
_POW2_F64 = np.array([2.0 ** n for n in range(-126, 1)], dtype=np.float64)  # 2**n, n = -126..0
_POW2_F32 = _POW2_F64.astype(np.float32)


def _exp_nonpos(z):
    """``exp(z)`` for ``z <= 0`` (inputs below -87 give exp(-87) = 1.6e-38; float32's normal range ends at
    1.2e-38), in the input's precision: Cody-Waite reduction ``z = n ln 2 + f``, ``|f| <= ln(2)/2`` (Cody &
    Waite, "Software Manual for the Elementary Functions", 1980; ln 2 split so that ``n * hi`` is exact), the
    Taylor polynomial of ``exp(f)`` (degree 7 for float32: truncation 5.6e-9 relative; degree 11 for float64:
    2e-14), times ``2**n`` from a table. Called from Python it runs the float64 variant."""
    return _exp_nonpos_f64(float(z))


@njit(inline="always", fastmath=_FAST)
def _exp_nonpos_f64(z):
    z = max(z, -87.0)
    n = np.floor(z * 1.4426950408889634 + 0.5)
    f = (z - n * 0.693145751953125) - n * 1.4286068203094173e-06
    p = 1.0 + f * (1.0 + f * (1.0 / 2 + f * (1.0 / 6 + f * (1.0 / 24 + f * (1.0 / 120 + f * (1.0 / 720 + f * (
        1.0 / 5040 + f * (1.0 / 40320 + f * (1.0 / 362880 + f * (1.0 / 3628800 + f * (1.0 / 39916800)))))))))))
    return p * _POW2_F64[np.int64(n) + 126]


@njit(inline="always", fastmath=_FAST)
def _exp_nonpos_f32(z):
    z = max(z, np.float32(-87.0))
    n = np.floor(z * np.float32(1.442695) + np.float32(0.5))
    f = (z - n * np.float32(0.693359375)) + n * np.float32(2.12194440e-4)
    p = np.float32(1.0 / 5040)
    p = p * f + np.float32(1.0 / 720)
    p = p * f + np.float32(1.0 / 120)
    p = p * f + np.float32(1.0 / 24)
    p = p * f + np.float32(1.0 / 6)
    p = p * f + np.float32(0.5)
    p = p * f + np.float32(1.0)
    p = p * f + np.float32(1.0)
    return p * _POW2_F32[np.int32(n) + 126]


@overload(_exp_nonpos, inline="always")
def _exp_nonpos_typed(z):
    if isinstance(z, types.Float) and z.bitwidth == 32:
        return lambda z: _exp_nonpos_f32(z)
    return lambda z: _exp_nonpos_f64(z)


_BLOCK = 64  # rows per parallel task of the block kernels


@njit(inline="always", fastmath=_FAST)
def _forward_graph(b, comb, rowptr, src, mask, has_mask, keep, has_keep, slope, heads, chans, out, alpha, walpha,
                   m, s):
    """Graph ``b``'s rows. comb (B*V, K), mask (B*V,), keep/alpha/walpha (B*E', H), out (B*V, H*C); see GATAttend.

    Per target node: logits of all its entries and heads (heads innermost, contiguous), per-head max,
    exp and sum, then the weighted sum of the sources' feature rows. alpha gets the softmax, walpha the
    weights used (alpha times the dropout factors; pass alpha itself when there is no dropout).
    """
    v = rowptr.shape[0] - 1
    ne = src.shape[0]
    hc = heads * chans
    zero = np.zeros(1, dtype=comb.dtype)[0]
    one = np.ones(1, dtype=comb.dtype)[0]  # typed scalars: a Python float or int would promote to float64
    ninf = np.full(1, -np.inf, dtype=comb.dtype)[0]
    eb, gb = b * ne, b * v
    for i in range(v):
        t = gb + i
        lo, hi = rowptr[i], rowptr[i + 1]
        o = out[t]
        o[:] = zero
        if has_mask and not mask[t]:
            alpha[eb + lo:eb + hi] = zero
            walpha[eb + lo:eb + hi] = zero
            continue
        sd = comb[t, hc + heads:hc + 2 * heads]
        m[:] = ninf
        for e in range(lo, hi):
            j = gb + src[e]
            a = alpha[eb + e]
            if has_mask and not mask[j]:
                a[:] = ninf
                continue
            ss = comb[j, hc:hc + heads]
            for h in range(heads):
                z = ss[h] + sd[h]
                z = z if z >= zero else z * slope
                a[h] = z
                m[h] = max(m[h], z)
        s[:] = zero
        for e in range(lo, hi):
            a = alpha[eb + e]
            for h in range(heads):
                x = zero if a[h] == ninf else _exp_nonpos(a[h] - m[h])
                a[h] = x
                s[h] += x
        for h in range(heads):
            s[h] = one / s[h]
        for e in range(lo, hi):
            a = alpha[eb + e]
            wa = walpha[eb + e]
            r = comb[gb + src[e]]
            for h in range(heads):
                w = a[h] * s[h]
                a[h] = w
                if has_keep:
                    w *= keep[eb + e, h]
                    wa[h] = w
                base = h * chans  # no branch on w == 0: dropped entries are random, mispredictions cost more
                for k in range(chans):
                    o[base + k] += w * r[base + k]


@njit(parallel=True, cache=True, fastmath=_FAST)
def _attend_forward(comb, rowptr, src, mask, has_mask, keep, has_keep, slope, heads, chans, out, alpha, walpha):
    """Forward of :class:`GATAttend`, graphs in parallel; see :func:`_forward_graph`."""
    v = rowptr.shape[0] - 1
    for b in prange(comb.shape[0] // v):
        m = np.empty(heads, dtype=comb.dtype)
        s = np.empty(heads, dtype=comb.dtype)
        _forward_graph(b, comb, rowptr, src, mask, has_mask, keep, has_keep, slope, heads, chans, out, alpha,
                       walpha, m, s)


@njit(inline="always", fastmath=_FAST)
def _backward_logits(b, grad, comb, alpha, rowptr, src, keep, has_keep, slope, heads, chans, glog, gcomb, dot):
    """Pass 1 over graph ``b``'s target rows: dL/dlogit of every entry (i <- j) into glog, the target scores'
    gradient into gcomb."""
    v = rowptr.shape[0] - 1
    ne = src.shape[0]
    hc = heads * chans
    zero = np.zeros(1, dtype=comb.dtype)[0]
    eb, gb = b * ne, b * v
    for i in range(v):
        t = gb + i
        lo, hi = rowptr[i], rowptr[i + 1]
        gi = grad[t]
        dot[:] = zero
        for e in range(lo, hi):
            a = alpha[eb + e]
            gl = glog[eb + e]
            r = comb[gb + src[e]]
            for h in range(heads):
                g = zero
                base = h * chans
                for k in range(chans):
                    g += gi[base + k] * r[base + k]
                if has_keep:
                    g *= keep[eb + e, h]
                gl[h] = g
                dot[h] += a[h] * g
        sd = comb[t, hc + heads:hc + 2 * heads]
        gd = gcomb[t, hc + heads:hc + 2 * heads]
        gd[:] = zero
        for e in range(lo, hi):
            a = alpha[eb + e]
            gl = glog[eb + e]
            ss = comb[gb + src[e], hc:hc + heads]
            for h in range(heads):
                gz = a[h] * (gl[h] - dot[h])
                if ss[h] + sd[h] < zero:
                    gz *= slope
                gl[h] = gz
                gd[h] += gz


@njit(inline="always", fastmath=_FAST)
def _backward_sources(b, grad, walpha, rowptr, src, rev, heads, chans, glog, gcomb):
    """Pass 2 over graph ``b``'s source rows: features' and source scores' gradients, gathered over the
    reverse entries with the weights the forward used (walpha)."""
    v = rowptr.shape[0] - 1
    ne = src.shape[0]
    hc = heads * chans
    zero = np.zeros(1, dtype=grad.dtype)[0]
    eb, gb = b * ne, b * v
    for j in range(v):
        t = gb + j
        lo, hi = rowptr[j], rowptr[j + 1]
        gc = gcomb[t]
        gc[:hc + heads] = zero
        for f in range(lo, hi):
            e = eb + rev[f]  # entry (i <- j), i = src[f]
            wa = walpha[e]
            gl = glog[e]
            gr = grad[gb + src[f]]
            for h in range(heads):
                gc[hc + h] += gl[h]
                w = wa[h]
                base = h * chans
                for k in range(chans):
                    gc[base + k] += w * gr[base + k]


@njit(parallel=True, cache=True, fastmath=_FAST)
def _attend_backward(grad, comb, alpha, walpha, rowptr, src, rev, keep, has_keep, slope, heads, chans, glog, gcomb):
    """Backward of :func:`_attend_forward`: pass 1 then pass 2 per graph, graphs in parallel (a graph's rows,
    entries and gradients, about 0.5 MB for 468 nodes, stay in the core's cache between the passes)."""
    v = rowptr.shape[0] - 1
    graphs = comb.shape[0] // v
    for b in prange(graphs):
        dot = np.empty(heads, dtype=comb.dtype)
        _backward_logits(b, grad, comb, alpha, rowptr, src, keep, has_keep, slope, heads, chans, glog, gcomb, dot)
        _backward_sources(b, grad, walpha, rowptr, src, rev, heads, chans, glog, gcomb)


@njit(parallel=True, cache=True)
def _dropout_apply(x, seed, drop, scale, out):
    """out = x * keep * scale, keep from (seed, flat position); x, out 1-d (out may be x). Run on a gradient
    with the same seed, it is dropout's backward."""
    n = x.shape[0]
    zero = np.zeros(1, dtype=x.dtype)[0]
    for blk in prange((n + 4095) // 4096):
        for t in range(blk * 4096, min(n, blk * 4096 + 4096)):
            out[t] = x[t] * scale if _keep16(seed, t, drop) else zero


@njit(parallel=True, cache=True, fastmath=_FAST)
def _block_forward(y, h, w, b, eps, inv_width, seed, drop, scale, out, mean, rstd):
    """out = h + dropout(ELU(LayerNorm(y))) row by row; y, h, out (R, H); saves mean, rstd (R,)."""
    rows, width = y.shape
    zero = np.zeros(1, dtype=y.dtype)[0]
    one = np.ones(1, dtype=y.dtype)[0]
    for blk in prange((rows + _BLOCK - 1) // _BLOCK):
        for t in range(blk * _BLOCK, min(rows, (blk + 1) * _BLOCK)):
            r = y[t]
            mu = zero
            for k in range(width):
                mu += r[k]
            mu *= inv_width
            var = zero
            for k in range(width):
                d = r[k] - mu
                var += d * d
            rs = one / np.sqrt(var * inv_width + eps)
            mean[t] = mu
            rstd[t] = rs
            o, hh = out[t], h[t]
            base = t * width
            for k in range(width):
                z = (r[k] - mu) * rs * w[k] + b[k]
                z = max(z, zero) + (_exp_nonpos(min(z, zero)) - one)  # ELU
                if drop > 0:
                    z = z * scale if _keep16(seed, base + k, drop) else zero
                o[k] = hh[k] + z


@njit(parallel=True, cache=True, fastmath=_FAST)
def _block_backward(g, y, w, b, mean, rstd, inv_width, seed, drop, scale, gy, gw_part, gb_part):
    """Gradient of :func:`_block_forward` w.r.t. y (into gy) and the LayerNorm affine parameters (per-task
    partial sums gw_part, gb_part (tasks, H)); the residual's gradient is g itself."""
    rows, width = y.shape
    zero = np.zeros(1, dtype=y.dtype)[0]
    one = np.ones(1, dtype=y.dtype)[0]
    ntask = gw_part.shape[0]
    per = (rows + ntask - 1) // ntask
    for task in prange(ntask):
        gw, gb = gw_part[task], gb_part[task]
        gw[:] = zero
        gb[:] = zero
        for t in range(task * per, min(rows, (task + 1) * per)):
            r, gr, o = y[t], g[t], gy[t]
            mu, rs = mean[t], rstd[t]
            base = t * width
            s1 = zero
            s2 = zero
            for k in range(width):
                xh = (r[k] - mu) * rs
                z = xh * w[k] + b[k]
                d = gr[k]
                if drop > 0:
                    d = d * scale if _keep16(seed, base + k, drop) else zero
                d = d * (one if z > zero else _exp_nonpos(min(z, zero)))  # ELU'
                gw[k] += d * xh
                gb[k] += d
                gx = d * w[k]
                o[k] = gx  # dL/dxhat, finished below
                s1 += gx
                s2 += gx * xh
            s1 *= inv_width
            s2 *= inv_width
            for k in range(width):
                xh = (r[k] - mu) * rs
                o[k] = rs * (o[k] - s1 - xh * s2)


# ---------------------------------------------------------------------------------------------------------
# torch wrappers

_EMPTY_MASK = np.zeros(1, dtype=np.bool_)


def _keep_table(dropout: _Dropout, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """The factors dropout multiplies by (0 or ``scale``), ``shape``; a dummy (1, 1) array without dropout."""
    if dropout.drop == 0:
        return np.zeros((1, 1), dtype=dtype)
    out = np.ones(shape, dtype=dtype).reshape(-1)
    _dropout_apply(out, dropout.seed, dropout.drop, dtype.type(dropout.scale), out)  # in place on ones
    return out.reshape(shape)


def _threads() -> None:
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


class _Dropout(NamedTuple):
    """Dropout by a counter-based stream: element n of a tensor is kept iff its 16 random bits (from
    ``seed`` and n) are >= ``drop``; kept elements are scaled by ``scale``. ``drop == 0``: no dropout."""

    seed: np.uint64
    drop: int
    scale: float

    @classmethod
    def draw(cls, p: float, training: bool = True, generator: torch.Generator | None = None) -> _Dropout:
        """A fresh stream for probability ``p`` (``q = round(p * 2**16) / 2**16``): one 62-bit seed drawn from
        ``generator`` (None: torch's default generator), so the stream is reproducible through it.

        Raises:
            ValueError: ``p`` outside ``[0, 1]``.
        """
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout: p={p}; expected a probability in [0, 1]")
        drop = round(p * 65536) if training else 0
        if drop == 0:
            return cls(np.uint64(0), 0, 1.0)
        seed = np.uint64(int(torch.randint(0, 2**62, (), generator=generator)))
        return cls(seed, drop, 65536 / (65536 - drop) if drop < 65536 else 0.0)


class GATAttend(torch.autograd.Function):
    """Fused GAT message passing: softmax attention over each node's present neighbours, weighted sum.

    ``out[b, i, h] = sum_{j in N(i) + i, present} keep[b, e, h] * alpha[b, e, h] * feat[b, j, h]`` with
    ``alpha[b, ., h] = softmax_j(LeakyReLU(s_src[b, j, h] + s_dst[b, i, h]))`` over present ``j``, ``keep``
    the attention dropout (:class:`_Dropout` over the ``(B, E', H)`` entries). Masked (absent) target
    nodes get zero rows; their entries get ``alpha = 0``.

    Shapes:
        comb: ``(B, V, H*C + 2H)`` float32/float64: features, source scores, target scores.
        rowptr, src, rev: int64 CSR of :class:`~fer_graph.models._fixed_graph.FixedGraph`.
        mask: ``(B, V)`` bool or None. Returns ``(B, V, H*C)``.
    """

    @staticmethod
    def forward(ctx, comb: Tensor, rowptr: Tensor, src: Tensor, rev: Tensor, mask: Tensor | None,
                dropout: _Dropout, slope: float, heads: int) -> Tensor:
        b, v, k = comb.shape
        chans = (k - 2 * heads) // heads
        comb = comb.contiguous()
        dt = comb.numpy().dtype
        out = torch.empty(b, v, heads * chans, dtype=comb.dtype)
        alpha = torch.empty(b, len(src), heads, dtype=comb.dtype)
        mask_np = _EMPTY_MASK if mask is None else mask.reshape(-1).contiguous().numpy()
        _threads()
        keep = _keep_table(dropout, (b * len(src), heads), dt)  # read by forward and backward: drawn once
        walpha = torch.empty_like(alpha) if dropout.drop > 0 else alpha
        _attend_forward(comb.view(b * v, k).numpy(), rowptr.numpy(), src.numpy(), mask_np, mask is not None,
                        keep, dropout.drop > 0, dt.type(slope), heads, chans, out.view(b * v, -1).numpy(),
                        alpha.view(-1, heads).numpy(), walpha.view(-1, heads).numpy())
        ctx.save_for_backward(comb, alpha, walpha, rowptr, src, rev)
        ctx.keep, ctx.has_keep, ctx.slope, ctx.heads, ctx.chans = keep, dropout.drop > 0, slope, heads, chans
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        comb, alpha, walpha, rowptr, src, rev = ctx.saved_tensors
        heads = ctx.heads
        rows = comb.shape[0] * comb.shape[1]
        dt = comb.numpy().dtype
        gcomb = torch.empty_like(comb)
        glog = torch.empty_like(alpha)
        g2 = grad.contiguous().view(rows, -1).numpy()
        c2, a2 = comb.view(rows, -1).numpy(), alpha.view(-1, heads).numpy()
        gl2, gc2 = glog.view(-1, heads).numpy(), gcomb.view(rows, -1).numpy()
        _threads()
        _attend_backward(g2, c2, a2, walpha.view(-1, heads).numpy(), rowptr.numpy(), src.numpy(), rev.numpy(),
                         ctx.keep, ctx.has_keep, dt.type(ctx.slope), heads, ctx.chans, gl2, gc2)
        return gcomb, None, None, None, None, None, None, None


def gat_attend(comb: Tensor, rowptr: Tensor, src: Tensor, rev: Tensor, mask: Tensor | None, p: float,
               slope: float, heads: int, *, training: bool = True,
               generator: torch.Generator | None = None) -> Tensor:
    """:class:`GATAttend` with attention dropout ``p`` (when ``training``), its seed drawn from ``generator``
    (None: torch's default generator); see there for shapes."""
    return GATAttend.apply(comb, rowptr, src, rev, mask, _Dropout.draw(p, training, generator), slope, heads)


class HashDropout(torch.autograd.Function):
    """Inverted dropout by a counter-based stream (:class:`_Dropout`): the backward recomputes the keep
    pattern from the seed instead of storing a mask. Shapes: any; returns ``x``'s shape."""

    @staticmethod
    def forward(ctx, x: Tensor, dropout: _Dropout) -> Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        dt = x.numpy().dtype
        _threads()
        _dropout_apply(x.view(-1).numpy(), dropout.seed, dropout.drop, dt.type(dropout.scale), out.view(-1).numpy())
        ctx.dropout = dropout
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        return HashDropout.apply(grad, ctx.dropout), None


class ResidualLayerNormELU(torch.autograd.Function):
    """``h + dropout(ELU(LayerNorm(y)))`` in one pass per row (and one backward pass).

    Shapes:
        y, h: ``(..., H)`` float32/float64; weight, bias: ``(H,)``. Returns ``h``'s shape.
    """

    @staticmethod
    def forward(ctx, y: Tensor, h: Tensor, weight: Tensor, bias: Tensor, eps: float, dropout: _Dropout) -> Tensor:
        width = y.shape[-1]
        y2 = y.reshape(-1, width).contiguous()
        h2 = h.reshape(-1, width).contiguous()
        dt = y2.numpy().dtype
        out = torch.empty_like(h2)
        mean = torch.empty(len(y2), dtype=y.dtype)
        rstd = torch.empty(len(y2), dtype=y.dtype)
        w, b = weight.detach().contiguous(), bias.detach().contiguous()
        _threads()
        _block_forward(y2.numpy(), h2.numpy(), w.numpy(), b.numpy(), dt.type(eps), dt.type(1 / width), dropout.seed,
                       dropout.drop, dt.type(dropout.scale), out.numpy(), mean.numpy(), rstd.numpy())
        ctx.save_for_backward(y2, w, b, mean, rstd)
        ctx.dropout, ctx.shape = dropout, y.shape
        return out.view(h.shape)

    @staticmethod
    def backward(ctx, grad: Tensor):
        y2, w, b, mean, rstd = ctx.saved_tensors
        d = ctx.dropout
        g2 = grad.reshape(y2.shape).contiguous()
        dt = y2.numpy().dtype
        gy = torch.empty_like(y2)
        tasks = max(1, min(len(y2), 4 * numba.config.NUMBA_NUM_THREADS))
        gw = torch.empty(tasks, y2.shape[1], dtype=y2.dtype)
        gb = torch.empty_like(gw)
        _threads()
        _block_backward(g2.numpy(), y2.numpy(), w.numpy(), b.numpy(), mean.numpy(), rstd.numpy(),
                        dt.type(1 / y2.shape[1]), d.seed, d.drop, dt.type(d.scale), gy.numpy(), gw.numpy(), gb.numpy())
        return gy.view(ctx.shape), grad, gw.sum(0), gb.sum(0), None, None


def hash_dropout(x: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout of ``x`` (CPU float32/float64) with probability ``p``, its seed drawn from ``generator``
    (None: torch's default generator); see :class:`HashDropout`."""
    d = _Dropout.draw(p, training, generator)
    return x if d.drop == 0 else HashDropout.apply(x, d)


def residual_layer_norm_elu(y: Tensor, h: Tensor, weight: Tensor, bias: Tensor, eps: float, p: float,
                            training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """``h + dropout(ELU(LayerNorm(y)), p)`` fused, the dropout seed drawn from ``generator`` (None: torch's
    default generator); see :class:`ResidualLayerNormELU`."""
    return ResidualLayerNormELU.apply(y, h, weight, bias, eps, _Dropout.draw(p, training, generator))
