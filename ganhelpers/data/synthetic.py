"""Generated data, no network ever: "shapes" (a CIFAR-10 stand-in) and the 2-D Gaussian mixtures."""
from __future__ import annotations

import functools
import math

import torch

from .sets import ImageSet, PointSet

SHAPE_CLASSES = ["circle", "square", "triangle", "ring", "plus", "cross", "diamond",
                 "horizontal bar", "vertical bar", "star"]



def _box(x, y, half_w, half_h):
    """Signed distance (negative inside) to an axis-aligned box; exact near the edges."""
    return torch.maximum(x.abs() - half_w, y.abs() - half_h)



def _shape_sdf(k: int, x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance in pixels of class k, centred at 0 with radius r, at points (x, y).

    x, y: (M, H, W) shape-frame coordinates (y points down); r: (M, 1, 1). Each shape fits in the
    disc of radius r whatever its rotation, so a centre at least r from the border keeps it inside.
    """
    rho = torch.sqrt(x * x + y * y)
    if k == 0:  # circle
        return rho - r
    if k == 1:  # square, half-side r / sqrt(2) so its corners touch the disc
        return _box(x, y, 0.70 * r, 0.70 * r)
    if k == 2:  # equilateral triangle pointing up: three half-planes. The max of half-planes
        # overshoots by up to 2x the edge softness at the sharp corners, hence circumradius 0.92 r
        c, s, h = math.cos(math.pi / 6), math.sin(math.pi / 6), 0.46 * r
        return torch.stack([y - h, -c * x - s * y - h, c * x - s * y - h]).amax(0)
    if k == 3:  # ring
        return (rho - 0.72 * r).abs() - 0.22 * r
    if k in (4, 5):  # plus; the cross is the same rotated by 45 degrees
        if k == 5:
            x, y = (x + y) * math.sqrt(0.5), (y - x) * math.sqrt(0.5)
        return torch.minimum(_box(x, y, 0.95 * r, 0.22 * r), _box(x, y, 0.22 * r, 0.95 * r))
    if k == 6:  # diamond: the L1 ball, divided by sqrt(2) to be a distance
        return (x.abs() + y.abs() - r) * math.sqrt(0.5)
    if k == 7:
        return _box(x, y, 0.95 * r, 0.28 * r)
    if k == 8:
        return _box(x, y, 0.28 * r, 0.95 * r)
    # star: radius varies with angle between 0.45 r and r; only roughly a distance, fine for a 1-px edge
    angle = torch.atan2(x, -y)  # 0 at the top point
    return rho - r * (0.725 + 0.275 * torch.cos(5 * angle))



def _segment_distance(p, a, b):
    """Euclidean distance from colours p to the segment a-b in RGB; all (N, 3)."""
    ab = b - a
    t = ((p - a) * ab).sum(1, keepdim=True) / (ab * ab).sum(1, keepdim=True).clamp_min(1e-8)
    return (p - (a + t.clamp(0, 1) * ab)).norm(dim=1)



def _upsample_matrix(low: int, size: int) -> torch.Tensor:
    """(size, low) weights of bilinear interpolation from `low` grid nodes spanning the image to
    `size` pixel centres; `U @ grid @ U.T` upsamples, as one fast matmul instead of F.interpolate."""
    u = (torch.arange(size) + 0.5) / size * (low - 1)  # pixel centres in grid units
    return (1 - (u[:, None] - torch.arange(low)).abs()).clamp_min(0)



def make_shapes(n: int, seed: int = 0, size: int = 32) -> ImageSet:
    """Generate `n` RGB images (3, size, size) of 10 shape classes (`SHAPE_CLASSES`), balanced.

    Each image draws its shape's fill colour, radius, centre and a small rotation, on a background
    of a two-colour linear gradient in a random direction plus low-frequency colour noise; the fill
    is resampled until it differs from every background colour, so the shape is always visible.
    A GAN has to learn colour, shape and position. Deterministic per seed; the global RNG is untouched.
    """
    g = torch.Generator().manual_seed(seed)
    rand = functools.partial(torch.rand, generator=g)
    labels = torch.arange(n)[torch.randperm(n, generator=g)] % len(SHAPE_CLASSES)  # exactly balanced
    radius = size * (0.18 + 0.20 * rand(n))  # 5.8 to 12.2 pixels at size 32
    # keep the whole disc (and a one-pixel margin) inside the image
    center = radius[:, None] + 1 + rand(n, 2) * (size - 2 * radius[:, None] - 2)  # (N, 2)
    rotation = (rand(n) - 0.5) * math.radians(20)  # +-10 degrees: a square stays unlike a diamond
    bg_a = rand(n, 3)  # (N, 3) gradient end colours in [0, 1]
    bg_b = (bg_a + 0.3 * torch.randn(n, 3, generator=g)).clamp(0, 1)
    bg_dir = rand(n) * 2 * math.pi
    fill = rand(n, 3)
    for _ in range(30):  # rejection: redraw fills too close to the background's colours
        bad = _segment_distance(fill, bg_a, bg_b) < 0.45
        fill = torch.where(bad[:, None], rand(n, 3), fill)
    bad = _segment_distance(fill, bg_a, bg_b) < 0.45  # the rare leftovers get black or white
    fill[bad] = ((bg_a + bg_b).mean(1)[bad] < 1).float()[:, None].expand(-1, 3)

    # background on a coarse 5x5 grid (gradient + noise), upsampled: bilinear keeps the gradient linear
    low = 5
    grid = torch.linspace(-0.5, 0.5, low)
    t = (grid[None, None, :] * bg_dir.cos()[:, None, None]
         + grid[None, :, None] * bg_dir.sin()[:, None, None] + 0.5).clamp(0, 1)  # (N, low, low)
    coarse = bg_a[:, :, None, None] + t[:, None] * (bg_b - bg_a)[:, :, None, None]  # (N, 3, low, low)
    coarse += 0.25 * (rand(n, 3, low, low) - 0.5)
    up = _upsample_matrix(low, size)  # (size, low)

    coords = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    py, px = coords[:, None], coords[None, :]  # (H, 1), (1, W)
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    for k in range(len(SHAPE_CLASSES)):  # one vectorised pass per class
        idx = (labels == k).nonzero().squeeze(1)
        for chunk in idx.split(1024):  # chunks small enough to stay in cache
            dx, dy = px - center[chunk, 0, None, None], py - center[chunk, 1, None, None]  # (M, H, W)
            cos, sin = rotation[chunk].cos()[:, None, None], rotation[chunk].sin()[:, None, None]
            dist = _shape_sdf(k, cos * dx + sin * dy, cos * dy - sin * dx, radius[chunk, None, None])
            alpha = (0.5 - dist).clamp_(0, 1)[:, None]  # (M, 1, H, W) a one-pixel soft edge: anti-aliasing
            background = (up @ coarse[chunk] @ up.T).clamp_(0, 1)  # (M, 3, H, W)
            img = torch.lerp(background, fill[chunk, :, None, None].expand_as(background), alpha)
            images[chunk] = img.mul_(255).round_().to(torch.uint8)
    return ImageSet(images, labels, list(SHAPE_CLASSES), "shapes")



def mixture_centers(name: str) -> tuple[torch.Tensor, float]:
    """Mode centres (K, 2) and default std of a named mixture.

    Taught in 00_gan_game.
    """
    if name == "ring8":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angle.cos(), angle.sin()], 1), 0.02
    if name == "grid25":
        ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(ticks, ticks), 0.05
    raise ValueError(f"unknown mixture {name!r}: use 'ring8' or 'grid25'")



def make_mixture(name: str = "ring8", n: int = 10000, seed: int = 0, std: float | None = None) -> PointSet:
    """`n` points from an equal-weight Gaussian mixture; deterministic per seed, global RNG untouched.

    Taught in 00_gan_game.
    """
    centers, default_std = mixture_centers(name)
    std = default_std if std is None else float(std)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centers), (n,), generator=g)
    points = centers[labels] + std * torch.randn(n, 2, generator=g)  # (N, 2)
    return PointSet(points.float(), labels, centers.float(), std, name)
