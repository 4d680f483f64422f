"""The numbers a trained generator gets, each with its protocol.

- `judge_scores`: the offline judge's Fréchet distance, accuracy, confidence, classes covered and digit score;
- `fid_scores`: FID, KID and IS with pytorch-fid's Inception in one pass (`WeightsUnavailable` offline);
- `mixture_scores`: modes covered and high-quality share of 2-D samples (taught in 00_gan_game);
- `class_report`: per-class accuracy and diversity of a conditional generator (taught in 06_acgan);
- `heldout_scores`: L1, sharpness and judge accuracy of an image-to-image generator on held-out pairs
  (taught in 08_pix2pix).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data.datasets import load_dataset
from ..data.pairs import PairSet
from ..data.sets import to_float
from ..data.synthetic import mixture_centers
from ..nn.conventions import device_of, eval_mode, translate
from .distances import frechet_distance, kid
from .extractors import JUDGE_FOR, MIXTURES, InceptionExtractor, JudgeExtractor
from .statistics import batches, compute_statistics, reference_statistics

CONFIDENT = 0.9  # a prediction counts as confident above this softmax probability


def judge_scores(source, dataset: str, n: int = 2000, reference_split: str = "train", batch_size: int = 250,
                 device="cpu", seed: int = 0) -> dict:
    """Offline scores of `n` samples from `source` against the real `reference_split` of `dataset`.

    source: a generator, a sample function, an ImageSet or a tensor (see `statistics.batches`).
    For "ring8"/"grid25" the source gives points (N, 2) and `mixture_scores` answers instead.
    Returns {"fd" (lower is better; real held-out images give the floor), "confident", "classes_covered",
    "n_classes", "score", "accuracy" (None unless the samples come with labels), "n", "protocol"}.
    Taught in 09_evaluation.
    """
    if dataset in MIXTURES:
        points = torch.cat([x.cpu() for x, _ in batches(source, n, batch_size, device, seed)])
        return mixture_scores(points, *mixture_centers(dataset))
    extractor = JudgeExtractor(dataset, device)
    ref = reference_statistics(extractor, dataset, reference_split, batch_size=batch_size, device=device,
                                kid_max=0)
    stats = compute_statistics(extractor, source, n, batch_size, device, seed, kid_max=0, is_splits=1)
    k = extractor.meta["n_classes"]
    return {"fd": frechet_distance(stats.mean, stats.cov, ref.mean, ref.cov),
            "confident": stats.confident / stats.n, "classes_covered": stats.classes_covered(min_share=0.1 / k), "n_classes": k,
            "score": stats.inception_score()[0], "accuracy": stats.correct / stats.n if stats.labelled else None,
            "n": stats.n, "protocol": f"{stats.n:,} samples vs {dataset} {reference_split} ({ref.n:,} images); "
            f"{extractor.about}; confident: max softmax > {CONFIDENT}; a class is covered with >= 10% of its fair "
            f"share of the confident samples; score: the IS recipe on the judge's {k}-way softmax, 1 split"}


def mixture_scores(points, centers, std: float, n_sigma: float = 3.0, min_share: float = 0.1) -> dict:
    """Mode coverage of 2-D samples from a Gaussian mixture (as in VEEGAN and Unrolled GAN).

    points: (N, 2) samples; centers: (K, 2) mode centres; std: the modes' standard deviation.
    A sample is high quality within `n_sigma` std of its nearest mode (98.9% of real samples at 3 std:
    1 - exp(-9/2)); a mode is covered when at least `min_share` of its fair share N / K of the samples
    are high quality and nearest to it, and at least one is: `min_share=0` is PacGAN's rule (Lin et al. 2018),
    one high-quality sample captures a mode.
    Returns {"modes_covered", "n_modes", "high_quality" (share in [0, 1]), "n", "protocol"}.
    Taught in 00_gan_game.
    """
    points = torch.as_tensor(np.asarray(points), dtype=torch.float64).reshape(-1, 2)  # (N, 2)
    centers = torch.as_tensor(np.asarray(centers), dtype=torch.float64)  # (K, 2)
    dist, nearest = torch.cdist(points, centers).min(dim=1)  # (N,), (N,)
    good = dist <= n_sigma * std
    counts = torch.bincount(nearest[good], minlength=len(centers))  # (K,)
    if not min_share >= 0:
        raise ValueError(f"min_share={min_share}: a share of the fair share must be >= 0 (0: one sample suffices)")
    covered = int((counts >= max(1.0, min_share * len(points) / len(centers))).sum())
    rule = (f">= {min_share:.0%} of its fair share of them" if min_share else "one of them")
    return {"modes_covered": covered, "n_modes": len(centers), "high_quality": float(good.double().mean()),
            "n": len(points), "protocol": f"{len(points):,} samples; high quality within {n_sigma:g} std ({std:g}) "
            f"of a mode; a mode is covered with {rule}"}


def fid_scores(source, dataset: str = "cifar10", n: int = 10000, split: str = "train", with_fid: bool = True,
               with_kid: bool = True, with_is: bool = True, batch_size: int = 100, device="auto", seed: int = 0,
               extractor=None, kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict:
    """FID, KID and IS of `n` samples from `source` against the real `split` of `dataset`, in one pass.

    source: see `batches` (a generator, a sample function, an ImageSet or a tensor). with_*: the
    scores to compute (IS alone needs no real data). extractor: default `extractors.InceptionExtractor`
    (raises `WeightsUnavailable` offline). Real statistics are cached under DATA_DIR/stats.
    Returns {"fid", "kid", "kid_std", "is", "is_std", "n", "protocol"}, None for scores not asked for.
    Published CIFAR-10 numbers use n = 50,000 against the train split: compare only like with like.
    Taught in 09_evaluation.
    """
    which = {name for name, on in (("fid", with_fid), ("kid", with_kid), ("is", with_is)) if on}
    if not which:
        raise ValueError("nothing to compute: set with_fid, with_kid or with_is")
    if extractor is None:
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


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Average Euclidean distance over all pairs of rows of (N, F): a diversity score (0 = all equal)."""
    if len(features) < 2:
        raise ValueError("a pairwise distance needs at least 2 samples")
    return torch.pdist(features.double()).mean().item()


@torch.no_grad()
def class_report(G, dataset: str = "mnist-5k", n_per_class: int = 200, seed: int = 0, device=None,
                 real_split: str = "train") -> dict:
    """Per-class scores of a conditional generator with the offline judge of `dataset`.

    For every class k: n_per_class samples G(z, k) (eval mode, seeded noise of its own), and the real
    images of class k (at most n_per_class of them). Returns a dict of lists indexed by class plus means:
    - "accuracy": share of samples the judge puts in the requested class;
    - "confidence": the judge's mean softmax probability of the requested class;
    - "diversity", "real_diversity": mean pairwise distance of judge features inside the class;
    - "diversity_ratio": diversity / real_diversity (1: as varied as real digits; below 1: less);
    "mean_*" average each over classes. The global RNG is untouched.
    Taught in 06_acgan.
    """
    device = device or device_of(G)
    extractor = JudgeExtractor(dataset, device)
    real = load_dataset(dataset, real_split)
    gen = torch.Generator().manual_seed(seed)
    report = {k: [] for k in ("accuracy", "confidence", "diversity", "real_diversity", "diversity_ratio")}
    with eval_mode(G):
        for k in range(G.n_classes):
            z = torch.randn(n_per_class, G.z_dim, generator=gen).to(device)  # (n, z_dim)
            labels = torch.full((n_per_class,), k, dtype=torch.long, device=device)
            features, logits = extractor(G(z, labels).float())  # (n, F), (n, K)
            real_features, _ = extractor(to_float(real.images[real.labels == k][:n_per_class]))
            probs = logits.softmax(1)[:, k]  # (n,) the judge's belief in the requested class
            report["accuracy"].append((logits.argmax(1) == k).float().mean().item())
            report["confidence"].append(probs.mean().item())
            report["diversity"].append(mean_pairwise_distance(features))
            report["real_diversity"].append(mean_pairwise_distance(real_features))
            report["diversity_ratio"].append(report["diversity"][-1] / report["real_diversity"][-1])
    for key in list(report):
        report[f"mean_{key}"] = sum(report[key]) / len(report[key])
    return report


def high_frequency_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean squared response of a 3x3 Laplacian per image: (N, C, H, W) -> (N,). Blur lowers it.

    Taught in 08_pix2pix.
    """
    lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).to(images)
    return F.conv2d(images, lap.expand(images.shape[1], 1, 3, 3), groups=images.shape[1]).pow(2).mean(dim=(1, 2, 3))


def _saturation(images: torch.Tensor) -> torch.Tensor:
    return (images.amax(1) - images.amin(1)).mean()


def heldout_scores(G, pairs: PairSet, batch_size: int = 250, judge: bool = True) -> dict:
    """Scores on held-out pairs: "l1" (mean |G(x) - y| on the [-1, 1] scale), "hf_ratio" (high-frequency
    energy of outputs / of targets: 1 is as sharp as the data, below 1 blurrier), for colour images
    "saturation_ratio" (colourfulness of outputs / of targets: below 1 greyer) and, where the course
    has an offline judge for the dataset, "judge_accuracy" (outputs classified as the target's class).
    Taught in 08_pix2pix.
    """
    outputs, targets = translate(G, pairs.conditions, batch_size), to_float(pairs.images)  # (N, C, H, W)
    scores = {"l1": (outputs - targets).abs().mean().item(),
              "hf_ratio": (high_frequency_energy(outputs).mean() / high_frequency_energy(targets).mean()).item(),
              "n": len(pairs)}
    if targets.shape[1] == 3:  # colour: mean (max - min) over RGB per pixel, outputs / targets; grey is 0
        scores["saturation_ratio"] = (_saturation(outputs) / _saturation(targets)).item()
    if judge and pairs.name in JUDGE_FOR:
        try:
            extractor = JudgeExtractor(pairs.name)
        except FileNotFoundError:
            return scores
        logits = torch.cat([extractor(chunk)[1].cpu() for chunk in outputs.split(batch_size)])  # (N, 10)
        scores["judge_accuracy"] = (logits.argmax(1) == pairs.labels).float().mean().item()
    return scores
