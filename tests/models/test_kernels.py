"""The fused Numba kernels of the fast path: gradients, the exp they use, dropout streams, the block tail."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_graph.graphs.topology import IBUG68
from fer_graph.models._kernels import (GATAttend, HashDropout, ResidualLayerNormELU, _Dropout, _exp_nonpos,
                                       residual_layer_norm_elu)
from fer_graph.models.fast import fixed_graph

GRAPH = fixed_graph(IBUG68.edge_index, 68)


def _attend(comb, mask, dropout, heads):
    return GATAttend.apply(comb, GRAPH.rowptr, GRAPH.src, GRAPH.rev, mask, dropout, 0.2, heads)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("p", [0.0, 0.4])
def test_gat_attend_gradcheck(masked, p):
    torch.manual_seed(0)
    heads, chans = 2, 3
    comb = torch.randn(2, 68, heads * chans + 2 * heads, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(2, 68) > 0.3) if masked else None
    dropout = _Dropout.draw(p)  # one stream for every call, so the function is deterministic
    assert torch.autograd.gradcheck(lambda c: _attend(c, mask, dropout, heads), (comb,))


def test_gat_attend_matches_dense_softmax():
    """Against a dense reference: softmax of LeakyReLU(s_src[j] + s_dst[i]) over present neighbours and self."""
    torch.manual_seed(1)
    heads, chans, v = 2, 4, 68
    comb = torch.randn(3, v, heads * chans + 2 * heads, dtype=torch.float64)
    mask = torch.rand(3, v) > 0.25
    out = _attend(comb, mask, _Dropout.draw(0.0), heads)
    adj = torch.zeros(v, v, dtype=torch.bool)
    adj[GRAPH.dst, GRAPH.src] = True  # includes self loops
    feat = comb[..., :heads * chans].reshape(3, v, heads, chans)
    s_src, s_dst = comb[..., heads * chans:heads * chans + heads], comb[..., heads * chans + heads:]
    logits = F.leaky_relu(s_src[:, None, :, :] + s_dst[:, :, None, :], 0.2)  # (B, i, j, H)
    allowed = adj[None, :, :, None] & (mask[:, None, :, None] | torch.eye(v, dtype=torch.bool)[None, :, :, None])
    alpha = logits.masked_fill(~allowed, float("-inf")).softmax(2)
    ref = torch.einsum("bijh,bjhc->bihc", alpha, feat).reshape(3, v, -1) * mask[..., None]
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    assert bool((out[~mask] == 0).all())


def test_exp_nonpos_float32_within_a_few_ulp():
    from numba import njit

    @njit
    def run(z, out):
        for i in range(len(z)):
            out[i] = _exp_nonpos(z[i])  # the float32 variant, as the kernels call it on float32 data

    z = -np.linspace(0, 87, 200_001).astype(np.float32)
    got = np.empty_like(z)
    run(z, got)
    assert got.dtype == np.float32
    ref = np.exp(z.astype(np.float64))
    assert np.max(np.abs(got / ref - 1)) < 4 * 2.0**-23


def test_exp_nonpos_accuracy():
    z = -np.concatenate([np.linspace(0, 87, 100_001), np.random.default_rng(0).exponential(5, 10_000)])
    z = z[z >= -87]
    got = np.array([_exp_nonpos(t) for t in z[::97]])  # the jitted function from Python, per value
    ref = np.exp(z[::97])
    assert np.max(np.abs(got / ref - 1)) < 1e-12
    assert _exp_nonpos(0.0) == 1.0


def test_dropout_stream_rate_and_reproducibility():
    torch.manual_seed(3)
    x = torch.ones(200_000)
    y = HashDropout.apply(x, _Dropout.draw(0.3))
    kept = y != 0
    assert abs(kept.double().mean().item() - (1 - round(0.3 * 65536) / 65536)) < 4e-3
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 65536 / (65536 - round(0.3 * 65536))))
    torch.manual_seed(3)
    assert torch.equal(HashDropout.apply(x, _Dropout.draw(0.3)), y)  # torch's seed fixes the stream
    # neighbouring 16-bit lanes of one 64-bit hash are not correlated
    k = kept[: 4 * (len(kept) // 4)].view(-1, 4).double()
    assert abs(torch.corrcoef(k.t())[0, 1].item()) < 0.02


def test_hash_dropout_backward_reuses_the_pattern():
    torch.manual_seed(0)
    x = torch.randn(5000, requires_grad=True)
    w = torch.randn(5000)
    y = HashDropout.apply(x, _Dropout.draw(0.5))
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, w * (y != 0) * 2.0)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 2e-6), (torch.float64, 1e-12)])
def test_residual_layer_norm_elu_matches_eager(dtype, tol):
    torch.manual_seed(0)
    ln = torch.nn.LayerNorm(16).to(dtype)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.5, 0.5)
    y = torch.randn(4, 30, 16, dtype=dtype, requires_grad=True)
    h = torch.randn(4, 30, 16, dtype=dtype, requires_grad=True)
    g = torch.randn(4, 30, 16, dtype=dtype)
    fused = residual_layer_norm_elu(y, h, ln.weight, ln.bias, ln.eps, 0.2, training=False)
    eager = h + F.elu(ln(y))
    torch.testing.assert_close(fused, eager, rtol=tol, atol=tol)
    params = [y, h, ln.weight, ln.bias]
    for a, b in zip(torch.autograd.grad((fused * g).sum(), params), torch.autograd.grad((eager * g).sum(), params)):
        torch.testing.assert_close(a, b, rtol=tol * 10, atol=tol * 10)


def test_residual_layer_norm_elu_gradcheck_with_dropout():
    torch.manual_seed(0)
    y = torch.randn(3, 7, 8, dtype=torch.float64, requires_grad=True)
    h = torch.randn(3, 7, 8, dtype=torch.float64, requires_grad=True)
    w = torch.rand(8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, dtype=torch.float64, requires_grad=True)
    d = _Dropout.draw(0.3)
    assert torch.autograd.gradcheck(lambda *t: ResidualLayerNormELU.apply(*t, 1e-5, d), (y, h, w, b))
    out = ResidualLayerNormELU.apply(y, h, w, b, 1e-5, d) - h
    dropped = (out == 0).double().mean().item()
    assert 0.15 < dropped < 0.45  # 30% dropped (ELU itself is never exactly 0 here)


def test_dropout_seed_draws_from_the_given_generator():
    from fer_graph.models.fast import dropout16

    x = torch.ones(10_000)
    torch.manual_seed(9)
    start = torch.get_rng_state()
    twin = torch.Generator()
    twin.set_state(start)
    with_twin = dropout16(x, 0.3, generator=twin)
    assert torch.equal(torch.get_rng_state(), start)  # the default generator was not read
    assert torch.equal(dropout16(x, 0.3), with_twin)  # same state, same seed, same pattern
    assert _Dropout.draw(0.3, generator=torch.Generator().manual_seed(1)).seed == \
        _Dropout.draw(0.3, generator=torch.Generator().manual_seed(1)).seed
    assert not torch.equal(dropout16(x, 0.3, generator=torch.Generator().manual_seed(2)), with_twin)
