"""Datasets in memory and the pixel convention.

Images are kept as uint8 (N, C, H, W) in [0, 255] and turned into float in [-1, 1] only per batch,
so a whole dataset fits on the training device (CIFAR-10 is 150 MB as uint8, 600 MB as float).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch



@dataclass
class ImageSet:
    """A labelled image dataset held in memory."""
    images: torch.Tensor  # (N, C, H, W) uint8 in [0, 255]
    labels: torch.Tensor  # (N,) int64 in [0, n_classes)
    classes: list[str]    # class names, index = label
    name: str

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"{self.name}: images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def img_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return len(self.images)



@dataclass
class PointSet:
    """Points drawn from a mixture of K isotropic Gaussians in the plane."""
    points: torch.Tensor   # (N, 2) float32
    labels: torch.Tensor   # (N,) int64, the mode each point was drawn from
    centers: torch.Tensor  # (K, 2) float32 mode centres
    std: float             # standard deviation of every mode
    name: str

    @property
    def n_classes(self) -> int:
        return len(self.centers)

    @property
    def img_shape(self) -> tuple[int]:
        return (2,)

    def __len__(self) -> int:
        return len(self.points)



def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1] (the range of a tanh generator)."""
    return images.to(torch.float32) / 127.5 - 1



def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] -> uint8 in [0, 255]; out-of-range values are clamped, then rounded."""
    return ((x.detach().to(torch.float32) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
