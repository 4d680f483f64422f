"""Ready-made `d_step`/`g_step` pairs the families share: the standard GAN (BCE) and WGAN-GP.

The notebooks write their own steps (that code is the lesson) and can compare them with these.
Signature of every step: step(G, D, real, labels, trainer) -> dict with "loss_D" or "loss_G".
real: (B, C, H, W) in [-1, 1] on the training device; labels: (B,) int64 (ignored by
unconditional nets). Probabilities are logged as "D_real"/"D_fake", critic scores as "critic_real"/"critic_fake".
"""
from __future__ import annotations

import torch

from ..nn.conventions import noise
from ..nn.losses import d_loss_bce, d_loss_wasserstein, g_loss_nonsaturating, g_loss_wasserstein, gradient_penalty


def instance_noise_std(trainer, start: float) -> float:
    """The instance-noise level for the current step: `start` annealed linearly to 0.

    sigma = start * (1 - p), with p = `trainer.progress` in [0, 1] (steps done / steps, or the share of
    the time budget spent), so the first step uses `start` and the noise is gone when training ends.
    A run bounded by steps only depends on the step count, so a resumed run picks up the same schedule.
    Taught in 03_improved_dcgan.
    """
    if start == 0:
        return 0.0
    return start * (1.0 - trainer.progress)


def add_instance_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """x + N(0, std^2) per pixel (x unchanged when std is 0). Uses torch's global RNG, like the
    rest of training, so the trainer's checkpoints cover it.
    Taught in 03_improved_dcgan.
    """
    return x + std * torch.randn_like(x) if std > 0 else x


def bce_steps(smooth: float = 0.0, instance_noise: float = 0.0, reuse_fake: bool = True):
    """The standard GAN: BCE for D, non-saturating loss for G, with two optional stabilisers.

    smooth: one-sided label smoothing, real targets 1 - smooth (Salimans et al. 2016).
    instance_noise: std of Gaussian noise added to *every* input of D, real and fake, annealed
    linearly to 0 over training (`instance_noise_std`; Sønderby et al. 2016, Arjovsky & Bottou 2017).
    G's step adds noise of the same std, so G is trained against the same (noisy) D that D's step fit.
    reuse_fake: with one D step per G step (`trainer.config.n_critic == 1`), G's step on the same batch
    reuses the fakes D's step generated, kept with their graph between the two steps, instead of running G again, as
    pytorch/examples' DCGAN does: one G forward per step instead of two, the same losses.
    Taught in 01_vanilla_gan and 03_improved_dcgan.
    """
    if not 0.0 <= smooth < 0.5:
        raise ValueError(f"smooth={smooth}: one-sided label smoothing lives in [0, 0.5)")
    if not instance_noise >= 0:
        raise ValueError(f"instance_noise={instance_noise}: a standard deviation must be >= 0")

    kept = {}  # d_step's batch and fakes (with their graph), for the g_step of the same batch

    def d_step(G, D, real, labels, trainer):
        std = instance_noise_std(trainer, instance_noise)
        z = noise(G, real.size(0), real.device)  # (B, z_dim)
        kept.clear()  # never a graph from an earlier step
        if reuse_fake and getattr(getattr(trainer, "config", None), "n_critic", None) == 1:  # a Trainer, one D step
            fake = kept["fake"] = G(z, labels)  # with its graph: g_step reuses it
            kept["real"] = real
            fake = fake.detach()  # D's update needs no gradient through G
        else:
            with torch.no_grad():  # D's update needs no gradient through G
                fake = G(z, labels)
        real_logits = D(add_instance_noise(real, std), labels)  # (B,)
        fake_logits = D(add_instance_noise(fake, std), labels)  # (B,)
        out = {"loss_D": d_loss_bce(real_logits, fake_logits, smooth=smooth),
               "D_real": torch.sigmoid(real_logits).mean(), "D_fake": torch.sigmoid(fake_logits).mean()}
        if instance_noise:
            out["noise_std"] = std
        return out

    def g_step(G, D, real, labels, trainer):
        std = instance_noise_std(trainer, instance_noise)
        fake = kept.pop("fake", None) if kept.get("real") is real else None  # d_step's fakes, for this same batch
        kept.clear()
        if fake is None:
            fake = G(noise(G, real.size(0), real.device), labels)
        fake_logits = D(add_instance_noise(fake, std), labels)  # (B,)
        return {"loss_G": g_loss_nonsaturating(fake_logits)}

    return d_step, g_step


def wgan_gp_steps(gp_weight: float = 10.0):
    """WGAN-GP: Wasserstein critic loss plus gp_weight times the per-sample gradient penalty.

    Taught in 04_wgan_gp.
    """

    def d_step(G, D, real, labels, trainer):
        with torch.no_grad():
            fake = G(noise(G, real.size(0), real.device), labels)
        real_scores, fake_scores = D(real, labels), D(fake, labels)  # (B,), (B,)
        gp = gradient_penalty(D, real, fake, labels)
        return {"loss_D": d_loss_wasserstein(real_scores, fake_scores) + gp_weight * gp,
                "W_estimate": real_scores.mean() - fake_scores.mean(), "gp": gp,
                "critic_real": real_scores.mean(), "critic_fake": fake_scores.mean()}  # raw scores

    def g_step(G, D, real, labels, trainer):
        return {"loss_G": g_loss_wasserstein(D(G(noise(G, real.size(0), real.device), labels), labels))}

    return d_step, g_step
