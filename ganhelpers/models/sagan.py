"""The conditional self-attention GAN (SAGAN, Zhang et al. 2019), small enough for a CPU lesson (taught in
07_sagan, which takes it apart one piece at a time).

Its building blocks are shared layers (`ganhelpers.nn.layers`: `sn`, `SelfAttention`, `ConditionalBatchNorm2d`);
the average of G's weights is the `EMA` callback (`ganhelpers.core.callbacks`); where G's attention looks is
drawn by `ganhelpers.viz.attention`. Here:
- `SAGANGenerator` / `SAGANDiscriminator`: DCGAN-sized nets with spectral normalisation on every
  weight layer (`torch.nn.utils.parametrizations.spectral_norm`), attention at one resolution of each
  and a projection discriminator (Miyato & Koyama 2018): logit = psi(phi(x)) + <embed(y), phi(x)>;
- `sagan_steps(loss)`: hinge (default) or Wasserstein d_step/g_step for the generic Trainer;
- `generator_attention`: G's images and its attention weights, for `viz.attention`;
- `SPECS`: the registry's "sagan".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.conventions import check_labels, eval_mode
from ..nn.layers import ConditionalBatchNorm2d, SelfAttention, sn
from ..nn.losses import get_loss
from .spec import ModelSpec


def _levels(size: int, base: int):
    """Resolutions and channel widths of G, coarse to fine (D uses them in reverse)."""
    if size == 28:
        return [7, 14, 28], [4 * base, 2 * base, base]
    if size == 32:
        return [4, 8, 16, 32], [4 * base, 4 * base, 2 * base, base]
    raise ValueError(f"SAGAN nets are built for 28- or 32-pixel square images, not {size}")


def _attention_level(allowed, attn_res):
    if attn_res is not None and attn_res not in allowed:
        raise ValueError(f"attn_res={attn_res}: choose one of {sorted(allowed)} (or None for no attention)")
    return attn_res


class SAGANGenerator(nn.Module):
    """Conditional generator: z (B, z_dim), labels (B,) -> images (B, C, H, W) in [-1, 1].

    28x28: linear z -> 7x7x4b, then upsamplings to 14x14x2b and 28x28xb, a 3x3 conv to C channels,
    tanh. 32x32: 4x4x4b -> 8x8x4b -> 16x16x2b -> 32x32xb -> C. Each upsampling is nearest-neighbour
    x2 then a 3x3 conv (a resize-convolution, as in SAGAN's blocks): transposed convolutions under
    spectral norm left a checkerboard on every sample here (notebook 07, section 10). Conditional batch
    norm and ReLU after the linear layer and each upsampling; spectral norm on every weight layer (as
    in SAGAN); self-attention after the level `attn_res` (default 14 or 16; None for none).
    The label enters through the CBNs, via a class embedding e_y of `embed_dim` numbers shared by
    all of them; `label_input=True` also feeds [z, e_y] to the first layer (BigGAN-deep), which with
    our small D learned classes sooner but drew fewer styles per class. n_classes = 0: unconditional.
    Taught in 07_sagan.
    """

    def __init__(self, z_dim: int = 100, img_shape=(1, 28, 28), n_classes: int = 10, *, base: int = 32,
                 attn_res: int | None = "auto", embed_dim: int = 128, label_input: bool = False):
        super().__init__()
        c, size, width = img_shape
        if size != width:
            raise ValueError(f"image shape {tuple(img_shape)}: SAGAN nets want square images")
        self.z_dim, self.img_shape, self.n_classes = z_dim, tuple(img_shape), n_classes
        self.resolutions, widths = _levels(size, base)
        default = self.resolutions[-2]  # 14 or 16: not full size, where N^2 is 16 times larger
        self.attn_res = _attention_level(self.resolutions[:-1], default if attn_res == "auto" else attn_res)
        self.widths = widths
        self.label_input = label_input and n_classes > 0
        in_dim = z_dim + (embed_dim if self.label_input else 0)  # z, or [z, e_y] with label_input
        self.fc = sn(nn.Linear(in_dim, widths[0] * self.resolutions[0] ** 2))
        self.class_embed = nn.Embedding(n_classes, embed_dim) if n_classes else None  # e_y, shared by all CBNs
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(w, embed_dim if n_classes else 0) for w in widths])
        self.ups = nn.ModuleList([sn(nn.Conv2d(a, b, 3, 1, 1, bias=False)) for a, b in zip(widths, widths[1:])])
        self.attention = SelfAttention(widths[self.resolutions.index(self.attn_res)]) if self.attn_res else None
        self.out = sn(nn.Conv2d(widths[-1], c, 3, 1, 1))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = check_labels(labels, self.n_classes, z.size(0))
        e = self.class_embed(labels) if self.n_classes else None  # (B, embed_dim): e_y
        r0 = self.resolutions[0]
        x = self.fc(torch.cat([z, e], dim=1) if self.label_input else z)  # (B, 4b * r0 * r0)
        x = x.view(z.size(0), self.widths[0], r0, r0)  # (B, 4b, 7 or 4, 7 or 4)
        for i, (norm, res) in enumerate(zip(self.norms, self.resolutions)):
            if i > 0:
                x = self.ups[i - 1](F.interpolate(x, scale_factor=2, mode="nearest"))  # (B, w, res, res)
            x = F.relu(norm(x, e))
            if res == self.attn_res:
                x = self.attention(x)
        return torch.tanh(self.out(x))  # (B, C, H, W)


class SAGANDiscriminator(nn.Module):
    """Projection discriminator: x (B, C, H, W), labels (B,) -> logits (B,), raw scores.

    phi: a 3x3 conv to b channels at full size, then per level a k4 s2 p1 conv that halves the size
    and a 3x3 conv (28: 14x14x2b, 7x7x4b; 32: 16x16x2b, 8x8x4b, 4x4x4b), LeakyReLU(0.1) after each,
    self-attention at `attn_res` (default 7 or 8: N = 49 or 64 positions, cheap; None for none), and
    the last map flattened: phi(x) (B, F), F = 4b * 7 * 7 or 4b * 4 * 4. Flattening (as SNGAN's CNN
    discriminator does) lets the heads see the whole image; a sum over positions would leave a stack
    this shallow judging patches (notebook 07, section 10). Then
        logit = psi(phi(x)) + <embed(y), phi(x)>
    with psi a linear layer and embed one learned vector per class (Miyato & Koyama 2018). Spectral
    norm on every weight, the embedding included; no batch norm (SN does the stabilising).
    Taught in 07_sagan.
    """

    def __init__(self, img_shape=(1, 28, 28), n_classes: int = 10, *, base: int = 32, attn_res: int | None = "auto"):
        super().__init__()
        c, size, width = img_shape
        if size != width:
            raise ValueError(f"image shape {tuple(img_shape)}: SAGAN nets want square images")
        self.img_shape, self.n_classes = tuple(img_shape), n_classes
        resolutions, widths = _levels(size, base)
        resolutions, widths = resolutions[::-1], widths[::-1]  # fine to coarse: (28, 14, 7), (b, 2b, 4b)
        self.attn_res = _attention_level(resolutions[1:], resolutions[2] if attn_res == "auto" else attn_res)
        self.resolutions = resolutions
        self.first = sn(nn.Conv2d(c, widths[0], 3, 1, 1))
        self.downs = nn.ModuleList([sn(nn.Conv2d(a, b, 4, 2, 1)) for a, b in zip(widths, widths[1:])])
        self.convs = nn.ModuleList([sn(nn.Conv2d(b, b, 3, 1, 1)) for b in widths[1:]])  # one more conv per level
        self.attention = SelfAttention(widths[resolutions.index(self.attn_res)]) if self.attn_res else None
        self.n_features = widths[-1] * resolutions[-1] ** 2  # F
        self.psi = sn(nn.Linear(self.n_features, 1))
        self.embed = sn(nn.Embedding(n_classes, self.n_features)) if n_classes else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): (B, C, H, W) -> (B, F), the last feature map flattened."""
        h = F.leaky_relu(self.first(x), 0.1)  # (B, b, H, W)
        for down, conv, res in zip(self.downs, self.convs, self.resolutions[1:]):
            h = F.leaky_relu(down(h), 0.1)  # spatial size halves: (B, w, res, res)
            h = F.leaky_relu(conv(h), 0.1)  # (B, w, res, res)
            if res == self.attn_res:
                h = self.attention(h)
        return h.flatten(1)  # (B, F)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = check_labels(labels, self.n_classes, x.size(0))
        phi = self.features(x)  # (B, F)
        logits = self.psi(phi).squeeze(1)  # (B,): "does this look real at all?"
        if self.embed is not None:
            logits = logits + (self.embed(labels) * phi).sum(dim=1)  # (B,): "...and like class y?"
        return logits


def build_sagan(img_shape, n_classes: int, z_dim: int, *, base: int = 16):
    """(G, D) for the model registry (`ganhelpers.models.MODELS["sagan"]`), sized for a 5-minute CPU
    run on mnist-5k: base 16, attention at 7x7 in both (8x8 for 32-pixel images), where it is cheap
    (ganhelpers/TUNING.md)."""
    coarse = 7 if img_shape[-1] == 28 else 8
    return (SAGANGenerator(z_dim, img_shape, n_classes, base=base, attn_res=coarse),
            SAGANDiscriminator(img_shape, n_classes, base=base, attn_res=coarse))


def sagan_steps(loss: str = "hinge"):
    """SAGAN's d_step/g_step. loss: "hinge" (the paper's) or "wasserstein" (SN is the Lipschitz
    control, no gradient penalty). Fakes get the batch's real labels, so they follow the data's
    class frequencies; G is scored by the critic's mean on its fakes in both cases.
    Taught in 07_sagan.
    """
    if loss not in ("hinge", "wasserstein"):
        raise ValueError(f"unknown loss {loss!r}: choose 'hinge' or 'wasserstein'")
    d_loss, g_loss = get_loss(loss)

    def d_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)  # (B, z_dim)
        with torch.no_grad():
            fake = G(z, labels)  # (B, C, H, W)
        real_logits, fake_logits = D(real, labels), D(fake, labels)  # (B,), (B,)
        return {"loss_D": d_loss(real_logits, fake_logits),
                "critic_real": real_logits.mean(), "critic_fake": fake_logits.mean()}  # raw scores

    def g_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)  # (B, z_dim)
        return {"loss_G": g_loss(D(G(z, labels), labels))}

    return d_step, g_step


@torch.no_grad()
def generator_attention(G: SAGANGenerator, z: torch.Tensor, labels: torch.Tensor | None = None):
    """Run G in eval mode and return (images (B, C, H, W) in [-1, 1], beta (B, N, N)) of its attention block.

    Taught in 07_sagan.
    """
    if G.attention is None:
        raise ValueError("this generator has no attention block (attn_res=None)")
    G.attention.keep_attention = True
    try:
        with eval_mode(G):
            images = G(z, labels)
        beta = G.attention.attention
    finally:
        G.attention.keep_attention, G.attention.attention = False, None
    return images, beta


SPECS = (
    ModelSpec("sagan", "conditional self-attention GAN: spectral norm in G and D, conditional batch norm in G, "
              "projection D, attention at 7x7 (8x8 for 32 px), hinge loss, TTUR", build_sagan, sagan_steps,
              conditional=True, critic=True, defaults=dict(lr_G=1e-4, lr_D=4e-4, betas=(0.0, 0.9))),
)
