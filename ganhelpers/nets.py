"""Generators and discriminators as plain `nn.Module`s.

Shared conventions, so one training loop and one CLI drive them all:
- a generator has `z_dim`, `img_shape` (C, H, W) and `n_classes` (0 if unconditional) and maps
  `forward(z, labels=None)`: z (B, z_dim) -> images (B, C, H, W) in [-1, 1] (tanh output);
- a discriminator maps `forward(x, labels=None)`: x (B, C, H, W) -> logits (B,), raw scores with
  no sigmoid (the losses in `ganhelpers.losses` take logits).
"""
from __future__ import annotations

import math

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN paper init: conv and linear weights ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02), biases 0.

    Use as `net.apply(dcgan_init)`.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _check_shape(img_shape, sizes=(28, 32)) -> tuple[int, int, int]:
    c, h, w = img_shape
    if h != w or h not in sizes:
        raise ValueError(f"image shape {tuple(img_shape)}: this network is built for square "
                         f"{' or '.join(map(str, sizes))}-pixel images")
    return c, h, w


class MLPGenerator(nn.Module):
    """Fully connected generator (Goodfellow et al. 2014 style): z -> hidden layers -> flat image -> tanh.

    For 2-D points (`img_shape=(2,)`, notebook 00) pass `batch_norm=False` and `output="linear"`:
    the mixtures reach beyond tanh's [-1, 1] (the ring has radius 2), and a tiny point MLP trains
    faster and more transparently without batch norm.
    """

    def __init__(self, z_dim: int = 100, img_shape=(1, 28, 28), hidden=(256, 512, 1024),
                 batch_norm: bool = True, output: str = "tanh"):
        super().__init__()
        if output not in ("tanh", "linear"):
            raise ValueError(f"unknown output {output!r}: use 'tanh' (images in [-1, 1]) or 'linear' (points)")
        self.z_dim, self.img_shape, self.n_classes = z_dim, tuple(img_shape), 0
        layers, width = [], z_dim
        for h in hidden:
            # BatchNorm1d(h) with the default eps; copying `BatchNorm1d(h, 0.8)` sets eps=0.8 by mistake
            layers += [nn.Linear(width, h)] + ([nn.BatchNorm1d(h)] if batch_norm else []) + [nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, math.prod(self.img_shape)))
        if output == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(z).view(z.size(0), *self.img_shape)  # (B, C, H, W)


class MLPDiscriminator(nn.Module):
    """Fully connected discriminator: flat image -> hidden layers with LeakyReLU -> one logit."""

    def __init__(self, img_shape=(1, 28, 28), hidden=(512, 256), dropout: float = 0.0):
        super().__init__()
        self.img_shape = tuple(img_shape)
        layers, width = [], math.prod(self.img_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout else [])
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)  # (B,)


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2015): transposed convs k4 s2 p1, BatchNorm, ReLU, tanh out.

    32x32: z -> 4x4x(4·base) -> 8x8x(2·base) -> 16x16x(base) -> 32x32xC.
    28x28: z -> 7x7x(2·base) -> 14x14x(base) -> 28x28xC (MNIST has no power-of-two size).
    `dropout` > 0 adds dropout after each hidden block (an "improved DCGAN" trick).
    """

    def __init__(self, z_dim: int = 100, img_shape=(3, 32, 32), base: int = 64, dropout: float = 0.0):
        super().__init__()
        c, size, _ = _check_shape(img_shape)
        self.z_dim, self.img_shape, self.n_classes = z_dim, tuple(img_shape), 0
        widths = [base * 4, base * 2, base] if size == 32 else [base * 2, base]
        first_k = 4 if size == 32 else 7

        def block(cin, cout, k, s, p):
            return [nn.ConvTranspose2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)] + (
                [nn.Dropout2d(dropout)] if dropout else [])

        layers = block(z_dim, widths[0], first_k, 1, 0)  # (B, w0, 4 or 7, 4 or 7)
        for cin, cout in zip(widths, widths[1:]):
            layers += block(cin, cout, 4, 2, 1)  # spatial size doubles
        layers += [nn.ConvTranspose2d(widths[-1], c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(z.view(z.size(0), self.z_dim, 1, 1))  # (B, C, H, W)


class DenseDCGANGenerator(nn.Module):
    """Seed 002's variant for 32x32: dense layer to 2048 units (reshaped 512x2x2), then 5x5
    transposed convs with stride 2 to 256, 128, 64 and C channels (4 -> 8 -> 16 -> 32 pixels)."""

    def __init__(self, z_dim: int = 100, img_shape=(3, 32, 32)):
        super().__init__()
        c, _, _ = _check_shape(img_shape, sizes=(32,))
        self.z_dim, self.img_shape, self.n_classes = z_dim, tuple(img_shape), 0
        self.fc = nn.Sequential(nn.Linear(z_dim, 2048, bias=False), nn.BatchNorm1d(2048), nn.ReLU(True))
        layers, widths = [], [512, 256, 128, 64]
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(64, c, 5, 2, 2, output_padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 512, 2, 2))  # (B, 512, 2, 2) -> (B, C, 32, 32)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: strided convs k4 s2 p1, LeakyReLU(0.2), BatchNorm (not on the first
    layer), one logit per image. 32x32: 32 -> 16 -> 8 -> 4 -> logit; 28x28: 28 -> 14 -> 7 -> logit.

    `norm` is "batch" (the paper), "layer" or "instance" (for WGAN-GP critics, whose per-sample
    gradient penalty is wrong under batch norm) or "none". `dropout` adds dropout after each block.
    """

    def __init__(self, img_shape=(3, 32, 32), base: int = 64, norm: str = "batch", dropout: float = 0.0):
        super().__init__()
        c, size, _ = _check_shape(img_shape)
        self.img_shape = tuple(img_shape)
        widths = [base, base * 2, base * 4] if size == 32 else [base, base * 2]
        layers, cin, res = [], c, size
        for i, cout in enumerate(widths):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=(i == 0 or norm == "none")))
            res //= 2  # spatial size halves
            if i > 0:
                layers += _norm2d(norm, cout, res)
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            if dropout:
                layers.append(nn.Dropout2d(dropout))
            cin = cout
        layers.append(nn.Conv2d(cin, 1, res, 1, 0))  # (B, 1, 1, 1): one logit from the last map
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(x).flatten()  # (B,)


def _norm2d(norm: str, channels: int, res: int) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "layer":
        return [nn.LayerNorm([channels, res, res])]
    if norm == "instance":
        return [nn.InstanceNorm2d(channels, affine=True)]
    if norm == "none":
        return []
    raise ValueError(f"unknown norm {norm!r}: use batch, layer, instance or none")
