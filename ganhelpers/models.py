"""The model registry behind the command line: name -> networks, steps and training defaults.

    spec = MODELS["dcgan"]
    G, D = spec.build(img_shape=(1, 28, 28), n_classes=10, z_dim=100)
    d_step, g_step = spec.steps()
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from . import nets
from .conditional import acgan_steps, build_acgan, build_cgan
from .steps import bce_steps, wgan_gp_steps
from . import pix2pix
from . import sagan


@dataclass(frozen=True)
class ModelSpec:
    name: str
    about: str
    build: Callable        # (img_shape, n_classes, z_dim) -> (G, D)
    steps: Callable        # () -> (d_step, g_step)
    sizes: tuple = (28, 32)  # square image sizes the networks are built for
    conditional: bool = False
    defaults: dict = field(default_factory=dict)  # TrainConfig overrides

    def check(self, shape: tuple) -> str | None:
        """None when the model can train on data of this shape, else a message saying why not."""
        if len(shape) != 3:  # (2,): a point set
            return (f"model {self.name!r} trains on images but this dataset holds 2-D points "
                    "(the 2-D mixtures are for notebook 00_gan_game)")
        c, h, w = shape
        if h != w or h not in self.sizes:
            return f"model {self.name!r} is built for {' or '.join(map(str, self.sizes))}-pixel images, not {h}x{w}"
        return None


def _dcgan(img_shape, n_classes, z_dim):
    return nets.DCGANGenerator(z_dim, img_shape), nets.DCGANDiscriminator(img_shape)


def _wgan_gp(img_shape, n_classes, z_dim):
    # a critic, not a classifier: no sigmoid, and layer norm because the per-sample gradient
    # penalty is meaningless when batch norm mixes the samples of a batch
    # 28x28 digits: half width (base 32): five critic steps with a double backward each make WGAN-GP ~5x the
    # cost of a DCGAN step, and digits need less capacity than colour images (measured: 2.4x the steps/s on CPU)
    base = 32 if img_shape[-1] == 28 else 64
    return (nets.DCGANGenerator(z_dim, img_shape, base=base),
            nets.DCGANDiscriminator(img_shape, base=base, norm="layer"))


def _gan(img_shape, n_classes, z_dim):
    return nets.MLPGenerator(z_dim, img_shape), nets.MLPDiscriminator(img_shape)


MODELS: dict[str, ModelSpec] = {
    "gan": ModelSpec("gan", "vanilla GAN: MLP generator and discriminator, BCE loss", _gan, bce_steps,
                     defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    "dcgan": ModelSpec("dcgan", "DCGAN: transposed-conv G, strided-conv D, batch norm, BCE loss", _dcgan,
                       bce_steps, defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    # the recipe the ablation of notebooks/03_improved_dcgan.ipynb supports: 2 D steps per G step (the trick
    # that helped there), smoothing and annealed noise (harmless there); no dropout (in D it hurt)
    "dcgan-improved": ModelSpec(
        "dcgan-improved", "DCGAN + the tricks of notebook 03: 2 D steps per G step, one-sided label smoothing "
        "0.1, instance noise annealed from std 0.1 to 0 over --steps", _dcgan,
        partial(bce_steps, smooth=0.1, instance_noise=0.1),
        defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999), n_critic=2)),
    # the paper's Adam(0, 0.9) and n_critic=5, but faster rates than its 1e-4 for a 5-minute CPU run: on mnist-5k at
    # 700 G steps the judge's FD was 78 with both at 1e-4, 21 at 2e-4, 16 at 3e-4, 12.5 at 5e-4. G stays at 2e-4 and
    # only the critic runs faster (TTUR): G above ~2e-4 saturates its tanh into white blobs (notebook 05, section 6)
    "wgan-gp": ModelSpec("wgan-gp", "WGAN-GP: DCGAN generator, layer-norm critic, Wasserstein loss + "
                         "gradient penalty, n_critic=5", _wgan_gp, wgan_gp_steps,
                         defaults=dict(lr_G=2e-4, lr_D=5e-4, betas=(0.0, 0.9), n_critic=5)),
    # notebooks/05_conditional_gan.ipynb and 06_acgan.ipynb. cgan: one critic step with a 5x faster critic (TTUR)
    # and base width 32 at 28 px, for a 5-minute CPU run (see conditional.build_cgan); G's lr above ~2e-4
    # saturates its tanh into white blobs (notebook 05, section 6)
    "cgan": ModelSpec("cgan", "conditional GAN: label embedded as an extra image channel of a layer-norm critic "
                      "and concatenated to z; WGAN-GP", build_cgan, wgan_gp_steps, conditional=True,
                      defaults=dict(lr_G=2e-4, lr_D=1e-3, betas=(0.5, 0.9), n_critic=1)),
    # D's class head learns from real images only: with the paper's extra fake-image term, G and D agreed on
    # private codes for some digits (5-minute CPU runs on mnist-5k: judge accuracy 77% with it, where asked for
    # a 3 G drew 8s and D's own class head was 99.7% right on the fakes; 97% without it; notebook 06)
    "acgan": ModelSpec("acgan", "AC-GAN: label concatenated to z; D with a real/fake head and a class head "
                       "trained on real images only; BCE + cross-entropy", build_acgan,
                       partial(acgan_steps, fake_class_loss=False), conditional=True,
                       defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    # notebooks/08_pix2pix.ipynb: image-to-image on pairs made from the dataset (edges -> digit for 1 channel,
    # greyscale -> colour for 3); trained on a pix2pix.PairSampler, sampled as input | output | target
    "pix2pix": ModelSpec("pix2pix", "Pix2Pix: U-Net G from edges (1 channel) or greyscale (3) to the image, "
                         "16x16 PatchGAN D on (condition, image), BCE + 100 * L1", pix2pix.build,
                         pix2pix.pix2pix_steps, defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    "pix2pix-l1": ModelSpec("pix2pix-l1", "Pix2Pix's L1-only baseline: the same U-Net trained on L1 alone "
                            "(D unused)", pix2pix.build, partial(pix2pix.pix2pix_steps, adversarial=False),
                            defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    "sagan": ModelSpec("sagan", "conditional self-attention GAN: spectral norm in G and D, conditional batch norm in G, "
                       "projection D, attention at 7x7 (8x8 for 32 px), hinge loss, TTUR", sagan.build_sagan,
                       sagan.sagan_steps, conditional=True, defaults=dict(lr_G=1e-4, lr_D=4e-4, betas=(0.0, 0.9))),
}


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}") from None

