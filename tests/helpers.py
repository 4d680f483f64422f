"""What several test files share: tiny data, a tiny trainer, a simulated crash, a run folder without training,
and the stand-ins of the FID tests. Plain functions and classes (`from tests.helpers import ...`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganhelpers.core import Callback, TrainConfig, Trainer, seed_everything
from ganhelpers.core.checkpoint import save_checkpoint
from ganhelpers.data import ImageSet
from ganhelpers.models import get_model
from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganhelpers.models.steps import bce_steps


REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def assert_image_gan_shapes(G, D, z_dim: int, img_shape, batch: int) -> None:
    """A generator and discriminator keep the contract (mimicry's shape test): z (B, z_dim) -> images
    (B, *img_shape) in [-1, 1] (tanh) -> logits (B,). Eval mode: batch norm with a batch of 1 needs it."""
    x = G.eval()(torch.randn(batch, z_dim))
    assert x.shape == (batch, *img_shape)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert D.eval()(x).shape == (batch,)


def tiny_data(n: int = 96, shape=(1, 28, 28)) -> ImageSet:
    """n random uint8 images (the same for a given n and shape), labels 0..9 in turn."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % 10, [str(k) for k in range(10)], "tiny")


def tiny_nets(shape=(1, 28, 28), d_dropout: float = 0.0, **d_kwargs):
    """A seeded DCGAN pair of base 4 with z_dim 8."""
    seed_everything(0)
    return DCGANGenerator(8, shape, base=4), DCGANDiscriminator(shape, base=4, dropout=d_dropout, **d_kwargs)


def make_trainer(tmp_path=None, callbacks=(), steps: int = 12, steps_fn=bce_steps, **kw) -> Trainer:
    """A tiny DCGAN trainer on `tiny_data()`; D has dropout, so a resume must restore the RNG too."""
    G, D = tiny_nets(d_dropout=0.1)
    config = TrainConfig(steps=steps, batch_size=8, log_every=3, progress=False, device="cpu",
                         out_dir=str(tmp_path) if tmp_path else None, **kw)
    return Trainer(G, D, *steps_fn(), tiny_data(), config, callbacks=callbacks)


def weights(trainer) -> dict:
    """G's and D's state dicts in one dict ("G.<name>", "D.<name>")."""
    return {**{f"G.{k}": v for k, v in trainer.G.state_dict().items()},
            **{f"D.{k}": v for k, v in trainer.D.state_dict().items()}}


class Crash(Exception):
    """The simulated death of a training process."""


class CrashAt(Callback):
    """Raises `Crash` when the trainer reaches `step`: the process "dies" there, after any checkpoint before it."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer):
        if trainer.step == self.step:
            raise Crash


def make_run(folder, model: str = "dcgan", dataset: str = "mnist-5k", shape=(1, 28, 28), n_classes: int = 10,
             z_dim: int = 16, step: int = 7):
    """A run folder as `train` leaves it (config.json, checkpoint.pt), with untrained weights: no training."""
    spec = get_model(model)
    seed_everything(0)
    G, _ = spec.build(shape, n_classes, z_dim)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model": model, "dataset": dataset, "z_dim": z_dim,
                                                    "img_shape": list(shape), "n_classes": n_classes,
                                                    "train": {}}))
    save_checkpoint({"G": G.state_dict(), "step": step}, folder / "checkpoint.pt")
    return folder


# ---- FID stand-ins ------------------------------------------------------------------------------

def gaussian_stats(rng, dim, n):
    """Mean and covariance of n correlated, shifted Gaussian samples in `dim` dimensions."""
    x = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) * 0.5 + rng.normal(size=dim) * 3
    return x.mean(0), np.cov(x, rowvar=False)


def save_pngs(images: torch.Tensor, folder) -> str:
    """uint8 (N, C, H, W) images as folder/0000.png ... (what pytorch-fid reads)."""
    from PIL import Image
    folder.mkdir()
    for i, img in enumerate(images):  # (C, H, W) uint8
        array = img.permute(1, 2, 0).squeeze(2).numpy()
        Image.fromarray(array).save(folder / f"{i:04d}.png")
    return str(folder)


class TinyInception(torch.nn.Module):
    """A stand-in for pytorch-fid's InceptionV3 (same interface), small enough for a unit test."""
    BLOCK_INDEX_BY_DIM = {24: 0}

    def __init__(self, output_blocks=(0,), **kwargs):
        super().__init__()
        self.weight = torch.randn(24, 3 * 8 * 8, generator=torch.Generator().manual_seed(0))

    def forward(self, x):  # x (B, 3, H, W) in [0, 1], like InceptionV3
        x = F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False)
        return [torch.tanh(x.flatten(1) @ self.weight.T / 8)[:, :, None, None]]  # (B, 24, 1, 1)


def tiny_extractor():
    """An extractor (images in [-1, 1] -> (features, None)) around `TinyInception`."""
    net = TinyInception()
    extract = lambda x: (net((x.expand(-1, 3, -1, -1) + 1) / 2)[0].flatten(1), None)  # noqa: E731
    extract.device, extract.about, extract.tag = torch.device("cpu"), "tiny random network", None
    return extract


def offline(monkeypatch, tmp_path):
    """No network and no cached Inception weights."""
    from ganhelpers.data import datasets
    from ganhelpers.eval import extractors
    monkeypatch.setattr(extractors, "inception_weights_path", lambda: tmp_path / "no-such-weights.pth")
    monkeypatch.setattr(datasets, "reachable", lambda *a, **k: False)
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
