"""The model registry behind the command line: name -> networks, steps and training defaults.

    spec = MODELS["dcgan"]
    G, D = spec.build(img_shape=(1, 28, 28), n_classes=10, z_dim=100)
    d_step, g_step = spec.steps()
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import nets
from .steps import bce_steps, wgan_gp_steps


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
        if len(shape) != 3:
            return (f"model {self.name!r} trains on images but this dataset holds {len(shape)}-D points "
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
    return nets.DCGANGenerator(z_dim, img_shape), nets.DCGANDiscriminator(img_shape, norm="layer")


def _gan(img_shape, n_classes, z_dim):
    return nets.MLPGenerator(z_dim, img_shape), nets.MLPDiscriminator(img_shape)


MODELS: dict[str, ModelSpec] = {
    "gan": ModelSpec("gan", "vanilla GAN: MLP generator and discriminator, BCE loss", _gan, bce_steps,
                     defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    "dcgan": ModelSpec("dcgan", "DCGAN: transposed-conv G, strided-conv D, batch norm, BCE loss", _dcgan,
                       bce_steps, defaults=dict(lr_G=2e-4, lr_D=2e-4, betas=(0.5, 0.999))),
    "wgan-gp": ModelSpec("wgan-gp", "WGAN-GP: DCGAN generator, layer-norm critic, Wasserstein loss + "
                         "gradient penalty, n_critic=5", _wgan_gp, wgan_gp_steps,
                         defaults=dict(lr_G=1e-4, lr_D=1e-4, betas=(0.0, 0.9), n_critic=5)),
}


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}") from None

