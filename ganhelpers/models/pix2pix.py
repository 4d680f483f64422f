"""Pix2Pix (Isola et al. 2017): image-to-image translation with a conditional GAN (taught in 08_pix2pix).

- `UNetGenerator` (mirrored skips, or none) and `UNet3PlusGenerator` (full-scale skips) map
  `G(condition) -> image` with no noise input (`z_dim = 0`). The paper's only noise is dropout, kept on at test
  time too; ours acts in training only, and G samples in eval mode: deterministic, one output per condition.
- `PatchDiscriminator(image, condition)`: a logit per patch, of side `receptive_field(D)`.
- `pix2pix_steps`: BCE + l1_weight * L1, or L1 alone, on batches (target, condition) of a
  `data.pairs.PairSampler` (the condition arrives as the step's `labels`).
- `SPECS`: "pix2pix" and "pix2pix-l1", paired models (`tasks.PAIRED`): trained on pairs made from the
  dataset, sampled and scored on held-out pairs (`eval.scores.heldout_scores`).
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.layers import dcgan_init
from ..nn.losses import d_loss_bce, g_loss_nonsaturating
from .spec import ModelSpec
from .steps import add_instance_noise, instance_noise_std
from .tasks import PAIRED


class Encoder(nn.Module):
    """`depth` strided convs (k4 s2 p1) halving the size: e_1 (S/2) ... e_depth (S/2^depth), widths
    base, 2 base, 4 base, 8 base, 8 base...; BatchNorm except on the first, LeakyReLU(0.2) (pix2pix's C-k)."""

    def __init__(self, in_channels: int, base: int, depth: int):
        super().__init__()
        self.widths = [base * 2 ** min(i, 3) for i in range(depth)]
        blocks, cin = [], in_channels
        for i, cout in enumerate(self.widths):
            blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0),
                                        *([nn.BatchNorm2d(cout)] if i else []), nn.LeakyReLU(0.2)))
            cin = cout
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)  # e_i: (B, widths[i-1], S/2^i, S/2^i)
        return features


class _Translator(nn.Module):
    """Shared plumbing: pad to a multiple of 2^depth, encode, decode, crop; `z_dim = 0`."""

    def __init__(self, in_channels, img_shape, base, depth):
        super().__init__()
        c, h, w = img_shape
        if h != w or h < 2 ** depth or c not in (1, 3) or in_channels < 1:
            raise ValueError(f"image shape {tuple(img_shape)}, in_channels={in_channels}, depth={depth}: "
                             f"needs square 1- or 3-channel images of at least {2 ** depth} pixels")
        self.size, self.padded = h, -(-h // 2 ** depth) * 2 ** depth  # the next multiple of 2^depth: 28 -> 32
        self.in_channels, self.img_shape, self.depth = in_channels, tuple(img_shape), depth
        self.z_dim, self.n_classes = 0, 0  # no noise input (dropout acts in training only), no classes
        self.encoder = Encoder(in_channels, base, depth)

    def forward(self, condition: torch.Tensor, labels=None) -> torch.Tensor:
        """condition (B, in_channels, H, W) in [-1, 1] -> image (B, C, H, W) in [-1, 1]."""
        if condition.dim() != 4 or condition.shape[1:] != (self.in_channels, self.size, self.size):
            raise ValueError(f"{type(self).__name__} takes condition images (B, {self.in_channels}, {self.size}, "
                             f"{self.size}), got {tuple(condition.shape)}: train on a PairSampler, whose batches "
                             "are (target, condition)")
        p = (self.padded - self.size) // 2
        x = F.pad(condition, (p, p, p, p), mode="replicate") if p else condition  # (B, C_in, P, P)
        out = self.decode(self.encoder(x))  # (B, C, P, P)
        return out[..., p:p + self.size, p:p + self.size] if p else out


def _up(cin: int, cout: int, dropout: float) -> nn.Sequential:
    """pix2pix's decoder block: ConvTranspose2d k4 s2 p1 (doubles the size), BatchNorm, [Dropout], ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         *([nn.Dropout(dropout)] if dropout else []), nn.ReLU())


class UNetGenerator(_Translator):
    """U-Net generator: encoder e_1..e_D; decoder level i upsamples level i+1 and concatenates e_i.
    skips=False: the plain encoder-decoder (everything squeezed through the S/2^D bottleneck). dropout on
    the `n_dropout` deepest decoder blocks (the paper keeps it at test time; our eval mode turns it off).
    Taught in 08_pix2pix.
    """

    def __init__(self, in_channels: int = 1, img_shape=(1, 28, 28), *, base: int = 32, depth: int = 4,
                 skips: bool = True, dropout: float = 0.5, n_dropout: int = 2):
        super().__init__(in_channels, img_shape, base, depth)
        self.skips = skips
        w, k = self.encoder.widths, 2 if skips else 1  # k: a skip doubles a decoder block's input
        self.ups = nn.ModuleList(_up(w[i + 1] * (k if i + 1 < depth - 1 else 1), w[i], dropout if j < n_dropout else 0)
                                 for j, i in enumerate(range(depth - 2, -1, -1)))
        self.out = nn.Sequential(nn.ConvTranspose2d(w[0] * k, img_shape[0], 4, 2, 1), nn.Tanh())
        self.apply(dcgan_init)

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]  # (B, w_D, P/2^D, P/2^D): the bottleneck
        for up, skip in zip(self.ups, reversed(features[:-1])):
            x = up(x)  # (B, w_i, P/2^i, P/2^i)
            if self.skips:
                x = torch.cat([x, skip], 1)  # (B, 2 w_i, P/2^i, P/2^i): e_i's fine detail comes straight across
        return self.out(x)  # (B, C, P, P)


class UNet3PlusGenerator(_Translator):
    """UNet 3+ (Huang et al. 2020): full-scale skips. Decoder level i (size P/2^i) gets every encoder
    level j <= i (max-pooled down to its size) and every deeper level (the deeper decoder outputs and the
    bottleneck e_D, bilinearly upsampled), each through a 3x3 conv to `cat_channels`; the D pieces are
    concatenated and fused by a 3x3 conv, BatchNorm, ReLU (D * cat_channels channels).
    Taught in 08_pix2pix.
    """

    def __init__(self, in_channels: int = 1, img_shape=(1, 28, 28), *, base: int = 32, depth: int = 4,
                 cat_channels: int | None = None, dropout: float = 0.5):
        super().__init__(in_channels, img_shape, base, depth)
        cat = cat_channels or base
        w, fused = self.encoder.widths, depth * cat

        def conv(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.levels = list(range(depth - 2, -1, -1))  # decoder levels, deepest first (0-based: size P/2^(i+1))
        # pieces[i][j]: the conv bringing source level j (encoder j <= i, decoder or bottleneck j > i) to level i
        self.pieces = nn.ModuleList(nn.ModuleList(conv(w[j] if j <= i or j == depth - 1 else fused, cat)
                                                  for j in range(depth)) for i in self.levels)
        self.fuse = nn.ModuleList(nn.Sequential(conv(fused, fused), *([nn.Dropout(dropout)] if dropout else []))
                                  for _ in self.levels)
        self.out = nn.Sequential(nn.ConvTranspose2d(fused, img_shape[0], 4, 2, 1), nn.Tanh())
        self.apply(dcgan_init)

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        level = dict(enumerate(features))  # 0..D-1 -> tensor; decoder outputs replace the deeper levels
        for i, pieces, fuse in zip(self.levels, self.pieces, self.fuse):
            size = features[i].shape[-1]
            parts = []
            for j, piece in enumerate(pieces):
                x = level[j]
                if j < i:  # a shallower encoder level: max-pool down by 2^(i-j)
                    x = F.max_pool2d(x, 2 ** (i - j))
                elif j > i:  # a deeper decoder level (or the bottleneck): upsample by 2^(j-i)
                    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                parts.append(piece(x))  # (B, cat, size, size)
            level[i] = fuse(torch.cat(parts, 1))  # (B, D * cat, size, size): decoder level i
        return self.out(level[0])  # (B, C, P, P)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional D on (condition, image) concatenated, one logit per patch:
    `n_down` strided convs (k4 s2 p1), then one k4 s1 conv with twice the channels and a k4 s1 conv to
    one channel; BatchNorm except on the first layer, LeakyReLU(0.2). n_down=3 with base 64 is the
    paper's 70x70 PatchGAN; n_down=1 (default) sees 16x16 patches, n_down=2 34x34 (a whole 32x32 image).
    forward(image (B, C, H, W), condition (B, C_in, H, W)) -> logits (B, h, w), h = H/2^n_down - 2.
    Taught in 08_pix2pix.
    """

    def __init__(self, in_channels: int = 1, img_shape=(1, 28, 28), *, base: int = 32, n_down: int = 1,
                 norm: bool = True):
        super().__init__()
        self.in_channels, self.img_shape = in_channels, tuple(img_shape)
        widths = [base * 2 ** min(i, 3) for i in range(n_down + 1)]
        layers, cin = [], in_channels + img_shape[0]
        for i, cout in enumerate(widths):
            layers += [nn.Conv2d(cin, cout, 4, 2 if i < n_down else 1, 1, bias=i == 0 or not norm),
                       *([nn.BatchNorm2d(cout)] if i and norm else []), nn.LeakyReLU(0.2)]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, 1, 1))  # (B, 1, h, w): a real/fake logit per patch
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(condition) or condition.dim() != 4:
            raise ValueError("PatchDiscriminator(image, condition) needs the condition image (B, C_in, H, W): "
                             "train it on a PairSampler, whose batches are (target, condition)")
        return self.net(torch.cat([condition, image], 1)).squeeze(1)  # (B, h, w)


def receptive_field(net) -> int:
    """Side of the input square one output unit sees, from the conv/pool layers in forward order:
    r = 1 + sum_l (k_l - 1) d_l prod_{m<l} s_m (kernel k, dilation d, stride s). Accepts a module or a
    list of (kernel, stride) pairs. Assumes a plain chain of layers, as in PatchDiscriminator.
    Taught in 08_pix2pix.
    """

    def first(v):
        return v if isinstance(v, int) else v[0]

    layers = ([(first(m.kernel_size), first(m.stride), first(getattr(m, "dilation", 1))) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
              if isinstance(net, nn.Module) else [(k, s, 1) for k, s in net])
    r, jump = 1, 1
    for k, s, d in layers:
        r += (k - 1) * d * jump  # each layer widens the view by (k-1)*d input steps of the current size
        jump *= s
    return r


def pix2pix_steps(l1_weight: float = 100.0, adversarial: bool = True, instance_noise: float = 0.0):
    """Pix2Pix's d_step/g_step for batches (target, condition) from a `PairSampler`.
    G minimises -log D(G(x) | x) + l1_weight * |y - G(x)|_1 (non-saturating BCE, mean over patches);
    D minimises BCE with every patch of (y, x) labelled real and of (G(x), x) fake.
    adversarial=False: the L1-only baseline (D is never run; its step returns a constant zero loss).
    instance_noise: std of Gaussian noise on D's image input (not the condition), annealed to 0.
    The extra-D-steps switch is `TrainConfig.n_critic`.
    Taught in 08_pix2pix.
    """
    if not l1_weight >= 0 or not instance_noise >= 0:
        raise ValueError(f"l1_weight={l1_weight} and instance_noise={instance_noise} must be >= 0")
    if not adversarial and l1_weight == 0:
        raise ValueError("adversarial=False and l1_weight=0 leave G nothing to minimise")

    def d_step(G, D, target, condition, trainer):
        if not adversarial:  # a leaf that needs a gradient: the loop's backward and Adam step are no-ops
            return {"loss_D": torch.zeros((), device=target.device, requires_grad=True)}
        std = instance_noise_std(trainer, instance_noise) if instance_noise else 0.0
        with torch.no_grad():
            fake = G(condition)  # (B, C, H, W)
        real_logits = D(add_instance_noise(target, std), condition)  # (B, h, w): one verdict per patch
        fake_logits = D(add_instance_noise(fake, std), condition)
        out = {"loss_D": d_loss_bce(real_logits, fake_logits),
               "D_real": torch.sigmoid(real_logits).mean(), "D_fake": torch.sigmoid(fake_logits).mean()}
        if instance_noise:
            out["noise_std"] = std
        return out

    def g_step(G, D, target, condition, trainer):
        fake = G(condition)  # (B, C, H, W)
        l1 = (fake - target).abs().mean()
        out = {"l1": l1}
        loss = l1_weight * l1
        if adversarial:
            std = instance_noise_std(trainer, instance_noise) if instance_noise else 0.0
            out["adv_G"] = g_loss_nonsaturating(D(add_instance_noise(fake, std), condition))
            loss = loss + out["adv_G"]
        return {"loss_G": loss, **out}

    return d_step, g_step


def build(img_shape, n_classes=0, z_dim=0, *, base: int = 32):
    """(UNetGenerator, PatchDiscriminator) for the registry: 1-channel conditions (edges or grey) to
    `img_shape` images. n_classes and z_dim are ignored (no classes, no noise)."""
    return UNetGenerator(1, img_shape, base=base), PatchDiscriminator(1, img_shape, base=base)


SPECS = (
    # trained on pairs made from the dataset (edges -> digit for 1 channel, greyscale -> colour for 3)
    ModelSpec("pix2pix", "Pix2Pix: U-Net G from edges (1 channel) or greyscale (3) to the image, 16x16 PatchGAN D "
              "on (condition, image), BCE + 100 * L1", build, pix2pix_steps, z_dim=0, task=PAIRED,
              defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    ModelSpec("pix2pix-l1", "Pix2Pix's L1-only baseline: the same U-Net trained on L1 alone (D unused)", build,
              partial(pix2pix_steps, adversarial=False), z_dim=0, task=PAIRED,
              defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
)
