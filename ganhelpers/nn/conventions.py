"""The contract every network of the course keeps, and the small tools that rely on it.

- a generator has `z_dim`, `img_shape` (C, H, W) and `n_classes` (0 if unconditional) and maps
  `forward(z, labels=None)`: z (B, z_dim) -> images (B, C, H, W) in [-1, 1] (tanh output); an
  image-to-image generator has `z_dim = 0` and maps `forward(condition)`;
- a discriminator maps `forward(x, labels=None)`: x (B, C, H, W) -> logits (B,), raw scores with
  no sigmoid (the losses in `ganhelpers.nn.losses` take logits).

One loop, one command line and every metric drive them all through this contract.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from ..data.sets import to_float


def check_image_shape(img_shape, sizes=(28, 32)) -> tuple[int, int, int]:
    """(C, H, W) of a square image shape whose side is one of `sizes`; a clear error otherwise."""
    c, h, w = img_shape
    if h != w or h not in sizes:
        raise ValueError(f"image shape {tuple(img_shape)}: this network is built for square "
                         f"{' or '.join(map(str, sizes))}-pixel images")
    return c, h, w


def check_labels(labels, n_classes: int, batch_size: int) -> torch.Tensor | None:
    """labels as an int64 tensor (B,) in [0, n_classes); a clear error for a missing or bad one.
    An unconditional network (n_classes = 0) ignores them: None."""
    if n_classes == 0:
        return None
    if labels is None:
        raise ValueError("a conditional network needs the class of every sample: call it as G(z, labels) "
                         f"or D(x, labels) with labels of shape ({batch_size},) in [0, {n_classes})")
    labels = torch.as_tensor(labels)
    if labels.shape != (batch_size,) or labels.is_floating_point():
        raise ValueError(f"labels must be whole numbers of shape ({batch_size},), got {labels.dtype} "
                         f"{tuple(labels.shape)}")
    # the range check reads the values (a host sync on a GPU): only on the CPU, where it costs nothing
    if labels.device.type == "cpu" and len(labels) and not (0 <= int(labels.min()) and int(labels.max()) < n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got values from {int(labels.min())} "
                         f"to {int(labels.max())}")
    return labels.long()


def generator_info(G) -> tuple[int, int]:
    """(z_dim, n_classes) of a generator; a clear error when it lacks them."""
    z_dim = getattr(G, "z_dim", None)
    if not isinstance(z_dim, int) or z_dim < 1:
        what = "no z_dim" if z_dim is None else f"z_dim={z_dim!r} (no latent input)"
        raise ValueError(f"{type(G).__name__} has {what}: this needs a generator G(z, labels) with attributes "
                         "z_dim and n_classes, like those in ganhelpers.models (for an image-to-image G(condition) "
                         "use viz.explore.PairExplorer)")
    return z_dim, int(getattr(G, "n_classes", 0) or 0)


def noise(G, n: int, device) -> torch.Tensor:
    """z ~ N(0, I): (n, G.z_dim)."""
    return torch.randn(n, G.z_dim, device=device)


def device_of(module) -> torch.device:
    """The device of a module's first parameter (the CPU for a module without parameters)."""
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def eval_mode(net: nn.Module):
    """`with eval_mode(G):` runs G in eval mode (batch norm on running statistics, no dropout) and
    restores its train/eval mode afterwards, also when the block raises."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)


@torch.no_grad()
def generate(G, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """G(z, labels) in eval mode without gradients, on G's device: images (B, C, H, W) float on the CPU.

    z: (B, z_dim). labels: (B,) int64 for a conditional G (n_classes > 0), else None. G's train/eval
    mode is restored afterwards.
    """
    _, n_classes = generator_info(G)
    if n_classes and labels is None:
        raise ValueError(f"G is conditional ({n_classes} classes): pass labels, a ({len(z)},) int64 tensor")
    device = device_of(G)
    with eval_mode(G):  # batch norm on running statistics: a sample depends on its own z only
        out = G(z.to(device), None if labels is None else labels.to(device))
    return out.float().cpu()


@torch.no_grad()
def translate(G, conditions: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """G in eval mode on uint8 or [-1, 1] conditions (N, C_in, H, W) -> outputs (N, C, H, W) on the CPU."""
    device = device_of(G)
    x = to_float(conditions) if conditions.dtype == torch.uint8 else conditions
    with eval_mode(G):
        return torch.cat([G(chunk.to(device)).float().cpu() for chunk in x.split(batch_size)])


def count_params(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
