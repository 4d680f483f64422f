"""Evaluation: the Fréchet distance, FID / KID / IS with pytorch-fid's Inception, and a training callback.

All image metrics here share one recipe: a feature extractor turns images into features (and class
logits), `FeatureStats` accumulates them batch by batch in bounded memory, and the scores compare
those statistics with a real reference set whose statistics are computed once and cached.

- `frechet_distance`: the pure maths, same signature and result as pytorch-fid's
  `calculate_frechet_distance`; `kid`, `mmd2_unbiased` and `inception_score` are pure functions too.
- `FeatureStats` (in `ganhelpers.stats`), `batches`, `compute_statistics`, `reference_statistics`: streaming
  extraction.
- `fid_scores(G, "cifar10")`: FID, KID and IS in one pass with pytorch-fid's Inception, each number
  with its protocol; offline it raises `WeightsUnavailable`, whose message names the offline judges.
- `MetricCallback(judge_metric("mnist-5k"), every=500)`: measures during training, records
  "<name>" and "<name>_step" in the history (and so on the dashboard), keeps `best.pt`.
- The networks (`InceptionExtractor`, the offline judges, `judge_scores`, `mixture_scores`, and the
  metrics `judge_metric`, `fid_metric`, `mixture_metric`) live in `ganhelpers.judges`; they can be
  reached from here too (`metrics.judge_scores`).

Images are float (N, C, H, W) in [-1, 1] everywhere, as a tanh generator makes them.
"""
from __future__ import annotations

import functools
import hashlib
import math

import numpy as np
import torch

from . import data
from .stats import FeatureStats
from .train import Callback, write_history_csv

# the networks live in ganhelpers.judges (which imports this module); reachable from here too
_FROM_JUDGES = ("InceptionExtractor", "JudgeExtractor", "WeightsUnavailable", "judge_scores", "mixture_scores",
                "train_judge", "inception_weights_path", "judge_metric", "fid_metric", "mixture_metric")


def __getattr__(name):
    if name in _FROM_JUDGES:
        from . import judges
        return getattr(judges, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- pure maths

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
    predictions spread evenly over K classes."""
    stats = FeatureStats(kid_max=0, n_expected=len(logits), is_splits=splits)
    logits = torch.as_tensor(np.asarray(logits))
    stats.update(torch.zeros(len(logits), 1), logits)
    return stats.inception_score()


# ----------------------------------------------------------------------------- streaming statistics

# ----------------------------------------------------------------------------- sources of images

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
    if isinstance(source, (data.ImageSet, data.PointSet, torch.Tensor, np.ndarray)):
        if isinstance(source, data.ImageSet):
            x, labels = source.images, source.labels  # (N, C, H, W) uint8, (N,)
        elif isinstance(source, data.PointSet):
            x, labels = source.points, source.labels  # (N, 2), (N,)
        else:
            x, labels = torch.as_tensor(source), None
        n = len(x) if n is None else n
        if n > len(x):
            raise ValueError(f"asked for {n} items but the source holds {len(x)}")
        for i in range(0, n, batch_size):
            chunk = x[i:min(i + batch_size, n)].to(device)
            chunk = data.to_float(chunk) if chunk.dtype == torch.uint8 else chunk.float()
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
        x = data.to_float(x) if x.dtype == torch.uint8 else x.float()
        yield (data.to_float(data.to_uint8(x)) if quantize and x.dim() == 4 else x), labels


@torch.no_grad()
def _generator_batches(G, n, batch_size, seed, quantize):
    if n is None:
        raise ValueError("a generator needs n, the number of samples to draw")
    device = next(G.parameters()).device
    n_classes = getattr(G, "n_classes", 0)
    was_training = G.training
    G.eval()
    try:
        for i in range(0, n, batch_size):
            z = _noise_rows(seed, i, min(i + batch_size, n), G.z_dim).to(device)  # (b, z_dim)
            labels = (torch.arange(i, i + len(z)) % n_classes).to(device) if n_classes else None
            x = G(z, labels).float()  # (b, C, H, W) in [-1, 1]
            yield (data.to_float(data.to_uint8(x)) if quantize and x.dim() == 4 else x), labels
    finally:
        G.train(was_training)


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
    path = data.DATA_DIR / "stats" / f"{tag}_{dataset}_{split}{f'_{n}' if n else ''}.npz"
    if cache and tag and path.is_file():
        stats = FeatureStats.load(path)
        if len(stats.features) >= min(kid_max, stats.n):  # else an older cache without KID rows: redo it
            return stats
    real = data.load_dataset(dataset, split, n=n)
    stats = compute_statistics(extractor, real, None, batch_size, device, kid_max=kid_max, is_splits=1)
    if cache and tag:
        stats.save(path, about=getattr(extractor, "about", ""))
    return stats


def fid_scores(source, dataset: str = "cifar10", n: int = 10000, split: str = "train", with_fid: bool = True,
               with_kid: bool = True, with_is: bool = True, batch_size: int = 100, device="auto", seed: int = 0,
               extractor=None, kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict:
    """FID, KID and IS of `n` samples from `source` against the real `split` of `dataset`, in one pass.

    source: see `batches` (a generator, a sample function, an ImageSet or a tensor). with_*: the
    scores to compute (IS alone needs no real data). extractor: default `judges.InceptionExtractor`
    (raises `WeightsUnavailable` offline). Real statistics are cached under DATA_DIR/stats.
    Returns {"fid", "kid", "kid_std", "is", "is_std", "n", "protocol"}, None for scores not asked for.
    Published CIFAR-10 numbers use n = 50,000 against the train split: compare only like with like.
    """
    which = {name for name, on in (("fid", with_fid), ("kid", with_kid), ("is", with_is)) if on}
    if not which:
        raise ValueError("nothing to compute: set with_fid, with_kid or with_is")
    if extractor is None:
        from .judges import InceptionExtractor
        extractor = InceptionExtractor(device)
    stats = compute_statistics(extractor, source, n, batch_size, extractor.device, seed,
                               kid_max=max(kid_subset_size, 10000) if "kid" in which else 0)
    out = dict.fromkeys(("fid", "kid", "kid_std", "is", "is_std"))
    protocol = [f"{stats.n:,} generated" + (f" vs {dataset} {split}" if {"fid", "kid"} & set(which) else ""),
                extractor.about, "generated images rounded to uint8 first, as if saved to PNG"]
    if {"fid", "kid"} & set(which):
        ref = reference_statistics(extractor, dataset, split, batch_size=batch_size, device=extractor.device)
        protocol[0] += f" ({ref.n:,} images)"
        if "fid" in which:
            out["fid"] = frechet_distance(stats.mean, stats.cov, ref.mean, ref.cov)
        if "kid" in which:
            out["kid"], out["kid_std"] = kid(stats.features, ref.features, kid_subsets, kid_subset_size, seed)
            m = min(kid_subset_size, len(stats.features), len(ref.features))
            protocol.append(f"KID: {kid_subsets} subsets of {m}, cubic polynomial kernel, +- std over subsets")
    if "is" in which:
        out["is"], out["is_std"] = stats.inception_score()
        protocol.append(f"IS: {stats.is_splits} splits, softmax of pool3 @ fc weights (1008 classes, no bias)")
    return {**out, "n": stats.n, "protocol": "; ".join(protocol)}


# ----------------------------------------------------------------------------- during training

class Metric:
    """A named score of a generator for `MetricCallback`: metric(G) -> {name: value, ...extras}."""

    def __init__(self, name: str, fn, higher_is_better: bool = False):
        self.name, self.fn, self.higher_is_better = name, fn, higher_is_better

    def __call__(self, G) -> dict:
        out = self.fn(G)
        return out if isinstance(out, dict) else {self.name: float(out)}


class MetricCallback(Callback):
    """Measure `metric` every `every` steps and at the end; keep out_dir/best.pt when it improves.

    Scores the trainer's `G_ema` when there is one, else `G` (in eval mode, with its own seeded
    noise: a run with this callback ends with the same weights as one without). Records the metric in
    trainer.history[name] and [name + "_step"] (so curves and the dashboard show it; extras returned
    by the metric go in `self.results`). best.pt is a full checkpoint (`trainer.save`); pick `every` as a
    multiple of log_every, or saving it flushes a short history row.
    metric: a `Metric` (`judge_metric("mnist-5k")`, `fid_metric("cifar10")`, `mixture_metric("ring8")`) or a
    callable G -> float (give `name`).
    """

    def __init__(self, metric, every: int = 1000, name: str | None = None, higher_is_better: bool | None = None,
                 save_best: bool = True, verbose: bool = True):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every={every!r}: measure every N >= 1 steps")
        if not isinstance(metric, Metric):
            metric = Metric(name or getattr(metric, "__name__", "metric"), metric)
        self.metric = metric
        self.name = name or self.metric.name
        self.higher_is_better = self.metric.higher_is_better if higher_is_better is None else higher_is_better
        self.every, self.save_best, self.verbose = every, save_best, verbose
        self.best, self.best_step, self.results = None, None, []

    def on_train_start(self, trainer):
        past = trainer.history.get(self.name, [])  # a resumed run remembers its best score
        if past:
            pick = max if self.higher_is_better else min
            self.best = pick(past)
            self.best_step = trainer.history[f"{self.name}_step"][past.index(self.best)]

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0 or trainer.step == trainer.config.steps:
            self.measure(trainer)

    def on_train_end(self, trainer):
        measured = trainer.history.get(f"{self.name}_step", [])
        if not measured or measured[-1] != trainer.step:  # stopped early (time budget, Stop button): measure it
            self.measure(trainer)
            if trainer.out_dir:
                write_history_csv(trainer.history, trainer.out_dir / "history.csv")

    def measure(self, trainer) -> float:
        G = getattr(trainer, "G_ema", None)
        scores = self.metric(trainer.G if G is None else G)
        value = float(scores[self.name])
        trainer.history.setdefault(self.name, []).append(value)
        trainer.history.setdefault(f"{self.name}_step", []).append(trainer.step)
        self.results.append({"step": trainer.step, **scores})
        improved = math.isfinite(value) and (self.best is None or (
            value > self.best if self.higher_is_better else value < self.best))
        if improved:
            self.best, self.best_step = value, trainer.step
            if self.save_best and trainer.out_dir:
                trainer.save(trainer.out_dir / "best.pt")
        if self.verbose:
            note = "best so far" if improved else (f"best {self.best:.4g} at step {self.best_step}"
                                                   if self.best is not None else "no finite value yet")
            print(f"step {trainer.step}: {self.name} {value:.4g}  ({note})", flush=True)
        return value
