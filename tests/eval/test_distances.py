"""Distances between feature distributions: the Fréchet distance (against pytorch-fid), unbiased MMD and KID,
and the Inception Score, on known answers."""
import numpy as np
import pytest
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

from ganhelpers.eval import distances
from tests.helpers import gaussian_stats


@pytest.mark.parametrize("dim", [2, 10, 64])  # pytorch-fid itself fails on 1x1 with scipy >= 1.16
def test_frechet_distance_agrees_with_pytorch_fid(dim):
    rng = np.random.default_rng(dim)
    for n in (2 * dim + 20, 3 * dim + 50):
        (m1, s1), (m2, s2) = gaussian_stats(rng, dim, n), gaussian_stats(rng, dim, n + 7)
        expected = calculate_frechet_distance(m1, s1, m2, s2)
        assert distances.frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, abs=1e-6)
    # fewer samples than dimensions (singular covariances): scipy's sqrtm is itself only ~1e-8 accurate here
    (m1, s1), (m2, s2) = gaussian_stats(rng, dim, dim // 2 + 2), gaussian_stats(rng, dim, dim // 2 + 3)
    expected = calculate_frechet_distance(m1, s1, m2, s2)
    assert distances.frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_known_answers():
    rng = np.random.default_rng(0)
    mu, sigma = gaussian_stats(rng, 16, 100)
    shift = rng.normal(size=16)
    assert distances.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-6)  # identical
    # equal covariances: the trace terms cancel, leaving the squared mean difference
    assert distances.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(shift @ shift, rel=1e-6)
    # 1-D: N(0, a^2) vs N(0, b^2) is (a - b)^2
    assert distances.frechet_distance([0.0], [[4.0]], [0.0], [[9.0]]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes"):
        distances.frechet_distance(mu, sigma, mu[:3], sigma[:3, :3])


def test_frechet_distance_is_finite_for_near_singular_covariances():
    rng = np.random.default_rng(1)
    # 5 samples in 64 dimensions: covariances of rank 4, their product far from invertible
    a, b = rng.normal(size=(5, 64)), rng.normal(size=(5, 64)) + 0.5
    value = distances.frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert np.isfinite(value) and value > 0
    # rank-1 covariances along orthogonal axes: the product is 0, so the cross term vanishes exactly
    u, v = np.zeros(8), np.zeros(8)
    u[0], v[1] = 1.0, 2.0
    value = distances.frechet_distance(np.zeros(8), np.outer(u, u), np.zeros(8), np.outer(v, v))
    assert value == pytest.approx(1.0 + 4.0, abs=1e-9)
    # a covariance that rounding left slightly indefinite still gives a finite, non-negative distance
    sigma = np.cov(a, rowvar=False) - 1e-12 * np.eye(64)
    assert 0 <= distances.frechet_distance(a.mean(0), sigma, a.mean(0), sigma) < 1e-6


def test_mmd2_unbiased_matches_the_definition():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g) + 1
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert distances.mmd2_unbiased(x, y) == pytest.approx(float(xx + yy - 2 * xy), rel=1e-5)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same, same_std = distances.kid(a, b, n_subsets=10, subset_size=200)
    shifted, shifted_std = distances.kid(a, b + 0.5, n_subsets=10, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3  # unbiased: 0 within noise, small samples or not
    assert shifted > 10 * max(shifted_std, same_std) and shifted > 0.01
    assert distances.kid(a, b, 5, 200, seed=3) == distances.kid(a, b, 5, 200, seed=3)  # seeded, repeatable


def test_inception_score_known_answers():
    assert distances.inception_score(np.zeros((100, 10)), splits=5) == pytest.approx((1.0, 0.0))
    confident = np.eye(10)[np.arange(1000) % 10] * 60  # every split holds 10 confident, distinct classes
    mean, std = distances.inception_score(confident, splits=10)
    assert mean == pytest.approx(10, rel=1e-6) and std == pytest.approx(0, abs=1e-6)
    collapsed = np.eye(10)[np.zeros(100, dtype=int)] * 60  # confident but all one class
    assert distances.inception_score(collapsed, splits=1)[0] == pytest.approx(1, rel=1e-6)


def test_frechet_distance_remembers_the_reference_root_by_content():
    rng = np.random.default_rng(0)
    mu_a, sigma_a, mu_ref, sigma_ref = *gaussian_stats(rng, 16, 40), *gaussian_stats(rng, 16, 60)
    distances._ROOTS.clear()
    first = distances.frechet_distance(mu_a, sigma_a, mu_ref, sigma_ref)
    assert len(distances._ROOTS) == 1
    again = distances.frechet_distance(mu_a, sigma_a, mu_ref, sigma_ref.copy())  # same content, another array
    assert again == first and len(distances._ROOTS) == 1
    swapped = distances.frechet_distance(mu_ref, sigma_ref, mu_a, sigma_a)  # the distance is symmetric
    assert swapped == pytest.approx(first, rel=1e-9)
    for k in range(6):  # bounded: never more than a few roots kept
        distances.frechet_distance(mu_a, sigma_a, mu_ref, sigma_ref + k * np.eye(16))
    assert len(distances._ROOTS) <= 4
