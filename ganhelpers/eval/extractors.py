"""The networks that turn images into features: pytorch-fid's Inception and the course's offline judges.

FID needs the Inception network, a 92 MB download. For the embedded datasets the course ships its
own judges too: a small CNN per dataset, trained by `ganhelpers.eval.train_judges` on the train split and
shipped with the statistics of that split in `ganhelpers/assets/judges/<dataset>.pt` (a few hundred KB).
Both are feature extractors: images (B, C, H, W) in [-1, 1] -> (features (B, F), logits (B, K)).
"""
from __future__ import annotations

import functools
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checkpoint import load_checkpoint
from ..core.runtime import get_device
from ..data import datasets  # datasets.DATA_DIR read at call time: tests and users may move it
from .statistics import FeatureStats

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")  # = pytorch_fid.inception.FID_WEIGHTS_URL

OFFLINE_HINT = ("could not download the FID Inception weights (no network?): on Colab they download by "
                "themselves; offline use --metric judge / eval.scores.judge_scores, the offline judges for "
                "mnist-5k and shapes")


class WeightsUnavailable(RuntimeError):
    """The Inception weights are not in torch's hub cache and cannot be downloaded here."""

JUDGES_DIR = Path(__file__).resolve().parents[1] / "assets" / "judges"  # package data: installed with ganhelpers


# dataset -> the judge that scores it: full MNIST is the same kind of digit, so the mnist-5k judge serves
JUDGE_FOR = {"mnist-5k": "mnist-5k", "mnist": "mnist-5k", "shapes": "shapes"}

MIXTURES = ("ring8", "grid25")

WIDTHS, CONVS = (32, 64, 128), (1, 1, 1)  # channels and conv layers of the judges' three stages

FEATURE_DIM = WIDTHS[-1]


def inception_weights_path() -> Path:
    """Where torch.hub caches the FID Inception weights once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_URL.rsplit("/", 1)[1]


def _pytorch_fid():
    try:
        from pytorch_fid import inception
    except ImportError:
        raise WeightsUnavailable("FID needs the pytorch-fid package, a dependency of ganhelpers: pip install pytorch-fid; "
                                 "without it use --metric judge / eval.scores.judge_scores") from None
    return inception


def _fid_inception(weights: str):
    """torchvision's Inception-v3 patched as pytorch-fid's FID Inception, with weights or random ones."""
    pf = _pytorch_fid()
    if weights == "fid":
        if not inception_weights_path().is_file():
            proxied = any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"))
            if not proxied and not datasets.reachable(FID_WEIGHTS_URL):  # fail in 3 s, not after a long hang
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


class InceptionPool3(nn.Module):
    """pytorch-fid's `InceptionV3` feature path up to pool3, built from an FID Inception network `net`: the same
    four blocks in the same order and the same input handling (bilinear resize to 299, then [0, 1] -> [-1, 1]).
    x (B, 3, H, W) in [0, 1] -> pool3 features (B, 2048). pytorch-fid's own class takes its network from a
    module-level function and could only be given random weights by patching that; this takes it as an argument
    (tests check it against pytorch-fid's class, feature for feature)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.blocks = nn.Sequential(
            net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, nn.MaxPool2d(kernel_size=3, stride=2),  # block 0
            net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, nn.MaxPool2d(kernel_size=3, stride=2),  # block 1
            net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c, net.Mixed_6d,
            net.Mixed_6e,  # block 2
            net.Mixed_7a, net.Mixed_7b, net.Mixed_7c, nn.AdaptiveAvgPool2d(output_size=(1, 1)))  # block 3: pool3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)  # (B, 3, 299, 299)
        return self.blocks(2 * x - 1).flatten(1)  # (B, 2048)


class InceptionExtractor:
    """pytorch-fid's `InceptionV3` (pool3, 2048-d) as an extractor, plus the 1008-way logits for IS.

    __call__(images (B, C, H, W) in [-1, 1]) -> (features (B, 2048), logits (B, 1008)). Grey images are
    repeated to 3 channels; images go in as (x + 1) / 2 in [0, 1], exactly what pytorch-fid feeds from
    a PNG, and `InceptionPool3` resizes them bilinearly to 299 and rescales them to [-1, 1] as pytorch-fid does.
    The logits are pool3 @ fc.weight without the bias, as in the original IS code (Salimans et al.).
    weights: "fid" (pytorch-fid's port of the TF FID weights; a 92 MB download into torch's hub cache,
    raising WeightsUnavailable offline) or "random" (the same architecture, untrained: for timing and
    tests, its numbers mean nothing).
    Taught in 09_evaluation.
    """

    def __init__(self, device="auto", weights: str = "fid"):
        if weights not in ("fid", "random"):
            raise ValueError(f"weights={weights!r}: use 'fid' or 'random'")
        net = _fid_inception(weights)
        self.device = get_device(device) if isinstance(device, str) else torch.device(device)
        self.model = InceptionPool3(net).to(self.device).eval()
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
            features = self.model((x + 1) / 2)  # (B, 2048)
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


class Judge(nn.Module):
    """A small CNN classifier: three stages of conv-BN-ReLU then 2x2 max-pooling, global average
    pooling, a linear head. 28 -> 14 -> 7 -> 3 pixels (MNIST) or 32 -> 16 -> 8 -> 4 (shapes).

    forward(x): x (B, C, H, W) in [-1, 1] -> (features (B, widths[-1]) >= 0, logits (B, n_classes)).
    The features are the penultimate layer: the judge's counterpart of Inception's pool3.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, *, widths=WIDTHS, convs=CONVS):
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


def judge_path(dataset: str) -> Path:
    """The judge's weights: shipped inside the package (ganhelpers/assets/judges, installed with it, so
    Colab needs no download), else one trained here into DATA_DIR/judges."""
    if dataset not in JUDGE_FOR:
        hint = {"cifar10": " (for cifar10 use the Inception FID: eval.scores.fid_scores, --metric fid)"}.get(dataset, "")
        hint = " (2-D mixtures need no network: eval.scores.mixture_scores)" if dataset in MIXTURES else hint
        raise ValueError(f"no offline judge for {dataset!r}: judges exist for {', '.join(JUDGE_FOR)}{hint}")
    name = f"{JUDGE_FOR[dataset]}.pt"
    for folder in (JUDGES_DIR, datasets.DATA_DIR / "judges"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"the judge {name} is neither in {JUDGES_DIR} (a broken install?) nor in "
                            f"{datasets.DATA_DIR / 'judges'}: reinstall ganhelpers, or train it with "
                            f"`python -m ganhelpers.eval.train_judges {JUDGE_FOR[dataset]}` (a few CPU minutes)")


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> tuple[dict, str]:  # the file's time in the key: a retrained judge reloads
    record = load_checkpoint(path)
    return record, hashlib.sha1(Path(path).read_bytes()).hexdigest()[:8]  # the digest names cached statistics


class JudgeExtractor:
    """A judge as a `metrics` feature extractor: images (B, C, H, W) in [-1, 1] ->
    (features (B, FEATURE_DIM), logits (B, 10)); eval mode, no gradients, the global RNG untouched.
    Taught in 09_evaluation.
    """

    def __init__(self, dataset: str, device="cpu"):
        path = judge_path(dataset)
        self.record, digest = _load(str(path), path.stat().st_mtime_ns)
        meta = self.meta = self.record["meta"]
        with torch.random.fork_rng(devices=[]):  # building layers draws random weights: keep training's RNG
            self.net = Judge(meta["in_channels"], meta["n_classes"], widths=meta["widths"], convs=meta["convs"])
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
        return FeatureStats.from_moments(ref["mu"].double().numpy(), ref["sigma"].double().numpy(), ref["n"])
