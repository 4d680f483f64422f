"""Class-conditional GANs: the conditional GAN (cGAN) and the auxiliary-classifier GAN (AC-GAN).

Both generators take the class as a second input, `G(z, labels)`: z (B, z_dim), labels (B,) int64 in
[0, n_classes) -> images (B, C, H, W) in [-1, 1]. The discriminators differ in where the label goes:

- cGAN (Mirza & Osindero 2014), the critic is *told* the class: a learned embedding of the label,
  reshaped to one extra image plane (1, H, W), is stacked onto the image's channels, and the critic
  scores the pair (image, class). Trained here with WGAN-GP (`models.steps.wgan_gp_steps` fits as it
  is: it passes `labels` to G, to the critic and to the gradient penalty). Taught in 05_conditional_gan.
- AC-GAN (Odena, Olah & Shlens 2017), the discriminator is *not* told the class: it has to guess it.
  One trunk, two heads: a real/fake logit (the source S) and K class logits (the class C).
  `forward(x)` returns both: (source_logits (B,), class_logits (B, K)). Taught in 06_acgan.

`eval.scores.class_report` measures what a conditional generator does per class.

    G, D = build_cgan((1, 28, 28), n_classes=10, z_dim=100)
    d_step, g_step = wgan_gp_steps()
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.conventions import check_image_shape, check_labels
from ..nn.layers import dcgan_init
from ..nn.losses import d_loss_bce, g_loss_nonsaturating
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .spec import ModelSpec
from .steps import wgan_gp_steps


class ConditionalGenerator(nn.Module):
    """DCGAN generator fed [z, embedding(label)]: (B, z_dim) and (B,) -> (B, C, H, W) in [-1, 1].

    The label goes through a learned table `nn.Embedding(n_classes, embed_dim)` (rows start as N(0, 1),
    the scale of z) and is concatenated to z, so the first transposed convolution sees z_dim + embed_dim
    input channels. A one-hot vector would do the same job with a fixed identity table.
    Taught in 05_conditional_gan.
    """

    def __init__(self, z_dim: int = 100, img_shape=(1, 28, 28), n_classes: int = 10, *, base: int = 64,
                 embed_dim: int = 16):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes}: a conditional generator needs at least 2 classes")
        self.z_dim, self.img_shape, self.n_classes = z_dim, tuple(img_shape), n_classes
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.body = DCGANGenerator(z_dim + embed_dim, img_shape, base=base)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        labels = check_labels(labels, self.n_classes, z.size(0)).to(z.device)
        return self.body(torch.cat([z, self.embed(labels)], dim=1))  # (B, z_dim + embed_dim) -> (B, C, H, W)


class ConditionalCritic(nn.Module):
    """cGAN critic: the label as an extra image channel. (B, C, H, W), (B,) -> scores (B,).

    `nn.Embedding(n_classes, H * W)` gives every class a learned plane, reshaped to (1, H, W) and
    concatenated to the image, so the first convolution sees C + 1 channels and can compare the strokes
    with the class everywhere in the picture. Its rows start as N(0, 1), the scale of images in [-1, 1].
    The body is the DCGAN discriminator; `norm="layer"` by default because the WGAN-GP penalty is per
    sample and batch norm would mix the samples of a batch (see notebook 04).
    Taught in 05_conditional_gan.
    """

    def __init__(self, img_shape=(1, 28, 28), n_classes: int = 10, *, base: int = 64, norm: str = "layer"):
        super().__init__()
        c, h, w = check_image_shape(img_shape)
        self.img_shape, self.n_classes = (c, h, w), n_classes
        self.embed = nn.Embedding(n_classes, h * w)
        self.body = DCGANDiscriminator((c + 1, h, w), base=base, norm=norm)

    def label_plane(self, labels: torch.Tensor) -> torch.Tensor:
        """The class as one image plane: (B,) -> (B, 1, H, W)."""
        _, h, w = self.img_shape
        return self.embed(labels).view(-1, 1, h, w)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        labels = check_labels(labels, self.n_classes, x.size(0)).to(x.device)
        plane = self.label_plane(labels).to(x.dtype)  # (B, 1, H, W)
        return self.body(torch.cat([x, plane], dim=1))  # (B, C + 1, H, W) -> (B,)


class ACGANDiscriminator(nn.Module):
    """AC-GAN discriminator: one DCGAN trunk, a source head and a class head.

    forward(x, labels=None): x (B, C, H, W) -> (source_logits (B,), class_logits (B, n_classes)).
    `labels` is accepted for the common signature and ignored: the class is what D has to find out.
    Both heads are one convolution over the trunk's last map (4x4 at 32 pixels, 7x7 at 28).
    Taught in 06_acgan.
    """

    def __init__(self, img_shape=(1, 28, 28), n_classes: int = 10, *, base: int = 64, norm: str = "batch",
                 dropout: float = 0.0):
        super().__init__()
        dcgan = DCGANDiscriminator(img_shape, base=base, norm=norm, dropout=dropout)
        self.img_shape, self.n_classes = tuple(img_shape), n_classes
        self.trunk = dcgan.net[:-1]  # everything up to the last map (B, width, res, res)
        self.source = dcgan.net[-1]  # Conv2d(width, 1, res): real or fake
        self.classify = nn.Conv2d(self.source.in_channels, n_classes, self.source.kernel_size)  # which class
        dcgan_init(self.classify)

    def forward(self, x: torch.Tensor, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)  # (B, width, res, res)
        return self.source(features).flatten(), self.classify(features).flatten(1)  # (B,), (B, K)


def acgan_steps(class_weight: float = 1.0, fake_class_loss: bool = True):
    """AC-GAN's steps: D maximises L_S + L_C, G maximises L_C - L_S (Odena et al. 2017).

    L_S = E log P(S=real | x_real) + E log P(S=fake | x_fake)   (the usual GAN game)
    L_C = E log P(C=c | x_real) + E log P(C=c | x_fake)         (both get the right class)
    As losses to minimise: D minimises BCE(source) + class_weight * CE(class); G minimises the
    non-saturating -log P(S=real | fake) + class_weight * CE(class of fake). fake_class_loss=False drops
    the fake term from D's L_C (some implementations do, so D learns classes from real images only).
    Fakes are asked for the classes of the real batch, so the class frequencies follow the data.
    Taught in 06_acgan.
    """
    if not class_weight >= 0:
        raise ValueError(f"class_weight={class_weight} must be >= 0")

    def d_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)  # (B, z_dim)
        with torch.no_grad():
            fake = G(z, labels)  # (B, C, H, W)
        real_source, real_class = D(real)  # (B,), (B, K)
        fake_source, fake_class = D(fake)
        class_loss = F.cross_entropy(real_class, labels)
        if fake_class_loss:
            class_loss = class_loss + F.cross_entropy(fake_class, labels)
        return {"loss_D": d_loss_bce(real_source, fake_source) + class_weight * class_loss,
                "D_real": torch.sigmoid(real_source).mean(), "D_fake": torch.sigmoid(fake_source).mean(),
                "acc_real": (real_class.argmax(1) == labels).float().mean(),  # D's class accuracy
                "acc_fake": (fake_class.argmax(1) == labels).float().mean()}

    def g_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)
        fake_source, fake_class = D(G(z, labels))  # (B,), (B, K)
        class_loss = F.cross_entropy(fake_class, labels)
        return {"loss_G": g_loss_nonsaturating(fake_source) + class_weight * class_loss, "class_loss_G": class_loss}

    return d_step, g_step


def _base(img_shape, mnist_width: int) -> int:
    """Channel width: narrow at 28 pixels (MNIST trains fine and fast on a CPU), DCGAN's 64 at 32."""
    return mnist_width if img_shape[-1] == 28 else 64


def build_cgan(img_shape, n_classes: int, z_dim: int):
    """(ConditionalGenerator, ConditionalCritic with layer norm) for the model registry. Base width 32 at
    28 pixels: the critic must learn which strokes go with which label plane, and a narrow one learns it
    slowly (ganhelpers/TUNING.md)."""
    if not n_classes:
        raise ValueError("cgan needs a labelled dataset (n_classes > 0)")
    base = _base(img_shape, 32)
    return (ConditionalGenerator(z_dim, img_shape, n_classes, base=base),
            ConditionalCritic(img_shape, n_classes, base=base, norm="layer"))


def build_acgan(img_shape, n_classes: int, z_dim: int):
    """(ConditionalGenerator, ACGANDiscriminator with batch norm) for the model registry; base width 32 at
    28 pixels, where a narrower D made the BCE game oscillate (ganhelpers/TUNING.md)."""
    if not n_classes:
        raise ValueError("acgan needs a labelled dataset (n_classes > 0)")
    base = _base(img_shape, 32)
    return (ConditionalGenerator(z_dim, img_shape, n_classes, base=base),
            ACGANDiscriminator(img_shape, n_classes, base=base))


SPECS = (
    # one critic step with a 5x faster critic (TTUR) and base width 32 at 28 px, for a 5-minute CPU run (ganhelpers/TUNING.md)
    ModelSpec("cgan", "conditional GAN: label embedded as an extra image channel of a layer-norm critic and "
              "concatenated to z; WGAN-GP", build_cgan, wgan_gp_steps, conditional=True, critic=True,
              defaults=dict(lr_G=2e-4, lr_D=1e-3, betas=(0.5, 0.9), n_critic=1)),
    # D's class head learns from real images only: with the paper's fake-image term G and D agreed on private
    # codes for some digits (06_acgan; ganhelpers/TUNING.md)
    ModelSpec("acgan", "AC-GAN: label concatenated to z; D with a real/fake head and a class head trained on real "
              "images only; BCE + cross-entropy", build_acgan, partial(acgan_steps, fake_class_loss=False),
              conditional=True, defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
)
