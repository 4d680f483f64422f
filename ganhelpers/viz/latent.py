"""Latent-space maths for exploring a generator: interpolation, truncation, directions, sampling.

Pure functions on tensors (no widgets, no I/O), each tested against a known answer:

- `lerp`, `slerp`: straight-line and great-circle interpolation between latent vectors;
- `truncate`: BigGAN's truncation trick, redrawing the entries of z outside [-t, t];
- `latent_directions`: k orthonormal directions (coordinate axes or random);
- `sample_z`: seeded latents that leave the global random state alone.

`ganhelpers.viz.explore` builds the interactive explorers on top of these.
"""
from __future__ import annotations

import math

import torch


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Linear interpolation (1 - t) z0 + t z1. z0, z1: (..., z_dim); t: a number or (T,).

    Returns z0's shape for a number t, (T, *z0.shape) for a 1-D t.
    Taught in 02_dcgan.
    """
    z0, z1, t, scalar = _prepare(z0, z1, t)
    out = (1 - t) * z0 + t * z1
    return out[0] if scalar else out


def slerp(z0: torch.Tensor, z1: torch.Tensor, t, eps: float = 1e-7) -> torch.Tensor:
    """Spherical linear interpolation (Shoemake 1985; for GAN latents White 2016).

    slerp(z0, z1, t) = sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1, where W is the angle
    between z0 and z1 (per row). It moves along the great circle from z0 to z1 at a constant angular
    speed; for |z0| = |z1| every point keeps that norm, while the straight line (`lerp`) cuts through
    the inside of the sphere. t = 0 gives z0 and t = 1 gives z1. z0, z1: (..., z_dim); t: a number or
    (T,). Returns z0's shape for a number t, (T, *z0.shape) for a 1-D t. Where z0 and z1 are
    (anti-)parallel (sin W < eps) the circle is not defined and the result is `lerp`.
    Taught in 02_dcgan.
    """
    z0, z1, t, scalar = _prepare(z0, z1, t)
    u0 = z0 / z0.norm(dim=-1, keepdim=True).clamp_min(eps)  # unit vectors, (..., z_dim)
    u1 = z1 / z1.norm(dim=-1, keepdim=True).clamp_min(eps)
    omega = torch.acos((u0 * u1).sum(-1, keepdim=True).clamp(-1, 1))  # (..., 1) angle in [0, pi]
    sin = torch.sin(omega)
    degenerate = sin < eps
    safe = torch.where(degenerate, torch.ones_like(sin), sin)
    w0 = torch.where(degenerate, 1 - t, torch.sin((1 - t) * omega) / safe)  # (T, ..., 1)
    w1 = torch.where(degenerate, t, torch.sin(t * omega) / safe)
    out = w0 * z0 + w1 * z1
    return out[0] if scalar else out


def _prepare(z0, z1, t):
    z0, z1 = torch.as_tensor(z0), torch.as_tensor(z1)
    if not z0.is_floating_point():
        z0 = z0.float()
    z1 = z1.to(z0)
    if z0.shape != z1.shape:
        raise ValueError(f"cannot interpolate between shapes {tuple(z0.shape)} and {tuple(z1.shape)}")
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    if t.dim() > 1:
        raise ValueError(f"t must be a number or a 1-D sequence of numbers, got shape {tuple(t.shape)}")
    scalar = t.dim() == 0
    t = t.reshape(-1, *([1] * z0.dim()))  # (T, 1, ..., 1): broadcasts over z0's dimensions
    return z0, z1, t, scalar


def truncate(z: torch.Tensor, threshold: float | None, generator: torch.Generator | None = None,
             max_rounds: int = 100) -> torch.Tensor:
    """The truncation trick (Brock et al. 2019, BigGAN): redraw every entry of z with |z_i| > threshold.

    z: (..., z_dim) drawn from N(0, I). Entries inside [-threshold, threshold] are kept as they are;
    the others are drawn again from N(0, 1) (with `generator` if given) until they fall inside, so the
    result follows a standard normal truncated to that interval. Small thresholds give typical, clean
    samples with less variety; large ones give the full variety. threshold None (or inf): z unchanged.
    After `max_rounds` redraws (only tiny thresholds get there) the rest are drawn directly from the
    truncated normal by its inverse CDF. Returns a new tensor of z's shape, dtype and device.
    """
    if threshold is None or threshold == math.inf:
        return z.clone()
    if not threshold > 0:
        raise ValueError(f"truncation threshold {threshold} must be > 0 (None for no truncation)")
    out = z.detach().to("cpu", torch.float64).clone()  # drawn on the CPU: seeded generators are CPU ones
    for _ in range(max_rounds):
        bad = out.abs() > threshold
        n = int(bad.sum())
        if n == 0:
            return out.to(z)
        out[bad] = torch.randn(n, generator=generator, dtype=torch.float64)
    bad = out.abs() > threshold
    low = torch.special.ndtr(torch.tensor(-float(threshold), dtype=torch.float64))  # Phi(-t)
    u = low + torch.rand(int(bad.sum()), generator=generator, dtype=torch.float64) * (1 - 2 * low)
    out[bad] = torch.special.ndtri(u).clamp(-threshold, threshold)  # Phi^-1 of U(Phi(-t), Phi(t))
    return out.to(z)


def latent_directions(z_dim: int, k: int, kind: str = "axes", seed: int = 0) -> torch.Tensor:
    """k orthonormal directions in latent space, as rows: (k, z_dim), D @ D.T = I.

    kind "axes": the first k coordinate axes (moving along one changes one entry of z);
    "random": k random orthonormal directions (a QR decomposition of a seeded Gaussian matrix).
    A trained G has no reason to line its features up with the axes, so both are equally
    "meaningful"; random directions mix many entries at once.
    """
    if not 1 <= k <= z_dim:
        raise ValueError(f"k={k} directions: choose between 1 and z_dim={z_dim}")
    if kind == "axes":
        return torch.eye(z_dim)[:k]
    if kind == "random":
        gaussian = torch.randn(z_dim, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        q, r = torch.linalg.qr(gaussian)  # q: (z_dim, k) with orthonormal columns
        q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(k, dtype=torch.float64))
        return q.T.float().contiguous()
    raise ValueError(f"unknown kind of directions {kind!r}: use 'axes' or 'random'")


def sample_z(n: int, z_dim: int, seed: int = 0, truncation: float | None = None) -> torch.Tensor:
    """n latent vectors (n, z_dim) from N(0, I), the same for the same seed; optionally truncated.

    Drawn from their own seeded generator, so the global random state (and so training) is untouched.
    """
    gen = torch.Generator().manual_seed(int(seed))
    return truncate(torch.randn(n, z_dim, generator=gen), truncation, generator=gen)
