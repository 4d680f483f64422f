"""Feature statistics of image sources, accumulated batch by batch in bounded memory.

A feature extractor turns images into features (and class logits); `FeatureStats` keeps their mean,
covariance, KID rows and class-probability sums; `batches` draws images from a generator, a sample
function, a dataset or a tensor; `reference_statistics` computes a real set's statistics once and caches them.
Images are float (N, C, H, W) in [-1, 1] everywhere, as a tanh generator makes them.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from ..data import datasets  # datasets.DATA_DIR read at call time: tests and users may move it
from ..data.sets import ImageSet, PointSet, to_float, to_uint8
from ..nn.conventions import device_of, eval_mode


class FeatureStats:
    """Mean and covariance of features, plus what KID and IS need, accumulated in bounded memory.

    update(features (B, F), logits (B, K) or None, labels (B,) or None) any number of times; memory
    is O(F^2 + kid_max F + splits K), whatever the number of images. Sums are float64 and shifted by
    the first batch's mean (no cancellation in the covariance of features far from 0).
    kid_max: keep the first kid_max feature rows for KID (0: none). n_expected: the final count, so
    that IS can assign sample i to split i * is_splits // n_expected (unknown: one split).
    With logits it also counts confident predictions (max softmax > confident), their classes, and,
    given labels, correct ones: the judges' scores.
    """

    def __init__(self, kid_max: int = 10000, n_expected: int | None = None, is_splits: int = 10,
                 confident: float = 0.9):
        self.kid_max, self.n_expected, self.confident_threshold = kid_max, n_expected, confident
        self.is_splits = is_splits if n_expected else 1
        self.n, self.confident, self.correct, self.labelled = 0, 0, 0, False
        self._shift = self._s1 = self._s2 = None
        self._kid_rows: list[np.ndarray] = []
        self._kid_count = 0
        self._p_sum = self._plogp = self._split_n = self._class_counts = None

    def update(self, features: torch.Tensor, logits: torch.Tensor | None = None, labels=None) -> None:
        f = features.detach().flatten(1)
        acc = "cpu" if f.device.type == "mps" else f.device  # MPS has no float64
        f = f.to(acc, torch.float64)  # (B, F)
        if self._shift is None:
            self._shift = f.mean(0)
            self._s1 = torch.zeros_like(self._shift)  # (F,) sum of shifted features
            self._s2 = torch.zeros(f.shape[1], f.shape[1], dtype=torch.float64, device=acc)  # (F, F) their outer products
        d = f - self._shift
        self._s1 += d.sum(0)
        self._s2 += d.T @ d  # (F, F)
        if self._kid_count < self.kid_max:
            keep = f[: self.kid_max - self._kid_count].float().cpu().numpy()
            self._kid_rows.append(keep)
            self._kid_count += len(keep)
        if logits is not None:
            self._update_logits(logits.detach().to(torch.float64).cpu(), labels)
        self.n += len(f)

    def _update_logits(self, logits: torch.Tensor, labels) -> None:
        b, k = logits.shape
        if self._p_sum is None:
            self._p_sum = torch.zeros(self.is_splits, k, dtype=torch.float64)
            self._plogp, self._split_n = torch.zeros(self.is_splits, dtype=torch.float64), torch.zeros(self.is_splits)
            self._class_counts = torch.zeros(k, dtype=torch.long)
        p = torch.softmax(logits, 1)  # (B, K)
        index = torch.arange(self.n, self.n + b)
        split = (index * self.is_splits // self.n_expected if self.n_expected else index * 0).clamp(max=self.is_splits - 1)
        self._p_sum.index_add_(0, split, p)
        self._plogp.index_add_(0, split, torch.special.xlogy(p, p).sum(1))
        self._split_n.index_add_(0, split, torch.ones(b))
        top, predicted = p.max(1)
        sure = top > self.confident_threshold
        self.confident += int(sure.sum())
        self._class_counts += torch.bincount(predicted[sure], minlength=k)
        if labels is not None:
            self.labelled = True
            self.correct += int((predicted == torch.as_tensor(labels).cpu()).sum())

    @property
    def mean(self) -> np.ndarray:
        """(F,) float64."""
        return (self._shift + self._s1 / self.n).cpu().numpy()

    @property
    def cov(self) -> np.ndarray:
        """(F, F) float64, unbiased (divides by n - 1, like np.cov and pytorch-fid)."""
        if self.n < 2:
            raise ValueError("a covariance needs at least 2 samples")
        return ((self._s2 - torch.outer(self._s1, self._s1) / self.n) / (self.n - 1)).cpu().numpy()

    @property
    def features(self) -> np.ndarray:
        """The first min(n, kid_max) feature rows (M, F) float32, for KID."""
        return np.concatenate(self._kid_rows) if self._kid_rows else np.zeros((0, 0), np.float32)

    def inception_score(self) -> tuple[float, float]:
        """(mean, std) over splits of exp(E KL(p(y|x) || p(y))); needs logits."""
        if self._p_sum is None:
            raise ValueError("no logits were accumulated: this extractor gives no class probabilities")
        used = self._split_n > 0
        marginal = self._p_sum[used] / self._split_n[used, None]  # (S, K) p(y) per split
        kl = self._plogp[used] / self._split_n[used] - torch.special.xlogy(marginal, marginal).sum(1)  # (S,)
        scores = kl.exp().numpy()
        return float(scores.mean()), float(scores.std())

    def classes_covered(self, min_share: float = 0.01) -> int:
        """Classes that got at least `min_share` of all confident predictions."""
        total = int(self._class_counts.sum()) if self._class_counts is not None else 0
        return int((self._class_counts >= max(1, min_share * total)).sum()) if total else 0

    def save(self, path, about: str = "") -> None:
        """mu and sigma (pytorch-fid's .npz keys, so `python -m pytorch_fid DIR this.npz` works), n, KID rows."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, mu=self.mean, sigma=self.cov, n=self.n, features=self.features, about=about)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "FeatureStats":
        """What `save` wrote."""
        with np.load(path) as f:
            stats = cls.from_moments(f["mu"], f["sigma"], int(f["n"]))
            stats._kid_rows, stats._kid_count = [f["features"]], len(f["features"])
        return stats

    @classmethod
    def from_moments(cls, mu: np.ndarray, sigma: np.ndarray, n: int) -> "FeatureStats":
        """Statistics known only by mean (F,), covariance (F, F) and count (no KID rows, no logits)."""
        stats = cls(kid_max=0)
        stats.n, stats._shift = n, torch.as_tensor(mu, dtype=torch.float64)
        stats._s1 = torch.zeros_like(stats._shift)
        stats._s2 = torch.as_tensor(sigma, dtype=torch.float64) * (n - 1)
        return stats


def batches(source, n: int | None, batch_size: int = 100, device="cpu", seed: int = 0, quantize: bool = False):
    """Yield (x, labels or None) batches of at most `batch_size`, n items in all, never all in memory.

    source: a generator (an nn.Module with `z_dim`: sampled in eval mode, without gradients, from its
    own seeded noise, so the global RNG is untouched; conditional ones get balanced labels
    0, 1, ..., K-1, 0, ...), a callable `sample_fn(b) -> images or (images, labels)`, an ImageSet or
    PointSet, or a tensor (N, ...) (uint8 images are mapped to [-1, 1]). n=None: the whole dataset.
    quantize: round float images to uint8 levels first, as if they were saved to PNG (pytorch-fid's
    protocol); real uint8 images are unchanged by it.
    """
    if isinstance(source, torch.nn.Module) and hasattr(source, "z_dim"):
        yield from _generator_batches(source, n, batch_size, seed, quantize)
        return
    if isinstance(source, (ImageSet, PointSet, torch.Tensor, np.ndarray)):
        if isinstance(source, ImageSet):
            x, labels = source.images, source.labels  # (N, C, H, W) uint8, (N,)
        elif isinstance(source, PointSet):
            x, labels = source.points, source.labels  # (N, 2), (N,)
        else:
            x, labels = torch.as_tensor(source), None
        n = len(x) if n is None else n
        if n > len(x):
            raise ValueError(f"asked for {n} items but the source holds {len(x)}")
        for i in range(0, n, batch_size):
            chunk = x[i:min(i + batch_size, n)].to(device)
            chunk = to_float(chunk) if chunk.dtype == torch.uint8 else chunk.float()
            yield chunk, (labels[i:i + len(chunk)] if labels is not None else None)
        return
    if not callable(source):
        raise TypeError(f"cannot draw images from {type(source).__name__}: pass a generator, a sample function, "
                        "an ImageSet or a tensor")
    if n is None:
        raise ValueError("a sample function needs n, the number of samples to draw")
    for i in range(0, n, batch_size):
        out = source(min(batch_size, n - i))
        x, labels = out if isinstance(out, (tuple, list)) else (out, None)
        x = to_float(x) if x.dtype == torch.uint8 else x.float()
        yield (to_float(to_uint8(x)) if quantize and x.dim() == 4 else x), labels


@torch.no_grad()
def _generator_batches(G, n, batch_size, seed, quantize):
    if n is None:
        raise ValueError("a generator needs n, the number of samples to draw")
    device = device_of(G)
    n_classes = getattr(G, "n_classes", 0)
    with eval_mode(G):
        for i in range(0, n, batch_size):
            z = _noise_rows(seed, i, min(i + batch_size, n), G.z_dim).to(device)  # (b, z_dim)
            labels = (torch.arange(i, i + len(z)) % n_classes).to(device) if n_classes else None
            x = G(z, labels).float()  # (b, C, H, W) in [-1, 1]
            yield (to_float(to_uint8(x)) if quantize and x.dim() == 4 else x), labels

_NOISE_BLOCK = 1024


def _noise_rows(seed: int, start: int, stop: int, z_dim: int) -> torch.Tensor:
    """Rows start..stop-1 of an endless N(0, I) matrix made of seeded blocks of 1024 rows: the same
    noise whatever the batch size, in memory independent of n, from RNGs of its own (training's is untouched)."""
    first, last = start // _NOISE_BLOCK, (stop - 1) // _NOISE_BLOCK
    blocks = [_noise_block(seed, k, z_dim) for k in range(first, last + 1)]
    return torch.cat(blocks)[start - first * _NOISE_BLOCK:stop - first * _NOISE_BLOCK]


@functools.lru_cache(maxsize=2)  # consecutive batches mostly share a block
def _noise_block(seed: int, k: int, z_dim: int) -> torch.Tensor:
    return torch.randn(_NOISE_BLOCK, z_dim, generator=torch.Generator().manual_seed((seed * 1_000_003 + k) % 2**63))


def compute_statistics(extractor, source, n: int | None, batch_size: int = 100, device="cpu", seed: int = 0,
                       kid_max: int = 10000, is_splits: int = 10, quantize: bool = True) -> FeatureStats:
    """Run `n` images from `source` (see `batches`) through `extractor` in batches; returns FeatureStats.

    extractor: callable images (B, C, H, W) in [-1, 1] -> (features (B, F), logits (B, K) or None).
    """
    size = n if n is not None else (len(source) if hasattr(source, "__len__") else None)
    stats = FeatureStats(kid_max=kid_max, n_expected=size, is_splits=is_splits)
    for x, labels in batches(source, n, batch_size, device, seed, quantize):
        features, logits = extractor(x)
        stats.update(features, logits, labels)
    return stats


def reference_statistics(extractor, dataset: str, split: str = "train", n: int | None = None,
                         batch_size: int = 100, device="cpu", kid_max: int = 10000, cache: bool = True) -> FeatureStats:
    """Statistics of real images, computed once and cached as DATA_DIR/stats/<tag>_<dataset>_<split>[_n].npz.

    Extractors with no `tag` (e.g. random weights) are never cached. An extractor with
    `reference(dataset, split)` (the judges, which ship their training set's statistics) answers first.
    """
    shipped = getattr(extractor, "reference", None)
    if shipped is not None and n is None:
        stats = shipped(dataset, split)
        if stats is not None:
            return stats
    tag = getattr(extractor, "tag", None)
    path = datasets.DATA_DIR / "stats" / f"{tag}_{dataset}_{split}{f'_{n}' if n else ''}.npz"
    if cache and tag and path.is_file():
        stats = FeatureStats.load(path)
        if len(stats.features) >= min(kid_max, stats.n):  # else an older cache without KID rows: redo it
            return stats
    real = datasets.load_dataset(dataset, split, n=n)
    stats = compute_statistics(extractor, real, None, batch_size, device, kid_max=kid_max, is_splits=1)
    if cache and tag:
        stats.save(path, about=getattr(extractor, "about", ""))
    return stats
