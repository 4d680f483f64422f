"""Latent-space tools: lerp and slerp, truncation, directions and seeded z."""
import math

import pytest
import torch

from ganhelpers.viz.latent import latent_directions, lerp, sample_z, slerp, truncate


def test_slerp_ends_and_the_quarter_circle():
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(slerp(e0, e1, 0.0), e0) and torch.allclose(slerp(e0, e1, 1.0), e1)
    # orthogonal unit vectors: the path is the quarter circle (cos(t pi/2), sin(t pi/2))
    t = torch.linspace(0, 1, 9)
    expected = torch.stack([torch.cos(t * math.pi / 2), torch.sin(t * math.pi / 2)], dim=1)  # (9, 2)
    assert torch.allclose(slerp(e0, e1, t), expected, atol=1e-6)
    assert torch.allclose(slerp(e0, e1, 0.5), torch.tensor([1.0, 1.0]) / math.sqrt(2), atol=1e-6)


def test_slerp_keeps_the_norm_and_moves_at_constant_angular_speed():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 100, generator=g, dtype=torch.float64)
    z1 = z1 * z0.norm() / z1.norm()  # equal norms
    omega = torch.acos(torch.dot(z0, z1) / z0.norm() ** 2)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    path = slerp(z0, z1, t)  # (11, 100)
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(11), rtol=1e-9)
    angles = torch.acos((path @ z0 / (path.norm(dim=1) * z0.norm())).clamp(-1, 1))
    assert torch.allclose(angles, t * omega, atol=1e-6)
    # the straight line cuts inside the sphere: its midpoint is shorter by cos(omega / 2)
    assert torch.isclose(lerp(z0, z1, 0.5).norm(), z0.norm() * torch.cos(omega / 2), rtol=1e-9)


def test_slerp_batches_rows_independently_and_falls_back_to_lerp_when_parallel():
    g = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    t = torch.tensor([0.0, 0.3, 1.0])
    path = slerp(z0, z1, t)
    assert path.shape == (3, 4, 8)
    for i in range(4):
        assert torch.allclose(path[:, i], slerp(z0[i], z1[i], t), atol=1e-6)
    z = torch.tensor([1.0, 2.0, 2.0])
    assert torch.allclose(slerp(z, 3 * z, 0.5), 2 * z)  # parallel: no circle, the straight line
    assert torch.allclose(slerp(z, -z, 0.25), 0.5 * z)  # opposite: the same
    with pytest.raises(ValueError, match="shapes"):
        slerp(torch.zeros(3), torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="1-D"):
        slerp(z, z, torch.zeros(2, 2))


def test_lerp_known_values():
    z0, z1 = torch.tensor([0.0, 2.0]), torch.tensor([4.0, 6.0])
    assert torch.equal(lerp(z0, z1, 0.25), torch.tensor([1.0, 3.0]))
    assert lerp(z0, z1, [0.0, 1.0]).tolist() == [[0.0, 2.0], [4.0, 6.0]]


def test_truncate_keeps_small_entries_and_redraws_the_rest_inside():
    z = torch.tensor([[0.1, -2.5, 0.9, 4.0], [-0.99, 1.01, 0.0, -1.5]])
    out = truncate(z, 1.0, generator=torch.Generator().manual_seed(0))
    inside = z.abs() <= 1.0
    assert torch.equal(out[inside], z[inside])  # kept exactly
    assert (out.abs() <= 1.0).all() and not torch.equal(out, z)
    again = truncate(z, 1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # seeded: the same redraws
    assert torch.equal(truncate(z, None), z) and truncate(z, None) is not z
    assert torch.equal(truncate(z, math.inf), z)
    with pytest.raises(ValueError, match="> 0"):
        truncate(z, 0.0)


def test_truncate_gives_the_truncated_normal():
    # Var of N(0, 1) truncated to [-t, t] is 1 - 2 t phi(t) / (2 Phi(t) - 1); for t = 1 about 0.2911
    t = 1.0
    phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    expected = 1 - 2 * t * phi / math.erf(t / math.sqrt(2))
    z = truncate(torch.randn(400_000, generator=torch.Generator().manual_seed(0)), t,
                 generator=torch.Generator().manual_seed(1))
    assert abs(z.var().item() - expected) < 0.003 and abs(z.mean().item()) < 0.005
    # a tiny threshold runs out of redraw rounds and finishes with the inverse CDF: still inside
    tiny = truncate(torch.randn(1000), 0.01, generator=torch.Generator().manual_seed(0), max_rounds=2)
    assert (tiny.abs() <= 0.01).all() and tiny.std() > 0.003


def test_latent_directions_are_orthonormal():
    axes = latent_directions(10, 3)
    assert torch.equal(axes, torch.eye(10)[:3])
    random = latent_directions(50, 5, "random", seed=3)
    assert random.shape == (5, 50)
    assert torch.allclose(random @ random.T, torch.eye(5), atol=1e-5)
    assert torch.equal(random, latent_directions(50, 5, "random", seed=3))
    assert not torch.allclose(random, latent_directions(50, 5, "random", seed=4))
    with pytest.raises(ValueError, match="between 1 and z_dim"):
        latent_directions(4, 5)
    with pytest.raises(ValueError, match="axes"):
        latent_directions(4, 2, "pca")


def test_sample_z_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a, b = sample_z(4, 16, seed=7), sample_z(4, 16, seed=7)
    assert torch.equal(a, b) and a.shape == (4, 16) and not torch.equal(a, sample_z(4, 16, seed=8))
    assert (sample_z(64, 16, seed=7, truncation=0.5).abs() <= 0.5).all()
    assert torch.equal(torch.get_rng_state(), state)
