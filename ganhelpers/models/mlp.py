"""The vanilla GAN (Goodfellow et al. 2014): fully connected G and D (taught in 00_gan_game and 01_vanilla_gan)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .spec import ModelSpec
from .steps import bce_steps


class MLPGenerator(nn.Module):
    """Fully connected generator (Goodfellow et al. 2014 style): z -> hidden layers -> flat image -> tanh.

    For 2-D points (`img_shape=(2,)`, notebook 00) pass `batch_norm=False` and `output="linear"`:
    the mixtures reach beyond tanh's [-1, 1] (the ring has radius 2), and a tiny point MLP trains
    faster and more transparently without batch norm.
    Taught in 00_gan_game and 01_vanilla_gan.
    """

    def __init__(self, z_dim: int = 100, img_shape=(1, 28, 28), *, hidden=(256, 512, 1024),
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
    """Fully connected discriminator: flat image -> hidden layers with LeakyReLU -> one logit.

    Taught in 00_gan_game and 01_vanilla_gan.
    """

    def __init__(self, img_shape=(1, 28, 28), *, hidden=(512, 256), dropout: float = 0.0):
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


def build_gan(img_shape, n_classes: int, z_dim: int):
    """(MLPGenerator, MLPDiscriminator) for the registry."""
    return MLPGenerator(z_dim, img_shape), MLPDiscriminator(img_shape)


SPECS = (
    ModelSpec("gan", "vanilla GAN: MLP generator and discriminator, BCE loss", build_gan, bce_steps,
              defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
)
