"""GAN losses as pure functions on logits (raw scores, no sigmoid), in pairs with shared signatures.

    d_loss(real_logits, fake_logits, **kw) -> scalar   # what D (or the critic) minimises
    g_loss(fake_logits) -> scalar                       # what G minimises

`real_logits` and `fake_logits` have shape (B,) or (B, 1). Pairs are chosen by name from `LOSSES`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, smooth: float = 0.0) -> torch.Tensor:
    """Discriminator's binary cross-entropy: -E[log D(x)] - E[log(1 - D(G(z)))].

    `smooth` > 0 is one-sided label smoothing (Salimans et al. 2016): real targets become 1 - smooth,
    fake targets stay 0, so D is never pushed to infinite confidence on real data.
    Taught in 00_gan_game and 01_vanilla_gan.
    """
    if not 0.0 <= smooth < 0.5:
        raise ValueError(f"smooth={smooth}: one-sided label smoothing lives in [0, 0.5)")
    real_t = torch.full_like(real_logits, 1.0 - smooth)
    return (F.binary_cross_entropy_with_logits(real_logits, real_t)
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: strong gradients when D confidently rejects fakes (the usual choice).

    Taught in 00_gan_game and 01_vanilla_gan.
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))]: the original minimax term; its gradient vanishes when D wins.

    log(1 - sigmoid(l)) = -softplus(l), computed stably.
    Taught in 00_gan_game and 01_vanilla_gan.
    """
    return -F.softplus(fake_logits).mean()


def d_loss_wasserstein(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Critic loss E[f(G(z))] - E[f(x)]; its negative estimates the Wasserstein-1 distance.

    Taught in 04_wgan_gp.
    """
    return fake_logits.mean() - real_logits.mean()


def g_loss_wasserstein(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[f(G(z))]: G moves its samples towards higher critic scores.

    Taught in 04_wgan_gp.
    """
    return -fake_logits.mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss (SAGAN, BigGAN): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].

    Taught in 07_sagan.
    """
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP penalty E[(||grad_x f(x_hat)||_2 - 1)^2] at random points between real and fake.

    real, fake: (B, ...) same shape. One norm per *sample*, over all of its pixels and channels:
    flattening to (B, -1) first is the point (a norm over one dim only is the classic bug).

    Always computed in fp32, also inside a mixed-precision (autocast) step. PyTorch's AMP recipe for a
    penalty differentiates the *scaled* output; on a summed critic output that seeds every sample's gradient
    with the scale (2^16 = 65536 at first), above fp16's largest number (65504): inf, and a NaN penalty at
    step 1. Here the inner gradient is of the unscaled sum (seed 1 per sample), and the whole penalty (its
    forward, that gradient, and the double backward the scaled loss_D later sends through it) runs in fp32.
    It is a small share of the step's cost; the critic's main forward passes stay in fp16/bf16.
    Taught in 04_wgan_gp.
    """
    eps = torch.rand(real.size(0), *([1] * (real.dim() - 1)), device=real.device, dtype=torch.float32)
    x_hat = (eps * real.float() + (1 - eps) * fake.detach().float()).requires_grad_(True)  # (B, ...) fp32
    with torch.autocast(real.device.type, enabled=False):
        out = critic(x_hat, labels) if labels is not None else critic(x_hat)  # (B,) fp32
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)  # (B, ...) d out_b / d x_hat_b
    norms = grad.flatten(1).norm(2, dim=1)  # (B,): one norm per sample
    return ((norms - 1.0) ** 2).mean()


# name -> (d_loss, g_loss). "bce" uses the non-saturating G loss, as every practical GAN does.
LOSSES = {
    "bce": (d_loss_bce, g_loss_nonsaturating),
    "bce-saturating": (d_loss_bce, g_loss_saturating),
    "wasserstein": (d_loss_wasserstein, g_loss_wasserstein),
    "hinge": (d_loss_hinge, g_loss_wasserstein),
}


def get_loss(name: str):
    """(d_loss, g_loss) for a name in `LOSSES`; an unknown name is an error listing the choices."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose one of {sorted(LOSSES)}") from None
