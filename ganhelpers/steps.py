"""Ready-made `d_step`/`g_step` pairs for the command line and the model registry.

The notebooks write their own steps (that code is the lesson) and can compare them with these.
Signature of every step: step(G, D, real, labels, trainer) -> dict with "loss_D" or "loss_G".
real: (B, C, H, W) in [-1, 1] on the training device; labels: (B,) int64 (ignored by
unconditional nets).
"""
from __future__ import annotations

import torch

from .losses import d_loss_bce, d_loss_wasserstein, g_loss_nonsaturating, g_loss_wasserstein, gradient_penalty


def noise(G, n: int, device) -> torch.Tensor:
    """z ~ N(0, I): (n, G.z_dim)."""
    return torch.randn(n, G.z_dim, device=device)


def bce_steps(smooth: float = 0.0):
    """The standard GAN: BCE for D (optional one-sided label smoothing), non-saturating loss for G."""

    def d_step(G, D, real, labels, trainer):
        with torch.no_grad():  # D's update needs no gradient through G
            fake = G(noise(G, real.size(0), real.device), labels)
        real_logits, fake_logits = D(real, labels), D(fake, labels)  # (B,), (B,)
        return {"loss_D": d_loss_bce(real_logits, fake_logits, smooth=smooth),
                "D_real": torch.sigmoid(real_logits).mean(), "D_fake": torch.sigmoid(fake_logits).mean()}

    def g_step(G, D, real, labels, trainer):
        fake_logits = D(G(noise(G, real.size(0), real.device), labels), labels)
        return {"loss_G": g_loss_nonsaturating(fake_logits)}

    return d_step, g_step


def wgan_gp_steps(gp_weight: float = 10.0):
    """WGAN-GP: Wasserstein critic loss plus gp_weight times the per-sample gradient penalty."""

    def d_step(G, D, real, labels, trainer):
        trainer.D_probabilities = False  # D_real/D_fake below are raw critic scores
        with torch.no_grad():
            fake = G(noise(G, real.size(0), real.device), labels)
        real_scores, fake_scores = D(real, labels), D(fake, labels)  # (B,), (B,)
        gp = gradient_penalty(D, real, fake, labels, scaler=trainer.scaler)
        return {"loss_D": d_loss_wasserstein(real_scores, fake_scores) + gp_weight * gp,
                "W_estimate": real_scores.mean() - fake_scores.mean(), "gp": gp,
                "D_real": real_scores.mean(), "D_fake": fake_scores.mean()}

    def g_step(G, D, real, labels, trainer):
        return {"loss_G": g_loss_wasserstein(D(G(noise(G, real.size(0), real.device), labels), labels))}

    return d_step, g_step
