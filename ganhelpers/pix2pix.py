"""Pix2Pix (Isola et al. 2017): image-to-image translation with a conditional GAN, on pairs made here.

- `make_pairs`: deterministic (condition, target) pairs from our own images: Sobel edges -> digit,
  greyscale -> colour. A `PairSampler` feeds them to the one generic `ganhelpers.train.Trainer`: its
  batches are (target, condition), so `step(G, D, real, labels, trainer)` gets the condition as `labels`.
- `UNetGenerator` (mirrored skips, or none) and `UNet3PlusGenerator` (full-scale skips) map
  `G(condition) -> image` with no noise (`z_dim = 0`): as in the paper, dropout is the only randomness.
- `PatchDiscriminator(image, condition)`: a logit per patch, of side `receptive_field(D)`.
  (The networks live in `ganhelpers.pix2pix_nets` and are re-exported here.)
- `pix2pix_steps`: BCE + l1_weight * L1, or L1 alone; `heldout_scores`, `save_triplets`, `TripletSaver`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import BatchSampler, ImageSet, to_float
from .losses import d_loss_bce, g_loss_nonsaturating
from .pix2pix_nets import (  # noqa: F401  (the networks are part of this module's API)
    Encoder, PatchDiscriminator, UNet3PlusGenerator, UNetGenerator, receptive_field)
from .steps import add_instance_noise, instance_noise_std
from .train import Callback

MODEL_NAMES = ("pix2pix", "pix2pix-l1")  # the registry's paired models (see ganhelpers.models)
EDGE_THRESHOLD = 0.35  # an edge pixel: Sobel magnitude above this share of the image's largest


# ----------------------------------------------------------------------------- paired data

def sobel_edges(images: torch.Tensor, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """Binary edge maps: uint8 (N, C, H, W) -> uint8 (N, 1, H, W), 255 on edges, 0 elsewhere.
    The Sobel gradient magnitude (of the luma for colour), divided by each image's maximum and
    thresholded: an outline drawing, like the edge maps of pix2pix's edges2shoes."""
    x = greyscale(images).float() / 255 if images.size(1) == 3 else images.float() / 255  # (N, 1, H, W)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)  # (2, 1, 3, 3): d/dx and d/dy
    grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)  # (N, 2, H, W)
    magnitude = grad.pow(2).sum(1, keepdim=True).sqrt()  # (N, 1, H, W)
    peak = magnitude.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return ((magnitude / peak > threshold) * 255).to(torch.uint8)


def greyscale(images: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma: uint8 (N, 3, H, W) -> uint8 (N, 1, H, W)."""
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


TASKS = {"edges": sobel_edges, "grey": greyscale}


@dataclass
class PairSet(ImageSet):
    """An ImageSet of targets (`images`) with one condition image each (`conditions`, same N, H, W)."""
    conditions: torch.Tensor = None  # (N, C_in, H, W) uint8
    task: str = ""

    def __post_init__(self):
        super().__post_init__()
        c = self.conditions
        n, _, h, w = self.images.shape
        same = c is not None and c.dim() == 4 and c.shape[0] == n and c.shape[2:] == (h, w)
        if not same or c.dtype != torch.uint8:
            raise ValueError(f"{self.name}: conditions must be uint8 (N, C, H, W) matching the images "
                             f"{tuple(self.images.shape)}, got {None if c is None else (c.dtype, tuple(c.shape))}")


def make_pairs(data: ImageSet, task: str = "auto") -> PairSet:
    """(condition, target) pairs from an ImageSet; the same data always gives the same pairs.
    task: "edges" (Sobel edge map -> image), "grey" (greyscale -> colour, 3 channels) or "auto" (by channels)."""
    if not isinstance(data, ImageSet):
        raise ValueError(f"make_pairs needs an ImageSet of images, not {type(data).__name__} "
                         "(2-D points have no image to translate)")
    c = data.images.shape[1]
    if task == "auto":
        task = "edges" if c == 1 else "grey"
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: use 'edges', 'grey' or 'auto'")
    if task == "grey" and c != 3:
        raise ValueError(f"task 'grey' colours greyscale images: {data.name} has {c} channel(s), use 'edges'")
    return PairSet(data.images, data.labels, data.classes, data.name, TASKS[task](data.images), task)


class PairSampler(BatchSampler):
    """A BatchSampler over a PairSet whose batches are (target (B, C, H, W), condition (B, C_in, H, W)),
    both float in [-1, 1]: pass it to `Trainer` as its data. Targets and conditions are stored as one
    uint8 tensor (channels concatenated), so one gather fetches both and resume works unchanged."""

    def __init__(self, pairs: PairSet, batch_size: int, device="cpu", seed: int = 0):
        if not isinstance(pairs, PairSet):
            raise ValueError(f"PairSampler needs a PairSet (from make_pairs), not {type(pairs).__name__}")
        super().__init__(pairs, batch_size, device, seed)
        self.channels = pairs.images.shape[1]
        self.x = torch.cat([pairs.images, pairs.conditions], 1).to(self.device)  # (N, C + C_in, H, W) uint8

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        both, _ = super().next()  # (B, C + C_in, H, W) in [-1, 1]; class labels unused
        return both[:, :self.channels], both[:, self.channels:]


# ----------------------------------------------------------------------------- training steps

def pix2pix_steps(l1_weight: float = 100.0, adversarial: bool = True, instance_noise: float = 0.0):
    """Pix2Pix's d_step/g_step for batches (target, condition) from a `PairSampler`.
    G minimises -log D(G(x) | x) + l1_weight * |y - G(x)|_1 (non-saturating BCE, mean over patches);
    D minimises BCE with every patch of (y, x) labelled real and of (G(x), x) fake.
    adversarial=False: the L1-only baseline (D is never run; its step returns a constant zero loss).
    instance_noise: std of Gaussian noise on D's image input (not the condition), annealed to 0.
    The extra-D-steps switch is `TrainConfig.n_critic`."""
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


# ----------------------------------------------------------------------------- results

@torch.no_grad()
def translate(G, conditions: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """G in eval mode on uint8 or [-1, 1] conditions (N, C_in, H, W) -> outputs (N, C, H, W) on the CPU."""
    device, was_training = next(G.parameters()).device, G.training
    x = to_float(conditions) if conditions.dtype == torch.uint8 else conditions
    out = torch.cat([G.eval()(chunk.to(device)).float().cpu() for chunk in x.split(batch_size)])
    G.train(was_training)
    return out


def high_frequency_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean squared response of a 3x3 Laplacian per image: (N, C, H, W) -> (N,). Blur lowers it."""
    lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).to(images)
    return F.conv2d(images, lap.expand(images.shape[1], 1, 3, 3), groups=images.shape[1]).pow(2).mean(dim=(1, 2, 3))


def _saturation(images: torch.Tensor) -> torch.Tensor:
    return (images.amax(1) - images.amin(1)).mean()


def heldout_scores(G, pairs: PairSet, batch_size: int = 250, judge: bool = True) -> dict:
    """Scores on held-out pairs: "l1" (mean |G(x) - y| on the [-1, 1] scale), "hf_ratio" (high-frequency
    energy of outputs / of targets: 1 is as sharp as the data, below 1 blurrier), for colour images
    "saturation_ratio" (colourfulness of outputs / of targets: below 1 greyer) and, where the course
    has an offline judge for the dataset, "judge_accuracy" (outputs classified as the target's class)."""
    outputs, targets = translate(G, pairs.conditions, batch_size), to_float(pairs.images)  # (N, C, H, W)
    scores = {"l1": (outputs - targets).abs().mean().item(),
              "hf_ratio": (high_frequency_energy(outputs).mean() / high_frequency_energy(targets).mean()).item(),
              "n": len(pairs)}
    if targets.shape[1] == 3:  # colour: mean (max - min) over RGB per pixel, outputs / targets; grey is 0
        scores["saturation_ratio"] = (_saturation(outputs) / _saturation(targets)).item()
    from . import judges
    if judge and pairs.name in judges.JUDGE_FOR:
        try:
            extractor = judges.JudgeExtractor(pairs.name)
        except FileNotFoundError:
            return scores
        logits = torch.cat([extractor(chunk)[1].cpu() for chunk in outputs.split(batch_size)])  # (N, 10)
        scores["judge_accuracy"] = (logits.argmax(1) == pairs.labels).float().mean().item()
    return scores


def triplet_grid(conditions, outputs, targets, per_row: int = 4) -> tuple[torch.Tensor, int]:
    """Interleave (condition, output, target), all (N, ., H, W) in [-1, 1], for `plot.show_grid`:
    returns images (3N, C, H, W) and nrow; grey conditions are repeated to C channels."""
    c = targets.shape[1]
    tiles = torch.stack([conditions.cpu().expand(-1, c, -1, -1), outputs.cpu(), targets.cpu()], 1)  # (N, 3, C, H, W)
    return tiles.flatten(0, 1), 3 * per_row


def save_triplets(G, pairs: PairSet, path, n: int = 32, per_row: int = 4) -> Path:
    """PNG of the first n pairs: rows of input | output | target, per_row triplets per row."""
    from .plot import save_grid
    n = min(n, len(pairs))
    images, nrow = triplet_grid(to_float(pairs.conditions[:n]), translate(G, pairs.conditions[:n]),
                                to_float(pairs.images[:n]), per_row)
    return save_grid(images, path, nrow=nrow)


def use_fixed_pairs(trainer, pairs: PairSet, n: int | None = None) -> None:
    """Make `trainer.sample_fixed()` (dashboards) show G's outputs for the first n conditions (default
    `config.n_fixed`): the Trainer keeps G's fixed input in `fixed_z`, noise for the other models."""
    n = min(n or trainer.config.n_fixed, len(pairs))
    trainer.fixed_z, trainer.fixed_labels = to_float(pairs.conditions[:n]).to(trainer.device), None  # (n, C_in, H, W)


class TripletSaver(Callback):
    """Saves input | output | target triplets of fixed pairs every `every` steps (out_dir/samples)."""

    def __init__(self, out_dir, pairs: PairSet, every: int = 500, n: int = 32):
        self.folder, self.pairs, self.every, self.n = Path(out_dir) / "samples", pairs, every, n

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0:
            self.on_train_end(trainer)

    def on_train_end(self, trainer):
        save_triplets(trainer.G, self.pairs, self.folder / f"step_{trainer.step:06d}.png", n=self.n)


# ----------------------------------------------------------------------------- registry and command line

def build(img_shape, n_classes=0, z_dim=0, base: int = 32):
    """(UNetGenerator, PatchDiscriminator) for the registry: 1-channel conditions (edges or grey) to
    `img_shape` images. n_classes and z_dim are ignored (no classes, no noise)."""
    return UNetGenerator(1, img_shape, base), PatchDiscriminator(1, img_shape, base)


def heldout_pairs(dataset: str, seed: int = 0, n: int | None = None) -> PairSet:
    """Pairs of the first n images (default all) of a dataset's test split (generated sets use `seed`)."""
    from .data import load_dataset
    data = load_dataset(dataset, "test", seed=seed)
    if n is not None and n < len(data):
        data = ImageSet(data.images[:n], data.labels[:n], data.classes, data.name)
    return make_pairs(data)


def cli_sample(G, meta: dict, out: Path, n: int) -> str:
    """`sample` for a paired run: the first n test pairs as input | output | target (PNG grid, 4 triplets
    a row) or arrays inputs/outputs/targets/labels (NPZ, uint8). Returns a line to print."""
    import numpy as np

    from .data import to_uint8
    pairs = heldout_pairs(meta["dataset"], meta.get("train", {}).get("seed", 0), n)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        save_triplets(G, pairs, out, n=n)
    else:
        np.savez(out, inputs=pairs.conditions.numpy(), outputs=to_uint8(translate(G, pairs.conditions)).numpy(),
                 targets=pairs.images.numpy(), labels=pairs.labels.numpy())
    return f"wrote {len(pairs)} input | output | target triplets of {meta['dataset']} test pairs ({pairs.task}): {out}"


def cli_evaluate(G, meta: dict, n: int | None, batch_size: int) -> list[str]:
    """`evaluate` for a paired run: `heldout_scores` on the first n test pairs (default all), as lines."""
    pairs = heldout_pairs(meta["dataset"], meta.get("train", {}).get("seed", 0), n)
    scores = heldout_scores(G, pairs, batch_size)
    return [f"  {k:<16} {v:.4g}" for k, v in scores.items() if k != "n"] + [
        f"  protocol: {len(pairs):,} held-out {meta['dataset']} test pairs ({pairs.task} -> image), G in eval mode; "
        "l1: mean |G(x) - y| per pixel on the [-1, 1] scale; hf_ratio: 3x3-Laplacian energy of outputs / of targets"
        + ("; saturation_ratio: mean RGB max - min, outputs / targets" if "saturation_ratio" in scores else "")
        + ("; judge_accuracy: the offline judge gives the target's class" if "judge_accuracy" in scores else "")]
