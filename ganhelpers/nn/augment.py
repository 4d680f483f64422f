"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): D sees every image, real or fake, randomly
translated, cut out or recoloured, and the same operations stay differentiable, so G is trained through them.

With little data, D memorises the training images and its verdicts stop carrying information G can use; augmenting
only the real images would teach G to draw augmented images, so DiffAugment augments *both* the reals and the fakes,
in D's step and in G's. `Augmented(D, "translation,cutout")` wraps a discriminator so that every call augments its
input first: the steps, the gradient penalty and the training loop need no change.

    x: (B, C, H, W) in [-1, 1] -> (B, C, H, W), each sample with its own random draw.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # shift by U(-0.5, 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W): the grey version
    return (x - mean) * (torch.rand(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (torch.rand(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels in each direction, filling with zeros (mid-grey)."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)  # (B, 1, 1) per-sample shifts
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy + 1  # (B, H, 1) source row of each target row,
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx + 1  # (B, 1, W) +1 for the one-pixel padding
    padded = F.pad(x, [1, 1, 1, 1])  # (B, C, H + 2, W + 2): the border is the fill value
    rows, cols = rows.clamp(0, h + 1), cols.clamp(0, w + 1)  # out of range -> the zero border
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ratio * size at a random place in each image (it may stick out of the image)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)  # (B, 1, 1) centres
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2  # (B, 1, 1) each: the square is [top, top + ch) x [left, left + cw)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # (B, H, W)
    # multiplying by the mask keeps the operation differentiable in x
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


def parse_policy(policy: str) -> tuple[str, ...]:
    """"translation,cutout" -> ("translation", "cutout"), refusing unknown names with the known ones."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in POLICIES]
    if unknown or not names:
        raise ValueError(f"unknown DiffAugment policy {policy!r}: use a comma-separated list of "
                         f"{', '.join(POLICIES)}, e.g. 'translation,cutout'")
    return names


def diff_augment(x: torch.Tensor, policy: str = "translation,cutout") -> torch.Tensor:
    """Apply each operation of `policy` to a batch (B, C, H, W), a fresh random draw per sample."""
    for name in parse_policy(policy):
        for op in POLICIES[name]:
            x = op(x)
    return x.contiguous()


class Augmented(nn.Module):
    """A discriminator that augments every input first: `Augmented(D, policy)(x, labels) = D(aug(x), labels)`.

    The wrapped network stays `self.inner`; attributes the training code reads (`n_classes`, `img_shape`) pass
    through. Taught in the README's gallery (the reference recipes) and 03_improved_dcgan.
    """

    def __init__(self, inner: nn.Module, policy: str = "translation,cutout"):
        super().__init__()
        self.inner, self.policy = inner, ",".join(parse_policy(policy))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = diff_augment(x, self.policy)
        return self.inner(x) if labels is None else self.inner(x, labels)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("inner"), name)
