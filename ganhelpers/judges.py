"""The networks that judge images: pytorch-fid's Inception and the course's offline judges.

FID needs the Inception network, a 92 MB download. For the embedded datasets the course ships its
own judges too: a small CNN per dataset, trained by this module on the train split and shipped with
the statistics of that split in `ganhelpers/assets/judges/<dataset>.pt` (a few hundred KB). A judge gives

- `fd`: the Fréchet distance between its penultimate features (`FEATURE_DIM`-d) of generated and
  real images: FID's recipe with a network that knows digits (or shapes) instead of ImageNet;
- `accuracy`: for conditional generators, how often it agrees with the class that was asked for;
- `confident`: the share of samples it classifies with probability > `CONFIDENT`;
- `classes_covered`: classes that receive a fair part of the confident predictions (mode dropping
  shows up here first);
- `score`: the Inception Score recipe with the judge's 10-way softmax (a "digit score": 1 to 10).

For the 2-D mixtures no network is needed: `mixture_scores` counts modes covered and the share of
high-quality samples (within 3 std of a mode). Both kinds of network are feature extractors for
`ganhelpers.metrics`: images (B, C, H, W) in [-1, 1] -> (features (B, F), logits (B, K)).

    python -m ganhelpers.judges mnist-5k      # retrain one judge (a few minutes on 2 CPU cores)
    python -m ganhelpers.judges --check       # held-out accuracy of the shipped judges
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import math
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data, metrics
from .data import load_dataset, mixture_centers, to_float
from .utils import get_device, load_checkpoint, save_checkpoint

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")  # = pytorch_fid.inception.FID_WEIGHTS_URL
OFFLINE_HINT = ("could not download the FID Inception weights (no network?): on Colab they download by "
                "themselves; offline use --metric judge / metrics.judge_scores, the offline judges for "
                "mnist-5k and shapes")


class WeightsUnavailable(RuntimeError):
    """The Inception weights are not in torch's hub cache and cannot be downloaded here."""


JUDGES_DIR = Path(__file__).resolve().parent / "assets" / "judges"  # package data: installed with ganhelpers
# dataset -> the judge that scores it: full MNIST is the same kind of digit, so the mnist-5k judge serves
JUDGE_FOR = {"mnist-5k": "mnist-5k", "mnist": "mnist-5k", "shapes": "shapes"}
MIXTURES = ("ring8", "grid25")
WIDTHS, CONVS = (32, 64, 128), (1, 1, 1)  # channels and conv layers of the judges' three stages
FEATURE_DIM = WIDTHS[-1]
CONFIDENT = 0.9  # a prediction counts as confident above this softmax probability
# training recipes; augmentation: max shift (pixels), rotation (degrees) and relative rescale
RECIPES = {"mnist-5k": dict(epochs=40, batch_size=64, shift=2.5, degrees=12, scale=0.12, lr=3e-3),
           "shapes": dict(epochs=6, batch_size=128, shift=2.0, degrees=6, scale=0.08, lr=3e-3)}


# ----------------------------------------------------------------------------- the Inception network

def inception_weights_path() -> Path:
    """Where torch.hub caches the FID Inception weights once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_URL.rsplit("/", 1)[1]


def _pytorch_fid():
    try:
        from pytorch_fid import inception
    except ImportError:
        raise WeightsUnavailable("FID needs the pytorch-fid package, a dependency of ganhelpers: pip install pytorch-fid; "
                                 "without it use --metric judge / metrics.judge_scores") from None
    return inception


def _fid_inception(weights: str):
    """torchvision's Inception-v3 patched as pytorch-fid's FID Inception, with weights or random ones."""
    pf = _pytorch_fid()
    if weights == "fid":
        if not inception_weights_path().is_file():
            proxied = any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"))
            if not proxied and not data._reachable(FID_WEIGHTS_URL):  # fail in 3 s, not after a long hang
                raise WeightsUnavailable(OFFLINE_HINT)
        try:
            return pf.fid_inception_v3()
        except Exception as e:
            raise WeightsUnavailable(f"{OFFLINE_HINT} [{type(e).__name__}: {e}]") from e
    # the same architecture with random weights: for timing and offline tests only
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        blocks = {"Mixed_5b": (pf.FIDInceptionA, 192, 32), "Mixed_5c": (pf.FIDInceptionA, 256, 64),
                  "Mixed_5d": (pf.FIDInceptionA, 288, 64), "Mixed_6b": (pf.FIDInceptionC, 768, 128),
                  "Mixed_6c": (pf.FIDInceptionC, 768, 160), "Mixed_6d": (pf.FIDInceptionC, 768, 160),
                  "Mixed_6e": (pf.FIDInceptionC, 768, 192), "Mixed_7b": (pf.FIDInceptionE_1, 1280),
                  "Mixed_7c": (pf.FIDInceptionE_2, 2048)}  # as in pytorch-fid's fid_inception_v3
        for name, (block, *args) in blocks.items():
            setattr(net, name, block(*args))
        for module in net.modules():  # He init keeps activations alive through 40+ layers: the features
            if isinstance(module, (nn.Conv2d, nn.Linear)):  # then depend on the input, as tests need
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net


class InceptionExtractor:
    """pytorch-fid's `InceptionV3` (pool3, 2048-d) as an extractor, plus the 1008-way logits for IS.

    __call__(images (B, C, H, W) in [-1, 1]) -> (features (B, 2048), logits (B, 1008)). Grey images are
    repeated to 3 channels; images go in as (x + 1) / 2 in [0, 1], exactly what pytorch-fid feeds from
    a PNG, and `InceptionV3` resizes them bilinearly to 299 and rescales them to [-1, 1] itself.
    The logits are pool3 @ fc.weight without the bias, as in the original IS code (Salimans et al.).
    weights: "fid" (pytorch-fid's port of the TF FID weights; a 92 MB download into torch's hub cache,
    raising WeightsUnavailable offline) or "random" (the same architecture, untrained: for timing and
    tests, its numbers mean nothing).
    """

    def __init__(self, device="auto", weights: str = "fid"):
        if weights not in ("fid", "random"):
            raise ValueError(f"weights={weights!r}: use 'fid' or 'random'")
        net = _fid_inception(weights)
        pf = _pytorch_fid()
        with mock.patch.object(pf, "fid_inception_v3", lambda: net):  # reuse pytorch-fid's block layout
            model = pf.InceptionV3([pf.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)
        self.device = get_device(device) if isinstance(device, str) else torch.device(device)
        self.model = model.to(self.device).eval()
        self.fc_weight = net.fc.weight.detach().to(self.device)  # (1008, 2048)
        self.tag = "inception-fid" if weights == "fid" else None
        self.about = ("pytorch-fid Inception-v3 (pt_inception-2015-12-05 weights), pool3 2048-d, bilinear resize to 299"
                      if weights == "fid" else "Inception-v3 architecture with RANDOM weights (timing/tests only)")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.to(self.device, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        with _full_fp32():  # TF32 on an A100/L4 would move FID away from pytorch-fid's fp32 numbers
            features = self.model((x + 1) / 2)[0].flatten(1)  # (B, 2048)
            return features, features @ self.fc_weight.T  # (B, 2048), (B, 1008)


@contextmanager
def _full_fp32():
    """Turn TF32 off for cuDNN convolutions and CUDA matmuls inside the block (no-op on a CPU)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


# ----------------------------------------------------------------------------- the offline judges

class Judge(nn.Module):
    """A small CNN classifier: three stages of conv-BN-ReLU then 2x2 max-pooling, global average
    pooling, a linear head. 28 -> 14 -> 7 -> 3 pixels (MNIST) or 32 -> 16 -> 8 -> 4 (shapes).

    forward(x): x (B, C, H, W) in [-1, 1] -> (features (B, widths[-1]) >= 0, logits (B, n_classes)).
    The features are the penultimate layer: the judge's counterpart of Inception's pool3.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, widths=WIDTHS, convs=CONVS):
        super().__init__()
        layers, cin = [], in_channels
        for width, n_convs in zip(widths, convs):
            for _ in range(n_convs):
                layers += [nn.Conv2d(cin, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                           nn.ReLU(inplace=True)]
                cin = width
            layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)  # (B, F)
        return features, self.head(features)  # (B, F), (B, K)


def augment(x: torch.Tensor, generator: torch.Generator, shift: float, degrees: float, scale: float) -> torch.Tensor:
    """A random small affine jitter per image (shift in pixels, rotation, rescale); the border is -1."""
    b, _, h, w = x.shape

    def uniform():  # (B,) in [-1, 1]
        return torch.rand(b, generator=generator) * 2 - 1
    angle, s = uniform() * math.radians(degrees), 1 + uniform() * scale
    tx, ty = uniform() * shift * 2 / w, uniform() * shift * 2 / h  # affine_grid measures in half-images
    cos, sin = angle.cos() / s, angle.sin() / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False) - 1  # zero padding of x + 1: black (-1) borders


@torch.no_grad()
def accuracy(judge: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Share of uint8 images (N, C, H, W) that the judge classifies as `labels` (N,)."""
    judge.eval()
    correct = sum(int((judge(to_float(images[i:i + batch_size]))[1].argmax(1) == labels[i:i + batch_size]).sum())
                  for i in range(0, len(images), batch_size))
    return correct / len(images)


def train_judge(name: str, seed: int = 0, out=None, verbose: bool = True) -> dict:
    """Train the judge of an embedded dataset on its train split; save and return its record.

    The record {"state_dict" (float16), "meta", "reference"} goes through `save_checkpoint` to `out`
    (default ganhelpers/assets/judges/<name>.pt). meta holds the held-out (test split) accuracy of the weights as
    saved; reference holds the train split's feature statistics, so scoring needs no pass over it.
    Deterministic per seed on CPU; the global RNG is left as it was.
    """
    if name not in RECIPES:
        raise ValueError(f"no judge recipe for {name!r}: choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    train, test = load_dataset(name, "train", seed=seed), load_dataset(name, "test", seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        judge = Judge(train.img_shape[0], train.n_classes)
    g = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(train) // recipe["batch_size"]
    opt = torch.optim.AdamW(judge.parameters(), lr=recipe["lr"], weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe["lr"], pct_start=0.2,
                                                total_steps=recipe["epochs"] * steps_per_epoch)
    start = time.monotonic()
    for epoch in range(recipe["epochs"]):
        judge.train()
        perm = torch.randperm(len(train), generator=g)
        for i in range(steps_per_epoch):
            idx = perm[i * recipe["batch_size"]:(i + 1) * recipe["batch_size"]]
            x = augment(to_float(train.images[idx]), g, recipe["shift"], recipe["degrees"], recipe["scale"])
            loss = F.cross_entropy(judge(x)[1], train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if verbose:
            print(f"{name} epoch {epoch + 1}/{recipe['epochs']}: loss {loss.item():.3f}, test accuracy "
                  f"{accuracy(judge, test.images, test.labels):.4f} ({time.monotonic() - start:.0f} s)", flush=True)
    judge.half().float()  # the weights as shipped (float16 halves the file): measure exactly those
    meta = {"dataset": name, "in_channels": train.img_shape[0], "n_classes": train.n_classes, "widths": list(WIDTHS),
            "convs": list(CONVS), "test_accuracy": accuracy(judge, test.images, test.labels), "n_test": len(test),
            "seed": seed, "recipe": recipe, "seconds": round(time.monotonic() - start)}
    judge.eval()
    with torch.no_grad():
        ref = metrics.compute_statistics(judge, train, None, batch_size=500, kid_max=0, is_splits=1)
    record = {"state_dict": {k: v.half() if v.is_floating_point() else v for k, v in judge.state_dict().items()},
              "meta": meta, "reference": {f"{name}/train": {"mu": torch.from_numpy(ref.mean).float(),
                                                            "sigma": torch.from_numpy(ref.cov).float(), "n": ref.n}}}
    path = save_checkpoint(record, Path(out) if out else JUDGES_DIR / f"{name}.pt")
    if verbose:
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB): held-out accuracy {meta['test_accuracy']:.4f} "
              f"on {len(test)} test images after {meta['seconds']} s")
    return record


# ----------------------------------------------------------------------------- loading and scoring

def judge_path(dataset: str) -> Path:
    """The judge's weights: shipped inside the package (ganhelpers/assets/judges, installed with it, so
    Colab needs no download), else one trained here into DATA_DIR/judges."""
    if dataset not in JUDGE_FOR:
        hint = {"cifar10": " (for cifar10 use the Inception FID: metrics.fid_scores, --metric fid)"}.get(dataset, "")
        hint = " (2-D mixtures need no network: judges.mixture_scores)" if dataset in MIXTURES else hint
        raise ValueError(f"no offline judge for {dataset!r}: judges exist for {', '.join(JUDGE_FOR)}{hint}")
    name = f"{JUDGE_FOR[dataset]}.pt"
    for folder in (JUDGES_DIR, data.DATA_DIR / "judges"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"the judge {name} is neither in {JUDGES_DIR} (a broken install?) nor in "
                            f"{data.DATA_DIR / 'judges'}: reinstall ganhelpers, or train it with "
                            f"`python -m ganhelpers.judges {JUDGE_FOR[dataset]}` (a few CPU minutes)")


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> tuple[dict, str]:  # the file's time in the key: a retrained judge reloads
    record = load_checkpoint(path)
    return record, hashlib.sha1(Path(path).read_bytes()).hexdigest()[:8]  # the digest names cached statistics


class JudgeExtractor:
    """A judge as a `metrics` feature extractor: images (B, C, H, W) in [-1, 1] ->
    (features (B, FEATURE_DIM), logits (B, 10)); eval mode, no gradients, the global RNG untouched."""

    def __init__(self, dataset: str, device="cpu"):
        path = judge_path(dataset)
        self.record, digest = _load(str(path), path.stat().st_mtime_ns)
        meta = self.meta = self.record["meta"]
        with torch.random.fork_rng(devices=[]):  # building layers draws random weights: keep training's RNG
            self.net = Judge(meta["in_channels"], meta["n_classes"], meta["widths"], meta["convs"])
        state = self.record["state_dict"]  # stored in float16
        self.net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        self.device = torch.device(device)
        self.net.to(self.device).eval()
        self.tag = f"judge-{meta['dataset']}-{digest}"
        self.about = (f"offline judge {meta['dataset']} ({path.name}, sha1 {digest}, {meta['widths'][-1]}-d "
                      f"penultimate features, {meta['test_accuracy']:.2%} held-out accuracy)")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != self.meta["in_channels"]:
            raise ValueError(f"the {self.meta['dataset']} judge takes ({self.meta['in_channels']}, H, W) images, "
                             f"got shape {tuple(images.shape)}")
        return self.net(images.to(self.device, torch.float32))

    def reference(self, dataset: str, split: str):
        """The shipped statistics of a real split (FeatureStats), or None."""
        ref = self.record.get("reference", {}).get(f"{dataset}/{split}")
        if ref is None:
            return None
        return metrics.FeatureStats.from_moments(ref["mu"].double().numpy(), ref["sigma"].double().numpy(), ref["n"])


def judge_scores(source, dataset: str, n: int = 2000, reference_split: str = "train", batch_size: int = 250,
                 device="cpu", seed: int = 0) -> dict:
    """Offline scores of `n` samples from `source` against the real `reference_split` of `dataset`.

    source: a generator, a sample function, an ImageSet or a tensor (see `metrics.batches`).
    For "ring8"/"grid25" the source gives points (N, 2) and `mixture_scores` answers instead.
    Returns {"fd" (lower is better; real held-out images give the floor), "confident", "classes_covered",
    "n_classes", "score", "accuracy" (None unless the samples come with labels), "n", "protocol"}.
    """
    if dataset in MIXTURES:
        points = torch.cat([x.cpu() for x, _ in metrics.batches(source, n, batch_size, device, seed)])
        return mixture_scores(points, *mixture_centers(dataset))
    extractor = JudgeExtractor(dataset, device)
    ref = metrics.reference_statistics(extractor, dataset, reference_split, batch_size=batch_size, device=device,
                                       kid_max=0)
    stats = metrics.compute_statistics(extractor, source, n, batch_size, device, seed, kid_max=0, is_splits=1)
    k = extractor.meta["n_classes"]
    return {"fd": metrics.frechet_distance(stats.mean, stats.cov, ref.mean, ref.cov),
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
    are high quality and nearest to it.
    Returns {"modes_covered", "n_modes", "high_quality" (share in [0, 1]), "n", "protocol"}.
    """
    points = torch.as_tensor(np.asarray(points), dtype=torch.float64).reshape(-1, 2)  # (N, 2)
    centers = torch.as_tensor(np.asarray(centers), dtype=torch.float64)  # (K, 2)
    dist, nearest = torch.cdist(points, centers).min(dim=1)  # (N,), (N,)
    good = dist <= n_sigma * std
    counts = torch.bincount(nearest[good], minlength=len(centers))  # (K,)
    covered = int((counts >= min_share * len(points) / len(centers)).sum())
    return {"modes_covered": covered, "n_modes": len(centers), "high_quality": float(good.double().mean()),
            "n": len(points), "protocol": f"{len(points):,} samples; high quality within {n_sigma:g} std ({std:g}) "
            f"of a mode; a mode is covered with >= {min_share:.0%} of its fair share of them"}


# ----------------------------------------------------------------------------- metrics for MetricCallback

def _device_of(G):
    return next(G.parameters()).device


def judge_metric(dataset: str, n: int = 1000, seed: int = 0) -> metrics.Metric:
    """"judge_fd" (lower is better) with the offline judge; extras: judge_confident, judge_classes."""
    def fn(G):
        s = judge_scores(G, dataset, n=n, device=_device_of(G), seed=seed)
        return {"judge_fd": s["fd"], "judge_confident": s["confident"], "judge_classes": s["classes_covered"]}
    return metrics.Metric("judge_fd", fn)


def fid_metric(dataset: str = "cifar10", n: int = 10000, seed: int = 0, batch_size: int = 100) -> metrics.Metric:
    """"fid" (lower is better) with the Inception network; the network is loaded once, at first use."""
    cache = {}

    def fn(G):
        if "extractor" not in cache:
            cache["extractor"] = InceptionExtractor(_device_of(G))
        s = metrics.fid_scores(G, dataset, n=n, with_kid=False, with_is=False, batch_size=batch_size, seed=seed,
                               extractor=cache["extractor"])
        return {"fid": s["fid"]}
    return metrics.Metric("fid", fn)


def mixture_metric(dataset: str = "ring8", n: int = 2000, seed: int = 0) -> metrics.Metric:
    """"modes_covered" (higher is better) of a 2-D generator; extra: high_quality."""
    def fn(G):
        points = torch.cat([x for x, _ in metrics.batches(G, n, 500, seed=seed)]).cpu()  # (n, 2); scored on the host
        centers, std = mixture_centers(dataset)
        s = mixture_scores(points, centers, std)
        return {"modes_covered": s["modes_covered"], "high_quality": s["high_quality"]}
    return metrics.Metric("modes_covered", fn, higher_is_better=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganhelpers.judges", description="Train the offline judges.")
    p.add_argument("datasets", nargs="*", help=f"judges to train (default: all of {', '.join(RECIPES)})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="only report the shipped judges' held-out accuracy")
    args = p.parse_args(argv)
    for name in args.datasets or list(RECIPES):
        if name not in RECIPES:
            p.error(f"no judge for {name!r}: choose from {', '.join(RECIPES)}")
        if args.check:
            test = load_dataset(name, "test")
            print(f"{name}: held-out accuracy {accuracy(JudgeExtractor(name).net, test.images, test.labels):.4f} "
                  f"on {len(test)} test images")
        else:
            train_judge(name, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
