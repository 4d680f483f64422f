"""Layers the families share: DCGAN's initialisation and normalisation choice, spectral norm,
self-attention and conditional batch norm (taught in 07_sagan)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def dcgan_init(module: nn.Module) -> None:
    """DCGAN paper init: conv and linear weights ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02), biases 0.

    Use as `net.apply(dcgan_init)`.
    Taught in 02_dcgan.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def norm2d(norm: str, channels: int, res: int) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "layer":
        return [nn.LayerNorm([channels, res, res])]
    if norm == "instance":
        return [nn.InstanceNorm2d(channels, affine=True)]
    if norm == "none":
        return []
    raise ValueError(f"unknown norm {norm!r}: use batch, layer, instance or none")


def sn(module: nn.Module) -> nn.Module:
    """Spectral normalisation of `module.weight`: W / sigma(W), sigma from one power iteration per
    forward pass in training mode (the estimate sharpens over the steps; eval mode reuses it).
    Taught in 07_sagan.
    """
    return spectral_norm(module)


class SelfAttention(nn.Module):
    """Self-attention over the positions of a feature map (Zhang et al. 2019, section 3).

    x (B, C, H, W) -> x + gamma * o, same shape. With N = H*W positions and x_i the C features at
    position i: keys f(x_i) and queries g(x_j) have C/8 channels, values h(x_i) have C/2 and
    v maps the mixed values back to C channels (all four are 1x1 convolutions with spectral norm):

        beta[j, i] = softmax_i( f(x_i) . g(x_j) )      attention of output position j on position i
        o_j = v( sum_i beta[j, i] h(x_i) )

    gamma is a learned scalar initialised to 0: the block starts as the identity and the network
    decides how much non-local evidence to mix in. Set `keep_attention = True` to store the last
    beta, (B, N, N) with rows (queries j) summing to 1, in `self.attention` (for plots).
    Taught in 07_sagan.
    """

    def __init__(self, channels: int, *, spectral: bool = True):
        super().__init__()
        if channels < 8:
            raise ValueError(f"SelfAttention needs at least 8 channels (keys have channels // 8), got {channels}")
        wrap = sn if spectral else (lambda m: m)
        self.f = wrap(nn.Conv2d(channels, channels // 8, 1, bias=False))  # keys
        self.g = wrap(nn.Conv2d(channels, channels // 8, 1, bias=False))  # queries
        self.h = wrap(nn.Conv2d(channels, channels // 2, 1, bias=False))  # values
        self.v = wrap(nn.Conv2d(channels // 2, channels, 1, bias=False))  # back to C channels
        self.gamma = nn.Parameter(torch.zeros(()))
        self.keep_attention, self.attention = False, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        keys = self.f(x).flatten(2)                           # (B, C/8, N)
        queries = self.g(x).flatten(2)                        # (B, C/8, N)
        values = self.h(x).flatten(2)                         # (B, C/2, N)
        scores = torch.bmm(queries.transpose(1, 2), keys)     # (B, N, N): scores[b, j, i] = g(x_j) . f(x_i)
        beta = F.softmax(scores, dim=-1)                      # (B, N, N): each row j sums to 1 over i
        mixed = torch.bmm(values, beta.transpose(1, 2))       # (B, C/2, N): column j = sum_i beta[j, i] h(x_i)
        out = self.v(mixed.view(b, c // 2, h, w))             # (B, C, H, W)
        if self.keep_attention:
            self.attention = beta.detach()
        return x + self.gamma * out


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm with a scale and shift per class: y = gamma_y * x_hat + beta_y.

    x (B, C, H, W), class vectors e (B, embed_dim) -> (B, C, H, W). x_hat is x normalised with the
    batch's (training) or running (eval) statistics, as in `nn.BatchNorm2d(affine=False)`, and

        gamma_y = 1 + W_gamma e_y,    beta_y = W_beta e_y        (W: linear maps, no bias)

    where e_y is a learned class embedding shared by all of G's layers (as in BigGAN). A table of
    gamma and beta per class is the special case of one-hot e_y; computing them from a shared
    embedding lets Adam, which moves each parameter by about lr per step, move gamma_y by up to
    embed_dim times as much (notebook 07, section 3). W starts at 0: at initialisation the label
    has no effect. embed_dim = 0: ordinary batch norm with one learned scale and shift.
    Taught in 07_sagan.
    """

    def __init__(self, channels: int, embed_dim: int):
        super().__init__()
        self.embed_dim = embed_dim
        self.bn = nn.BatchNorm2d(channels, affine=embed_dim == 0)
        if embed_dim:
            # no spectral norm here: W starts at 0, which has no top singular value to divide by
            self.gain = nn.Linear(embed_dim, channels, bias=False)  # W_gamma
            self.bias = nn.Linear(embed_dim, channels, bias=False)  # W_beta
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
        if not self.embed_dim:
            return self.bn(x)
        gamma = 1 + self.gain(e)[:, :, None, None]  # (B, C, 1, 1)
        beta = self.bias(e)[:, :, None, None]       # (B, C, 1, 1)
        return gamma * self.bn(x) + beta
