"""The maths of the metrics as pure functions: the Fréchet distance, unbiased MMD^2, KID and the Inception Score.

No networks and no I/O: the inputs are moments, features or logits (taught in 09_evaluation).
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from .statistics import FeatureStats



def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):

        d^2 = |mu1 - mu2|^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^(1/2)).

    mu: (F,) means; sigma: (F, F) covariances. Same signature and result as pytorch-fid's
    `calculate_frechet_distance`, computed another way: sigma1 sigma2 is similar to the symmetric
    matrix M = sigma2^(1/2) sigma1 sigma2^(1/2), so Tr((sigma1 sigma2)^(1/2)) is the sum of the square
    roots of M's eigenvalues. Two symmetric eigen-solves instead of scipy's `sqrtm`: real by construction
    (no imaginary parts to discard), safe for near-singular covariances (fewer samples than dimensions:
    rounding makes zero eigenvalues slightly negative, they are clipped to 0), and many times faster
    at F = 2048. The square root of sigma2, the reference in every caller, is remembered for the last
    few distinct matrices (by content), so a series of FIDs against one reference costs one eigen-solve
    each instead of two. eps is added to both diagonals only if an eigen-solve fails to converge.
    Taught in 09_evaluation.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shapes do not match: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    try:
        tr_covmean = _trace_sqrt_product(sigma1, sigma2)
    except np.linalg.LinAlgError:
        offset = np.eye(len(sigma1)) * eps
        tr_covmean = _trace_sqrt_product(sigma1 + offset, sigma2 + offset)
    diff = mu1 - mu2
    value = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean
    return float(max(value, 0.0))  # rounding can push a zero distance a hair below 0



def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((sigma1 sigma2)^(1/2)) for symmetric positive semi-definite (F, F) matrices."""
    root2 = _symmetric_sqrt(sigma2)  # sigma2^(1/2): Tr((s1 s2)^(1/2)) = Tr((s2 s1)^(1/2)), so either may be rooted
    m = root2 @ sigma1 @ root2  # (F, F) symmetric, same eigenvalues as sigma1 sigma2
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())

_ROOTS: dict[bytes, np.ndarray] = {}  # content digest -> square root, for the last few reference covariances



def _symmetric_sqrt(sigma: np.ndarray) -> np.ndarray:
    """sigma^(1/2) of a symmetric PSD (F, F) matrix, by eigen-decomposition; remembered by content."""
    key = hashlib.blake2b(np.ascontiguousarray(sigma).tobytes(), digest_size=16).digest() + bytes(str(sigma.shape), "ascii")
    if key not in _ROOTS:
        w, v = np.linalg.eigh((sigma + sigma.T) / 2)
        if len(_ROOTS) >= 4:
            _ROOTS.pop(next(iter(_ROOTS)))  # forget the oldest
        _ROOTS[key] = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # (F, F)
    return _ROOTS[key]



def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 of two equal-size samples (m, F) with the cubic kernel k(a, b) = (a.b / F + 1)^3.

    The diagonal terms k(x_i, x_i) are left out, so its expectation is exactly 0 when x and y come from
    one distribution (it can then come out slightly negative). Matmuls in float32, sums in float64.
    Taught in 09_evaluation.
    """
    m, dim = x.shape
    kxx, kyy = (x @ x.T / dim + 1).double() ** 3, (y @ y.T / dim + 1).double() ** 3  # (m, m)
    kxy = (x @ y.T / dim + 1).double() ** 3
    off_diagonal = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(off_diagonal - 2 * kxy.mean())



def kid(features1, features2, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): (mean, std) of `mmd2_unbiased` over subsets.

    features: (N1, F) and (N2, F). Each of `n_subsets` draws min(subset_size, N1, N2) rows of each
    side without replacement (numpy generator seeded by `seed`: the global RNG is untouched). The
    std over subsets is the standard error of a KID measured on one subset (the subsets overlap, so
    it is what papers report as +-). KID is unbiased: unlike FID it does not grow as samples shrink.
    Taught in 09_evaluation.
    """
    x = torch.as_tensor(np.asarray(features1), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(features2), dtype=torch.float32)
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples on each side, got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)])
              for _ in range(n_subsets)]
    return float(np.mean(values)), float(np.std(values))



def inception_score(logits, splits: int = 10) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) || p(y))) of class logits (N, K): (mean, std) over `splits`
    consecutive parts, as in Salimans et al.'s code. 1 for identical predictions; K for confident
    predictions spread evenly over K classes.
    Taught in 09_evaluation.
    """
    stats = FeatureStats(kid_max=0, n_expected=len(logits), is_splits=splits)
    logits = torch.as_tensor(np.asarray(logits))
    stats.update(torch.zeros(len(logits), 1), logits)
    return stats.inception_score()
