"""Paired data for image-to-image translation (taught in 08_pix2pix): deterministic (condition, target)
pairs made from our own images (Sobel edges -> digit, greyscale -> colour) and a sampler of them.

A `PairSampler` feeds them to the one generic `Trainer`: its batches are (target, condition), so
`step(G, D, real, labels, trainer)` gets the condition as `labels`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .datasets import load_dataset
from .sampler import BatchSampler
from .sets import ImageSet

EDGE_THRESHOLD = 0.35  # an edge pixel: Sobel magnitude above this share of the image's largest


def sobel_edges(images: torch.Tensor, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """Binary edge maps: uint8 (N, C, H, W) -> uint8 (N, 1, H, W), 255 on edges, 0 elsewhere.
    The Sobel gradient magnitude (of the luma for colour), divided by each image's maximum and
    thresholded: an outline drawing, like the edge maps of pix2pix's edges2shoes.
    Taught in 08_pix2pix.
    """
    x = greyscale(images).float() / 255 if images.size(1) == 3 else images.float() / 255  # (N, 1, H, W)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)  # (2, 1, 3, 3): d/dx and d/dy
    grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)  # (N, 2, H, W)
    magnitude = grad.pow(2).sum(1, keepdim=True).sqrt()  # (N, 1, H, W)
    peak = magnitude.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return ((magnitude / peak > threshold) * 255).to(torch.uint8)


def greyscale(images: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma: uint8 (N, 3, H, W) -> uint8 (N, 1, H, W).

    Taught in 08_pix2pix.
    """
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
    task: "edges" (Sobel edge map -> image), "grey" (greyscale -> colour, 3 channels) or "auto" (by channels).
    Taught in 08_pix2pix.
    """
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
    uint8 tensor (channels concatenated), so one gather fetches both and resume works unchanged.
    Taught in 08_pix2pix.
    """

    def __init__(self, pairs: PairSet, batch_size: int, device="cpu", seed: int = 0):
        if not isinstance(pairs, PairSet):
            raise ValueError(f"PairSampler needs a PairSet (from make_pairs), not {type(pairs).__name__}")
        super().__init__(pairs, batch_size, device, seed)
        self.channels = pairs.images.shape[1]
        self.x = torch.cat([pairs.images, pairs.conditions], 1).to(self.device)  # (N, C + C_in, H, W) uint8

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        both, _ = super().next()  # (B, C + C_in, H, W) in [-1, 1]; class labels unused
        return both[:, :self.channels], both[:, self.channels:]


def heldout_pairs(dataset: str, seed: int = 0, n: int | None = None) -> PairSet:
    """Pairs of the first n images (default all) of a dataset's test split (generated sets use `seed`)."""
    data = load_dataset(dataset, "test", seed=seed)
    if n is not None and n < len(data):
        data = ImageSet(data.images[:n], data.labels[:n], data.classes, data.name)
    return make_pairs(data)
