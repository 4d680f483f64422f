"""PacGAN's 2-D networks (Lin et al. 2018, "PacGAN: the power of two samples in generative adversarial
networks"), as in the authors' code for their Table 1 (github.com/fjxmlzn/PacGAN,
synthetic_data_experiments/2DRing_GAN&PacGAN/pacgan_task.py), and the packed discriminator itself.

- `PacGANGenerator`: 2-D noise -> four hidden layers of 400 units (no bias, batch norm, ReLU) -> a point;
- `MaxoutDiscriminator`: m packed points (2m numbers) -> three maxout layers of 200 units with 5 pieces -> a logit;
- `Packed`: the packing itself, for any discriminator of flat inputs: B samples become B / m packs.

Every weight starts from N(0, 0.02) and every bias from 0, as in the authors' code. Taught in 00_gan_game.
"""
from __future__ import annotations

import torch
from torch import nn


def _init(module: nn.Module) -> nn.Module:
    """The authors' initialisation: weights N(0, 0.02), biases 0 (batch norm keeps its 1 and 0)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013): `pieces` linear maps of the input, and their elementwise maximum.

    (B, in_features) -> (B, out_features); a piecewise-linear activation the layer learns.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 5):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.size(0), self.out_features, self.pieces).amax(dim=2)  # (B, out_features)


class PacGANGenerator(nn.Module):
    """The generator of PacGAN's 2-D experiments: z (B, 2) ~ N(0, I) -> points (B, 2), unbounded.

    Four hidden layers of `width` units, each Linear without bias -> BatchNorm1d -> ReLU (the authors' decoder;
    their population statistics move by 0.05 of the batch's per step, here `momentum=0.05`), then a Linear
    with bias.
    """

    def __init__(self, z_dim: int = 2, width: int = 400, depth: int = 4):
        super().__init__()
        self.z_dim, self.img_shape, self.n_classes = z_dim, (2,), 0
        layers, size = [], z_dim
        for _ in range(depth):
            layers += [nn.Linear(size, width, bias=False), nn.BatchNorm1d(width, momentum=0.05), nn.ReLU()]
            size = width
        self.net = _init(nn.Sequential(*layers, nn.Linear(size, 2)))

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(z)  # (B, 2)


class MaxoutDiscriminator(nn.Module):
    """The discriminator of PacGAN's 2-D experiments: (B, 2 * packing) -> logits (B,).

    Three maxout layers of `width` units with `pieces` pieces, then a Linear to one logit. With `packing` m > 1
    it reads m points at once (wrap it in `Packed` to feed it points).
    """

    def __init__(self, packing: int = 1, width: int = 200, pieces: int = 5, depth: int = 3):
        super().__init__()
        self.packing, self.img_shape = packing, (2,)
        layers, size = [], 2 * packing
        for _ in range(depth):
            layers.append(Maxout(size, width, pieces))
            size = width
        self.net = _init(nn.Sequential(*layers, nn.Linear(size, 1)))

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)  # (B,)


class Packed(nn.Module):
    """Packing (PacGAN): D judges m samples at once, all real or all fake, concatenated along the features.

    `Packed(D, m)(x)`: x (B, ...) with B divisible by m -> D(x viewed as (B / m, m * features)) -> (B / m,) logits.
    The losses then average over B / m packs; a batch of B real and B fake samples is B / m packs of each. Why it
    fights mode collapse: a pack of m fakes from a collapsed G holds m near-copies, which real packs rarely do, so
    D sees a lack of diversity that no single sample shows. The wrapped D must take m * features inputs
    (`MaxoutDiscriminator(packing=m)`).
    """

    def __init__(self, inner: nn.Module, packing: int):
        super().__init__()
        if packing < 1:
            raise ValueError(f"packing={packing}: a pack holds at least one sample")
        self.inner, self.packing = inner, packing

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        if x.size(0) % self.packing:
            raise ValueError(f"a batch of {x.size(0)} samples does not split into packs of {self.packing}: "
                             f"use a batch size divisible by {self.packing}")
        packs = x.reshape(x.size(0) // self.packing, -1)  # (B / m, m * features): m consecutive samples per row
        return self.inner(packs)  # (B / m,)
