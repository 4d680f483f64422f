"""DCGAN (Radford et al. 2015) and the models built on its networks: DCGAN, DCGAN with the tricks of
03_improved_dcgan, and WGAN-GP (taught in 02_dcgan, 03_improved_dcgan and 04_wgan_gp)."""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..nn.conventions import check_image_shape
from ..nn.layers import dcgan_init, norm2d
from .spec import ModelSpec
from .steps import bce_steps, wgan_gp_steps


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2015): transposed convs k4 s2 p1, BatchNorm, ReLU, tanh out.

    32x32: z -> 4x4x(4·base) -> 8x8x(2·base) -> 16x16x(base) -> 32x32xC.
    28x28: z -> 7x7x(2·base) -> 14x14x(base) -> 28x28xC (MNIST has no power-of-two size).
    `dropout` > 0 adds dropout after each hidden block (an "improved DCGAN" trick).
    Taught in 02_dcgan.
    """

    def __init__(self, z_dim: int = 100, img_shape=(3, 32, 32), *, base: int = 64, dropout: float = 0.0):
        super().__init__()
        c, size, _ = check_image_shape(img_shape)
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
    """A dense-first variant for 32x32 (as in early TensorFlow DCGAN tutorials): dense layer to 2048 units (reshaped 512x2x2), then 5x5
    transposed convs with stride 2 to 256, 128, 64 and C channels (4 -> 8 -> 16 -> 32 pixels).
    Taught in 02_dcgan.
    """

    def __init__(self, z_dim: int = 100, img_shape=(3, 32, 32)):
        super().__init__()
        c, _, _ = check_image_shape(img_shape, sizes=(32,))
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
    Taught in 02_dcgan.
    """

    def __init__(self, img_shape=(3, 32, 32), *, base: int = 64, norm: str = "batch", dropout: float = 0.0):
        super().__init__()
        c, size, _ = check_image_shape(img_shape)
        self.img_shape = tuple(img_shape)
        widths = [base, base * 2, base * 4] if size == 32 else [base, base * 2]
        layers, cin, res = [], c, size
        for i, cout in enumerate(widths):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=(i == 0 or norm == "none")))
            res //= 2  # spatial size halves
            if i > 0:
                layers += norm2d(norm, cout, res)
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            if dropout:
                layers.append(nn.Dropout2d(dropout))
            cin = cout
        layers.append(nn.Conv2d(cin, 1, res, 1, 0))  # (B, 1, 1, 1): one logit from the last map
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(x).flatten()  # (B,)


def build_dcgan(img_shape, n_classes: int, z_dim: int):
    """(DCGANGenerator, DCGANDiscriminator with batch norm) for the registry."""
    return DCGANGenerator(z_dim, img_shape), DCGANDiscriminator(img_shape)


def build_wgan_gp(img_shape, n_classes: int, z_dim: int):
    """(DCGANGenerator, DCGANDiscriminator as a layer-norm critic) for the registry: a critic, not a classifier
    (no sigmoid), and layer norm because the per-sample gradient penalty is meaningless when batch norm mixes
    the samples of a batch. Half width at 28 pixels: five critic steps with a double backward each make
    a step costly, and digits need less capacity (ganhelpers/TUNING.md)."""
    base = 32 if img_shape[-1] == 28 else 64
    return (DCGANGenerator(z_dim, img_shape, base=base),
            DCGANDiscriminator(img_shape, base=base, norm="layer"))


SPECS = (
    ModelSpec("dcgan", "DCGAN: transposed-conv G, strided-conv D, batch norm, BCE loss", build_dcgan, bce_steps,
              defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    # the recipe 03_improved_dcgan's ablation supports (ganhelpers/TUNING.md)
    ModelSpec("dcgan-improved", "DCGAN + the tricks of notebook 03: 2 D steps per G step, one-sided label smoothing "
              "0.1, instance noise annealed from std 0.1 to 0 over --steps", build_dcgan,
              partial(bce_steps, smooth=0.1, instance_noise=0.1),
              defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999), n_critic=2)),
    # the paper's Adam(0, 0.9) and n_critic=5 with a faster critic (TTUR) for a 5-minute CPU run (ganhelpers/TUNING.md)
    ModelSpec("wgan-gp", "WGAN-GP: DCGAN generator, layer-norm critic, Wasserstein loss + gradient penalty, "
              "n_critic=5", build_wgan_gp, wgan_gp_steps, critic=True,
              defaults=dict(lr_G=2e-4, lr_D=5e-4, betas=(0.0, 0.9), n_critic=5)),
)
