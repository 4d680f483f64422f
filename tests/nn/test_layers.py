"""Shared layers: DCGAN's initialisation and norm choice, spectral norm, self-attention, conditional batch norm."""
import pytest
import torch
from torch import nn

from ganhelpers.nn.layers import ConditionalBatchNorm2d, SelfAttention, dcgan_init, norm2d, sn


def test_dcgan_init_statistics_of_every_weighted_layer():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 64, 4), nn.BatchNorm2d(64), nn.ConvTranspose2d(64, 64, 4), nn.Linear(64, 512),
                        nn.BatchNorm1d(512))
    net.apply(dcgan_init)
    w = torch.cat([m.weight.flatten() for m in net if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    scales = torch.cat([m.weight for m in net if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))])
    assert abs(scales.mean().item() - 1.0) < 0.01 and abs(scales.std().item() - 0.02) < 0.005
    assert all((m.bias == 0).all() for m in net)


@pytest.mark.parametrize("norm, kind", [("batch", nn.BatchNorm2d), ("layer", nn.LayerNorm),
                                        ("instance", nn.InstanceNorm2d), ("none", None)])
def test_norm2d_choices(norm, kind):
    layers = norm2d(norm, 8, 5)
    assert [type(m) for m in layers] == ([kind] if kind else [])
    if layers:
        x = torch.randn(2, 8, 5, 5)
        assert layers[0](x).shape == x.shape  # a layer norm over (C, H, W) of this resolution
    with pytest.raises(ValueError, match="unknown norm"):
        norm2d("group", 8, 5)


def test_attention_rows_sum_to_one():
    torch.manual_seed(0)
    block = SelfAttention(16)
    block.keep_attention = True
    block(torch.randn(3, 16, 5, 6))
    beta = block.attention  # (B, N, N)
    assert beta.shape == (3, 30, 30) and (beta >= 0).all()
    assert torch.allclose(beta.sum(dim=-1), torch.ones(3, 30), atol=1e-5)


def test_attention_starts_as_identity_and_then_reaches_far():
    torch.manual_seed(0)
    block = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert block.gamma.item() == 0 and torch.equal(block(x), x)  # gamma = 0: exactly the identity
    with torch.no_grad():
        block.gamma.fill_(1.0)
    block.eval()
    moved = x.clone()
    moved[:, :, 0, 0] += 3.0  # change one corner pixel
    change = (block(moved) - block(x)).abs()[:, :, 7, 7]  # ... and look at the opposite corner
    assert change.max() > 1e-3  # one layer of attention links any two positions; a 3x3 conv would not


def test_attention_matches_its_formula():
    torch.manual_seed(0)
    block = SelfAttention(16, spectral=False)
    with torch.no_grad():
        block.gamma.fill_(0.5)
    x = torch.randn(2, 16, 4, 4)
    flat = x.flatten(2)  # (B, C, N)
    f, g, h = (layer.weight[:, :, 0, 0] @ flat for layer in (block.f, block.g, block.h))  # (B, C', N)
    out = x.clone().flatten(2)
    for b in range(2):
        for j in range(16):
            beta = torch.softmax(f[b].T @ g[b][:, j], dim=0)  # (N,): softmax over i of f(x_i) . g(x_j)
            out[b, :, j] += 0.5 * block.v.weight[:, :, 0, 0] @ (h[b] @ beta)
    assert torch.allclose(block(x), out.view_as(x), atol=1e-5)


def _top_singular_value(layer):
    dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # torch's choice of "output" dimension
    with torch.no_grad():
        matrix = layer.weight.movedim(dim, 0).flatten(1)  # the normalised weight, as a matrix
    return torch.linalg.matrix_norm(matrix, ord=2).item()


def test_spectral_norm_brings_the_top_singular_value_to_one():
    torch.manual_seed(0)
    for layer in (nn.Linear(40, 30), nn.Conv2d(8, 16, 3), nn.ConvTranspose2d(16, 8, 4, 2, 1)):
        with torch.no_grad():
            layer.weight.mul_(7.0)  # far from 1 to start with
        layer = sn(layer)  # torch runs 15 power iterations here, then one per training-mode forward
        x = torch.randn(2, *((40,) if isinstance(layer, nn.Linear) else (layer.in_channels, 6, 6)))
        early = _top_singular_value(layer)
        for _ in range(300):
            layer(x)
        late = _top_singular_value(layer)
        # power iteration underestimates sigma (u.Wv <= sigma), so W / estimate has sigma >= 1, and the
        # estimate converges as (sigma_2 / sigma_1)^k: slowly for random matrices, whose top gap is small
        assert 1 - 1e-5 <= late <= early and late < 1.01, (type(layer).__name__, early, late)
        raw = layer.parametrizations.weight.original
        assert torch.linalg.matrix_norm(raw.detach().flatten(1), ord=2) > 2  # the raw weight is untouched
        layer.eval()  # eval mode reuses the last estimate: no more iterations
        assert _top_singular_value(layer) == pytest.approx(late, abs=1e-6)


def test_conditional_batch_norm_uses_the_label():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, embed_dim=3)
    x = torch.randn(6, 4, 5, 5)
    e = torch.eye(3)[[0, 1, 2, 0, 1, 2]]  # one-hot class vectors: the table-per-class special case
    assert torch.allclose(cbn(x, e), cbn.bn(x), atol=1e-6)  # W = 0 at the start: gamma = 1, beta = 0
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.tensor([0.0, 1.0, 2.0]).expand(4, 3))   # gamma_y = 1, 2, 3
        cbn.bias.weight.copy_(torch.tensor([0.0, -1.0, 5.0]).expand(4, 3))  # beta_y = 0, -1, 5
    out, normed = cbn(x, e), cbn.bn(x)
    for k, (g, b) in enumerate([(1, 0), (2, -1), (3, 5)]):
        rows = e[:, k] == 1
        assert torch.allclose(out[rows], g * normed[rows] + b, atol=1e-5)
    plain = ConditionalBatchNorm2d(4, embed_dim=0)  # unconditional: ordinary affine batch norm
    assert torch.equal(plain(x, None), plain.bn(x)) and plain.bn.affine
